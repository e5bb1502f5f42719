//! The portal's frame: who is signed in, the portal's navigation and sign-out. Every portal page
//! renders inside it; it sends a visitor who is not signed in to the sign-in page.

use super::Staff;
use super::signin::{SignOut, SignOutEverywhere};
use crate::AppError;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// The signed-in account, or `Unauthorized`.
#[server(endpoint = "admin/whoami")]
pub async fn whoami() -> Result<Staff, AppError> {
    crate::error::respond(async move { signed_in().await }).await
}

/// The signed-in account, for a portal server function: its answer holds voters' records, so
/// no cache may keep it.
#[cfg(feature = "ssr")]
pub async fn signed_in() -> Result<Staff, AppError> {
    no_store();
    super::session::current().await
}

/// Portal answers hold voters' records: no cache may keep them.
#[cfg(feature = "ssr")]
pub fn no_store() {
    use axum::http::{HeaderValue, header};
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Renders `content` for the signed-in account. `allow_unenrolled` lets the two-factor set-up
/// page show to an account that must still set it up.
#[component]
pub fn AdminFrame(
    content: fn(Staff) -> AnyView,
    #[prop(optional)] allow_unenrolled: bool,
) -> impl IntoView {
    let me = Resource::new_blocking(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(staff) if staff.must_enrol_totp && !allow_unenrolled => {
                        view! { <Redirect path="/admin/two-factor" /> }.into_any()
                    }
                    Ok(staff) => view! {
                        <StaffBar staff=staff.clone() />
                        <div class="admin-content">{content(staff)}</div>
                    }
                    .into_any(),
                    Err(AppError::Unauthorized) => {
                        view! { <Redirect path="/admin/sign-in" /> }.into_any()
                    }
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn StaffBar(staff: Staff) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let scope = match &staff.county_name {
        Some(county) => format!("{}, {county} County", staff.role.label()),
        None => format!("{}, all counties", staff.role.label()),
    };
    view! {
        <nav class="admin-bar" aria-label="Portal">
            <p class="admin-bar__who">
                "Signed in as " <strong data-testid="staff-name">{staff.name.clone()}</strong>
                " (" {scope} ")"
            </p>
            <ul class="admin-bar__links">
                {(staff.role != super::Role::Auditor).then(|| view! { <li><a href="/admin">"Records"</a></li> })}
                {(staff.role != super::Role::Auditor).then(|| view! { <li><a href="/admin/messages">"Message log"</a></li> })}
                {(staff.role != super::Role::Auditor).then(|| view! { <li><a href="/admin/imports">"County files"</a></li> })}
                {(staff.role != super::Role::Auditor).then(|| view! { <li><a href="/admin/announcements">"Announcements"</a></li> })}
                <li><a href="/admin/reports">"Reports"</a></li>
                <li><a href="/admin/elections">"Elections"</a></li>
                {matches!(staff.role, super::Role::StateAdmin | super::Role::CountyAdmin).then(|| view! {
                    <li><a href="/admin/accounts">"Accounts"</a></li>
                    <li><a href="/admin/county">"County settings"</a></li>
                    <li><a href="/admin/county/codes">"Import codes"</a></li>
                    <li><a href="/admin/county/api-tokens">"API tokens"</a></li>
                })}
                {(staff.role != super::Role::CountyStaff).then(|| view! { <li><a href="/admin/audit">"Audit log"</a></li> })}
                <li><a href="/admin/two-factor">"Two-factor sign-in"</a></li>
                <li>
                    <ActionForm action=sign_out attr:class="inline-form">
                        <button type="submit" class="button button--quiet">"Sign out"</button>
                    </ActionForm>
                </li>
                <li>
                    <ActionForm action=everywhere attr:class="inline-form">
                        <button type="submit" class="button button--quiet">"Sign out everywhere"</button>
                    </ActionForm>
                </li>
            </ul>
        </nav>
    }
}

/// A state administrator's choice of county, for pages that work on one county at a time.
#[component]
pub fn CountyPicker(id: &'static str, county: RwSignal<String>) -> impl IntoView {
    let counties = Resource::new(|| (), |_| crate::counties::list_counties());
    view! {
        <div class="field">
            <label for=id>"County"</label>
            <select id=id on:change=move |ev| county.set(event_target_value(&ev))>
                <option value="">"Choose a county"</option>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        counties.await.unwrap_or_default().into_iter().map(|c| view! {
                            <option value=c.fips.clone()>{c.name.clone()}</option>
                        }).collect_view()
                    })}
                </Suspense>
            </select>
        </div>
    }
}

/// "Newer" and "Older" under a log's page (the audit log, the message log).
#[component]
pub fn Pager(current: i64, has_more: bool, page: RwSignal<i64>) -> impl IntoView {
    view! {
        <div class="pager">
            {(current > 0).then(|| view! { <button type="button" class="button button--quiet" on:click=move |_| page.set(current - 1)>"Newer"</button> })}
            {has_more.then(|| view! { <button type="button" class="button button--quiet" on:click=move |_| page.set(current + 1)>"Older"</button> })}
        </div>
    }
}
