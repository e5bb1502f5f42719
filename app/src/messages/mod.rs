//! The messages voters get, per kind × channel × language: templates in `app/templates/messages/`
//! (rendered by minijinja), filled with the sentences of the status page (`domain::wording`) and
//! the message words of the locale files (`message.*`). Nothing here sends; the delivery engine
//! (`server::notify`) does.

pub mod announcements;
pub mod keywords;
pub mod links;
pub mod outbox;
pub mod pages;
pub mod subscriptions;

use crate::domain::{BallotStatus, Language, NotCountedReason, dates, wording};
use crate::i18n::td_string;
use chrono::{NaiveDate, NaiveDateTime};
use minijinja::Environment;
use serde::Serialize;
use std::sync::LazyLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
    Voice,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Voice];

    pub const fn code(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Voice => "voice",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// Where a message comes from and where its links go.
#[derive(Clone, Debug)]
pub struct Sender {
    pub language: Language,
    /// The county's name as the counties table has it ("Los Angeles").
    pub county_name: String,
    /// The county office's phone, email and website, as far as they are known.
    pub contact: Vec<String>,
    /// The voter's status page.
    pub status_url: String,
    /// One-click unsubscribe (email only).
    pub unsubscribe_url: String,
}

/// What a status message says: the ballot's status when the event happened, and the dates the
/// status page shows beside it.
#[derive(Clone, Debug)]
pub struct StatusFacts {
    pub status: BallotStatus,
    pub reason: Option<NotCountedReason>,
    /// The cure deadline in the county's local time, and whole days left to it.
    pub cure_deadline: NaiveDateTime,
    pub cure_days_left: i64,
    pub expected_delivery: Option<NaiveDate>,
}

impl StatusFacts {
    /// The statuses whose sentences say more than the status itself: a ballot not counted has
    /// its reason and cure deadline, one in transit its expected delivery day. Messages about
    /// any other status read nothing beyond it (the claim reads the event, ballot and election
    /// only for these: `outbox::details`).
    pub const DETAILED: [BallotStatus; 2] = [BallotStatus::NotCounted, BallotStatus::InTransit];
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The email's subject (the status headline); empty for SMS and voice.
    pub subject: String,
    /// The plain-text email, the SMS body, or the voice call's TwiML.
    pub text: String,
    /// The HTML email; `None` for SMS and voice.
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("message template {name}: {source}")]
pub struct TemplateError {
    name: String,
    source: minijinja::Error,
}

/// The sentences the status page shows for the ballot's current status, in its order
/// (`voter::story::Current`): what happened, what it means, the reason, the cure deadline, the
/// expected delivery day, what to do next.
pub fn status_sentences(facts: &StatusFacts, language: Language) -> Vec<String> {
    let l = language.locale();
    let w = wording::status(facts.status, language);
    let reason = facts.reason.map(|r| wording::reason(r, language));
    let mut lines = vec![w.headline.to_owned(), w.meaning.to_owned()];
    if let Some(r) = reason {
        lines.push(format!("{} {}", r.headline, r.meaning));
    }
    if facts.reason.is_some_and(NotCountedReason::is_curable) {
        let deadline = td_string!(
            l,
            story.deadline,
            when = dates::moment(facts.cure_deadline, language)
        );
        let left = match facts.cure_days_left {
            d if d > 1 => td_string!(l, story.days_left, count = d),
            1 => td_string!(l, story.day_left).to_owned(),
            0 => td_string!(l, story.deadline_today).to_owned(),
            _ => td_string!(l, story.deadline_passed).to_owned(),
        };
        let next = reason.and_then(|r| r.next_step).unwrap_or_default();
        lines.push(format!("{deadline} {left} {next}").trim_end().to_owned());
    }
    if let Some(day) = facts
        .expected_delivery
        .filter(|_| facts.status == BallotStatus::InTransit)
    {
        lines.push(td_string!(
            l,
            story.expected,
            day = dates::day(day, language)
        ));
    }
    if let Some(next) = w.next_step {
        lines.push(next.to_owned());
    }
    lines
}

/// A status message on one channel.
pub fn status_message(
    channel: Channel,
    sender: &Sender,
    facts: &StatusFacts,
) -> Result<Rendered, TemplateError> {
    lines_message(channel, sender, &status_sentences(facts, sender.language))
}

/// A message whose first line is its headline (the email's subject), in the layout every
/// message to voters shares: status messages and announcements.
fn lines_message(
    channel: Channel,
    sender: &Sender,
    lines: &[String],
) -> Result<Rendered, TemplateError> {
    let subject = lines.first().cloned().unwrap_or_default();
    let ctx = MessageContext {
        lang: sender.language.code(),
        voice_language: voice_language(sender.language),
        t: Words::new(sender),
        subject: &subject,
        lines,
        contact: &sender.contact,
        status_url: &sender.status_url,
        unsubscribe_url: &sender.unsubscribe_url,
    };
    Ok(match channel {
        Channel::Email => Rendered {
            text: render("status.email.txt", &ctx)?,
            html: Some(render("status.email.html", &ctx)?),
            subject,
        },
        Channel::Sms => Rendered {
            text: render("status.sms.txt", &ctx)?.trim().to_owned(),
            html: None,
            subject: String::new(),
        },
        Channel::Voice => Rendered {
            text: render("status.voice.xml", &ctx)?,
            html: None,
            subject: String::new(),
        },
    })
}

/// The message that confirms a sign-up: a link by email (`secret` is the link), a code by text
/// or by a call that reads it digit by digit (`secret` is the code).
pub fn confirmation_message(
    channel: Channel,
    language: Language,
    secret: &str,
) -> Result<Rendered, TemplateError> {
    let l = language.locale();
    // Spoken one digit at a time, with pauses: "1, 2, 3, 4, 5, 6".
    let spoken: Vec<String> = secret.chars().map(String::from).collect();
    let spoken = spoken.join(", ");
    let subject = td_string!(l, signup.email_subject).to_owned();
    let ctx = minijinja::context! {
        lang => language.code(),
        voice_language => voice_language(language),
        subject => subject,
        site => td_string!(l, site.name),
        link => secret,
        body => td_string!(l, signup.email_body),
        ignore => td_string!(l, signup.email_ignore),
        consent => td_string!(l, signup.consent),
        sms => td_string!(l, signup.sms_code).replace("%code%", secret),
        voice => td_string!(l, signup.voice_code).replace("%code%", &spoken),
        again => td_string!(l, message.voice_again),
        goodbye => td_string!(l, message.voice_goodbye),
    };
    let get = |name: &str| {
        TEMPLATES
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(|source| TemplateError {
                name: name.to_owned(),
                source,
            })
    };
    Ok(match channel {
        Channel::Email => Rendered {
            text: get("confirm.email.txt")?,
            html: Some(get("confirm.email.html")?),
            subject,
        },
        Channel::Sms => Rendered {
            text: get("confirm.sms.txt")?.trim().to_owned(),
            html: None,
            subject: String::new(),
        },
        Channel::Voice => Rendered {
            text: get("confirm.voice.xml")?,
            html: None,
            subject: String::new(),
        },
    })
}

/// Replies to the SMS keywords, in the subscriber's language.
pub fn help_reply(language: Language, help_url: &str) -> String {
    td_string!(language.locale(), message.help_reply).replace("%url%", help_url)
}

pub fn stop_reply(language: Language) -> String {
    td_string!(language.locale(), message.stop_reply).to_owned()
}

pub fn start_reply(language: Language) -> String {
    td_string!(language.locale(), message.start_reply).to_owned()
}

/// The language tag a telephony provider's text-to-speech takes for each of our languages.
pub const fn voice_language(language: Language) -> &'static str {
    match language {
        Language::En => "en-US",
        Language::Es => "es-US",
        // The site writes traditional characters; Mandarin as spoken in Taiwan reads them.
        Language::Zh => "zh-TW",
        Language::Hi => "hi-IN",
        Language::Ja => "ja-JP",
        Language::Km => "km-KH",
        Language::Ko => "ko-KR",
        Language::Tl => "fil-PH",
        Language::Th => "th-TH",
        Language::Vi => "vi-VN",
    }
}

#[derive(Serialize)]
struct MessageContext<'a> {
    lang: &'static str,
    voice_language: &'static str,
    t: Words,
    subject: &'a str,
    lines: &'a [String],
    contact: &'a [String],
    status_url: &'a str,
    unsubscribe_url: &'a str,
}

/// The locale files' `message.*` words, with the county named.
#[derive(Serialize)]
struct Words {
    sender: String,
    intro: String,
    view_status: &'static str,
    questions: String,
    why: &'static str,
    unsubscribe: &'static str,
    sms_footer: &'static str,
    voice_intro: String,
    voice_again: &'static str,
    voice_goodbye: &'static str,
}

impl Words {
    fn new(sender: &Sender) -> Self {
        let l = sender.language.locale();
        let county = format!("{} County", sender.county_name);
        let named = |s: &str| s.replace("%county%", &county);
        Words {
            sender: named(td_string!(l, message.sender)),
            intro: named(td_string!(l, message.intro_email)),
            view_status: td_string!(l, message.view_status),
            questions: named(td_string!(l, message.questions)),
            why: td_string!(l, message.why),
            unsubscribe: td_string!(l, message.unsubscribe),
            sms_footer: td_string!(l, message.sms_footer),
            voice_intro: named(td_string!(l, message.voice_intro)),
            voice_again: td_string!(l, message.voice_again),
            voice_goodbye: td_string!(l, message.voice_goodbye),
        }
    }
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // minijinja's HTML escaping also escapes '/', which makes links unreadable in the source
    // some mail clients show; `attr` escapes only what an attribute needs.
    env.add_filter("attr", |v: String| {
        minijinja::Value::from_safe_string(attr_escape(&v))
    });
    // HTML and XML templates escape what they insert (minijinja picks by the file's ending).
    for (name, source) in [
        (
            "status.email.txt",
            include_str!("../../templates/messages/status.email.txt"),
        ),
        (
            "status.email.html",
            include_str!("../../templates/messages/status.email.html"),
        ),
        (
            "status.sms.txt",
            include_str!("../../templates/messages/status.sms.txt"),
        ),
        (
            "status.voice.xml",
            include_str!("../../templates/messages/status.voice.xml"),
        ),
        (
            "unsubscribe.html",
            include_str!("../../templates/pages/unsubscribe.html"),
        ),
        (
            "notifications.html",
            include_str!("../../templates/pages/notifications.html"),
        ),
        (
            "confirm.email.txt",
            include_str!("../../templates/messages/confirm.email.txt"),
        ),
        (
            "confirm.email.html",
            include_str!("../../templates/messages/confirm.email.html"),
        ),
        (
            "confirm.sms.txt",
            include_str!("../../templates/messages/confirm.sms.txt"),
        ),
        (
            "confirm.voice.xml",
            include_str!("../../templates/messages/confirm.voice.xml"),
        ),
    ] {
        // A template that does not parse fails every test that renders it.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "message template does not parse");
        }
    }
    env
});

/// Where the unsubscribe page is: asking, done, or the link does not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnsubscribePage {
    Ask,
    Done,
    Invalid,
}

/// The page an email's unsubscribe link opens, in the subscription's language. `address` is
/// shown masked.
pub fn unsubscribe_page(
    page: UnsubscribePage,
    language: Language,
    address: &str,
) -> Result<String, TemplateError> {
    let l = language.locale();
    let ctx = minijinja::context! {
        lang => language.code(),
        site => td_string!(l, site.name),
        state => page,
        title => td_string!(l, unsubscribe.title),
        ask => td_string!(l, unsubscribe.ask).replace("%address%", &crate::admin::ballot::mask(address)),
        button => td_string!(l, unsubscribe.button),
        done => td_string!(l, unsubscribe.done),
        invalid => td_string!(l, unsubscribe.invalid),
    };
    TEMPLATES
        .get_template("unsubscribe.html")
        .and_then(|t| t.render(ctx))
        .map_err(|source| TemplateError {
            name: "unsubscribe.html".into(),
            source,
        })
}

fn render(name: &str, ctx: &MessageContext<'_>) -> Result<String, TemplateError> {
    let wrap = |source| TemplateError {
        name: name.to_owned(),
        source,
    };
    TEMPLATES
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(wrap)
}

/// A value escaped for a double-quoted HTML attribute, as the templates' `attr` filter does.
pub fn attr_escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(language: Language) -> Sender {
        Sender {
            language,
            county_name: "Los Angeles".into(),
            contact: vec!["(800) 815-2666".into(), "<script>".into()],
            status_url: "https://ballots.example.org/ballot".into(),
            unsubscribe_url: "https://ballots.example.org/unsubscribe/7/abc?x=1&y=2".into(),
        }
    }

    fn facts(status: BallotStatus, reason: Option<NotCountedReason>) -> StatusFacts {
        StatusFacts {
            status,
            reason,
            cure_deadline: NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_opt(17, 0, 0)
                .unwrap(),
            cure_days_left: 3,
            expected_delivery: NaiveDate::from_ymd_opt(2026, 10, 9),
        }
    }

    /// What the claim may leave unread: outside `StatusFacts::DETAILED`, a status's sentences
    /// are the same whatever the reason, dates and days left say.
    #[test]
    fn only_the_detailed_statuses_say_more_than_their_status() {
        for language in Language::ALL {
            for status in BallotStatus::ALL {
                let bare = StatusFacts {
                    status,
                    reason: None,
                    cure_deadline: NaiveDateTime::default(),
                    cure_days_left: 0,
                    expected_delivery: None,
                };
                // Only a ballot not counted has a reason (the database's check).
                let reason = (status == BallotStatus::NotCounted)
                    .then_some(NotCountedReason::SignatureMissing);
                let full = facts(status, reason);
                let same = status_sentences(&bare, language) == status_sentences(&full, language);
                assert_eq!(
                    same,
                    !StatusFacts::DETAILED.contains(&status),
                    "{language:?} {status:?}"
                );
            }
        }
    }

    #[test]
    fn every_status_renders_in_every_language_on_every_channel() {
        for language in Language::ALL {
            for status in BallotStatus::ALL {
                let reason = (status == BallotStatus::NotCounted)
                    .then_some(NotCountedReason::SignatureMissing);
                let f = facts(status, reason);
                let headline = wording::status(status, language).headline;
                for channel in Channel::ALL {
                    let m = status_message(channel, &sender(language), &f).unwrap();
                    assert!(
                        m.text.contains(headline),
                        "{language:?} {status:?} {channel:?}"
                    );
                    assert!(!m.text.contains("%county%"), "{language:?} {channel:?}");
                    assert!(
                        m.text.contains("Los Angeles County"),
                        "{language:?} {channel:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_email_escapes_its_html_and_links_to_unsubscribe() {
        let m = status_message(
            Channel::Email,
            &sender(Language::En),
            &facts(BallotStatus::Received, None),
        )
        .unwrap();
        assert_eq!(m.subject, "Your ballot was received.");
        let html = m.html.unwrap();
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("/unsubscribe/7/abc?x=1&amp;y=2"), "{html}");
        assert!(m.text.contains("/unsubscribe/7/abc?x=1&y=2"), "{}", m.text);
        assert!(m.text.contains("It has not been counted yet"));
    }

    #[test]
    fn a_curable_problem_says_the_deadline_and_what_to_do() {
        let m = status_message(
            Channel::Sms,
            &sender(Language::Es),
            &facts(
                BallotStatus::NotCounted,
                Some(NotCountedReason::SignatureMissing),
            ),
        )
        .unwrap();
        assert!(
            m.text.starts_with("Elecciones de Los Angeles County: "),
            "{}",
            m.text
        );
        assert!(m.text.contains("(quedan 3 días)."), "{}", m.text);
        assert!(m.text.ends_with(
            "STOP para terminar, HELP para ayuda. Pueden aplicarse tarifas por mensajes y datos."
        ));
    }

    #[test]
    fn the_voice_script_is_twiml_in_the_voters_language() {
        let m = status_message(
            Channel::Voice,
            &sender(Language::Ko),
            &facts(BallotStatus::Counted, None),
        )
        .unwrap();
        assert!(m.text.starts_with("<?xml"));
        assert_eq!(
            m.text.matches(r#"<Say language="ko-KR">"#).count(),
            2,
            "{}",
            m.text
        );
        assert!(
            m.text
                .contains(wording::status(BallotStatus::Counted, Language::Ko).headline)
        );
    }

    #[test]
    fn the_unsubscribe_page_asks_with_the_address_masked() {
        let page =
            unsubscribe_page(UnsubscribePage::Ask, Language::Vi, "maria@example.org").unwrap();
        assert!(page.contains(r#"<html lang="vi">"#));
        assert!(page.contains("m•••@example.org"), "{page}");
        assert!(!page.contains("maria@"));
        assert!(page.contains(r#"<form method="post">"#));
        let done = unsubscribe_page(UnsubscribePage::Done, Language::En, "").unwrap();
        assert!(done.contains("You are unsubscribed.") && !done.contains("<form"));
    }

    #[test]
    fn confirmations_carry_the_link_or_the_code() {
        for language in Language::ALL {
            let email =
                confirmation_message(Channel::Email, language, "https://x.example/confirm/1/abc")
                    .unwrap();
            assert!(email.text.contains("https://x.example/confirm/1/abc"));
            assert!(
                email
                    .html
                    .unwrap()
                    .contains(r#"href="https://x.example/confirm/1/abc""#)
            );
            let sms = confirmation_message(Channel::Sms, language, "042917").unwrap();
            assert!(
                sms.text.contains("042917") && sms.text.contains("STOP"),
                "{}",
                sms.text
            );
            let voice = confirmation_message(Channel::Voice, language, "042917").unwrap();
            assert!(voice.text.contains("0, 4, 2, 9, 1, 7"), "{}", voice.text);
        }
    }

    #[test]
    fn keyword_replies_carry_the_required_words() {
        for language in Language::ALL {
            let help = help_reply(language, "https://ballots.example.org/help");
            assert!(help.contains("STOP") && help.ends_with("https://ballots.example.org/help"));
            assert!(stop_reply(language).contains("START"));
            assert!(start_reply(language).contains("STOP"));
        }
    }
}
