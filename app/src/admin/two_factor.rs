//! Setting up two-factor sign-in: a new secret for the authenticator app, confirmed with one of
//! its codes, then ten single-use recovery codes shown once.

use super::Staff;
use super::frame::AdminFrame;
use crate::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSetup {
    /// The `otpauth://` address (what a QR code would hold).
    pub url: String,
    /// The same secret in base32, to type in by hand.
    pub secret: String,
}

/// Makes a new secret and holds it in the session until a code from it is confirmed.
#[server(endpoint = "admin/totp_start")]
pub async fn start_totp() -> Result<TotpSetup, AppError> {
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let session = super::session::session().await?;
        let secret = match super::session::pending_totp(&session).await? {
            Some(secret) => secret,
            None => {
                let secret = super::totp::new_secret();
                super::session::set_pending_totp(&session, &secret).await?;
                secret
            }
        };
        let url = super::totp::setup_url(&secret, &staff.email).ok_or_else(|| {
            AppError::Conflict("This email address cannot be used in an authenticator app.".into())
        })?;
        Ok(TotpSetup {
            url,
            secret: super::totp::secret_base32(&secret),
        })
    })
    .await
}

/// Turns two-factor sign-in on once a code from the pending secret checks out. Returns the
/// recovery codes, which are stored only as hashes and never shown again.
#[server(endpoint = "admin/totp_confirm")]
pub async fn confirm_totp(code: String) -> Result<Vec<String>, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        use crate::audit::{self, ActorKind, AuditAction, AuditEntry};
        let staff = super::frame::signed_in().await?;
        let session = super::session::session().await?;
        let Some(secret) = super::session::pending_totp(&session).await? else {
            return Err(AppError::Conflict("Start the set-up again.".into()));
        };
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let Some(step) = super::totp::matching_step(&secret, &code, now) else {
            return Err(AppError::Conflict(
                "That code is not right. Check the time on your phone and try the newest code."
                    .into(),
            ));
        };
        let codes = super::store::new_recovery_codes();
        let pool = pool?;
        let mut tx = pool.begin().await?;
        super::store::enable_totp(&mut tx, staff.id, &secret, step as i64, &codes).await?;
        let entry = AuditEntry {
            county_fips: staff.county_fips.clone(),
            entity: Some(("admin_user", staff.id.to_string())),
            ..AuditEntry::new(ActorKind::User, Some(staff.id), AuditAction::TotpEnabled)
        };
        audit::record(&mut tx, entry).await?;
        tx.commit().await?;
        super::session::take_pending_totp(&session).await?;
        Ok(codes)
    })
    .await
}

#[component]
pub fn TwoFactorPage() -> impl IntoView {
    view! {
        <Title text="Two-factor sign-in" />
        <AdminFrame content=|staff| view! { <TwoFactor staff /> }.into_any() allow_unenrolled=true />
    }
}

#[component]
fn TwoFactor(staff: Staff) -> impl IntoView {
    let start = ServerAction::<StartTotp>::new();
    let confirm = ServerAction::<ConfirmTotp>::new();
    let code = NodeRef::<leptos::html::Input>::new();
    view! {
        <h1>"Two-factor sign-in"</h1>
        {staff.must_enrol_totp.then(|| view! {
            <p class="notice" role="status">"Your county requires two-factor sign-in. Set it up to continue."</p>
        })}
        {if staff.totp_enabled {
            view! { <p data-testid="totp-on">"Two-factor sign-in is on for your account."</p> }.into_any()
        } else {
            view! {
                <p>"Use an authenticator app on your phone. Each code works once."</p>
                <button type="button" class="button" on:click=move |_| { start.dispatch(StartTotp {}); }>
                    "Set up two-factor sign-in"
                </button>
            }.into_any()
        }}
        {move || start.value().get().map(|setup| match setup {
            Ok(setup) => view! {
                <div class="totp-setup">
                    <p>"Add this key to your authenticator app:"</p>
                    <p><code data-testid="totp-secret">{setup.secret}</code></p>
                    <p class="field__hint">"Or open: " <code class="wrap">{setup.url}</code></p>
                    <form class="totp-confirm" on:submit=move |ev| {
                        ev.prevent_default();
                        let value = code.get().map(|el| el.value()).unwrap_or_default();
                        confirm.dispatch(ConfirmTotp { code: value });
                    }>
                        <div class="field">
                            <label for="totp-code">"Code from the app"</label>
                            <input id="totp-code" name="code" inputmode="numeric" autocomplete="one-time-code" node_ref=code />
                        </div>
                        <button type="submit" class="button">"Turn on"</button>
                    </form>
                </div>
            }.into_any(),
            Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
        })}
        {move || confirm.value().get().map(|done| match done {
            Ok(codes) => view! {
                <div class="notice" role="status">
                    <p data-testid="totp-enabled">"Two-factor sign-in is on. Keep these recovery codes somewhere safe; each works once, and they will not be shown again."</p>
                    <ul class="recovery-codes" data-testid="recovery-codes">
                        {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
                    </ul>
                    <p><a href="/admin">"Continue to the records"</a></p>
                </div>
            }.into_any(),
            Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
        })}
    }
}
