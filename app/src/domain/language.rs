//! The ten languages the California Secretary of State serves voters in.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Language {
    #[default]
    En,
    Es,
    Zh,
    Hi,
    Ja,
    Km,
    Ko,
    Tl,
    Th,
    Vi,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported language code")]
pub struct UnknownLanguage;

impl Language {
    pub const ALL: [Language; 10] = [
        Language::En,
        Language::Es,
        Language::Zh,
        Language::Hi,
        Language::Ja,
        Language::Km,
        Language::Ko,
        Language::Tl,
        Language::Th,
        Language::Vi,
    ];

    /// The BCP 47 tag stored in the database and used in `<html lang>`.
    pub const fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
            Language::Zh => "zh",
            Language::Hi => "hi",
            Language::Ja => "ja",
            Language::Km => "km",
            Language::Ko => "ko",
            Language::Tl => "tl",
            Language::Th => "th",
            Language::Vi => "vi",
        }
    }

    /// The locale files' language (`app/locales/<code>.json`).
    pub const fn locale(self) -> crate::i18n::Locale {
        use crate::i18n::Locale;
        match self {
            Language::En => Locale::en,
            Language::Es => Locale::es,
            Language::Zh => Locale::zh,
            Language::Hi => Locale::hi,
            Language::Ja => Locale::ja,
            Language::Km => Locale::km,
            Language::Ko => Locale::ko,
            Language::Tl => Locale::tl,
            Language::Th => Locale::th,
            Language::Vi => Locale::vi,
        }
    }

    /// The language's name in itself, as a menu shows it to the people who read it.
    pub const fn native_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Es => "Español",
            Language::Zh => "中文",
            Language::Hi => "हिन्दी",
            Language::Ja => "日本語",
            Language::Km => "ខ្មែរ",
            Language::Ko => "한국어",
            Language::Tl => "Tagalog",
            Language::Th => "ไทย",
            Language::Vi => "Tiếng Việt",
        }
    }

    /// The language's name in English, as the (English-only) portal names it.
    pub const fn english_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Es => "Spanish",
            Language::Zh => "Chinese",
            Language::Hi => "Hindi",
            Language::Ja => "Japanese",
            Language::Km => "Khmer",
            Language::Ko => "Korean",
            Language::Tl => "Tagalog",
            Language::Th => "Thai",
            Language::Vi => "Vietnamese",
        }
    }

    /// Parses a stored code or a browser's tag (`es-MX` and `zh-Hant` map to their language).
    pub fn parse(tag: &str) -> Result<Self, UnknownLanguage> {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        // Tagalog is also tagged `fil` (Filipino) by many browsers.
        let primary = if primary == "fil" {
            "tl".to_owned()
        } else {
            primary
        };
        Language::ALL
            .into_iter()
            .find(|l| l.code() == primary)
            .ok_or(UnknownLanguage)
    }

    /// The first supported language in an `Accept-Language` header, in the header's order.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut tags: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let tag = pieces.next()?.trim();
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (!tag.is_empty()).then_some((q, tag))
            })
            .collect();
        tags.sort_by(|a, b| b.0.total_cmp(&a.0));
        tags.into_iter()
            .find_map(|(_, tag)| Language::parse(tag).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for l in Language::ALL {
            assert_eq!(Language::parse(l.code()), Ok(l));
        }
    }

    #[test]
    fn browser_tags_map_to_languages() {
        assert_eq!(Language::parse("es-MX"), Ok(Language::Es));
        assert_eq!(Language::parse("zh_Hant"), Ok(Language::Zh));
        assert_eq!(Language::parse("fil-PH"), Ok(Language::Tl));
        assert_eq!(Language::parse("fr"), Err(UnknownLanguage));
        assert_eq!(Language::parse(""), Err(UnknownLanguage));
    }

    #[test]
    fn accept_language_respects_quality() {
        assert_eq!(
            Language::from_accept_language("fr;q=0.9, vi;q=0.8, en;q=0.5"),
            Some(Language::Vi)
        );
        assert_eq!(Language::from_accept_language("de, fr"), None);
    }
}
