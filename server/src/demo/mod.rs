//! `ballot-tracker demo --voters N`: a realistic synthetic election.

mod counties;
mod generate;
mod history;
mod names;
mod showcase;
mod stage;

use anyhow::Context;
use clap::Args;
use sqlx::PgPool;
use std::time::Instant;

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How many voters to create (the fixed showcase voters included).
    #[arg(long, default_value_t = 2_000)]
    pub voters: usize,
    /// Seed for the random generator: the same seed gives the same people.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Do nothing when the database already has voters (what `make run` uses).
    #[arg(long)]
    pub if_empty: bool,
}

pub async fn run(pool: &PgPool, args: &DemoArgs) -> anyhow::Result<()> {
    let existing: i64 = sqlx::query_scalar("select count(*) from voters")
        .fetch_one(pool)
        .await?;
    if args.if_empty && existing > 0 {
        println!("demo data: the database already has {existing} voters; nothing loaded");
    } else {
        let started = Instant::now();
        let summary = generate::load(pool, args)
            .await
            .context("loading demo data")?;
        println!(
            "demo data: {} voters, {} ballots, {} events, {} subscriptions in {:.1} s",
            summary.voters,
            summary.ballots,
            summary.events,
            summary.subscriptions,
            started.elapsed().as_secs_f64()
        );
    }
    print_showcase();
    Ok(())
}

fn print_showcase() {
    println!();
    println!("Demo voters to look up (first name, last name, date of birth, ZIP):");
    for v in showcase::SHOWCASE {
        println!(
            "  {:<10} {:<12} {:04}-{:02}-{:02}  {}  {:<6} {}",
            v.first, v.last, v.dob.0, v.dob.1, v.dob.2, v.zip, v.county_voter_id, v.label
        );
    }
}

#[cfg(test)]
mod tests;
