//! A county's import codes (`/admin/county/codes`): what each ELG status code and PKG operation
//! code means, the built-in defaults with the county's own rows on top. County administrators
//! (and state administrators) add, change and remove the county's rows; each change is audited.

use super::frame::{AdminFrame, CountyPicker};
use super::{Role, Staff};
use crate::AppError;
use crate::domain::{BallotStatus, NotCountedReason};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRow {
    pub kind: String,
    pub code: String,
    pub status: BallotStatus,
    pub reason: Option<NotCountedReason>,
    /// The county's own row (else a built-in default).
    pub county_row: bool,
}

#[server(endpoint = "admin/code_maps")]
pub async fn load_code_maps(fips: String) -> Result<Vec<CodeRow>, AppError> {
    // The state is read before the first await: a resource's future may be polled where
    // the request's context is gone.
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let pool = pool?;
        let staff = super::frame::signed_in().await?;
        if !super::county_settings::may_manage(&staff, &fips) {
            return Err(AppError::Forbidden);
        }
        let scope = super::roles::Scope::County(fips.clone());
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let rows = store::load(&mut tx, &fips).await?;
        tx.commit().await?;
        Ok(rows)
    })
    .await
}

/// Sets what a code means for the county; an empty status removes the county's row (the
/// default, if any, applies again).
#[server(endpoint = "admin/save_code_map")]
pub async fn save_code_map(
    fips: String,
    kind: String,
    code: String,
    status: String,
    reason: String,
) -> Result<(), AppError> {
    // The state is read before the first await: a resource's future may be polled where
    // the request's context is gone.
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let pool = pool?;
        let staff = super::frame::signed_in().await?;
        if !super::county_settings::may_manage(&staff, &fips) {
            return Err(AppError::Forbidden);
        }
        let code = code.trim().to_ascii_uppercase();
        if code.is_empty()
            || code.len() > 40
            || !code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(AppError::Conflict(
                "A code is 1 to 40 letters, digits, hyphens or underscores.".into(),
            ));
        }
        if kind != "elg" && kind != "pkg" {
            return Err(AppError::Conflict("Choose ELG or PKG.".into()));
        }
        let status = if status.is_empty() {
            None
        } else {
            Some(
                BallotStatus::parse(&status)
                    .map_err(|_| AppError::Conflict("Choose a status.".into()))?,
            )
        };
        let reason = if reason.is_empty() {
            None
        } else {
            Some(
                NotCountedReason::parse(&reason)
                    .map_err(|_| AppError::Conflict("Choose a reason.".into()))?,
            )
        };
        if let Some(s) = status {
            if kind == "pkg" && !crate::imports::codes::PKG_STATUSES.contains(&s) {
                return Err(AppError::Conflict(
                    "A scan can only mean in transit, delivered or undeliverable.".into(),
                ));
            }
            if reason.is_some() && s != BallotStatus::NotCounted {
                return Err(AppError::Conflict(
                    "Only \"not counted\" carries a reason.".into(),
                ));
            }
        }
        let scope = super::roles::Scope::County(fips.clone());
        let mut tx = super::store::scoped(&pool, &scope).await?;
        store::save(&mut tx, &staff, &fips, &kind, &code, status, reason).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

#[cfg(feature = "ssr")]
mod store {
    use super::CodeRow;
    use crate::admin::Staff;
    use crate::audit::{self, ActorKind, AuditAction, AuditEntry};
    use crate::domain::{BallotStatus, NotCountedReason};
    use crate::imports::codes::ElgMeaning;
    use sqlx::PgConnection;

    pub async fn load(db: &mut PgConnection, fips: &str) -> Result<Vec<CodeRow>, sqlx::Error> {
        let (map, county_rows) = crate::imports::run::load_codes(db, fips).await?;
        let mut rows: Vec<CodeRow> = map
            .elg_codes()
            .into_iter()
            .map(|(code, ElgMeaning { status, reason, .. })| CodeRow {
                county_row: county_rows.contains(&("elg".to_owned(), code.clone())),
                kind: "elg".into(),
                code,
                status,
                reason,
            })
            .collect();
        rows.extend(map.pkg_codes().into_iter().map(|(code, status)| CodeRow {
            county_row: county_rows.contains(&("pkg".to_owned(), code.clone())),
            kind: "pkg".into(),
            code,
            status,
            reason: None,
        }));
        Ok(rows)
    }

    pub async fn save(
        db: &mut PgConnection,
        staff: &Staff,
        fips: &str,
        kind: &str,
        code: &str,
        status: Option<BallotStatus>,
        reason: Option<NotCountedReason>,
    ) -> Result<(), sqlx::Error> {
        let before = sqlx::query!(
            "select status, reason from feed_code_maps where county_fips = $1 and kind = $2 and code = $3",
            fips,
            kind,
            code
        )
        .fetch_optional(&mut *db)
        .await?
        .map(|r| serde_json::json!({ "status": r.status, "reason": r.reason }));
        match status {
            None => {
                sqlx::query!(
                    "delete from feed_code_maps where county_fips = $1 and kind = $2 and code = $3",
                    fips,
                    kind,
                    code
                )
                .execute(&mut *db)
                .await?;
            }
            Some(s) => {
                sqlx::query!(
                    r#"insert into feed_code_maps (county_fips, kind, code, status, reason, updated_by)
                       values ($1, $2, $3, $4, $5, $6)
                       on conflict (county_fips, kind, code) do update
                         set status = excluded.status, reason = excluded.reason,
                             updated_by = excluded.updated_by, updated_at = now()"#,
                    fips,
                    kind,
                    code,
                    s.code(),
                    reason.map(|r| r.code()),
                    staff.id
                )
                .execute(&mut *db)
                .await?;
            }
        }
        let entry = AuditEntry {
            county_fips: Some(fips.to_owned()),
            entity: Some(("feed_code", format!("{kind}:{code}"))),
            before,
            after: status.map(
                |s| serde_json::json!({ "status": s.code(), "reason": reason.map(|r| r.code()) }),
            ),
            ..AuditEntry::new(
                ActorKind::User,
                Some(staff.id),
                AuditAction::CountySettingsChanged,
            )
        };
        audit::record(db, entry).await
    }
}

#[component]
pub fn CodeMapsPage() -> impl IntoView {
    view! {
        <Title text="Import codes" />
        <AdminFrame content=|staff| view! { <CodeMaps staff /> }.into_any() />
    }
}

#[component]
fn CodeMaps(staff: Staff) -> impl IntoView {
    let county = RwSignal::new(staff.county_fips.clone().unwrap_or_default());
    let save = ServerAction::<SaveCodeMap>::new();
    let rows = Resource::new(
        move || (county.get(), save.version().get()),
        move |(fips, _)| async move {
            if fips.is_empty() {
                Ok(Vec::new())
            } else {
                load_code_maps(fips).await
            }
        },
    );
    let picker = (staff.role == Role::StateAdmin).then(|| {
        view! { <CountyPicker id="codes-county" county /> }
    });
    view! {
        <h1>"Import codes"</h1>
        <p>"What the codes in the county's files mean. An ELG code that is not listed rejects its row; a PKG code that is not listed is an ordinary processing scan (in transit)."</p>
        {picker}
        <ActionForm action=save attr:class="code-form">
            <input type="hidden" name="fips" value=move || county.get() />
            <div class="field">
                <label for="code-kind">"File"</label>
                <select id="code-kind" name="kind">
                    <option value="elg">"ELG status code"</option>
                    <option value="pkg">"PKG operation code"</option>
                </select>
            </div>
            <div class="field">
                <label for="code-code">"Code"</label>
                <input id="code-code" name="code" required maxlength="40" autocomplete="off" />
            </div>
            <div class="field">
                <label for="code-status">"Means"</label>
                <select id="code-status" name="status">
                    <option value="">"(remove the county's meaning)"</option>
                    {BallotStatus::ALL.map(|s| view! { <option value=s.code()>{s.code().replace('_', " ")}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="code-reason">"Reason (not counted only)"</label>
                <select id="code-reason" name="reason">
                    <option value="">"(from the row's reason code)"</option>
                    {NotCountedReason::ALL.map(|r| view! { <option value=r.code()>{r.code().replace('_', " ")}</option> }).collect_view()}
                </select>
            </div>
            <button type="submit" class="button">"Save the code"</button>
        </ActionForm>
        <div aria-live="polite">
            {move || save.value().get().map(|r| match r {
                Ok(()) => view! { <p class="notice" role="status" data-testid="code-saved">"Saved."</p> }.into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert" data-testid="code-error">{e.to_string()}</p> }.into_any(),
            })}
        </div>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) if rows.is_empty() => ().into_any(),
                    Ok(rows) => view! { <CodeTable rows /> }.into_any(),
                    Err(AppError::Forbidden) => view! {
                        <p class="notice" role="status">"Only a county administrator (or a state administrator) changes a county's codes."</p>
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CodeTable(rows: Vec<CodeRow>) -> impl IntoView {
    view! {
        <table class="records" data-testid="code-maps">
            <caption>"Codes and what they mean"</caption>
            <thead><tr><th scope="col">"File"</th><th scope="col">"Code"</th><th scope="col">"Means"</th><th scope="col">"Reason"</th><th scope="col">"Set by"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let key = format!("{}:{}", r.kind, r.code);
                    view! {
                    <tr data-code=key>
                        <td>{r.kind.to_ascii_uppercase()}</td>
                        <td>{r.code}</td>
                        <td>{r.status.code().replace('_', " ")}</td>
                        <td>{r.reason.map(|x| x.code().replace('_', " ")).unwrap_or_default()}</td>
                        <td>{if r.county_row { "the county" } else { "default" }}</td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
