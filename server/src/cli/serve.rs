use crate::build_router;
use crate::config::Config;
use crate::notify::{Engine, spawn_workers};
use anyhow::Context;
use app::state::AppState;
use leptos::prelude::get_configuration;
use sqlx::PgPool;
use std::sync::Arc;

pub async fn serve(config: &Config, pool: PgPool) -> anyhow::Result<()> {
    let leptos_options = get_configuration(None)
        .context("reading LEPTOS_* settings")?
        .leptos_options;
    let addr = leptos_options.site_addr;
    spawn_housekeeping(pool.clone());
    spawn_session_purge(pool.clone());
    let (stop_workers, stop) = tokio::sync::watch::channel(false);
    let engine = Engine::new(
        pool.clone(),
        config.notify.clone(),
        config.settings.messaging.clone(),
    )?;
    let workers = if config.notify.workers > 0 && !engine.channels().is_empty() {
        spawn_workers(Arc::new(engine), config.notify.workers, &stop)
    } else {
        tracing::info!(
            "no delivery workers in this process (NOTIFY_WORKERS, SMTP_URL, TELEPHONY_BASE_URL)"
        );
        Vec::new()
    };
    let exports = app::reports::jobs::spawn_runner(
        pool.clone(),
        crate::exports_http::worker_name(),
        stop.clone(),
    );
    let mut state = AppState::new(leptos_options, pool.clone(), config.settings.clone());
    // Look-ups' rate-limit hits, written in batches; the last batch is written on the way out.
    let lookup_hits =
        app::ratelimit::spawn_flusher(pool, Arc::clone(&state.lookup_hits), stop.clone());
    if let Some(mail) =
        crate::notify::email::staff_mail(&config.notify, &config.settings.messaging)?
    {
        state = state.with_staff_mail(mail);
    }
    let app = build_router(state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, "serving on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving")?;
    let _ = stop_workers.send(true);
    for w in workers {
        let _ = w.await;
    }
    let _ = exports.await;
    let _ = lookup_hits.await;
    Ok(())
}

/// `ballot-tracker worker`: delivery workers only, until SIGTERM or Ctrl-C; each finishes the
/// batch it holds before it stops.
pub async fn work(config: &Config, pool: PgPool, count: usize) -> anyhow::Result<()> {
    let engine = Engine::new(
        pool.clone(),
        crate::config::NotifyConfig {
            workers: count,
            ..config.notify.clone()
        },
        config.settings.messaging.clone(),
    )?;
    if engine.channels().is_empty() {
        tracing::warn!(
            "no provider is configured (SMTP_URL, TELEPHONY_BASE_URL): nothing will be sent"
        );
    }
    let (stop_workers, stop) = tokio::sync::watch::channel(false);
    let exports =
        app::reports::jobs::spawn_runner(pool, crate::exports_http::worker_name(), stop.clone());
    let workers = spawn_workers(Arc::new(engine), count, &stop);
    shutdown_signal().await;
    let _ = stop_workers.send(true);
    for w in workers {
        let _ = w.await;
    }
    let _ = exports.await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

/// Every five minutes, deletes expired portal sessions. Each instance runs it; the deletes are
/// idempotent.
fn spawn_session_purge(pool: PgPool) {
    use tower_sessions::ExpiredDeletion;
    let store = app::admin::session_store::PgSessionStore::new(pool);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            tick.tick().await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "deleting expired sessions failed");
            }
        }
    });
}

/// Every five minutes, deletes rate-limit windows that ended long ago, ends sign-ups never
/// confirmed, and drops the events that first loads which did not commit (failed or killed)
/// wrote aside. Each instance runs it; all three are idempotent.
fn spawn_housekeeping(pool: PgPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            tick.tick().await;
            // The error is logged by the function's instrumentation.
            let _ = app::ratelimit::purge_expired(&pool).await;
            // Sign-ups never confirmed in time end, with their queued confirmations.
            if let Err(e) = app::messages::subscriptions::expire_unconfirmed(&pool).await {
                tracing::warn!(error = %e, "expiring unconfirmed sign-ups failed");
            }
            match app::ballots::first_load::sweep_asides(&pool).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    tables = n,
                    "dropped events written aside by first loads that did not commit"
                ),
                Err(e) => tracing::warn!(error = %e, "sweeping events written aside failed"),
            }
        }
    });
}
