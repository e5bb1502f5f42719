//! What a voter types to find their ballot, parsed once (here, for browser and server alike).
//! California's sign-up asks first name, last name, date of birth and residential ZIP; a county
//! voter id with the date of birth is the alternative.

use crate::domain::{NormalizedName, Zip5};
use crate::error::{FieldError, Problem};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The form's raw fields, as posted.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LookupFields {
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: String,
    pub zip: String,
    pub voter_id: String,
}

/// A parsed look-up. Holds a voter's identity: `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub enum Identity {
    ByName {
        first: NormalizedName,
        last: NormalizedName,
        date_of_birth: NaiveDate,
        zip: Zip5,
    },
    ByVoterId {
        voter_id: String,
        date_of_birth: NaiveDate,
    },
}

impl fmt::Debug for LookupFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LookupFields(..)")
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::ByName { .. } => f.write_str("Identity::ByName(..)"),
            Identity::ByVoterId { .. } => f.write_str("Identity::ByVoterId(..)"),
        }
    }
}

const EARLIEST_BIRTH: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

fn parse_date(raw: &str, today: NaiveDate) -> Result<NaiveDate, Problem> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Problem::DobMissing);
    }
    // <input type="date"> posts YYYY-MM-DD; people typing by hand write MM/DD/YYYY.
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%m/%d/%Y"))
        .map_err(|_| Problem::DobFormat)?;
    if date < EARLIEST_BIRTH || date > today {
        return Err(Problem::DobRange);
    }
    Ok(date)
}

impl Identity {
    /// The identity as one string, for the per-identity rate limit (which stores only a salted
    /// hash of it).
    pub fn rate_limit_subject(&self) -> String {
        match self {
            Identity::ByName {
                first,
                last,
                date_of_birth,
                zip,
            } => {
                format!(
                    "n|{}|{}|{date_of_birth}|{}",
                    first.as_str(),
                    last.as_str(),
                    zip.as_str()
                )
            }
            Identity::ByVoterId {
                voter_id,
                date_of_birth,
            } => format!("i|{voter_id}|{date_of_birth}"),
        }
    }
}

impl LookupFields {
    /// Parses the form. A voter id, when given, is used with the date of birth; otherwise all
    /// four name fields are needed. Errors name their field.
    pub fn parse(&self, today: NaiveDate) -> Result<Identity, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field: &str, problem: Problem| {
            errors.push(FieldError {
                field: field.to_owned(),
                problem,
            })
        };
        let dob = parse_date(&self.date_of_birth, today)
            .map_err(|m| err("date_of_birth", m))
            .ok();
        let voter_id: String = self
            .voter_id
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        if !voter_id.is_empty() {
            if voter_id.len() > 32
                || !voter_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                err("voter_id", Problem::VoterId);
            }
            return match (dob, errors.is_empty()) {
                (Some(date_of_birth), true) => Ok(Identity::ByVoterId {
                    voter_id,
                    date_of_birth,
                }),
                _ => Err(errors),
            };
        }
        let first = NormalizedName::parse(&self.first_name)
            .map_err(|_| err("first_name", Problem::FirstName))
            .ok();
        let last = NormalizedName::parse(&self.last_name)
            .map_err(|_| err("last_name", Problem::LastName))
            .ok();
        let zip = Zip5::parse(&self.zip)
            .map_err(|_| err("zip", Problem::Zip))
            .ok();
        match (first, last, dob, zip) {
            (Some(first), Some(last), Some(date_of_birth), Some(zip)) if errors.is_empty() => {
                Ok(Identity::ByName {
                    first,
                    last,
                    date_of_birth,
                    zip,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn fields(first: &str, last: &str, dob: &str, zip: &str, id: &str) -> LookupFields {
        LookupFields {
            first_name: first.into(),
            last_name: last.into(),
            date_of_birth: dob.into(),
            zip: zip.into(),
            voter_id: id.into(),
        }
    }

    fn error_fields(f: LookupFields) -> Vec<String> {
        f.parse(today())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_full_name_look_up_parses() {
        let id = fields(" José ", "O'Brien", "1979-06-11", "90033-1234", "")
            .parse(today())
            .unwrap();
        let Identity::ByName {
            first, last, zip, ..
        } = id
        else {
            panic!()
        };
        assert_eq!(
            (first.as_str(), last.as_str(), zip.as_str()),
            ("jose", "obrien", "90033")
        );
        assert!(
            fields("a", "b", "06/11/1979", "90033", "")
                .parse(today())
                .is_ok()
        );
    }

    #[test]
    fn a_voter_id_look_up_needs_only_the_birth_date() {
        let id = fields("", "", "1979-06-11", "", " la-0012 ")
            .parse(today())
            .unwrap();
        assert_eq!(
            id,
            Identity::ByVoterId {
                voter_id: "LA-0012".into(),
                date_of_birth: NaiveDate::from_ymd_opt(1979, 6, 11).unwrap()
            }
        );
    }

    #[test]
    fn bad_inputs_name_their_fields() {
        let table: &[(LookupFields, &[&str])] = &[
            (
                fields("", "", "", "", ""),
                &["date_of_birth", "first_name", "last_name", "zip"],
            ),
            (
                fields("Ana", "Cruz", "1990-02-30", "90012", ""),
                &["date_of_birth"],
            ),
            (
                fields("Ana", "Cruz", "2030-01-01", "90012", ""),
                &["date_of_birth"],
            ),
            (
                fields("Ana", "Cruz", "1850-01-01", "90012", ""),
                &["date_of_birth"],
            ),
            (
                fields("Ana", "-", "1990-01-01", "9001", ""),
                &["last_name", "zip"],
            ),
            (fields("", "", "1990-01-01", "", "12;drop"), &["voter_id"]),
            (fields("", "", "", "", "LA1"), &["date_of_birth"]),
        ];
        for (f, expected) in table {
            assert_eq!(error_fields(f.clone()), *expected, "{:?}", f.first_name);
        }
    }

    #[test]
    fn debug_prints_no_identity() {
        let f = fields("Ana", "Cruz", "1990-01-01", "90012", "");
        assert_eq!(format!("{f:?}"), "LookupFields(..)");
        assert_eq!(
            format!("{:?}", f.parse(today()).unwrap()),
            "Identity::ByName(..)"
        );
    }
}
