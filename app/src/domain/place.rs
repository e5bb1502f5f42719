//! Places: county FIPS codes and ZIP codes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A county's five-digit FIPS code (state `06` + county), e.g. `06037` for Los Angeles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountyFips([u8; 5]);

/// A five-digit residential ZIP code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zip5([u8; 5]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("a county code is five digits")]
    CountyFips,
    #[error("a ZIP code is five digits")]
    Zip,
}

fn five_digits(s: &str) -> Option<[u8; 5]> {
    let bytes: [u8; 5] = s.trim().as_bytes().try_into().ok()?;
    bytes.iter().all(u8::is_ascii_digit).then_some(bytes)
}

impl CountyFips {
    pub fn parse(s: &str) -> Result<Self, PlaceError> {
        five_digits(s).map(Self).ok_or(PlaceError::CountyFips)
    }
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("00000")
    }
}

impl Zip5 {
    pub fn parse(s: &str) -> Result<Self, PlaceError> {
        // Accept ZIP+4 as typed on envelopes; keep the five digits that identify the area.
        let s = s.trim();
        let five = match s.split_once('-') {
            None => s,
            Some((five, four)) if four.len() == 4 && four.bytes().all(|b| b.is_ascii_digit()) => {
                five
            }
            Some(_) => return Err(PlaceError::Zip),
        };
        five_digits(five).map(Self).ok_or(PlaceError::Zip)
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("00000")
    }
}

impl fmt::Display for CountyFips {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ZIP code is part of what identifies a voter: it never prints through `Debug`.
impl fmt::Debug for Zip5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Zip5(..)")
    }
}

impl TryFrom<String> for CountyFips {
    type Error = PlaceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<CountyFips> for String {
    fn from(c: CountyFips) -> String {
        c.as_str().to_owned()
    }
}
impl TryFrom<String> for Zip5 {
    type Error = PlaceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<Zip5> for String {
    fn from(z: Zip5) -> String {
        z.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_inputs_are_refused() {
        for bad in ["", "0603", "060377", "06O37", "６０３７", " 06 37", "-1234"] {
            assert_eq!(
                CountyFips::parse(bad),
                Err(PlaceError::CountyFips),
                "{bad:?}"
            );
        }
        for bad in ["", "9001", "900123", "9OO12", "90012-", "abcde-1234"] {
            assert!(Zip5::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn zip_plus_four_keeps_five() {
        assert_eq!(
            Zip5::parse("90012-1234").map(|z| z.as_str().to_owned()),
            Ok("90012".into())
        );
        assert_eq!(format!("{:?}", Zip5::parse("90012").ok()), "Some(Zip5(..))");
    }

    proptest! {
        #[test]
        fn any_five_digits_round_trip(s in "[0-9]{5}") {
            prop_assert_eq!(CountyFips::parse(&s).map(|c| c.to_string()), Ok(s.clone()));
            prop_assert_eq!(Zip5::parse(&s).map(|z| z.as_str().to_owned()), Ok(s));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,12}") {
            let _ = CountyFips::parse(&s);
            let _ = Zip5::parse(&s);
        }
    }
}
