//! `ballot-tracker [serve] | worker | migrate | demo | admin create | audit verify | import |
//! export | imb | api-token | standins`.

mod admin;
mod api_token;
mod audit;
mod export;
mod feeds;
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
    /// Stand-in providers on 127.0.0.1 (an SMTP server and a telephony API) that keep what
    /// they are sent, for development and the browser tests. Nothing leaves the machine.
    Standins(StandinArgs),
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Check a county file (a dry run), or apply it with --apply.
    Import(feeds::ImportArgs),
    /// Manage the API tokens of a county's systems.
    ApiToken {
        #[command(subcommand)]
        command: api_token::ApiTokenCommand,
    },
    /// Export a report (ballots, cure, notifications, audit, imports) as CSV or XLSX.
    Export(export::ExportArgs),
    /// Encode or decode an Intelligent Mail barcode (USPS-B-3200).
    Imb {
        #[command(subcommand)]
        command: feeds::ImbCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Workers in this process (default: NOTIFY_WORKERS, at least 1).
    #[arg(long)]
    pub workers: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct StandinArgs {
    #[arg(long, default_value_t = 2525)]
    pub smtp_port: u16,
    /// The telephony API's port; it also lists what arrived: GET /received, GET /emails.
    #[arg(long, default_value_t = 2580)]
    pub http_port: u16,
    #[arg(long, default_value = "AC00000000000000000000000000000000")]
    pub account_sid: String,
    #[arg(long, default_value = "standin-auth-token")]
    pub auth_token: String,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Imb { command } = command {
        return feeds::imb(command);
    }
    if let Command::Standins(args) = &command {
        return standins(args).await;
    }
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
        Command::Serve | Command::Worker(_) | Command::Standins(_) | Command::Imb { .. } => Ok(()),
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
        Command::ApiToken { command } => {
            db::migrate(&pool).await.context("applying migrations")?;
            api_token::run(&pool, command).await
        }
        Command::Import(args) => {
            db::migrate(&pool).await.context("applying migrations")?;
            feeds::import(&pool, args).await
        }
        Command::Export(args) => {
            db::migrate(&pool).await.context("applying migrations")?;
            export::run(&pool, args).await
        }
    }
}

async fn standins(args: &StandinArgs) -> anyhow::Result<()> {
    use crate::standin::{SmtpSink, TelephonyStandin};
    let (sink, smtp_port) = SmtpSink::start(args.smtp_port)
        .await
        .context("starting the SMTP stand-in")?;
    let (_phone, http_port) = TelephonyStandin::start(
        args.http_port,
        &args.account_sid,
        &args.auth_token,
        true,
        Some(sink),
    )
    .await
    .context("starting the telephony stand-in")?;
    println!(
        "SMTP stand-in on 127.0.0.1:{smtp_port}; telephony stand-in on http://127.0.0.1:{http_port} (GET /received, GET /emails)"
    );
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}
