//! The one error type every server function returns. What reaches the browser is safe to show:
//! internal failures arrive only as "internal error" with a request id to quote to support.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A message about one form field, shown next to that field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
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
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// The message for one field, if this is a validation error that names it.
    pub fn field_message(&self, field: &str) -> Option<String> {
        match self {
            AppError::Validation(errors) => errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone()),
            _ => None,
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

    impl From<sqlx::Error> for AppError {
        fn from(err: sqlx::Error) -> Self {
            AppError::internal(&err)
        }
    }
}
