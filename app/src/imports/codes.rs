//! What a county's codes mean: ELG status codes and PKG operation codes, each to one of our
//! statuses. Built-in defaults cover the common codes; a county's own rows (table
//! `feed_code_maps`, edited in the portal's county settings) override them. A code that maps
//! nowhere is a rejected row, never a guess — the real failure this prevents is a code mapped
//! to the wrong words ("your ballot has been spoiled" sent to in-person voters).

use crate::domain::{BallotStatus, NotCountedReason};
use std::collections::HashMap;

/// What an ELG status code means. `reason: None` on "not counted" takes the row's reason code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElgMeaning {
    pub status: BallotStatus,
    pub reason: Option<NotCountedReason>,
    /// The reason must be curable (a "rejected, curable" code).
    pub curable: bool,
}

const fn elg(status: BallotStatus) -> ElgMeaning {
    ElgMeaning {
        status,
        reason: None,
        curable: false,
    }
}

/// The built-in ELG status codes (compared without regard to case).
pub const ELG_DEFAULTS: &[(&str, ElgMeaning)] = &[
    ("ISSUED", elg(BallotStatus::Issued)),
    ("REQUESTED", elg(BallotStatus::Issued)),
    ("MAILED", elg(BallotStatus::Mailed)),
    ("OUTBOUND", elg(BallotStatus::Mailed)),
    ("UNDELIVERABLE", elg(BallotStatus::Undeliverable)),
    ("RECEIVED", elg(BallotStatus::Received)),
    ("IN_REVIEW", elg(BallotStatus::InReview)),
    ("ACCEPTED", elg(BallotStatus::Counted)),
    ("COUNTED", elg(BallotStatus::Counted)),
    ("REJECTED", elg(BallotStatus::NotCounted)),
    (
        "REJECTED_CURABLE",
        ElgMeaning {
            status: BallotStatus::NotCounted,
            reason: None,
            curable: true,
        },
    ),
    ("CURED", elg(BallotStatus::Cured)),
    ("VOTED_IN_PERSON", elg(BallotStatus::VotedInPerson)),
];

/// Reason codes besides our own (`signature_mismatch`, …), as counties often write them.
pub const REASON_ALIASES: &[(&str, NotCountedReason)] = &[
    ("SIG_MISMATCH", NotCountedReason::SignatureMismatch),
    ("NO_SIGNATURE", NotCountedReason::SignatureMissing),
    ("UNSIGNED", NotCountedReason::SignatureMissing),
    ("LATE", NotCountedReason::ReceivedLate),
    ("DECEASED", NotCountedReason::VoterDeceased),
    ("EMPTY", NotCountedReason::BallotMissing),
];

/// The built-in PKG operation codes for scans of the outbound barcode. Any other code is an
/// ordinary processing scan ("in transit"); scans of the return barcode are always "on its
/// way back".
pub const PKG_DEFAULTS: &[(&str, BallotStatus)] = &[
    ("01", BallotStatus::Delivered),
    ("DELIVERED", BallotStatus::Delivered),
    ("04", BallotStatus::Undeliverable),
    ("05", BallotStatus::Undeliverable),
    ("09", BallotStatus::Undeliverable),
    ("UNDELIVERABLE", BallotStatus::Undeliverable),
    ("RETURN_TO_SENDER", BallotStatus::Undeliverable),
];

/// The statuses a PKG code may map to.
pub const PKG_STATUSES: [BallotStatus; 3] = [
    BallotStatus::InTransit,
    BallotStatus::Delivered,
    BallotStatus::Undeliverable,
];

/// One county's codes: the defaults with its overrides on top.
#[derive(Clone, Debug, Default)]
pub struct CodeMap {
    elg: HashMap<String, ElgMeaning>,
    pkg: HashMap<String, BallotStatus>,
}

impl CodeMap {
    pub fn with_defaults() -> Self {
        let mut map = Self::default();
        for (code, meaning) in ELG_DEFAULTS {
            map.elg.insert((*code).to_owned(), *meaning);
        }
        for status in BallotStatus::ALL {
            map.elg
                .entry(status.code().to_ascii_uppercase())
                .or_insert(elg(status));
        }
        for (code, status) in PKG_DEFAULTS {
            map.pkg.insert((*code).to_owned(), *status);
        }
        map
    }

    pub fn set_elg(&mut self, code: &str, status: BallotStatus, reason: Option<NotCountedReason>) {
        self.elg.insert(
            code.trim().to_ascii_uppercase(),
            ElgMeaning {
                status,
                reason,
                curable: false,
            },
        );
    }

    pub fn set_pkg(&mut self, code: &str, status: BallotStatus) {
        self.pkg.insert(code.trim().to_ascii_uppercase(), status);
    }

    pub fn elg(&self, code: &str) -> Option<ElgMeaning> {
        self.elg.get(&code.trim().to_ascii_uppercase()).copied()
    }

    /// An outbound scan's status: mapped, or an ordinary processing scan.
    pub fn pkg(&self, code: &str) -> BallotStatus {
        self.pkg
            .get(&code.trim().to_ascii_uppercase())
            .copied()
            .unwrap_or(BallotStatus::InTransit)
    }

    pub fn reason(code: &str) -> Option<NotCountedReason> {
        let code = code.trim();
        NotCountedReason::parse(&code.to_ascii_lowercase())
            .ok()
            .or_else(|| {
                REASON_ALIASES
                    .iter()
                    .find(|(alias, _)| alias.eq_ignore_ascii_case(code))
                    .map(|(_, r)| *r)
            })
    }

    /// Every ELG code with its meaning, sorted, for the settings page.
    pub fn elg_codes(&self) -> Vec<(String, ElgMeaning)> {
        let mut all: Vec<(String, ElgMeaning)> =
            self.elg.iter().map(|(c, m)| (c.clone(), *m)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    pub fn pkg_codes(&self) -> Vec<(String, BallotStatus)> {
        let mut all: Vec<(String, BallotStatus)> =
            self.pkg.iter().map(|(c, s)| (c.clone(), *s)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let mut map = CodeMap::with_defaults();
        assert_eq!(map.elg("accepted").unwrap().status, BallotStatus::Counted);
        assert_eq!(
            map.elg("in_transit").unwrap().status,
            BallotStatus::InTransit
        );
        assert!(map.elg("SPOILED").is_none());
        map.set_elg("SPOILED", BallotStatus::Replaced, None);
        assert_eq!(map.elg("spoiled").unwrap().status, BallotStatus::Replaced);
        assert_eq!(map.pkg("01"), BallotStatus::Delivered);
        assert_eq!(map.pkg("918"), BallotStatus::InTransit);
        map.set_pkg("918", BallotStatus::Delivered);
        assert_eq!(map.pkg("918"), BallotStatus::Delivered);
        assert_eq!(
            CodeMap::reason("Signature_Mismatch"),
            Some(NotCountedReason::SignatureMismatch)
        );
        assert_eq!(
            CodeMap::reason("unsigned"),
            Some(NotCountedReason::SignatureMissing)
        );
        assert_eq!(CodeMap::reason("smudged"), None);
    }
}
