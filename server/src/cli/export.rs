//! `ballot-tracker export`: the portal's exports from the command line, written to a file as
//! they are read (memory stays flat at any size) and recorded in the audit log.

use anyhow::Context;
use app::admin::roles::Scope;
use app::reports::{ExportSpec, export, jobs};
use sqlx::PgPool;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// ballots, cure, notifications, audit or imports.
    #[arg(long)]
    pub kind: String,
    /// csv or xlsx.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// A county's FIPS code; every county without it.
    #[arg(long, default_value = "")]
    pub county: String,
    /// An election's id.
    #[arg(long, default_value = "")]
    pub election: String,
    /// A ballot status code (ballots) or a delivery state (notifications).
    #[arg(long, default_value = "")]
    pub status: String,
    #[arg(long, default_value = "")]
    pub precinct: String,
    /// First day (YYYY-MM-DD, Pacific).
    #[arg(long, default_value = "")]
    pub from: String,
    /// Last day (YYYY-MM-DD, Pacific), included.
    #[arg(long, default_value = "")]
    pub to: String,
    /// The file to write.
    #[arg(long)]
    pub out: PathBuf,
}

pub async fn run(pool: &PgPool, args: ExportArgs) -> anyhow::Result<()> {
    let spec = ExportSpec::from_form(
        &Scope::AllCounties,
        &args.kind,
        &args.format,
        &args.county,
        &args.election,
        &args.status,
        &args.precinct,
        &args.from,
        &args.to,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let (parts, mut incoming) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let mut out = std::io::BufWriter::new(file);
        let mut bytes = 0u64;
        while let Some(part) = incoming.blocking_recv() {
            out.write_all(&part)?;
            bytes += part.len() as u64;
        }
        out.flush()?;
        Ok(bytes)
    });
    let mut tx = app::admin::store::scoped(pool, &Scope::AllCounties).await?;
    let rows = export::write(&mut tx, &spec, parts, Arc::new(AtomicU64::new(0))).await?;
    let bytes = writer.await??;
    jobs::record(&mut tx, &spec, None, None, rows).await?;
    tx.commit().await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{rows} rows, {bytes} bytes to {} in {secs:.2} s ({:.0} rows/s)",
        args.out.display(),
        rows as f64 / secs.max(1e-9)
    );
    Ok(())
}
