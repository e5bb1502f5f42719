//! A county's API tokens (`/admin/county/api-tokens`): the tokens its systems push statuses and
//! scans with. County administrators (and state administrators) create a token — shown once,
//! only its SHA-256 hash is kept — see when each was last used, and revoke one at once. Creating
//! and revoking are audited (in `crate::api`, which the command line shares).

use super::frame::{AdminFrame, CountyPicker};
use super::{Role, Staff};
use crate::AppError;
use crate::api::Scope;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<String>,
    /// In UTC, to the minute.
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

/// A token just made: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub id: i64,
    pub name: String,
    pub token: String,
}

/// What a scope lets a county system do, in the portal's words.
pub const fn scope_label(scope: Scope) -> &'static str {
    match scope {
        Scope::Statuses => "Push ballot statuses (ELG)",
        Scope::Scans => "Push postal scans (PKG)",
    }
}

/// The name of a new token and what it may do, checked: `Err` says what to fix.
pub fn checked(name: &str, scopes: &[Scope]) -> Result<String, String> {
    let name = name.trim();
    let mut problems = Vec::new();
    if name.is_empty() || name.chars().count() > 100 {
        problems.push("Name the token after the system that uses it (100 characters at most).");
    }
    if scopes.is_empty() {
        problems.push("Choose at least one thing the token may do.");
    }
    if problems.is_empty() {
        Ok(name.to_owned())
    } else {
        Err(problems.join(" "))
    }
}

#[cfg(feature = "ssr")]
fn minute(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The signed-in account, when it may keep `fips`'s tokens.
#[cfg(feature = "ssr")]
async fn keeper(fips: &str) -> Result<Staff, AppError> {
    let staff = super::frame::signed_in().await?;
    if super::county_settings::may_manage(&staff, fips) {
        Ok(staff)
    } else {
        Err(AppError::Forbidden)
    }
}

#[server(endpoint = "admin/api_tokens")]
pub async fn list_api_tokens(fips: String) -> Result<Vec<TokenRow>, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let pool = pool?;
        keeper(&fips).await?;
        let mut rows: Vec<TokenRow> = crate::api::list(&pool, &fips)
            .await?
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                name: t.name,
                scopes: t.scopes,
                created: minute(t.created_at),
                last_used: t.last_used_at.map(minute),
                revoked: t.revoked_at.map(minute),
            })
            .collect();
        // Live tokens first, newest first within each group.
        rows.sort_by_key(|t| (t.revoked.is_some(), std::cmp::Reverse(t.id)));
        Ok(rows)
    })
    .await
}

/// Makes a token for the county's system and answers it, once.
#[server(endpoint = "admin/create_api_token")]
pub async fn create_api_token(
    fips: String,
    name: String,
    #[server(default)] statuses: Option<String>,
    #[server(default)] scans: Option<String>,
) -> Result<NewToken, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let pool = pool?;
        let staff = keeper(&fips).await?;
        let scopes: Vec<Scope> = [(statuses, Scope::Statuses), (scans, Scope::Scans)]
            .into_iter()
            .filter_map(|(ticked, scope)| ticked.map(|_| scope))
            .collect();
        let name = checked(&name, &scopes).map_err(AppError::Conflict)?;
        let (id, token) =
            match crate::api::create(&pool, &fips, &name, &scopes, Some(staff.id)).await {
                Ok(made) => made,
                Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                    return Err(AppError::Conflict("There is no such county.".into()));
                }
                Err(e) => return Err(e.into()),
            };
        Ok(NewToken { id, name, token })
    })
    .await
}

/// Revokes one of the county's tokens: requests carrying it are refused from now on.
#[server(endpoint = "admin/revoke_api_token")]
pub async fn revoke_api_token(fips: String, id: i64) -> Result<String, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let pool = pool?;
        let staff = keeper(&fips).await?;
        if crate::api::revoke(&pool, &fips, id, Some(staff.id)).await? {
            Ok("The token is revoked: requests that carry it are refused from now on.".into())
        } else {
            Err(AppError::Conflict(
                "There is no such live token: it may have been revoked already.".into(),
            ))
        }
    })
    .await
}

#[component]
pub fn ApiTokensPage() -> impl IntoView {
    view! {
        <Title text="API tokens" />
        <AdminFrame content=|staff| view! { <ApiTokens staff /> }.into_any() />
    }
}

#[component]
fn ApiTokens(staff: Staff) -> impl IntoView {
    let county = RwSignal::new(staff.county_fips.clone().unwrap_or_default());
    let create = ServerAction::<CreateApiToken>::new();
    let revoke = ServerAction::<RevokeApiToken>::new();
    let rows = Resource::new(
        move || (county.get(), create.version().get(), revoke.version().get()),
        move |(fips, _, _)| async move {
            if fips.is_empty() {
                Ok(Vec::new())
            } else {
                list_api_tokens(fips).await
            }
        },
    );
    let picker = (staff.role == Role::StateAdmin).then(|| {
        view! { <CountyPicker id="tokens-county" county /> }
    });
    view! {
        <h1>"API tokens"</h1>
        <p>"A county system (its election management system, a mail-processing line) pushes ballot statuses and postal scans to the JSON API with a token. Each token belongs to this county only and does only what it was given; the token is shown once, when it is made."</p>
        <p><a href="/api/v1/openapi.json" rel="external">"The API's description (OpenAPI)"</a></p>
        {picker}
        <h2>"Make a token"</h2>
        <ActionForm action=create attr:class="change-form">
            <input type="hidden" name="fips" value=move || county.get() />
            <div class="field">
                <label for="token-name">"Name (the system that will use it)"</label>
                <input id="token-name" name="name" required maxlength="100" autocomplete="off" />
            </div>
            <fieldset class="field">
                <legend>"It may"</legend>
                {Scope::ALL.map(|s| {
                    let field = match s { Scope::Statuses => "statuses", Scope::Scans => "scans" };
                    let id = format!("token-{field}");
                    view! {
                        <div class="choice">
                            <input type="checkbox" id=id.clone() name=field value="on" />
                            <label for=id>{scope_label(s)}</label>
                        </div>
                    }
                }).collect_view()}
            </fieldset>
            <button type="submit" class="button">"Make the token"</button>
        </ActionForm>
        <div aria-live="polite">
            {move || create.value().get().map(|r| match r {
                Ok(t) => view! {
                    <div class="notice" role="status" data-testid="token-made">
                        <p>{format!("The token \u{201c}{}\u{201d} is made. Copy it now: it is not shown again.", t.name)}</p>
                        <p><label for="token-secret">"Token"</label></p>
                        <input id="token-secret" class="token-secret" readonly value=t.token.clone() data-testid="token-secret" />
                        <p class="field__hint">"Send it as the header " <code>"Authorization: Bearer …"</code> "."</p>
                    </div>
                }.into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert" data-testid="token-error">{e.to_string()}</p> }.into_any(),
            })}
            {move || revoke.value().get().map(|r| match r {
                Ok(m) => view! { <p class="notice" role="status" data-testid="token-revoked">{m}</p> }.into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert" data-testid="token-error">{e.to_string()}</p> }.into_any(),
            })}
        </div>
        <h2>"The county's tokens"</h2>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) if rows.is_empty() => view! { <p data-testid="no-tokens">"No tokens yet."</p> }.into_any(),
                    Ok(rows) => view! { <TokenTable rows fips=county.get_untracked() revoke /> }.into_any(),
                    Err(AppError::Forbidden) => view! {
                        <p class="notice" role="status">"Only a county administrator (or a state administrator) keeps a county's API tokens."</p>
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TokenTable(
    rows: Vec<TokenRow>,
    fips: String,
    revoke: ServerAction<RevokeApiToken>,
) -> impl IntoView {
    view! {
        <table class="records" data-testid="api-tokens">
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"May"</th><th scope="col">"Made"</th>
                <th scope="col">"Last used"</th><th scope="col">"State"</th>
                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|t| {
                    let may = t.scopes.iter()
                        .map(|s| Scope::parse(s).map_or_else(|| s.clone(), |s| scope_label(s).to_owned()))
                        .collect::<Vec<_>>()
                        .join("; ");
                    let state = match &t.revoked {
                        Some(at) => format!("Revoked {at}"),
                        None => "Live".to_owned(),
                    };
                    let live = t.revoked.is_none();
                    let label = format!("Revoke {}", t.name);
                    let fips = fips.clone();
                    view! {
                        <tr data-token=t.id.to_string()>
                            <td>{t.name.clone()}</td>
                            <td>{may}</td>
                            <td>{t.created.clone()}</td>
                            <td>{t.last_used.clone().unwrap_or_else(|| "never".into())}</td>
                            <td>{state}</td>
                            <td>
                                {live.then(|| view! {
                                    <ActionForm action=revoke attr:class="inline-form">
                                        <input type="hidden" name="fips" value=fips />
                                        <input type="hidden" name="id" value=t.id.to_string() />
                                        <button type="submit" class="button button--quiet">{label}</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_needs_a_name_and_something_to_do() {
        assert_eq!(
            checked("  EMS push ", &[Scope::Statuses]).unwrap(),
            "EMS push"
        );
        assert!(checked("", &[Scope::Scans]).unwrap_err().contains("Name"));
        assert!(checked(&"x".repeat(101), &[Scope::Scans]).is_err());
        assert!(checked(&"é".repeat(100), &[Scope::Scans]).is_ok());
        let both = checked(" ", &[]).unwrap_err();
        assert!(
            both.contains("Name") && both.contains("at least one"),
            "{both}"
        );
    }
}
