//! Generates the demo election and streams it into PostgreSQL with COPY, in chunks of voters,
//! in one transaction: a failed load leaves nothing behind. On an empty database the events
//! are copied on a second connection into staging tables that this transaction swaps in
//! before it commits (`stage`).

use super::DemoArgs;
use super::counties::{CONTACT_SQL, COUNTIES, DemoCounty};
use super::history::{self, Calendar, Scenario, Timeline};
use super::names::COMMUNITIES;
use super::showcase::SHOWCASE;
use super::stage::{EventStage, Staged};
use anyhow::Context;
use app::audit::{self, ActorKind, AuditAction, AuditEntry};
use app::copy::CopyBuffer;
use app::domain::{Language, NormalizedName};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::America::Los_Angeles;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{PgConnection, PgPool};

const CHUNK: usize = 50_000;

#[derive(Debug, Default)]
pub struct Summary {
    pub voters: u64,
    pub ballots: u64,
    pub events: u64,
    pub subscriptions: u64,
}

struct Person {
    county: &'static DemoCounty,
    county_voter_id: String,
    first: String,
    last: String,
    dob: NaiveDate,
    zip: String,
    language: Language,
    confidential: bool,
    scenario: Scenario,
    subscribe: bool,
    /// One of the fixed showcase voters (printed by `make run`, used by the browser tests).
    showcase: bool,
}

#[derive(Clone)]
struct Election {
    id: i64,
    calendar: Calendar,
}

pub async fn load(pool: &PgPool, args: &DemoArgs) -> anyhow::Result<Summary> {
    let mut tx = pool.begin().await?;
    let bulk: bool = sqlx::query_scalar("select not exists (select 1 from voters)")
        .fetch_one(&mut *tx)
        .await?;
    // On an empty database the events go through a second transaction (`stage`), started
    // before this one touches any table so that neither waits on the other's locks.
    let mut stage = if bulk {
        Some(EventStage::begin(pool).await?)
    } else {
        None
    };
    let mut staged = None;
    let loaded = match load_in(&mut tx, pool, args, &mut stage, &mut staged).await {
        Ok(summary) => tx
            .commit()
            .await
            .map(|()| summary)
            .map_err(anyhow::Error::from),
        Err(error) => {
            let _ = tx.rollback().await;
            Err(error)
        }
    };
    if loaded.is_err() {
        if let Some(stage) = stage.take() {
            stage.abandon(pool).await;
        }
        if let Some(staged) = staged.take() {
            staged.discard(pool).await;
        }
    }
    let summary = loaded?;
    // The events' statistics come from autovacuum; the look-up tables' are needed at once.
    for table in ["voters", "ballots", "subscriptions"] {
        sqlx::query(&format!("analyze {table}"))
            .execute(pool)
            .await?;
    }
    Ok(summary)
}

/// Everything but the commit, in the load's transaction `tx`. In bulk mode `stage` takes the
/// events and, once it has committed them, leaves its tables in `staged` for this
/// transaction to swap in.
async fn load_in(
    tx: &mut PgConnection,
    pool: &PgPool,
    args: &DemoArgs,
    stage: &mut Option<EventStage>,
    staged: &mut Option<Staged>,
) -> anyhow::Result<Summary> {
    let bulk = stage.is_some();
    // Index builds and foreign-key validation sort and hash in memory rather than on disk.
    sqlx::query("set local maintenance_work_mem = '256MB'")
        .execute(&mut *tx)
        .await?;
    sqlx::query("set local work_mem = '256MB'")
        .execute(&mut *tx)
        .await?;
    // In bulk mode the events' table is left alone until the swap.
    let tables: &[&str] = if bulk {
        &["voters", "ballots", "subscriptions"]
    } else {
        &LOADED_TABLES
    };
    let foreign_keys = suspend_constraints(tx, &["f"], tables).await?;
    let (indexes, keys) = if bulk {
        suspend_reference_checks(tx).await?;
        (
            suspend_indexes(tx).await?,
            suspend_constraints(tx, &["p", "u"], &["voters", BALLOTS]).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let election = ensure_election(tx).await?;
    let fips: Vec<String> = COUNTIES.iter().map(|c| c.fips.to_owned()).collect();
    sqlx::query(CONTACT_SQL)
        .bind(&fips)
        .execute(&mut *tx)
        .await?;

    let showcase_loaded: bool =
        sqlx::query_scalar("select exists (select 1 from voters where county_voter_id = $1)")
            .bind(SHOWCASE[0].county_voter_id)
            .fetch_one(&mut *tx)
            .await?;
    // The rows are made on a task of their own while this one copies the chunk before: the
    // generator and PostgreSQL each keep a core busy. Chunks arrive in the order they were
    // made, so a seed still gives the same election.
    let (chunks, mut arriving) = tokio::sync::mpsc::channel::<ChunkRows>(1);
    let events_table = stage
        .as_ref()
        .map_or_else(|| "ballot_events".to_owned(), |s| s.table.clone());
    let producer = tokio::spawn(produce(
        pool.clone(),
        args.clone(),
        election.clone(),
        showcase_loaded,
        events_table,
        chunks,
    ));
    let mut summary = Summary::default();
    while let Some(mut rows) = arriving.recv().await {
        summary.voters += rows.voters.rows;
        summary.ballots += rows.ballots.rows;
        summary.events += rows.events.rows;
        summary.subscriptions += rows.subs.rows;
        rows.voters.flush(tx).await?;
        rows.ballots.flush(tx).await?;
        match stage.as_ref() {
            Some(s) => {
                if !s.send(rows.events).await {
                    // The staging transaction failed; its error says why.
                    if let Some(s) = stage.take() {
                        *staged = Some(s.finish().await?);
                    }
                    anyhow::bail!("the events' staging transaction stopped");
                }
            }
            None => rows.events.flush(tx).await?,
        }
        rows.subs.flush(tx).await?;
    }
    producer.await.context("the demo generator stopped")??;
    if let Some(s) = stage.as_mut() {
        s.close();
    }
    let entry = AuditEntry {
        after: Some(serde_json::json!({
            "voters": summary.voters, "ballots": summary.ballots,
            "events": summary.events, "subscriptions": summary.subscriptions,
            "seed": args.seed,
        })),
        entity: Some(("election", election.id.to_string())),
        ..AuditEntry::new(ActorKind::Cli, None, AuditAction::DemoDataLoaded)
    };
    audit::record(tx, entry).await?;
    restore_constraints(tx, &keys).await?;
    for (_, definition) in &indexes {
        sqlx::query(definition).execute(&mut *tx).await?;
    }
    restore_constraints(tx, &foreign_keys).await?;
    if let Some(s) = stage.take() {
        let events = staged.insert(s.finish().await?);
        events.swap_in(tx).await?;
    }
    if bulk {
        restore_reference_checks(tx).await?;
    }
    Ok(summary)
}

/// The partition of `ballots` the demo's ballots go to: their ids come from `ballots_id_seq`,
/// below 2^40 (migration `20261206000003`). The parent has no index of its own; this table
/// has them all.
const BALLOTS: &str = "ballots_0";

/// The tables the loader fills. Their foreign keys are checked row by row during COPY, which is
/// two thirds of the load's time; re-adding a foreign key checks every row in one join instead.
const LOADED_TABLES: [&str; 4] = ["voters", "ballots", "ballot_events", "subscriptions"];

/// In bulk mode (no voters yet) the plain secondary indexes of voters and ballots — never one
/// a constraint uses — are dropped and rebuilt after the load: one sorted build each instead of
/// millions of inserts into indexes larger than PostgreSQL's buffers. Unique ones check
/// everything loaded as they are rebuilt. Their primary and unique keys go too (after the
/// foreign keys that use them), and are added again first, built sorted: kept during `COPY`, the
/// events' key alone cost almost half of their 29.5 s. The events' keys and indexes are built on
/// their staging tables (`stage`).
async fn suspend_indexes(tx: &mut PgConnection) -> Result<Vec<(String, String)>, sqlx::Error> {
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "select i.indexrelid::regclass::text,
                replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
         from pg_index i
         where i.indrelid = any($1::regclass[])
           and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)",
    )
    .bind(["voters", BALLOTS])
    .fetch_all(&mut *tx)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(&format!("drop index {name}"))
            .execute(&mut *tx)
            .await?;
    }
    Ok(indexes)
}

/// Drops the constraints of the given kinds (`f`, `p`, `u`) declared on `tables` (a
/// partitioned table's, not its partitions' copies) and returns each as (table, name,
/// definition) for [`restore_constraints`].
async fn suspend_constraints(
    tx: &mut PgConnection,
    kinds: &[&str],
    tables: &[&str],
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    let constraints: Vec<(String, String, String)> = sqlx::query_as(
        "select c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid)
         from pg_constraint c
         where c.contype::text = any($1) and c.conrelid = any($2::regclass[])
           and c.conparentid = 0
         order by c.contype, c.conname",
    )
    .bind(kinds)
    .bind(tables)
    .fetch_all(&mut *tx)
    .await?;
    for (table, name, _) in &constraints {
        sqlx::query(&format!("alter table {table} drop constraint {name}"))
            .execute(&mut *tx)
            .await?;
    }
    Ok(constraints)
}

/// The per-statement reference checks of ballots and events (migrations `20261203000004` and
/// `…05`) read the whole chunk back after each COPY and probe an index for every row. In bulk
/// mode the ballots' is switched off inside the load's transaction (the events are staged in
/// tables without it) and the references of both are checked once, over everything loaded,
/// before commit (`restore_reference_checks`).
const REFERENCE_TRIGGERS: [(&str, &str); 1] = [("ballots", "ballots_references")];

async fn suspend_reference_checks(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    for (table, trigger) in REFERENCE_TRIGGERS {
        sqlx::query(&format!("alter table {table} disable trigger {trigger}"))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Switches the reference checks back on and checks what the load wrote, as they would have:
/// a missing reference fails the load (and so rolls it back). The loader's COPY names no
/// import, account or API token column on an event, and the disabled trigger's lock and the
/// swap's kept other writers out, so those references are absent.
async fn restore_reference_checks(tx: &mut PgConnection) -> anyhow::Result<()> {
    for (table, trigger) in REFERENCE_TRIGGERS {
        sqlx::query(&format!("alter table {table} enable trigger {trigger}"))
            .execute(&mut *tx)
            .await?;
    }
    // One anti-join each, counted: with `limit 1` PostgreSQL would probe an index per row
    // hoping to stop early (9 s for the events of a million voters); a count hashes the
    // referenced side once and scans the other in parallel (2 s).
    let checks = [
        "select count(*) from ballots n where not exists
           (select from voters v where v.id = n.voter_id and v.county_fips = n.county_fips)",
        "select count(*) from ballots n where not exists
           (select from elections e where e.id = n.election_id)",
        "select count(*) from ballots n where n.replaces_ballot_id is not null and not exists
           (select from ballots b where b.id = n.replaces_ballot_id)",
        "select count(*) from ballot_events n where not exists
           (select from ballots b where b.id = n.ballot_id and b.county_fips = n.county_fips)",
    ];
    for check in checks {
        let missing: i64 = sqlx::query_scalar(check).fetch_one(&mut *tx).await?;
        anyhow::ensure!(
            missing == 0,
            "{missing} demo rows refer to rows that are not there ({check})"
        );
    }
    Ok(())
}

/// Adds back what the load dropped (the events' key, foreign keys), checking what was loaded.
async fn restore_constraints(
    tx: &mut PgConnection,
    keys: &[(String, String, String)],
) -> Result<(), sqlx::Error> {
    for (table, name, definition) in keys {
        sqlx::query(&format!(
            "alter table {table} add constraint {name} {definition}"
        ))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The demo's statewide general election: Election Day the Tuesday ten or more days ago, so
/// ballots are in every stage and cure deadlines are still ahead.
async fn ensure_election(tx: &mut PgConnection) -> anyhow::Result<Election> {
    let now = Utc::now();
    let mut day = (now - Duration::days(10))
        .with_timezone(&Los_Angeles)
        .date_naive();
    while day.weekday() != Weekday::Tue {
        day = day.pred_opt().unwrap_or(day);
    }
    let local = |d: NaiveDate, h: u32| -> DateTime<Utc> {
        let naive = d.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default());
        Los_Angeles
            .from_local_datetime(&naive)
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    let mail_from = day - Duration::days(29);
    let receipt_deadline = day + Duration::days(7);
    let certification = day + Duration::days(30);
    let cure_deadline = local(certification - Duration::days(2), 17);
    let name = format!("{} Statewide General Election", day.year());
    let existing: Option<i64> = sqlx::query_scalar(
        "select id from elections where county_fips is null and name = $1 and election_day = $2",
    )
    .bind(&name)
    .bind(day)
    .fetch_optional(&mut *tx)
    .await?;
    let id = match existing {
        Some(id) => id,
        None => {
            sqlx::query_scalar(
                "insert into elections (state_code, name, election_day, ballots_mailed_from,
                    receipt_deadline, cure_deadline, certification_date)
                 values ('CA', $1, $2, $3, $4, $5, $6) returning id",
            )
            .bind(&name)
            .bind(day)
            .bind(mail_from)
            .bind(receipt_deadline)
            .bind(cure_deadline)
            .bind(certification)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    Ok(Election {
        id,
        calendar: Calendar {
            mail_from: local(mail_from, 9),
            election_day: local(day, 20),
            receipt_deadline: local(receipt_deadline, 17),
            now,
        },
    })
}

fn showcase_person(v: &super::showcase::ShowcaseVoter) -> Person {
    let county = COUNTIES
        .iter()
        .find(|c| c.fips == v.county_fips)
        .unwrap_or(&COUNTIES[0]);
    Person {
        county,
        county_voter_id: v.county_voter_id.to_owned(),
        first: v.first.to_owned(),
        last: v.last.to_owned(),
        dob: NaiveDate::from_ymd_opt(v.dob.0, v.dob.1, v.dob.2).unwrap_or_default(),
        zip: v.zip.to_owned(),
        language: v.language,
        confidential: v.confidential,
        scenario: v.scenario,
        subscribe: true,
        showcase: true,
    }
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut x = rng.random_range(0..total.max(1));
    for item in items {
        let w = weight(item);
        if x < w {
            return item;
        }
        x -= w;
    }
    &items[0]
}

fn random_person(rng: &mut StdRng) -> Person {
    let county = pick(rng, COUNTIES, |c| c.weight);
    let community = pick(rng, COMMUNITIES, |c| c.weight);
    let (lo, hi) = county.zips[rng.random_range(0..county.zips.len())];
    let days = rng.random_range(0..28_000);
    Person {
        county,
        county_voter_id: String::new(),
        first: community.first[rng.random_range(0..community.first.len())].to_owned(),
        last: community.last[rng.random_range(0..community.last.len())].to_owned(),
        dob: NaiveDate::from_ymd_opt(1930, 1, 1).unwrap_or_default() + Duration::days(days),
        zip: format!("{:05}", rng.random_range(lo..=hi)),
        language: if rng.random_bool(community.prefers_own_language) {
            community.language
        } else {
            Language::En
        },
        confidential: rng.random_bool(0.001),
        scenario: history::random_scenario(rng),
        subscribe: rng.random_bool(0.03),
        showcase: false,
    }
}

/// Reserves a block of `n` ids in one statement. Another writer's `nextval` landing inside the
/// block between the two calls would make one of the two inserts fail on the primary key —
/// loudly, never a silent duplicate — so the demo loader accepts that microsecond window.
async fn reserve(tx: &mut PgConnection, sequence: &str, n: usize) -> Result<Vec<i64>, sqlx::Error> {
    let n = i64::try_from(n).unwrap_or(0);
    if n == 0 {
        return Ok(Vec::new());
    }
    let last: i64 =
        sqlx::query_scalar("select setval($1::regclass, nextval($1::regclass) + $2 - 1)")
            .bind(sequence)
            .bind(n)
            .fetch_one(&mut *tx)
            .await?;
    Ok((last - n + 1..=last).collect())
}

struct BallotPlan {
    voter: usize,
    replaces: Option<usize>,
    timeline: Timeline,
}

/// One chunk of voters with their ballots, events and subscriptions, as COPY text.
struct ChunkRows {
    voters: CopyBuffer,
    ballots: CopyBuffer,
    events: CopyBuffer,
    subs: CopyBuffer,
}

/// Makes the election chunk by chunk and hands each to the loader. Ids come from the sequences
/// through a connection of its own (sequences stand outside transactions), so this never waits
/// on the loader's COPY. Stops quietly when the loader has stopped listening.
async fn produce(
    pool: PgPool,
    args: DemoArgs,
    election: Election,
    showcase_loaded: bool,
    events_table: String,
    chunks: tokio::sync::mpsc::Sender<ChunkRows>,
) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut people: Vec<Person> = Vec::with_capacity(CHUNK);
    let showcase = if showcase_loaded { 0 } else { SHOWCASE.len() };
    let random = args.voters.saturating_sub(showcase);
    let mut made = 0;
    if !showcase_loaded {
        people.extend(SHOWCASE.iter().map(showcase_person));
    }
    while made < random || !people.is_empty() {
        while people.len() < CHUNK && made < random {
            let mut person = random_person(&mut rng);
            // However small the election, every reason a ballot is not counted appears.
            if let Some(reason) = app::domain::NotCountedReason::ALL.get(made) {
                person.scenario = Scenario::NotCounted(*reason);
            }
            people.push(person);
            made += 1;
        }
        let rows = make_chunk(&mut conn, &mut rng, &election, &events_table, &people).await?;
        if chunks.send(rows).await.is_err() {
            return Ok(());
        }
        people.clear();
    }
    Ok(())
}

async fn make_chunk(
    conn: &mut PgConnection,
    rng: &mut StdRng,
    election: &Election,
    events_table: &str,
    people: &[Person],
) -> anyhow::Result<ChunkRows> {
    let cal = &election.calendar;
    let started = std::time::Instant::now();
    // Plan every ballot's history first, so the ids needed are known.
    let mut plans: Vec<BallotPlan> = Vec::with_capacity(people.len() + people.len() / 20);
    for (i, p) in people.iter().enumerate() {
        let start = cal.mail_from - Duration::hours(rng.random_range(24..120));
        let timeline = history::build(rng, cal, &p.zip, start, p.scenario)?;
        anyhow::ensure!(
            timeline.last.status == p.scenario.final_status(),
            "a demo history ended in {:?} instead of {:?}",
            timeline.last.status,
            p.scenario.final_status()
        );
        let replaced_at = timeline.last.at;
        let reissued = p.scenario == Scenario::Reissued;
        plans.push(BallotPlan {
            voter: i,
            replaces: None,
            timeline,
        });
        if reissued {
            let next = if p.showcase {
                Scenario::InTransit
            } else {
                history::replacement_scenario(rng)
            };
            let timeline = history::build(rng, cal, &p.zip, replaced_at, next)?;
            plans.push(BallotPlan {
                voter: i,
                replaces: Some(plans.len() - 1),
                timeline,
            });
        }
    }
    let n_events: usize = plans.iter().map(|b| b.timeline.steps.len()).sum();
    let voter_ids = reserve(conn, "voters_id_seq", people.len()).await?;
    let ballot_ids = reserve(conn, "ballots_id_seq", plans.len()).await?;
    let mut event_ids = reserve(conn, "ballot_events_id_seq", n_events)
        .await?
        .into_iter();

    let mut voters = CopyBuffer::new(
        "voters",
        &[
            "id",
            "county_fips",
            "county_voter_id",
            "first_name",
            "last_name",
            "first_name_norm",
            "last_name_norm",
            "date_of_birth",
            "residential_zip",
            "precinct",
            "language",
            "confidential",
            "email",
            "phone",
        ],
    );
    let mut subs = CopyBuffer::new(
        "subscriptions",
        &[
            "voter_id",
            "county_fips",
            "channel",
            "address",
            "language",
            "confirmed_at",
        ],
    );
    for (p, id) in people.iter().zip(&voter_ids) {
        let county_voter_id = if p.county_voter_id.is_empty() {
            format!("{}{:08}", p.county.short, id)
        } else {
            p.county_voter_id.clone()
        };
        let first_norm = NormalizedName::parse(&p.first)?.into_inner();
        let last_norm = NormalizedName::parse(&p.last)?.into_inner();
        let ascii = |s: &str| {
            s.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        };
        let email = format!(
            "{}.{}{}@example.com",
            ascii(&first_norm),
            ascii(&last_norm),
            id % 1000
        );
        let phone = format!("+1{}55501{:02}", area_code(p.county), id % 100);
        let has_email = p.subscribe || rng.random_bool(0.35);
        let has_phone = rng.random_bool(0.25);
        voters
            .plain(id)
            .plain(p.county.fips)
            .text(&county_voter_id)
            .text(&p.first)
            .text(&p.last)
            .text(&first_norm)
            .text(&last_norm)
            .plain(p.dob)
            .plain(&p.zip)
            .plain(format!(
                "{}-{:04}",
                p.county.short,
                rng.random_range(1..=1500)
            ))
            .plain(p.language.code())
            .plain(p.confidential)
            .opt_text(has_email.then_some(email.as_str()))
            .opt_plain(has_phone.then_some(&phone));
        voters.end_row();
        if p.subscribe {
            let (channel, address) = match rng.random_range(0..10) {
                0..6 => ("email", email.clone()),
                6..9 => ("sms", phone.clone()),
                _ => ("voice", phone.clone()),
            };
            let channel = if p.showcase { "email" } else { channel };
            let address = if channel == "email" { email } else { address };
            subs.plain(id)
                .plain(p.county.fips)
                .plain(channel)
                .text(&address)
                .plain(p.language.code())
                .plain((cal.mail_from - Duration::days(rng.random_range(3..60))).to_rfc3339());
            subs.end_row();
        }
    }

    let mut ballots = CopyBuffer::new(
        "ballots",
        &[
            "id",
            "county_fips",
            "election_id",
            "voter_id",
            "ballot_number",
            "outbound_imb",
            "inbound_imb",
            "status",
            "status_reason",
            "status_at",
            "expected_delivery",
            "replaces_ballot_id",
        ],
    );
    let mut events = CopyBuffer::new(
        events_table,
        &[
            "id",
            "ballot_id",
            "county_fips",
            "status",
            "reason",
            "occurred_at",
            "source",
            "postal_facility_zip",
            "postal_operation",
            "expected_delivery",
            "notify",
        ],
    );
    for (plan, ballot_id) in plans.iter().zip(&ballot_ids) {
        let p = &people[plan.voter];
        let serial = ballot_id % 1_000_000_000;
        let last = plan.timeline.last;
        ballots
            .plain(ballot_id)
            .plain(p.county.fips)
            .plain(election.id)
            .plain(voter_ids[plan.voter])
            .plain(format!("{}-{:09}", p.county.short, ballot_id))
            .plain(format!("00040123456{serial:09}{}", p.zip))
            .plain(format!("00700654321{serial:09}{}", return_zip(p.county)))
            .plain(last.status.code())
            .opt_plain(last.reason.map(|r| r.code()))
            .plain(last.at.to_rfc3339())
            .opt_plain(plan.timeline.expected_delivery)
            .opt_plain(plan.replaces.map(|i| ballot_ids[i]));
        ballots.end_row();
        for step in &plan.timeline.steps {
            // Ids in step order: time order per ballot.
            let Some(event_id) = event_ids.next() else {
                break;
            };
            events
                .plain(event_id)
                .plain(ballot_id)
                .plain(p.county.fips)
                .plain(step.change.status.code())
                .opt_plain(step.change.reason.map(|r| r.code()))
                .plain(step.change.occurred_at.to_rfc3339())
                .plain("system")
                .opt_plain(step.scan.as_ref().map(|s| &s.0))
                .opt_plain(step.scan.as_ref().map(|s| s.1))
                .opt_plain(step.expected_delivery)
                .plain(step.notify);
            events.end_row();
        }
    }
    tracing::debug!(
        elapsed_secs = started.elapsed().as_secs_f64(),
        copy.statement = "generate",
        "generated a chunk"
    );
    Ok(ChunkRows {
        voters,
        ballots,
        events,
        subs,
    })
}

fn area_code(county: &DemoCounty) -> u32 {
    match county.short {
        "LA" => 213,
        "SD" => 619,
        "OR" => 714,
        "SC" => 408,
        "AL" => 510,
        "SF" => 415,
        _ => 559,
    }
}

/// The ZIP printed on the county's return envelopes.
fn return_zip(county: &DemoCounty) -> String {
    format!("{:05}", county.zips[0].0)
}
