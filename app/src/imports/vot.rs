//! VOT rows: the county's voter master. A voter is matched by the county's voter id; a new one
//! is added, a changed one updated, an unchanged one left alone. Voters missing from the file
//! stay: a voter master is not a list of removals.

use super::FeedKind;
use super::csvfeed::{Rejection, Row};
use super::run::{Ctx, parse_date};
use crate::domain::{Language, NormalizedName, Zip5};
use chrono::NaiveDate;

const VOT: FeedKind = FeedKind::Vot;

#[derive(Default)]
struct Columns {
    ids: Vec<String>,
    first: Vec<String>,
    middle: Vec<Option<String>>,
    last: Vec<String>,
    suffix: Vec<Option<String>>,
    first_norm: Vec<String>,
    last_norm: Vec<String>,
    dob: Vec<NaiveDate>,
    zip: Vec<String>,
    precinct: Vec<Option<String>>,
    language: Vec<String>,
    confidential: Vec<bool>,
    email: Vec<Option<String>>,
    phone: Vec<Option<String>>,
}

fn optional(raw: &str) -> Option<String> {
    (!raw.is_empty()).then(|| raw.to_owned())
}

/// A phone number as E.164: `+` and digits already, or a US number of ten digits (with or
/// without the leading 1, in any punctuation).
fn phone(raw: &str) -> Option<String> {
    if let Some(rest) = raw.strip_prefix('+') {
        let digits: String = rest
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        return (digits.len() >= 7
            && digits.len() <= 15
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0'))
        .then(|| format!("+{digits}"));
    }
    if raw
        .chars()
        .any(|c| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.')))
    {
        return None;
    }
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.len() {
        10 => digits.as_str(),
        11 if digits.starts_with('1') => &digits[1..],
        _ => return None,
    };
    // North American numbers: area code and exchange begin 2–9.
    let ok = national.as_bytes()[0] >= b'2' && national.as_bytes()[3] >= b'2';
    ok.then(|| format!("+1{national}"))
}

fn flag(raw: &str) -> Option<bool> {
    match raw.to_ascii_uppercase().as_str() {
        "" | "N" | "NO" | "FALSE" | "0" => Some(false),
        "Y" | "YES" | "TRUE" | "1" => Some(true),
        _ => None,
    }
}

fn parse(ctx: &mut Ctx<'_>, row: &Row, out: &mut Columns) {
    let f = |c: &str| row.get(VOT, c).to_owned();
    let n = row.number;
    if !ctx.check_county(row, &f("county_fips")) {
        return;
    }
    let id = f("voter_id");
    if !super::elg::valid_id(&id, 32) {
        ctx.reject(Rejection::field(
            n,
            "voter_id",
            &id,
            "a voter id is 1 to 32 letters, digits or hyphens",
        ));
        return;
    }
    let mut names = Vec::new();
    for field in ["first_name", "last_name"] {
        let raw = f(field);
        if raw.chars().count() > 100 {
            ctx.reject(Rejection::field(
                n,
                field,
                &raw,
                "longer than 100 characters",
            ));
            return;
        }
        match NormalizedName::parse(&raw) {
            Ok(norm) => names.push((raw, norm.into_inner())),
            Err(_) => {
                ctx.reject(Rejection::field(
                    n,
                    field,
                    &raw,
                    "a name needs at least one letter",
                ));
                return;
            }
        }
    }
    let (middle, suffix) = (f("middle_name"), f("suffix"));
    if middle.chars().count() > 100 || suffix.chars().count() > 20 {
        ctx.reject(Rejection::row(
            n,
            "the middle name (100) or suffix (20) is too long",
        ));
        return;
    }
    let dob_raw = f("date_of_birth");
    let Some(dob) = parse_date(&dob_raw).filter(|d| {
        *d >= NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN)
            && *d <= ctx.now.date_naive()
    }) else {
        ctx.reject(Rejection::field(
            n,
            "date_of_birth",
            &dob_raw,
            "not a date of birth (YYYY-MM-DD, from 1900 to today)",
        ));
        return;
    };
    let zip_raw = f("residential_zip");
    let Ok(zip) = Zip5::parse(&zip_raw) else {
        ctx.reject(Rejection::field(
            n,
            "residential_zip",
            &zip_raw,
            "a ZIP code is five digits",
        ));
        return;
    };
    let precinct = f("precinct");
    if precinct.chars().count() > 40 {
        ctx.reject(Rejection::field(
            n,
            "precinct",
            &precinct,
            "longer than 40 characters",
        ));
        return;
    }
    let language_raw = f("language");
    let language = if language_raw.is_empty() {
        Language::En
    } else {
        match Language::parse(&language_raw) {
            Ok(l) => l,
            Err(_) => {
                ctx.reject(Rejection::field(
                    n,
                    "language",
                    &language_raw,
                    "not one of the languages served: en, es, zh, hi, ja, km, ko, tl, th, vi",
                ));
                return;
            }
        }
    };
    let confidential_raw = f("confidential");
    let Some(confidential) = flag(&confidential_raw) else {
        ctx.reject(Rejection::field(
            n,
            "confidential",
            &confidential_raw,
            "use Y or N",
        ));
        return;
    };
    let email = f("email");
    let email_ok = email.is_empty()
        || (email.len() <= 320
            && email.split_once('@').is_some_and(|(a, b)| {
                !a.is_empty() && b.contains('.') && !email.chars().any(char::is_whitespace)
            }));
    if !email_ok {
        ctx.reject(Rejection::field(n, "email", &email, "not an email address"));
        return;
    }
    let phone_raw = f("phone");
    let phone = if phone_raw.is_empty() {
        None
    } else {
        match phone(&phone_raw) {
            Some(p) => Some(p),
            None => {
                ctx.reject(Rejection::field(
                    n,
                    "phone",
                    &phone_raw,
                    "not a phone number (+1 and ten digits, or E.164)",
                ));
                return;
            }
        }
    };
    if ctx.repeated(row, &[&id]) {
        return;
    }
    let [(first, first_norm), (last, last_norm)]: [(String, String); 2] = match names.try_into() {
        Ok(pair) => pair,
        Err(_) => return,
    };
    out.ids.push(id);
    out.first.push(first);
    out.first_norm.push(first_norm);
    out.middle.push(optional(&middle));
    out.last.push(last);
    out.last_norm.push(last_norm);
    out.suffix.push(optional(&suffix));
    out.dob.push(dob);
    out.zip.push(zip.as_str().to_owned());
    out.precinct.push(optional(&precinct));
    out.language.push(language.code().to_owned());
    out.confidential.push(confidential);
    out.email.push(optional(&email));
    out.phone.push(phone);
}

pub(super) async fn process(ctx: &mut Ctx<'_>, rows: Vec<Row>) -> Result<(), sqlx::Error> {
    let mut c = Columns::default();
    for row in &rows {
        parse(ctx, row, &mut c);
    }
    if c.ids.is_empty() {
        return Ok(());
    }
    let rows = sqlx::query!(
        r#"insert into voters
             (county_fips, county_voter_id, first_name, middle_name, last_name, suffix,
              first_name_norm, last_name_norm, date_of_birth, residential_zip, precinct,
              language, confidential, email, phone)
           select $1, u.* from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                      $7::text[], $8::text[], $9::date[], $10::text[], $11::text[],
                                      $12::text[], $13::bool[], $14::text[], $15::text[]) as u
           on conflict (county_fips, county_voter_id) do update set
             first_name = excluded.first_name, middle_name = excluded.middle_name,
             last_name = excluded.last_name, suffix = excluded.suffix,
             first_name_norm = excluded.first_name_norm, last_name_norm = excluded.last_name_norm,
             date_of_birth = excluded.date_of_birth, residential_zip = excluded.residential_zip,
             precinct = excluded.precinct, language = excluded.language,
             confidential = excluded.confidential, email = excluded.email, phone = excluded.phone,
             updated_at = now()
           where (voters.first_name, voters.middle_name, voters.last_name, voters.suffix,
                  voters.date_of_birth, voters.residential_zip, voters.precinct, voters.language,
                  voters.confidential, voters.email, voters.phone)
                 is distinct from
                 (excluded.first_name, excluded.middle_name, excluded.last_name, excluded.suffix,
                  excluded.date_of_birth, excluded.residential_zip, excluded.precinct,
                  excluded.language, excluded.confidential, excluded.email, excluded.phone)
           returning (xmax = 0) as "inserted!""#,
        ctx.county,
        &c.ids,
        &c.first,
        &c.middle as &[Option<String>],
        &c.last,
        &c.suffix as &[Option<String>],
        &c.first_norm,
        &c.last_norm,
        &c.dob,
        &c.zip,
        &c.precinct as &[Option<String>],
        &c.language,
        &c.confidential,
        &c.email as &[Option<String>],
        &c.phone as &[Option<String>],
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let added = rows.iter().filter(|r| r.inserted).count() as u64;
    let updated = rows.len() as u64 - added;
    ctx.summary.voters_added += added;
    ctx.summary.voters_updated += updated;
    ctx.summary.unchanged += c.ids.len() as u64 - added - updated;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_flags() {
        assert_eq!(phone("(916) 555-0134").as_deref(), Some("+19165550134"));
        assert_eq!(phone("1-916-555-0134").as_deref(), Some("+19165550134"));
        assert_eq!(phone("+52 55 1234 5678").as_deref(), Some("+525512345678"));
        assert_eq!(phone("555-0134"), None);
        assert_eq!(phone("916555013x"), None);
        assert_eq!(phone("(016) 555-0134"), None);
        assert_eq!(flag("y"), Some(true));
        assert_eq!(flag(""), Some(false));
        assert_eq!(flag("maybe"), None);
    }
}
