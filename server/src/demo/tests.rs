//! The demo loader against a real PostgreSQL: what it writes obeys the same rules as
//! everything else.

use super::*;
use app::domain::BallotStatus;

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn the_demo_election_is_consistent(pool: PgPool) {
    let args = DemoArgs {
        voters: 3_000,
        seed: 11,
        if_empty: false,
    };
    let summary = generate::load(&pool, &args).await.unwrap();
    assert_eq!(summary.voters, 3_000);
    assert_eq!(scalar(&pool, "select count(*) from voters").await, 3_000);

    // Every status is represented.
    let statuses: Vec<String> = sqlx::query_scalar("select distinct status from ballots")
        .fetch_all(&pool)
        .await
        .unwrap();
    for s in BallotStatus::ALL {
        assert!(
            statuses.iter().any(|x| x == s.code()),
            "no demo ballot is {s:?}"
        );
    }
    // And every reason a ballot is not counted.
    let reasons: Vec<String> =
        sqlx::query_scalar("select distinct reason from ballot_events where reason is not null")
            .fetch_all(&pool)
            .await
            .unwrap();
    for r in app::domain::NotCountedReason::ALL {
        assert!(
            reasons.iter().any(|x| x == r.code()),
            "no demo ballot is not counted for {r:?}"
        );
    }
    // Each ballot's status is its last event's.
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from ballots b where status <> (select e.status from ballot_events e
            where e.ballot_id = b.id order by e.occurred_at desc, e.id desc limit 1)"
        )
        .await,
        0
    );
    // Nothing is dated in the future; nothing is counted that was not received first.
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from ballot_events where occurred_at > now()"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from ballots b where status = 'counted' and not exists
            (select 1 from ballot_events e where e.ballot_id = b.id and e.status = 'received')"
        )
        .await,
        0
    );
    // Every replaced ballot has its replacement.
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from ballots b where status = 'replaced' and not exists
            (select 1 from ballots n where n.replaces_ballot_id = b.id)"
        )
        .await,
        0
    );
    // The showcase voters are there with the status they show.
    for v in showcase::SHOWCASE {
        let status: String = sqlx::query_scalar(
            "select b.status from ballots b join voters v on v.id = b.voter_id
             where v.county_voter_id = $1 and b.status <> 'replaced'",
        )
        .bind(v.county_voter_id)
        .fetch_one(&pool)
        .await
        .unwrap();
        // A reissued voter's live ballot is the replacement, sent out again.
        let expected = match v.scenario {
            history::Scenario::Reissued => BallotStatus::InTransit,
            other => other.final_status(),
        };
        assert_eq!(
            status,
            expected.code(),
            "{} ({})",
            v.county_voter_id,
            v.label
        );
    }
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from voters where confidential and county_voter_id = 'D0000017'"
        )
        .await,
        1
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn loading_again_adds_voters_but_never_duplicates_the_showcase(pool: PgPool) {
    let args = DemoArgs {
        voters: 100,
        seed: 1,
        if_empty: false,
    };
    generate::load(&pool, &args).await.unwrap();
    run(
        &pool,
        &DemoArgs {
            if_empty: true,
            ..args.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(scalar(&pool, "select count(*) from voters").await, 100);
    generate::load(&pool, &DemoArgs { seed: 2, ..args })
        .await
        .unwrap();
    assert_eq!(scalar(&pool, "select count(*) from voters").await, 200);
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from voters where county_voter_id = 'D0000001'"
        )
        .await,
        1
    );
    assert_eq!(scalar(&pool, "select count(*) from elections").await, 1);
}

/// Every table of the schema with its columns, constraints, indexes, triggers, row-level
/// security policies, grants and partition bounds, a line each.
async fn fingerprint(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(include_str!("schema_fingerprint.sql"))
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Fails with the lines that differ, not both schemas whole.
fn assert_same_schema(now: &[String], expected: &[String]) {
    let gone: Vec<&String> = expected.iter().filter(|l| !now.contains(l)).collect();
    let new: Vec<&String> = now.iter().filter(|l| !expected.contains(l)).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "the schema changed.\ngone: {gone:#?}\nnew: {new:#?}"
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_bulk_load_leaves_the_schema_as_the_migrations_made_it(pool: PgPool) {
    let migrated = fingerprint(&pool).await;
    // What a killed load leaves: staging tables whose connection is gone.
    sqlx::query("create table demo_stage_999999 (x int)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("create table demo_stage_999999_3 (x int)")
        .execute(&pool)
        .await
        .unwrap();
    let args = DemoArgs {
        voters: 500,
        seed: 3,
        if_empty: false,
    };
    // Bulk (an empty database: the events staged and swapped in), then added to.
    generate::load(&pool, &args).await.unwrap();
    assert_same_schema(&fingerprint(&pool).await, &migrated);
    generate::load(&pool, &DemoArgs { seed: 4, ..args })
        .await
        .unwrap();
    assert_same_schema(&fingerprint(&pool).await, &migrated);
    assert_eq!(scalar(&pool, "select count(*) from voters").await, 1_000);
    // Every partition of the events of ids below 2^40 holds events, and each only those of its
    // own hash bucket (the swap put each staging table in the place of the partition with its
    // bound).
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from pg_inherits i
             where i.inhparent = 'ballot_events_0'::regclass
               and exists (select 1 from ballot_events e where e.tableoid = i.inhrelid)"
        )
        .await,
        16
    );
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from ballot_events e join ballots b on b.id = e.ballot_id"
        )
        .await,
        scalar(&pool, "select count(*) from ballot_events").await
    );
}

/// A bulk load that fails leaves the database as it found it, whether the events' staging
/// transaction had committed (the failure comes at the load's commit) or not (the first
/// voters are refused).
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_failed_bulk_load_leaves_nothing_behind(pool: PgPool) {
    sqlx::query(
        "create function refuse_demo() returns trigger language plpgsql as
         $$ begin raise exception 'refused by the test'; end $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    let args = DemoArgs {
        voters: 300,
        seed: 5,
        if_empty: false,
    };
    for trigger in [
        "create constraint trigger refuse_at_commit after insert on audit_log
         deferrable initially deferred for each row execute function refuse_demo()",
        "create trigger refuse_voters before insert on voters
         for each statement execute function refuse_demo()",
    ] {
        sqlx::query(trigger).execute(&pool).await.unwrap();
        let before = fingerprint(&pool).await;
        let error = generate::load(&pool, &args).await.unwrap_err();
        assert!(
            format!("{error:#}").contains("refused by the test"),
            "{error:#}"
        );
        assert_same_schema(&fingerprint(&pool).await, &before);
        for table in ["voters", "ballots", "ballot_events", "subscriptions"] {
            assert_eq!(
                scalar(&pool, &format!("select count(*) from {table}")).await,
                0,
                "{table}"
            );
        }
        sqlx::query("drop trigger if exists refuse_at_commit on audit_log")
            .execute(&pool)
            .await
            .unwrap();
    }
}
