//! The spine against a real PostgreSQL: a fresh database per test (`#[sqlx::test]`).

use super::*;
use crate::domain::{BallotStatus, NotCountedReason};
use chrono::Duration;
use sqlx::PgPool;

struct World {
    ballot_id: i64,
    voter_id: i64,
    staff_id: i64,
}

fn t0() -> DateTime<Utc> {
    Utc::now() - Duration::days(20)
}

/// One election, one voter in Los Angeles County with a confirmed email subscription, one
/// ballot issued through the spine, and one staff account.
async fn world(pool: &PgPool) -> World {
    let mut tx = pool.begin().await.unwrap();
    let election_id: i64 = sqlx::query_scalar(
        "insert into elections (state_code, name, election_day, ballots_mailed_from,
           receipt_deadline, cure_deadline, certification_date)
         values ('CA', 'Test General', current_date, current_date - 29, current_date + 7,
                 now() + interval '28 days', current_date + 30) returning id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let voter_id: i64 = sqlx::query_scalar(
        "insert into voters (county_fips, county_voter_id, first_name, last_name, first_name_norm,
           last_name_norm, date_of_birth, residential_zip)
         values ('06037', 'T1', 'José', 'O''Brien', 'jose', 'obrien', '1970-01-02', '90012')
         returning id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "insert into subscriptions (voter_id, county_fips, channel, address, language, confirmed_at)
         values ($1, '06037', 'email', 'jose@example.com', 'es', now()),
                ($1, '06037', 'sms', '+12135550100', 'es', null)",
    )
    .bind(voter_id)
    .execute(&mut *tx)
    .await
    .unwrap();
    let staff_id: i64 = sqlx::query_scalar(
        "insert into admin_users (email, display_name, password_hash, role, county_fips)
         values ('staff@example.org', 'Staff', '$argon2id$x', 'county_staff', '06037') returning id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let new = NewBallot {
        voter_id,
        county_fips: "06037".into(),
        election_id,
        ballot_number: "B-1".into(),
        outbound_imb: Some("00040123456000000001".into()),
        inbound_imb: None,
        replaces: None,
        issued_at: t0(),
    };
    let ballot_id = issue(&mut tx, &Cause::System, &new, Utc::now())
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    World {
        ballot_id,
        voter_id,
        staff_id,
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn apply_now(pool: &PgPool, cause: Cause, proposals: &[Proposal]) -> Vec<Outcome> {
    let mut tx = pool.begin().await.unwrap();
    let out = apply(&mut tx, &cause, proposals, Utc::now()).await.unwrap();
    tx.commit().await.unwrap();
    out
}

fn change(ballot_id: i64, status: BallotStatus, days: i64) -> Proposal {
    Proposal::new(
        ballot_id,
        StatusChange::new(status, t0() + Duration::days(days)),
    )
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn issuing_records_the_first_event_and_tells_no_one(pool: PgPool) {
    let w = world(&pool).await;
    let status: String = sqlx::query_scalar("select status from ballots where id = $1")
        .bind(w.ballot_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "issued");
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballot_events where status = 'issued' and not notify"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from audit_log where action = 'ballot.issued'"
        )
        .await,
        1
    );
    assert_eq!(count(&pool, "select count(*) from notifications").await, 0);
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_change_writes_event_status_audit_and_outbox_together(pool: PgPool) {
    let w = world(&pool).await;
    let mut p = change(w.ballot_id, BallotStatus::Mailed, 1);
    p.note = Some("mailed with the first batch".into());
    let out = apply_now(
        &pool,
        Cause::Staff {
            user_id: w.staff_id,
        },
        &[p],
    )
    .await;
    let Outcome::Recorded { event_id, notified } = out[0] else {
        panic!("{out:?}")
    };
    assert!(notified);

    let (status, at): (String, DateTime<Utc>) =
        sqlx::query_as("select status, status_at from ballots where id = $1")
            .bind(w.ballot_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "mailed");
    // t0() moves with the clock: the proposal was dated a moment before this line.
    let expected = t0() + Duration::days(1);
    assert!(
        (expected - at).num_seconds().abs() <= 5,
        "{at} vs {expected}"
    );

    let (source, actor, note): (String, Option<i64>, Option<String>) = sqlx::query_as(
        "select source, actor_user_id, note from ballot_events where ballot_id = $1 and id = $2",
    )
    .bind(w.ballot_id)
    .bind(event_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (source.as_str(), actor, note.as_deref()),
        (
            "staff",
            Some(w.staff_id),
            Some("mailed with the first batch")
        )
    );

    let (before, after): (serde_json::Value, serde_json::Value) = sqlx::query_as(
        "select before, after from audit_log where action = 'ballot.status_changed' and actor_user_id = $1",
    )
    .bind(w.staff_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(before["status"], "issued");
    assert_eq!(after["current"]["status"], "mailed");

    // Only the confirmed subscription gets a message, in its language.
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "select channel, language, template, state from notifications where event_id = $1",
    )
    .bind(event_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [(
            "email".into(),
            "es".into(),
            "mailed".into(),
            "queued".into()
        )]
    );
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn refused_changes_write_nothing(pool: PgPool) {
    let w = world(&pool).await;
    let before = count(&pool, "select count(*) from ballot_events").await;
    let out = apply_now(
        &pool,
        Cause::System,
        &[change(w.ballot_id, BallotStatus::Counted, 1)],
    )
    .await;
    assert_eq!(
        out,
        [Outcome::Refused(Refusal::Illegal {
            from: BallotStatus::Issued,
            to: BallotStatus::Counted
        })]
    );
    let planned = Proposal::new(
        w.ballot_id,
        StatusChange::new(BallotStatus::Mailed, Utc::now() + Duration::days(2)),
    );
    assert_eq!(
        apply_now(&pool, Cause::System, &[planned]).await,
        [Outcome::Refused(Refusal::InFuture)]
    );
    assert_eq!(
        apply_now(&pool, Cause::System, &[change(-1, BallotStatus::Mailed, 1)]).await,
        [Outcome::UnknownBallot]
    );
    assert_eq!(
        count(&pool, "select count(*) from ballot_events").await,
        before
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from audit_log where action like 'ballot.status%'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballots where status = 'issued'"
        )
        .await,
        1
    );
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_batch_follows_the_machine_in_order_and_coalesces_messages(pool: PgPool) {
    let w = world(&pool).await;
    // An earlier change whose message is still queued...
    apply_now(
        &pool,
        Cause::System,
        &[change(w.ballot_id, BallotStatus::Mailed, 1)],
    )
    .await;
    // ...then a batch that moves the ballot on twice, with a refused step in between.
    let batch = [
        change(w.ballot_id, BallotStatus::InTransit, 2),
        change(w.ballot_id, BallotStatus::Counted, 3),
        change(w.ballot_id, BallotStatus::Delivered, 4),
        change(w.ballot_id, BallotStatus::Received, 10),
    ];
    let out = apply_now(
        &pool,
        Cause::Import {
            import_id: import(&pool).await,
        },
        &batch,
    )
    .await;
    assert!(
        matches!(
            out[0],
            Outcome::Recorded {
                notified: false,
                ..
            }
        ),
        "superseded within the batch: {out:?}"
    );
    assert!(matches!(out[1], Outcome::Refused(Refusal::Illegal { .. })));
    assert!(matches!(
        out[2],
        Outcome::Recorded {
            notified: false,
            ..
        }
    ));
    assert!(matches!(out[3], Outcome::Recorded { notified: true, .. }));

    // One message for the batch; the earlier change's is passed over when a worker claims it.
    let states: Vec<(String, String)> =
        sqlx::query_as("select template, state from notifications order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        [
            ("mailed".into(), "queued".into()),
            ("received".into(), "queued".into())
        ]
    );
    assert_eq!(
        claimed_superseded(&pool).await,
        [("mailed".into(), true), ("received".into(), false)]
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballot_events where import_id is not null"
        )
        .await,
        3
    );
    let after: serde_json::Value =
        sqlx::query_scalar("select after from audit_log where action = 'ballot.statuses_changed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(after["events"], 3);
    let status: String = sqlx::query_scalar("select status from ballots where id = $1")
        .bind(w.ballot_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "received");
}

/// The outbox's statement is planned for every batch, never kept as a prepared statement on
/// the connection: PostgreSQL would settle on a generic plan after five runs, and one made
/// while the tables were empty reads them whole once per notice when they have grown. A
/// worker's claim passes over every message but the last.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn the_outbox_statement_is_planned_for_each_batch(pool: PgPool) {
    let w = world(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let mut events = Vec::new();
    for day in 1..=7 {
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        let event_id: i64 = sqlx::query_scalar(
            "insert into ballot_events (ballot_id, county_fips, status, occurred_at, source, notify)
             values ($1, '06037', 'mailed', $2, 'system', true) returning id",
        )
        .bind(w.ballot_id)
        .bind(t0() + Duration::days(day))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let notice = Notice {
            ballot_id: w.ballot_id,
            event_id,
            voter_id: w.voter_id,
            county_fips: "06037".into(),
            status: BallotStatus::Mailed,
        };
        let queued = enqueue(&mut tx, &[notice], Utc::now()).await.unwrap();
        assert_eq!(queued, HashSet::from([event_id]));
        tx.commit().await.unwrap();
        events.push(event_id);
    }
    let prepared: i64 = sqlx::query_scalar(
        // Concatenated, so that this statement (prepared too) does not match itself.
        "select count(*) from pg_prepared_statements
         where statement like '%insert ' || 'into notifications%'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        prepared, 0,
        "the outbox statement must not be a prepared statement"
    );
    let superseded: Vec<bool> = claimed_superseded(&pool)
        .await
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(superseded, [true, true, true, true, true, true, false]);
}

/// What a worker's claim of the queued emails says of each: its template, and whether a later
/// message about the same ballot overtook it (the claim is rolled back).
async fn claimed_superseded(pool: &PgPool) -> Vec<(String, bool)> {
    let claim = crate::messages::outbox::claim(pool, crate::messages::Channel::Email, 100)
        .await
        .unwrap();
    let mut seen: Vec<(i64, String, bool)> = claim
        .messages
        .iter()
        .map(|m| (m.id, m.template.clone(), m.superseded))
        .collect();
    seen.sort_unstable();
    seen.into_iter().map(|(_, t, s)| (t, s)).collect()
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn not_counted_carries_its_reason_and_cure_clears_it(pool: PgPool) {
    let w = world(&pool).await;
    let nc = Proposal::new(
        w.ballot_id,
        StatusChange::not_counted(
            NotCountedReason::SignatureMissing,
            t0() + Duration::days(12),
        ),
    );
    let out = apply_now(
        &pool,
        Cause::System,
        &[
            change(w.ballot_id, BallotStatus::Received, 10),
            nc,
            change(w.ballot_id, BallotStatus::Cured, 14),
        ],
    )
    .await;
    assert!(
        out.iter().all(|o| matches!(o, Outcome::Recorded { .. })),
        "{out:?}"
    );
    let row: (String, Option<String>) =
        sqlx::query_as("select status, status_reason from ballots where id = $1")
            .bind(w.ballot_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(row, ("cured".into(), None));
    assert_eq!(
        count(&pool, "select count(*) from ballot_events where status = 'not_counted' and reason = 'signature_missing'").await,
        1
    );
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn cancelled_subscriptions_hear_nothing(pool: PgPool) {
    let w = world(&pool).await;
    sqlx::query(
        "update subscriptions set cancelled_at = now(), cancelled_via = 'web' where voter_id = $1",
    )
    .bind(w.voter_id)
    .execute(&pool)
    .await
    .unwrap();
    let out = apply_now(
        &pool,
        Cause::System,
        &[change(w.ballot_id, BallotStatus::Mailed, 1)],
    )
    .await;
    assert!(matches!(
        out[0],
        Outcome::Recorded {
            notified: false,
            ..
        }
    ));
    assert_eq!(count(&pool, "select count(*) from notifications").await, 0);
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn timelines_and_the_audit_log_are_append_only(pool: PgPool) {
    world(&pool).await;
    for sql in [
        "update ballot_events set status = 'counted'",
        "delete from ballot_events",
        "truncate ballot_events cascade",
        "update audit_log set action = 'x.y'",
        "delete from audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_new_ballot_and_its_later_statuses_are_written_once(pool: PgPool) {
    let w = world(&pool).await;
    let election_id: i64 = sqlx::query_scalar("select election_id from ballots where id = $1")
        .bind(w.ballot_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let voter_id: i64 = sqlx::query_scalar(
        "insert into voters (county_fips, county_voter_id, first_name, last_name, first_name_norm,
           last_name_norm, date_of_birth, residential_zip)
         values ('06037', 'T2', 'Ana', 'Lee', 'ana', 'lee', '1980-01-02', '90012') returning id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let new = |number: &str, days: i64| NewBallot {
        voter_id,
        county_fips: "06037".into(),
        election_id,
        ballot_number: number.into(),
        outbound_imb: None,
        inbound_imb: None,
        replaces: None,
        issued_at: t0() + Duration::days(days),
    };
    let mut tx = pool.begin().await.unwrap();
    let ids = reserve_ballot_ids(&mut tx, "06037", election_id, 2)
        .await
        .unwrap();
    // `t0()` moves with the clock: the expected time is taken from the change itself.
    let in_transit = change(ids[0], BallotStatus::InTransit, 3);
    let issuing = [
        Issuing {
            id: ids[0],
            ballot: new("N-1", 1),
        },
        // Dated in the future: the machine refuses it, and the change that names it.
        Issuing {
            id: ids[1],
            ballot: new("N-2", 40),
        },
    ];
    let (issued, outcomes) = issue_and_apply(
        &mut tx,
        &Cause::System,
        &issuing,
        &[
            change(ids[0], BallotStatus::Mailed, 2),
            in_transit.clone(),
            change(ids[1], BallotStatus::Mailed, 41),
            change(w.ballot_id, BallotStatus::Mailed, 2),
        ],
        Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(issued[0], Ok(ids[0]));
    assert!(issued[1].is_err());
    assert!(matches!(outcomes[0], Outcome::Recorded { .. }));
    assert!(matches!(outcomes[1], Outcome::Recorded { .. }));
    assert_eq!(outcomes[2], Outcome::UnknownBallot);
    assert!(matches!(outcomes[3], Outcome::Recorded { .. }));
    let (status, at): (String, DateTime<Utc>) =
        sqlx::query_as("select status, status_at from ballots where id = $1")
            .bind(ids[0])
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "in_transit");
    assert_eq!(at.timestamp(), in_transit.change.occurred_at.timestamp());
    let timeline: Vec<String> =
        sqlx::query_scalar("select status from ballot_events where ballot_id = $1 order by id")
            .bind(ids[0])
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(timeline, ["issued", "mailed", "in_transit"]);
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballots where ballot_number = 'N-2'"
        )
        .await,
        0
    );
    // One audit row for the issue, one for the changes; the existing ballot moved too.
    assert_eq!(
        count(
            &pool,
            "select count(*) from audit_log where action = 'ballot.issued'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from audit_log where action = 'ballot.statuses_changed'"
        )
        .await,
        1
    );
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn an_event_refers_to_a_ballot_of_its_county_and_referred_rows_stay(pool: PgPool) {
    let w = world(&pool).await;
    let insert = |ballot: i64, county: &'static str, import: Option<i64>| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "insert into ballot_events (ballot_id, county_fips, status, occurred_at, source,
                   import_id, notify)
                 values ($1, $2, 'mailed', now(), 'system', $3, false)",
            )
            .bind(ballot)
            .bind(county)
            .bind(import)
            .execute(&pool)
            .await
        }
    };
    for (ballot, county, import) in [
        (w.ballot_id + 1000, "06037", None),
        (w.ballot_id, "06075", None),
        (w.ballot_id, "06037", Some(424_242)),
    ] {
        let err = insert(ballot, county, import).await.unwrap_err();
        let Some(db) = err.as_database_error() else {
            panic!("{err}");
        };
        assert!(db.is_foreign_key_violation(), "{err}");
    }
    insert(w.ballot_id, "06037", None).await.unwrap();
    for sql in [
        "delete from ballots",
        "truncate ballots cascade",
        "update ballots set county_fips = '06075'",
        "update ballots set id = id + 1000",
        "delete from admin_users",
        "delete from imports",
        "delete from api_tokens",
        "delete from voters",
        "delete from elections",
        "update voters set county_fips = '06075'",
        "update ballots set voter_id = voter_id",
        "update ballots set election_id = election_id",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("never deleted"), "{sql}: {err}");
    }
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_ballot_cannot_belong_to_another_county_than_its_voter(pool: PgPool) {
    let w = world(&pool).await;
    let err = sqlx::query(
        "with e as (insert into elections (state_code, name, election_day, ballots_mailed_from,
                      receipt_deadline, cure_deadline, certification_date)
                    values ('CA', 'Special', current_date, current_date, current_date, now(),
                            current_date)
                    returning id)
         insert into ballots (county_fips, election_id, voter_id, ballot_number, status, status_at)
         select '06073', e.id, b.voter_id, 'B-2', 'issued', now() from ballots b, e where b.id = $1",
    )
    .bind(w.ballot_id)
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("foreign key"), "{err}");
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn the_database_knows_exactly_the_domain_codes(pool: PgPool) {
    async fn codes(pool: &PgPool, constraint: &str) -> std::collections::BTreeSet<String> {
        let def: String = sqlx::query_scalar(
            "select pg_get_constraintdef(oid) from pg_constraint where conname = $1",
        )
        .bind(constraint)
        .fetch_one(pool)
        .await
        .unwrap();
        def.split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }
    let statuses: std::collections::BTreeSet<String> = BallotStatus::ALL
        .iter()
        .map(|s| s.code().to_owned())
        .collect();
    assert_eq!(codes(&pool, "ballots_status_check").await, statuses);
    assert_eq!(codes(&pool, "ballot_events_status_check").await, statuses);
    let reasons: std::collections::BTreeSet<String> = NotCountedReason::ALL
        .iter()
        .map(|r| r.code().to_owned())
        .collect();
    assert_eq!(codes(&pool, "ballots_status_reason_check").await, reasons);
    let languages: std::collections::BTreeSet<String> = crate::domain::Language::ALL
        .iter()
        .map(|l| l.code().to_owned())
        .collect();
    assert_eq!(codes(&pool, "voters_language_check").await, languages);
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn the_58_california_counties_are_seeded(pool: PgPool) {
    assert_eq!(
        count(
            &pool,
            "select count(*) from counties where state_code = 'CA'"
        )
        .await,
        58
    );
    let la: String = sqlx::query_scalar("select name from counties where fips = '06037'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(la, "Los Angeles");
}

async fn import(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "insert into imports (county_fips, kind, file_name, file_sha256, state)
         values ('06037', 'elg', 'elg.csv', repeat('a', 64), 'applying') returning id",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}
