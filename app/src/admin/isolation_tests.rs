//! Row-level security: the meta-test that every table with a county column has a forced
//! policy, and what a county's transaction can and cannot reach as the app's role.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use sqlx::{PgPool, Row};

/// Every table (partitions included) with a `county_fips` column.
async fn county_tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select c.relname::text from pg_attribute a
         join pg_class c on c.oid = a.attrelid
         join pg_namespace n on n.oid = c.relnamespace
         where a.attname = 'county_fips' and not a.attisdropped and n.nspname = 'public'
           and c.relkind in ('r', 'p')
         order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn every_table_with_a_county_column_has_a_forced_policy(pool: PgPool) {
    let tables = county_tables(&pool).await;
    assert!(tables.len() >= 11 + 16, "{tables:?}");
    for table in tables {
        let row = sqlx::query(
            "select c.relrowsecurity, c.relforcerowsecurity,
                    (select count(*) from pg_policy p where p.polrelid = c.oid) as policies
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where c.relname = $1 and n.nspname = 'public'",
        )
        .bind(&table)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(row.get::<bool, _>(0), "{table}: row-level security is off");
        assert!(
            row.get::<bool, _>(1),
            "{table}: row-level security is not forced"
        );
        assert!(row.get::<i64, _>(2) >= 1, "{table}: no policy");
    }
}

/// Runs `sql` as the app's role in a transaction working for `county` ("" for none).
async fn as_app(pool: &PgPool, county: &str, sql: &str) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("set local role ballot_tracker_app")
        .execute(&mut *tx)
        .await?;
    sqlx::query("select set_config('app.county', $1, true)")
        .bind(county)
        .execute(&mut *tx)
        .await?;
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await?;
    tx.rollback().await?;
    Ok(n)
}

async fn demo_like(pool: &PgPool) {
    sqlx::query(
        "insert into voters (county_fips, county_voter_id, first_name, last_name,
                             first_name_norm, last_name_norm, date_of_birth, residential_zip)
         values ('06037', 'LA1', 'Ana', 'Lopez', 'ana', 'lopez', '1980-01-01', '90012'),
                ('06075', 'SF1', 'Bo', 'Chan', 'bo', 'chan', '1981-01-01', '94110')",
    )
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "crate::state::MIGRATOR")]
async fn a_countys_transaction_reaches_its_own_rows_only(pool: PgPool) {
    demo_like(&pool).await;
    let count = "select count(*) from voters";
    assert_eq!(as_app(&pool, "06037", count).await.unwrap(), 1);
    assert_eq!(as_app(&pool, "06075", count).await.unwrap(), 1);
    assert_eq!(as_app(&pool, "*", count).await.unwrap(), 2);
    assert_eq!(
        as_app(&pool, "", count).await.unwrap(),
        0,
        "unset sees nothing"
    );
    // Even asking for the other county by name finds nothing, and changes nothing.
    let other = "select count(*) from voters where county_fips = '06075'";
    assert_eq!(as_app(&pool, "06037", other).await.unwrap(), 0);
    let update = "with u as (update voters set precinct = 'X' where county_fips = '06075'
                             returning 1) select count(*) from u";
    assert_eq!(as_app(&pool, "06037", update).await.unwrap(), 0);
    // Writing a row for another county is refused outright.
    let insert = "with i as (insert into voters (county_fips, county_voter_id, first_name,
                    last_name, first_name_norm, last_name_norm, date_of_birth, residential_zip)
                  values ('06075', 'SF2', 'C', 'D', 'c', 'd', '1990-01-01', '94110')
                  returning 1) select count(*) from i";
    let err = as_app(&pool, "06037", insert).await.unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    // The state's own rows (no county) are out of a county's reach.
    let state_rows = "select count(*) from audit_log where county_fips is null";
    sqlx::query("insert into audit_log (actor_kind, action) values ('system', 'demo.loaded')")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(as_app(&pool, "06037", state_rows).await.unwrap(), 0);
    assert_eq!(as_app(&pool, "*", state_rows).await.unwrap(), 1);
}
