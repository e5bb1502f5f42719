//! Postal facts a scan file needs: the facility's time zone (scan times are the facility's
//! local time) and the delivery date a scan lets us expect.

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;

/// The time zone of a ZIP code, by its first three digits (the sectional center). Exact for
/// California and its neighbours, where nearly every ballot's scans happen; by state
/// elsewhere, with the larger splits (Florida's panhandle, Tennessee, Kentucky, Indiana, the
/// Dakotas, Nebraska, Kansas, West Texas, Idaho) placed by prefix.
pub fn zone(zip: &str) -> Tz {
    use chrono_tz::America::*;
    use chrono_tz::Pacific::{Guam, Honolulu};
    let Some(prefix) = zip.get(0..3).and_then(|p| p.parse::<u16>().ok()) else {
        return Los_Angeles;
    };
    match prefix {
        0..=299 => New_York,
        300..=319 | 398..=399 => New_York,
        320..=323 | 326..=349 => New_York,
        324..=325 => Chicago,
        350..=369 => Chicago,
        370..=372 | 380..=385 => Chicago,
        373..=379 => New_York,
        386..=397 => Chicago,
        400..=419 => New_York,
        420..=427 => Chicago,
        430..=459 => New_York,
        463..=464 | 476..=477 => Chicago,
        460..=499 => New_York,
        500..=576 => Chicago,
        577 => Denver,
        578..=588 => Chicago,
        590..=599 => Denver,
        600..=689 => Chicago,
        690..=693 => Denver,
        694..=797 => Chicago,
        798..=799 | 885 => Denver,
        800..=831 => Denver,
        835 | 838 => Los_Angeles,
        832..=847 => Denver,
        850..=865 => Phoenix,
        870..=884 => Denver,
        889..=961 => Los_Angeles,
        962..=966 => Los_Angeles,
        967..=968 => Honolulu,
        969 => Guam,
        970..=994 => Los_Angeles,
        995..=999 => Anchorage,
        _ => Los_Angeles,
    }
}

/// When a ballot scanned on `scan_day` at `facility_zip` should reach a voter at `voter_zip`:
/// the next day from the voter's own sectional center, two days from anywhere else
/// (First-Class Mail within a state; the status page says "expected", never "promised").
pub fn expected_delivery(scan_day: NaiveDate, facility_zip: &str, voter_zip: &str) -> NaiveDate {
    let local = facility_zip.get(0..3).is_some() && facility_zip.get(0..3) == voter_zip.get(0..3);
    let days = if local { 1 } else { 2 };
    let mut day = scan_day + Duration::days(days);
    // No delivery on Sundays.
    if chrono::Datelike::weekday(&day) == chrono::Weekday::Sun {
        day += Duration::days(1);
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_of_facilities() {
        assert_eq!(zone("94203"), chrono_tz::America::Los_Angeles);
        assert_eq!(zone("90052"), chrono_tz::America::Los_Angeles);
        assert_eq!(zone("85026"), chrono_tz::America::Phoenix);
        assert_eq!(zone("89199"), chrono_tz::America::Los_Angeles);
        assert_eq!(zone("80266"), chrono_tz::America::Denver);
        assert_eq!(zone("60607"), chrono_tz::America::Chicago);
        assert_eq!(zone("10001"), chrono_tz::America::New_York);
        assert_eq!(zone("96813"), chrono_tz::Pacific::Honolulu);
    }

    #[test]
    fn expected_days() {
        let wed = NaiveDate::from_ymd_opt(2026, 10, 7).unwrap();
        assert_eq!(
            expected_delivery(wed, "94203", "94205"),
            NaiveDate::from_ymd_opt(2026, 10, 8).unwrap()
        );
        assert_eq!(
            expected_delivery(wed, "90052", "94205"),
            NaiveDate::from_ymd_opt(2026, 10, 9).unwrap()
        );
        let fri = NaiveDate::from_ymd_opt(2026, 10, 9).unwrap();
        assert_eq!(
            expected_delivery(fri, "90052", "94205"),
            NaiveDate::from_ymd_opt(2026, 10, 12).unwrap()
        );
    }
}
