//! The portal's SQL: accounts for sign-in, the signed-in account, record search and a ballot's
//! whole record. Every read of county data takes the caller's [`Scope`] and filters by it.

use super::ballot::{
    BallotRecord, EventRecord, NotificationRecord, SubscriptionRecord, VoterRecord, mask,
};
use super::records::{Needle, PAGE_SIZE, RecordRow, SearchResults};
use super::roles::Scope;
use super::{Role, Staff};
use crate::domain::{BallotStatus, Language, NormalizedName, NotCountedReason, transition};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::{PgConnection, PgExecutor, PgPool};

/// A transaction that works for `scope`: row-level security then shows and lets it write only
/// that county's rows (`app.county`, read by the policies of migration ..._row_level_security).
pub async fn scoped(
    pool: &PgPool,
    scope: &Scope,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query_scalar!(
        "select set_config('app.county', $1, true)",
        scope.county().unwrap_or("*")
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(tx)
}

/// A voter's name as staff read it: first, middle, last, suffix.
fn full_name(
    first: String,
    middle: Option<String>,
    last: String,
    suffix: Option<String>,
) -> String {
    [Some(first), middle, Some(last), suffix]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode<T, E: std::error::Error + Send + Sync + 'static>(
    r: Result<T, E>,
) -> Result<T, sqlx::Error> {
    r.map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// What sign-in needs to know of an account.
pub struct SignInAccount {
    pub id: i64,
    /// `None` until an invited account sets its password.
    pub password_hash: Option<String>,
    pub disabled: bool,
    /// Set when two-factor sign-in is on.
    pub totp_secret: Option<Vec<u8>>,
    pub session_epoch: i32,
    pub county_fips: Option<String>,
}

#[tracing::instrument(skip_all, err)]
pub async fn account_for_sign_in(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<SignInAccount>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select id, password_hash, disabled_at is not null as "disabled!",
                  case when totp_enabled_at is not null then totp_secret end as totp_secret,
                  session_epoch, county_fips
           from admin_users where lower(email) = lower($1)"#,
        email
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| SignInAccount {
        id: r.id,
        password_hash: r.password_hash,
        disabled: r.disabled,
        totp_secret: r.totp_secret,
        session_epoch: r.session_epoch,
        county_fips: r.county_fips,
    }))
}

/// The account behind a session: `None` when it is disabled or its sessions were ended since
/// (the epoch moved on).
#[tracing::instrument(skip_all, err)]
pub async fn staff_for_session(
    db: impl PgExecutor<'_>,
    user_id: i64,
    epoch: i32,
) -> Result<Option<Staff>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select u.id, u.display_name, u.email, u.role, u.county_fips, c.name as "county_name?",
                  u.totp_enabled_at is not null as "totp_enabled!",
                  coalesce(c.require_2fa, false) and u.totp_enabled_at is null as "must_enrol!"
           from admin_users u left join counties c on c.fips = u.county_fips
           where u.id = $1 and u.session_epoch = $2 and u.disabled_at is null"#,
        user_id,
        epoch
    )
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(Staff {
            id: r.id,
            name: r.display_name,
            email: r.email,
            role: decode(Role::parse(&r.role))?,
            county_fips: r.county_fips,
            county_name: r.county_name,
            totp_enabled: r.totp_enabled,
            must_enrol_totp: r.must_enrol,
        })
    })
    .transpose()
}

pub async fn record_sign_in(tx: &mut PgConnection, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update admin_users set last_sign_in_at = now() where id = $1",
        user_id
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Ends every session of the account: sessions carry the epoch they began in.
pub async fn end_all_sessions(tx: &mut PgConnection, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update admin_users set session_epoch = session_epoch + 1, updated_at = now()
         where id = $1",
        user_id
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Accepts a two-factor code's time step once: only a step later than the last accepted one
/// passes, atomically, so a code cannot be replayed on this or any other instance.
pub async fn accept_totp_step(
    db: impl PgExecutor<'_>,
    user_id: i64,
    step: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "update admin_users set totp_last_step = $2
         where id = $1 and (totp_last_step is null or totp_last_step < $2)",
        user_id,
        step
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Uses up a recovery code, if it is one of the account's unused ones.
pub async fn use_recovery_code(
    db: impl PgExecutor<'_>,
    user_id: i64,
    code: &str,
) -> Result<bool, sqlx::Error> {
    let code = normalise_recovery_code(code);
    let done = sqlx::query!(
        "update admin_recovery_codes set used_at = now()
         where user_id = $1 and used_at is null
           and code_hash = encode(sha256(convert_to($2, 'UTF8')), 'hex')",
        user_id,
        code
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Ten recovery codes of ten characters each ("k7m2p-9xq4t"), from an alphabet without
/// look-alikes.
pub fn new_recovery_codes() -> Vec<String> {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| {
            let chars: String = (0..10)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// Turns two-factor sign-in on, with the step of the code that confirmed it already used, and
/// replaces the account's recovery codes.
pub async fn enable_totp(
    tx: &mut PgConnection,
    user_id: i64,
    secret: &[u8],
    used_step: i64,
    recovery_codes: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update admin_users
         set totp_secret = $2, totp_enabled_at = now(), totp_last_step = $3, updated_at = now()
         where id = $1",
        user_id,
        secret,
        used_step
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "delete from admin_recovery_codes where user_id = $1",
        user_id
    )
    .execute(&mut *tx)
    .await?;
    let normalised: Vec<String> = recovery_codes
        .iter()
        .map(|c| normalise_recovery_code(c))
        .collect();
    sqlx::query!(
        "insert into admin_recovery_codes (user_id, code_hash)
         select $1, encode(sha256(convert_to(c, 'UTF8')), 'hex') from unnest($2::text[]) as c",
        user_id,
        &normalised
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// When few of the scope's ballots have `status` (at most `FEW`), the voters they belong to:
/// a status filter for a rare status starts from those ballots (the status index) instead of
/// walking every voter in name order to test each one's latest ballot. `None` when many do:
/// then the walk finds a page quickly.
async fn voters_with_few_ballots_in(
    db: &mut PgConnection,
    scope: &Scope,
    status: BallotStatus,
) -> Result<Option<Vec<i64>>, sqlx::Error> {
    const FEW: i64 = 2_000;
    // Counted from the status index alone first: most statuses are not rare, and reading
    // their ballots' voter ids would cost a heap fetch each.
    let counties = match scope.county() {
        Some(fips) => vec![fips.to_owned()],
        None => {
            sqlx::query_scalar!("select fips from counties")
                .fetch_all(&mut *db)
                .await?
        }
    };
    let many = sqlx::query_scalar!(
        r#"select count(*) as "n!" from (
               select 1 from ballots
               -- Every election named, so that the status index is read for each (county,
               -- election, status) rather than through the county's whole range.
               where county_fips = any($1) and election_id = any(array(select id from elections))
                 and status = $2
               limit $3) s"#,
        &counties,
        status.code(),
        FEW + 1
    )
    .fetch_one(&mut *db)
    .await?
        > FEW;
    if many {
        return Ok(None);
    }
    let mut ids = sqlx::query_scalar!(
        "select voter_id from ballots
         where county_fips = any($1) and election_id = any(array(select id from elections))
           and status = $2",
        &counties,
        status.code()
    )
    .fetch_all(db)
    .await?;
    ids.sort_unstable();
    ids.dedup();
    Ok(Some(ids))
}

/// The voters a search box's words may mean: by normalised name (either order), county voter
/// id, or ballot number. At most a few thousand; the caller's page limits what is shown.
async fn matching_voters(
    db: &mut PgConnection,
    scope: &Scope,
    needle: &Needle,
) -> Result<Option<Vec<i64>>, sqlx::Error> {
    let county = scope.county();
    let ids = match needle {
        Needle::Everything => return Ok(None),
        Needle::Barcode(code) => {
            sqlx::query_scalar!(
                "select voter_id from ballots
                 where (outbound_tracking = $1 or inbound_tracking = $1)
                   and ($2::text is null or county_fips = $2)",
                code,
                county
            )
            .fetch_all(&mut *db)
            .await?
        }
        Needle::Words(words) => {
            let norm = |w: &str| NormalizedName::parse(w).ok().map(|n| n.into_inner());
            let whole = norm(&words.concat());
            let (first, rest) = match words.split_first() {
                Some((first, rest)) if !rest.is_empty() => (norm(first), norm(&rest.concat())),
                _ => (None, None),
            };
            let token = (words.len() == 1).then(|| words[0].clone());
            sqlx::query_scalar!(
                r#"select id as "id!" from voters
                   where last_name_norm = $1 and ($5::text is null or county_fips = $5)
                   union
                   select id from voters
                   where ((first_name_norm = $2 and last_name_norm = $3)
                       or (last_name_norm = $2 and first_name_norm = $3))
                     and ($5::text is null or county_fips = $5)
                   union
                   select id from voters
                   where county_voter_id in ($4, upper($4)) and ($5::text is null or county_fips = $5)
                   union
                   select voter_id from ballots
                   where ballot_number in ($4, upper($4)) and ($5::text is null or county_fips = $5)
                   limit 5000"#,
                whole,
                first,
                rest,
                token,
                county
            )
            .fetch_all(&mut *db)
            .await?
        }
    };
    Ok(Some(ids))
}

/// A search result row as the database gives it.
struct SearchRow {
    id: i64,
    county_name: String,
    county_voter_id: String,
    first_name: String,
    middle_name: Option<String>,
    last_name: String,
    suffix: Option<String>,
    date_of_birth: chrono::NaiveDate,
    precinct: Option<String>,
    confidential: bool,
    ballot_id: Option<i64>,
    ballot_number: Option<String>,
    status: Option<String>,
}

#[tracing::instrument(skip_all, fields(page), err)]
pub async fn search(
    db: &mut PgConnection,
    scope: &Scope,
    needle: &Needle,
    status: Option<BallotStatus>,
    precinct: Option<&str>,
    page: i64,
) -> Result<SearchResults, sqlx::Error> {
    // The filters are optional (`$n is null or …`): a plan made for the values at hand can use
    // the county's indexes, a generic one cannot, so this transaction plans each time.
    sqlx::query!("set local plan_cache_mode = force_custom_plan")
        .execute(&mut *db)
        .await?;
    let ids = match (matching_voters(&mut *db, scope, needle).await?, status) {
        (None, Some(status)) => voters_with_few_ballots_in(&mut *db, scope, status).await?,
        (ids, _) => ids,
    };
    // The page's ids are found first, from indexes alone where the filters allow (a county's
    // voters in name order, each voter's ballots), and only the page's voters are read whole.
    // The page is cut before each voter's latest ballot is joined: a common surname matches
    // thousands of voters, and only a page's worth need their ballot. A status filter asks for
    // the latest ballot's status in the page's own condition (evaluated only when given).
    // Matched voters are read from their ids (an `= any($ids)` filter would let the planner walk
    // the whole name index in order, testing each voter against the list).
    let rows: Vec<SearchRow> = match ids {
        Some(ids) => {
            sqlx::query_as!(
                SearchRow,
                r#"select v.id, c.name as county_name, v.county_voter_id, v.first_name,
                          v.middle_name, v.last_name, v.suffix, v.date_of_birth, v.precinct,
                          v.confidential, b.id as "ballot_id?",
                          b.ballot_number as "ballot_number?", b.status as "status?"
                   from (
                       select v.id from unnest($2::bigint[]) as m(id)
                       join voters v on v.id = m.id
                       where ($1::text is null or v.county_fips = $1)
                         and ($4::text is null or v.precinct = $4)
                         and ($3::text is null or (
                             select b.status from ballots b
                             join elections e on e.id = b.election_id
                             where b.voter_id = v.id
                             order by e.election_day desc, (b.status = 'replaced'), b.id desc
                             limit 1) = $3)
                       order by v.last_name_norm, v.first_name_norm, v.id
                       limit $5 offset $6
                   ) page
                   join voters v on v.id = page.id
                   join counties c on c.fips = v.county_fips
                   left join lateral (
                       select b.id, b.ballot_number, b.status from ballots b
                       join elections e on e.id = b.election_id
                       where b.voter_id = v.id
                       order by e.election_day desc, (b.status = 'replaced'), b.id desc
                       limit 1) b on true
                   order by v.last_name_norm, v.first_name_norm, v.id"#,
                scope.county(),
                &ids,
                status.map(|s| s.code()),
                precinct,
                PAGE_SIZE + 1,
                page * PAGE_SIZE,
            )
            .fetch_all(&mut *db)
            .await?
        }
        None => {
            sqlx::query_as!(
                SearchRow,
                r#"select v.id, c.name as county_name, v.county_voter_id, v.first_name,
                          v.middle_name, v.last_name, v.suffix, v.date_of_birth, v.precinct,
                          v.confidential, b.id as "ballot_id?",
                          b.ballot_number as "ballot_number?", b.status as "status?"
                   from (
                       select v.id from voters v
                       where ($1::text is null or v.county_fips = $1)
                         and ($3::text is null or v.precinct = $3)
                         and ($2::text is null or (
                             select b.status from ballots b
                             join elections e on e.id = b.election_id
                             where b.voter_id = v.id
                             order by e.election_day desc, (b.status = 'replaced'), b.id desc
                             limit 1) = $2)
                       order by v.last_name_norm, v.first_name_norm, v.id
                       limit $4 offset $5
                   ) page
                   join voters v on v.id = page.id
                   join counties c on c.fips = v.county_fips
                   left join lateral (
                       select b.id, b.ballot_number, b.status from ballots b
                       join elections e on e.id = b.election_id
                       where b.voter_id = v.id
                       order by e.election_day desc, (b.status = 'replaced'), b.id desc
                       limit 1) b on true
                   order by v.last_name_norm, v.first_name_norm, v.id"#,
                scope.county(),
                status.map(|s| s.code()),
                precinct,
                PAGE_SIZE + 1,
                page * PAGE_SIZE,
            )
            .fetch_all(&mut *db)
            .await?
        }
    };
    let has_more = rows.len() as i64 > PAGE_SIZE;
    let rows = rows
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(|r| {
            let name = full_name(r.first_name, r.middle_name, r.last_name, r.suffix);
            Ok(RecordRow {
                voter_id: r.id,
                county_name: r.county_name,
                county_voter_id: r.county_voter_id,
                name,
                date_of_birth: r.date_of_birth,
                precinct: r.precinct,
                confidential: r.confidential,
                ballot_id: r.ballot_id,
                ballot_number: r.ballot_number,
                status: r
                    .status
                    .as_deref()
                    .map(BallotStatus::parse)
                    .transpose()
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(SearchResults {
        rows,
        page,
        has_more,
    })
}

/// Whether the ballot exists within the scope (locks nothing; the spine locks the ballot).
pub async fn ballot_in_scope(
    db: impl PgExecutor<'_>,
    scope: &Scope,
    ballot_id: i64,
) -> Result<bool, sqlx::Error> {
    let found = sqlx::query_scalar!(
        r#"select exists(select 1 from ballots
                         where id = $1 and ($2::text is null or county_fips = $2)) as "found!""#,
        ballot_id,
        scope.county()
    )
    .fetch_one(db)
    .await?;
    Ok(found)
}

fn reason(code: Option<&str>) -> Result<Option<NotCountedReason>, sqlx::Error> {
    decode(code.map(NotCountedReason::parse).transpose())
}

/// A ballot's whole record, or `None` when it does not exist within the scope. Contact details
/// are masked unless `reveal`.
#[tracing::instrument(skip_all, err)]
pub async fn ballot_record(
    db: &mut PgConnection,
    scope: &Scope,
    ballot_id: i64,
    reveal: bool,
) -> Result<Option<BallotRecord>, sqlx::Error> {
    let Some(b) = sqlx::query!(
        r#"select b.id, b.county_fips, c.name as county_name, c.time_zone, e.name as election_name,
                  b.ballot_number, b.outbound_imb, b.inbound_imb, b.status, b.status_reason,
                  b.status_at, b.expected_delivery, b.replaces_ballot_id,
                  (select r.id from ballots r where r.replaces_ballot_id = b.id) as replaced_by,
                  v.id as voter_id, v.county_voter_id, v.first_name, v.middle_name, v.last_name,
                  v.suffix, v.date_of_birth, v.residential_zip, v.precinct, v.language,
                  v.confidential, v.email, v.phone
           from ballots b
           join counties c on c.fips = b.county_fips
           join elections e on e.id = b.election_id
           join voters v on v.id = b.voter_id
           where b.id = $1 and ($2::text is null or b.county_fips = $2)"#,
        ballot_id,
        scope.county()
    )
    .fetch_optional(&mut *db)
    .await?
    else {
        return Ok(None);
    };
    let tz: Tz = b
        .time_zone
        .parse()
        .unwrap_or(chrono_tz::America::Los_Angeles);
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local();
    let shown = |a: Option<String>| a.map(|a| if reveal { a } else { mask(&a) });

    let events = sqlx::query!(
        r#"select ev.occurred_at, ev.status, ev.reason, ev.source, u.display_name as "actor?",
                  ev.note, ev.postal_operation, ev.postal_facility_zip, ev.notify
           from ballot_events ev left join admin_users u on u.id = ev.actor_user_id
           where ev.ballot_id = $1 order by ev.id"#,
        ballot_id
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|e| {
        Ok(EventRecord {
            occurred_at: local(e.occurred_at),
            status: decode(BallotStatus::parse(&e.status))?,
            reason: reason(e.reason.as_deref())?,
            source: e.source,
            actor: e.actor,
            note: e.note,
            postal: e.postal_operation.map(|op| match e.postal_facility_zip {
                Some(zip) => format!("operation {op} at {zip}"),
                None => format!("operation {op}"),
            }),
            notify: e.notify,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;

    let notifications = sqlx::query!(
        // From the voter's subscriptions (cancelled ones too): the outbox is indexed by
        // subscription, not by ballot (one index fewer to write per message).
        "select created_at, channel, template, state, attempts from notifications
         where subscription_id in (select id from subscriptions where voter_id = $2)
           and ballot_id = $1
         order by created_at, id",
        ballot_id,
        b.voter_id
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|n| NotificationRecord {
        created_at: local(n.created_at),
        channel: n.channel,
        template: n.template,
        state: n.state,
        attempts: n.attempts,
    })
    .collect();

    let subscriptions = sqlx::query!(
        r#"select channel, address, language, confirmed_at is not null as "confirmed!",
                  cancelled_at is not null as "cancelled!"
           from subscriptions where voter_id = $1 order by id"#,
        b.voter_id
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|s| {
        Ok(SubscriptionRecord {
            channel: s.channel,
            address: if reveal { s.address } else { mask(&s.address) },
            language: decode(Language::parse(&s.language))?,
            confirmed: s.confirmed,
            cancelled: s.cancelled,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;

    let status = decode(BallotStatus::parse(&b.status))?;
    let name = full_name(b.first_name, b.middle_name, b.last_name, b.suffix);
    Ok(Some(BallotRecord {
        ballot_id: b.id,
        county_fips: b.county_fips,
        county_name: b.county_name,
        election_name: b.election_name,
        ballot_number: b.ballot_number,
        outbound_imb: b.outbound_imb,
        inbound_imb: b.inbound_imb,
        status,
        reason: reason(b.status_reason.as_deref())?,
        expected_delivery: b.expected_delivery,
        replaces: b.replaces_ballot_id,
        replaced_by: b.replaced_by,
        voter: VoterRecord {
            county_voter_id: b.county_voter_id,
            name,
            date_of_birth: b.date_of_birth,
            residential_zip: b.residential_zip,
            precinct: b.precinct,
            language: decode(Language::parse(&b.language))?,
            confidential: b.confidential,
            email: shown(b.email),
            phone: shown(b.phone),
        },
        events,
        notifications,
        subscriptions,
        next_statuses: BallotStatus::ALL
            .into_iter()
            .filter(|to| transition::is_legal(status, *to))
            .collect(),
    }))
}

/// What reissuing needs of the ballot it replaces (within the transaction's county).
pub struct ReissueSource {
    pub voter_id: i64,
    pub county_fips: String,
    pub election_id: i64,
    pub ballot_number: String,
}

pub async fn ballot_for_reissue(
    db: &mut PgConnection,
    ballot_id: i64,
) -> Result<Option<ReissueSource>, sqlx::Error> {
    let row = sqlx::query!(
        "select voter_id, county_fips, election_id, ballot_number from ballots where id = $1",
        ballot_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| ReissueSource {
        voter_id: r.voter_id,
        county_fips: r.county_fips,
        election_id: r.election_id,
        ballot_number: r.ballot_number,
    }))
}

/// Whether a ballot of the election, in any county, carries this barcode's tracking code (either
/// direction). Through the owner's function: the staff's transaction sees only its county's
/// ballots, and a county's partition of its own holds the rule only within it.
pub async fn barcode_taken(
    db: &mut PgConnection,
    election_id: i64,
    barcode: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists(select from ballot_tracking_holders($1, array[$2::text])) as "taken!""#,
        election_id,
        crate::domain::imb::Imb::tracking_of(barcode)
    )
    .fetch_one(db)
    .await
}

/// The replacement's number: the original's with `-R2`, `-R3`… (the first free one).
pub async fn next_ballot_number(
    db: &mut PgConnection,
    replaced: &str,
    election_id: i64,
) -> Result<String, sqlx::Error> {
    let base = match replaced.rsplit_once("-R") {
        Some((base, n)) if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() => base,
        _ => replaced,
    };
    let base: String = base.chars().take(34).collect();
    for n in 2..1000 {
        let candidate = format!("{base}-R{n}");
        let taken = sqlx::query_scalar!(
            r#"select exists(select 1 from ballots
                             where election_id = $1 and ballot_number = $2) as "taken!""#,
            election_id,
            candidate
        )
        .fetch_one(&mut *db)
        .await?;
        if !taken {
            return Ok(candidate);
        }
    }
    Ok(format!("{base}-R{}", chrono::Utc::now().timestamp()))
}

pub async fn county_settings(
    db: impl PgExecutor<'_>,
    fips: &str,
) -> Result<Option<super::county_settings::CountySettings>, sqlx::Error> {
    sqlx::query_as!(
        super::county_settings::CountySettings,
        r#"select fips, name, coalesce(office_name, '') as "office_name!",
                  coalesce(phone, '') as "phone!", coalesce(email, '') as "email!",
                  coalesce(website, '') as "website!",
                  coalesce(office_address, '') as "office_address!",
                  coalesce(office_hours, '') as "office_hours!", time_zone, require_2fa
           from counties where fips = $1"#,
        fips
    )
    .fetch_optional(db)
    .await
}

/// Writes the settings; empty fields are stored as absent.
pub async fn save_county_settings(
    tx: &mut PgConnection,
    s: &super::county_settings::CountySettings,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update counties
         set office_name = nullif($2, ''), phone = nullif($3, ''), email = nullif($4, ''),
             website = nullif($5, ''), office_address = nullif($6, ''),
             office_hours = nullif($7, ''), time_zone = $8, require_2fa = $9,
             updated_at = now()
         where fips = $1",
        s.fips,
        s.office_name,
        s.phone,
        s.email,
        s.website,
        s.office_address,
        s.office_hours,
        s.time_zone,
        s.require_2fa,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Elections, newest first (all of them, or the one with `id`), with the cure deadline in the
/// county's time zone (the state's, Pacific, for a statewide election). Row-level security
/// shows a county's transaction its own and the statewide ones.
async fn elections_where(
    db: &mut PgConnection,
    id: Option<i64>,
) -> Result<Vec<super::elections::ElectionRow>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select e.id, e.name, e.county_fips, c.name as "county_name?",
                  c.time_zone as "time_zone?", e.election_day, e.ballots_mailed_from,
                  e.receipt_deadline, e.cure_deadline, e.certification_date
           from elections e left join counties c on c.fips = e.county_fips
           where ($1::bigint is null or e.id = $1)
           order by e.election_day desc, e.id desc limit 200"#,
        id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let tz: Tz = r
                .time_zone
                .as_deref()
                .and_then(|z| z.parse().ok())
                .unwrap_or(chrono_tz::America::Los_Angeles);
            super::elections::ElectionRow {
                id: r.id,
                name: r.name,
                county_fips: r.county_fips,
                county_name: r.county_name,
                election_day: r.election_day,
                ballots_mailed_from: r.ballots_mailed_from,
                receipt_deadline: r.receipt_deadline,
                cure_deadline: r.cure_deadline.with_timezone(&tz).naive_local(),
                certification_date: r.certification_date,
            }
        })
        .collect())
}

pub async fn elections(
    db: &mut PgConnection,
) -> Result<Vec<super::elections::ElectionRow>, sqlx::Error> {
    elections_where(db, None).await
}

pub async fn election(
    db: &mut PgConnection,
    id: i64,
) -> Result<Option<super::elections::ElectionRow>, sqlx::Error> {
    Ok(elections_where(db, Some(id)).await?.pop())
}

/// Creates (`id` 0) or changes an election; the cure deadline is read in the county's time
/// zone. Returns the election's id.
pub async fn save_election(
    tx: &mut PgConnection,
    id: i64,
    county: Option<&str>,
    d: &super::elections::ElectionDates,
) -> Result<i64, sqlx::Error> {
    use chrono::TimeZone;
    let zone = sqlx::query_scalar!("select time_zone from counties where fips = $1", county)
        .fetch_optional(&mut *tx)
        .await?;
    let tz: Tz = zone
        .and_then(|z| z.parse().ok())
        .unwrap_or(chrono_tz::America::Los_Angeles);
    let cure = tz
        .from_local_datetime(&d.cure_deadline)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| sqlx::Error::Protocol("the cure deadline falls in a clock change".into()))?;
    sqlx::query_scalar!(
        r#"with new as (
               insert into elections (state_code, county_fips, name, election_day,
                                      ballots_mailed_from, receipt_deadline, cure_deadline,
                                      certification_date)
               select 'CA', $2, $3, $4, $5, $6, $7, $8 where $1::bigint = 0
               returning id),
           changed as (
               update elections set name = $3, election_day = $4, ballots_mailed_from = $5,
                      receipt_deadline = $6, cure_deadline = $7, certification_date = $8,
                      updated_at = now()
               where id = $1 and $1 <> 0
               returning id)
           select id as "id!" from new union all select id from changed"#,
        id,
        county,
        d.name,
        d.election_day,
        d.ballots_mailed_from,
        d.receipt_deadline,
        cure,
        d.certification_date,
    )
    .fetch_one(&mut *tx)
    .await
}

/// A page of the audit log, newest first, as far as the transaction's county may see it.
/// `entity` is `kind` or `kind:id` ("ballot:123").
pub async fn audit_page(
    db: &mut PgConnection,
    action: Option<&str>,
    entity: Option<&str>,
    page: i64,
) -> Result<super::audit_view::AuditPage, sqlx::Error> {
    use super::audit_view::{AuditPage, AuditRow, PAGE_SIZE};
    let (kind, id) = match entity.map(|e| e.split_once(':').unwrap_or((e, ""))) {
        Some((k, i)) => (Some(k.trim()), Some(i.trim()).filter(|i| !i.is_empty())),
        None => (None, None),
    };
    let rows = sqlx::query!(
        r#"select a.id, a.occurred_at, c.name as "county_name?", a.actor_kind,
                  u.display_name as "actor_name?", a.action, a.entity, a.entity_id,
                  a.before::text as before, a.after::text as after, host(a.client_ip) as client_ip
           from audit_log a
           left join counties c on c.fips = a.county_fips
           left join admin_users u on u.id = a.actor_user_id
           where ($1::text is null or a.action = $1)
             and ($2::text is null or a.entity = $2)
             and ($3::text is null or a.entity_id = $3)
           order by a.id desc limit $4 offset $5"#,
        action,
        kind,
        id,
        PAGE_SIZE + 1,
        page * PAGE_SIZE,
    )
    .fetch_all(db)
    .await?;
    let has_more = rows.len() as i64 > PAGE_SIZE;
    let pacific = chrono_tz::America::Los_Angeles;
    Ok(AuditPage {
        rows: rows
            .into_iter()
            .take(PAGE_SIZE as usize)
            .map(|r| AuditRow {
                id: r.id,
                occurred_at: r
                    .occurred_at
                    .with_timezone(&pacific)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
                county_name: r.county_name,
                actor: match r.actor_name {
                    Some(name) => format!("{name} ({})", r.actor_kind),
                    None => r.actor_kind,
                },
                action: r.action,
                entity: r.entity.map(|e| match r.entity_id {
                    Some(id) => format!("{e}:{id}"),
                    None => e,
                }),
                before: r.before,
                after: r.after,
                client_ip: r.client_ip,
            })
            .collect(),
        page,
        has_more,
    })
}
