//! Signing in and out. Passwords are checked with argon2id behind a concurrency limit; sign-in
//! is rate-limited per account and per client address in PostgreSQL (so every instance counts
//! together); an unknown account costs the same time as a wrong password; each two-factor code
//! works once.

use crate::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

/// The one answer for a wrong email, password or code, or a disabled account.
pub const REFUSED: &str = "That email address, password or code is not right.";
pub const CODE_NEEDED: &str =
    "Enter the six-digit code from your authenticator app, or one of your recovery codes.";

#[server(endpoint = "admin/sign_in")]
pub async fn sign_in(email: String, password: String, code: String) -> Result<(), AppError> {
    let outcome = crate::error::respond(sign_in_inner(email, password, code)).await;
    if let Err(AppError::Conflict(_)) = &outcome {
        let response = expect_context::<leptos_axum::ResponseOptions>();
        response.set_status(axum::http::StatusCode::UNAUTHORIZED);
    }
    outcome
}

/// Counts an attempt on an account (signing in, asking for a reset link) against the limits
/// per client address and per account, shared by every instance.
#[cfg(feature = "ssr")]
pub async fn count_attempt(
    state: &crate::state::AppState,
    email: &str,
) -> Result<crate::ratelimit::Decision, AppError> {
    let client = crate::client::rate_limit_subject(
        crate::client::current_client_ip(&state.settings.trusted_proxies).await,
    );
    let limits = [
        (&state.settings.sign_in_per_client, client.as_str()),
        (&state.settings.sign_in_per_account, email),
    ];
    Ok(crate::ratelimit::hit_each(&state.pool, &limits).await?)
}

#[cfg(feature = "ssr")]
async fn sign_in_inner(email: String, password: String, code: String) -> Result<(), AppError> {
    use crate::audit::{self, ActorKind, AuditAction, AuditEntry};
    use crate::ratelimit::Decision;
    use axum::http::{HeaderValue, header};

    super::frame::no_store();
    let state = crate::state::state()?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    let email = email.trim().to_lowercase();
    if email.is_empty() || password.is_empty() {
        return Err(AppError::Conflict(
            "Enter your email address and your password.".into(),
        ));
    }
    if let Decision::Limited { retry_after_secs } = count_attempt(&state, &email).await? {
        if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
            response.insert_header(header::RETRY_AFTER, v);
        }
        return Err(AppError::RateLimited);
    }

    let account = super::store::account_for_sign_in(&state.pool, &email).await?;
    let password_ok = {
        // Hashing is CPU-bound by design: at most a few at once, so that a flood of sign-ins
        // queues here instead of starving the voters' pages of CPU.
        let Ok(Ok(_permit)) =
            tokio::time::timeout(std::time::Duration::from_secs(10), state.hashing.acquire()).await
        else {
            return Err(AppError::RateLimited);
        };
        crate::auth::password::verify(
            password,
            account.as_ref().and_then(|a| a.password_hash.clone()),
        )
        .await
    };
    let refuse = async |user_id: Option<i64>, why: &str| -> AppError {
        let entry = AuditEntry {
            entity: user_id.map(|id| ("admin_user", id.to_string())),
            after: Some(serde_json::json!({ "why": why })),
            ..AuditEntry::new(ActorKind::System, None, AuditAction::SignInRefused)
        };
        if let Ok(mut conn) = state.pool.acquire().await {
            let _ = audit::record(&mut conn, entry).await;
        }
        AppError::Conflict(REFUSED.into())
    };
    let account = match account {
        Some(a) if password_ok && a.disabled => return Err(refuse(Some(a.id), "disabled").await),
        Some(a) if password_ok => a,
        Some(a) => return Err(refuse(Some(a.id), "password").await),
        None => return Err(refuse(None, "unknown account").await),
    };
    if let Some(secret) = &account.totp_secret {
        let code = code.trim();
        if code.is_empty() {
            return Err(AppError::Conflict(CODE_NEEDED.into()));
        }
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let accepted = match super::totp::matching_step(secret, code, now) {
            Some(step) => {
                super::store::accept_totp_step(&state.pool, account.id, step as i64).await?
            }
            None => super::store::use_recovery_code(&state.pool, account.id, code).await?,
        };
        if !accepted {
            return Err(refuse(Some(account.id), "code").await);
        }
    }

    let session = super::session::session().await?;
    super::session::begin(&session, account.id, account.session_epoch).await?;
    let mut tx = state.pool.begin().await?;
    super::store::record_sign_in(&mut tx, account.id).await?;
    let entry = AuditEntry {
        county_fips: account.county_fips.clone(),
        entity: Some(("admin_user", account.id.to_string())),
        ..AuditEntry::new(ActorKind::User, Some(account.id), AuditAction::SignedIn)
    };
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    leptos_axum::redirect("/admin");
    Ok(())
}

#[server(endpoint = "admin/sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    crate::error::respond(async move {
        let session = super::session::session().await?;
        super::session::end(&session).await?;
        leptos_axum::redirect("/admin/sign-in");
        Ok(())
    })
    .await
}

/// Ends every session of the signed-in account, on every device and instance.
#[server(endpoint = "admin/sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        use crate::audit::{self, ActorKind, AuditAction, AuditEntry};
        let staff = super::session::current().await?;
        let pool = pool?;
        let mut tx = pool.begin().await?;
        super::store::end_all_sessions(&mut tx, staff.id).await?;
        let entry = AuditEntry {
            county_fips: staff.county_fips.clone(),
            entity: Some(("admin_user", staff.id.to_string())),
            ..AuditEntry::new(
                ActorKind::User,
                Some(staff.id),
                AuditAction::SignedOutEverywhere,
            )
        };
        audit::record(&mut tx, entry).await?;
        tx.commit().await?;
        super::session::end(&super::session::session().await?).await?;
        leptos_axum::redirect("/admin/sign-in");
        Ok(())
    })
    .await
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = move || match action.value().get() {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    view! {
        <Title text="Staff sign-in" />
        <h1>"Staff sign-in"</h1>
        <p>"For county election staff. Voters: " <a href="/ballot">"look up your ballot"</a> "."</p>
        <ActionForm action=action attr:class="signin-form">
            <div class="field">
                <label for="signin-email">"Email address"</label>
                <input id="signin-email" name="email" type="email" autocomplete="username" required />
            </div>
            <div class="field">
                <label for="signin-password">"Password"</label>
                <input id="signin-password" name="password" type="password" autocomplete="current-password" required />
            </div>
            <div class="field">
                <label for="signin-code">"Two-factor code (if you use one)"</label>
                <input id="signin-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                    aria-describedby="signin-code-hint" />
                <p class="field__hint" id="signin-code-hint">"Six digits from your authenticator app, or a recovery code."</p>
            </div>
            <button type="submit" class="button">"Sign in"</button>
        </ActionForm>
        <p><a href="/admin/forgot-password">"Forgot your password?"</a></p>
        <div aria-live="polite">
            {move || error().map(|e| view! { <p class="notice notice--error" role="alert" data-testid="signin-error">{e}</p> })}
        </div>
    }
}
