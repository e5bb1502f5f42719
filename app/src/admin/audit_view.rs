//! The audit log in the portal: auditors (of one county or all), county administrators (their
//! county's) and state administrators (everything) read and filter it.

use super::frame::{AdminFrame, Pager};
use crate::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

pub const PAGE_SIZE: i64 = 50;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    /// Pacific time, as the state's elections division keeps it.
    pub occurred_at: String,
    pub county_name: Option<String>,
    pub actor: String,
    pub action: String,
    pub entity: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub client_ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub page: i64,
    pub has_more: bool,
}

#[server(endpoint = "admin/audit")]
pub async fn list_audit(action: String, entity: String, page: i64) -> Result<AuditPage, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = staff.audit_scope()?;
        let action = Some(action.trim().to_owned()).filter(|a| !a.is_empty());
        let entity = Some(entity.trim().to_owned()).filter(|e| !e.is_empty());
        let page = page.max(0);
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let found =
            super::store::audit_page(&mut tx, action.as_deref(), entity.as_deref(), page).await?;
        tx.commit().await?;
        Ok(found)
    })
    .await
}

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <Title text="Audit log" />
        <AdminFrame content=|_| view! { <AuditLog /> }.into_any() />
    }
}

#[component]
fn AuditLog() -> impl IntoView {
    let action = RwSignal::new(String::new());
    let entity = RwSignal::new(String::new());
    let page = RwSignal::new(0i64);
    let found = Resource::new(
        move || (action.get(), entity.get(), page.get()),
        |(a, e, p)| list_audit(a, e, p),
    );
    let (action_input, entity_input) = (
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Input>::new(),
    );
    view! {
        <h1>"Audit log"</h1>
        <form class="search-form" role="search" on:submit=move |ev| {
            ev.prevent_default();
            action.set(action_input.get().map(|e| e.value()).unwrap_or_default());
            entity.set(entity_input.get().map(|e| e.value()).unwrap_or_default());
            page.set(0);
        }>
            <div class="field">
                <label for="audit-action">"Action (e.g. ballot.status_changed)"</label>
                <input id="audit-action" node_ref=action_input autocomplete="off" />
            </div>
            <div class="field">
                <label for="audit-entity">"Record (e.g. ballot:123)"</label>
                <input id="audit-entity" node_ref=entity_input autocomplete="off" />
            </div>
            <button type="submit" class="button">"Filter"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match found.await {
                    Ok(p) => view! { <AuditTable found=p page /> }.into_any(),
                    Err(AppError::Forbidden) => view! {
                        <p class="notice" role="status">"The audit log is for auditors and administrators."</p>
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AuditTable(found: AuditPage, page: RwSignal<i64>) -> impl IntoView {
    let current = found.page;
    view! {
        <table class="records" data-testid="audit">
            <caption>{format!("Page {}", current + 1)}</caption>
            <thead><tr>
                <th scope="col">"When (Pacific)"</th><th scope="col">"County"</th><th scope="col">"Who"</th>
                <th scope="col">"Action"</th><th scope="col">"Record"</th><th scope="col">"Before"</th>
                <th scope="col">"After"</th><th scope="col">"From"</th>
            </tr></thead>
            <tbody>
                {found.rows.into_iter().map(|r| view! {
                    <tr>
                        <td>{r.occurred_at}</td>
                        <td>{r.county_name.unwrap_or_else(|| "—".to_owned())}</td>
                        <td>{r.actor}</td>
                        <td><code>{r.action}</code></td>
                        <td>{r.entity.unwrap_or_default()}</td>
                        <td><code class="wrap">{r.before.unwrap_or_default()}</code></td>
                        <td><code class="wrap">{r.after.unwrap_or_default()}</code></td>
                        <td>{r.client_ip.unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <Pager current has_more=found.has_more page />
    }
}
