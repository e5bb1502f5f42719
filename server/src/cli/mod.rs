//! `ballot-tracker [serve] | worker | migrate | demo | admin create | audit verify`.

mod admin;
mod audit;
mod serve;

use crate::config::Config;
use crate::{db, demo, telemetry};
use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ballot-tracker",
    version,
    about = "Vote-by-mail ballot tracking for a state and its counties"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load a synthetic election: voters, ballots in every status, postal scans, subscriptions.
    Demo(demo::DemoArgs),
    /// Manage administrator accounts.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Deliver notifications only (no web server): any number of these, on any machines.
    Worker(WorkerArgs),
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Workers in this process (default: NOTIFY_WORKERS, at least 1).
    #[arg(long)]
    pub workers: Option<usize>,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let command = cli.command.unwrap_or(Command::Serve);
    if !matches!(command, Command::Admin { .. }) {
        db::ensure_database(&config)
            .await
            .context("creating the database")?;
    }
    if matches!(command, Command::Serve) {
        if config.migrate_on_start {
            let owner = db::connect(&config, db::Acting::Owner)
                .await
                .context("connecting to PostgreSQL (DATABASE_URL)")?;
            db::migrate(&owner).await.context("applying migrations")?;
            owner.close().await;
        }
        let pool = db::connect(&config, db::Acting::App)
            .await
            .context("connecting to PostgreSQL as DATABASE_ROLE")?;
        return serve::serve(&config, pool).await;
    }
    if let Command::Worker(args) = &command {
        let pool = db::connect(&config, db::Acting::App)
            .await
            .context("connecting to PostgreSQL as DATABASE_ROLE")?;
        let count = args.workers.unwrap_or(config.notify.workers).max(1);
        return serve::work(&config, pool, count).await;
    }
    let pool = db::connect(&config, db::Acting::Owner)
        .await
        .context("connecting to PostgreSQL (DATABASE_URL)")?;
    match command {
        Command::Serve | Command::Worker(_) => Ok(()),
        Command::Migrate => {
            db::migrate(&pool).await.context("applying migrations")?;
            println!("migrations applied");
            Ok(())
        }
        Command::Demo(args) => {
            db::migrate(&pool).await.context("applying migrations")?;
            demo::run(&pool, &args).await
        }
        Command::Admin { command } => admin::run(&pool, command).await,
        Command::Audit { command } => audit::run(&pool, command).await,
    }
}
