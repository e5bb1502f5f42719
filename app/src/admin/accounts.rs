//! Portal accounts: administrators invite people by email (the invited choose their own
//! password from a single-use link), disable and enable accounts, and anyone who forgot a
//! password gets a reset link at the account's address. A county administrator keeps their own
//! county's accounts; a state administrator keeps every account.

use super::frame::AdminFrame;
use super::{Role, Staff};
use crate::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub county_name: Option<String>,
    /// Invited and not yet signed up (no password).
    pub invited: bool,
    pub disabled: bool,
    pub two_factor: bool,
    pub last_sign_in: Option<String>,
}

/// What a set-password link leads to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub invitation: bool,
    pub email: String,
    pub name: String,
}

/// The roles `staff` may give: a state administrator any; a county administrator those of
/// their own county.
pub fn grantable(staff: &Staff) -> Vec<Role> {
    match staff.role {
        Role::StateAdmin => Role::ALL.to_vec(),
        Role::CountyAdmin => vec![Role::CountyAdmin, Role::CountyStaff, Role::Auditor],
        Role::CountyStaff | Role::Auditor => Vec::new(),
    }
}

/// Whose accounts `staff` keeps: `Some(None)` every county's, `Some(Some(fips))` one county's.
#[cfg(feature = "ssr")]
fn keeps(staff: &Staff) -> Option<Option<String>> {
    if staff.must_enrol_totp {
        return None;
    }
    match (staff.role, &staff.county_fips) {
        (Role::StateAdmin, _) => Some(None),
        (Role::CountyAdmin, Some(fips)) => Some(Some(fips.clone())),
        _ => None,
    }
}

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use crate::audit::{self, ActorKind, AuditAction, AuditEntry};
    use sqlx::PgConnection;

    pub fn mailer(
        state: &crate::state::AppState,
    ) -> Result<std::sync::Arc<dyn crate::state::StaffMail>, AppError> {
        state.staff_mail.clone().ok_or_else(|| {
            AppError::Conflict(
                "Email is not set up on this server (SMTP_URL), so no link can be sent.".into(),
            )
        })
    }

    pub fn link(state: &crate::state::AppState, secret: &str) -> String {
        format!(
            "{}/admin/password/{secret}",
            state.settings.messaging.public_base_url
        )
    }

    /// The account, if `staff` keeps it.
    pub async fn kept(
        tx: &mut PgConnection,
        staff: &Staff,
        id: i64,
    ) -> Result<(String, String, Option<String>, bool), AppError> {
        let scope = keeps(staff).ok_or(AppError::Forbidden)?;
        let r = sqlx::query!(
            r#"select email, display_name, county_fips, password_hash is null as "invited!"
               from admin_users where id = $1"#,
            id
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?;
        match scope {
            Some(own) if r.county_fips.as_deref() != Some(own.as_str()) => Err(AppError::NotFound),
            _ => Ok((r.email, r.display_name, r.county_fips, r.invited)),
        }
    }

    /// Issues an invitation link for account `id`, audits it and mails it to its owner. The
    /// caller commits only when the mail server took it.
    #[allow(clippy::too_many_arguments)]
    pub async fn invite(
        tx: &mut PgConnection,
        state: &crate::state::AppState,
        staff: &Staff,
        id: i64,
        email: &str,
        name: &str,
        county: Option<String>,
        what: serde_json::Value,
    ) -> Result<(), AppError> {
        let mail = mailer(state)?;
        let secret = crate::auth::tokens::issue(
            tx,
            &state.settings.messaging.link_key,
            id,
            crate::auth::tokens::Purpose::Invitation,
            Some(staff.id),
        )
        .await?;
        audit(
            tx,
            Some(staff),
            county,
            id,
            AuditAction::AdminUserInvited,
            what,
        )
        .await?;
        let text = invitation_text(name, &staff.name, &link(state, &secret));
        mail.send(email, "You are invited to Ballot Tracker", &text)
            .await
            .map_err(|e| {
                AppError::Conflict(format!(
                    "The invitation could not be mailed ({e}); nothing was saved. Try again."
                ))
            })
    }

    pub fn invitation_text(name: &str, by: &str, link: &str) -> String {
        format!(
            "Hello {name},\n\n{by} invited you to Ballot Tracker, the county's vote-by-mail \
             tracking portal.\n\nChoose your password here (the link works once, for 3 days):\n\
             {link}\n\nIf you did not expect this, ignore this message: nothing happens \
             without the link.\n"
        )
    }

    pub fn reset_text(name: &str, link: &str) -> String {
        format!(
            "Hello {name},\n\nSomeone (we hope you) asked to reset your Ballot Tracker \
             password.\n\nChoose a new one here (the link works once, for 1 hour):\n{link}\n\n\
             If it was not you, ignore this message: your password stays as it is.\n"
        )
    }

    pub async fn audit(
        tx: &mut PgConnection,
        staff: Option<&Staff>,
        county: Option<String>,
        user_id: i64,
        action: AuditAction,
        after: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        let entry = AuditEntry {
            county_fips: county,
            entity: Some(("admin_user", user_id.to_string())),
            after: Some(after),
            ..match staff {
                Some(s) => AuditEntry::new(ActorKind::User, Some(s.id), action),
                None => AuditEntry::new(ActorKind::System, None, action),
            }
        };
        audit::record(tx, entry).await
    }
}

#[server(endpoint = "admin/accounts")]
pub async fn list_accounts() -> Result<Vec<AccountRow>, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = keeps(&staff).ok_or(AppError::Forbidden)?;
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &staff.records_scope()?).await?;
        let rows = sqlx::query!(
            r#"select u.id, u.display_name, u.email, u.role, c.name as "county_name?",
                      u.password_hash is null as "invited!", u.disabled_at is not null as "disabled!",
                      u.totp_enabled_at is not null as "two_factor!",
                      to_char(u.last_sign_in_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') as last_sign_in
               from admin_users u left join counties c on c.fips = u.county_fips
               where $1::text is null or u.county_fips = $1
               order by u.disabled_at is not null, lower(u.display_name), u.id"#,
            scope
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(AccountRow {
                    id: r.id,
                    name: r.display_name,
                    email: r.email,
                    role: Role::parse(&r.role).ok()?,
                    county_name: r.county_name,
                    invited: r.invited,
                    disabled: r.disabled,
                    two_factor: r.two_factor,
                    last_sign_in: r.last_sign_in,
                })
            })
            .collect())
    })
    .await
}

/// Creates an account without a password and mails its owner a link to choose one.
#[server(endpoint = "admin/invite")]
pub async fn invite(
    email: String,
    name: String,
    role: String,
    county_fips: String,
) -> Result<String, AppError> {
    let state = crate::state::state();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = keeps(&staff).ok_or(AppError::Forbidden)?;
        let state = state?;
        let pool = state.pool.clone();
        let email = email.trim().to_owned();
        let name = name.trim().to_owned();
        let role = Role::parse(role.trim())
            .ok()
            .filter(|r| grantable(&staff).contains(r))
            .ok_or_else(|| AppError::Conflict("Choose a role you may give.".into()))?;
        let county = match (&scope, role) {
            (_, Role::StateAdmin) => None,
            (Some(own), _) => Some(own.clone()),
            (None, _) => Some(county_fips.trim().to_owned()).filter(|c| !c.is_empty()),
        };
        let mut problems = Vec::new();
        let at = email.find('@');
        if email.chars().any(char::is_whitespace)
            || at.is_none_or(|i| i == 0 || i + 1 == email.len())
            || email.len() > 254
        {
            problems.push("Enter the person's email address (name@example.org).");
        }
        if name.is_empty() || name.chars().count() > 200 {
            problems.push("Enter the person's name (200 characters at most).");
        }
        if matches!(role, Role::CountyAdmin | Role::CountyStaff) && county.is_none() {
            problems.push("County roles belong to a county: choose one.");
        }
        if !problems.is_empty() {
            return Err(AppError::Conflict(problems.join(" ")));
        }
        // Said before anything is made: this server cannot mail.
        server::mailer(&state)?;
        let mut tx = super::store::scoped(&pool, &staff.records_scope()?).await?;
        let id = match sqlx::query_scalar!(
            "insert into admin_users (email, display_name, password_hash, role, county_fips)
             values ($1, $2, null, $3, $4) returning id",
            email,
            name,
            role.code(),
            county
        )
        .fetch_one(&mut *tx)
        .await
        {
            Ok(id) => id,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(AppError::Conflict(
                    "An account with that email address exists already.".into(),
                ));
            }
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                return Err(AppError::Conflict("There is no such county.".into()));
            }
            Err(e) => return Err(e.into()),
        };
        // Mailed before the account is kept: if the mail server refuses, nothing was made.
        server::invite(
            &mut tx,
            &state,
            &staff,
            id,
            &email,
            &name,
            county.clone(),
            serde_json::json!({ "role": role.code(), "county_fips": county }),
        )
        .await?;
        tx.commit().await?;
        Ok(format!(
            "Invitation sent to {email}. The link works for 3 days."
        ))
    })
    .await
}

/// Mails an invited account a new link (the old one stops working).
#[server(endpoint = "admin/reinvite")]
pub async fn reinvite(id: i64) -> Result<String, AppError> {
    let state = crate::state::state();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let state = state?;
        let pool = state.pool.clone();
        // Said before anything is made: this server cannot mail.
        server::mailer(&state)?;
        let mut tx = super::store::scoped(&pool, &staff.records_scope()?).await?;
        let (email, name, county, invited) = server::kept(&mut tx, &staff, id).await?;
        if !invited {
            return Err(AppError::Conflict(
                "That account has its password already: it can ask for a reset link itself.".into(),
            ));
        }
        server::invite(
            &mut tx,
            &state,
            &staff,
            id,
            &email,
            &name,
            county,
            serde_json::json!({ "again": true }),
        )
        .await?;
        tx.commit().await?;
        Ok(format!(
            "A new invitation went to {email}; the earlier link no longer works."
        ))
    })
    .await
}

/// Disables (its sessions end at once) or enables an account.
#[server(endpoint = "admin/set_disabled")]
pub async fn set_disabled(id: i64, disabled: bool) -> Result<String, AppError> {
    use crate::audit::AuditAction;
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        if id == staff.id {
            return Err(AppError::Conflict(
                "You cannot disable your own account.".into(),
            ));
        }
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &staff.records_scope()?).await?;
        let (email, _, county, _) = server::kept(&mut tx, &staff, id).await?;
        sqlx::query!(
            "update admin_users
                set disabled_at = case when $2 then coalesce(disabled_at, now()) end,
                    session_epoch = session_epoch + case when $2 then 1 else 0 end,
                    updated_at = now()
              where id = $1",
            id,
            disabled
        )
        .execute(&mut *tx)
        .await?;
        server::audit(
            &mut tx,
            Some(&staff),
            county,
            id,
            if disabled {
                AuditAction::AdminUserDisabled
            } else {
                AuditAction::AdminUserEnabled
            },
            serde_json::json!({ "disabled": disabled }),
        )
        .await?;
        tx.commit().await?;
        Ok(if disabled {
            format!("{email} is disabled; its sessions have ended.")
        } else {
            format!("{email} may sign in again.")
        })
    })
    .await
}

/// The one answer to a reset request, whether or not the address has an account.
pub const RESET_SENT: &str = "If that address belongs to an account, a link to choose a new password is on its way. It works for 1 hour.";

/// Mails a reset link to the account with this address, if there is one. The answer and its
/// timing are the same either way; asking is rate-limited like signing in.
#[server(endpoint = "admin/forgot_password")]
pub async fn forgot_password(email: String) -> Result<String, AppError> {
    crate::error::respond(async move {
        use crate::ratelimit::Decision;
        let state = crate::state::state()?;
        super::frame::no_store();
        let email = email.trim().to_lowercase();
        if email.is_empty() {
            return Err(AppError::Conflict("Enter your email address.".into()));
        }
        if let Decision::Limited { .. } = super::signin::count_attempt(&state, &email).await? {
            return Err(AppError::RateLimited);
        }
        let Some(mail) = state.staff_mail.clone() else {
            return Err(AppError::Conflict(
                "Email is not set up on this server: ask your administrator.".into(),
            ));
        };
        let account = sqlx::query!(
            "select id, display_name, county_fips from admin_users
             where lower(email) = lower($1) and disabled_at is null and password_hash is not null",
            email
        )
        .fetch_optional(&state.pool)
        .await?;
        if let Some(a) = account {
            let key = state.settings.messaging.link_key.clone();
            let base = state.settings.messaging.public_base_url.clone();
            let pool = state.pool.clone();
            let request_id = crate::state::request_id();
            // Sent in the background, so the answer takes as long whether or not the account
            // exists.
            tokio::spawn(async move {
                let outcome = async {
                    let mut tx = pool.begin().await?;
                    let secret = crate::auth::tokens::issue(
                        &mut tx,
                        &key,
                        a.id,
                        crate::auth::tokens::Purpose::PasswordReset,
                        None,
                    )
                    .await?;
                    server::audit(
                        &mut tx,
                        None,
                        a.county_fips,
                        a.id,
                        crate::audit::AuditAction::PasswordResetRequested,
                        serde_json::json!({ "request_id": request_id }),
                    )
                    .await?;
                    let text = server::reset_text(
                        &a.display_name,
                        &format!("{base}/admin/password/{secret}"),
                    );
                    if let Err(e) = mail
                        .send(&email, "Reset your Ballot Tracker password", &text)
                        .await
                    {
                        tracing::warn!(error = %e, "a password-reset email was not accepted");
                        return Ok::<(), sqlx::Error>(());
                    }
                    tx.commit().await
                }
                .await;
                if let Err(e) = outcome {
                    tracing::warn!(error = %e, "a password-reset link could not be made");
                }
            });
        }
        Ok(RESET_SENT.to_owned())
    })
    .await
}

/// Whose link this is, while it works.
#[server(endpoint = "admin/password_link")]
pub async fn password_link(secret: String) -> Result<LinkInfo, AppError> {
    crate::error::respond(async move {
        let state = crate::state::state()?;
        super::frame::no_store();
        let holder =
            crate::auth::tokens::find(&state.pool, &state.settings.messaging.link_key, &secret)
                .await?
                .ok_or(AppError::NotFound)?;
        Ok(LinkInfo {
            invitation: holder.purpose == crate::auth::tokens::Purpose::Invitation,
            email: holder.email,
            name: holder.display_name,
        })
    })
    .await
}

/// Sets the password from a link: the link is spent and every session of the account ends.
#[server(endpoint = "admin/set_password")]
pub async fn set_password(
    secret: String,
    password: String,
    repeat: String,
) -> Result<(), AppError> {
    crate::error::respond(async move {
        let state = crate::state::state()?;
        super::frame::no_store();
        let key = &state.settings.messaging.link_key;
        let holder = crate::auth::tokens::find(&state.pool, key, &secret)
            .await?
            .ok_or_else(|| {
                AppError::Conflict(
                    "This link has expired or was used already: ask for a new one.".into(),
                )
            })?;
        if let Some(why) = crate::auth::password::refusal(&password, &repeat, &holder.email) {
            return Err(AppError::Conflict(why.into()));
        }
        let hash = {
            let Ok(Ok(_permit)) =
                tokio::time::timeout(std::time::Duration::from_secs(10), state.hashing.acquire())
                    .await
            else {
                return Err(AppError::RateLimited);
            };
            crate::auth::password::hash(password)
                .await
                .map_err(|e| AppError::internal(&e))?
        };
        let mut tx = state.pool.begin().await?;
        if !crate::auth::tokens::set_password(&mut tx, &holder, &hash).await? {
            return Err(AppError::Conflict(
                "This link was used already: ask for a new one.".into(),
            ));
        }
        let entry = crate::audit::AuditEntry {
            county_fips: holder.county_fips.clone(),
            entity: Some(("admin_user", holder.user_id.to_string())),
            after: Some(serde_json::json!({ "via": holder.purpose.code() })),
            ..crate::audit::AuditEntry::new(
                crate::audit::ActorKind::User,
                Some(holder.user_id),
                crate::audit::AuditAction::AdminPasswordSet,
            )
        };
        crate::audit::record(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

#[component]
pub fn AccountsPage() -> impl IntoView {
    view! {
        <Title text="Accounts" />
        <AdminFrame content=|staff| view! { <Accounts staff /> }.into_any() />
    }
}

#[component]
fn Accounts(staff: Staff) -> impl IntoView {
    let invite = ServerAction::<Invite>::new();
    let reinvite = ServerAction::<Reinvite>::new();
    let disable = ServerAction::<SetDisabled>::new();
    let list = Resource::new(
        move || (invite.version().get(), disable.version().get()),
        |_| list_accounts(),
    );
    let roles = grantable(&staff);
    let state_admin = staff.role == Role::StateAdmin;
    let me = staff.id;
    let outcome = move || {
        [
            invite.value().get(),
            reinvite.value().get(),
            disable.value().get(),
        ]
        .into_iter()
        .flatten()
        .next_back()
    };
    view! {
        <h1>"Accounts"</h1>
        <div aria-live="polite">
            {move || outcome().map(|r| match r {
                Ok(m) => view! { <p class="notice" role="status" data-testid="accounts-outcome">{m}</p> }.into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert" data-testid="accounts-outcome">{e.to_string()}</p> }.into_any(),
            })}
        </div>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(rows) => view! {
                        <table class="records" data-testid="accounts">
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th>
                                <th scope="col">"County"</th><th scope="col">"State"</th><th scope="col">"Last sign-in"</th>
                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|a| {
                                    let state = if a.disabled { "Disabled" } else if a.invited { "Invited" } else if a.two_factor { "Active, two-factor" } else { "Active" };
                                    let (name, again) = (a.name.clone(), a.name.clone());
                                    view! {
                                        <tr>
                                            <td>{a.name.clone()}</td>
                                            <td>{a.email.clone()}</td>
                                            <td>{a.role.label()}</td>
                                            <td>{a.county_name.clone().unwrap_or_else(|| "All".into())}</td>
                                            <td>{state}</td>
                                            <td>{a.last_sign_in.clone().unwrap_or_else(|| "—".into())}</td>
                                            <td>
                                                {(a.invited && !a.disabled).then(|| view! {
                                                    <ActionForm action=reinvite attr:class="inline-form">
                                                        <input type="hidden" name="id" value=a.id.to_string() />
                                                        <button type="submit" class="button button--quiet">{format!("Send {again} a new invitation")}</button>
                                                    </ActionForm>
                                                })}
                                                {(a.id != me).then(|| view! {
                                                    <ActionForm action=disable attr:class="inline-form">
                                                        <input type="hidden" name="id" value=a.id.to_string() />
                                                        <input type="hidden" name="disabled" value=(!a.disabled).to_string() />
                                                        <button type="submit" class="button button--quiet">
                                                            {format!("{} {name}", if a.disabled { "Enable" } else { "Disable" })}
                                                        </button>
                                                    </ActionForm>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Invite someone"</h2>
        <p class="field__hint">"They get an email with a link to choose their own password; it works once, for 3 days."</p>
        <ActionForm action=invite attr:class="change-form">
            <div class="field">
                <label for="invite-email">"Email address"</label>
                <input id="invite-email" name="email" type="email" required autocomplete="off" />
            </div>
            <div class="field">
                <label for="invite-name">"Name"</label>
                <input id="invite-name" name="name" type="text" required maxlength="200" autocomplete="off" />
            </div>
            <div class="field">
                <label for="invite-role">"Role"</label>
                <select id="invite-role" name="role">
                    {roles.into_iter().map(|r| view! { <option value=r.code() selected=r == Role::CountyStaff>{r.label()}</option> }).collect_view()}
                </select>
            </div>
            {if state_admin {
                view! {
                    <div class="field">
                        <label for="invite-county">"County (FIPS code, e.g. 06037)"</label>
                        <input id="invite-county" name="county_fips" type="text" inputmode="numeric" maxlength="5" />
                    </div>
                }.into_any()
            } else {
                view! { <input type="hidden" name="county_fips" value="" /> }.into_any()
            }}
            <button type="submit" class="button">"Send the invitation"</button>
        </ActionForm>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    view! {
        <Title text="Forgot your password?" />
        <h1>"Forgot your password?"</h1>
        <p>"Enter your account's email address: we will send a link to choose a new password."</p>
        <ActionForm action=action attr:class="signin-form">
            <div class="field">
                <label for="forgot-email">"Email address"</label>
                <input id="forgot-email" name="email" type="email" autocomplete="username" required />
            </div>
            <button type="submit" class="button">"Send me a link"</button>
        </ActionForm>
        <div aria-live="polite">
            {move || action.value().get().map(|r| match r {
                Ok(m) => view! { <p class="notice" role="status" data-testid="forgot-outcome">{m}</p> }.into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert" data-testid="forgot-outcome">{e.to_string()}</p> }.into_any(),
            })}
        </div>
        <p><a href="/admin/sign-in">"Back to sign-in"</a></p>
    }
}

#[component]
pub fn SetPasswordPage() -> impl IntoView {
    let params = use_params_map();
    let secret = move || params.read().get("secret").unwrap_or_default();
    let info = Resource::new(secret, password_link);
    let action = ServerAction::<SetPassword>::new();
    view! {
        <Title text="Choose your password" />
        <h1>"Choose your password"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(i) => view! {
                        <p>{if i.invitation {
                            format!("Welcome, {}. Choose the password for {}.", i.name, i.email)
                        } else {
                            format!("Choose a new password for {}. Every session of the account will end.", i.email)
                        }}</p>
                        <ActionForm action=action attr:class="signin-form">
                            <input type="hidden" name="secret" value=secret() />
                            <div class="field">
                                <label for="new-password">"New password"</label>
                                <input id="new-password" name="password" type="password" autocomplete="new-password"
                                    minlength="12" required aria-describedby="new-password-hint" />
                                <p class="field__hint" id="new-password-hint">"At least 12 characters. A few unrelated words make a strong one; the most common passwords are refused."</p>
                            </div>
                            <div class="field">
                                <label for="repeat-password">"The same password again"</label>
                                <input id="repeat-password" name="repeat" type="password" autocomplete="new-password" required />
                            </div>
                            <button type="submit" class="button">"Set the password"</button>
                        </ActionForm>
                    }.into_any(),
                    Err(_) => view! {
                        <p class="notice notice--error" role="alert" data-testid="link-invalid">
                            "This link has expired or was used already. " <a href="/admin/forgot-password">"Ask for a new one"</a> "."
                        </p>
                    }.into_any(),
                }
            })}
        </Suspense>
        <div aria-live="polite">
            {move || action.value().get().map(|r| match r {
                Ok(()) => view! {
                    <p class="notice" role="status" data-testid="password-set">
                        "Your password is set. " <a href="/admin/sign-in">"Sign in"</a> "."
                    </p>
                }.into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert" data-testid="password-error">{e.to_string()}</p> }.into_any(),
            })}
        </div>
    }
}
