//! What each status and reason means, in the sentences voters read — on the status page, in
//! every message and in staff reports alike. Keep "received" and "counted" apart: a received
//! ballot has not been counted yet, and no sentence may suggest it will be.
//!
//! The sentences live in `app/locales/<language>.json` under `status.<code>` and
//! `reason.<code>`; this module is the one place that picks them by status and reason.

use super::{BallotStatus, Language, NotCountedReason};
use crate::i18n::td_string;

/// The three sentences a voter reads for a status: what happened, what it means, what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wording {
    pub headline: &'static str,
    pub meaning: &'static str,
    pub next_step: Option<&'static str>,
}

macro_rules! wording {
    ($locale:expr, $group:ident . $key:ident) => {
        Wording {
            headline: td_string!($locale, $group.$key.headline),
            meaning: td_string!($locale, $group.$key.meaning),
            // A status with nothing to do has an empty `next` in every language.
            next_step: Some(td_string!($locale, $group.$key.next)).filter(|s| !s.is_empty()),
        }
    };
}

pub fn status(status: BallotStatus, language: Language) -> Wording {
    use BallotStatus::*;
    let l = language.locale();
    match status {
        Issued => wording!(l, status.issued),
        Mailed => wording!(l, status.mailed),
        InTransit => wording!(l, status.in_transit),
        Delivered => wording!(l, status.delivered),
        Undeliverable => wording!(l, status.undeliverable),
        ReturnInTransit => wording!(l, status.return_in_transit),
        Received => wording!(l, status.received),
        InReview => wording!(l, status.in_review),
        Counted => wording!(l, status.counted),
        NotCounted => wording!(l, status.not_counted),
        Cured => wording!(l, status.cured),
        VotedInPerson => wording!(l, status.voted_in_person),
        Replaced => wording!(l, status.replaced),
    }
}

/// Why a ballot was not counted, and for curable reasons, what fixes it.
pub fn reason(reason: NotCountedReason, language: Language) -> Wording {
    use NotCountedReason::*;
    let l = language.locale();
    match reason {
        SignatureMismatch => wording!(l, reason.signature_mismatch),
        SignatureMissing => wording!(l, reason.signature_missing),
        ReceivedLate => wording!(l, reason.received_late),
        AlreadyVoted => wording!(l, reason.already_voted),
        BallotMissing => wording!(l, reason.ballot_missing),
        VoterDeceased => wording!(l, reason.voter_deceased),
        MultipleBallots => wording!(l, reason.multiple_ballots),
        UnofficialEnvelope => wording!(l, reason.unofficial_envelope),
        NotEligible => wording!(l, reason.not_eligible),
        Other => wording!(l, reason.other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_never_promises_counting() {
        for s in BallotStatus::ALL
            .into_iter()
            .filter(|s| *s != BallotStatus::Counted)
        {
            let w = status(s, Language::En);
            for text in [w.headline, w.meaning, w.next_step.unwrap_or_default()] {
                assert!(!text.contains("will be counted"), "{s:?}: {text}");
                assert!(!text.contains("was counted"), "{s:?}: {text}");
            }
        }
    }

    #[test]
    fn no_status_is_worded_as_spoiled() {
        for s in BallotStatus::ALL {
            assert!(
                !status(s, Language::En)
                    .headline
                    .to_lowercase()
                    .contains("spoil")
            );
        }
    }

    #[test]
    fn curable_reasons_say_how_to_fix_them() {
        for r in NotCountedReason::ALL {
            assert_eq!(
                reason(r, Language::En)
                    .meaning
                    .starts_with("You can fix this"),
                r.is_curable(),
                "{r:?}"
            );
        }
    }

    #[test]
    fn every_language_words_every_status_apart() {
        for language in Language::ALL {
            let headlines: std::collections::HashSet<&str> = BallotStatus::ALL
                .into_iter()
                .map(|s| status(s, language).headline)
                .collect();
            assert_eq!(headlines.len(), BallotStatus::ALL.len(), "{language:?}");
            for s in BallotStatus::ALL {
                let w = status(s, language);
                assert!(!w.meaning.is_empty(), "{language:?} {s:?}");
                // Whether there is something to do does not depend on the language.
                assert_eq!(
                    w.next_step.is_some(),
                    status(s, Language::En).next_step.is_some(),
                    "{language:?} {s:?}"
                );
            }
            for r in NotCountedReason::ALL {
                assert_eq!(
                    reason(r, language).next_step.is_some(),
                    r.is_curable() || r == NotCountedReason::Other,
                    "{language:?} {r:?}"
                );
            }
        }
    }

    #[test]
    fn the_words_are_the_languages_own() {
        let received = |l| status(BallotStatus::Received, l).headline;
        assert_eq!(received(Language::En), "Your ballot was received.");
        for language in Language::ALL.into_iter().skip(1) {
            assert_ne!(received(language), received(Language::En), "{language:?}");
        }
    }
}
