//! Running an import: the dry run and the application, both processing the whole file through
//! the same code in one transaction; the dry run rolls it back.

use super::codes::CodeMap;
use super::csvfeed::{Feed, FileError, Rejection, Row};
use super::{FeedKind, Finding, Guard, Summary};
use crate::audit::{self, AuditAction, AuditEntry};
use crate::ballots::spine::{self, Cause, Outcome};
use crate::domain::{BallotStatus, NotCountedReason, Refusal};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;

/// Rows processed together: one round of look-ups and one pass through the spine.
pub const CHUNK_ROWS: usize = 20_000;

/// Voters added or changed by a voter file from which the table is analyzed as it commits
/// (autovacuum's own threshold is a tenth of the table, and it comes within minutes).
pub const ANALYZE_AFTER_VOTERS: u64 = 10_000;

/// The error report keeps this many rows; the count goes on past it.
pub const MAX_REPORTED: u64 = 100_000;

/// What to import.
#[derive(Clone, Debug)]
pub struct Request {
    pub county_fips: String,
    /// Required for ELG, TRK and PKG files.
    pub election_id: Option<i64>,
    pub kind: FeedKind,
    pub file_name: String,
    /// The person importing (the portal); `None` from the command line and the API.
    pub user_id: Option<i64>,
    /// The county system's token, for a request to the API.
    pub api_token_id: Option<i64>,
    pub limits: Limits,
}

/// When a file's share of moved ballots is "unusual".
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Share of the election's ballots in the county.
    pub mass_share: f64,
    /// And at least this many ballots.
    pub mass_min: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            mass_share: 0.2,
            mass_min: 100,
        }
    }
}

/// Dry run, or apply with what the person confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    DryRun,
    Apply {
        confirmed: Vec<Guard>,
        skip_rejected: bool,
    },
}

/// Why an apply did not commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// Guards the file raises that were not confirmed.
    Unconfirmed(Vec<Guard>),
    /// Rows were rejected and skipping them was not chosen.
    Rejected(u64),
}

#[derive(Clone, Debug)]
pub struct Report {
    pub import_id: i64,
    pub summary: Summary,
    /// Whether the changes were committed.
    pub applied: bool,
    pub blocked: Option<Blocked>,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(#[from] FileError),
    #[error("{0}")]
    Request(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The election a file belongs to.
#[derive(Clone, Debug)]
pub(super) struct Election {
    pub id: i64,
    pub day: NaiveDate,
    pub mailed_from: NaiveDate,
    /// Ballots of this election in the county, for the mass-change guard.
    pub ballots: i64,
}

/// What a chunk's processing works with: the import's transaction, and what the checks of its
/// rows know and find (`Checks`, reached through the context; a borrow of its own while the
/// connection is busy, so that rows are checked while the rows before are sent).
pub(super) struct Ctx<'a> {
    pub tx: &'a mut PgConnection,
    pub checks: Checks,
}

impl std::ops::Deref for Ctx<'_> {
    type Target = Checks;
    fn deref(&self) -> &Checks {
        &self.checks
    }
}

impl std::ops::DerefMut for Ctx<'_> {
    fn deref_mut(&mut self) -> &mut Checks {
        &mut self.checks
    }
}

/// The import's settings, and what its rows' checks find: rejections, counts, guards.
pub(super) struct Checks {
    pub kind: FeedKind,
    pub import_id: i64,
    pub api_token_id: Option<i64>,
    pub county: String,
    pub election: Option<Election>,
    pub tz: Tz,
    pub codes: CodeMap,
    pub now: DateTime<Utc>,
    pub summary: Summary,
    pub rejections: Vec<Rejection>,
    findings: BTreeMap<Guard, (u64, String)>,
    /// Keys of rows seen so far, to name a repeated row.
    seen: HashMap<u64, u64>,
}

impl Checks {
    pub fn reject(&mut self, rejection: Rejection) {
        self.rejections.push(rejection);
    }

    pub fn flag(&mut self, guard: Guard, detail: impl FnOnce() -> String) {
        let entry = self.findings.entry(guard).or_insert_with(|| (0, detail()));
        entry.0 += 1;
    }

    /// The election (files of every kind but VOT have one; checked before processing).
    pub fn election(&self) -> &Election {
        static NONE: std::sync::OnceLock<Election> = std::sync::OnceLock::new();
        self.election.as_ref().unwrap_or_else(|| {
            NONE.get_or_init(|| Election {
                id: 0,
                day: NaiveDate::MIN,
                mailed_from: NaiveDate::MIN,
                ballots: 0,
            })
        })
    }

    pub fn cause(&self) -> Cause {
        match (self.kind, self.api_token_id) {
            (FeedKind::Pkg, None) => Cause::PostalScan {
                import_id: Some(self.import_id),
                api_token_id: None,
            },
            (FeedKind::Pkg, Some(token)) => Cause::PostalScan {
                import_id: None,
                api_token_id: Some(token),
            },
            (_, Some(token)) => Cause::Api {
                api_token_id: token,
            },
            (_, None) => Cause::Import {
                import_id: self.import_id,
            },
        }
    }

    /// Rejects a row that repeats an earlier one (same key); true when it is a repeat.
    pub fn repeated(&mut self, row: &Row, key: &[&str]) -> bool {
        let k = row_key(key);
        if let Some(first) = self.seen.get(&k) {
            let first = *first;
            self.reject(repeats(row.number, first));
            return true;
        }
        self.seen.insert(k, row.number);
        false
    }

    /// The county field of a row: it must be this county.
    pub fn check_county(&mut self, row: &Row, value: &str) -> bool {
        if value == self.county {
            return true;
        }
        let county = self.county.clone();
        self.flag(Guard::OtherCounty, || {
            format!("row {} is for county {value}, not {county}", row.number)
        });
        self.reject(Rejection::field(
            row.number,
            "county_fips",
            value,
            format!("the row is for county {value}; this import is for {county}"),
        ));
        false
    }

    /// The election-day field of a row: it must be the chosen election's.
    pub fn check_election(&mut self, row: &Row, value: &str) -> bool {
        let day = self.election().day;
        match parse_date(value) {
            Some(d) if d == day => true,
            Some(d) => {
                self.flag(Guard::OtherElection, || {
                    format!("row {} is for the election of {d}, not {day}", row.number)
                });
                self.reject(Rejection::field(
                    row.number,
                    "election_date",
                    value,
                    format!("the row is for the election of {d}; this import is for {day}"),
                ));
                false
            }
            None => {
                self.reject(Rejection::field(
                    row.number,
                    "election_date",
                    value,
                    "not a date (use YYYY-MM-DD)",
                ));
                false
            }
        }
    }

    /// A time in the given zone that is not in the future (else rejected and flagged), and
    /// flagged when it is before the election's ballots could be mailed.
    pub fn check_time(
        &mut self,
        row: &Row,
        field: &'static str,
        value: &str,
        tz: Tz,
        outbound: bool,
    ) -> Option<DateTime<Utc>> {
        let Some(at) = parse_local(value, tz, self.now) else {
            self.reject(Rejection::field(
                row.number,
                field,
                value,
                "not a date and time (use YYYY-MM-DD or YYYY-MM-DD HH:MM, local time)",
            ));
            return None;
        };
        if at > self.now + crate::domain::transition::MAX_CLOCK_SKEW {
            let number = row.number;
            self.flag(Guard::FutureDates, || {
                format!("row {number} is dated {value}, after now")
            });
            self.reject(Rejection::field(
                row.number,
                field,
                value,
                "the date is in the future: planned dates are not events",
            ));
            return None;
        }
        let mailed_from = self.election().mailed_from;
        if outbound && at.with_timezone(&tz).date_naive() < mailed_from {
            let number = row.number;
            self.flag(Guard::EarlyDates, || {
                format!(
                    "row {number} is dated {value}, before ballots could be mailed ({mailed_from})"
                )
            });
        }
        Some(at)
    }

    /// Counts what the spine did with a chunk's proposals; refusals that mean "already so" are
    /// unchanged rows, others are rejected with the machine's words unless `lenient`.
    pub fn tally(
        &mut self,
        rows: &[u64],
        proposals: &[spine::Proposal],
        outcomes: &[Outcome],
        lenient: bool,
    ) {
        for ((row, p), outcome) in rows.iter().zip(proposals).zip(outcomes) {
            match outcome {
                Outcome::Recorded { notified, .. } => {
                    *self.summary.moved.entry(p.change.status).or_default() += 1;
                    if *notified {
                        self.summary.notifications += 1;
                    }
                }
                Outcome::Refused(refusal) => self.refused(*row, refusal, lenient),
                Outcome::UnknownBallot => {
                    self.reject(Rejection::row(*row, "the ballot is not on file"));
                }
            }
        }
    }

    /// A row the status machine refused: unchanged when it means "already so" (or `lenient`),
    /// else rejected with the machine's words.
    pub fn refused(&mut self, row: u64, refusal: &Refusal, lenient: bool) {
        count_refusal(
            &mut self.summary,
            &mut self.rejections,
            row,
            refusal,
            lenient,
        );
    }
}

/// A row's key (the fields that make two rows say the same) as one number: equal keys hash
/// equal, unequal ones collide once in 2^64. Compared only within one import.
pub(super) fn row_key(key: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// The rejection of a row that repeats an earlier one.
pub(super) fn repeats(row: u64, first: u64) -> Rejection {
    Rejection::row(row, format!("repeats row {first}"))
}

/// How a change the status machine refused counts: unchanged (already recorded, older than
/// the current status, or any refusal when `lenient`), or a rejected row with the reason.
pub(super) fn count_refusal(
    summary: &mut Summary,
    rejections: &mut Vec<Rejection>,
    row: u64,
    refusal: &Refusal,
    lenient: bool,
) {
    match refusal {
        Refusal::Unchanged | Refusal::OlderThanCurrent => summary.unchanged += 1,
        _ if lenient => summary.unchanged += 1,
        refusal => rejections.push(Rejection::row(
            row,
            format!("the status machine refuses it: {refusal}"),
        )),
    }
}

impl Ctx<'_> {
    /// Raises the early-dates guard for rows dated before their ballot was even issued (the
    /// machine leaves them unchanged as older than the current status; a file of such rows is
    /// likely the wrong one).
    pub async fn flag_before_issue(
        &mut self,
        rows: &[u64],
        proposals: &[spine::Proposal],
        outcomes: &[Outcome],
    ) -> Result<(), sqlx::Error> {
        let older: Vec<(u64, i64, DateTime<Utc>)> = rows
            .iter()
            .zip(proposals)
            .zip(outcomes)
            .filter(|(_, o)| matches!(o, Outcome::Refused(Refusal::OlderThanCurrent)))
            .map(|((row, p), _)| (*row, p.ballot_id, p.change.occurred_at))
            .collect();
        if older.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = older.iter().map(|(_, id, _)| *id).collect();
        let issued: HashMap<i64, DateTime<Utc>> = sqlx::query!(
            r#"select ballot_id, min(occurred_at) as "at!" from ballot_events
               where ballot_id = any($1) and status = 'issued' group by ballot_id"#,
            &ids
        )
        .fetch_all(&mut *self.tx)
        .await?
        .into_iter()
        .map(|r| (r.ballot_id, r.at))
        .collect();
        for (row, id, at) in older {
            if let Some(first) = issued.get(&id).copied() {
                self.flag_if_before_issue(row, at, first);
            }
        }
        Ok(())
    }

    /// Raises the early-dates guard for a row dated `at`, before its ballot was issued.
    pub fn flag_if_before_issue(&mut self, row: u64, at: DateTime<Utc>, issued: DateTime<Utc>) {
        if at >= issued {
            return;
        }
        let tz = self.tz;
        let local =
            move |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
        self.flag(Guard::EarlyDates, || {
            format!(
                "row {row} is dated {}, before its ballot was issued ({})",
                local(at),
                local(issued)
            )
        });
    }
}

/// `YYYY-MM-DD`, optionally followed by ` HH:MM` or ` HH:MM:SS` (or `T` for the space), in
/// exactly those widths: nearly every row of a county file, read without chrono's format
/// interpreter (a million dates a file). Anything else is left to the general parsers below.
fn fixed_width(raw: &str) -> Option<(NaiveDate, Option<NaiveTime>)> {
    let b = raw.as_bytes();
    let num = |from: usize, to: usize| -> Option<u32> {
        b.get(from..to)?.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let day = NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
    let time = match b.len() {
        10 => None,
        16 | 19 if matches!(b[10], b' ' | b'T') && b[13] == b':' => {
            let seconds = if b.len() == 19 {
                (b[16] == b':').then_some(())?;
                num(17, 19)?
            } else {
                0
            };
            Some(NaiveTime::from_hms_opt(
                num(11, 13)?,
                num(14, 16)?,
                seconds,
            )?)
        }
        _ => return None,
    };
    Some((day, time))
}

/// A date as counties write it: 2026-10-07 or 10/07/2026.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    if let Some((day, None)) = fixed_width(raw) {
        return Some(day);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%m/%d/%Y"))
        .ok()
}

/// A local date and time (seconds optional, `T` or a space between), or a date alone — which
/// stands for noon that day, or now if that is later than now.
pub fn parse_local(raw: &str, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    let formats = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
    ];
    let (local, day) = match fixed_width(raw) {
        Some((day, Some(time))) => (Some(day.and_time(time)), None),
        Some((day, None)) => (None, Some(day)),
        None => (
            formats
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok()),
            None,
        ),
    };
    match local {
        Some(t) => tz
            .from_local_datetime(&t)
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
        None => {
            let day = day.or_else(|| parse_date(raw))?;
            let noon = tz
                .from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(12, 0, 0)?))
                .earliest()?
                .with_timezone(&Utc);
            let today = now.with_timezone(&tz).date_naive();
            Some(if day == today && noon > now {
                now
            } else {
                noon
            })
        }
    }
}

/// Reads the hash of what passes through.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Starts an import: checks the request and records the file as a dry run. Returns its id.
pub async fn start(pool: &PgPool, request: &Request) -> Result<i64, ImportError> {
    let mut tx = pool.begin().await?;
    set_county(&mut tx, &request.county_fips).await?;
    let county = sqlx::query_scalar!(
        "select fips from counties where fips = $1",
        request.county_fips
    )
    .fetch_optional(&mut *tx)
    .await?;
    if county.is_none() {
        return Err(ImportError::Request(format!(
            "there is no county {}",
            request.county_fips
        )));
    }
    if request.kind.needs_election() {
        let Some(election_id) = request.election_id else {
            return Err(ImportError::Request(format!(
                "a {} file belongs to an election: choose one",
                request.kind.code().to_ascii_uppercase()
            )));
        };
        let found = sqlx::query_scalar!(
            "select id from elections where id = $1 and (county_fips is null or county_fips = $2)",
            election_id,
            request.county_fips
        )
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(ImportError::Request(format!(
                "election {election_id} is not one of county {}'s elections",
                request.county_fips
            )));
        }
    }
    let id = sqlx::query_scalar!(
        r#"insert into imports (county_fips, election_id, kind, file_name, file_sha256, created_by)
           values ($1, $2, $3, $4, repeat('0', 64), $5) returning id"#,
        request.county_fips,
        request
            .election_id
            .filter(|_| request.kind.needs_election()),
        request.kind.code(),
        request.file_name.chars().take(255).collect::<String>(),
        request.user_id,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn set_county(tx: &mut PgConnection, county: &str) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!("select set_config('app.county', $1, true)", county)
        .fetch_one(&mut *tx)
        .await?;
    Ok(())
}

/// Processes the file of import `import_id` whole, in one transaction: rolled back for a dry
/// run; committed when applying only if nothing blocks it. The import row, its summary and its
/// error report are updated either way.
#[tracing::instrument(skip_all, fields(import.id = import_id, kind = request.kind.code(), county.fips = %request.county_fips), err)]
pub async fn process(
    pool: &PgPool,
    import_id: i64,
    request: &Request,
    mode: &Mode,
    input: impl Read,
) -> Result<Report, ImportError> {
    let now = Utc::now();
    let mut input = Hashing {
        inner: input,
        hash: Sha256::new(),
        bytes: 0,
    };
    let mut tx = pool.begin().await?;
    set_county(&mut tx, &request.county_fips).await?;
    // `checked`: a dry run recorded the file's hash, which applying must then match.
    let expected_sha = sqlx::query!(
        r#"select file_sha256, state, summary is not null as "checked!"
           from imports where id = $1 and county_fips = $2 for no key update"#,
        import_id,
        request.county_fips
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ImportError::Request(format!("there is no import {import_id}")))?;
    if expected_sha.state == "applied" {
        return Err(ImportError::Request(format!(
            "import {import_id} is applied already"
        )));
    }
    let tz: Tz = sqlx::query_scalar!(
        "select time_zone from counties where fips = $1",
        request.county_fips
    )
    .fetch_one(&mut *tx)
    .await?
    .parse()
    .unwrap_or(chrono_tz::America::Los_Angeles);
    let election = match request
        .election_id
        .filter(|_| request.kind.needs_election())
    {
        None => None,
        Some(id) => {
            let e = sqlx::query!(
                r#"select e.id, e.election_day, e.ballots_mailed_from,
                          (select count(*) from ballots b
                           where b.county_fips = $2 and b.election_id = e.id
                             and b.status <> 'replaced') as "ballots!"
                   from elections e where e.id = $1"#,
                id,
                request.county_fips
            )
            .fetch_one(&mut *tx)
            .await?;
            Some(Election {
                id: e.id,
                day: e.election_day,
                mailed_from: e.ballots_mailed_from,
                ballots: e.ballots,
            })
        }
    };
    let (codes, _) = load_codes(&mut tx, &request.county_fips).await?;
    // The error report survives the dry run's rollback: it is written on a connection of its own.
    let mut report_conn = pool.acquire().await?;
    clear_rejections(&mut report_conn, import_id, &request.county_fips).await?;

    let mut ctx = Ctx {
        tx: &mut tx,
        checks: Checks {
            kind: request.kind,
            import_id,
            api_token_id: request.api_token_id,
            county: request.county_fips.clone(),
            election,
            tz,
            codes,
            now,
            summary: Summary::default(),
            rejections: Vec::new(),
            findings: BTreeMap::new(),
            seen: HashMap::new(),
        },
    };
    let mut feed = Feed::open(request.kind, &mut input)?;
    let mut reported = 0u64;
    // A county's first ELG file of an election goes the first-load way (`elg_first`).
    let mut first = if request.kind == FeedKind::Elg && super::elg_first::is_first(&mut ctx).await?
    {
        let apply = matches!(mode, Mode::Apply { .. });
        Some(super::elg_first::FirstElg::begin(&mut ctx, pool, apply).await?)
    } else {
        None
    };
    loop {
        let mut rows = Vec::with_capacity(CHUNK_ROWS);
        while rows.len() < CHUNK_ROWS {
            match feed.next_row()? {
                None => break,
                Some(Ok(row)) => rows.push(row),
                Some(Err(rejection)) => ctx.reject(rejection),
            }
        }
        let done = rows.len() < CHUNK_ROWS;
        if !rows.is_empty() {
            match (request.kind, first.as_mut()) {
                (FeedKind::Elg, Some(first)) => first.stage(&mut ctx, rows).await?,
                (FeedKind::Vot, _) => super::vot::process(&mut ctx, rows).await?,
                (FeedKind::Elg, None) => super::elg::process(&mut ctx, rows).await?,
                (FeedKind::Trk, _) => super::elg::process_trk(&mut ctx, rows).await?,
                (FeedKind::Pkg, _) => super::pkg::process(&mut ctx, rows).await?,
            }
        }
        reported = report(&mut ctx, &mut report_conn, import_id, reported).await?;
        if done {
            break;
        }
    }
    // A first load's events may be committed aside (`elg_first`): swept if it does not commit.
    let first_applied = first.is_some() && matches!(mode, Mode::Apply { .. });
    if let Some(mut first) = first {
        first.resolve(&mut ctx).await?;
        while first.next_batch(&mut ctx).await? {
            reported = report(&mut ctx, &mut report_conn, import_id, reported).await?;
        }
        first.finish(&mut ctx).await?;
        report(&mut ctx, &mut report_conn, import_id, reported).await?;
    }
    ctx.summary.rows = feed.rows();
    ctx.summary.latin1 = feed.latin1;
    drop(feed);
    let mut summary = std::mem::take(&mut ctx.summary);
    let mut findings = std::mem::take(&mut ctx.findings);
    let election = ctx.election.clone();
    drop(ctx);
    if let Some(e) = &election {
        let moved: u64 = summary
            .moved
            .iter()
            .filter(|(s, _)| **s != BallotStatus::Replaced)
            .map(|(_, n)| *n)
            .sum();
        let base = u64::try_from(e.ballots).unwrap_or(0).max(1);
        if moved >= request.limits.mass_min
            && moved as f64 > request.limits.mass_share * base as f64
        {
            findings.insert(
                Guard::MassChange,
                (
                    moved,
                    format!(
                        "{} of the election's {} ballots in the county change status",
                        super::thousands(moved),
                        super::thousands(base)
                    ),
                ),
            );
        }
    }
    summary.findings = findings
        .into_iter()
        .map(|(guard, (rows, detail))| Finding {
            guard,
            rows,
            detail,
        })
        .collect();
    let sha256 = hex(&input.hash.finalize_reset());

    let blocked = match mode {
        Mode::DryRun => None,
        Mode::Apply {
            confirmed,
            skip_rejected,
        } => {
            let unconfirmed: Vec<Guard> = summary
                .raised()
                .into_iter()
                .filter(|g| !confirmed.contains(g))
                .collect();
            if expected_sha.state != "dry_run"
                || (expected_sha.checked && expected_sha.file_sha256 != sha256)
            {
                return Err(ImportError::Request(
                    "this is not the file that was checked: check it again".into(),
                ));
            }
            if !unconfirmed.is_empty() {
                Some(Blocked::Unconfirmed(unconfirmed))
            } else if summary.rejected > 0 && !skip_rejected {
                Some(Blocked::Rejected(summary.rejected))
            } else {
                None
            }
        }
    };
    let applying = matches!(mode, Mode::Apply { .. }) && blocked.is_none();
    let summary_json = serde_json::to_value(&summary).unwrap_or_default();
    if applying {
        let (confirmed, skip) = match mode {
            Mode::Apply {
                confirmed,
                skip_rejected,
            } => (
                confirmed
                    .iter()
                    .map(|g| g.code().to_owned())
                    .collect::<Vec<_>>(),
                *skip_rejected,
            ),
            Mode::DryRun => (Vec::new(), false),
        };
        sqlx::query!(
            r#"update imports set state = 'applied', applied_at = now(), applied_by = $2,
                 summary = $3, row_count = $4, rejected_rows = $5, file_sha256 = $6,
                 file_bytes = $7, confirmed = $8, skip_rejected = $9
               where id = $1"#,
            import_id,
            request.user_id,
            summary_json,
            i32::try_from(summary.rows).unwrap_or(i32::MAX),
            i32::try_from(summary.rejected).unwrap_or(i32::MAX),
            sha256,
            i64::try_from(input.bytes).unwrap_or(i64::MAX),
            &confirmed,
            skip,
        )
        .execute(&mut *tx)
        .await?;
        let entry = AuditEntry {
            county_fips: Some(request.county_fips.clone()),
            entity: Some(("import", import_id.to_string())),
            after: Some(serde_json::json!({
                "kind": request.kind.code(),
                "file_name": request.file_name,
                "file_sha256": sha256,
                "election_id": election.as_ref().map(|e| e.id),
                "confirmed": confirmed,
                "skip_rejected": skip,
                "summary": summary_json,
            })),
            ..AuditEntry::new(
                match (request.user_id, request.api_token_id) {
                    (Some(_), _) => audit::ActorKind::User,
                    (None, Some(_)) => audit::ActorKind::Api,
                    (None, None) => audit::ActorKind::Import,
                },
                request.user_id,
                AuditAction::ImportApplied,
            )
        };
        audit::record(&mut tx, entry).await?;
        // Fresh statistics of the voters after a large voter file, in the same transaction (its
        // rows counted), before the county's first ELG file is planned against them.
        if request.kind == FeedKind::Vot
            && summary.voters_added + summary.voters_updated >= ANALYZE_AFTER_VOTERS
        {
            // Not checked at build time: the function returns `void`, which sqlx cannot name.
            sqlx::query("select voters_analyze()")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    } else {
        tx.rollback().await?;
        if first_applied {
            // A sweep that fails leaves them to the next one.
            if let Err(e) = crate::ballots::first_load::sweep_asides(&mut *report_conn).await {
                tracing::warn!(error = %e, "the events written aside were not swept");
            }
        }
        sqlx::query!(
            r#"update imports set summary = $2, row_count = $3, rejected_rows = $4,
                 file_sha256 = $5, file_bytes = $6
               where id = $1"#,
            import_id,
            summary_json,
            i32::try_from(summary.rows).unwrap_or(i32::MAX),
            i32::try_from(summary.rejected).unwrap_or(i32::MAX),
            sha256,
            i64::try_from(input.bytes).unwrap_or(i64::MAX),
        )
        .execute(&mut *report_conn)
        .await?;
    }
    tracing::info!(
        rows = summary.rows,
        rejected = summary.rejected,
        applied = applying,
        "import processed"
    );
    Ok(Report {
        import_id,
        summary,
        applied: applying,
        blocked,
        sha256,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A county's codes: the defaults with the county's own rows on top, and which codes those rows
/// set (`(kind, code)`), for the settings page.
pub async fn load_codes(
    tx: &mut PgConnection,
    county: &str,
) -> Result<(CodeMap, std::collections::HashSet<(String, String)>), sqlx::Error> {
    let mut codes = CodeMap::with_defaults();
    let mut own = std::collections::HashSet::new();
    let rows = sqlx::query!(
        "select kind, code, status, reason from feed_code_maps where county_fips = $1",
        county
    )
    .fetch_all(&mut *tx)
    .await?;
    for r in rows {
        let Ok(status) = BallotStatus::parse(&r.status) else {
            continue;
        };
        let reason = r
            .reason
            .as_deref()
            .and_then(|x| NotCountedReason::parse(x).ok());
        if r.kind == "pkg" {
            codes.set_pkg(&r.code, status);
        } else {
            codes.set_elg(&r.code, status, reason);
        }
        own.insert((r.kind, r.code));
    }
    Ok((codes, own))
}

async fn clear_rejections(
    conn: &mut PgConnection,
    import_id: i64,
    county: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    set_county(&mut tx, county).await?;
    sqlx::query!(
        "delete from import_rejections where import_id = $1",
        import_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Writes the rejections gathered so far to the error report; returns how many it holds.
async fn report(
    ctx: &mut Ctx<'_>,
    conn: &mut PgConnection,
    import_id: i64,
    reported: u64,
) -> Result<u64, sqlx::Error> {
    let batch = std::mem::take(&mut ctx.rejections);
    ctx.summary.rejected += batch.len() as u64;
    write_rejections(conn, import_id, &ctx.county, batch, reported).await
}

async fn write_rejections(
    conn: &mut PgConnection,
    import_id: i64,
    county: &str,
    batch: Vec<Rejection>,
    reported: u64,
) -> Result<u64, sqlx::Error> {
    let room = usize::try_from(MAX_REPORTED.saturating_sub(reported)).unwrap_or(0);
    let batch: Vec<Rejection> = batch.into_iter().take(room).collect();
    if batch.is_empty() {
        return Ok(reported);
    }
    let n = batch.len() as u64;
    let rows: Vec<i64> = batch
        .iter()
        .map(|r| i64::try_from(r.row).unwrap_or(i64::MAX))
        .collect();
    let fields: Vec<Option<String>> = batch.iter().map(|r| r.field.map(str::to_owned)).collect();
    let values: Vec<Option<String>> = batch.iter().map(|r| r.value.clone()).collect();
    let reasons: Vec<String> = batch.into_iter().map(|r| r.reason).collect();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    set_county(&mut tx, county).await?;
    sqlx::query!(
        r#"insert into import_rejections (import_id, county_fips, row_number, field, value, reason)
           select $1, $2, u.row_number, u.field, u.value, u.reason
           from unnest($3::bigint[], $4::text[], $5::text[], $6::text[])
                as u(row_number, field, value, reason)
           on conflict do nothing"#,
        import_id,
        county,
        &rows,
        &fields as &[Option<String>],
        &values as &[Option<String>],
        &reasons,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(reported + n)
}

/// One row of the error report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedRow {
    pub row: i64,
    pub field: Option<String>,
    pub value: Option<String>,
    pub reason: String,
}

/// The error report of an import, in row order.
pub async fn rejections(
    pool: &PgPool,
    import_id: i64,
    county: &str,
) -> Result<Vec<ReportedRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    set_county(&mut tx, county).await?;
    let rows = sqlx::query_as!(
        ReportedRow,
        r#"select row_number as row, field, value, reason from import_rejections
           where import_id = $1 order by row_number, reason"#,
        import_id
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// The error report as CSV (row, field, value, reason), cells that a spreadsheet would read as
/// a formula neutralised.
pub fn rejections_csv(rows: &[ReportedRow]) -> String {
    let mut out = String::from("\u{feff}row,field,value,reason\r\n");
    for r in rows {
        let cells = [
            r.row.to_string(),
            r.field.clone().unwrap_or_default(),
            r.value.clone().unwrap_or_default(),
            r.reason.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// RFC 4180 quoting, with a leading = + - @ tab or CR made inert by a quote mark (as every
/// export does: [`crate::reports::export::neutral`]).
pub fn csv_cell(raw: &str) -> String {
    let neutral = crate::reports::export::neutral(raw);
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed-width reading agrees with chrono's on what it takes, and leaves the rest.
    #[test]
    fn fixed_width_dates_read_as_chrono_reads_them() {
        for raw in [
            "2026-10-07",
            "2026-02-28 23:59",
            "2026-10-07 08:05:09",
            "2026-10-07T08:05",
            "2024-02-29T00:00:00",
        ] {
            let chrono = [
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%dT%H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok());
            let fixed = fixed_width(raw).map(|(d, t)| t.map(|t| d.and_time(t)));
            match chrono {
                Some(t) => assert_eq!(fixed, Some(Some(t)), "{raw}"),
                None => assert_eq!(
                    fixed,
                    Some(None),
                    "{raw} is a date alone: {:?}",
                    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                ),
            }
        }
        for raw in [
            "2026-02-30",
            "2026-13-01",
            "2026-10-07 24:00",
            "2026-10-07 08:60",
            "2026-10-07 8:05",
            "2026-1-07",
            "10/07/2026",
            "2026-10-07 08:05:",
            "2026-10-07x08:05",
            "２０２６-10-07",
        ] {
            assert_eq!(fixed_width(raw), None, "{raw}");
        }
        let tz = chrono_tz::America::Los_Angeles;
        let now = Utc::now();
        assert_eq!(
            parse_local("2026-10-07 08:05", tz, now),
            parse_local("10/07/2026 08:05", tz, now)
        );
        assert_eq!(parse_date("2026-10-07"), parse_date("10/07/2026"));
    }
}
