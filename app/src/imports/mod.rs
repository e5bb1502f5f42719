//! County and postal data feeds: the four CSV files of a county (VOT, ELG, TRK, PKG), their
//! dry run, guards and all-or-nothing application.
//!
//! A file is read twice. The dry run processes it exactly as applying would — every status
//! change asked of the status machine through the one spine — inside a transaction that is then
//! rolled back, so the summary ("1,204 ballots → received") is what applying will do, not a
//! second opinion. Applying processes it again in one transaction that commits only if every
//! guard the file raises was confirmed and no row was rejected (or the person chose to skip
//! rejected rows). A county's first ELG file of an election is decided the same way in both and
//! written only when applying (`elg_first`: its writes cannot change its decisions).

pub mod codes;

#[cfg(feature = "ssr")]
mod csvfeed;
#[cfg(feature = "ssr")]
mod elg;
#[cfg(feature = "ssr")]
mod elg_first;
#[cfg(feature = "ssr")]
mod pkg;
#[cfg(feature = "ssr")]
pub mod postal;
#[cfg(feature = "ssr")]
pub mod run;
#[cfg(feature = "ssr")]
mod sightings;
#[cfg(feature = "ssr")]
mod vot;

#[cfg(feature = "ssr")]
#[cfg(test)]
mod tests;

use crate::domain::BallotStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The four county feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    /// Voter master: who the voters are, their ZIP, language and contacts.
    Vot,
    /// Eligibility and ballot status: each voter's ballot and where it stands.
    Elg,
    /// The print vendor's map from Intelligent Mail barcode to ballot.
    Trk,
    /// The postal service's scans of those barcodes.
    Pkg,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown feed kind: use vot, elg, trk or pkg")]
pub struct UnknownKind;

impl FeedKind {
    pub const ALL: [FeedKind; 4] = [FeedKind::Vot, FeedKind::Elg, FeedKind::Trk, FeedKind::Pkg];

    pub const fn code(self) -> &'static str {
        match self {
            FeedKind::Vot => "vot",
            FeedKind::Elg => "elg",
            FeedKind::Trk => "trk",
            FeedKind::Pkg => "pkg",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, UnknownKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.code().eq_ignore_ascii_case(raw.trim()))
            .ok_or(UnknownKind)
    }

    pub const fn label(self) -> &'static str {
        match self {
            FeedKind::Vot => "Voter master (VOT)",
            FeedKind::Elg => "Eligibility and ballot status (ELG)",
            FeedKind::Trk => "Barcode to ballot map (TRK)",
            FeedKind::Pkg => "USPS scans (PKG)",
        }
    }

    /// The header row, in this order; optional columns may be left empty but not left out.
    pub const fn columns(self) -> &'static [&'static str] {
        match self {
            FeedKind::Vot => &[
                "county_fips",
                "voter_id",
                "first_name",
                "middle_name",
                "last_name",
                "suffix",
                "date_of_birth",
                "residential_zip",
                "precinct",
                "language",
                "confidential",
                "email",
                "phone",
            ],
            FeedKind::Elg => &[
                "county_fips",
                "election_date",
                "voter_id",
                "ballot_id",
                "status_code",
                "status_date",
                "reason_code",
                "outbound_imb",
                "inbound_imb",
            ],
            FeedKind::Trk => &[
                "county_fips",
                "election_date",
                "voter_id",
                "ballot_id",
                "outbound_imb",
                "inbound_imb",
            ],
            FeedKind::Pkg => &[
                "tracking_code",
                "routing_code",
                "operation_code",
                "facility_zip",
                "scan_time",
            ],
        }
    }

    /// Whether the file belongs to one election (chosen when importing).
    pub const fn needs_election(self) -> bool {
        !matches!(self, FeedKind::Vot)
    }
}

/// A reason to stop and look before applying a file: each is shown, and applying needs it
/// confirmed by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    /// Rows name another county than the one importing.
    OtherCounty,
    /// Rows name another election's day than the election chosen.
    OtherElection,
    /// Rows are dated after now: planned dates are never events.
    FutureDates,
    /// Rows are dated before the election's ballots could be mailed, or before the ballot was
    /// issued.
    EarlyDates,
    /// The file moves an unusual share of the election's ballots at once.
    MassChange,
}

impl Guard {
    pub const ALL: [Guard; 5] = [
        Guard::OtherCounty,
        Guard::OtherElection,
        Guard::FutureDates,
        Guard::EarlyDates,
        Guard::MassChange,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Guard::OtherCounty => "other_county",
            Guard::OtherElection => "other_election",
            Guard::FutureDates => "future_dates",
            Guard::EarlyDates => "early_dates",
            Guard::MassChange => "mass_change",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.code() == raw.trim())
    }

    pub const fn title(self) -> &'static str {
        match self {
            Guard::OtherCounty => "Rows for another county",
            Guard::OtherElection => "Rows for another election",
            Guard::FutureDates => "Dates in the future",
            Guard::EarlyDates => "Dates too early",
            Guard::MassChange => "An unusual share of ballots changes at once",
        }
    }
}

/// One guard the file raised, with how many rows and an example.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub guard: Guard,
    pub rows: u64,
    pub detail: String,
}

/// What processing a file did (dry run) or does (apply).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Data rows read (the header excluded).
    pub rows: u64,
    /// Rows refused, each with a reason in the error report.
    pub rejected: u64,
    /// Rows that change nothing: already recorded, or older than what the ballot shows.
    pub unchanged: u64,
    /// Ballots moved, by the status they move to.
    pub moved: BTreeMap<BallotStatus, u64>,
    /// Ballots issued (new ones, and reissues in place of an earlier ballot).
    pub issued: u64,
    pub voters_added: u64,
    pub voters_updated: u64,
    pub barcodes_set: u64,
    /// Messages the changes queue for subscribers.
    pub notifications: u64,
    /// Whether some text was not UTF-8 and was read as Latin-1.
    pub latin1: bool,
    pub findings: Vec<Finding>,
}

impl Summary {
    /// The changes in plain sentences, largest first: "1,204 ballots → received".
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.voters_added > 0 {
            out.push(format!("{} voters added", thousands(self.voters_added)));
        }
        if self.voters_updated > 0 {
            out.push(format!("{} voters updated", thousands(self.voters_updated)));
        }
        if self.issued > 0 {
            out.push(format!("{} ballots issued", thousands(self.issued)));
        }
        if self.barcodes_set > 0 {
            out.push(format!(
                "{} ballots get barcodes",
                thousands(self.barcodes_set)
            ));
        }
        let mut moved: Vec<(&BallotStatus, &u64)> = self.moved.iter().collect();
        moved.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (status, n) in moved {
            out.push(format!(
                "{} {} → {}",
                thousands(*n),
                if *n == 1 { "ballot" } else { "ballots" },
                status.code().replace('_', " ")
            ));
        }
        if self.notifications > 0 {
            out.push(format!(
                "{} notifications queued",
                thousands(self.notifications)
            ));
        }
        if self.unchanged > 0 {
            out.push(format!(
                "{} rows change nothing (already recorded)",
                thousands(self.unchanged)
            ));
        }
        if self.rejected > 0 {
            out.push(format!("{} rows rejected", thousands(self.rejected)));
        }
        out
    }

    pub fn raised(&self) -> Vec<Guard> {
        self.findings.iter().map(|f| f.guard).collect()
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
