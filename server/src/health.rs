//! `/healthz`: the process is up. `/readyz`: the database answers and every migration this
//! binary knows is applied, so a load balancer sends traffic only to instances that can serve.

use app::state::{AppState, MIGRATOR};
use axum::extract::State;
use axum::http::StatusCode;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    match pending_migrations(&state.pool).await {
        Ok(0) => (StatusCode::OK, "ready".into()),
        Ok(n) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{n} migrations not applied"),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "database unreachable".into(),
            )
        }
    }
}

/// How many of this binary's migrations the database lacks.
pub async fn pending_migrations(pool: &sqlx::PgPool) -> Result<usize, sqlx::Error> {
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
            .fetch_all(pool)
            .await
            .or_else(|e| match &e {
                // No migrations table yet: nothing applied.
                sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => {
                    Ok(Vec::new())
                }
                _ => Err(e),
            })?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .count())
}
