//! Name normalisation for exact-match look-up: "José" finds "JOSE", "O'Brien" finds "OBRIEN",
//! "Nguyen-Tran" finds "Nguyen Tran", "de la Cruz" finds "DELACRUZ".

use serde::{Deserialize, Serialize};
use std::fmt;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use unicode_script::{Script, UnicodeScript};

/// A name reduced to the form both the stored record and a look-up are compared in. Holds part
/// of a voter's identity, so `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NormalizedName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a name needs at least one letter")]
pub struct EmptyName;

impl NormalizedName {
    /// Compatibility-decomposes; drops the accents of Latin, Greek and Cyrillic letters and
    /// folds the letters that do not decompose (Đ, Ø, Ł, ß…); drops every character that is not
    /// a letter or a digit (spaces, hyphens, apostrophes, periods); lower-cases the rest.
    /// Combining marks in other scripts — Devanagari, Thai and Khmer vowel signs — are part of
    /// the letter and kept, so different names in those scripts stay different.
    pub fn parse(raw: &str) -> Result<Self, EmptyName> {
        let mut out = String::with_capacity(raw.len());
        for c in raw.nfkd() {
            if is_combining_mark(c) {
                // Decided on the letter the mark sits on as written out, not as read in, so
                // that normalising the result again decides the same way.
                let base = out.chars().rev().find(|&b| !is_combining_mark(b));
                if !base.is_some_and(accents_drop_after) {
                    out.push(c);
                }
                continue;
            }
            if !c.is_alphanumeric() {
                continue;
            }
            match fold(c) {
                Some(folded) => out.push_str(folded),
                None => out.extend(c.to_lowercase()),
            }
        }
        // Removing separators can bring combining marks together that canonical order sorts
        // differently; put them back in that order so normalising twice changes nothing.
        let out: String = out.nfkd().collect();
        // A name of marks alone has no letter.
        if out.chars().all(is_combining_mark) {
            Err(EmptyName)
        } else {
            Ok(Self(out))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Accents on Latin, Greek and Cyrillic letters are dropped ("é" finds "e"); in other scripts a
/// combining mark is a vowel sign that makes a different name.
fn accents_drop_after(letter: char) -> bool {
    matches!(
        letter.script(),
        Script::Latin | Script::Greek | Script::Cyrillic
    )
}

/// Latin letters with a stroke or a ligature have no decomposition to strip.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'Đ' | 'đ' | 'Ð' | 'ð' => "d",
        'Ø' | 'ø' => "o",
        'Ł' | 'ł' => "l",
        'Ħ' | 'ħ' => "h",
        'Ŧ' | 'ŧ' => "t",
        'ı' => "i",
        'ß' | 'ẞ' => "ss",
        'Æ' | 'æ' => "ae",
        'Œ' | 'œ' => "oe",
        'Þ' | 'þ' => "th",
        _ => return None,
    })
}

impl fmt::Debug for NormalizedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NormalizedName(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> String {
        NormalizedName::parse(s)
            .map(|n| n.into_inner())
            .unwrap_or_default()
    }

    #[test]
    fn the_hard_names_match_their_plain_spellings() {
        assert_eq!(n("O'Brien"), n("OBRIEN"));
        assert_eq!(n("O’Brien"), n("o brien"));
        assert_eq!(n("José"), n("JOSE"));
        assert_eq!(n("Nguyễn-Trần"), n("nguyen tran"));
        assert_eq!(n("de la Cruz"), n("DeLaCruz"));
        assert_eq!(n("Zoë  Ångström"), "zoeangstrom");
        assert_eq!(n("ＭＡＲＩＡ"), "maria");
        assert_eq!(n("王小明"), "王小明");
        assert_eq!(n("សុខ ចាន់"), n("សុខចាន់"));
        assert_eq!(n("Đặng"), n("DANG"));
        assert_eq!(n("Søren Łukasz Straße"), "sorenlukaszstrasse");
    }

    #[test]
    fn a_letter_that_lower_cases_into_latin_decides_as_latin() {
        // Found by the property below: "Ɦ" (U+A7AA) lower-cases to "ɦ" (U+0266).
        let once = n("Ɦ\u{1a60}");
        assert_eq!(once, "ɦ");
        assert_eq!(n(&once), once);
    }

    #[test]
    fn vowel_signs_in_other_scripts_keep_names_apart() {
        assert_ne!(n("राम"), n("रमा"));
        assert_ne!(n("สมชาย"), n("สมชย"));
        assert_ne!(n("សុខ"), n("សខ"));
    }

    #[test]
    fn names_without_letters_are_refused() {
        for bad in ["", "   ", "-'", "\u{301}"] {
            assert_eq!(NormalizedName::parse(bad), Err(EmptyName), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_the_name() {
        assert_eq!(
            format!("{:?}", NormalizedName::parse("Ana")),
            "Ok(NormalizedName(..))"
        );
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent(s in "\\PC{0,30}") {
            if let Ok(once) = NormalizedName::parse(&s) {
                prop_assert_eq!(NormalizedName::parse(once.as_str()), Ok(once.clone()));
            }
        }

        #[test]
        fn separators_and_case_never_matter(a in "[A-Za-z]{1,10}", b in "[A-Za-z]{1,10}", sep in "[ '\\-.]{0,3}") {
            let joined = format!("{a}{sep}{b}");
            prop_assert_eq!(n(&joined), n(&format!("{}{}", a.to_uppercase(), b.to_lowercase())));
        }
    }
}
