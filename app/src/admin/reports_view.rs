//! Reports in the portal: the dashboard (charts drawn on the server, each with its numbers as a
//! table), the export form, and the exports running in the background with their progress.
//! The dashboard's choices are a plain GET form and the export a plain POST (`POST
//! /admin/exports`, in the server), so all of it works without JavaScript; with it, the exports
//! page follows the progress every second (without it, a link reloads the page).

use super::frame::AdminFrame;
use super::imports_view::ElectionChoice;
use crate::AppError;
use crate::reports::dashboard::{Count, Dashboard, load_dashboard};
use crate::reports::{ExportKind, ExportRow, MESSAGE_STATES};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// Exports up to this many rows download at once; longer ones run in the background.
pub const DEFAULT_INLINE_ROWS: i64 = 20_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportChoices {
    pub elections: Vec<ElectionChoice>,
    /// For accounts across counties: every county to choose from ("all" is the default).
    pub counties: Vec<(String, String)>,
    /// What this account may export.
    pub kinds: Vec<ExportKind>,
    pub inline_rows: i64,
}

#[server(endpoint = "admin/reports/choices")]
pub async fn load_report_choices() -> Result<ReportChoices, AppError> {
    let state = crate::state::state();
    crate::error::respond(async move {
        let state = state?;
        let staff = super::frame::signed_in().await?;
        let scope = crate::reports::reports_scope(&staff)?;
        let mut tx = super::store::scoped(&state.pool, &scope).await?;
        let (elections, counties) =
            super::imports_view::store::choices(&mut tx, scope.county()).await?;
        tx.commit().await?;
        let kinds = ExportKind::ALL
            .into_iter()
            .filter(|k| k.scope_for(&staff).is_ok())
            .collect();
        Ok(ReportChoices {
            elections,
            counties,
            kinds,
            inline_rows: state.settings.export_inline_rows,
        })
    })
    .await
}

#[server(endpoint = "admin/reports/exports")]
pub async fn list_exports() -> Result<Vec<ExportRow>, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let pool = pool?;
        let staff = super::frame::signed_in().await?;
        crate::reports::jobs::list_for(&pool, &staff).await
    })
    .await
}

#[component]
pub fn ReportsPage() -> impl IntoView {
    view! {
        <Title text="Reports" />
        <AdminFrame content=|_| view! { <Reports /> }.into_any() />
    }
}

#[component]
fn Reports() -> impl IntoView {
    let query = use_query_map();
    let county = move || query.read().get("county").unwrap_or_default();
    let election = move || {
        query
            .read()
            .get("election")
            .and_then(|e| e.parse::<i64>().ok())
    };
    let choices = Resource::new(|| (), |_| load_report_choices());
    let numbers = Resource::new(
        move || (county(), election()),
        |(c, e)| load_dashboard(c, e),
    );
    view! {
        <h1>"Reports"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match choices.await {
                    Ok(c) => view! {
                        <Choices choices=c.clone() county=county() election=election() />
                        <Suspense fallback=|| view! { <p>"Counting…"</p> }>
                            {move || Suspend::new(async move {
                                match numbers.await {
                                    Ok(d) => view! { <DashboardView d /> }.into_any(),
                                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                                }
                            })}
                        </Suspense>
                        <ExportForm choices=c county=county() election=election() />
                    }.into_any(),
                    Err(AppError::Forbidden) => view! {
                        <p class="notice" role="status">"Reports are for county staff, administrators and auditors."</p>
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Which county and election the dashboard counts: a GET form, so the choice is in the address.
#[component]
fn Choices(choices: ReportChoices, county: String, election: Option<i64>) -> impl IntoView {
    view! {
        <form class="search-form" method="get" action="/admin/reports" data-testid="report-choices">
            {(!choices.counties.is_empty()).then(|| view! {
                <div class="field">
                    <label for="report-county">"County"</label>
                    <select id="report-county" name="county">
                        <option value="">"All counties"</option>
                        {choices.counties.into_iter().map(|(fips, name)| {
                            let chosen = fips == county;
                            view! { <option value=fips selected=chosen>{name}</option> }
                        }).collect_view()}
                    </select>
                </div>
            })}
            <div class="field">
                <label for="report-election">"Election"</label>
                <select id="report-election" name="election">
                    <option value="">"All elections"</option>
                    {choices.elections.into_iter().map(|e| {
                        let chosen = Some(e.id) == election;
                        view! { <option value=e.id.to_string() selected=chosen>{e.label}</option> }
                    }).collect_view()}
                </select>
            </div>
            <button type="submit" class="button">"Show"</button>
        </form>
    }
}

fn thousands(n: i64) -> String {
    crate::imports::thousands(u64::try_from(n).unwrap_or(0))
}

#[component]
fn DashboardView(d: Dashboard) -> impl IntoView {
    let title = match &d.election {
        Some(e) => format!("{}, {e}", d.scope_label),
        None => format!("{}, all elections", d.scope_label),
    };
    let total = d.ballots();
    let cure = d.cure.clone();
    view! {
        <section class="dashboard" data-testid="dashboard">
            <h2>{title}</h2>
            <p>{format!("{} ballots", thousands(total))}</p>
            <Chart id="status" title="Ballots by status" svg=d.charts.by_status.clone() />
            <CountTable id="status" caption="Ballots by status" heading="Status" rows=d.by_status.clone() />
            <Chart id="returns" title="Ballots received per day" svg=d.charts.returns_per_day.clone() />
            <table class="records" data-testid="table-returns">
                <caption>"Ballots received per day (Pacific time)"</caption>
                <thead><tr><th scope="col">"Day"</th><th scope="col" class="num">"Received"</th></tr></thead>
                <tbody>
                    {d.returns_per_day.iter().map(|(day, n)| view! {
                        <tr><th scope="row">{day.clone()}</th><td class="num">{thousands(*n)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <Chart id="reasons" title="Not counted, by reason" svg=d.charts.not_counted_by_reason.clone() />
            <CountTable id="reasons" caption="Not counted, by reason" heading="Reason" rows=d.not_counted_by_reason.clone() />
            <Chart id="cure" title="The cure pipeline" svg=d.charts.cure.clone() />
            <table class="records" data-testid="table-cure">
                <caption>"The cure pipeline (signature problems the voter can fix)"</caption>
                <thead><tr><th scope="col">"Stage"</th><th scope="col" class="num">"Ballots"</th></tr></thead>
                <tbody>
                    <tr><th scope="row">"Problem found"</th><td class="num" data-code="problems">{thousands(cure.problems)}</td></tr>
                    <tr><th scope="row">"Voter notified"</th><td class="num" data-code="notified">{thousands(cure.notified)}</td></tr>
                    <tr><th scope="row">"Cured"</th><td class="num" data-code="cured">{thousands(cure.cured)}</td></tr>
                    <tr><th scope="row">"Still open (before the cure deadline)"</th><td class="num" data-code="open">{thousands(cure.open)}</td></tr>
                    <tr><th scope="row">"Expired (past the cure deadline)"</th><td class="num" data-code="expired">{thousands(cure.expired)}</td></tr>
                </tbody>
            </table>
            <Chart id="subscribers" title="Subscribers by channel" svg=d.charts.subscribers.clone() />
            <table class="records" data-testid="table-subscribers">
                <caption>"Subscribers by channel and language (confirmed, not cancelled)"</caption>
                <thead><tr><th scope="col">"Channel"</th><th scope="col">"Language"</th><th scope="col" class="num">"Subscribers"</th></tr></thead>
                <tbody>
                    {d.subscribers.iter().map(|s| view! {
                        <tr>
                            <th scope="row">{s.channel.clone()}</th>
                            <td>{crate::domain::Language::parse(&s.language).map(|l| l.native_name()).unwrap_or("")}</td>
                            <td class="num">{thousands(s.count)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <Chart id="notifications" title="Messages by delivery state" svg=d.charts.notifications.clone() />
            <CountTable id="notifications" caption="Messages by delivery state" heading="State" rows=d.notifications.clone() />
        </section>
    }
}

/// A chart drawn on the server. Hidden from assistive technology: the table beside it has the
/// same numbers.
#[component]
fn Chart(id: &'static str, title: &'static str, svg: String) -> impl IntoView {
    view! {
        <figure class="chart" data-testid=format!("chart-{id}")>
            <figcaption>{title}</figcaption>
            <div class="chart__image" aria-hidden="true" inner_html=svg></div>
        </figure>
    }
}

#[component]
fn CountTable(
    id: &'static str,
    caption: &'static str,
    heading: &'static str,
    rows: Vec<Count>,
) -> impl IntoView {
    view! {
        <table class="records" data-testid=format!("table-{id}")>
            <caption>{caption}</caption>
            <thead><tr><th scope="col">{heading}</th><th scope="col" class="num">"Count"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|c| view! {
                    <tr><th scope="row">{c.label}</th><td class="num" data-code=c.code>{thousands(c.count)}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The export form: a plain POST. A small export comes back as the file; a large one starts in
/// the background and the answer is the exports page.
#[component]
fn ExportForm(choices: ReportChoices, county: String, election: Option<i64>) -> impl IntoView {
    if choices.kinds.is_empty() {
        return ().into_any();
    }
    view! {
        <form class="upload-form" method="post" action="/admin/exports" data-testid="export-form">
            <h2>"Export"</h2>
            <p>{format!(
                "Up to {} rows download at once; larger exports run in the background and wait for you under ",
                thousands(choices.inline_rows)
            )}<a href="/admin/reports/exports">"Your exports"</a>"."</p>
            <div class="field">
                <label for="export-kind">"What"</label>
                <select id="export-kind" name="kind" required>
                    {choices.kinds.iter().map(|k| view! { <option value=k.code()>{k.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="export-format">"Format"</label>
                <select id="export-format" name="format">
                    <option value="csv">"CSV (UTF-8, opens in Excel)"</option>
                    <option value="xlsx">"Excel workbook (.xlsx)"</option>
                </select>
            </div>
            {(!choices.counties.is_empty()).then(|| view! {
                <div class="field">
                    <label for="export-county">"County"</label>
                    <select id="export-county" name="county">
                        <option value="">"All counties"</option>
                        {choices.counties.iter().map(|(fips, name)| {
                            let chosen = *fips == county;
                            view! { <option value=fips.clone() selected=chosen>{name.clone()}</option> }
                        }).collect_view()}
                    </select>
                </div>
            })}
            <div class="field">
                <label for="export-election">"Election"</label>
                <select id="export-election" name="election_id">
                    <option value="">"All elections"</option>
                    {choices.elections.iter().map(|e| {
                        let chosen = Some(e.id) == election;
                        view! { <option value=e.id.to_string() selected=chosen>{e.label.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="export-status">"Status (ballot list) or delivery state (notification log)"</label>
                <select id="export-status" name="status">
                    <option value="">"Any"</option>
                    <optgroup label="Ballot status">
                        {crate::domain::BallotStatus::ALL.map(|s| view! {
                            <option value=s.code()>{crate::domain::wording::status(s, crate::domain::Language::En).headline}</option>
                        }).collect_view()}
                    </optgroup>
                    <optgroup label="Delivery state">
                        {MESSAGE_STATES.map(|s| view! { <option value=s>{s}</option> }).collect_view()}
                    </optgroup>
                </select>
            </div>
            <div class="field">
                <label for="export-precinct">"Precinct"</label>
                <input id="export-precinct" name="precinct" maxlength="40" autocomplete="off" />
            </div>
            <div class="field">
                <label for="export-from">"From (day, Pacific)"</label>
                <input id="export-from" name="from" type="date" />
            </div>
            <div class="field">
                <label for="export-to">"To (day, Pacific)"</label>
                <input id="export-to" name="to" type="date" />
            </div>
            <button type="submit" class="button">"Export"</button>
        </form>
    }
    .into_any()
}

#[component]
pub fn ExportsPage() -> impl IntoView {
    view! {
        <Title text="Your exports" />
        <AdminFrame content=|_| view! { <Exports /> }.into_any() />
    }
}

fn running(rows: &[ExportRow]) -> bool {
    rows.iter()
        .any(|r| r.state == "queued" || r.state == "running")
}

#[component]
fn Exports() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_exports());
    // Follow the progress while anything runs (the browser only).
    Effect::new(move |_| {
        // Once at once: the rows then render from the newest state, whatever the page had.
        list.refetch();
        let every_second = set_interval_with_handle(
            move || {
                let busy = list
                    .try_get_untracked()
                    .flatten()
                    .and_then(Result::ok)
                    .is_some_and(|rows| running(&rows));
                if busy {
                    list.refetch();
                }
            },
            std::time::Duration::from_secs(1),
        );
        // Leaving the page stops it.
        if let Ok(handle) = every_second {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <h1>"Your exports"</h1>
        <p><a href="/admin/reports">"Back to reports"</a></p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(rows) if rows.is_empty() => view! { <p>"You have not exported anything yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        // Without JavaScript the page does not follow the run: a link reloads it.
                        <p><a href="/admin/reports/exports" rel="external">"Refresh"</a></p>
                        <ExportTable rows />
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ExportTable(rows: Vec<ExportRow>) -> impl IntoView {
    view! {
        <table class="records" data-testid="exports">
            <caption>"Exports you asked for (files are kept for a day)"</caption>
            <thead><tr>
                <th scope="col">"Asked (Pacific)"</th><th scope="col">"What"</th><th scope="col">"Format"</th>
                <th scope="col">"Progress"</th><th scope="col">"File"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let total = r.rows_total.unwrap_or(0).max(r.rows_written);
                    let label_id = format!("export-{}-what", r.id);
                    let written = thousands(r.rows_written);
                    let of_total = format!("{written} of {} rows", thousands(total));
                    // The same elements in every state (only values differ), so a row hydrates
                    // whatever state the page was rendered in.
                    let done = r.state == "done";
                    let failed = r.state == "failed";
                    let text = if done {
                        format!("Done: {written} rows")
                    } else if failed {
                        r.failure.clone().unwrap_or_else(|| "Failed".to_owned())
                    } else {
                        of_total.clone()
                    };
                    let value = if done { total.max(1) } else if failed { 0 } else { r.rows_written };
                    let progress = view! {
                        <progress data-testid="export-progress" aria-labelledby=label_id.clone()
                            max=total.max(1).to_string() value=value.to_string()>
                            {of_total.clone()}
                        </progress>
                        " "
                        <span data-testid=if done { "export-done" } else { "export-state" }>{text}</span>
                    };
                    view! {
                        <tr data-export=r.id.to_string() data-state=r.state.clone()>
                            <td>{r.created_at.clone()}</td>
                            <td id=label_id>{r.spec.kind.label()}</td>
                            <td>{r.spec.format.code().to_uppercase()}</td>
                            <td>{progress}</td>
                            <td>
                                <a href=format!("/admin/exports/{}/download", r.id) rel="external"
                                    download=r.file_name.clone() hidden=!done>
                                    {format!("Download {}", r.file_name)}
                                </a>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
