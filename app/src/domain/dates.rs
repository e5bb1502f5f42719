//! Dates and times as each language writes them, from the patterns and names in the locale
//! files (`date.*`). Times are already local to the county.

use super::Language;
use crate::i18n::td_string;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike, Weekday};

/// "Tuesday, November 3, 2026", "martes, 3 de noviembre de 2026", "2026年11月3日（星期二）".
pub fn day(d: NaiveDate, language: Language) -> String {
    let l = language.locale();
    td_string!(
        l,
        date.day,
        weekday = weekday(d.weekday(), language),
        month = month(d.month(), language),
        day = d.day(),
        year = d.year()
    )
}

/// A date with its time of day: "November 3, 2026, 4:05 PM".
pub fn moment(t: NaiveDateTime, language: Language) -> String {
    let l = language.locale();
    let (pm, hour12) = t.hour12();
    let time = td_string!(
        l,
        date.time,
        hour12 = hour12,
        minute = format!("{:02}", t.minute()),
        ampm = if pm {
            td_string!(l, date.pm)
        } else {
            td_string!(l, date.am)
        }
    );
    td_string!(
        l,
        date.moment,
        month = month(t.month(), language),
        day = t.day(),
        year = t.year(),
        time = time
    )
}

fn month(m: u32, language: Language) -> &'static str {
    let l = language.locale();
    match m {
        1 => td_string!(l, date.month.m1),
        2 => td_string!(l, date.month.m2),
        3 => td_string!(l, date.month.m3),
        4 => td_string!(l, date.month.m4),
        5 => td_string!(l, date.month.m5),
        6 => td_string!(l, date.month.m6),
        7 => td_string!(l, date.month.m7),
        8 => td_string!(l, date.month.m8),
        9 => td_string!(l, date.month.m9),
        10 => td_string!(l, date.month.m10),
        11 => td_string!(l, date.month.m11),
        _ => td_string!(l, date.month.m12),
    }
}

fn weekday(w: Weekday, language: Language) -> &'static str {
    let l = language.locale();
    match w {
        Weekday::Mon => td_string!(l, date.weekday.mon),
        Weekday::Tue => td_string!(l, date.weekday.tue),
        Weekday::Wed => td_string!(l, date.weekday.wed),
        Weekday::Thu => td_string!(l, date.weekday.thu),
        Weekday::Fri => td_string!(l, date.weekday.fri),
        Weekday::Sat => td_string!(l, date.weekday.sat),
        Weekday::Sun => td_string!(l, date.weekday.sun),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn english_reads_as_before() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        assert_eq!(day(d, Language::En), "Tuesday, November 3, 2026");
        assert_eq!(
            moment(at("2026-11-03 16:05"), Language::En),
            "November 3, 2026, 4:05 PM"
        );
        assert_eq!(
            moment(at("2026-11-03 00:30"), Language::En),
            "November 3, 2026, 12:30 AM"
        );
    }

    #[test]
    fn every_language_writes_every_part() {
        let t = at("2026-11-03 16:05");
        for language in Language::ALL {
            let text = moment(t, language);
            for part in ["2026", "3", "4", "05"] {
                assert!(text.contains(part), "{language:?}: {text}");
            }
            assert!(!text.contains("{{"), "{language:?}: {text}");
            let text = day(t.date(), language);
            assert!(
                text.contains("2026") && !text.contains("{{"),
                "{language:?}: {text}"
            );
        }
        assert_eq!(
            day(t.date(), Language::Es),
            "martes, 3 de noviembre de 2026"
        );
    }
}
