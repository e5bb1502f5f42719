//! Exports over plain HTTP: a file does not fit a server function's answer. `POST
//! /admin/exports` takes the portal's export form: an export of up to `EXPORT_INLINE_ROWS` rows
//! comes back at once as the file; a longer one is queued for the background runner and the
//! answer sends the browser to the exports page, where its progress shows. `GET
//! /admin/exports/{id}/download` streams a finished file part by part, to the person who asked
//! for it only.

use app::admin::Staff;
use app::reports::{ExportSpec, export, jobs};
use app::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/exports", post(create))
        .route("/admin/exports/{id}/download", get(download))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        message.to_owned(),
    )
        .into_response()
}

fn internal(e: &(dyn std::error::Error + 'static)) -> Response {
    tracing::error!(error = %e, "export failed");
    refuse(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.")
}

async fn staff(state: &AppState, session: &Session) -> Result<Staff, Response> {
    app::admin::session::current_of(session, &state.pool)
        .await
        .map_err(|_| refuse(StatusCode::UNAUTHORIZED, "Sign in to the portal first."))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExportForm {
    kind: String,
    format: String,
    county: String,
    election_id: String,
    status: String,
    precinct: String,
    from: String,
    to: String,
}

fn attachment(spec: &ExportSpec, bytes: Vec<u8>) -> Response {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .date_naive();
    (
        [
            (header::CONTENT_TYPE, spec.format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", spec.file_name(today)),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<ExportForm>,
) -> Response {
    let staff = match staff(&state, &session).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(kind) = app::reports::ExportKind::parse(&form.kind) else {
        return refuse(StatusCode::BAD_REQUEST, "Choose what to export.");
    };
    let Ok(scope) = kind.scope_for(&staff) else {
        return refuse(StatusCode::FORBIDDEN, "Your role may not export that list.");
    };
    let spec = match ExportSpec::from_form(
        &scope,
        &form.kind,
        &form.format,
        &form.county,
        &form.election_id,
        &form.status,
        &form.precinct,
        &form.from,
        &form.to,
    ) {
        Ok(s) => s,
        Err(app::AppError::Forbidden) => {
            return refuse(
                StatusCode::FORBIDDEN,
                "That county's records are not yours to export.",
            );
        }
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let rows = match count(&state, &scope, &spec).await {
        Ok(n) => n,
        Err(e) => return internal(&e),
    };
    if rows > state.settings.export_inline_rows {
        return match jobs::create(&state.pool, &spec, Some(staff.id), rows).await {
            Ok(id) => {
                // Start it here and now; any instance's runner would pick it up otherwise.
                let pool = state.pool.clone();
                tokio::spawn(async move {
                    if let Err(e) = jobs::run_one(&pool, Some(id), &worker_name()).await {
                        tracing::warn!(export = id, error = %e, "running an export");
                    }
                });
                Redirect::to("/admin/reports/exports").into_response()
            }
            Err(e) => internal(&e),
        };
    }
    match at_once(&state, &scope, &spec, staff.id).await {
        Ok(bytes) => attachment(&spec, bytes),
        Err(e) => internal(&e),
    }
}

async fn count(
    state: &AppState,
    scope: &app::admin::roles::Scope,
    spec: &ExportSpec,
) -> Result<i64, sqlx::Error> {
    let mut tx = app::admin::store::scoped(&state.pool, scope).await?;
    let n = export::count(&mut tx, spec).await?;
    tx.commit().await?;
    Ok(n)
}

/// A small export, read and recorded in one transaction.
async fn at_once(
    state: &AppState,
    scope: &app::admin::roles::Scope,
    spec: &ExportSpec,
    user: i64,
) -> Result<Vec<u8>, export::ExportError> {
    let mut tx = app::admin::store::scoped(&state.pool, scope).await?;
    let (bytes, rows) = export::to_bytes(&mut tx, spec).await?;
    jobs::record(&mut tx, spec, Some(user), None, rows).await?;
    tx.commit().await?;
    Ok(bytes)
}

/// This process's name in `exports.claimed_by`.
pub fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

async fn download(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
) -> Response {
    let staff = match staff(&state, &session).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let found = match jobs::finished(&state.pool, &staff, id).await {
        Ok(f) => f,
        Err(app::AppError::Forbidden) => {
            return refuse(
                StatusCode::FORBIDDEN,
                "Reports are for county staff, administrators and auditors.",
            );
        }
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "Internal error."),
    };
    let Some((file_name, format, parts)) = found else {
        return refuse(
            StatusCode::NOT_FOUND,
            "There is no such export, it has not finished, or its file was deleted after a day.",
        );
    };
    let Ok(scope) = app::reports::reports_scope(&staff) else {
        return refuse(
            StatusCode::FORBIDDEN,
            "Reports are for county staff, administrators and auditors.",
        );
    };
    // One part in memory at a time, however long the file.
    let pool = state.pool.clone();
    let stream = futures::stream::unfold(0i32, move |seq| {
        let (pool, scope) = (pool.clone(), scope.clone());
        async move {
            if seq >= parts {
                return None;
            }
            let part = match jobs::part(&pool, &scope, id, seq).await {
                Ok(Some(bytes)) => Ok(axum::body::Bytes::from(bytes)),
                Ok(None) => Err(std::io::Error::other("a part of the export is missing")),
                Err(e) => Err(std::io::Error::other(e)),
            };
            Some((part, seq + 1))
        }
    });
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
