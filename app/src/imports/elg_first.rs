//! A county's first ELG file of an election: no ballot of the county in the election exists
//! yet. The rows are checked as every ELG row is ([`super::elg::parse_elg`]) and staged in a
//! temporary table; the questions that need the database are then answered set-wise, once for
//! the whole file (which voter each row names, which ballot number is whose, which tracking
//! code is whose, who has a subscription), and the rows come back through a cursor in each
//! voter's time order. Each voter's ballots are decided in memory by the status machine, the
//! same rules as the row-at-a-time path ([`super::elg::process`]), and written by the spine's
//! first-load writer ([`FirstLoad`]) into the pair's partition of its own. The deciding touches
//! no database and runs on a thread of its own ([`Decider`]), a batch at a time, while the
//! import's connection sends what the batch before filled and fetches the next. Nothing is kept
//! per row of the file: repeated rows are found among each voter's own rows. A dry run decides
//! the same and writes nothing.

use super::Summary;
use super::csvfeed::{Rejection, Row};
use super::elg::parse_elg;
use super::run::{Ctx, count_refusal, repeats, row_key};
use super::sightings::Sightings;
use crate::ballots::first_load::{EventsAside, FirstLoad, Full, Timeline};
use crate::ballots::spine::{NewBallot, Proposal};
use crate::copy::{BinaryCopy, CopyChunk};
use crate::domain::imb::Imb;
use crate::domain::{BallotStatus, NotCountedReason, StatusChange};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Executor, FromRow, PgConnection, PgPool};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::task::Poll;

/// Distinct first eleven digits of the codes kept while staging (a county's own Mailer IDs,
/// as a rule: a handful); past this many, the query finds them itself.
const PREFIXES: usize = 1_000;

/// Distinct numbers staged as maybe shared, and codes, kept while staging (each up to this many),
/// so that the rows naming them are found in one scan of the staged rows (the filter's false
/// sightings, a few hundred of each at a million keys, as a rule); past this many numbers, or
/// codes, the question about them reads the staged rows.
/// (Tests keep four, to take both ways.)
pub(super) const FLAGGED: usize = if cfg!(test) { 4 } else { 100_000 };

/// Rows read back from the cursor at a time.
pub(super) const FETCH_ROWS: usize = 20_000;

/// Connections an import holds at once when its events are written beside its ballots: its
/// transaction, its error report's, the events'. A smaller pool writes them in the transaction.
const CONNECTIONS_FOR_ASIDE: u32 = 3;

/// How long a first load waits for a connection for its events before it writes them in its
/// own transaction instead (the pool busy with other imports or requests).
const ASIDE_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Whether the county has no ballot of the election yet (nor a partition for it): its ELG file
/// is a first load.
pub(super) async fn is_first(ctx: &mut Ctx<'_>) -> Result<bool, sqlx::Error> {
    let election_id = ctx.election().id;
    sqlx::query_scalar!(
        r#"select not exists (select from ballots where county_fips = $1 and election_id = $2)
              and not exists (select from ballot_partitions
                              where county_fips = $1 and election_id = $2) as "first!""#,
        ctx.county,
        election_id
    )
    .fetch_one(&mut *ctx.tx)
    .await
}

/// A staged row as it comes back, with the file-wide answers.
#[derive(sqlx::FromRow)]
struct Staged {
    row: i64,
    voter: String,
    number: String,
    status: String,
    reason: Option<String>,
    at: DateTime<Utc>,
    outbound: Option<String>,
    inbound: Option<String>,
    /// The status code and date as written, as one number (`run::row_key`, eight bytes
    /// staged, not two strings): a row of the voter with the same ballot and the same number
    /// repeats an earlier one.
    said: i64,
    /// The voter's id in the county; none for an unknown voter.
    voter_id: Option<i64>,
    /// The voter of the number's first row, when more than one voter names it: the ballot is
    /// theirs (none: the number is this voter's alone).
    owner: Option<String>,
    /// The ballot number of the first row carrying each tracking code, when more than one
    /// number carries it (none: this row's number alone), and whether a ballot of the election
    /// on file (another county's) carries it.
    outbound_claim: Option<String>,
    outbound_held: bool,
    inbound_claim: Option<String>,
    inbound_held: bool,
    subscribed: bool,
}

pub(super) struct FirstElg {
    /// The in-memory side; away on its thread while a batch is decided.
    decider: Option<Decider>,
    /// Rows fetched and not yet decided.
    fetched: Vec<PgRow>,
    /// Whether the cursor may hold more rows after `fetched`.
    more: bool,
    /// Full COPY buffers, sent while the next batch is decided.
    chunks: Full,
    /// The events' own connection, when applying with one to spare.
    aside: Option<EventsAside>,
    /// Staged rows of the last chunk checked, sent while the next is checked.
    staged: Option<CopyChunk>,
    /// Ballot numbers with the voters naming them, tracking codes with the numbers carrying
    /// them: the rows whose number or code may be shared are staged as such.
    numbers: Sightings,
    codes: Sightings,
    /// The staged codes' first eleven digits; none once there are more than `PREFIXES`.
    prefixes: Option<BTreeSet<String>>,
    /// The numbers, and tracking codes, of the rows staged as maybe shared.
    flagged_numbers: Flagged,
    flagged_codes: Flagged,
}

/// The keys of the rows staged as maybe shared: kept while there are few.
enum Flagged {
    Few(HashSet<String>),
    /// More than `FLAGGED`: the question reads every staged row.
    Many,
}

impl Flagged {
    fn add(&mut self, key: &str) {
        if let Flagged::Few(keys) = self {
            if keys.len() < FLAGGED {
                keys.insert(key.to_owned());
            } else if !keys.contains(key) {
                *self = Flagged::Many;
            }
        }
    }

    /// Whether any row was staged as maybe shared: the question is asked.
    fn any(&self) -> bool {
        match self {
            Flagged::Few(keys) => !keys.is_empty(),
            Flagged::Many => true,
        }
    }

    /// The keys whose rows `FirstElg::suspects` finds (none when there are many).
    fn few(&self) -> Vec<&str> {
        match self {
            Flagged::Few(keys) => keys.iter().map(String::as_str).collect(),
            Flagged::Many => Vec::new(),
        }
    }

    /// Where the question reads its rows, once `FirstElg::suspects` has found them.
    fn source(&self) -> &'static str {
        match self {
            Flagged::Few(_) => "elg_suspects",
            Flagged::Many => "elg_first",
        }
    }
}

impl FirstElg {
    /// Stages the file in a temporary table; when applying, makes the pair's partition, with
    /// a connection of the pool for its events if the pool has one to spare.
    pub async fn begin(ctx: &mut Ctx<'_>, pool: &PgPool, apply: bool) -> Result<Self, sqlx::Error> {
        // Statements about the temporary table are not checked at build time: it exists only now.
        sqlx::query(
            "create temporary table elg_first (
               row bigint not null, voter text not null, number text not null,
               status text not null, reason text, at timestamptz not null,
               outbound text, inbound text, said bigint not null,
               maybe_shared_number bool not null, maybe_shared_code bool not null)
             on commit drop",
        )
        .execute(&mut *ctx.tx)
        .await?;
        let (load, aside) = if apply {
            let (cause, county, election_id) = (ctx.cause(), ctx.county.clone(), ctx.election().id);
            let side = if pool.options().get_max_connections() >= CONNECTIONS_FOR_ASIDE {
                // Waiting for the pool's last connection while holding two would starve
                // concurrent imports and requests: a moment, and then without.
                match tokio::time::timeout(ASIDE_WAIT, pool.begin()).await {
                    Ok(Ok(side)) => Some(side),
                    Ok(Err(sqlx::Error::PoolTimedOut)) | Err(_) => None,
                    Ok(Err(e)) => return Err(e),
                }
            } else {
                None
            };
            let (load, aside) = FirstLoad::begin(ctx.tx, side, cause, &county, election_id).await?;
            (Some(load), aside)
        } else {
            (None, None)
        };
        Ok(Self {
            decider: Some(Decider {
                county: ctx.county.clone(),
                election_id: ctx.election().id,
                now: ctx.now,
                load,
                dry_ids: 1,
                pending: Vec::new(),
                tally: Tally::default(),
            }),
            fetched: Vec::new(),
            more: false,
            chunks: Full::default(),
            aside,
            staged: None,
            numbers: Sightings::new(),
            codes: Sightings::new(),
            prefixes: Some(BTreeSet::new()),
            flagged_numbers: Flagged::Few(HashSet::new()),
            flagged_codes: Flagged::Few(HashSet::new()),
        })
    }

    /// Checks a chunk of rows and stages those that pass: the connection sends the chunk
    /// before while this one is checked (the rows are sent with the next chunk, or by `resolve`).
    pub async fn stage(&mut self, ctx: &mut Ctx<'_>, rows: Vec<Row>) -> Result<(), sqlx::Error> {
        let Ctx { tx, checks } = ctx;
        let before = self.staged.take();
        let mut send = std::pin::pin!(async move {
            match before {
                Some(chunk) => chunk.send(tx).await.map(|_| ()),
                None => Ok(()),
            }
        });
        let mut sent = None;
        let mut copy = BinaryCopy::new(
            "elg_first",
            &[
                "row",
                "voter",
                "number",
                "status",
                "reason",
                "at",
                "outbound",
                "inbound",
                "said",
                "maybe_shared_number",
                "maybe_shared_code",
            ],
        );
        for (i, row) in rows.iter().enumerate() {
            // The send goes on as far as the socket takes it, every few hundred rows.
            if sent.is_none()
                && i % 256 == 0
                && let Poll::Ready(done) = futures::poll!(send.as_mut())
            {
                sent = Some(done);
            }
            let Some(p) = parse_elg(checks, row, false) else {
                continue;
            };
            let shared_number = self.numbers.again(&p.number, &p.voter);
            let mut shared_code = false;
            for code in [&p.outbound, &p.inbound].into_iter().flatten() {
                shared_code |= self.codes.again(Imb::tracking_of(code), &p.number);
                self.saw_prefix(code);
            }
            if shared_number {
                self.flagged_numbers.add(&p.number);
            }
            if shared_code {
                for code in [&p.outbound, &p.inbound].into_iter().flatten() {
                    self.flagged_codes.add(Imb::tracking_of(code));
                }
            }
            copy.row()
                .int8(i64::try_from(p.row).unwrap_or(i64::MAX))
                .text(&p.voter)
                .text(&p.number)
                .text(p.change.status.code())
                .opt_text(p.change.reason.map(|r| r.code()))
                .timestamptz(p.change.occurred_at)
                .opt_text(p.outbound.as_deref())
                .opt_text(p.inbound.as_deref())
                .int8(row_key(&[&p.code, &p.date]) as i64)
                .bool(shared_number)
                .bool(shared_code);
        }
        match sent {
            Some(done) => done?,
            None => send.await?,
        }
        self.staged = copy.take();
        Ok(())
    }

    /// Finds the rows naming a number, or carrying a code, staged as maybe shared, in one scan
    /// of the staged rows, while those keys are few: every row each question reads (but the
    /// earlier rows a claim may repeat, looked for among the staged rows only when a code is
    /// shared). The question whose keys were too many to keep reads the staged rows itself
    /// ([`Flagged::source`]).
    async fn suspects(&self, ctx: &mut Ctx<'_>) -> Result<(), sqlx::Error> {
        let (numbers, codes) = (self.flagged_numbers.few(), self.flagged_codes.few());
        if numbers.is_empty() && codes.is_empty() {
            return Ok(());
        }
        sqlx::query("create temporary table elg_suspects (like elg_first) on commit drop")
            .execute(&mut *ctx.tx)
            .await?;
        // An unnamed statement is planned with the arrays as constants: each looked up by hash.
        sqlx::query(
            "insert into elg_suspects select * from elg_first
             where number = any($1::text[])
                or left(outbound, 20) = any($2::text[])
                or left(inbound, 20) = any($2::text[])",
        )
        .bind(&numbers)
        .bind(&codes)
        .persistent(false)
        .execute(&mut *ctx.tx)
        .await?;
        // A few rows as a rule; up to the whole file near the limits.
        sqlx::query("analyze elg_suspects")
            .execute(&mut *ctx.tx)
            .await?;
        Ok(())
    }

    /// Keeps a code's first eleven digits (barcode id, service type, the Mailer ID's first six),
    /// while there are few.
    fn saw_prefix(&mut self, code: &str) {
        let Some(lows) = &mut self.prefixes else {
            return;
        };
        match code.get(..11) {
            Some(low) if lows.contains(low) => {}
            Some(low) if lows.len() < PREFIXES && low.bytes().all(|b| b.is_ascii_digit()) => {
                lows.insert(low.to_owned());
            }
            _ => self.prefixes = None,
        }
    }

    /// Answers the file-wide questions, opens the cursor (each voter's rows together) and
    /// fetches the first batch.
    pub async fn resolve(&mut self, ctx: &mut Ctx<'_>) -> Result<(), sqlx::Error> {
        if let Some(chunk) = self.staged.take() {
            chunk.send(ctx.tx).await?;
        }
        // Planned to be read whole, not for its first rows (a cursor's default), and sorted in
        // memory.
        Executor::execute(
            &mut *ctx.tx,
            "analyze elg_first; set local cursor_tuple_fraction = 1; set local work_mem = '256MB'",
        )
        .await?;
        // DECLARE takes no parameters: the county (five digits, checked on the way in) and the
        // election's id are written into it.
        let county = ctx.county.replace('\'', "''");
        let election = ctx.election().id;
        // The codes' first eleven digits, as staging found them (digits only), or asked of the
        // staged rows when there were too many to keep.
        let lows = match &self.prefixes {
            Some(lows) => format!(
                "select unnest(array[{}]::text[]) as low",
                lows.iter()
                    .map(|low| format!("'{low}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            None => "select left(outbound, 11) as low from elg_first where outbound is not null
                     union
                     select left(inbound, 11) from elg_first where inbound is not null"
                .to_owned(),
        };
        // Each question costs a scan of the file, not a hash of it: numbers that more than one
        // voter names and tracking codes that more than one number carries are rare, and asked
        // about only among those staged as maybe shared (`Sightings`: it never leaves one out),
        // and only the shared ones are sorted to find their first row; the answers (a few rows,
        // as a rule none) are kept aside, and the rows are joined with them only when there
        // are some. Codes held by ballots on file are looked for only among those that share a
        // code's first eleven digits (barcode id, service type and the Mailer ID's first six: a
        // county's own, as a rule), through the barcode indexes, not by reading every ballot of
        // the election, and in every county (the owner's function: row-level security shows the
        // county's own). A number's owner and a code's first claim are rows of known voters,
        // each of the few candidates probed through the voters' key (`offset 0`: not a hash of
        // the county), and a code's first claim is not a row that repeats an earlier row of its
        // ballot (the row-at-a-time path rejects those while reading; looked for only when a
        // code is shared, which is rare: the join then reads the staged rows once).
        // Strings are compared bytewise (`collate "C"`) where only equality matters.
        // The rows those questions read: all the staged rows, or those naming the keys in
        // question, found in one scan (`suspects`).
        self.suspects(ctx).await?;
        let (numbers_from, codes_from) =
            (self.flagged_numbers.source(), self.flagged_codes.source());
        let owners = if self.flagged_numbers.any() {
            let sql = format!(
                "create temporary table elg_owners on commit drop as
                 with shared_numbers as (
                     select number from {numbers_from}
                     where number in (select number from {numbers_from} where maybe_shared_number)
                     group by number
                     having min(voter collate \"C\") <> max(voter collate \"C\"))
                 select distinct on (l.number) l.number, l.voter from {numbers_from} l
                 where l.number in (select number from shared_numbers)
                   and exists (select from voters v where v.county_fips = '{county}'
                               and v.county_voter_id = l.voter offset 0)
                 order by l.number, l.row"
            );
            Executor::execute(&mut *ctx.tx, sql.as_str())
                .await?
                .rows_affected()
        } else {
            0
        };
        let claims = if self.flagged_codes.any() {
            let sql = format!(
                "create temporary table elg_claims on commit drop as
                 with suspect_codes as (
                     select left(outbound, 20) as code from {codes_from}
                     where maybe_shared_code and outbound is not null
                     union
                     select left(inbound, 20) from {codes_from}
                     where maybe_shared_code and inbound is not null),
                 codes as (
                     select left(outbound, 20) as code, row, number, voter, said from {codes_from}
                     where left(outbound, 20) in (select code from suspect_codes)
                     union all
                     select left(inbound, 20), row, number, voter, said from {codes_from}
                     where left(inbound, 20) in (select code from suspect_codes)),
                 shared_codes as (
                     select code from codes group by code
                     having min(number collate \"C\") <> max(number collate \"C\")),
                 candidates as materialized (
                     select c.code, c.row, c.number, c.voter, c.said from codes c
                     where c.code in (select code from shared_codes)),
                 repeats as (
                     select c.row from candidates c
                     join elg_first d on d.voter = c.voter and d.number = c.number
                       and d.said = c.said and d.row < c.row)
                 select distinct on (c.code) c.code, c.number from candidates c
                 where c.row not in (select row from repeats)
                   and exists (select from voters v where v.county_fips = '{county}'
                               and v.county_voter_id = c.voter offset 0)
                 order by c.code, c.row"
            );
            Executor::execute(&mut *ctx.tx, sql.as_str())
                .await?
                .rows_affected()
        } else {
            0
        };
        let (owner, owners_join) = if owners > 0 {
            ("o.voter", "left join elg_owners o on o.number = l.number")
        } else {
            ("null::text", "")
        };
        let (outbound_claim, inbound_claim, claims_join) = if claims > 0 {
            (
                "oc.number",
                "ic.number",
                "left join elg_claims oc on oc.code = left(l.outbound, 20)
                 left join elg_claims ic on ic.code = left(l.inbound, 20)",
            )
        } else {
            ("null::text", "null::text", "")
        };
        // Each voter's rows together, in time order: known voters by their id (a sort on an
        // integer, half the time of one on the text; their ballots numbered in the voters'
        // order), then the unknown ones by the id the file gives.
        let declare = format!(
            "declare elg_first_rows no scroll cursor for
             with ranges as (
                 select low, case when low = '99999999999' then repeat('9', 21)
                                  else lpad((low::bigint + 1)::text, 11, '0') end as high
                 from ({lows}) p),
             held as (
                 select t.code from ranges r
                 cross join lateral ballot_tracking_between({election}, r.low, r.high) as t(code)),
             subscribed as (
                 select distinct voter_id from subscriptions
                 where county_fips = '{county}' and confirmed_at is not null
                   and cancelled_at is null)
             select l.row, l.voter, l.number, l.status, l.reason, l.at, l.outbound, l.inbound,
                    l.said, v.id as voter_id, {owner} as owner,
                    {outbound_claim} as outbound_claim,
                    coalesce(left(l.outbound, 20) in (select code from held), false)
                      as outbound_held,
                    {inbound_claim} as inbound_claim,
                    coalesce(left(l.inbound, 20) in (select code from held), false)
                      as inbound_held,
                    s.voter_id is not null as subscribed
             from elg_first l
             left join voters v on v.county_fips = '{county}' and v.county_voter_id = l.voter
             {owners_join}
             {claims_join}
             left join subscribed s on s.voter_id = v.id
             order by v.id, l.voter collate \"C\", l.at, l.row"
        );
        Executor::execute(&mut *ctx.tx, declare.as_str()).await?;
        self.fetched = fetch(ctx.tx).await?;
        self.more = self.fetched.len() == FETCH_ROWS;
        Ok(())
    }

    /// Decides the rows fetched, the voters they complete, on a thread of its own, while the
    /// connection sends the full buffers of the batch before and fetches the next; false once
    /// the last rows are decided.
    pub async fn next_batch(&mut self, ctx: &mut Ctx<'_>) -> Result<bool, sqlx::Error> {
        let rows = std::mem::take(&mut self.fetched);
        let last = !self.more;
        let Some(mut decider) = self.decider.take() else {
            return Err(sqlx::Error::Protocol(
                "the first load was left unfinished".into(),
            ));
        };
        let deciding = tokio::task::spawn_blocking(move || {
            let done = decider.batch(rows, last);
            (decider, done)
        });
        let Full { main, aside } = std::mem::take(&mut self.chunks);
        let tx = &mut *ctx.tx;
        let io = async move {
            for chunk in main {
                chunk.send(tx).await?;
            }
            if last {
                Ok(Vec::new())
            } else {
                fetch(tx).await
            }
        };
        let side = send_aside(self.aside.as_mut(), aside);
        let (decided, fetched, sent) = tokio::join!(deciding, io, side);
        let (mut decider, done) = match decided {
            Ok(decided) => decided,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(sqlx::Error::Protocol(format!("deciding ballots: {e}"))),
        };
        self.fetched = fetched?;
        sent?;
        done?;
        self.more = self.fetched.len() == FETCH_ROWS;
        decider.tally.add_to(ctx);
        if let Some(load) = &mut decider.load {
            self.chunks = load.take_full();
        }
        self.decider = Some(decider);
        Ok(!last)
    }

    /// Writes the rest and attaches the partition, with the audit rows and the outbox.
    pub async fn finish(mut self, ctx: &mut Ctx<'_>) -> Result<(), sqlx::Error> {
        let Full { main, aside } = std::mem::take(&mut self.chunks);
        let tx = &mut *ctx.tx;
        let io = async move {
            for chunk in main {
                chunk.send(tx).await?;
            }
            Ok::<_, sqlx::Error>(())
        };
        tokio::try_join!(io, send_aside(self.aside.as_mut(), aside))?;
        Executor::execute(&mut *ctx.tx, "close elg_first_rows").await?;
        let Some(decider) = self.decider else {
            return Err(sqlx::Error::Protocol(
                "the first load was left unfinished".into(),
            ));
        };
        if let Some(load) = decider.load {
            ctx.summary.notifications = load.finish(ctx.tx, self.aside, ctx.now).await?;
        }
        Ok(())
    }
}

/// Sends full buffers of events on their own connection.
async fn send_aside(
    aside: Option<&mut EventsAside>,
    chunks: Vec<CopyChunk>,
) -> Result<(), sqlx::Error> {
    match aside {
        Some(aside) => aside.send(chunks).await,
        None if chunks.is_empty() => Ok(()),
        None => Err(sqlx::Error::Protocol(
            "events to send aside without a connection for them".into(),
        )),
    }
}

async fn fetch(tx: &mut PgConnection) -> Result<Vec<PgRow>, sqlx::Error> {
    let fetch = format!("fetch forward {FETCH_ROWS} from elg_first_rows");
    sqlx::query(&fetch).persistent(false).fetch_all(tx).await
}

/// What deciding found, for the import's context: rejections, counts, rows dated before their
/// ballot was issued.
#[derive(Default)]
struct Tally {
    rejections: Vec<Rejection>,
    summary: Summary,
    /// Rows left unchanged as older than their ballot's status: (row, its time, the ballot's
    /// issue), for the early-dates guard (`Ctx::flag_if_before_issue` flags the ones dated
    /// before the issue).
    early: Vec<(u64, DateTime<Utc>, DateTime<Utc>)>,
}

impl Tally {
    fn reject(&mut self, rejection: Rejection) {
        self.rejections.push(rejection);
    }

    /// Hands what was found to the import's context, and starts again empty.
    fn add_to(&mut self, ctx: &mut Ctx<'_>) {
        ctx.rejections.append(&mut self.rejections);
        // Every field named: one the decider may count must not be left behind unseen.
        let Summary {
            rows: _,
            rejected: _,
            unchanged,
            moved,
            issued,
            voters_added: _,
            voters_updated: _,
            barcodes_set,
            notifications,
            latin1: _,
            findings: _,
        } = std::mem::take(&mut self.summary);
        for (status, n) in moved {
            *ctx.summary.moved.entry(status).or_default() += n;
        }
        ctx.summary.unchanged += unchanged;
        ctx.summary.issued += issued;
        ctx.summary.barcodes_set += barcodes_set;
        ctx.summary.notifications += notifications;
        for (row, at, issued) in self.early.drain(..) {
            ctx.flag_if_before_issue(row, at, issued);
        }
    }
}

/// The in-memory side of the first load: each voter's ballots decided by the status machine and
/// encoded for COPY. It touches no database, so it runs on a thread of its own.
struct Decider {
    county: String,
    election_id: i64,
    now: DateTime<Utc>,
    /// The writer, when applying; none in a dry run.
    load: Option<FirstLoad>,
    /// Ids in a dry run, which writes nothing.
    dry_ids: i64,
    /// The voter whose rows may go on in the next batch.
    pending: Vec<Staged>,
    tally: Tally,
}

impl Decider {
    /// Decides the voters these rows complete (all of them after the last rows).
    fn batch(&mut self, rows: Vec<PgRow>, last: bool) -> Result<(), sqlx::Error> {
        for row in rows {
            let row = Staged::from_row(&row)?;
            if self.pending.first().is_some_and(|p| p.voter != row.voter) {
                let group = std::mem::take(&mut self.pending);
                self.voter(group)?;
            }
            self.pending.push(row);
        }
        if last && !self.pending.is_empty() {
            let group = std::mem::take(&mut self.pending);
            self.voter(group)?;
        }
        Ok(())
    }

    fn take_id(&mut self) -> Result<i64, sqlx::Error> {
        match &mut self.load {
            Some(load) => load.take_id(),
            None => {
                self.dry_ids += 1;
                Ok(self.dry_ids - 1)
            }
        }
    }

    /// One voter's rows, in time order: their ballots decided, as the row-at-a-time path
    /// decides them.
    fn voter(&mut self, rows: Vec<Staged>) -> Result<(), sqlx::Error> {
        let rows = self.without_repeats(rows);
        let Some(voter_id) = rows.first().and_then(|r| r.voter_id) else {
            for r in &rows {
                self.tally.reject(Rejection::field(
                    row_number(r),
                    "voter_id",
                    &r.voter,
                    "no voter with this id in the county: load the VOT file first",
                ));
            }
            return Ok(());
        };
        let subscribed = rows.first().is_some_and(|r| r.subscribed);
        let mut ballots: Vec<Timeline> = Vec::new();
        let mut by_number: HashMap<String, usize> = HashMap::new();
        // Numbers whose ballot could not be issued, and the row that said so.
        let mut failed: HashMap<String, u64> = HashMap::new();
        let mut live: Option<usize> = None;
        for r in rows {
            let row = row_number(&r);
            if r.owner.as_ref().is_some_and(|owner| *owner != r.voter) {
                self.tally.reject(Rejection::field(
                    row,
                    "ballot_id",
                    &r.number,
                    "this ballot belongs to another voter",
                ));
                continue;
            }
            let Some(change) = change_of(&r) else {
                self.tally
                    .reject(Rejection::row(row, "the staged status could not be read"));
                continue;
            };
            if let Some(&first) = failed.get(&r.number) {
                self.tally.reject(Rejection::row(
                    row,
                    format!("its ballot was not issued (row {first})"),
                ));
                continue;
            }
            if let Some(&i) = by_number.get(&r.number) {
                // A later row of a ballot of this file: barcodes it adds, then its status.
                let ballot = &ballots[i].ballot;
                let outbound = r
                    .outbound
                    .as_ref()
                    .filter(|c| Some(*c) != ballot.outbound_imb.as_ref());
                let inbound = r
                    .inbound
                    .as_ref()
                    .filter(|c| Some(*c) != ballot.inbound_imb.as_ref());
                // As the row-at-a-time path does: a barcode another ballot carries is refused,
                // and the row's status still counts.
                if let Some((field, code)) = taken(&r, outbound.is_some(), inbound.is_some()) {
                    self.tally.reject(Rejection::field(
                        row,
                        field,
                        &code,
                        "another ballot of this election carries this barcode",
                    ));
                } else if outbound.is_some() || inbound.is_some() {
                    let ballot = &mut ballots[i].ballot;
                    if outbound.is_some() {
                        ballot.outbound_imb.clone_from(&r.outbound);
                    }
                    if inbound.is_some() {
                        ballot.inbound_imb.clone_from(&r.inbound);
                    }
                    self.tally.summary.barcodes_set += 1;
                }
                if change.status == BallotStatus::Issued {
                    self.tally.summary.unchanged += 1;
                    continue;
                }
                propose(&mut self.tally, self.now, &mut ballots[i], row, change);
                continue;
            }
            // A new ballot: its barcodes must be its own.
            if let Some((field, code)) = taken(&r, r.outbound.is_some(), r.inbound.is_some()) {
                self.tally.reject(Rejection::field(
                    row,
                    field,
                    &code,
                    "another ballot of this election carries this barcode",
                ));
                continue;
            }
            let new = NewBallot {
                voter_id,
                county_fips: self.county.clone(),
                election_id: self.election_id,
                ballot_number: r.number.clone(),
                outbound_imb: r.outbound.clone(),
                inbound_imb: r.inbound.clone(),
                replaces: live.map(|i| ballots[i].id),
                issued_at: change.occurred_at,
            };
            let mut timeline = match Timeline::issue(0, new, self.now) {
                Ok(t) => t,
                Err(refusal) => {
                    failed.insert(r.number.clone(), row);
                    self.tally.reject(Rejection::row(
                        row,
                        format!("the ballot cannot be issued: {refusal}"),
                    ));
                    continue;
                }
            };
            // A reissue: the voter's earlier ballot is replaced first.
            if let Some(i) = live {
                let replaced = Proposal::new(
                    ballots[i].id,
                    StatusChange::new(BallotStatus::Replaced, change.occurred_at),
                );
                if let Err(refusal) = ballots[i].propose(replaced, self.now) {
                    failed.insert(r.number.clone(), row);
                    self.tally.reject(Rejection::row(
                        row,
                        format!("the voter's earlier ballot cannot be replaced: {refusal}"),
                    ));
                    continue;
                }
                *self
                    .tally
                    .summary
                    .moved
                    .entry(BallotStatus::Replaced)
                    .or_default() += 1;
            }
            timeline.id = self.take_id()?;
            self.tally.summary.issued += 1;
            if change.status != BallotStatus::Issued {
                propose(&mut self.tally, self.now, &mut timeline, row, change);
            }
            by_number.insert(r.number.clone(), ballots.len());
            live = Some(ballots.len());
            ballots.push(timeline);
        }
        if subscribed {
            self.tally.summary.notifications +=
                ballots.iter().filter(|t| t.notice().is_some()).count() as u64;
        }
        if let Some(load) = &mut self.load {
            load.add(&ballots, subscribed);
        }
        Ok(())
    }

    /// Rejects the rows that repeat an earlier row of the voter (the same ballot, status code
    /// and date as written), as the row-at-a-time path does while reading: a voter's rows come
    /// in time order, and rows of one time in file order, so the earlier row is seen first.
    fn without_repeats(&mut self, rows: Vec<Staged>) -> Vec<Staged> {
        if rows.len() < 2 {
            return rows;
        }
        let mut seen: HashMap<(String, i64), u64> = HashMap::new();
        let mut kept = Vec::with_capacity(rows.len());
        for r in rows {
            let key = (r.number.clone(), r.said);
            match seen.get(&key) {
                Some(first) => self.tally.reject(repeats(row_number(&r), *first)),
                None => {
                    seen.insert(key, row_number(&r));
                    kept.push(r);
                }
            }
        }
        kept
    }
}

/// A row's status for its ballot, as the row-at-a-time path tallies it.
fn propose(
    tally: &mut Tally,
    now: DateTime<Utc>,
    ballot: &mut Timeline,
    row: u64,
    change: StatusChange,
) {
    match ballot.propose(Proposal::new(ballot.id, change), now) {
        Ok(()) => *tally.summary.moved.entry(change.status).or_default() += 1,
        Err(refusal) => {
            if refusal == crate::domain::Refusal::OlderThanCurrent {
                tally
                    .early
                    .push((row, change.occurred_at, ballot.ballot.issued_at));
            }
            count_refusal(
                &mut tally.summary,
                &mut tally.rejections,
                row,
                &refusal,
                false,
            );
        }
    }
}

fn row_number(r: &Staged) -> u64 {
    u64::try_from(r.row).unwrap_or(0)
}

fn change_of(r: &Staged) -> Option<StatusChange> {
    let status = BallotStatus::parse(&r.status).ok()?;
    let reason = match &r.reason {
        Some(code) => Some(NotCountedReason::parse(code).ok()?),
        None => None,
    };
    Some(StatusChange {
        status,
        reason,
        occurred_at: r.at,
    })
}

/// The first of the row's barcodes (those asked about) that another ballot carries: one of
/// the election on file, or one of this file that claimed it first.
fn taken(r: &Staged, outbound: bool, inbound: bool) -> Option<(&'static str, String)> {
    let another =
        |claim: &Option<String>, held: bool| held || claim.as_ref().is_some_and(|c| *c != r.number);
    if outbound
        && let Some(code) = &r.outbound
        && another(&r.outbound_claim, r.outbound_held)
    {
        return Some(("outbound_imb", code.clone()));
    }
    if inbound
        && let Some(code) = &r.inbound
        && another(&r.inbound_claim, r.inbound_held)
    {
        return Some(("inbound_imb", code.clone()));
    }
    None
}
