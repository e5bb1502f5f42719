//! Server-side sessions (tower-sessions with its PostgreSQL store): who is signed in.
//!
//! The session holds only the account id, the account's session epoch and the sign-in time.
//! Every request reads the account again, so a disabled account, a changed password or "sign
//! out everywhere" (each bumps the epoch) ends its sessions at once, on every instance.

use super::Staff;
use crate::AppError;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

/// The session cookie. `__Host-` makes browsers insist on Secure, Path=/ and no Domain.
pub const COOKIE_NAME: &str = "__Host-bt_session";
/// Signed in for at most this long, however active.
pub const ABSOLUTE_TIMEOUT_SECS: i64 = 12 * 3600;
/// Signed out after this long without a request (the session layer's expiry).
pub const IDLE_TIMEOUT_SECS: i64 = 30 * 60;

const KEY: &str = "staff";
/// A secret for two-factor set-up, held in the session until a code from it is confirmed.
const PENDING_TOTP: &str = "pending_totp";

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SignedIn {
    user_id: i64,
    epoch: i32,
    signed_in_at: i64,
}

fn internal(err: tower_sessions::session::Error) -> AppError {
    AppError::internal(&err)
}

/// The request's session (the router's session layer provides it).
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|_| AppError::Unauthorized)
}

/// Starts a signed-in session under a new session id (no fixation).
pub async fn begin(session: &Session, user_id: i64, epoch: i32) -> Result<(), AppError> {
    session.cycle_id().await.map_err(internal)?;
    let data = SignedIn {
        user_id,
        epoch,
        signed_in_at: chrono::Utc::now().timestamp(),
    };
    session.insert(KEY, data).await.map_err(internal)
}

/// Ends this session: its row is deleted and the cookie cleared.
pub async fn end(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(internal)
}

/// The signed-in account, checked against the database on every call.
pub async fn current() -> Result<Staff, AppError> {
    let session = session().await?;
    let pool = crate::state::pool()?;
    current_of(&session, &pool).await
}

/// The signed-in account of `session` (for plain axum handlers, which have the session and the
/// pool in hand rather than in Leptos' context).
pub async fn current_of(session: &Session, pool: &sqlx::PgPool) -> Result<Staff, AppError> {
    let Some(signed_in) = session.get::<SignedIn>(KEY).await.map_err(internal)? else {
        return Err(AppError::Unauthorized);
    };
    if chrono::Utc::now().timestamp() - signed_in.signed_in_at > ABSOLUTE_TIMEOUT_SECS {
        end(session).await?;
        return Err(AppError::Unauthorized);
    }
    match super::store::staff_for_session(pool, signed_in.user_id, signed_in.epoch).await? {
        Some(staff) => Ok(staff),
        None => {
            end(session).await?;
            Err(AppError::Unauthorized)
        }
    }
}

pub async fn set_pending_totp(session: &Session, secret: &[u8]) -> Result<(), AppError> {
    session
        .insert(PENDING_TOTP, secret.to_vec())
        .await
        .map_err(internal)
}

pub async fn take_pending_totp(session: &Session) -> Result<Option<Vec<u8>>, AppError> {
    session.remove(PENDING_TOTP).await.map_err(internal)
}

pub async fn pending_totp(session: &Session) -> Result<Option<Vec<u8>>, AppError> {
    session.get(PENDING_TOTP).await.map_err(internal)
}
