//! Why a ballot is not (yet) counted: the reasons of 2 CCR 19092 as counties report them.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotCountedReason {
    /// The envelope signature does not match the signature on file (curable).
    SignatureMismatch,
    /// The envelope is not signed (curable).
    SignatureMissing,
    /// Postmarked after Election Day or received after the receipt deadline.
    ReceivedLate,
    /// The voter had already voted (in person or with another ballot).
    AlreadyVoted,
    /// The envelope held no ballot.
    BallotMissing,
    /// The voter died before the ballot was cast.
    VoterDeceased,
    /// More than one ballot in one envelope.
    MultipleBallots,
    /// Returned in an envelope that is not the official identification envelope.
    UnofficialEnvelope,
    /// The voter was not eligible (not registered, or not a resident of the jurisdiction).
    NotEligible,
    /// Any other reason the county records.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown reason code")]
pub struct UnknownReason;

impl NotCountedReason {
    pub const ALL: [NotCountedReason; 10] = [
        NotCountedReason::SignatureMismatch,
        NotCountedReason::SignatureMissing,
        NotCountedReason::ReceivedLate,
        NotCountedReason::AlreadyVoted,
        NotCountedReason::BallotMissing,
        NotCountedReason::VoterDeceased,
        NotCountedReason::MultipleBallots,
        NotCountedReason::UnofficialEnvelope,
        NotCountedReason::NotEligible,
        NotCountedReason::Other,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            NotCountedReason::SignatureMismatch => "signature_mismatch",
            NotCountedReason::SignatureMissing => "signature_missing",
            NotCountedReason::ReceivedLate => "received_late",
            NotCountedReason::AlreadyVoted => "already_voted",
            NotCountedReason::BallotMissing => "ballot_missing",
            NotCountedReason::VoterDeceased => "voter_deceased",
            NotCountedReason::MultipleBallots => "multiple_ballots",
            NotCountedReason::UnofficialEnvelope => "unofficial_envelope",
            NotCountedReason::NotEligible => "not_eligible",
            NotCountedReason::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Result<Self, UnknownReason> {
        NotCountedReason::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or(UnknownReason)
    }

    /// The voter can fix it by returning a statement before the cure deadline: the Unsigned
    /// Ballot Statement or the Signature Verification Statement (Elections Code 3019).
    pub const fn is_curable(self) -> bool {
        matches!(
            self,
            NotCountedReason::SignatureMismatch | NotCountedReason::SignatureMissing
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in NotCountedReason::ALL {
            assert_eq!(NotCountedReason::parse(r.code()), Ok(r));
        }
        assert_eq!(NotCountedReason::parse("spoiled"), Err(UnknownReason));
    }

    #[test]
    fn only_signature_problems_are_curable() {
        let curable: Vec<_> = NotCountedReason::ALL
            .into_iter()
            .filter(|r| r.is_curable())
            .collect();
        assert_eq!(
            curable,
            [
                NotCountedReason::SignatureMismatch,
                NotCountedReason::SignatureMissing
            ]
        );
    }
}
