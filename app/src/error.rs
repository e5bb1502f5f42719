//! The one error type every server function returns. What reaches the browser is safe to show:
//! internal failures arrive only as "internal error" with a request id to quote to support.

use crate::domain::Language;
use crate::i18n::td_string;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A problem with one form field, shown next to that field in the reader's language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub problem: Problem,
}

/// What is wrong with a field. It travels as a code, and the page words it in its language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    DobMissing,
    DobFormat,
    DobRange,
    VoterId,
    FirstName,
    LastName,
    Zip,
    County,
    Language,
}

impl Problem {
    pub fn text(self, language: Language) -> &'static str {
        let l = language.locale();
        match self {
            Problem::DobMissing => td_string!(l, problem.dob_missing),
            Problem::DobFormat => td_string!(l, problem.dob_format),
            Problem::DobRange => td_string!(l, problem.dob_range),
            Problem::VoterId => td_string!(l, problem.voter_id),
            Problem::FirstName => td_string!(l, problem.first_name),
            Problem::LastName => td_string!(l, problem.last_name),
            Problem::Zip => td_string!(l, problem.zip),
            Problem::County => td_string!(l, problem.county),
            Problem::Language => td_string!(l, problem.language),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please correct the fields marked below.")]
    Validation(Vec<FieldError>),
    #[error("Please sign in.")]
    Unauthorized,
    #[error("You do not have permission to do that.")]
    Forbidden,
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("Too many attempts. Please wait a minute and try again.")]
    RateLimited,
    #[error("Something went wrong on our side (reference {request_id}). Please try again.")]
    Internal { request_id: String },
    /// The call itself failed: the network, or arguments the server could not read.
    #[error("The request could not be completed. Please try again.")]
    Transport(String),
}

impl AppError {
    pub fn field(field: &str, problem: Problem) -> Self {
        AppError::Validation(vec![FieldError {
            field: field.to_owned(),
            problem,
        }])
    }

    /// The problem with one field, if this is a validation error that names it.
    pub fn field_problem(&self, field: &str) -> Option<Problem> {
        match self {
            AppError::Validation(errors) => {
                errors.iter().find(|e| e.field == field).map(|e| e.problem)
            }
            _ => None,
        }
    }

    /// What a voter reads, in their language. (`Display` stays English, for logs and staff.)
    pub fn text(&self, language: Language) -> String {
        let l = language.locale();
        match self {
            AppError::Validation(_) => td_string!(l, error.validation).to_owned(),
            AppError::Unauthorized => td_string!(l, error.unauthorized).to_owned(),
            AppError::Forbidden => td_string!(l, error.forbidden).to_owned(),
            AppError::NotFound => td_string!(l, error.not_found).to_owned(),
            AppError::Conflict(message) => message.clone(),
            AppError::RateLimited => td_string!(l, error.rate_limited).to_owned(),
            AppError::Internal { request_id } => {
                td_string!(l, error.internal, reference = request_id.clone())
            }
            AppError::Transport(_) => td_string!(l, error.transport).to_owned(),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
mod server {
    use super::AppError;

    impl AppError {
        /// Logs the whole cause chain once, here at the boundary, and returns what the browser
        /// may see: a request id and nothing of the cause.
        pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
            let request_id = crate::state::request_id().unwrap_or_else(|| "none".to_owned());
            let mut chain = err.to_string();
            let mut source = err.source();
            while let Some(cause) = source {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!(request.id = %request_id, error.chain = %chain, "internal error");
            AppError::Internal { request_id }
        }
    }

    /// Runs a server function's body and gives a failure the HTTP status it stands for, so
    /// that other clients than the page (tests, scripts) can read it without parsing the body.
    pub async fn respond<T>(
        body: impl std::future::Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        use axum::http::StatusCode;
        let outcome = body.await;
        if let Err(e) = &outcome
            && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        {
            response.set_status(match e {
                AppError::Validation(_) | AppError::Transport(_) => StatusCode::BAD_REQUEST,
                AppError::Unauthorized => StatusCode::UNAUTHORIZED,
                AppError::Forbidden => StatusCode::FORBIDDEN,
                AppError::NotFound => StatusCode::NOT_FOUND,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            });
        }
        outcome
    }

    impl From<sqlx::Error> for AppError {
        fn from(err: sqlx::Error) -> Self {
            AppError::internal(&err)
        }
    }
}

#[cfg(feature = "ssr")]
pub use server::respond;
