//! What server functions reach through context: the database pool and Leptos' options.

use axum::extract::FromRef;
use leptos::prelude::*;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

/// The schema, shared by start-up, `ballot-tracker migrate` and every `#[sqlx::test]`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The pool, from the context every request handler provides.
pub fn pool() -> Result<PgPool, crate::AppError> {
    use_context::<AppState>()
        .map(|s| s.pool)
        .ok_or_else(|| crate::AppError::Internal {
            request_id: "no-state".to_owned(),
        })
}

/// The request id the router's middleware assigned (`x-request-id`), when inside a request.
pub fn request_id() -> Option<String> {
    use_context::<axum::http::request::Parts>()?
        .headers
        .get("x-request-id")?
        .to_str()
        .ok()
        .map(str::to_owned)
}
