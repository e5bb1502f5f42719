//! The county API (`/api/v1`): status changes and postal scans pushed by county systems with a
//! bearer token. A request's items become the rows of an ELG or PKG file and go through the
//! import code whole — validation, guards, the status machine, audit, outbox — in one
//! transaction. Idempotency keys return the first answer again. The OpenAPI description is at
//! `/api/v1/openapi.json`.

use app::api::{self, Caller, Claim, Remembered, Scope};
use app::imports::FeedKind;
use app::imports::run::{self, Blocked, ImportError, Limits, Mode, Request};
use app::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Items in one request; more go in several requests (or a file).
pub const MAX_ITEMS: usize = 100_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/ballot-statuses", post(statuses))
        .route("/api/v1/scans", post(scans))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], api::OPENAPI).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusItem {
    voter_id: String,
    ballot_id: String,
    status_code: String,
    status_date: String,
    #[serde(default)]
    reason_code: String,
    #[serde(default)]
    outbound_imb: String,
    #[serde(default)]
    inbound_imb: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanItem {
    tracking_code: String,
    #[serde(default)]
    routing_code: String,
    operation_code: String,
    facility_zip: String,
    scan_time: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch<T> {
    election_date: String,
    #[serde(default)]
    confirm: Vec<String>,
    #[serde(default)]
    skip_rejected: bool,
    #[serde(alias = "changes", alias = "scans")]
    items: Vec<T>,
}

/// The rows an item becomes, in the format's column order.
trait Rows {
    const KIND: FeedKind;
    const SCOPE: Scope;
    fn row(&self, county: &str, election_day: &str) -> Vec<String>;
}

impl Rows for StatusItem {
    const KIND: FeedKind = FeedKind::Elg;
    const SCOPE: Scope = Scope::Statuses;
    fn row(&self, county: &str, election_day: &str) -> Vec<String> {
        vec![
            county.to_owned(),
            election_day.to_owned(),
            self.voter_id.clone(),
            self.ballot_id.clone(),
            self.status_code.clone(),
            self.status_date.clone(),
            self.reason_code.clone(),
            self.outbound_imb.clone(),
            self.inbound_imb.clone(),
        ]
    }
}

impl Rows for ScanItem {
    const KIND: FeedKind = FeedKind::Pkg;
    const SCOPE: Scope = Scope::Scans;
    fn row(&self, _county: &str, _election_day: &str) -> Vec<String> {
        vec![
            self.tracking_code.clone(),
            self.routing_code.clone(),
            self.operation_code.clone(),
            self.facility_zip.clone(),
            self.scan_time.clone(),
        ]
    }
}

async fn statuses(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle::<StatusItem>(&state, &headers, &body).await
}

async fn scans(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle::<ScanItem>(&state, &headers, &body).await
}

async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(bearer) = bearer else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "send the county's API token: Authorization: Bearer bt_…",
        ));
    };
    match api::authenticate(&state.pool, bearer).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(error(
            StatusCode::UNAUTHORIZED,
            "the token is not valid, or was revoked",
        )),
        Err(e) => Err(internal(&e)),
    }
}

fn internal(e: &(dyn std::error::Error + 'static)) -> Response {
    tracing::error!(error = %e, "api request failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

async fn handle<T>(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response
where
    T: Rows + for<'de> Deserialize<'de>,
{
    let caller = match caller(state, headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !caller.may(T::SCOPE) {
        return error(
            StatusCode::FORBIDDEN,
            &format!("the token lacks the scope {}", T::SCOPE.code()),
        );
    }
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.trim().is_empty() && k.len() <= 100 => Some(k.trim().to_owned()),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "an Idempotency-Key is 1 to 100 visible characters",
            );
        }
    };
    let sha: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if let Some(key) = &key {
        let other = || {
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was used with another request",
            )
        };
        match api::claim(&state.pool, &caller, key, &sha).await {
            Ok(Claim::Mine) => {}
            Ok(Claim::Answered(r)) if r.request_sha256 == sha => return replay(&r),
            Ok(Claim::Running { request_sha256 }) if request_sha256 == sha => {
                return error(
                    StatusCode::CONFLICT,
                    "a request with this Idempotency-Key is still running: send it again in a moment for its answer",
                );
            }
            Ok(Claim::Answered(_) | Claim::Running { .. }) => return other(),
            Err(e) => return internal(&e),
        }
    }
    let (status, answer) = match run_batch::<T>(state, &caller, body).await {
        Ok(done) => done,
        Err(refused) => {
            // Refused before anything ran: the key is free for a corrected request.
            if let Some(key) = &key
                && let Err(e) = api::release(&state.pool, &caller, key).await
            {
                tracing::warn!(error = %e, "releasing an idempotency key failed");
            }
            return refused;
        }
    };
    let Some(key) = key else {
        return (status, axum::Json(answer)).into_response();
    };
    let remembered = Remembered {
        request_sha256: sha,
        status: i32::from(status.as_u16()),
        body: answer,
    };
    match api::remember(&state.pool, &caller, &key, &remembered).await {
        Ok(kept) => replay(&kept),
        Err(e) => internal(&e),
    }
}

fn replay(r: &Remembered) -> Response {
    let status = u16::try_from(r.status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    (status, axum::Json(r.body.clone())).into_response()
}

async fn run_batch<T>(
    state: &AppState,
    caller: &Caller,
    body: &[u8],
) -> Result<(StatusCode, serde_json::Value), Response>
where
    T: Rows + for<'de> Deserialize<'de>,
{
    let batch: Batch<T> = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("the JSON is not right: {e}"),
        )
    })?;
    if batch.items.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "the request has no items"));
    }
    if batch.items.len() > MAX_ITEMS {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("at most {MAX_ITEMS} items a request"),
        ));
    }
    let mut confirmed = Vec::new();
    for raw in &batch.confirm {
        let Some(guard) = app::imports::Guard::parse(raw) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("unknown guard {raw:?}"),
            ));
        };
        confirmed.push(guard);
    }
    let Some(day) = run::parse_date(&batch.election_date) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "election_date is the election's day, YYYY-MM-DD",
        ));
    };
    let elections: Vec<i64> = match sqlx::query_scalar(
        "select id from elections where election_day = $1 and (county_fips is null or county_fips = $2)",
    )
    .bind(day)
    .bind(&caller.county_fips)
    .fetch_all(&state.pool)
    .await
    {
        Ok(e) => e,
        Err(e) => return Err(internal(&e)),
    };
    let [election_id] = elections[..] else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("the county has no single election on {day}"),
        ));
    };
    // The items as a file of the format; one line each (the items' fields are single-line).
    let mut csv = csv::Writer::from_writer(Vec::new());
    let day = day.to_string();
    let written = csv
        .write_record(T::KIND.columns())
        .and_then(|()| {
            batch.items.iter().try_for_each(|item| {
                let row = item.row(&caller.county_fips, &day);
                if row.iter().any(|f| f.contains(['\n', '\r'])) {
                    return Err(csv::Error::from(std::io::Error::other("line break")));
                }
                csv.write_record(&row)
            })
        })
        .and_then(|()| csv.flush().map_err(csv::Error::from));
    if written.is_err() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "fields may not hold line breaks",
        ));
    }
    let file = csv.into_inner().map_err(|e| internal(e.error()))?;
    let request = Request {
        county_fips: caller.county_fips.clone(),
        election_id: Some(election_id),
        kind: T::KIND,
        file_name: "API request".into(),
        user_id: None,
        api_token_id: Some(caller.token_id),
        limits: Limits::default(),
    };
    let id = run::start(&state.pool, &request)
        .await
        .map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let mode = Mode::Apply {
        confirmed,
        skip_rejected: batch.skip_rejected,
    };
    let report = match run::process(&state.pool, id, &request, &mode, &file[..]).await {
        Ok(r) => r,
        Err(ImportError::Database(e)) => return Err(internal(&e)),
        Err(e) => return Err(error(StatusCode::BAD_REQUEST, &e.to_string())),
    };
    let rejected = run::rejections(&state.pool, id, &caller.county_fips)
        .await
        .map_err(|e| internal(&e))?;
    let needs: Vec<&str> = match &report.blocked {
        Some(Blocked::Unconfirmed(g)) => g.iter().map(|g| g.code()).collect(),
        _ => Vec::new(),
    };
    let answer = json!({
        "import_id": id,
        "applied": report.applied,
        "summary": report.summary,
        "lines": report.summary.lines(),
        "needs_confirmation": needs,
        "rejected": rejected.iter().map(|r| json!({
            // Row 1 is the header; item 0 is row 2.
            "item": r.row - 2,
            "field": r.field,
            "value": r.value,
            "reason": r.reason,
        })).collect::<Vec<_>>(),
    });
    let status = if report.applied {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    Ok((status, answer))
}
