//! The voter's side: finding one's ballot and reading its whole story.

pub mod identity;
pub mod lookup;
pub mod page;
#[cfg(feature = "ssr")]
pub mod store;
pub mod story;

pub use identity::{Identity, LookupFields};

use crate::counties::CountyContact;
use crate::domain::{BallotStatus, NotCountedReason};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// Everything the status page shows, with times already in the county's time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotStory {
    pub county: CountyContact,
    pub election: ElectionDates,
    /// The voter's ballots in the election, oldest first: a replaced ballot, then its
    /// replacement.
    pub ballots: Vec<BallotView>,
    /// Proof of this look-up for the notification forms (`messages::links::LinkKey::voter_token`).
    pub notify_token: String,
    /// The voter's active subscriptions, addresses masked, to stop from the status page.
    pub subscriptions: Vec<SubscriptionLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionLine {
    pub id: i64,
    /// `email`, `sms` or `voice`.
    pub channel: String,
    /// `m•••@example.org`, `•••0100`.
    pub address: String,
    pub confirmed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionDates {
    pub name: String,
    pub election_day: NaiveDate,
    pub receipt_deadline: NaiveDate,
    /// Local time in the county.
    pub cure_deadline: NaiveDateTime,
    /// Whole days from today (county time) to the cure deadline's day; negative once past.
    pub cure_days_left: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotView {
    pub status: BallotStatus,
    pub reason: Option<NotCountedReason>,
    pub expected_delivery: Option<NaiveDate>,
    /// This ballot replaced an earlier one.
    pub replaces_earlier: bool,
    pub events: Vec<EventView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub status: BallotStatus,
    pub reason: Option<NotCountedReason>,
    /// Local time in the county.
    pub occurred_at: NaiveDateTime,
    pub expected_delivery: Option<NaiveDate>,
    /// A postal scan (as opposed to the county's own record).
    pub postal_scan: bool,
}

impl BallotStory {
    /// The ballot that counts now: the last one not replaced.
    pub fn live(&self) -> Option<&BallotView> {
        self.ballots
            .iter()
            .rev()
            .find(|b| b.status != BallotStatus::Replaced)
    }
}
