//! Staff search timings for `make bench`: the portal's own search (`app::admin::store`), as a
//! Los Angeles clerk's transaction (the app's role, row-level security on), for the kinds of
//! term staff type. Prints p50 and p99 per kind.
//!
//! `DATABASE_URL=... cargo run --release --example bench_search`

use app::admin::records::Needle;
use app::admin::roles::Scope;
use app::admin::store;
use app::domain::BallotStatus;
use sqlx::postgres::PgPoolOptions;
use std::time::Instant;

const RUNS: usize = 50;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .after_connect(|conn, _| {
            Box::pin(server::db::prepare_connection(
                conn,
                Some("ballot_tracker_app"),
            ))
        })
        .connect(&url)
        .await?;
    let la = Scope::County("06037".to_owned());
    // Real terms from the loaded data: a common surname, a full name, a voter id, a barcode.
    let (first, last, voter_id): (String, String, String) = sqlx::query_as(
        "select first_name, last_name, county_voter_id from voters
         where county_fips = '06037' and county_voter_id like 'LA%' order by id limit 1",
    )
    .fetch_one(&pool)
    .await?;
    let barcode: String = sqlx::query_scalar(
        "select left(outbound_imb, 20) from ballots
         where county_fips = '06037' and outbound_imb is not null order by id limit 1",
    )
    .fetch_one(&pool)
    .await?;
    let cases: Vec<(&str, Needle, Option<BallotStatus>, i64)> = vec![
        ("surname", Needle::parse(&last)?, None, 0),
        (
            "first and last name",
            Needle::parse(&format!("{first} {last}"))?,
            None,
            0,
        ),
        ("county voter id", Needle::parse(&voter_id)?, None, 0),
        ("barcode", Needle::parse(&barcode)?, None, 0),
        (
            "status filter: not counted",
            Needle::Everything,
            Some(BallotStatus::NotCounted),
            0,
        ),
        ("everything, page 1", Needle::Everything, None, 0),
        ("everything, page 20", Needle::Everything, None, 19),
    ];
    println!(
        "{:<32} {:>8} {:>10} {:>10}",
        "staff search (Los Angeles)", "rows", "p50 ms", "p99 ms"
    );
    for (label, needle, status, page) in cases {
        let mut times = Vec::with_capacity(RUNS);
        let mut rows = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let mut tx = store::scoped(&pool, &la).await?;
            let found = store::search(&mut tx, &la, &needle, status, None, page).await?;
            tx.commit().await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            rows = found.rows.len();
        }
        times.sort_by(f64::total_cmp);
        let p = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        println!("{label:<32} {rows:>8} {:>10.2} {:>10.2}", p(0.5), p(0.99));
    }
    Ok(())
}
