//! The portal's file upload and error-report download (plain HTTP: a file does not fit a server
//! function's form encoding). `POST /admin/imports` takes a multipart form (county for state
//! administrators, kind, election, file), keeps the file with a new import, runs it dry and
//! answers with the import's page — a redirect for a plain form, the page's path as text for the
//! portal's script (which asked with `x-upload: xhr` and showed the progress). The file is read
//! as it arrives, up to [`MAX_UPLOAD_BYTES`].

use app::admin::Staff;
use app::admin::imports_view::{MAX_UPLOAD_BYTES, store};
use app::imports::FeedKind;
use app::imports::run::{self, ImportError, Limits, Mode, Request};
use app::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/imports",
            post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/admin/imports/{id}/rejections.csv", get(report))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        message.to_owned(),
    )
        .into_response()
}

async fn staff(state: &AppState, session: &Session) -> Result<Staff, Response> {
    app::admin::session::current_of(session, &state.pool)
        .await
        .map_err(|_| refuse(StatusCode::UNAUTHORIZED, "Sign in to the portal first."))
}

#[derive(Default)]
struct Fields {
    county: Option<String>,
    kind: Option<String>,
    election_id: Option<String>,
    file_name: String,
    file: Vec<u8>,
}

async fn read_form(mut form: Multipart) -> Result<Fields, Response> {
    let mut fields = Fields::default();
    let bad = |_| {
        refuse(
            StatusCode::BAD_REQUEST,
            "The upload was cut off or malformed.",
        )
    };
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            fields.file_name = field.file_name().unwrap_or("upload.csv").to_owned();
            while let Some(chunk) = field.chunk().await.map_err(bad)? {
                if fields.file.len() + chunk.len() > MAX_UPLOAD_BYTES {
                    return Err(refuse(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "The file is larger than the portal takes (512 MB): use ballot-tracker import.",
                    ));
                }
                fields.file.extend_from_slice(&chunk);
            }
        } else {
            let value = field.text().await.map_err(bad)?;
            let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
            match name.as_str() {
                "county" => fields.county = value,
                "kind" => fields.kind = value,
                "election_id" => fields.election_id = value,
                _ => {}
            }
        }
    }
    Ok(fields)
}

async fn upload(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    let staff = match staff(&state, &session).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let fields = match read_form(form).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(county) = staff.county_fips.clone().or(fields.county.clone()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Choose the county the file is for.",
        );
    };
    if !staff.may_work_records_of(&county) {
        return refuse(
            StatusCode::FORBIDDEN,
            "County files are loaded by the county's staff and administrators.",
        );
    }
    let Some(kind) = fields.kind.as_deref().and_then(|k| FeedKind::parse(k).ok()) else {
        return refuse(StatusCode::BAD_REQUEST, "Choose the kind of file.");
    };
    let election_id = fields.election_id.as_deref().and_then(|e| e.parse().ok());
    let request = Request {
        county_fips: county.clone(),
        election_id,
        kind,
        file_name: fields.file_name,
        user_id: Some(staff.id),
        api_token_id: None,
        limits: Limits::default(),
    };
    let id = match run::start(&state.pool, &request).await {
        Ok(id) => id,
        Err(ImportError::Request(message)) => return refuse(StatusCode::BAD_REQUEST, &message),
        Err(e) => return internal(&e),
    };
    if let Err(e) = keep(&state, id, &county, &fields.file).await {
        return internal(&e);
    }
    match run::process(&state.pool, id, &request, &Mode::DryRun, &fields.file[..]).await {
        Ok(_) => {}
        Err(ImportError::Database(e)) => return internal(&e),
        Err(unreadable) => {
            if let Err(e) = fail(&state, id, &county, &unreadable.to_string()).await {
                return internal(&e);
            }
        }
    }
    let location = format!("/admin/imports/{id}");
    if headers.get("x-upload").is_some_and(|v| v == "xhr") {
        (
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            location,
        )
            .into_response()
    } else {
        Redirect::to(&location).into_response()
    }
}

async fn scoped(
    state: &AppState,
    county: &str,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let scope = app::admin::roles::Scope::County(county.to_owned());
    app::admin::store::scoped(&state.pool, &scope).await
}

async fn keep(state: &AppState, id: i64, county: &str, file: &[u8]) -> Result<(), sqlx::Error> {
    let mut tx = scoped(state, county).await?;
    store::keep(&mut tx, id, county, file).await?;
    tx.commit().await
}

async fn fail(state: &AppState, id: i64, county: &str, why: &str) -> Result<(), sqlx::Error> {
    let mut tx = scoped(state, county).await?;
    store::fail(&mut tx, id, why).await?;
    tx.commit().await
}

fn internal(e: &(dyn std::error::Error + 'static)) -> Response {
    tracing::error!(error = %e, "import upload failed");
    refuse(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.")
}

/// The error report of an import, as CSV.
async fn report(State(state): State<AppState>, session: Session, Path(id): Path<i64>) -> Response {
    let staff = match staff(&state, &session).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(scope) = staff.records_scope() else {
        return refuse(StatusCode::FORBIDDEN, "Error reports are for county staff.");
    };
    let county: Option<String> = match app::admin::store::scoped(&state.pool, &scope).await {
        Ok(mut tx) => {
            let found = sqlx::query_scalar("select county_fips from imports where id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await;
            let _ = tx.commit().await;
            match found {
                Ok(c) => c,
                Err(e) => return internal(&e),
            }
        }
        Err(e) => return internal(&e),
    };
    let Some(county) = county.filter(|c| staff.may_work_records_of(c)) else {
        return refuse(StatusCode::NOT_FOUND, "There is no such file.");
    };
    match run::rejections(&state.pool, id, &county).await {
        Ok(rows) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"import-{id}-rejected-rows.csv\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            run::rejections_csv(&rows),
        )
            .into_response(),
        Err(e) => internal(&e),
    }
}
