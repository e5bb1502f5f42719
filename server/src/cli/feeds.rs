//! `ballot-tracker import` (a county file: dry run, or apply) and `ballot-tracker imb`
//! (Intelligent Mail barcodes: encode and decode).

use anyhow::{Context, bail};
use app::domain::imb::{Bars, Imb};
use app::imports::run::{self, Blocked, Limits, Mode, Request};
use app::imports::{FeedKind, Guard};
use clap::Subcommand;
use sqlx::PgPool;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The county's FIPS code, e.g. 06001.
    #[arg(long)]
    pub county: String,
    /// vot, elg, trk or pkg.
    #[arg(long)]
    pub kind: String,
    /// The election (its id, or its election day YYYY-MM-DD); required for elg, trk and pkg.
    #[arg(long)]
    pub election: Option<String>,
    /// Apply the file (one transaction, all or nothing). Without it the file only runs dry.
    #[arg(long)]
    pub apply: bool,
    /// Guards to confirm, comma-separated: other_county, other_election, future_dates,
    /// early_dates, mass_change.
    #[arg(long, value_delimiter = ',')]
    pub confirm: Vec<String>,
    /// Apply the rows that pass, leaving out the rejected ones.
    #[arg(long)]
    pub skip_rejected: bool,
    /// Write the per-row error report (CSV) here.
    #[arg(long)]
    pub errors: Option<PathBuf>,
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ImbCommand {
    /// Print the 65 bars (A, D, F, T) of a tracking code and an optional routing code.
    Encode {
        tracking: String,
        #[arg(default_value = "")]
        routing: String,
    },
    /// Read 65 bars back into the tracking code and routing code.
    Decode { bars: String },
}

pub fn imb(command: ImbCommand) -> anyhow::Result<()> {
    match command {
        ImbCommand::Encode { tracking, routing } => {
            let imb = Imb::parse(&tracking, &routing)?;
            println!("{}", imb.encode());
        }
        ImbCommand::Decode { bars } => {
            let imb = Imb::decode(&bars)?;
            let t = &imb.tracking;
            println!("tracking code: {}", t.as_str());
            println!("routing code:  {}", imb.routing.as_str());
            println!(
                "barcode id {}, service type {}, mailer id {}, serial {}",
                t.barcode_id(),
                t.service_type(),
                t.mailer_id(),
                t.serial()
            );
            debug_assert_eq!(Bars::parse(&bars).ok(), Some(imb.encode()));
        }
    }
    Ok(())
}

async fn election_id(pool: &PgPool, county: &str, raw: &str) -> anyhow::Result<i64> {
    if let Ok(id) = raw.parse::<i64>() {
        return Ok(id);
    }
    let Some(day) = run::parse_date(raw) else {
        bail!("--election takes an election's id or its day (YYYY-MM-DD)");
    };
    let ids: Vec<i64> = sqlx::query_scalar(
        "select id from elections where election_day = $1 and (county_fips is null or county_fips = $2)",
    )
    .bind(day)
    .bind(county)
    .fetch_all(pool)
    .await?;
    match ids.as_slice() {
        [one] => Ok(*one),
        [] => bail!("county {county} has no election on {day}"),
        _ => bail!("county {county} has several elections on {day}: give the id"),
    }
}

pub async fn import(pool: &PgPool, args: ImportArgs) -> anyhow::Result<()> {
    let kind = FeedKind::parse(&args.kind)?;
    let mut confirmed = Vec::new();
    for raw in &args.confirm {
        let Some(guard) = Guard::parse(raw) else {
            bail!(
                "unknown guard {raw:?}: use {}",
                Guard::ALL.map(Guard::code).join(", ")
            );
        };
        confirmed.push(guard);
    }
    let election = match &args.election {
        Some(raw) => Some(election_id(pool, &args.county, raw).await?),
        None => None,
    };
    let request = Request {
        county_fips: args.county.clone(),
        election_id: election,
        kind,
        file_name: args
            .file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        user_id: None,
        api_token_id: None,
        limits: Limits::default(),
    };
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("opening {}", args.file.display()))?;
    let import_id = run::start(pool, &request).await?;
    let mode = if args.apply {
        Mode::Apply {
            confirmed,
            skip_rejected: args.skip_rejected,
        }
    } else {
        Mode::DryRun
    };
    let report = run::process(
        pool,
        import_id,
        &request,
        &mode,
        std::io::BufReader::with_capacity(1 << 16, file),
    )
    .await?;
    let s = &report.summary;
    println!(
        "import {import_id}: {} rows of {} ({}){}",
        app::imports::thousands(s.rows),
        kind.label(),
        &report.sha256[..12],
        if s.latin1 { ", read as Latin-1" } else { "" }
    );
    for line in s.lines() {
        println!("  {line}");
    }
    for f in &s.findings {
        println!(
            "  guard {}: {} ({} rows; e.g. {})",
            f.guard.code(),
            f.guard.title(),
            app::imports::thousands(f.rows),
            f.detail
        );
    }
    let rejected = if s.rejected > 0 {
        run::rejections(pool, import_id, &args.county).await?
    } else {
        Vec::new()
    };
    for r in rejected.iter().take(10) {
        println!(
            "  row {}{}: {}",
            r.row,
            r.field
                .as_deref()
                .map(|f| format!(" {f}"))
                .unwrap_or_default(),
            r.reason
        );
    }
    if rejected.len() > 10 {
        println!("  … and {} more rejected rows", rejected.len() - 10);
    }
    if let Some(path) = &args.errors {
        std::fs::write(path, run::rejections_csv(&rejected))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("error report: {}", path.display());
    }
    match (&mode, report.applied, report.blocked) {
        (Mode::DryRun, _, _) => {
            println!("dry run: nothing was changed; add --apply to apply it");
            Ok(())
        }
        (_, true, _) => {
            println!("applied");
            Ok(())
        }
        (_, false, Some(Blocked::Unconfirmed(guards))) => bail!(
            "not applied: confirm with --confirm {}",
            guards
                .iter()
                .map(|g| g.code())
                .collect::<Vec<_>>()
                .join(",")
        ),
        (_, false, Some(Blocked::Rejected(n))) => bail!(
            "not applied: {} rows were rejected; fix them, or add --skip-rejected to apply the rest",
            app::imports::thousands(n)
        ),
        (_, false, None) => bail!("not applied"),
    }
}
