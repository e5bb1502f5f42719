//! The ballot status machine: the one function that decides whether a status change may be
//! recorded. Every writer — staff, imports, postal scans, the API, the demo loader — asks it.

use super::{BallotStatus, NotCountedReason};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How far ahead of the server's clock an event may be stamped (clock skew between a county's
/// systems and ours). Anything later is a planned date, and planned dates never become events.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// A ballot's status as it stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Current {
    pub status: BallotStatus,
    pub reason: Option<NotCountedReason>,
    pub at: DateTime<Utc>,
}

/// A proposed change: the status it moves to, why (for "not counted"), and when it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: BallotStatus,
    pub reason: Option<NotCountedReason>,
    pub occurred_at: DateTime<Utc>,
}

/// An accepted change: record it, and tell the voter when `notify` is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    pub notify: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    #[error("the date is in the future: planned dates are not events")]
    InFuture,
    #[error("the date is earlier than the ballot's current status")]
    OlderThanCurrent,
    #[error("the ballot already has this status")]
    Unchanged,
    #[error("a ballot's first status is \"issued\"")]
    MustStartIssued,
    #[error("the ballot's status is final ({0:?}); nothing may follow it")]
    Final(BallotStatus),
    #[error("a ballot cannot go from {from:?} to {to:?}")]
    Illegal {
        from: BallotStatus,
        to: BallotStatus,
    },
    #[error("\"not counted\" needs a reason")]
    ReasonRequired,
    #[error("only \"not counted\" carries a reason")]
    ReasonNotAllowed,
    #[error("only a missing or mismatched signature can be cured")]
    NotCurable,
}

impl StatusChange {
    pub fn new(status: BallotStatus, occurred_at: DateTime<Utc>) -> Self {
        Self {
            status,
            reason: None,
            occurred_at,
        }
    }

    pub fn not_counted(reason: NotCountedReason, occurred_at: DateTime<Utc>) -> Self {
        Self {
            status: BallotStatus::NotCounted,
            reason: Some(reason),
            occurred_at,
        }
    }

    /// The status the ballot has once this change is recorded.
    pub fn into_current(self) -> Current {
        Current {
            status: self.status,
            reason: self.reason,
            at: self.occurred_at,
        }
    }
}

/// Whether a ballot may move from one status to another, reasons and dates aside.
pub const fn is_legal(from: BallotStatus, to: BallotStatus) -> bool {
    use BallotStatus::*;
    match (from, to) {
        // Out to the voter. Feeds skip steps (no scan, no delivery record), so any later
        // outbound step, or the ballot coming back, may follow.
        (Issued, Mailed | InTransit | Delivered | Undeliverable | ReturnInTransit | Received) => {
            true
        }
        (Mailed, InTransit | Delivered | Undeliverable | ReturnInTransit | Received) => true,
        (InTransit, InTransit | Delivered | Undeliverable | ReturnInTransit | Received) => true,
        (Delivered, ReturnInTransit | Received) => true,
        (ReturnInTransit, ReturnInTransit | Received) => true,
        // Until the county has it, a ballot can be replaced or superseded by an in-person vote.
        (Issued | Mailed | InTransit | Delivered | Undeliverable | ReturnInTransit, Replaced) => {
            true
        }
        (
            Issued | Mailed | InTransit | Delivered | Undeliverable | ReturnInTransit,
            VotedInPerson,
        ) => true,
        // With the county. "Counted" is reachable only through "received".
        (Received, InReview | Counted | NotCounted) => true,
        (InReview, Counted | NotCounted) => true,
        (NotCounted, Cured | InReview) => true,
        (Cured, InReview | Counted | NotCounted) => true,
        _ => false,
    }
}

/// Whether the voter is told about a change into `to` from `from`.
pub const fn notifies(from: Option<BallotStatus>, to: BallotStatus) -> bool {
    use BallotStatus::*;
    match to {
        // Elections Code 3019.7: mailed, expected delivery (first scan), undeliverable,
        // received, counted or not (with the cure), plus the cure's receipt and supersession.
        Mailed | Undeliverable | Received | Counted | NotCounted | Cured | VotedInPerson
        | Replaced => true,
        InTransit => !matches!(from, Some(InTransit)),
        Issued | Delivered | ReturnInTransit | InReview => false,
    }
}

/// Decides a proposed change against the ballot's current status (`None` for a new ballot).
pub fn transition(
    current: Option<Current>,
    change: StatusChange,
    now: DateTime<Utc>,
) -> Result<Applied, Refusal> {
    if change.occurred_at > now + MAX_CLOCK_SKEW {
        return Err(Refusal::InFuture);
    }
    match (change.status, change.reason) {
        (BallotStatus::NotCounted, None) => return Err(Refusal::ReasonRequired),
        (BallotStatus::NotCounted, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(Refusal::ReasonNotAllowed),
    }
    let Some(current) = current else {
        return if change.status == BallotStatus::Issued {
            Ok(Applied { notify: false })
        } else {
            Err(Refusal::MustStartIssued)
        };
    };
    if change.occurred_at < current.at {
        return Err(Refusal::OlderThanCurrent);
    }
    if current.status == change.status
        && current.reason == change.reason
        && !change.status.repeats()
    {
        return Err(Refusal::Unchanged);
    }
    if current.status.is_terminal() {
        return Err(Refusal::Final(current.status));
    }
    if !is_legal(current.status, change.status) {
        return Err(Refusal::Illegal {
            from: current.status,
            to: change.status,
        });
    }
    if change.status == BallotStatus::Cured && !current.reason.is_some_and(|r| r.is_curable()) {
        return Err(Refusal::NotCurable);
    }
    Ok(Applied {
        notify: notifies(Some(current.status), change.status),
    })
}

#[cfg(test)]
#[path = "transition_tests.rs"]
mod tests;
