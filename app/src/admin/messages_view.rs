//! The message log: every notification of the county (or of every county, for the state's
//! administrators) with its state — queued, sending, sent, delivered, failed, dead, cancelled,
//! superseded — how many tries it took and the last error. Dead messages are here for staff to
//! see and act on. A voter's own messages are on each ballot's record.

use super::frame::{AdminFrame, Pager};
use crate::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

pub const PAGE_SIZE: i64 = 50;

pub const STATES: [&str; 8] = [
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "dead",
    "cancelled",
    "superseded",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRow {
    pub id: i64,
    /// Pacific time.
    pub created_at: String,
    pub county_name: String,
    pub channel: String,
    pub kind: String,
    pub template: String,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Masked for county staff.
    pub address: String,
    pub ballot_id: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageLog {
    /// Messages in each state, in [`STATES`] order, under the filters' channel.
    pub counts: Vec<(String, i64)>,
    pub rows: Vec<MessageRow>,
    pub page: i64,
    pub has_more: bool,
}

#[server(endpoint = "admin/messages")]
pub async fn list_messages(
    state: String,
    channel: String,
    page: i64,
) -> Result<MessageLog, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let reveal = matches!(
            staff.role,
            super::Role::StateAdmin | super::Role::CountyAdmin
        );
        let state = Some(state).filter(|s| STATES.contains(&s.as_str()));
        let channel = Some(channel).filter(|c| ["email", "sms", "voice"].contains(&c.as_str()));
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let found = store::page(
            &mut tx,
            scope.county(),
            state.as_deref(),
            channel.as_deref(),
            page.max(0),
            reveal,
        )
        .await?;
        tx.commit().await?;
        Ok(found)
    })
    .await
}

#[cfg(feature = "ssr")]
mod store {
    use super::{MessageLog, MessageRow, PAGE_SIZE, STATES};
    use sqlx::PgConnection;

    pub async fn page(
        db: &mut PgConnection,
        county: Option<&str>,
        state: Option<&str>,
        channel: Option<&str>,
        page: i64,
        reveal: bool,
    ) -> Result<MessageLog, sqlx::Error> {
        let counted = sqlx::query!(
            r#"select state, count(*) as "n!" from notifications
                where ($1::text is null or county_fips = $1)
                  and ($2::text is null or channel = $2)
                group by state"#,
            county,
            channel
        )
        .fetch_all(&mut *db)
        .await?;
        let counts = STATES
            .iter()
            .map(|s| {
                let n = counted.iter().find(|c| c.state == *s).map_or(0, |c| c.n);
                ((*s).to_owned(), n)
            })
            .collect();
        let rows = sqlx::query!(
            r#"select n.id, n.created_at, c.name as county_name, n.channel, n.kind, n.template,
                      n.state, n.attempts, n.last_error, s.address, n.ballot_id
               from notifications n
               join counties c on c.fips = n.county_fips
               join subscriptions s on s.id = n.subscription_id
               where ($1::text is null or n.county_fips = $1)
                 and ($2::text is null or n.state = $2)
                 and ($3::text is null or n.channel = $3)
               order by n.id desc limit $4 offset $5"#,
            county,
            state,
            channel,
            PAGE_SIZE + 1,
            page * PAGE_SIZE
        )
        .fetch_all(&mut *db)
        .await?;
        let has_more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > PAGE_SIZE;
        let pacific = chrono_tz::America::Los_Angeles;
        Ok(MessageLog {
            counts,
            rows: rows
                .into_iter()
                .take(usize::try_from(PAGE_SIZE).unwrap_or(50))
                .map(|r| MessageRow {
                    id: r.id,
                    created_at: r
                        .created_at
                        .with_timezone(&pacific)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string(),
                    county_name: r.county_name,
                    channel: r.channel,
                    kind: r.kind,
                    template: r.template,
                    state: r.state,
                    attempts: r.attempts,
                    last_error: r.last_error,
                    address: if reveal {
                        r.address
                    } else {
                        crate::admin::ballot::mask(&r.address)
                    },
                    ballot_id: r.ballot_id,
                })
                .collect(),
            page,
            has_more,
        })
    }
}

#[component]
pub fn MessagesPage() -> impl IntoView {
    view! {
        <Title text="Message log" />
        <AdminFrame content=|_| view! { <Messages /> }.into_any() />
    }
}

#[component]
fn Messages() -> impl IntoView {
    let state = RwSignal::new(String::new());
    let channel = RwSignal::new(String::new());
    let page = RwSignal::new(0i64);
    let found = Resource::new(
        move || (state.get(), channel.get(), page.get()),
        |(s, c, p)| list_messages(s, c, p),
    );
    view! {
        <h1>"Message log"</h1>
        <form class="search-form" role="search" on:submit=move |ev| ev.prevent_default()>
            <div class="field">
                <label for="messages-state">"State"</label>
                <select id="messages-state" on:change=move |ev| { state.set(event_target_value(&ev)); page.set(0); }>
                    <option value="">"Any"</option>
                    {STATES.iter().map(|s| view! { <option value=*s>{*s}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="messages-channel">"Channel"</label>
                <select id="messages-channel" on:change=move |ev| { channel.set(event_target_value(&ev)); page.set(0); }>
                    <option value="">"Any"</option>
                    <option value="email">"email"</option>
                    <option value="sms">"sms"</option>
                    <option value="voice">"voice"</option>
                </select>
            </div>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match found.await {
                    Ok(log) => view! { <MessageTable log page /> }.into_any(),
                    Err(AppError::Forbidden) => view! {
                        <p class="notice" role="status">"The message log is for county staff and administrators."</p>
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn MessageTable(log: MessageLog, page: RwSignal<i64>) -> impl IntoView {
    let current = log.page;
    view! {
        <table class="records" data-testid="message-counts">
            <caption>"Messages by state"</caption>
            <thead><tr>{log.counts.iter().map(|(s, _)| view! { <th scope="col">{s.clone()}</th> }).collect_view()}</tr></thead>
            <tbody><tr>{log.counts.iter().map(|(s, n)| view! { <td data-state=s.clone()>{*n}</td> }).collect_view()}</tr></tbody>
        </table>
        <table class="records" data-testid="messages">
            <caption>{format!("Page {}", current + 1)}</caption>
            <thead><tr>
                <th scope="col">"Queued (Pacific)"</th><th scope="col">"County"</th><th scope="col">"Channel"</th>
                <th scope="col">"To"</th><th scope="col">"Message"</th><th scope="col">"State"</th>
                <th scope="col">"Tries"</th><th scope="col">"Last error"</th><th scope="col">"Ballot"</th>
            </tr></thead>
            <tbody>
                {log.rows.into_iter().map(|r| {
                    let state = r.state.clone();
                    view! {
                    <tr data-state=state>
                        <td>{r.created_at}</td>
                        <td>{r.county_name}</td>
                        <td>{r.channel}</td>
                        <td>{r.address}</td>
                        <td>{format!("{} ({})", r.template, r.kind)}</td>
                        <td>{r.state}</td>
                        <td>{r.attempts}</td>
                        <td>{r.last_error.unwrap_or_default()}</td>
                        <td>{r.ballot_id.map(|id| view! { <a href=format!("/admin/ballots/{id}")>{format!("#{id}")}</a> })}</td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <Pager current has_more=log.has_more page />
    }
}
