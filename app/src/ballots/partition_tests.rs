//! Partitions of their own (migration `20261206000004`): made and attached by the app's role
//! through the owner's functions, shaped like `ballots_0` and `ballot_events_0`, checked like
//! inserted rows, all or nothing with the transaction that makes them.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use sqlx::{PgConnection, PgPool, Row};

/// Partition k's first id: 2^40 + (k-1)·2^28.
fn first_id(k: i32) -> i64 {
    (1 << 40) + (i64::from(k) - 1) * (1 << 28)
}

/// An election and two Sacramento voters; returns (election, voters).
async fn world(pool: &PgPool) -> (i64, [i64; 2]) {
    let election: i64 = sqlx::query_scalar(
        "insert into elections (state_code, name, election_day, ballots_mailed_from,
           receipt_deadline, cure_deadline, certification_date)
         values ('CA', 'Special', current_date + 30, current_date + 1, current_date + 37,
                 now() + interval '58 days', current_date + 60) returning id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let voters: Vec<i64> = sqlx::query_scalar(
        "insert into voters (county_fips, county_voter_id, first_name, last_name, first_name_norm,
           last_name_norm, date_of_birth, residential_zip)
         select '06067', 'SAC-' || i, 'Ana', 'Ruiz', 'ana', 'ruiz', '1980-01-01', '95814'
         from generate_series(1, 2) i returning id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    (election, [voters[0], voters[1]])
}

/// A transaction as the serving app runs one for Sacramento's import.
async fn as_app(pool: &PgPool, county: &str) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("set local role ballot_tracker_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("select set_config('app.county', $1, true)")
        .bind(county)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

async fn make(tx: &mut PgConnection, county: &str, election: i64) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("select ballot_partition_make($1, $2)")
        .bind(county)
        .bind(election)
        .fetch_one(&mut *tx)
        .await
}

async fn attach(tx: &mut PgConnection, k: i32) -> Result<(), sqlx::Error> {
    sqlx::query("select ballot_partition_attach($1)")
        .bind(k)
        .execute(&mut *tx)
        .await
        .map(|_| ())
}

/// How many of partition k's two tables exist.
async fn tables_of(pool: &PgPool, k: i32) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_class where relname in ('ballots_' || $1, 'ballot_events_' || $1)",
    )
    .bind(k)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// How many ballots of the election the transaction sees.
async fn seen(tx: &mut PgConnection, election: i64) -> i64 {
    sqlx::query_scalar("select count(*) from ballots where election_id = $1")
        .bind(election)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

/// Writes a ballot (mailed) and its two events straight into partition k's tables, as COPY would.
async fn fill(tx: &mut PgConnection, k: i32, id: i64, voter: i64, election: i64, number: &str) {
    fill_ballot(tx, k, id, voter, election, number).await;
    events_into(tx, &format!("ballot_events_{k}"), id).await;
}

/// Writes a ballot (mailed) straight into partition k's table.
async fn fill_ballot(
    tx: &mut PgConnection,
    k: i32,
    id: i64,
    voter: i64,
    election: i64,
    number: &str,
) {
    sqlx::query(&format!(
        "insert into ballots_{k} (id, county_fips, election_id, voter_id, ballot_number,
           outbound_imb, status, status_at)
         values ($1, '06067', $2, $3, $4, $5, 'mailed', now())"
    ))
    .bind(id)
    .bind(election)
    .bind(voter)
    .bind(number)
    .bind(format!("0070098765400000{:04}95814", id % 10_000))
    .execute(&mut *tx)
    .await
    .unwrap();
}

/// Writes a ballot's two events (issued, mailed) into `table`.
async fn events_into(tx: &mut PgConnection, table: &str, id: i64) {
    sqlx::query(&format!(
        "insert into {table} (ballot_id, county_fips, status, occurred_at, source, notify)
         values ($1, '06067', 'issued', now() - interval '1 day', 'system', false),
                ($1, '06067', 'mailed', now(), 'system', true)"
    ))
    .bind(id)
    .execute(&mut *tx)
    .await
    .unwrap();
}

/// A table's indexes, each named without its table's own prefix, with its definition in terms
/// of a neutral table name: the same set for a model and its copy.
async fn index_shapes(pool: &PgPool, table: &str, prefix: &str) -> Vec<(String, String)> {
    sqlx::query(
        "select substr(x.relname, length($2) + 1),
                regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING ', '')
         from pg_index i join pg_class x on x.oid = i.indexrelid
         where i.indrelid = $1::regclass order by 1",
    )
    .bind(table)
    .bind(prefix)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_partition_of_its_own_is_filled_checked_and_attached_by_the_app(pool: PgPool) {
    let (election, [v1, v2]) = world(&pool).await;
    // Los Angeles makes one first; Sacramento's transaction cannot see it, and its partition
    // still takes the next number and range.
    let mut la = as_app(&pool, "06037").await;
    let la_k = make(&mut la, "06037", election).await.unwrap();
    attach(&mut la, la_k).await.unwrap();
    la.commit().await.unwrap();
    let mut tx = as_app(&pool, "06067").await;
    let k = make(&mut tx, "06067", election).await.unwrap();
    assert_eq!((la_k, k), (1, 2));
    let first = first_id(k);
    // COPY is refused into a table with row-level security: the new tables have none yet.
    let conn: &mut PgConnection = &mut tx;
    let mut copy = conn
        .copy_in_raw(&format!(
            "copy ballots_{k} (id, county_fips, election_id, voter_id, ballot_number, status, status_at)
             from stdin"
        ))
        .await
        .unwrap();
    copy.send(
        format!("{first}\t06067\t{election}\t{v1}\tSAC-B-1\tmailed\t2026-12-01 08:00:00+00\n")
            .into_bytes(),
    )
    .await
    .unwrap();
    copy.finish().await.unwrap();
    fill(&mut tx, k, first + 1, v2, election, "SAC-B-2").await;
    sqlx::query(&format!(
        "insert into ballot_events_{k} (ballot_id, county_fips, status, occurred_at, source, notify)
         values ($1, '06067', 'mailed', now(), 'system', true)"
    ))
    .bind(first)
    .execute(&mut *tx)
    .await
    .unwrap();
    attach(&mut tx, k).await.unwrap();
    tx.commit().await.unwrap();

    // Through the parents, pruned to the partition by id.
    let mut tx = as_app(&pool, "06067").await;
    let numbers: Vec<String> =
        sqlx::query_scalar("select ballot_number from ballots where election_id = $1 order by id")
            .bind(election)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(numbers, ["SAC-B-1", "SAC-B-2"]);
    let events: i64 = sqlx::query_scalar("select count(*) from ballot_events where ballot_id = $1")
        .bind(first + 1)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(events, 2);
    let plan: Vec<String> = sqlx::query_scalar("explain select * from ballots where id = $1")
        .bind(first)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert!(
        plan.iter().any(|l| l.contains(&format!("ballots_{k}"))),
        "{plan:?}"
    );
    assert!(!plan.iter().any(|l| l.contains("ballots_0")), "{plan:?}");
    // The partition's own unique keys say what `ballots_0`'s do, under its own names.
    let err = sqlx::query(
        "insert into ballots (id, county_fips, election_id, voter_id, ballot_number, status, status_at)
         values ($1, '06067', $2, $3, 'SAC-B-1', 'issued', now())",
    )
    .bind(first + 2)
    .bind(election)
    .bind(v1)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains(&format!("ballots_{k}_number_key")),
        "{err}"
    );
    drop(tx);
    // A ballot of the pair with an id from `ballots_id_seq` would land in `ballots_0`, beyond the
    // partition's unique indexes: refused.
    let mut tx = as_app(&pool, "06067").await;
    let err = sqlx::query(
        "insert into ballots (county_fips, election_id, voter_id, ballot_number, status, status_at)
         values ('06067', $1, $2, 'SAC-B-9', 'issued', now())",
    )
    .bind(election)
    .bind(v1)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("partition of its own"), "{err}");
    drop(tx);
    // The app reaches the partition only through the parents, and cannot move its range or
    // the numbering.
    for statement in [
        format!("delete from ballots_{k}"),
        format!(
            "insert into ballot_events_{k} (ballot_id, county_fips, status, occurred_at, source, notify) values ({first}, '06067', 'mailed', now(), 'system', false)"
        ),
        "delete from ballots_0".to_owned(),
        "update ballot_partitions set end_id = end_id + 1".to_owned(),
        "select setval('ballot_partitions_id_seq', 999999)".to_owned(),
    ] {
        let mut tx = as_app(&pool, "06067").await;
        let err = sqlx::query(&statement).execute(&mut *tx).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{statement}: {err}"
        );
    }
    // Another county's transaction sees none of it.
    let mut tx = as_app(&pool, "06037").await;
    assert_eq!(seen(&mut tx, election).await, 0);
    drop(tx);

    assert_eq!(
        index_shapes(&pool, &format!("ballots_{k}"), &format!("ballots_{k}_")).await,
        index_shapes(&pool, "ballots_0", "ballots_").await
    );
    assert_eq!(
        index_shapes(
            &pool,
            &format!("ballot_events_{k}"),
            &format!("ballot_events_{k}_")
        )
        .await,
        index_shapes(&pool, "ballot_events_0", "ballot_events_").await
    );
    let row = sqlx::query(
        "select first_id, end_id, next_id, attached_at is not null from ballot_partitions where id = $1",
    )
    .bind(k)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row.get::<i64, _>(0), first);
    assert_eq!(row.get::<i64, _>(1), first + (1 << 28));
    assert_eq!(
        row.get::<i64, _>(2),
        first + 2,
        "the next id follows the loaded ones"
    );
    assert!(row.get::<bool, _>(3));
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_partition_made_and_not_attached_stops_the_commit(pool: PgPool) {
    let (election, [v1, _]) = world(&pool).await;
    let mut tx = as_app(&pool, "06067").await;
    let k = make(&mut tx, "06067", election).await.unwrap();
    fill(&mut tx, k, first_id(k), v1, election, "SAC-B-1").await;
    let err = tx.commit().await.unwrap_err();
    assert!(err.to_string().contains("made but not attached"), "{err}");
    let left = tables_of(&pool, k).await;
    assert_eq!(left, 0);
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_missing_reference_stops_the_attach_with_the_foreign_key_error(pool: PgPool) {
    let (election, [v1, v2]) = world(&pool).await;
    for (case, expected) in [
        ("voter", "ballots_voter_fkey"),
        ("event", "ballot_events_ballot_fkey"),
        ("event between ballots", "ballot_events_ballot_fkey"),
        ("replaced", "ballots_replaces_fkey"),
        ("import", "ballot_events_import_fkey"),
    ] {
        let mut tx = as_app(&pool, "06067").await;
        let k = make(&mut tx, "06067", election).await.unwrap();
        let first = first_id(k);
        match case {
            "voter" => fill(&mut tx, k, first, v1 + 1000, election, "SAC-B-1").await,
            // The ballots' ids are not one run: every event's ballot is looked up.
            "event between ballots" => {
                fill(&mut tx, k, first, v1, election, "SAC-B-1").await;
                fill(&mut tx, k, first + 2, v2, election, "SAC-B-3").await;
                events_into(&mut tx, &format!("ballot_events_{k}"), first + 1).await;
            }
            "replaced" => {
                sqlx::query(&format!(
                    "insert into ballots_{k} (id, county_fips, election_id, voter_id, ballot_number,
                       replaces_ballot_id, status, status_at)
                     values ($1, '06067', $2, $3, 'SAC-B-1', $4, 'mailed', now())"
                ))
                .bind(first)
                .bind(election)
                .bind(v1)
                .bind(first + 5)
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            "import" => {
                fill(&mut tx, k, first, v1, election, "SAC-B-1").await;
                sqlx::query(&format!(
                    "insert into ballot_events_{k} (ballot_id, county_fips, status, occurred_at, source, import_id, notify)
                     values ($1, '06067', 'received', now(), 'import', 424242, true)"
                ))
                .bind(first)
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            _ => {
                fill(&mut tx, k, first, v1, election, "SAC-B-1").await;
                sqlx::query(&format!(
                    "insert into ballot_events_{k} (ballot_id, county_fips, status, occurred_at, source, notify)
                     values ($1, '06067', 'mailed', now(), 'system', true)"
                ))
                .bind(first + 7)
                .execute(&mut *tx)
                .await
                .unwrap();
            }
        }
        let err = attach(&mut tx, k).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{case}: {err}");
        // Rolled back: no partition, no tables.
        drop(tx);
        let left = tables_of(&pool, k).await;
        assert_eq!(left, 0, "{case}");
        let rows: i64 = sqlx::query_scalar("select count(*) from ballot_partitions")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(rows, 0, "{case}");
    }
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_partition_is_made_only_for_the_transactions_county_and_an_empty_pair(pool: PgPool) {
    let (election, [v1, _]) = world(&pool).await;
    // Los Angeles staff's transaction cannot make Sacramento's.
    let mut tx = as_app(&pool, "06037").await;
    let err = make(&mut tx, "06067", election).await.unwrap_err();
    assert!(
        err.to_string().contains("does not work for county 06067"),
        "{err}"
    );
    drop(tx);
    // A pair with a ballot in `ballots_0` already keeps all its ballots there.
    sqlx::query(
        "insert into ballots (county_fips, election_id, voter_id, ballot_number, status, status_at)
         values ('06067', $1, $2, 'SAC-OLD-1', 'issued', now())",
    )
    .bind(election)
    .bind(v1)
    .execute(&pool)
    .await
    .unwrap();
    let mut tx = as_app(&pool, "06067").await;
    let err = make(&mut tx, "06067", election).await.unwrap_err();
    assert!(err.to_string().contains("has ballots of election"), "{err}");
}

/// Partition k's events table written aside, in a transaction of its own that commits.
async fn aside(
    pool: &PgPool,
    county: &str,
    k: i32,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut side = as_app(pool, county).await;
    sqlx::query("select ballot_events_aside_make($1, $2)")
        .bind(k)
        .bind(county)
        .execute(&mut *side)
        .await?;
    Ok(side)
}

/// Closes partition k's events aside (indexed, what they name kept) and commits them.
async fn close_aside(mut side: sqlx::Transaction<'static, sqlx::Postgres>, k: i32) {
    sqlx::query("select ballot_events_aside_index($1)")
        .bind(k)
        .execute(&mut *side)
        .await
        .unwrap();
    side.commit().await.unwrap();
}

/// Aside tables and records left.
async fn asides_left(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        r"select (select count(*) from pg_class where relname like 'ballot\_events\_aside\_%'),
                 (select count(*) from ballot_event_asides)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The error of `sql` (given k for `$1`) in a transaction of the app's for `county`.
async fn refused(pool: &PgPool, county: &str, sql: &str, k: i64) -> String {
    let mut tx = as_app(pool, county).await;
    let err = sqlx::query(sql)
        .bind(k)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    err.to_string()
}

async fn sweep(pool: &PgPool) -> i32 {
    let mut tx = as_app(pool, "06037").await;
    let n = super::first_load::sweep_asides(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    n
}

/// The events of a first load written aside (filled and indexed in a transaction of their own,
/// which commits first) take the place of the partition's own events table when it is attached;
/// until then the app may write them and not read them.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn events_written_aside_are_attached_with_the_partition(pool: PgPool) {
    let (election, [v1, _]) = world(&pool).await;
    let mut tx = as_app(&pool, "06067").await;
    let k = make(&mut tx, "06067", election).await.unwrap();
    let first = first_id(k);
    let mut side = aside(&pool, "06067", k).await.unwrap();
    events_into(&mut side, &format!("ballot_events_aside_{k}"), first).await;
    close_aside(side, k).await;
    // Committed, and still no one's to read; nor another county's to index.
    let read = format!("select count(*) from ballot_events_aside_{k} where ballot_id <> $1");
    let err = refused(&pool, "06067", &read, first).await;
    assert!(err.contains("permission denied"), "{err}");
    let index = "select ballot_events_aside_index($1::integer)";
    let err = refused(&pool, "06037", index, k.into()).await;
    assert!(err.contains("does not work for county 06067"), "{err}");
    // A load in progress is not swept.
    assert_eq!(sweep(&pool).await, 0);
    assert_eq!(asides_left(&pool).await, (1, 1));

    fill_ballot(&mut tx, k, first, v1, election, "SAC-B-1").await;
    attach(&mut tx, k).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(asides_left(&pool).await, (0, 0));
    let mut tx = as_app(&pool, "06067").await;
    let events: Vec<String> =
        sqlx::query_scalar("select status from ballot_events where ballot_id = $1 order by id")
            .bind(first)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(events, ["issued", "mailed"]);
    drop(tx);
    assert_eq!(
        index_shapes(
            &pool,
            &format!("ballot_events_{k}"),
            &format!("ballot_events_{k}_")
        )
        .await,
        index_shapes(&pool, "ballot_events_0", "ballot_events_").await
    );
    // Attached, it is the app's through the parent only, as any partition.
    let read = format!("select count(*) from ballot_events_{k} where ballot_id <> $1");
    let err = refused(&pool, "06067", &read, first).await;
    assert!(err.contains("permission denied"), "{err}");
}

/// A first load that does not commit leaves its events aside, committed: the sweep drops them
/// once no transaction making the partition holds them, and not before.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn the_sweep_drops_events_aside_of_loads_that_did_not_commit(pool: PgPool) {
    let (election, _) = world(&pool).await;
    let mut tx = as_app(&pool, "06067").await;
    let k = make(&mut tx, "06067", election).await.unwrap();
    let mut side = aside(&pool, "06067", k).await.unwrap();
    events_into(&mut side, &format!("ballot_events_aside_{k}"), first_id(k)).await;
    side.commit().await.unwrap();
    assert_eq!(sweep(&pool).await, 0);
    assert_eq!(asides_left(&pool).await, (1, 1));
    tx.rollback().await.unwrap();
    assert_eq!(sweep(&pool).await, 1);
    assert_eq!(asides_left(&pool).await, (0, 0));

    // And a first load sweeps before it makes its partition.
    let mut tx = as_app(&pool, "06067").await;
    let k = make(&mut tx, "06067", election).await.unwrap();
    aside(&pool, "06067", k)
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(asides_left(&pool).await, (1, 1));
    let mut tx = as_app(&pool, "06067").await;
    let k = make(&mut tx, "06067", election).await.unwrap();
    attach(&mut tx, k).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(asides_left(&pool).await, (0, 0));
}

/// Events aside are made only for the transaction's county, for a partition being made, and
/// attached only to their county's partition.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn events_aside_are_their_countys_only(pool: PgPool) {
    let (election, [v1, _]) = world(&pool).await;
    let mut tx = as_app(&pool, "06067").await;
    let k = make(&mut tx, "06067", election).await.unwrap();
    let make_aside = "select ballot_events_aside_make($1::integer, '06067')";
    let err = refused(&pool, "06037", make_aside, k.into()).await;
    assert!(err.contains("does not work for county 06067"), "{err}");
    let err = aside(&pool, "06067", k + 1).await.unwrap_err();
    assert!(err.to_string().contains("no partition"), "{err}");
    // Los Angeles writes events aside for Sacramento's partition: not attached (the owner's
    // function sees their record as Los Angeles's, or, when the schema's owner is not a
    // superuser, does not see it at all).
    aside(&pool, "06037", k)
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    fill_ballot(&mut tx, k, first_id(k), v1, election, "SAC-B-1").await;
    let err = attach(&mut tx, k).await.unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("are county 06037's") || err.contains("not this transaction's to attach"),
        "{err}"
    );
}

/// Events written aside are checked as the partition's own: what they name (gathered as their
/// table is closed to further rows), and their ballots.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn events_aside_are_checked_as_the_partitions_own(pool: PgPool) {
    let (election, [v1, _]) = world(&pool).await;
    for (case, expected) in [
        ("import", "ballot_events_import_fkey"),
        ("ballot", "ballot_events_ballot_fkey"),
    ] {
        let mut tx = as_app(&pool, "06067").await;
        let k = make(&mut tx, "06067", election).await.unwrap();
        let first = first_id(k);
        let table = format!("ballot_events_aside_{k}");
        let mut side = aside(&pool, "06067", k).await.unwrap();
        events_into(&mut side, &table, first).await;
        let (ballot, import) = match case {
            "import" => (first, Some(424_242_i64)),
            _ => (first + 1, None),
        };
        sqlx::query(&format!(
            "insert into {table} (ballot_id, county_fips, status, occurred_at, source, import_id, notify)
             values ($1, '06067', 'received', now(), $2, $3, true)"
        ))
        .bind(ballot)
        .bind(if import.is_some() { "import" } else { "system" })
        .bind(import)
        .execute(&mut *side)
        .await
        .unwrap();
        close_aside(side, k).await;
        // Closed: no one adds to it now.
        let late = format!(
            "insert into {table} (ballot_id, county_fips, status, occurred_at, source, notify)
             values ($1, '06067', 'counted', now(), 'system', true)"
        );
        let err = refused(&pool, "06067", &late, first).await;
        assert!(err.contains("permission denied"), "{case}: {err}");
        fill_ballot(&mut tx, k, first, v1, election, "SAC-B-1").await;
        let err = attach(&mut tx, k).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{case}: {err}");
        tx.rollback().await.unwrap();
        assert_eq!(sweep(&pool).await, 1, "{case}");
    }
}

/// Events written aside are filled and closed by the transaction that made them, and attached
/// only once closed.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn events_aside_are_closed_by_the_transaction_that_made_them(pool: PgPool) {
    let (election, [v1, _]) = world(&pool).await;
    let mut tx = as_app(&pool, "06067").await;
    let k = make(&mut tx, "06067", election).await.unwrap();
    let mut side = aside(&pool, "06067", k).await.unwrap();
    events_into(&mut side, &format!("ballot_events_aside_{k}"), first_id(k)).await;
    side.commit().await.unwrap();
    // Another transaction of the county's can neither close it nor add to it unseen.
    let index = "select ballot_events_aside_index($1::integer)";
    let err = refused(&pool, "06067", index, k.into()).await;
    assert!(
        err.contains("closed by the transaction that made them"),
        "{err}"
    );
    fill_ballot(&mut tx, k, first_id(k), v1, election, "SAC-B-1").await;
    let err = attach(&mut tx, k).await.unwrap_err();
    assert!(err.to_string().contains("were not closed"), "{err}");
}

/// A partition's keys and indexes are looked for on the partition itself: a temporary table of
/// the caller's by an index's name does not stand in for it.
#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_name_on_the_search_path_stands_in_for_no_index(pool: PgPool) {
    let (election, [v1, _]) = world(&pool).await;
    let mut tx = as_app(&pool, "06067").await;
    let k = make(&mut tx, "06067", election).await.unwrap();
    sqlx::query(&format!(
        "create temporary table ballots_{k}_one_live_per_voter ()"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    fill(&mut tx, k, first_id(k), v1, election, "SAC-B-1").await;
    attach(&mut tx, k).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        index_shapes(&pool, &format!("ballots_{k}"), &format!("ballots_{k}_")).await,
        index_shapes(&pool, "ballots_0", "ballots_").await
    );
}
