//! Searching voters and ballots: by name, county voter id, ballot number or barcode, filtered
//! by status and precinct, a page at a time. Staff of a county find only their county's records.

use super::frame::AdminFrame;
use crate::AppError;
use crate::domain::BallotStatus;
use chrono::NaiveDate;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

pub const PAGE_SIZE: i64 = 25;

/// One voter in the results, with their current ballot in the latest election, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRow {
    pub voter_id: i64,
    pub county_name: String,
    pub county_voter_id: String,
    pub name: String,
    pub date_of_birth: NaiveDate,
    pub precinct: Option<String>,
    pub confidential: bool,
    pub ballot_id: Option<i64>,
    pub ballot_number: Option<String>,
    pub status: Option<BallotStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub rows: Vec<RecordRow>,
    pub page: i64,
    pub has_more: bool,
}

/// What the search box holds, as the server reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Needle {
    /// Nothing typed: every record, by the filters alone.
    Everything,
    /// 20 to 31 digits: an Intelligent Mail barcode (its 20-digit tracking code is compared).
    Barcode(String),
    /// Words: a name ("Maria Lopez", "Lopez, Maria", "Lopez"), or one token that may be a county
    /// voter id or a ballot number.
    Words(Vec<String>),
}

impl Needle {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Needle::Everything);
        }
        if raw.chars().count() > 200 {
            return Err(AppError::Conflict("The search is too long.".into()));
        }
        let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.bytes().all(|b| b.is_ascii_digit()) && (20..=31).contains(&digits.len()) {
            return Ok(Needle::Barcode(
                crate::domain::imb::Imb::tracking_of(&digits).to_owned(),
            ));
        }
        let words: Vec<String> = raw
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Needle::Words(words))
    }
}

pub fn parse_status(raw: &str) -> Result<Option<BallotStatus>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        code => BallotStatus::parse(code)
            .map(Some)
            .map_err(|_| AppError::Conflict("Unknown status.".into())),
    }
}

#[server(endpoint = "admin/search")]
pub async fn search_records(
    q: String,
    status: String,
    precinct: String,
    page: i64,
) -> Result<SearchResults, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let needle = Needle::parse(&q)?;
        let status = parse_status(&status)?;
        let precinct = Some(precinct.trim().to_owned()).filter(|p| !p.is_empty());
        let page = page.max(0);
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let results =
            super::store::search(&mut tx, &scope, &needle, status, precinct.as_deref(), page)
                .await?;
        tx.commit().await?;
        Ok(results)
    })
    .await
}

#[component]
pub fn RecordsPage() -> impl IntoView {
    view! {
        <Title text="Records" />
        <AdminFrame content=|staff| if staff.role == super::Role::Auditor {
            view! { <p>"Auditors read reports and the " <a href="/admin/audit">"audit log"</a> "."</p> }.into_any()
        } else {
            view! { <Search /> }.into_any()
        } />
    }
}

#[component]
fn Search() -> impl IntoView {
    let action = ServerAction::<SearchRecords>::new();
    let (q, status, precinct) = (
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Select>::new(),
        NodeRef::<leptos::html::Input>::new(),
    );
    let run = move |page: i64| {
        action.dispatch(SearchRecords {
            q: q.get().map(|e| e.value()).unwrap_or_default(),
            status: status.get().map(|e| e.value()).unwrap_or_default(),
            precinct: precinct.get().map(|e| e.value()).unwrap_or_default(),
            page,
        });
    };
    view! {
        <h1>"Voters and ballots"</h1>
        <form class="search-form" role="search" on:submit=move |ev| { ev.prevent_default(); run(0); }>
            <div class="field">
                <label for="search-q">"Name, voter id, ballot number or barcode"</label>
                <input id="search-q" name="q" type="search" autocomplete="off" node_ref=q />
            </div>
            <div class="field">
                <label for="search-status">"Status"</label>
                <select id="search-status" name="status" node_ref=status>
                    <option value="">"Any status"</option>
                    {BallotStatus::ALL.into_iter().map(|s| view! {
                        <option value=s.code()>{crate::domain::wording::status(s, crate::domain::Language::En).headline}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="search-precinct">"Precinct"</label>
                <input id="search-precinct" name="precinct" autocomplete="off" node_ref=precinct />
            </div>
            <button type="submit" class="button">"Search"</button>
        </form>
        <section aria-live="polite" aria-label="Results">
            {move || action.value().get().map(|answer| match answer {
                Ok(results) => view! { <Results results on_page=run /> }.into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn Results(
    results: SearchResults,
    on_page: impl Fn(i64) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    if results.rows.is_empty() {
        return view! { <p data-testid="no-results">"No records match."</p> }.into_any();
    }
    let page = results.page;
    view! {
        <table class="records">
            <caption>{format!("Page {}", page + 1)}</caption>
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"Voter id"</th><th scope="col">"County"</th>
                <th scope="col">"Born"</th><th scope="col">"Precinct"</th><th scope="col">"Ballot"</th><th scope="col">"Status"</th>
            </tr></thead>
            <tbody>
                {results.rows.into_iter().map(|r| view! {
                    <tr>
                        <td>{r.name.clone()} {r.confidential.then(|| view! { " " <span class="tag">"Confidential"</span> })}</td>
                        <td>{r.county_voter_id.clone()}</td>
                        <td>{r.county_name.clone()}</td>
                        <td>{r.date_of_birth.to_string()}</td>
                        <td>{r.precinct.clone().unwrap_or_default()}</td>
                        <td>{match (r.ballot_id, r.ballot_number.clone()) {
                            (Some(id), Some(number)) => view! { <a href=format!("/admin/ballots/{id}")>{number}</a> }.into_any(),
                            _ => view! { "—" }.into_any(),
                        }}</td>
                        <td>{r.status.map(|s| crate::domain::wording::status(s, crate::domain::Language::En).headline)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <div class="pager">
            {(page > 0).then(|| view! { <button type="button" class="button button--quiet" on:click=move |_| on_page(page - 1)>"Previous page"</button> })}
            {results.has_more.then(|| view! { <button type="button" class="button button--quiet" on:click=move |_| on_page(page + 1)>"Next page"</button> })}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_box_tells_barcodes_from_words() {
        assert_eq!(Needle::parse("  ").unwrap(), Needle::Everything);
        assert_eq!(
            Needle::parse("00040901234567890123 94110").unwrap(),
            Needle::Barcode("00040901234567890123".into())
        );
        assert_eq!(
            Needle::parse("Lopez, Maria").unwrap(),
            Needle::Words(vec!["Lopez".into(), "Maria".into()])
        );
        assert_eq!(
            Needle::parse("LA00000123").unwrap(),
            Needle::Words(vec!["LA00000123".into()])
        );
        assert!(Needle::parse(&"x".repeat(201)).is_err());
    }
}
