//! Ballots and their timelines. Every status change goes through [`spine::apply`].

#[cfg(feature = "ssr")]
pub mod first_load;
#[cfg(feature = "ssr")]
pub mod spine;

#[cfg(all(test, feature = "ssr"))]
mod partition_tests;

use serde::{Deserialize, Serialize};

/// Where an event came from, as the timeline records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    Staff,
    Import,
    PostalScan,
    Api,
    System,
}

impl EventSource {
    pub const fn code(self) -> &'static str {
        match self {
            EventSource::Staff => "staff",
            EventSource::Import => "import",
            EventSource::PostalScan => "postal_scan",
            EventSource::Api => "api",
            EventSource::System => "system",
        }
    }
}
