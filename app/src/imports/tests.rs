//! Imports against a real PostgreSQL (a fresh database per test): the sample files of
//! `fixtures/feeds/`, re-imports, wrong files, bad input.

use super::run::{self, Blocked, Limits, Mode, Report, Request};
use super::{FeedKind, Guard};
use crate::domain::BallotStatus;
use sqlx::PgPool;

const COUNTY: &str = "06001";

fn sample(kind: FeedKind) -> Vec<u8> {
    let path = format!(
        "{}/../fixtures/feeds/{}.csv",
        env!("CARGO_MANIFEST_DIR"),
        kind.code()
    );
    std::fs::read(path).unwrap()
}

async fn election(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "insert into elections (state_code, name, election_day, ballots_mailed_from,
           receipt_deadline, cure_deadline, certification_date)
         values ('CA', 'General', '2026-11-03', '2026-10-05', '2026-11-10',
                 '2026-12-01 17:00-08', '2026-12-03') returning id",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The election, with the county's voters from the sample VOT file.
async fn election_with_voters(pool: &PgPool) -> i64 {
    let e = election(pool).await;
    run_file(
        pool,
        &request(FeedKind::Vot, e),
        &sample(FeedKind::Vot),
        apply(),
    )
    .await;
    e
}

/// The header rows of generated files.
const VOT_HEADER: &str = "county_fips,voter_id,first_name,middle_name,last_name,suffix,\
    date_of_birth,residential_zip,precinct,language,confidential,email,phone\n";
const ELG_HEADER: &str = "county_fips,election_date,voter_id,ballot_id,status_code,status_date,\
    reason_code,outbound_imb,inbound_imb\n";

fn request(kind: FeedKind, election: i64) -> Request {
    Request {
        county_fips: COUNTY.into(),
        election_id: Some(election),
        kind,
        file_name: format!("{}.csv", kind.code()),
        user_id: None,
        api_token_id: None,
        limits: Limits::default(),
    }
}

async fn run_file(pool: &PgPool, request: &Request, text: &[u8], mode: Mode) -> Report {
    let id = run::start(pool, request).await.unwrap();
    run::process(pool, id, request, &mode, text).await.unwrap()
}

fn apply() -> Mode {
    Mode::Apply {
        confirmed: vec![],
        skip_rejected: false,
    }
}

/// Applying the rows that passed, the rejected ones left out.
fn apply_skipping_rejected() -> Mode {
    Mode::Apply {
        confirmed: vec![],
        skip_rejected: true,
    }
}

/// An ELG text applied to the election, its rejected rows left out.
async fn apply_elg_skipping_rejected(pool: &PgPool, election: i64, text: &[u8]) -> Report {
    run_file(
        pool,
        &request(FeedKind::Elg, election),
        text,
        apply_skipping_rejected(),
    )
    .await
}

/// The same database through the serving app's role, under row-level security, as deployed
/// (with connections enough for a first load's events to go aside).
async fn app_role(pool: &PgPool) -> PgPool {
    app_role_of(pool, 3).await
}

/// As `app_role`, with a pool of `connections`.
async fn app_role_of(pool: &PgPool, connections: u32) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("set role ballot_tracker_app")
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap()
}

/// Keeps the number of each partition whose events are written aside (`asides_made`): their
/// records go when they are attached or swept.
async fn watch_asides(pool: &PgPool) {
    sqlx::raw_sql(
        "create table asides_made (k integer);
         create function asides_made() returns trigger language plpgsql as $$
         begin insert into asides_made values (new.id); return null; end $$;
         create trigger asides_made after insert on ballot_event_asides
           for each row execute function asides_made();",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// Aside tables and their records left behind.
async fn asides_left(pool: &PgPool) -> (i64, i64) {
    (
        count(
            pool,
            r"select count(*) from pg_class where relname like 'ballot\_events\_aside\_%'",
        )
        .await,
        count(pool, "select count(*) from ballot_event_asides").await,
    )
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn status_of(pool: &PgPool, number: &str) -> (String, Option<String>) {
    sqlx::query_as("select status, status_reason from ballots where ballot_number = $1")
        .bind(number)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn load_samples(pool: &PgPool, election: i64) -> Vec<Report> {
    let mut reports = Vec::new();
    for kind in FeedKind::ALL {
        let r = run_file(pool, &request(kind, election), &sample(kind), apply()).await;
        assert!(r.applied, "{kind:?}: {:?} {:?}", r.blocked, r.summary);
        reports.push(r);
    }
    reports
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn the_samples_import_in_order(pool: PgPool) {
    let e = election(&pool).await;
    let reports = load_samples(&pool, e).await;
    let [vot, elg, trk, pkg] = [&reports[0], &reports[1], &reports[2], &reports[3]];
    assert_eq!((vot.summary.voters_added, vot.summary.rejected), (5, 0));
    assert_eq!(elg.summary.issued, 5);
    assert_eq!(elg.summary.moved.get(&BallotStatus::Received), Some(&3));
    assert_eq!(elg.summary.moved.get(&BallotStatus::Counted), Some(&1));
    assert_eq!(trk.summary.barcodes_set, 4);
    assert_eq!(pkg.summary.moved.get(&BallotStatus::InTransit), Some(&2));
    assert_eq!(pkg.summary.moved.get(&BallotStatus::Delivered), Some(&1));
    assert_eq!(
        pkg.summary.moved.get(&BallotStatus::ReturnInTransit),
        Some(&1)
    );
    // AL-1002's scan is older than its "received": nothing to add.
    assert_eq!(pkg.summary.unchanged, 1);

    assert_eq!(status_of(&pool, "AL-B-1001").await.0, "return_in_transit");
    assert_eq!(status_of(&pool, "AL-B-1002").await.0, "received");
    assert_eq!(
        status_of(&pool, "AL-B-1003").await,
        ("not_counted".into(), Some("signature_missing".into()))
    );
    assert_eq!(status_of(&pool, "AL-B-1004").await.0, "counted");
    assert_eq!(status_of(&pool, "AL-B-1005").await.0, "issued");
    // The names as the county spells them, normalised for the look-up.
    let (first, norm): (String, String) = sqlx::query_as(
        "select first_name, last_name_norm from voters where county_voter_id = 'AL-1002'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((first.as_str(), norm.as_str()), ("Siobhán", "obrien"));
    let phone: Option<String> =
        sqlx::query_scalar("select phone from voters where county_voter_id = 'AL-1001'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(phone.as_deref(), Some("+15105550101"));
    // The first scan's event says when to expect the ballot: the next day, from the voter's
    // own sectional center; scan times are the facility's local time.
    let (expected, at): (chrono::NaiveDate, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "select e.expected_delivery, e.occurred_at from ballot_events e join ballots b on b.id = e.ballot_id
         where b.ballot_number = 'AL-B-1001' and e.status = 'in_transit' order by e.id limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(expected.to_string(), "2026-10-08");
    assert_eq!(at.to_rfc3339(), "2026-10-07T13:12:00+00:00");
    // Every event names its import; each file has its audit row.
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballot_events where import_id is null"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from audit_log where action = 'import.applied'"
        )
        .await,
        4
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from imports where state = 'applied'"
        )
        .await,
        4
    );
}

/// A ballot the postal service could not deliver: a scan of an undeliverable operation after
/// its scans on the way out makes it undeliverable, at the facility's local time.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_scan_returned_undeliverable_makes_the_ballot_undeliverable(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    let mut elg = String::from(ELG_HEADER);
    elg.push_str("06001,2026-11-03,AL-1001,AL-B-1001,MAILED,2026-10-06,,00700123456000000042,\n");
    run_file(&pool, &request(FeedKind::Elg, e), elg.as_bytes(), apply()).await;
    let pkg = b"tracking_code,routing_code,operation_code,facility_zip,scan_time\n\
        00700123456000000042,94601,918,94615,2026-10-07 06:12:00\n\
        00700123456000000042,94601,04,94601,2026-10-09 10:30:00\n";
    let r = run_file(&pool, &request(FeedKind::Pkg, e), pkg, apply()).await;
    assert!(r.applied, "{r:?}");
    assert_eq!(r.summary.moved.get(&BallotStatus::InTransit), Some(&1));
    assert_eq!(r.summary.moved.get(&BallotStatus::Undeliverable), Some(&1));
    assert_eq!(status_of(&pool, "AL-B-1001").await.0, "undeliverable");
    // 10:30 in Oakland, daylight saving time: 17:30 UTC.
    let at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select status_at from ballots where ballot_number = 'AL-B-1001'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(at.to_rfc3339(), "2026-10-09T17:30:00+00:00");
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_file_applied_twice_changes_nothing_the_second_time(pool: PgPool) {
    let e = election(&pool).await;
    load_samples(&pool, e).await;
    let events = count(&pool, "select count(*) from ballot_events").await;
    let voters = count(&pool, "select sum(xmin::text::bigint)::bigint from voters").await;
    for kind in FeedKind::ALL {
        let again = run_file(&pool, &request(kind, e), &sample(kind), apply()).await;
        assert!(again.applied);
        let s = &again.summary;
        assert!(s.moved.is_empty(), "{kind:?}: {s:?}");
        assert_eq!(
            (
                s.issued,
                s.voters_added,
                s.voters_updated,
                s.barcodes_set,
                s.rejected
            ),
            (0, 0, 0, 0, 0),
            "{kind:?}"
        );
        assert_eq!(s.unchanged, s.rows, "{kind:?}");
    }
    assert_eq!(
        count(&pool, "select count(*) from ballot_events").await,
        events
    );
    assert_eq!(
        count(&pool, "select sum(xmin::text::bigint)::bigint from voters").await,
        voters,
        "no voter row was rewritten"
    );
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_dry_run_says_what_applying_would_do_and_changes_nothing(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    let dry = run_file(
        &pool,
        &request(FeedKind::Elg, e),
        &sample(FeedKind::Elg),
        Mode::DryRun,
    )
    .await;
    assert!(!dry.applied);
    assert_eq!(dry.summary.issued, 5);
    assert!(
        dry.summary
            .lines()
            .contains(&"3 ballots → received".to_owned()),
        "{:?}",
        dry.summary.lines()
    );
    assert_eq!(count(&pool, "select count(*) from ballots").await, 0);
    assert_eq!(count(&pool, "select count(*) from ballot_events").await, 0);
    let stored: serde_json::Value = sqlx::query_scalar("select summary from imports where id = $1")
        .bind(dry.import_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored["issued"], 5);
    // Applying afterwards does exactly what the dry run said.
    let applied = run::process(
        &pool,
        dry.import_id,
        &request(FeedKind::Elg, e),
        &apply(),
        &sample(FeedKind::Elg)[..],
    )
    .await
    .unwrap();
    assert!(applied.applied);
    assert_eq!(applied.summary, dry.summary);
    // And a different file is not taken for the one checked.
    let other = run::start(&pool, &request(FeedKind::Elg, e)).await.unwrap();
    run::process(
        &pool,
        other,
        &request(FeedKind::Elg, e),
        &Mode::DryRun,
        &sample(FeedKind::Elg)[..],
    )
    .await
    .unwrap();
    let mut changed = sample(FeedKind::Elg);
    changed.extend_from_slice(b"06001,2026-11-03,AL-1005,AL-B-1005,MAILED,2026-10-07,,,\n");
    let err = run::process(
        &pool,
        other,
        &request(FeedKind::Elg, e),
        &apply(),
        &changed[..],
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("not the file that was checked"),
        "{err}"
    );
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn another_elections_file_is_stopped(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    // The primary's file, loaded into the general election.
    let primary = String::from_utf8(sample(FeedKind::Elg))
        .unwrap()
        .replace("2026-11-03", "2026-06-02");
    let r = run_file(
        &pool,
        &request(FeedKind::Elg, e),
        primary.as_bytes(),
        apply(),
    )
    .await;
    assert!(!r.applied);
    assert_eq!(r.summary.raised(), vec![Guard::OtherElection]);
    assert_eq!(r.summary.findings[0].rows, 10);
    assert!(r.summary.findings[0].detail.contains("2026-06-02"));
    assert_eq!(
        r.blocked,
        Some(Blocked::Unconfirmed(vec![Guard::OtherElection]))
    );
    assert_eq!(r.summary.rejected, 10);
    assert_eq!(count(&pool, "select count(*) from ballots").await, 0);
    // Confirming the guard does not apply another election's rows: they stay rejected.
    let confirmed = run_file(
        &pool,
        &request(FeedKind::Elg, e),
        primary.as_bytes(),
        Mode::Apply {
            confirmed: vec![Guard::OtherElection],
            skip_rejected: false,
        },
    )
    .await;
    assert_eq!(confirmed.blocked, Some(Blocked::Rejected(10)));
    assert_eq!(count(&pool, "select count(*) from ballots").await, 0);
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn rows_dated_before_their_ballot_was_issued_need_confirming(pool: PgPool) {
    let e = election(&pool).await;
    load_samples(&pool, e).await;
    let events = count(&pool, "select count(*) from ballot_events").await;
    // Received on October 5th (mailing had begun): the ballot was issued on the 6th.
    let early = "county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n\
                 06001,2026-11-03,AL-1001,AL-B-1001,RECEIVED,2026-10-05 12:00,,,\n";
    let r = run_file(&pool, &request(FeedKind::Elg, e), early.as_bytes(), apply()).await;
    assert!(!r.applied);
    assert_eq!(r.summary.raised(), vec![Guard::EarlyDates]);
    assert!(
        r.summary.findings[0]
            .detail
            .contains("before its ballot was issued"),
        "{:?}",
        r.summary.findings
    );
    assert_eq!(
        r.blocked,
        Some(Blocked::Unconfirmed(vec![Guard::EarlyDates]))
    );
    // Confirmed, it applies and changes nothing: the machine keeps the later status.
    let confirmed = run_file(
        &pool,
        &request(FeedKind::Elg, e),
        early.as_bytes(),
        Mode::Apply {
            confirmed: vec![Guard::EarlyDates],
            skip_rejected: false,
        },
    )
    .await;
    assert!(confirmed.applied, "{:?}", confirmed.blocked);
    assert_eq!(
        count(&pool, "select count(*) from ballot_events").await,
        events
    );
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn rejected_rows_block_the_file_unless_skipped(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    let mut text = sample(FeedKind::Elg);
    text.extend_from_slice(
        b"06001,2026-11-03,AL-9999,AL-B-9999,MAILED,2026-10-06,,,\n\
          06001,2026-11-03,AL-1001,AL-B-1001,SPOILED,2026-10-07,,,\n\
          06001,2026-11-03,AL-1001,AL-B-1001,MAILED,2026-10-06,,,\n\
          06001,2026-11-03,AL-1005,AL-B-1005,REJECTED,2026-10-25,,,\n\
          06001,2026-11-03,AL-1005,AL-B-1005,MAILED,2099-10-06,,,\n\
          06001,2026-11-03,AL-1005,AL-B-1005,MAILED,yesterday,,,\n\
          06001,2026-11-03,AL-1005,AL-B-1005\n",
    );
    let r = run_file(&pool, &request(FeedKind::Elg, e), &text, apply()).await;
    assert_eq!(r.summary.rejected, 7);
    assert_eq!(r.summary.raised(), vec![Guard::FutureDates]);
    assert_eq!(count(&pool, "select count(*) from ballots").await, 0);
    let report = run::rejections(&pool, r.import_id, COUNTY).await.unwrap();
    let reasons: Vec<(i64, &str)> = report.iter().map(|x| (x.row, x.reason.as_str())).collect();
    assert!(
        reasons
            .iter()
            .any(|(row, why)| *row == 12 && why.contains("no voter with this id")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(row, why)| *row == 13 && why.contains("unknown status code"))
    );
    assert!(
        reasons
            .iter()
            .any(|(row, why)| *row == 14 && why.contains("repeats row 2"))
    );
    assert!(
        reasons
            .iter()
            .any(|(row, why)| *row == 15 && why.contains("needs a reason"))
    );
    assert!(
        reasons
            .iter()
            .any(|(row, why)| *row == 16 && why.contains("future"))
    );
    assert!(
        reasons
            .iter()
            .any(|(row, why)| *row == 17 && why.contains("not a date"))
    );
    assert!(
        reasons
            .iter()
            .any(|(row, why)| *row == 18 && why.contains("4 fields"))
    );
    let csv = run::rejections_csv(&report);
    assert!(csv.starts_with("\u{feff}row,field,value,reason\r\n"));

    let skipped = run_file(
        &pool,
        &request(FeedKind::Elg, e),
        &text,
        Mode::Apply {
            confirmed: vec![Guard::FutureDates],
            skip_rejected: true,
        },
    )
    .await;
    assert!(skipped.applied);
    assert_eq!(count(&pool, "select count(*) from ballots").await, 5);
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_tracking_code_belongs_to_one_ballot_of_the_election(pool: PgPool) {
    let e = election(&pool).await;
    load_samples(&pool, e).await;
    // AL-B-1005 is given AL-B-1001's outbound tracking code with another routing code, and
    // AL-B-1004 AL-B-1002's return tracking code as its outbound one: scans could not tell
    // them apart.
    let text = b"county_fips,election_date,voter_id,ballot_id,outbound_imb,inbound_imb\n\
        06001,2026-11-03,AL-1005,AL-B-1005,0070012345600000100194612,\n\
        06001,2026-11-03,AL-1004,AL-B-1004,00700123456100001002,\n";
    let r = run_file(&pool, &request(FeedKind::Trk, e), text, apply()).await;
    assert_eq!((r.summary.rejected, r.summary.barcodes_set), (2, 0));
    let report = run::rejections(&pool, r.import_id, COUNTY).await.unwrap();
    assert!(
        report
            .iter()
            .all(|x| x.reason.contains("another ballot of this election carries")),
        "{report:?}"
    );
    // The database refuses it too, whatever the routing code (the unique index of the county's
    // partition of its own, which its first file made: `ballots_<k>_outbound_tracking`).
    let refused = sqlx::query(
        "update ballots set outbound_imb = '00700123456000001001' where ballot_number = 'AL-B-1005'",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(
        refused.to_string().contains("_outbound_tracking\""),
        "{refused}"
    );
}

/// New ballots are held to the same rule: a reissue carrying another ballot's tracking code,
/// and the second of two new ballots given one code, are rejected rows, not a database error
/// that ends the import; and a rejected reissue replaces nothing.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_new_ballot_may_not_take_another_ballots_barcode(pool: PgPool) {
    let e = election(&pool).await;
    load_samples(&pool, e).await;
    let text = b"county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n\
        06001,2026-11-03,AL-1001,AL-B-2001,MAILED,2026-10-21,,0070012345600000100194699,\n\
        06001,2026-11-03,AL-1005,AL-B-2005,MAILED,2026-10-21,,00700123456000009999,\n\
        06001,2026-11-03,AL-1003,AL-B-2003,MAILED,2026-10-21,,,00700123456000009999\n";
    let dry = run_file(&pool, &request(FeedKind::Elg, e), text, Mode::DryRun).await;
    let report = run::rejections(&pool, dry.import_id, COUNTY).await.unwrap();
    assert_eq!(
        (dry.summary.issued, dry.summary.rejected),
        (1, 2),
        "{dry:?} {report:?}"
    );
    let rejected: Vec<(i64, Option<&str>)> =
        report.iter().map(|x| (x.row, x.field.as_deref())).collect();
    assert_eq!(
        rejected,
        vec![(2, Some("outbound_imb")), (4, Some("inbound_imb"))],
        "{report:?}"
    );
    assert!(
        report
            .iter()
            .all(|x| x.reason.contains("another ballot of this election carries")),
        "{report:?}"
    );
    let applied = apply_elg_skipping_rejected(&pool, e, text).await;
    assert!(applied.applied, "{applied:?}");
    assert_eq!(status_of(&pool, "AL-B-1001").await.0, "return_in_transit");
    assert_eq!(status_of(&pool, "AL-B-1005").await.0, "replaced");
    assert_eq!(status_of(&pool, "AL-B-2005").await.0, "mailed");
    assert_eq!(status_of(&pool, "AL-B-1003").await.0, "not_counted");
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballots where ballot_number in ('AL-B-2001', 'AL-B-2003')"
        )
        .await,
        0
    );
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn an_unusual_share_needs_confirming(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    let mut strict = request(FeedKind::Elg, e);
    strict.limits = Limits {
        mass_share: 0.2,
        mass_min: 1,
    };
    let r = run_file(&pool, &strict, &sample(FeedKind::Elg), apply()).await;
    assert_eq!(
        r.blocked,
        Some(Blocked::Unconfirmed(vec![Guard::MassChange]))
    );
    let r = run_file(
        &pool,
        &strict,
        &sample(FeedKind::Elg),
        Mode::Apply {
            confirmed: vec![Guard::MassChange],
            skip_rejected: false,
        },
    )
    .await;
    assert!(r.applied);
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn bad_files_get_clear_errors(pool: PgPool) {
    let e = election(&pool).await;
    let req = request(FeedKind::Elg, e);
    for (text, expected) in [
        (&b""[..], "empty"),
        (b"county_fips,voter_id\n", "lacks the column"),
        (b"first_name,last_name\n", "right kind of file"),
    ] {
        let id = run::start(&pool, &req).await.unwrap();
        let err = run::process(&pool, id, &req, &apply(), text)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    // A voter master in Latin-1 with CRLF line ends.
    let latin1: Vec<u8> = String::from_utf8(sample(FeedKind::Vot))
        .unwrap()
        .replace('\n', "\r\n")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    let r = run_file(&pool, &request(FeedKind::Vot, e), &latin1, apply()).await;
    assert!(r.applied && r.summary.latin1);
    assert_eq!(r.summary.voters_added, 5);
    let name: String =
        sqlx::query_scalar("select last_name from voters where county_voter_id = 'AL-1001'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(name, "Peña");
    // Another county's voter master.
    let other = String::from_utf8(sample(FeedKind::Vot))
        .unwrap()
        .replace("06001,", "06067,");
    let r = run_file(&pool, &request(FeedKind::Vot, e), other.as_bytes(), apply()).await;
    assert_eq!(r.summary.raised(), vec![Guard::OtherCounty]);
    assert!(!r.applied);
    // An election of another county cannot be chosen.
    let theirs: i64 = sqlx::query_scalar(
        "insert into elections (state_code, county_fips, name, election_day, ballots_mailed_from,
           receipt_deadline, cure_deadline, certification_date)
         values ('CA', '06067', 'Measure A', '2026-11-03', '2026-10-05', '2026-11-10',
                 '2026-12-01 17:00-08', '2026-12-03') returning id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let err = run::start(&pool, &request(FeedKind::Elg, theirs))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not one of county 06001"), "{err}");
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_reissued_ballot_replaces_the_earlier_one(pool: PgPool) {
    let e = election(&pool).await;
    load_samples(&pool, e).await;
    let text = b"county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n\
                 06001,2026-11-03,AL-1001,AL-B-1001R,MAILED,2026-10-20,,0070012345600000900194601,\n\
                 06001,2026-11-03,AL-1004,AL-B-1004R,MAILED,2026-10-25,,,\n";
    let r = apply_elg_skipping_rejected(&pool, e, text).await;
    assert!(r.applied);
    assert_eq!(r.summary.issued, 1);
    assert_eq!(r.summary.moved.get(&BallotStatus::Replaced), Some(&1));
    // A counted ballot cannot be replaced.
    assert_eq!(r.summary.rejected, 1);
    assert_eq!(status_of(&pool, "AL-B-1001").await.0, "replaced");
    assert_eq!(status_of(&pool, "AL-B-1001R").await.0, "mailed");
    let replaces: Option<i64> = sqlx::query_scalar(
        "select replaces_ballot_id from ballots where ballot_number = 'AL-B-1001R'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(replaces.is_some());
    assert_eq!(status_of(&pool, "AL-B-1004").await.0, "counted");
}

/// A county's first ELG file of an election fills a partition of its own, decided by the same
/// rules: a reissue within the file replaces the earlier ballot, a ballot number is its first
/// voter's, events keep time order, the audit and the outbox are written with it; later files
/// take their ids from the partition's range.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_fills_a_partition_of_its_own(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    watch_asides(&pool).await;
    sqlx::query(
        "insert into subscriptions (voter_id, county_fips, channel, address, language, confirmed_at)
         select id, county_fips, 'email', 'al1002@example.org', 'en', now() from voters
         where county_voter_id = 'AL-1002'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut text = sample(FeedKind::Elg);
    text.extend_from_slice(
        b"06001,2026-11-03,AL-1001,AL-B-1001R,MAILED,2026-10-20,,0070012345600000900194601,\n\
          06001,2026-11-03,AL-1003,AL-B-1002,RECEIVED,2026-10-22,,,\n",
    );
    let dry = run_file(&pool, &request(FeedKind::Elg, e), &text, Mode::DryRun).await;
    assert_eq!(
        count(&pool, "select count(*) from ballot_partitions").await,
        0,
        "a dry run makes no partition"
    );
    let r = run::process(
        &pool,
        dry.import_id,
        &request(FeedKind::Elg, e),
        &apply_skipping_rejected(),
        &text[..],
    )
    .await
    .unwrap();
    assert!(r.applied, "{r:?}");
    assert_eq!(
        r.summary, dry.summary,
        "the dry run said what applying does"
    );
    assert_eq!((r.summary.issued, r.summary.rejected), (6, 1), "{r:?}");
    assert_eq!(r.summary.moved.get(&BallotStatus::Replaced), Some(&1));
    assert_eq!(r.summary.notifications, 1);
    // Its events were written aside, on a connection of their own, and attached.
    assert_eq!(
        count(&pool, "select count(*) from asides_made where k = 1").await,
        1
    );
    assert_eq!(asides_left(&pool).await, (0, 0));
    let report = run::rejections(&pool, r.import_id, COUNTY).await.unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(
        (report[0].row, report[0].reason.as_str()),
        (13, "this ballot belongs to another voter")
    );

    // Every ballot in the pair's range, the partition attached and numbered on.
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballots where id < (1::bigint << 40)"
        )
        .await,
        0
    );
    assert_eq!(count(&pool, "select count(*) from ballots_1").await, 6);
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballot_partitions p where attached_at is not null
               and next_id = (select max(id) + 1 from ballots)"
        )
        .await,
        1
    );
    assert_eq!(status_of(&pool, "AL-B-1001").await.0, "replaced");
    assert_eq!(status_of(&pool, "AL-B-1001R").await.0, "mailed");
    assert_eq!(status_of(&pool, "AL-B-1002").await.0, "received");
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballots n join ballots o on o.id = n.replaces_ballot_id
             where n.ballot_number = 'AL-B-1001R' and o.ballot_number = 'AL-B-1001'"
        )
        .await,
        1
    );
    // Each ballot's timeline starts issued, in time order by id, every event the import's.
    assert_eq!(
        count(
            &pool,
            "select count(*) from (
               select status, first_value(status) over w as first,
                      occurred_at < lag(occurred_at) over w as earlier
               from ballot_events window w as (partition by ballot_id order by id)) t
             where first <> 'issued' or earlier"
        )
        .await,
        0
    );
    let imported: i64 = sqlx::query_scalar(
        "select count(*) from ballot_events where import_id = $1 and source = 'import'",
    )
    .bind(r.import_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        imported,
        count(&pool, "select count(*) from ballot_events").await
    );
    // 6 issued, the sample's 9 changes (mailed ×4, received ×3, not counted, counted), and the
    // reissue's 2 (the earlier ballot replaced, the new one mailed).
    assert_eq!(imported, 6 + 9 + 2);
    // AL-1002's subscription is told the last news of its ballot: received.
    let (template, event_status): (String, String) = sqlx::query_as(
        "select n.template, e.status from notifications n
         join ballot_events e on e.id = n.event_id and e.ballot_id = n.ballot_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (template.as_str(), event_status.as_str()),
        ("received", "received")
    );
    let audit: serde_json::Value = sqlx::query_scalar(
        "select after from audit_log where action = 'ballot.issued' and entity_id = $1::text",
    )
    .bind(r.import_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audit, serde_json::json!({ "ballots": 6, "reissues": 1 }));

    // A later file: the same rows change nothing; a new ballot takes the id after the first
    // load's (the partition's sequence).
    let again = run_file(
        &pool,
        &request(FeedKind::Elg, e),
        &text,
        apply_skipping_rejected(),
    )
    .await;
    assert!(again.applied);
    assert!(again.summary.moved.is_empty(), "{:?}", again.summary);
    let later = b"county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n\
                  06001,2026-11-03,AL-1005,AL-B-1005R,MAILED,2026-10-25,,,\n";
    let later = run_file(&pool, &request(FeedKind::Elg, e), later, apply()).await;
    assert!(later.applied, "{later:?}");
    assert_eq!(later.summary.issued, 1);
    assert_eq!(count(&pool, "select count(*) from ballots_1").await, 7);
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballots b join ballot_partitions p on b.id = p.next_id
             where b.ballot_number = 'AL-B-1005R'"
        )
        .await,
        1
    );
}

/// A ballot of the election in Los Angeles, with the outbound barcode given.
async fn los_angeles_ballot(pool: &PgPool, e: i64, outbound: &str) {
    sqlx::query(
        "with v as (
           insert into voters (county_fips, county_voter_id, first_name, last_name,
             first_name_norm, last_name_norm, date_of_birth, residential_zip)
           values ('06037', 'LA-1', 'Ana', 'Lee', 'ana', 'lee', '1980-01-02', '90012')
           returning id)
         insert into ballots (id, county_fips, election_id, voter_id, ballot_number,
           outbound_imb, status, status_at)
         select nextval('ballots_id_seq'), '06037', $1, v.id, 'LA-B-1',
                $2, 'mailed', now() from v",
    )
    .bind(e)
    .bind(outbound)
    .execute(pool)
    .await
    .unwrap();
}

/// A first file's barcodes are checked as any file's: one carried by another county's ballot of
/// the election (found among the codes that share its first eleven digits), or by an earlier
/// row's other ballot, is a rejected row; a neighbouring code is not.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_keeps_each_barcode_to_one_ballot(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    // Los Angeles has a ballot of the election with tracking code 00700123456000000042.
    los_angeles_ballot(&pool, e, "0070012345600000004290012").await;
    let text = b"county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n\
        06001,2026-11-03,AL-1001,AL-B-1001,MAILED,2026-10-06,,00700123456000000042,\n\
        06001,2026-11-03,AL-1002,AL-B-1002,MAILED,2026-10-06,,00700123456000000043,\n\
        06001,2026-11-03,AL-1003,AL-B-1003,MAILED,2026-10-06,,,00700123456000000043\n\
        06001,2026-11-03,AL-1004,AL-B-1004,MAILED,2026-10-06,,00700123456000000044,\n\
        06001,2026-11-03,AL-1004,AL-B-1004,RECEIVED,2026-10-20,,00700123456000000044,00700123456000000045\n\
        06001,2026-11-03,AL-1002,AL-B-1002,RECEIVED,2026-10-21,,00700123456000000044,\n\
        06001,2026-11-03,AL-9999,AL-B-4001,ISSUED,2026-10-01,,,\n\
        06001,2026-11-03,AL-1005,AL-B-4001,MAILED,2026-10-06,,,\n";
    // As the app's role: Los Angeles's ballot is out of Alameda's sight, not out of the check's.
    let r = run_file(
        &app_role(&pool).await,
        &request(FeedKind::Elg, e),
        text,
        apply_skipping_rejected(),
    )
    .await;
    assert!(r.applied, "{r:?}");
    let report = run::rejections(&pool, r.import_id, COUNTY).await.unwrap();
    let rejected: Vec<(i64, Option<&str>, &str)> = report
        .iter()
        .map(|x| (x.row, x.field.as_deref(), x.reason.as_str()))
        .collect();
    let taken = "another ballot of this election carries this barcode";
    assert_eq!(
        rejected,
        vec![
            (2, Some("outbound_imb"), taken),
            (4, Some("inbound_imb"), taken),
            (7, Some("outbound_imb"), taken),
            (
                8,
                Some("voter_id"),
                "no voter with this id in the county: load the VOT file first"
            )
        ]
    );
    // A number first named with an unknown voter is the next row's known voter's.
    assert_eq!(r.summary.issued, 3);
    // Row 7's barcode is refused, its status is not (as a later file's would be); row 6 gave
    // AL-B-1004 its return barcode.
    assert_eq!(r.summary.moved.get(&BallotStatus::Received), Some(&2));
    assert_eq!(r.summary.barcodes_set, 1);
    assert_eq!(status_of(&pool, "AL-B-1002").await.0, "received");
    let codes: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "select ballot_number, outbound_imb, inbound_imb from ballots
         where county_fips = '06001' order by ballot_number",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        codes,
        vec![
            (
                "AL-B-1002".into(),
                Some("00700123456000000043".into()),
                None
            ),
            (
                "AL-B-1004".into(),
                Some("00700123456000000044".into()),
                Some("00700123456000000045".into())
            ),
            ("AL-B-4001".into(), None, None),
        ]
    );
}

/// Codes of more first digits than staging keeps (a thousand: the query then finds them
/// itself) are checked against the election's other ballots all the same.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_of_many_mailer_ids_keeps_each_barcode_to_one_ballot(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    los_angeles_ballot(&pool, e, "00700123456000000042").await;
    let mut text = String::from(
        "county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n\
         06001,2026-11-03,AL-1001,AL-B-1001,MAILED,2026-10-06,,00700123456000000042,\n\
         06001,2026-11-03,AL-1002,AL-B-1002,MAILED,2026-10-06,,00700123456000000043,\n",
    );
    // A thousand more Mailer IDs, on rows of voters the county does not have.
    for i in 0..1_000 {
        text.push_str(&format!(
            "06001,2026-11-03,AL-X{i},AL-B-X{i},MAILED,2026-10-06,,00700{}000000001,\n",
            100_000 + i
        ));
    }
    let r = run_file(
        &app_role(&pool).await,
        &request(FeedKind::Elg, e),
        text.as_bytes(),
        apply_skipping_rejected(),
    )
    .await;
    assert!(r.applied, "{r:?}");
    let report = run::rejections(&pool, r.import_id, COUNTY).await.unwrap();
    assert_eq!(report.len(), 1_001);
    assert_eq!(
        (
            report[0].row,
            report[0].field.as_deref(),
            report[0].reason.as_str()
        ),
        (
            2,
            Some("outbound_imb"),
            "another ballot of this election carries this barcode"
        )
    );
    assert_eq!(r.summary.issued, 1);
    assert_eq!(status_of(&pool, "AL-B-1002").await.0, "mailed");
}

/// A first file longer than one batch of the cursor, whose last voter's rows fall on both sides
/// of the batches' boundary: the voter's rows wait for the next batch and are decided together,
/// and every ballot is written.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_voter_across_two_batches_of_a_first_file_is_decided_whole(pool: PgPool) {
    use std::fmt::Write;
    let e = election(&pool).await;
    let n = super::elg_first::FETCH_ROWS;
    let mut vot = String::from(VOT_HEADER);
    let mut elg = String::from(ELG_HEADER);
    for i in 0..n {
        writeln!(vot, "06001,V{i:05},Ana,,Lee,,1980-01-01,94601,P-1,en,N,,").unwrap();
        writeln!(elg, "06001,2026-11-03,V{i:05},B{i:05},MAILED,2026-10-06,,,").unwrap();
    }
    // The last voter in the cursor's order has a second row: the file's 20,001st row, the
    // first of the cursor's second batch.
    let last = n - 1;
    writeln!(
        elg,
        "06001,2026-11-03,V{last:05},B{last:05},RECEIVED,2026-10-20,,,"
    )
    .unwrap();
    let voters = run_file(&pool, &request(FeedKind::Vot, e), vot.as_bytes(), apply()).await;
    assert_eq!(voters.summary.voters_added, n as u64);
    let confirmed = Mode::Apply {
        confirmed: vec![Guard::MassChange],
        skip_rejected: false,
    };
    let r = run_file(&pool, &request(FeedKind::Elg, e), elg.as_bytes(), confirmed).await;
    assert!(r.applied, "{:?}", r.blocked);
    assert_eq!(r.summary.rejected, 0);
    assert_eq!(r.summary.issued, n as u64);
    assert_eq!(
        r.summary.moved.get(&BallotStatus::Mailed),
        Some(&(n as u64))
    );
    assert_eq!(r.summary.moved.get(&BallotStatus::Received), Some(&1));
    assert_eq!(count(&pool, "select count(*) from ballots").await, n as i64);
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballots where id >= 1::bigint << 40"
        )
        .await,
        n as i64,
        "all in the pair's partition"
    );
    let (status, _) = status_of(&pool, &format!("B{last:05}")).await;
    assert_eq!(status, "received");
    let events: Vec<String> = sqlx::query_scalar(
        "select e.status from ballot_events e join ballots b on b.id = e.ballot_id
         where b.ballot_number = $1 order by e.id",
    )
    .bind(format!("B{last:05}"))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(events, ["issued", "mailed", "received"]);
    assert_eq!(
        count(&pool, "select count(*) from ballot_events").await,
        2 * n as i64 + 1
    );
}

/// Numbers named by more than one voter and codes carried by more than one number, in a first
/// file: the rows naming them found in one scan while they are few, the whole file read for
/// the question whose keys are more than staging keeps; the same answers every way.
async fn a_first_file_with_shared_keys(pool: PgPool, numbers: usize, codes: usize) {
    use std::fmt::Write;
    let e = election(&pool).await;
    let mut vot = String::from(VOT_HEADER);
    let mut elg = String::from(ELG_HEADER);
    let mut expected = Vec::new();
    let mut row = 1;
    for i in 0..numbers {
        // A's ballot, then B naming A's number.
        writeln!(elg, "06001,2026-11-03,A{i:03},N{i:03},MAILED,2026-10-06,,,").unwrap();
        writeln!(elg, "06001,2026-11-03,B{i:03},N{i:03},MAILED,2026-10-06,,,").unwrap();
        row += 2;
        expected.push((row, "ballot_id", "this ballot belongs to another voter"));
    }
    for i in 0..codes {
        // C's ballot going out with a code, then D's ballot coming back with it.
        let code = format!("007001234560{i:08}");
        writeln!(
            elg,
            "06001,2026-11-03,C{i:03},M{i:03},MAILED,2026-10-06,,{code},"
        )
        .unwrap();
        writeln!(
            elg,
            "06001,2026-11-03,D{i:03},P{i:03},MAILED,2026-10-06,,,{code}"
        )
        .unwrap();
        row += 2;
        expected.push((
            row,
            "inbound_imb",
            "another ballot of this election carries this barcode",
        ));
    }
    for who in ["A", "B", "C", "D"] {
        for i in 0..numbers.max(codes) {
            writeln!(
                vot,
                "06001,{who}{i:03},Ana,,Lee,,1980-01-01,94601,P-1,en,N,,"
            )
            .unwrap();
        }
    }
    run_file(&pool, &request(FeedKind::Vot, e), vot.as_bytes(), apply()).await;
    let mode = Mode::Apply {
        confirmed: vec![Guard::MassChange],
        skip_rejected: true,
    };
    let r = run_file(&pool, &request(FeedKind::Elg, e), elg.as_bytes(), mode).await;
    assert!(r.applied, "{r:?}");
    assert_eq!(r.summary.issued, (numbers + codes) as u64);
    let report = run::rejections(&pool, r.import_id, COUNTY).await.unwrap();
    let rejected: Vec<(i64, &str, &str)> = report
        .iter()
        .map(|x| (x.row, x.field.as_deref().unwrap_or(""), x.reason.as_str()))
        .collect();
    assert_eq!(rejected, expected);
    // C's ballots carry their codes; D's carry none.
    let barcodes: (i64, i64) =
        sqlx::query_as("select count(outbound_imb), count(inbound_imb) from ballots")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(barcodes, (codes as i64, 0));
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_with_a_few_shared_keys(pool: PgPool) {
    let few = super::elg_first::FLAGGED / 2;
    a_first_file_with_shared_keys(pool, few, few).await;
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_with_more_shared_numbers_than_staging_keeps(pool: PgPool) {
    let (few, more) = (super::elg_first::FLAGGED / 2, super::elg_first::FLAGGED + 2);
    a_first_file_with_shared_keys(pool, more, few).await;
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_with_more_shared_codes_than_staging_keeps(pool: PgPool) {
    let (few, more) = (super::elg_first::FLAGGED / 2, super::elg_first::FLAGGED + 2);
    a_first_file_with_shared_keys(pool, few, more).await;
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_with_more_shared_keys_than_staging_keeps(pool: PgPool) {
    let more = super::elg_first::FLAGGED + 2;
    a_first_file_with_shared_keys(pool, more, more).await;
}

/// A first file's rows come back grouped by voter, known voters by their id and unknown ones by
/// the id the file gives, each voter's rows in time order: the rows of an unknown voter spread
/// through the file are one voter's (a repeat found among them), and a known voter's ballot sees
/// its rows in time order whatever the file's order.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_groups_each_voters_rows_known_or_not(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    let text = b"county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n\
        06001,2026-11-03,AL-X2,AL-B-X2,MAILED,2026-10-06,,,\n\
        06001,2026-11-03,AL-1002,AL-B-1002,RECEIVED,2026-10-20,,,\n\
        06001,2026-11-03,AL-X1,AL-B-X1,MAILED,2026-10-06,,,\n\
        06001,2026-11-03,AL-1001,AL-B-1001,MAILED,2026-10-06,,,\n\
        06001,2026-11-03,AL-X2,AL-B-X2,MAILED,2026-10-06,,,\n\
        06001,2026-11-03,AL-1002,AL-B-1002,MAILED,2026-10-06,,,\n";
    let r = apply_elg_skipping_rejected(&pool, e, text).await;
    assert!(r.applied, "{r:?}");
    let report = run::rejections(&pool, r.import_id, COUNTY).await.unwrap();
    let rejected: Vec<(i64, &str)> = report.iter().map(|x| (x.row, x.reason.as_str())).collect();
    let unknown = "no voter with this id in the county: load the VOT file first";
    assert_eq!(
        rejected,
        vec![(2, unknown), (4, unknown), (6, "repeats row 2")]
    );
    assert_eq!(r.summary.issued, 2);
    assert_eq!(status_of(&pool, "AL-B-1002").await.0, "received");
    let events: Vec<String> = sqlx::query_scalar(
        "select e.status from ballot_events e join ballots b on b.id = e.ballot_id
         where b.ballot_number = 'AL-B-1002' order by e.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(events, ["issued", "mailed", "received"]);
}

/// A row that repeats an earlier row of its ballot (the same status and date) is rejected and
/// claims nothing, even with a barcode the earlier row did not give: another voter's ballot
/// may carry it, as the row-at-a-time path decides.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_repeated_row_of_a_first_file_claims_no_barcode(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    let text = b"county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n\
        06001,2026-11-03,AL-1001,AL-B-1001,MAILED,2026-10-06,,,\n\
        06001,2026-11-03,AL-1001,AL-B-1001,MAILED,2026-10-06,,00700123456000000042,\n\
        06001,2026-11-03,AL-1002,AL-B-1002,MAILED,2026-10-06,,00700123456000000042,\n";
    let r = apply_elg_skipping_rejected(&pool, e, text).await;
    assert!(r.applied, "{r:?}");
    let report = run::rejections(&pool, r.import_id, COUNTY).await.unwrap();
    let rejected: Vec<(i64, &str)> = report.iter().map(|x| (x.row, x.reason.as_str())).collect();
    assert_eq!(rejected, vec![(3, "repeats row 2")]);
    assert_eq!(r.summary.issued, 2);
    let carries: Option<String> =
        sqlx::query_scalar("select outbound_imb from ballots where ballot_number = 'AL-B-1002'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(carries.as_deref(), Some("00700123456000000042"));
}

/// A first file applied through a pool too small to spare a connection for its events writes
/// them in its own transaction, with the same outcome.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_through_a_pool_of_two_writes_its_events_in_its_transaction(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    watch_asides(&pool).await;
    let r = run_file(
        &app_role_of(&pool, 2).await,
        &request(FeedKind::Elg, e),
        &sample(FeedKind::Elg),
        apply_skipping_rejected(),
    )
    .await;
    assert!(r.applied, "{r:?}");
    assert_eq!(count(&pool, "select count(*) from asides_made").await, 0);
    assert_eq!(asides_left(&pool).await, (0, 0));
    let events = count(&pool, "select count(*) from ballot_events_1").await;
    // Each ballot's "issued" and the sample's nine changes.
    assert_eq!(events, r.summary.issued as i64 + 9, "{r:?}");
    assert_eq!(
        events,
        count(&pool, "select count(*) from ballot_events").await
    );
}

/// A first file whose pool has no connection to spare for its events (the others busy) waits a
/// moment and writes them in its own transaction: it neither fails nor starves the others.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_with_a_busy_pool_writes_its_events_in_its_transaction(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    watch_asides(&pool).await;
    let app = app_role_of(&pool, 3).await;
    let busy = app.acquire().await.unwrap();
    let r = run_file(
        &app,
        &request(FeedKind::Elg, e),
        &sample(FeedKind::Elg),
        apply_skipping_rejected(),
    )
    .await;
    drop(busy);
    assert!(r.applied, "{r:?}");
    assert_eq!(count(&pool, "select count(*) from asides_made").await, 0);
    assert_eq!(
        count(&pool, "select count(*) from ballot_events_1").await,
        r.summary.issued as i64 + 9
    );
}

/// A first file that does not commit (here: blocked by its rejected row) leaves no events
/// behind, though they were committed aside: the import sweeps them as it rolls back, and the
/// next first load can go.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_first_file_that_does_not_commit_leaves_no_events_aside(pool: PgPool) {
    let e = election_with_voters(&pool).await;
    watch_asides(&pool).await;
    let mut text = sample(FeedKind::Elg);
    text.extend_from_slice(b"06001,2026-11-03,AL-1003,AL-B-1002,RECEIVED,2026-10-22,,,\n");
    let blocked = run_file(
        &app_role(&pool).await,
        &request(FeedKind::Elg, e),
        &text,
        apply(),
    )
    .await;
    assert!(!blocked.applied && blocked.blocked.is_some(), "{blocked:?}");
    assert_eq!(count(&pool, "select count(*) from asides_made").await, 1);
    assert_eq!(asides_left(&pool).await, (0, 0));
    assert_eq!(count(&pool, "select count(*) from ballots").await, 0);
    assert_eq!(count(&pool, "select count(*) from ballot_events").await, 0);

    let r = run_file(
        &app_role(&pool).await,
        &request(FeedKind::Elg, e),
        &text,
        apply_skipping_rejected(),
    )
    .await;
    assert!(r.applied, "{r:?}");
    assert_eq!(count(&pool, "select count(*) from asides_made").await, 2);
    assert_eq!(asides_left(&pool).await, (0, 0));
    assert_eq!(
        count(&pool, "select count(*) from ballots").await,
        r.summary.issued as i64
    );
}

/// A large voter file leaves the voters analyzed as it commits: the county's first ELG file,
/// often loaded right after it, is planned for the voters the county now has (with statistics
/// from before, the first load's checks once took minutes).
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_large_voter_file_leaves_fresh_statistics(pool: PgPool) {
    let e = election(&pool).await;
    let tuples = || {
        sqlx::query_scalar::<_, f32>("select reltuples from pg_class where relname = 'voters'")
            .fetch_one(&pool)
    };
    let before = tuples().await.unwrap();
    let mut text = String::from(
        "county_fips,voter_id,first_name,middle_name,last_name,suffix,date_of_birth,residential_zip,precinct,language,confidential,email,phone\n",
    );
    for i in 0..run::ANALYZE_AFTER_VOTERS {
        text.push_str(&format!(
            "06001,AL-V{i},Ana,,Lee{i},,1980-01-02,94601,P-101,en,N,,\n"
        ));
    }
    let r = run_file(&pool, &request(FeedKind::Vot, e), text.as_bytes(), apply()).await;
    assert!(r.applied, "{r:?}");
    let after = tuples().await.unwrap();
    assert!(
        before < 1_000.0 && after >= run::ANALYZE_AFTER_VOTERS as f32,
        "{before} → {after}"
    );
}
