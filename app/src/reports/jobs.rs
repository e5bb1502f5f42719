//! Exports that run in the background: any app instance (or `ballot-tracker worker`) claims a
//! waiting one, writes its file into `export_parts` a megabyte at a time and says how far it
//! has got every second; the portal shows that as a progress bar and offers the download when
//! it is done. A run whose process stops saying so for a minute is taken over and started again.
//! Finished files are kept for [`KEEP_HOURS`] hours.

use super::export::{self, ExportError};
use super::{ExportRow, ExportSpec, reports_scope};
use crate::admin::Staff;
use crate::admin::roles::Scope;
use crate::audit::{self, ActorKind, AuditAction, AuditEntry};
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a finished export's file is kept.
pub const KEEP_HOURS: i64 = 24;
/// How often a waiting export is looked for, and progress written.
const TICK: Duration = Duration::from_secs(1);

async fn system_tx(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    crate::admin::store::scoped(pool, &Scope::AllCounties).await
}

/// Records an export to run in the background; returns its id.
pub async fn create(
    pool: &PgPool,
    spec: &ExportSpec,
    requested_by: Option<i64>,
    rows_total: i64,
) -> Result<i64, sqlx::Error> {
    let mut tx = system_tx(pool).await?;
    let filters = serde_json::to_value(&spec.filters).unwrap_or_default();
    let id = sqlx::query_scalar!(
        "insert into exports (county_fips, kind, format, filters, rows_total, requested_by)
         values ($1, $2, $3, $4, $5, $6) returning id",
        spec.county_fips,
        spec.kind.code(),
        spec.format.code(),
        filters,
        rows_total,
        requested_by
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The audit row of a finished export: who, what, filtered how, how many rows.
pub async fn record(
    conn: &mut sqlx::PgConnection,
    spec: &ExportSpec,
    requested_by: Option<i64>,
    export_id: Option<i64>,
    rows: u64,
) -> Result<(), sqlx::Error> {
    let actor = if requested_by.is_some() {
        ActorKind::User
    } else {
        ActorKind::Cli
    };
    let mut entry = AuditEntry::new(actor, requested_by, AuditAction::ExportCreated);
    entry.county_fips = spec.county_fips.clone();
    entry.entity = export_id.map(|id| ("export", id.to_string()));
    entry.after = Some(serde_json::json!({
        "kind": spec.kind.code(),
        "format": spec.format.code(),
        "filters": spec.filters,
        "rows": rows,
    }));
    audit::record(conn, entry).await
}

struct Claimed {
    id: i64,
    spec: ExportSpec,
    requested_by: Option<i64>,
}

/// Claims a waiting export (`only`: that one), or one whose runner went quiet.
async fn claim(
    pool: &PgPool,
    only: Option<i64>,
    worker: &str,
) -> Result<Option<Claimed>, sqlx::Error> {
    let mut tx = system_tx(pool).await?;
    let row = sqlx::query!(
        "update exports set state = 'running', claimed_by = $2, heartbeat_at = now(),
                rows_written = 0, bytes = 0
         where id = (select id from exports
                     where (state = 'queued'
                            or (state = 'running' and heartbeat_at < now() - interval '1 minute'))
                       and ($1::bigint is null or id = $1)
                     order by id limit 1 for update skip locked)
         returning id, county_fips, kind, format, filters, requested_by",
        only,
        worker
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(None);
    };
    // A run taken over starts again from the first part.
    sqlx::query!("delete from export_parts where export_id = $1", row.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let kind = super::ExportKind::parse(&row.kind).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let format =
        super::ExportFormat::parse(&row.format).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let filters =
        serde_json::from_value(row.filters).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some(Claimed {
        id: row.id,
        spec: ExportSpec {
            kind,
            format,
            county_fips: row.county_fips,
            filters,
        },
        requested_by: row.requested_by,
    }))
}

/// Runs one waiting export (`only`: that one) to its end. Returns whether there was one.
pub async fn run_one(pool: &PgPool, only: Option<i64>, worker: &str) -> Result<bool, sqlx::Error> {
    let Some(job) = claim(pool, only, worker).await? else {
        return Ok(false);
    };
    let outcome = produce(pool, &job).await;
    let mut tx = system_tx(pool).await?;
    match outcome {
        Ok(rows) => {
            sqlx::query!(
                "update exports set state = 'done', finished_at = now(), heartbeat_at = now(),
                        rows_written = $2, rows_total = $2,
                        bytes = (select coalesce(sum(length(content)), 0) from export_parts
                                 where export_id = $1)
                 where id = $1",
                job.id,
                i64::try_from(rows).unwrap_or(i64::MAX)
            )
            .execute(&mut *tx)
            .await?;
            record(&mut tx, &job.spec, job.requested_by, Some(job.id), rows).await?;
        }
        Err(e) => {
            tracing::error!(export = job.id, error = %e, "export failed");
            sqlx::query!(
                "update exports set state = 'failed', finished_at = now(), failure = $2 where id = $1",
                job.id,
                "The export could not be written; please ask for it again."
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// Writes the file: the rows read in a transaction scoped to the export's county, the parts
/// stored as they come, progress every second.
async fn produce(pool: &PgPool, job: &Claimed) -> Result<u64, ExportError> {
    let scope = job
        .spec
        .county_fips
        .clone()
        .map_or(Scope::AllCounties, Scope::County);
    let (parts, mut incoming) = mpsc::channel::<Vec<u8>>(2);
    let progress = Arc::new(AtomicU64::new(0));
    let store = {
        let pool = pool.clone();
        let progress = progress.clone();
        let id = job.id;
        async move {
            let mut seq = 0i32;
            let mut bytes = 0i64;
            let mut ticker = tokio::time::interval(TICK);
            loop {
                tokio::select! {
                    part = incoming.recv() => {
                        let Some(part) = part else { break };
                        bytes += i64::try_from(part.len()).unwrap_or(i64::MAX);
                        let mut tx = system_tx(&pool).await?;
                        sqlx::query!(
                            "insert into export_parts (export_id, seq, county_fips, content)
                             select id, $2, county_fips, $3 from exports where id = $1",
                            id, seq, part
                        )
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await?;
                        seq += 1;
                    }
                    _ = ticker.tick() => {
                        let written = i64::try_from(progress.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
                        let mut tx = system_tx(&pool).await?;
                        sqlx::query!(
                            "update exports set rows_written = $2, bytes = $3, heartbeat_at = now()
                             where id = $1",
                            id, written, bytes
                        )
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await?;
                    }
                }
            }
            Ok::<(), sqlx::Error>(())
        }
    };
    let read = async {
        let mut tx = crate::admin::store::scoped(pool, &scope).await?;
        let rows = export::write(&mut tx, &job.spec, parts, progress.clone()).await?;
        tx.commit().await?;
        Ok::<u64, ExportError>(rows)
    };
    let (rows, stored) = tokio::join!(read, store);
    stored?;
    rows
}

/// Runs waiting exports until `stop` says so; deletes files past their time.
pub fn spawn_runner(
    pool: PgPool,
    worker: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sweep = 0u32;
        loop {
            match run_one(&pool, None, &worker).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "looking for exports to run"),
            }
            if sweep == 0
                && let Err(e) = purge(&pool).await
            {
                tracing::warn!(error = %e, "deleting old exports");
            }
            sweep = (sweep + 1) % 600;
            tokio::select! {
                _ = tokio::time::sleep(TICK * 2) => {}
                _ = stop.changed() => return,
            }
        }
    })
}

/// Deletes finished files older than [`KEEP_HOURS`] (the export's row stays, for the record).
pub async fn purge(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut tx = system_tx(pool).await?;
    let gone = sqlx::query!(
        "delete from export_parts p using exports e
         where e.id = p.export_id and e.finished_at < now() - make_interval(hours => $1::int)",
        i32::try_from(KEEP_HOURS).unwrap_or(24)
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(gone)
}

/// The exports `staff` asked for, newest first (the latest 50).
pub async fn list_for(pool: &PgPool, staff: &Staff) -> Result<Vec<ExportRow>, crate::AppError> {
    Ok(mine(pool, staff, None)
        .await?
        .into_iter()
        .map(|(row, _)| row)
        .collect())
}

/// `staff`'s exports (`only`: that one), each with how many parts its file has.
async fn mine(
    pool: &PgPool,
    staff: &Staff,
    only: Option<i64>,
) -> Result<Vec<(ExportRow, i32)>, crate::AppError> {
    let scope = reports_scope(staff)?;
    let mut tx = crate::admin::store::scoped(pool, &scope).await?;
    let rows = sqlx::query!(
        r#"select id, county_fips, kind, format, filters, state, rows_total, rows_written, bytes,
                  failure, to_char(created_at at time zone 'America/Los_Angeles', 'YYYY-MM-DD HH24:MI') as "created!",
                  (created_at at time zone 'America/Los_Angeles')::date as "day!",
                  (select count(*)::int from export_parts p where p.export_id = e.id) as "parts!"
           from exports e where requested_by = $1 and ($2::bigint is null or id = $2)
           order by id desc limit 50"#,
        staff.id,
        only
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (Ok(kind), Ok(format), Ok(filters)) = (
            super::ExportKind::parse(&r.kind),
            super::ExportFormat::parse(&r.format),
            serde_json::from_value(r.filters),
        ) else {
            continue;
        };
        let spec = ExportSpec {
            kind,
            format,
            county_fips: r.county_fips,
            filters,
        };
        let row = ExportRow {
            id: r.id,
            file_name: spec.file_name(r.day),
            spec,
            state: r.state,
            rows_total: r.rows_total,
            rows_written: r.rows_written,
            bytes: r.bytes,
            failure: r.failure,
            created_at: r.created,
        };
        out.push((row, r.parts));
    }
    Ok(out)
}

/// A finished export of `staff`'s: its file name, format and number of parts; `None` when it
/// is not theirs, not finished, or its file was deleted after its day.
pub async fn finished(
    pool: &PgPool,
    staff: &Staff,
    id: i64,
) -> Result<Option<(String, super::ExportFormat, i32)>, crate::AppError> {
    let found = mine(pool, staff, Some(id)).await?.into_iter().next();
    Ok(found
        .filter(|(row, parts)| row.state == "done" && (*parts > 0 || row.rows_written == 0))
        .map(|(row, parts)| (row.file_name, row.spec.format, parts)))
}

/// One part of an export's file.
pub async fn part(
    pool: &PgPool,
    scope: &Scope,
    id: i64,
    seq: i32,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let mut tx = crate::admin::store::scoped(pool, scope).await?;
    let bytes = sqlx::query_scalar!(
        "select content from export_parts where export_id = $1 and seq = $2",
        id,
        seq
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(bytes)
}
