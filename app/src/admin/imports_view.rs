//! County files in the portal: upload (streamed, with a progress bar; a plain form posts it
//! without JavaScript), the dry run's summary, guards and rejected rows, the error report to
//! download, and applying with the guards confirmed. The upload itself is an axum handler in
//! the server (`POST /admin/imports`); the file is kept with the import, so applying reads the
//! very bytes the dry run checked.

use super::frame::AdminFrame;
use crate::AppError;
use crate::imports::{FeedKind, Summary};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

/// The largest file the portal takes (a county's biggest ELG is a few hundred megabytes only
/// for Los Angeles; larger files go through `ballot-tracker import`).
pub const MAX_UPLOAD_BYTES: usize = 512 * 1024 * 1024;
/// Rejected rows shown on the page; the report has them all.
pub const PREVIEW_ROWS: i64 = 50;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionChoice {
    pub id: i64,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    pub id: i64,
    pub created_at: String,
    pub county_name: String,
    pub kind: String,
    pub file_name: String,
    pub state: String,
    pub rows: Option<i32>,
    pub rejected: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportsPageData {
    pub elections: Vec<ElectionChoice>,
    /// For state administrators, who pick the county.
    pub counties: Vec<(String, String)>,
    pub imports: Vec<ImportRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub row: i64,
    pub field: Option<String>,
    pub value: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportDetail {
    pub id: i64,
    pub county_name: String,
    pub kind: FeedKind,
    pub election: Option<String>,
    pub file_name: String,
    pub state: String,
    pub failure: Option<String>,
    pub summary: Option<Summary>,
    pub rejected_preview: Vec<Rejected>,
    pub created_at: String,
    pub applied_at: Option<String>,
}

#[server(endpoint = "admin/imports/list")]
pub async fn list_imports() -> Result<ImportsPageData, AppError> {
    // The state is read before the first await: a resource's future may be polled where
    // the request's context is gone.
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let pool = pool?;
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let data = store::page(&mut tx, scope.county()).await?;
        tx.commit().await?;
        Ok(data)
    })
    .await
}

#[server(endpoint = "admin/imports/detail")]
pub async fn get_import(id: i64) -> Result<ImportDetail, AppError> {
    // The state is read before the first await: a resource's future may be polled where
    // the request's context is gone.
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let pool = pool?;
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let detail = store::detail(&mut tx, id)
            .await?
            .ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(detail)
    })
    .await
}

/// Applies a checked file: every guard it raised must be confirmed here, and rejected rows
/// skipped by choice. One transaction; nothing is applied unless all of it is.
#[server(endpoint = "admin/imports/apply")]
pub async fn apply_import(
    id: i64,
    other_county: Option<String>,
    other_election: Option<String>,
    future_dates: Option<String>,
    early_dates: Option<String>,
    mass_change: Option<String>,
    skip_rejected: Option<String>,
) -> Result<String, AppError> {
    // The state is read before the first await: a resource's future may be polled where
    // the request's context is gone.
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let pool = pool?;
        use crate::imports::Guard;
        use crate::imports::run::{self, Blocked, Limits, Mode, Request};
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let found = store::file(&mut tx, id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        if !staff.may_work_records_of(&found.county_fips) {
            return Err(AppError::Forbidden);
        }
        let confirmed: Vec<Guard> = [
            (Guard::OtherCounty, other_county),
            (Guard::OtherElection, other_election),
            (Guard::FutureDates, future_dates),
            (Guard::EarlyDates, early_dates),
            (Guard::MassChange, mass_change),
        ]
        .into_iter()
        .filter_map(|(g, v)| v.is_some().then_some(g))
        .collect();
        let request = Request {
            county_fips: found.county_fips,
            election_id: found.election_id,
            kind: found.kind,
            file_name: found.file_name,
            user_id: Some(staff.id),
            api_token_id: None,
            limits: Limits::default(),
        };
        let mode = Mode::Apply {
            confirmed,
            skip_rejected: skip_rejected.is_some(),
        };
        let report = run::process(&pool, id, &request, &mode, &found.content[..])
            .await
            .map_err(|e| match e {
                run::ImportError::Database(e) => AppError::internal(&e),
                other => AppError::Conflict(other.to_string()),
            })?;
        match report.blocked {
            None if report.applied => Ok("Applied.".to_owned()),
            Some(Blocked::Unconfirmed(guards)) => Err(AppError::Conflict(format!(
                "Not applied: confirm {}.",
                guards
                    .iter()
                    .map(|g| g.title().to_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            Some(Blocked::Rejected(n)) => Err(AppError::Conflict(format!(
                "Not applied: {} rows were rejected. Fix the file, or choose to skip them.",
                crate::imports::thousands(n)
            ))),
            None => Err(AppError::Conflict("Not applied.".into())),
        }
    })
    .await
}

#[cfg(feature = "ssr")]
pub mod store {
    use super::{ElectionChoice, ImportDetail, ImportRow, ImportsPageData, PREVIEW_ROWS, Rejected};
    use crate::imports::{FeedKind, Summary};
    use sqlx::PgConnection;

    fn pacific(t: chrono::DateTime<chrono::Utc>) -> String {
        t.with_timezone(&chrono_tz::America::Los_Angeles)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// The elections a county's files and reports are for, newest first; the counties to
    /// choose from when `county` is `None` (an account across counties).
    pub async fn choices(
        db: &mut PgConnection,
        county: Option<&str>,
    ) -> Result<(Vec<ElectionChoice>, Vec<(String, String)>), sqlx::Error> {
        let elections = sqlx::query!(
            r#"select id, name, election_day from elections
               where county_fips is null or $1::text is null or county_fips = $1
               order by election_day desc, id desc limit 50"#,
            county
        )
        .fetch_all(&mut *db)
        .await?
        .into_iter()
        .map(|e| ElectionChoice {
            id: e.id,
            label: format!("{} ({})", e.name, e.election_day),
        })
        .collect();
        let counties = if county.is_none() {
            sqlx::query!("select fips, name from counties order by name")
                .fetch_all(&mut *db)
                .await?
                .into_iter()
                .map(|c| (c.fips, c.name))
                .collect()
        } else {
            Vec::new()
        };
        Ok((elections, counties))
    }

    pub async fn page(
        db: &mut PgConnection,
        county: Option<&str>,
    ) -> Result<ImportsPageData, sqlx::Error> {
        let (elections, counties) = choices(db, county).await?;
        let imports = sqlx::query!(
            r#"select i.id, i.created_at, c.name as county_name, i.kind, i.file_name, i.state,
                      i.row_count, i.rejected_rows
               from imports i join counties c on c.fips = i.county_fips
               where $1::text is null or i.county_fips = $1
               order by i.id desc limit 50"#,
            county
        )
        .fetch_all(&mut *db)
        .await?
        .into_iter()
        .map(|r| ImportRow {
            id: r.id,
            created_at: pacific(r.created_at),
            county_name: r.county_name,
            kind: r.kind.to_ascii_uppercase(),
            file_name: r.file_name,
            state: r.state,
            rows: r.row_count,
            rejected: r.rejected_rows,
        })
        .collect();
        Ok(ImportsPageData {
            elections,
            counties,
            imports,
        })
    }

    pub async fn detail(
        db: &mut PgConnection,
        id: i64,
    ) -> Result<Option<ImportDetail>, sqlx::Error> {
        let Some(r) = sqlx::query!(
            r#"select i.id, c.name as county_name, i.kind, i.file_name, i.state, i.failure,
                      i.summary, i.created_at, i.applied_at,
                      e.name as "election_name?", e.election_day as "election_day?"
               from imports i join counties c on c.fips = i.county_fips
               left join elections e on e.id = i.election_id
               where i.id = $1"#,
            id
        )
        .fetch_optional(&mut *db)
        .await?
        else {
            return Ok(None);
        };
        let rejected_preview = sqlx::query_as!(
            Rejected,
            r#"select row_number as row, field, value, reason from import_rejections
               where import_id = $1 order by row_number, reason limit $2"#,
            id,
            PREVIEW_ROWS
        )
        .fetch_all(&mut *db)
        .await?;
        Ok(Some(ImportDetail {
            id: r.id,
            county_name: r.county_name,
            kind: FeedKind::parse(&r.kind).unwrap_or(FeedKind::Elg),
            election: r
                .election_name
                .zip(r.election_day)
                .map(|(n, d)| format!("{n} ({d})")),
            file_name: r.file_name,
            state: r.state,
            failure: r.failure,
            summary: r
                .summary
                .and_then(|s| serde_json::from_value::<Summary>(s).ok()),
            rejected_preview,
            created_at: pacific(r.created_at),
            applied_at: r.applied_at.map(pacific),
        }))
    }

    /// A kept file and what its import was for.
    pub struct KeptFile {
        pub county_fips: String,
        pub election_id: Option<i64>,
        pub kind: FeedKind,
        pub file_name: String,
        pub content: Vec<u8>,
    }

    pub async fn file(db: &mut PgConnection, id: i64) -> Result<Option<KeptFile>, sqlx::Error> {
        let row = sqlx::query!(
            r#"select i.county_fips, i.election_id, i.kind, i.file_name, f.content
               from imports i join import_files f on f.import_id = i.id
               where i.id = $1"#,
            id
        )
        .fetch_optional(&mut *db)
        .await?;
        Ok(row.map(|r| KeptFile {
            county_fips: r.county_fips,
            election_id: r.election_id,
            kind: FeedKind::parse(&r.kind).unwrap_or(FeedKind::Elg),
            file_name: r.file_name,
            content: r.content,
        }))
    }

    /// Keeps an uploaded file with its import.
    pub async fn keep(
        db: &mut PgConnection,
        id: i64,
        county: &str,
        content: &[u8],
    ) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "insert into import_files (import_id, county_fips, content) values ($1, $2, $3)",
            id,
            county,
            content
        )
        .execute(&mut *db)
        .await?;
        Ok(())
    }

    /// Records why a file could not be read at all.
    pub async fn fail(db: &mut PgConnection, id: i64, failure: &str) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "update imports set state = 'failed', failure = left($2, 2000) where id = $1",
            id,
            failure
        )
        .execute(&mut *db)
        .await?;
        Ok(())
    }
}

#[component]
pub fn ImportsPage() -> impl IntoView {
    view! {
        <Title text="County files" />
        <AdminFrame content=|_| view! { <Imports /> }.into_any() />
    }
}

#[component]
fn Imports() -> impl IntoView {
    let data = Resource::new(|| (), |_| list_imports());
    view! {
        <h1>"County files"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <UploadForm elections=d.elections counties=d.counties /> <History rows=d.imports /> }.into_any(),
                    Err(AppError::Forbidden) => view! {
                        <p class="notice" role="status">"County files are loaded by county staff and administrators."</p>
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The upload form: a plain multipart POST, which with JavaScript goes by XMLHttpRequest so
/// that a progress bar can follow the bytes.
#[component]
fn UploadForm(elections: Vec<ElectionChoice>, counties: Vec<(String, String)>) -> impl IntoView {
    let progress = RwSignal::new(None::<f64>);
    let error = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            ev.prevent_default();
            upload::send(&ev, progress, error);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, progress, error);
    };
    view! {
        <form class="upload-form" method="post" action="/admin/imports" enctype="multipart/form-data" on:submit=on_submit>
            <h2>"Check a file"</h2>
            <p>"A file is checked first: nothing changes until you apply it."</p>
            {(!counties.is_empty()).then(|| view! {
                <div class="field">
                    <label for="import-county">"County"</label>
                    <select id="import-county" name="county" required>
                        {counties.into_iter().map(|(fips, name)| view! { <option value=fips>{name}</option> }).collect_view()}
                    </select>
                </div>
            })}
            <div class="field">
                <label for="import-kind">"Kind of file"</label>
                <select id="import-kind" name="kind" required>
                    {FeedKind::ALL.map(|k| view! { <option value=k.code()>{k.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="import-election">"Election (not needed for VOT)"</label>
                <select id="import-election" name="election_id">
                    {elections.into_iter().map(|e| view! { <option value=e.id.to_string()>{e.label}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="import-file">"File (CSV)"</label>
                <input id="import-file" name="file" type="file" accept=".csv,text/csv" required />
            </div>
            <button type="submit" class="button">"Upload and check"</button>
            {move || progress.get().map(|p| view! {
                <p>
                    <label for="upload-progress">"Uploading"</label>
                    <progress id="upload-progress" data-testid="upload-progress" max="100" value=format!("{:.0}", p * 100.0)>
                        {format!("{:.0}%", p * 100.0)}
                    </progress>
                </p>
            })}
            {move || error.get().map(|e| view! { <p class="notice notice--error" role="alert">{e}</p> })}
        </form>
    }
}

#[cfg(feature = "hydrate")]
mod upload {
    use leptos::prelude::*;
    use leptos::wasm_bindgen::JsCast;
    use leptos::wasm_bindgen::closure::Closure;

    /// Sends the form with XMLHttpRequest, following the upload's progress; the server answers
    /// with the path of the checked file's page, which the browser then opens.
    pub fn send(
        ev: &leptos::ev::SubmitEvent,
        progress: RwSignal<Option<f64>>,
        error: RwSignal<Option<String>>,
    ) {
        let Some(form) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        let (Ok(data), Ok(xhr)) = (
            web_sys::FormData::new_with_form(&form),
            web_sys::XmlHttpRequest::new(),
        ) else {
            return;
        };
        error.set(None);
        progress.set(Some(0.0));
        if xhr.open("POST", "/admin/imports").is_err() {
            return;
        }
        let _ = xhr.set_request_header("x-upload", "xhr");
        let on_progress =
            Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                if e.length_computable() && e.total() > 0.0 {
                    progress.set(Some(e.loaded() / e.total()));
                }
            });
        if let Ok(upload) = xhr.upload() {
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        on_progress.forget();
        let request = xhr.clone();
        let on_load = Closure::<dyn FnMut()>::new(move || {
            let status = request.status().unwrap_or(0);
            let body = request.response_text().ok().flatten().unwrap_or_default();
            if status == 201 && body.starts_with("/admin/imports/") {
                progress.set(Some(1.0));
                let _ = window().location().set_href(&body);
            } else {
                progress.set(None);
                error.set(Some(if body.is_empty() {
                    format!("The upload failed ({status}).")
                } else {
                    body
                }));
            }
        });
        xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
        on_load.forget();
        let _ = xhr.send_with_opt_form_data(Some(&data));
    }
}

#[component]
fn History(rows: Vec<ImportRow>) -> impl IntoView {
    view! {
        <table class="records" data-testid="imports">
            <caption>"Files checked and applied"</caption>
            <thead><tr>
                <th scope="col">"Checked (Pacific)"</th><th scope="col">"County"</th><th scope="col">"Kind"</th>
                <th scope="col">"File"</th><th scope="col">"Rows"</th><th scope="col">"Rejected"</th><th scope="col">"State"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr>
                        <td>{r.created_at}</td>
                        <td>{r.county_name}</td>
                        <td>{r.kind}</td>
                        <td><a href=format!("/admin/imports/{}", r.id)>{r.file_name}</a></td>
                        <td>{r.rows.map(|n| n.to_string()).unwrap_or_default()}</td>
                        <td>{r.rejected}</td>
                        <td>{state_label(&r.state)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

fn state_label(state: &str) -> &'static str {
    match state {
        "dry_run" => "checked, not applied",
        "applied" => "applied",
        "failed" => "unreadable",
        "cancelled" => "cancelled",
        _ => "applying",
    }
}

#[component]
pub fn ImportPage() -> impl IntoView {
    view! {
        <Title text="County file" />
        <AdminFrame content=|_| view! { <Import /> }.into_any() />
    }
}

#[component]
fn Import() -> impl IntoView {
    let params = use_params_map();
    let apply = ServerAction::<ApplyImport>::new();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let detail = Resource::new(
        move || (id(), apply.version().get()),
        |(id, _)| get_import(id),
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <ImportView d apply /> }.into_any(),
                    Err(AppError::NotFound) => view! { <p class="notice" role="status">"There is no such file."</p> }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ImportView(d: ImportDetail, apply: ServerAction<ApplyImport>) -> impl IntoView {
    let summary = d.summary.clone().unwrap_or_default();
    let raised = summary.raised();
    let can_apply = d.state == "dry_run" && d.summary.is_some();
    let rejected = summary.rejected;
    let id = d.id;
    view! {
        <p><a href="/admin/imports">"← County files"</a></p>
        <h1>{format!("{} — {}", d.kind.label(), d.file_name)}</h1>
        <dl class="facts">
            <dt>"County"</dt><dd>{d.county_name.clone()}</dd>
            {d.election.clone().map(|e| view! { <dt>"Election"</dt><dd>{e}</dd> })}
            <dt>"Checked"</dt><dd>{d.created_at.clone()}</dd>
            <dt>"State"</dt><dd data-testid="import-state">{state_label(&d.state)}</dd>
            {d.applied_at.clone().map(|t| view! { <dt>"Applied"</dt><dd>{t}</dd> })}
        </dl>
        {d.failure.clone().map(|f| view! { <p class="notice notice--error" role="alert">{format!("The file cannot be read: {f}")}</p> })}
        {d.summary.is_some().then(|| view! {
            <section aria-labelledby="summary-title">
                <h2 id="summary-title">{if d.state == "applied" { "What it changed" } else { "What applying it would change" }}</h2>
                <p>{format!("{} rows read{}.", crate::imports::thousands(summary.rows), if summary.latin1 { " (as Latin-1)" } else { "" })}</p>
                <ul data-testid="import-summary">
                    {summary.lines().into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                </ul>
            </section>
        })}
        {(!summary.findings.is_empty()).then(|| view! {
            <section aria-labelledby="guards-title" class="notice notice--warning">
                <h2 id="guards-title">"Look before applying"</h2>
                <ul data-testid="import-guards">
                    {summary.findings.iter().map(|f| view! {
                        <li data-guard=f.guard.code()><strong>{f.guard.title()}</strong>
                            {format!(": {} rows, for example {}", crate::imports::thousands(f.rows), f.detail)}</li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        {(rejected > 0).then(|| view! {
            <section aria-labelledby="rejected-title">
                <h2 id="rejected-title">{format!("Rejected rows ({})", crate::imports::thousands(rejected))}</h2>
                <p><a href=format!("/admin/imports/{id}/rejections.csv") rel="external" download>"Download the error report (CSV)"</a></p>
                <table class="records" data-testid="rejections">
                    <thead><tr><th scope="col">"Row"</th><th scope="col">"Field"</th><th scope="col">"Value"</th><th scope="col">"Reason"</th></tr></thead>
                    <tbody>
                        {d.rejected_preview.iter().map(|r| view! {
                            <tr><td>{r.row}</td><td>{r.field.clone().unwrap_or_default()}</td>
                                <td>{r.value.clone().unwrap_or_default()}</td><td>{r.reason.clone()}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        })}
        {can_apply.then(|| view! {
            <ActionForm action=apply attr:class="apply-form">
                <h2>"Apply"</h2>
                <input type="hidden" name="id" value=id.to_string() />
                {raised.iter().map(|g| view! {
                    <div class="field field--check">
                        <input type="checkbox" id=format!("confirm-{}", g.code()) name=g.code() value="yes" />
                        <label for=format!("confirm-{}", g.code())>{format!("I have looked: {}", g.title().to_lowercase())}</label>
                    </div>
                }).collect_view()}
                {(rejected > 0).then(|| view! {
                    <div class="field field--check">
                        <input type="checkbox" id="skip-rejected" name="skip_rejected" value="yes" />
                        <label for="skip-rejected">{format!("Apply without the {} rejected rows", crate::imports::thousands(rejected))}</label>
                    </div>
                })}
                <button type="submit" class="button">"Apply the file"</button>
            </ActionForm>
        })}
        {move || apply.value().get().map(|r| match r {
            Ok(message) => view! { <p class="notice" role="status">{message}</p> }.into_any(),
            Err(e) => view! { <p class="notice notice--error" role="alert" data-testid="apply-error">{e.to_string()}</p> }.into_any(),
        })}
    }
}
