//! Who may do what. Every server function asks these questions itself; the pages only hide
//! what a role cannot use.

use crate::AppError;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Every county: accounts, settings and records.
    StateAdmin,
    /// One county: its users, settings and records.
    CountyAdmin,
    /// One county: its records (search, ballots, status changes).
    CountyStaff,
    /// Read-only: reports and the audit log, of one county or of all.
    Auditor,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role")]
pub struct UnknownRole;

impl Role {
    pub const ALL: [Role; 4] = [
        Role::StateAdmin,
        Role::CountyAdmin,
        Role::CountyStaff,
        Role::Auditor,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Role::StateAdmin => "state_admin",
            Role::CountyAdmin => "county_admin",
            Role::CountyStaff => "county_staff",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(code: &str) -> Result<Self, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or(UnknownRole)
    }

    pub const fn label(self) -> &'static str {
        match self {
            Role::StateAdmin => "State administrator",
            Role::CountyAdmin => "County administrator",
            Role::CountyStaff => "County staff",
            Role::Auditor => "Auditor",
        }
    }
}

/// The signed-in person, as the portal shows them and as server functions check them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub county_fips: Option<String>,
    pub county_name: Option<String>,
    pub totp_enabled: bool,
    /// The county requires two-factor sign-in and this account has not set it up yet: until it
    /// does, it may only set it up.
    pub must_enrol_totp: bool,
}

/// Whose records a query may read: every county's, or one county's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    AllCounties,
    County(String),
}

impl Scope {
    /// The county filter for SQL: `None` means every county.
    pub fn county(&self) -> Option<&str> {
        match self {
            Scope::AllCounties => None,
            Scope::County(fips) => Some(fips),
        }
    }
}

impl Staff {
    /// The counties whose voters and ballots this account may read and change. Auditors read
    /// reports and the audit log, not voters' records.
    pub fn records_scope(&self) -> Result<Scope, AppError> {
        if self.must_enrol_totp {
            return Err(AppError::Forbidden);
        }
        match (self.role, &self.county_fips) {
            (Role::StateAdmin, _) => Ok(Scope::AllCounties),
            (Role::CountyAdmin | Role::CountyStaff, Some(fips)) => Ok(Scope::County(fips.clone())),
            _ => Err(AppError::Forbidden),
        }
    }

    /// Whose audit log this account may read: auditors (their county's, or all), county
    /// administrators (their county's), state administrators (all).
    pub fn audit_scope(&self) -> Result<Scope, AppError> {
        if self.must_enrol_totp {
            return Err(AppError::Forbidden);
        }
        match (self.role, &self.county_fips) {
            (Role::StateAdmin, _) | (Role::Auditor, None) => Ok(Scope::AllCounties),
            (Role::Auditor | Role::CountyAdmin, Some(fips)) => Ok(Scope::County(fips.clone())),
            _ => Err(AppError::Forbidden),
        }
    }

    /// Whether this account may read and change the records of `county_fips`.
    pub fn may_work_records_of(&self, county_fips: &str) -> bool {
        match self.records_scope() {
            Ok(Scope::AllCounties) => true,
            Ok(Scope::County(own)) => own == county_fips,
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(role: Role, county: Option<&str>) -> Staff {
        Staff {
            id: 1,
            name: "A".into(),
            email: "a@example.org".into(),
            role,
            county_fips: county.map(str::to_owned),
            county_name: None,
            totp_enabled: false,
            must_enrol_totp: false,
        }
    }

    #[test]
    fn codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Ok(r));
        }
        assert_eq!(Role::parse("root"), Err(UnknownRole));
    }

    #[test]
    fn county_roles_reach_their_own_county_only() {
        let clerk = staff(Role::CountyStaff, Some("06037"));
        assert!(clerk.may_work_records_of("06037"));
        assert!(!clerk.may_work_records_of("06075"));
        let admin = staff(Role::CountyAdmin, Some("06075"));
        assert!(!admin.may_work_records_of("06037"));
        assert!(staff(Role::StateAdmin, None).may_work_records_of("06037"));
    }

    #[test]
    fn auditors_and_unenrolled_accounts_read_no_records() {
        assert_eq!(
            staff(Role::Auditor, Some("06037")).records_scope(),
            Err(AppError::Forbidden)
        );
        let mut clerk = staff(Role::CountyStaff, Some("06037"));
        clerk.must_enrol_totp = true;
        assert!(!clerk.may_work_records_of("06037"));
    }
}
