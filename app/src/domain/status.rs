//! The voter-facing statuses of a vote-by-mail ballot. The codes are what the database stores
//! (checked by a constraint there too); the sentences live in [`super::wording`].

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BallotStatus {
    /// The county assigned a ballot to the voter; it has not been handed to the postal service.
    Issued,
    /// Handed to the postal service (Elections Code 3019.7: "mailed").
    Mailed,
    /// Scanned by the postal service on its way to the voter.
    InTransit,
    /// Delivered to the voter's address, per postal tracking.
    Delivered,
    /// The postal service returned it to the county as undeliverable.
    Undeliverable,
    /// Returned by the voter and scanned on its way to the county; not yet received.
    ReturnInTransit,
    /// The county elections office has it. Not counted yet.
    Received,
    /// Signature and envelope under review.
    InReview,
    /// Counted.
    Counted,
    /// Cannot be counted; the reason says why and whether it can be fixed.
    NotCounted,
    /// The voter returned the statement that fixes a curable problem; it will be reviewed again.
    Cured,
    /// The voter voted in person; this mail ballot is superseded.
    VotedInPerson,
    /// The county issued a new ballot in place of this one.
    Replaced,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ballot status code")]
pub struct UnknownStatus;

impl BallotStatus {
    pub const ALL: [BallotStatus; 13] = [
        BallotStatus::Issued,
        BallotStatus::Mailed,
        BallotStatus::InTransit,
        BallotStatus::Delivered,
        BallotStatus::Undeliverable,
        BallotStatus::ReturnInTransit,
        BallotStatus::Received,
        BallotStatus::InReview,
        BallotStatus::Counted,
        BallotStatus::NotCounted,
        BallotStatus::Cured,
        BallotStatus::VotedInPerson,
        BallotStatus::Replaced,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            BallotStatus::Issued => "issued",
            BallotStatus::Mailed => "mailed",
            BallotStatus::InTransit => "in_transit",
            BallotStatus::Delivered => "delivered",
            BallotStatus::Undeliverable => "undeliverable",
            BallotStatus::ReturnInTransit => "return_in_transit",
            BallotStatus::Received => "received",
            BallotStatus::InReview => "in_review",
            BallotStatus::Counted => "counted",
            BallotStatus::NotCounted => "not_counted",
            BallotStatus::Cured => "cured",
            BallotStatus::VotedInPerson => "voted_in_person",
            BallotStatus::Replaced => "replaced",
        }
    }

    pub fn parse(code: &str) -> Result<Self, UnknownStatus> {
        BallotStatus::ALL
            .into_iter()
            .find(|s| s.code() == code)
            .ok_or(UnknownStatus)
    }

    /// No further event may follow.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            BallotStatus::Counted | BallotStatus::VotedInPerson | BallotStatus::Replaced
        )
    }

    /// A repeat of this status is a further postal scan, recorded on the timeline.
    pub const fn repeats(self) -> bool {
        matches!(
            self,
            BallotStatus::InTransit | BallotStatus::ReturnInTransit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for s in BallotStatus::ALL {
            assert_eq!(BallotStatus::parse(s.code()), Ok(s));
            assert!(seen.insert(s.code()));
        }
        assert_eq!(BallotStatus::parse("spoiled"), Err(UnknownStatus));
    }

    #[test]
    fn serde_uses_the_codes() {
        for s in BallotStatus::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.code()));
        }
    }
}
