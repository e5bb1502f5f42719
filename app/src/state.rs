//! What server functions reach through context: the database pool and Leptos' options.

use crate::counties::StateContact;
use crate::ratelimit::{self, Limit};
use axum::extract::FromRef;
use ipnetwork::IpNetwork;
use leptos::prelude::*;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The schema, shared by start-up, `ballot-tracker migrate` and every `#[sqlx::test]`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub cache: Arc<Cache>,
    /// Voters' look-ups counted against their rate limits and not yet written
    /// (`ratelimit::spawn_flusher` writes them).
    pub lookup_hits: Arc<crate::ratelimit::Tally>,
    /// Password hashes computed at once in this process (`PASSWORD_HASH_CONCURRENCY`).
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// Mail to portal accounts (invitations, password resets); `None` without `SMTP_URL`.
    pub staff_mail: Option<Arc<dyn StaffMail>>,
}

/// Sends a plain-text email to a portal account (the server's SMTP sender implements it).
#[async_trait::async_trait]
pub trait StaffMail: Send + Sync {
    /// `Err` holds the mail server's words, never the message.
    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), String>;
}

impl AppState {
    pub fn new(leptos_options: LeptosOptions, pool: PgPool, settings: Settings) -> Self {
        Self {
            leptos_options,
            pool,
            hashing: Arc::new(tokio::sync::Semaphore::new(
                settings.password_hash_concurrency.max(1),
            )),
            settings: Arc::new(settings),
            cache: Arc::default(),
            lookup_hits: Arc::default(),
            staff_mail: None,
        }
    }

    pub fn with_staff_mail(mut self, mail: Arc<dyn StaffMail>) -> Self {
        self.staff_mail = Some(mail);
        self
    }
}

/// What the operator configures that server functions need (`server/src/config.rs` reads it).
#[derive(Clone, Debug)]
pub struct Settings {
    pub lookup_per_client: Limit,
    pub lookup_per_identity: Limit,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpNetwork>,
    pub sign_in_per_client: Limit,
    pub sign_in_per_account: Limit,
    /// How many argon2 hashes one process computes at once; sign-ins past it wait.
    pub password_hash_concurrency: usize,
    pub messaging: Messaging,
    /// Exports up to this many rows download at once; longer ones run in the background
    /// (`EXPORT_INLINE_ROWS`).
    pub export_inline_rows: i64,
    /// An announcement to more recipients than this needs a second person's approval
    /// (`ANNOUNCEMENT_APPROVAL_THRESHOLD`).
    pub announcement_approval_threshold: i64,
}

/// What links in messages and the telephony provider's callbacks need.
#[derive(Clone, Debug)]
pub struct Messaging {
    /// The site's address as voters and the provider reach it (`PUBLIC_BASE_URL`), no trailing
    /// slash. Callback signatures are checked against it.
    pub public_base_url: String,
    pub link_key: crate::messages::links::LinkKey,
    /// The telephony account's auth token, which signs the provider's callbacks; `None` when no
    /// provider is configured (then every callback is refused).
    pub telephony_auth_token: Option<RedactedToken>,
}

#[derive(Clone)]
pub struct RedactedToken(pub String);

impl std::fmt::Debug for RedactedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedactedToken(…)")
    }
}

impl Default for Messaging {
    fn default() -> Self {
        Self {
            public_base_url: "http://127.0.0.1:3000".into(),
            link_key: crate::messages::links::LinkKey::new(
                crate::messages::links::DEVELOPMENT_LINK_KEY,
            ),
            telephony_auth_token: None,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lookup_per_client: ratelimit::LOOKUP_PER_CLIENT,
            lookup_per_identity: ratelimit::LOOKUP_PER_IDENTITY,
            trusted_proxies: Vec::new(),
            sign_in_per_client: ratelimit::SIGN_IN_PER_CLIENT,
            sign_in_per_account: ratelimit::SIGN_IN_PER_ACCOUNT,
            password_hash_concurrency: default_hash_concurrency(),
            messaging: Messaging::default(),
            export_inline_rows: crate::admin::reports_view::DEFAULT_INLINE_ROWS,
            announcement_approval_threshold:
                crate::admin::announcements::DEFAULT_APPROVAL_THRESHOLD,
        }
    }
}

/// Half the cores, at least one: the other half stays free for the voters' pages.
pub fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Reference data each instance may keep for a short while. Nothing here must agree between
/// instances: a stale entry lives at most [`Cache::TTL`].
#[derive(Default)]
pub struct Cache {
    state_contact: RwLock<Option<(Instant, StateContact)>>,
    /// A voter with a ballot, whose story a failed look-up reads too (and throws away), so
    /// that a failed look-up costs what a successful one does.
    decoy_voter: AtomicI64,
}

impl Cache {
    pub const TTL: Duration = Duration::from_secs(60);

    /// The state's contact block for every page's footer, read at most once a minute.
    pub async fn state_contact(&self, pool: &PgPool) -> Result<Option<StateContact>, sqlx::Error> {
        if let Ok(guard) = self.state_contact.read()
            && let Some((at, contact)) = guard.as_ref()
            && at.elapsed() < Self::TTL
        {
            return Ok(Some(contact.clone()));
        }
        let fresh = crate::counties::store::state_contact(pool, "CA").await?;
        if let (Some(contact), Ok(mut guard)) = (&fresh, self.state_contact.write()) {
            *guard = Some((Instant::now(), contact.clone()));
        }
        Ok(fresh)
    }

    pub fn decoy_voter(&self) -> Option<i64> {
        Some(self.decoy_voter.load(Ordering::Relaxed)).filter(|id| *id > 0)
    }

    pub fn set_decoy_voter(&self, id: Option<i64>) {
        self.decoy_voter.store(id.unwrap_or(0), Ordering::Relaxed);
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The app's state, from the context every request handler provides.
pub fn state() -> Result<AppState, crate::AppError> {
    use_context::<AppState>().ok_or_else(|| crate::AppError::Internal {
        request_id: "no-state".to_owned(),
    })
}

/// The pool, from the context every request handler provides.
pub fn pool() -> Result<PgPool, crate::AppError> {
    state().map(|s| s.pool)
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
