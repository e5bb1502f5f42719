//! Reports and exports for staff: the dashboard's numbers and charts, and exports of the ballot
//! status list, the cure list, the notification log, the audit log and the import history.
//!
//! Every number and every row reads the same statuses the status page and the messages use, and
//! says them in the same sentences ([`crate::domain::wording`]).

use crate::AppError;
use crate::admin::Staff;
use crate::admin::roles::{Role, Scope};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub mod dashboard;

#[cfg(feature = "ssr")]
pub mod charts;
#[cfg(feature = "ssr")]
pub mod export;
#[cfg(feature = "ssr")]
pub mod jobs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// Every ballot with its current status.
    Ballots,
    /// Voters whose ballot has a curable problem, with their contact details, for outreach.
    Cure,
    /// Every message the outbox holds, with its delivery state (addresses masked).
    Notifications,
    /// The audit log.
    Audit,
    /// The county files loaded, with what each changed.
    Imports,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export")]
pub struct UnknownExport;

impl ExportKind {
    pub const ALL: [ExportKind; 5] = [
        ExportKind::Ballots,
        ExportKind::Cure,
        ExportKind::Notifications,
        ExportKind::Audit,
        ExportKind::Imports,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            ExportKind::Ballots => "ballots",
            ExportKind::Cure => "cure",
            ExportKind::Notifications => "notifications",
            ExportKind::Audit => "audit",
            ExportKind::Imports => "imports",
        }
    }

    pub fn parse(code: &str) -> Result<Self, UnknownExport> {
        ExportKind::ALL
            .into_iter()
            .find(|k| k.code() == code)
            .ok_or(UnknownExport)
    }

    pub const fn label(self) -> &'static str {
        match self {
            ExportKind::Ballots => "Ballot status list",
            ExportKind::Cure => "Cure list (with contact details)",
            ExportKind::Notifications => "Notification log",
            ExportKind::Audit => "Audit log",
            ExportKind::Imports => "Import history",
        }
    }

    /// Whose rows `staff` may export of this kind. Lists naming voters (ballots, cure,
    /// notifications) are for the roles that work voters' records; the audit log for those who
    /// read it; the import history for anyone who reads reports.
    pub fn scope_for(self, staff: &Staff) -> Result<Scope, AppError> {
        match self {
            ExportKind::Ballots | ExportKind::Cure | ExportKind::Notifications => {
                staff.records_scope()
            }
            ExportKind::Audit => staff.audit_scope(),
            ExportKind::Imports => reports_scope(staff),
        }
    }

    /// Which filters mean something for this kind (the others are ignored).
    pub const fn filters(self) -> FilterSet {
        match self {
            ExportKind::Ballots => FilterSet {
                election: true,
                status: true,
                precinct: true,
            },
            ExportKind::Cure => FilterSet {
                election: true,
                status: false,
                precinct: true,
            },
            ExportKind::Notifications => FilterSet {
                election: true,
                status: true,
                precinct: true,
            },
            ExportKind::Audit => FilterSet {
                election: false,
                status: false,
                precinct: false,
            },
            ExportKind::Imports => FilterSet {
                election: true,
                status: false,
                precinct: false,
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterSet {
    pub election: bool,
    pub status: bool,
    pub precinct: bool,
}

/// Whose numbers `staff` may read: every role reads its own county's reports (state
/// administrators and statewide auditors every county's).
pub fn reports_scope(staff: &Staff) -> Result<Scope, AppError> {
    if staff.must_enrol_totp {
        return Err(AppError::Forbidden);
    }
    match (staff.role, &staff.county_fips) {
        (Role::StateAdmin, _) | (Role::Auditor, None) => Ok(Scope::AllCounties),
        (_, Some(fips)) => Ok(Scope::County(fips.clone())),
        _ => Err(AppError::Forbidden),
    }
}

/// The county a report or export covers, `None` for every county: a county account's own, or
/// what an account across counties chose (`""` for all).
pub fn county_for(scope: &Scope, chosen: &str) -> Result<Option<String>, AppError> {
    let chosen = chosen.trim();
    match scope {
        Scope::County(own) if chosen.is_empty() || chosen == own => Ok(Some(own.clone())),
        Scope::County(_) => Err(AppError::Forbidden),
        Scope::AllCounties if chosen.is_empty() => Ok(None),
        Scope::AllCounties => crate::domain::CountyFips::parse(chosen)
            .map(|f| Some(f.as_str().to_owned()))
            .map_err(|_| bad("There is no such county.")),
    }
}

fn bad(message: &str) -> AppError {
    AppError::Conflict(message.to_owned())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub const fn code(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    pub fn parse(code: &str) -> Result<Self, UnknownExport> {
        match code {
            "csv" => Ok(ExportFormat::Csv),
            "xlsx" => Ok(ExportFormat::Xlsx),
            _ => Err(UnknownExport),
        }
    }

    pub const fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// What an export is filtered by. Dates are days in Pacific time, both ends included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFilters {
    pub election_id: Option<i64>,
    /// A ballot status code (ballots), or a message's delivery state (notifications).
    pub status: Option<String>,
    pub precinct: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// One export, as asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSpec {
    pub kind: ExportKind,
    pub format: ExportFormat,
    /// `None`: every county.
    pub county_fips: Option<String>,
    pub filters: ExportFilters,
}

/// One export as its requester sees it in the portal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRow {
    pub id: i64,
    pub spec: ExportSpec,
    pub state: String,
    pub rows_total: Option<i64>,
    pub rows_written: i64,
    pub bytes: i64,
    pub failure: Option<String>,
    /// Pacific time.
    pub created_at: String,
    pub file_name: String,
}

/// The delivery states a message can be in (the message log's list).
pub use crate::admin::messages_view::STATES as MESSAGE_STATES;

impl ExportSpec {
    /// Checks and reads the form's fields (as typed: empty means "any"), for `scope`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_form(
        scope: &Scope,
        kind: &str,
        format: &str,
        county: &str,
        election_id: &str,
        status: &str,
        precinct: &str,
        from: &str,
        to: &str,
    ) -> Result<Self, AppError> {
        let kind = ExportKind::parse(kind).map_err(|_| bad("Choose what to export."))?;
        let format = ExportFormat::parse(format).map_err(|_| bad("Choose CSV or Excel."))?;
        let county_fips = county_for(scope, county)?;
        let used = kind.filters();
        let text = |raw: &str| Some(raw.trim().to_owned()).filter(|s| !s.is_empty());
        let election_id = match text(election_id).filter(|_| used.election) {
            None => None,
            Some(raw) => Some(
                raw.parse::<i64>()
                    .map_err(|_| bad("There is no such election."))?,
            ),
        };
        let status = text(status).filter(|_| used.status);
        if let Some(s) = &status {
            let known = match kind {
                ExportKind::Notifications => MESSAGE_STATES.contains(&s.as_str()),
                _ => crate::domain::BallotStatus::parse(s).is_ok(),
            };
            if !known {
                return Err(bad("There is no such status."));
            }
        }
        let precinct = text(precinct).filter(|_| used.precinct);
        if precinct.as_ref().is_some_and(|p| p.chars().count() > 40) {
            return Err(bad("A precinct is at most 40 characters."));
        }
        let day = |raw: &str, which: &str| match text(raw) {
            None => Ok(None),
            Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| bad(&format!("The {which} date is not a date (YYYY-MM-DD)."))),
        };
        let (from, to) = (day(from, "from")?, day(to, "to")?);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(bad("The from date is after the to date."));
        }
        Ok(ExportSpec {
            kind,
            format,
            county_fips,
            filters: ExportFilters {
                election_id,
                status,
                precinct,
                from,
                to,
            },
        })
    }

    /// The download's file name: `ballots-06037-2026-12-02.csv`.
    pub fn file_name(&self, day: NaiveDate) -> String {
        format!(
            "{}-{}-{}.{}",
            self.kind.code(),
            self.county_fips.as_deref().unwrap_or("all-counties"),
            day.format("%Y-%m-%d"),
            self.format.code()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(
        kind: &str,
        county: &str,
        status: &str,
        from: &str,
        to: &str,
    ) -> Result<ExportSpec, AppError> {
        ExportSpec::from_form(
            &Scope::County("06037".into()),
            kind,
            "csv",
            county,
            "",
            status,
            "",
            from,
            to,
        )
    }

    #[test]
    fn a_county_account_exports_its_own_county_only() {
        assert_eq!(
            form("ballots", "", "", "", "").map(|s| s.county_fips),
            Ok(Some("06037".into()))
        );
        assert_eq!(
            form("ballots", "06075", "", "", ""),
            Err(AppError::Forbidden)
        );
        let all =
            ExportSpec::from_form(&Scope::AllCounties, "audit", "xlsx", "", "", "", "", "", "");
        assert_eq!(all.map(|s| s.county_fips), Ok(None));
    }

    fn refused(r: Result<ExportSpec, AppError>) -> String {
        match r {
            Err(AppError::Conflict(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_filters_are_named() {
        assert_eq!(
            refused(form("ballots", "", "lost", "", "")),
            "There is no such status."
        );
        assert!(refused(form("ballots", "", "", "2026-11-05", "2026-11-01")).contains("after"));
        assert!(refused(form("ballots", "", "", "11/05/2026", "")).contains("from date"));
        assert!(refused(form("tax_returns", "", "", "", "")).contains("what to export"));
        // A message state is a filter for the notification log, not for ballots.
        assert!(form("notifications", "", "delivered", "", "").is_ok());
        assert!(form("ballots", "", "delivered", "", "").is_ok());
        assert!(form("ballots", "", "dead", "", "").is_err());
    }

    #[test]
    fn filters_a_kind_does_not_use_are_dropped() {
        let spec = form("audit", "", "counted", "", "").unwrap();
        assert_eq!(spec.filters.status, None);
    }

    #[test]
    fn auditors_read_reports_but_not_voters() {
        let auditor = Staff {
            id: 1,
            name: "A".into(),
            email: "a@example.org".into(),
            role: Role::Auditor,
            county_fips: Some("06037".into()),
            county_name: None,
            totp_enabled: false,
            must_enrol_totp: false,
        };
        assert_eq!(reports_scope(&auditor), Ok(Scope::County("06037".into())));
        assert_eq!(
            ExportKind::Cure.scope_for(&auditor),
            Err(AppError::Forbidden)
        );
        assert!(ExportKind::Imports.scope_for(&auditor).is_ok());
        assert!(ExportKind::Audit.scope_for(&auditor).is_ok());
    }
}
