//! Announcements as voters read them: the county's own words in each language, with the
//! placeholders `{county}`, `{date}` and `{place}` filled in, in the layout of the status
//! messages (the same templates, so an announcement looks like every other message the voter
//! gets). The portal's preview and the delivery engine both render through [`render`], so the
//! preview is what is sent.

use super::{Channel, Rendered, Sender, TemplateError};
use crate::domain::{Language, dates};
use chrono::NaiveDate;

/// The placeholders a text may use.
pub const PLACEHOLDERS: [&str; 3] = ["county", "date", "place"];

/// What the placeholders stand for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filling {
    pub county_name: String,
    pub date: Option<NaiveDate>,
    pub place: String,
}

/// One language's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub language: Language,
    pub subject: String,
    pub body: String,
}

/// The `{name}`s a text uses, in order (known or not).
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                found.push(&after[..close]);
                rest = &after[close + 1..];
            }
            None => {
                found.push(after);
                break;
            }
        }
    }
    found
}

/// Why these texts cannot be sent, in words for the person writing them: an unknown
/// placeholder, a placeholder with nothing to stand for, an empty English text.
pub fn problems(texts: &[Text], filling: &Filling) -> Vec<String> {
    let mut problems = Vec::new();
    if !texts
        .iter()
        .any(|t| t.language == Language::En && !t.body.trim().is_empty())
    {
        problems.push(
            "Write the English text: it goes to everyone whose language has no text of its own."
                .to_owned(),
        );
    }
    for t in texts {
        let name = t.language.english_name();
        if t.subject.trim().is_empty() || t.body.trim().is_empty() {
            problems.push(format!(
                "The {name} text needs both a subject and a message."
            ));
        }
        for p in placeholders(&t.subject)
            .into_iter()
            .chain(placeholders(&t.body))
        {
            match p {
                "county" => {}
                "date" if filling.date.is_none() => problems.push(format!(
                    "The {name} text uses {{date}}: give the date it stands for."
                )),
                "place" if filling.place.trim().is_empty() => problems.push(format!(
                    "The {name} text uses {{place}}: give the place it stands for."
                )),
                "date" | "place" => {}
                other => problems.push(format!(
                    "The {name} text uses {{{other}}}, which is not a placeholder: use {{county}}, \
                     {{date}} or {{place}}, or remove the braces."
                )),
            }
        }
    }
    problems.dedup();
    problems
}

/// `text` with its placeholders filled for `language` (dates in its own way of writing them).
pub fn fill(text: &str, language: Language, filling: &Filling) -> String {
    let county = format!("{} County", filling.county_name);
    let date = filling
        .date
        .map(|d| dates::day(d, language))
        .unwrap_or_default();
    text.replace("{county}", &county)
        .replace("{date}", &date)
        .replace("{place}", filling.place.trim())
}

/// The message on one channel: the subject as its headline, each paragraph of the body a line.
pub fn render(
    channel: Channel,
    sender: &Sender,
    text: &Text,
    filling: &Filling,
) -> Result<Rendered, TemplateError> {
    let subject = fill(text.subject.trim(), sender.language, filling);
    let body = fill(&text.body, sender.language, filling);
    let mut lines = vec![subject];
    lines.extend(
        body.split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|p| !p.is_empty()),
    );
    super::lines_message(channel, sender, &lines)
}

/// How an SMS body is billed: its length in characters and the number of segments (160 GSM-7
/// characters in one, 153 each when split; 70 and 67 once any character needs UCS-2).
pub fn sms_segments(text: &str) -> (usize, usize) {
    const GSM: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const EXTENDED: &str = "^{}\\[~]|€";
    let gsm = text
        .chars()
        .all(|c| GSM.contains(c) || EXTENDED.contains(c));
    let (units, one, many) = if gsm {
        let units = text
            .chars()
            .map(|c| if EXTENDED.contains(c) { 2 } else { 1 })
            .sum();
        (units, 160, 153)
    } else {
        // UCS-2 counts UTF-16 code units.
        (text.encode_utf16().count(), 70, 67)
    };
    let segments = if units <= one {
        1
    } else {
        units.div_ceil(many)
    };
    (text.chars().count(), segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filling() -> Filling {
        Filling {
            county_name: "Los Angeles".into(),
            date: NaiveDate::from_ymd_opt(2026, 11, 3),
            place: "Vote Center, 100 Main St".into(),
        }
    }

    fn text(language: Language, subject: &str, body: &str) -> Text {
        Text {
            language,
            subject: subject.into(),
            body: body.into(),
        }
    }

    #[test]
    fn placeholders_are_found_in_order_and_filled_per_language() {
        assert_eq!(
            placeholders("At {place} on {date}, {x"),
            ["place", "date", "x"]
        );
        let f = filling();
        assert_eq!(
            fill("{county}: vote at {place} by {date}.", Language::En, &f),
            "Los Angeles County: vote at Vote Center, 100 Main St by Tuesday, November 3, 2026."
        );
        assert!(fill("{date}", Language::Es, &f).contains("noviembre"));
    }

    #[test]
    fn empty_and_unknown_placeholders_are_refused_by_language() {
        let texts = [
            text(Language::En, "Reminder", "Return it by {date} to {place}."),
            text(Language::Es, "Aviso", "Devuélvala antes del {fecha}."),
        ];
        let empty = Filling {
            county_name: "Kern".into(),
            ..Filling::default()
        };
        let p = problems(&texts, &empty);
        assert!(
            p.iter()
                .any(|m| m.contains("English") && m.contains("{date}")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.contains("English") && m.contains("{place}")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.contains("Spanish") && m.contains("{fecha}")),
            "{p:?}"
        );
        assert!(problems(&texts[..1], &filling()).is_empty());
        let no_english = [text(Language::Es, "Aviso", "Hola")];
        assert!(problems(&no_english, &filling())[0].contains("English"));
    }

    #[test]
    fn the_rendered_message_carries_the_filled_words_on_every_channel() {
        let sender = Sender {
            language: Language::En,
            county_name: "Los Angeles".into(),
            contact: vec!["(800) 815-2666".into()],
            status_url: "https://ballots.example.gov/ballot".into(),
            unsubscribe_url: "https://ballots.example.gov/u/1".into(),
        };
        let t = text(
            Language::En,
            "Your vote center moved",
            "Vote at {place}.\n\nOpen until 8 p.m. on {date}.",
        );
        for channel in Channel::ALL {
            let r = render(channel, &sender, &t, &filling()).unwrap();
            assert!(
                r.text.contains("Vote at Vote Center, 100 Main St."),
                "{channel:?}"
            );
            assert!(r.text.contains("November 3, 2026"), "{channel:?}");
        }
        let email = render(Channel::Email, &sender, &t, &filling()).unwrap();
        assert_eq!(email.subject, "Your vote center moved");
        assert!(email.html.unwrap().contains("Open until 8 p.m."));
    }

    #[test]
    fn sms_segments_follow_the_encoding() {
        assert_eq!(sms_segments(&"a".repeat(160)), (160, 1));
        assert_eq!(sms_segments(&"a".repeat(161)), (161, 2));
        assert_eq!(sms_segments(&"é".repeat(150)), (150, 1));
        assert_eq!(sms_segments("投票"), (2, 1));
        assert_eq!(sms_segments(&"投".repeat(71)), (71, 2));
    }
}
