//! Elections: their days and deadlines (mailing from, receipt, cure, certification). A state
//! administrator keeps statewide elections and any county's; a county administrator keeps
//! their own county's; staff read them.

use super::frame::AdminFrame;
use super::{Role, Staff};
use crate::AppError;
use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionRow {
    pub id: i64,
    pub name: String,
    /// `None`: statewide.
    pub county_fips: Option<String>,
    pub county_name: Option<String>,
    pub election_day: NaiveDate,
    pub ballots_mailed_from: NaiveDate,
    pub receipt_deadline: NaiveDate,
    /// Local time (the county's, or the state's for a statewide election).
    pub cure_deadline: NaiveDateTime,
    pub certification_date: NaiveDate,
}

/// A checked election, ready to store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionDates {
    pub name: String,
    pub election_day: NaiveDate,
    pub ballots_mailed_from: NaiveDate,
    pub receipt_deadline: NaiveDate,
    pub cure_deadline: NaiveDateTime,
    pub certification_date: NaiveDate,
}

fn date(raw: &str, what: &str) -> Result<Option<NaiveDate>, String> {
    match raw.trim() {
        "" => Ok(None),
        s => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("{what} must be a date (YYYY-MM-DD).")),
    }
}

impl ElectionDates {
    /// Parses the form. Left empty, a deadline takes California's usual value: mailing from
    /// 29 days before Election Day, receipt within 7 days after, certification 30 days after,
    /// and cure statements due at 5 p.m. two days before certification.
    pub fn parse(
        name: &str,
        election_day: &str,
        ballots_mailed_from: &str,
        receipt_deadline: &str,
        cure_deadline: &str,
        certification_date: &str,
    ) -> Result<Self, AppError> {
        let mut problems = Vec::new();
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            problems.push("Name the election (200 characters at most).".to_owned());
        }
        let mut take = |r: Result<Option<NaiveDate>, String>| {
            r.unwrap_or_else(|p| {
                problems.push(p);
                None
            })
        };
        let day = take(date(election_day, "Election Day"));
        let mailed = take(date(ballots_mailed_from, "The first mailing day"));
        let receipt = take(date(receipt_deadline, "The receipt deadline"));
        let certification = take(date(certification_date, "The certification date"));
        let cure = match cure_deadline.trim() {
            "" => None,
            s => match NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
                Ok(t) => Some(t),
                Err(_) => {
                    problems.push("The cure deadline must be a date and time.".to_owned());
                    None
                }
            },
        };
        let Some(day) = day else {
            if election_day.trim().is_empty() {
                problems.push("Election Day is required.".to_owned());
            }
            return Err(AppError::Conflict(problems.join(" ")));
        };
        let mailed = mailed.unwrap_or(day - Days::new(29));
        let receipt = receipt.unwrap_or(day + Days::new(7));
        let certification = certification.unwrap_or(day + Days::new(30));
        let five_pm = NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default();
        let cure = cure.unwrap_or((certification - Days::new(2)).and_time(five_pm));
        if mailed > day {
            problems.push("Ballots cannot be mailed after Election Day.".to_owned());
        }
        if receipt < day {
            problems.push("The receipt deadline cannot be before Election Day.".to_owned());
        }
        if certification < receipt {
            problems.push("Certification cannot come before the receipt deadline.".to_owned());
        }
        if cure.date() < day || cure.date() > certification {
            problems.push(
                "The cure deadline must fall between Election Day and certification.".to_owned(),
            );
        }
        if !problems.is_empty() {
            return Err(AppError::Conflict(problems.join(" ")));
        }
        Ok(Self {
            name,
            election_day: day,
            ballots_mailed_from: mailed,
            receipt_deadline: receipt,
            cure_deadline: cure,
            certification_date: certification,
        })
    }
}

/// Whether `staff` may create or change an election of `county` (`None`: statewide).
pub fn may_keep(staff: &Staff, county: Option<&str>) -> bool {
    !staff.must_enrol_totp
        && match staff.role {
            Role::StateAdmin => true,
            Role::CountyAdmin => county.is_some() && staff.county_fips.as_deref() == county,
            Role::CountyStaff | Role::Auditor => false,
        }
}

#[server(endpoint = "admin/elections")]
pub async fn list_elections() -> Result<Vec<ElectionRow>, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let rows = super::store::elections(&mut tx).await?;
        tx.commit().await?;
        Ok(rows)
    })
    .await
}

/// Creates (`id` 0) or changes an election. Returns its id.
#[server(endpoint = "admin/save_election")]
pub async fn save_election(
    id: i64,
    county_fips: String,
    name: String,
    election_day: String,
    ballots_mailed_from: String,
    receipt_deadline: String,
    cure_deadline: String,
    certification_date: String,
) -> Result<i64, AppError> {
    use crate::audit::{self, ActorKind, AuditAction, AuditEntry};
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let county = Some(county_fips.trim().to_owned()).filter(|c| !c.is_empty());
        if !may_keep(&staff, county.as_deref()) {
            return Err(AppError::Forbidden);
        }
        let dates = ElectionDates::parse(
            &name,
            &election_day,
            &ballots_mailed_from,
            &receipt_deadline,
            &cure_deadline,
            &certification_date,
        )?;
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let before = match id {
            0 => None,
            id => match super::store::election(&mut tx, id).await? {
                Some(e)
                    if may_keep(&staff, e.county_fips.as_deref()) && e.county_fips == county =>
                {
                    Some(e)
                }
                Some(_) => return Err(AppError::Forbidden),
                None => return Err(AppError::NotFound),
            },
        };
        let saved = match super::store::save_election(&mut tx, id, county.as_deref(), &dates).await
        {
            Ok(saved) => saved,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(AppError::Conflict(
                    "An election of that name on that day exists already.".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let entry = AuditEntry {
            county_fips: county.clone(),
            entity: Some(("election", saved.to_string())),
            before: before.map(|b| serde_json::json!(b)),
            after: Some(serde_json::json!(dates)),
            ..AuditEntry::new(
                ActorKind::User,
                Some(staff.id),
                if id == 0 {
                    AuditAction::ElectionCreated
                } else {
                    AuditAction::ElectionChanged
                },
            )
        };
        audit::record(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(saved)
    })
    .await
}

#[component]
pub fn ElectionsPage() -> impl IntoView {
    view! {
        <Title text="Elections" />
        <AdminFrame content=|staff| view! { <Elections staff /> }.into_any() />
    }
}

#[component]
fn Elections(staff: Staff) -> impl IntoView {
    let save = ServerAction::<SaveElection>::new();
    let list = Resource::new(move || save.version().get(), |_| list_elections());
    let editing = RwSignal::new(None::<ElectionRow>);
    let keeps = matches!(staff.role, Role::StateAdmin | Role::CountyAdmin);
    let own_county = staff.county_fips.clone().unwrap_or_default();
    view! {
        <h1>"Elections"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(rows) => view! {
                        <table class="records" data-testid="elections">
                            <thead><tr>
                                <th scope="col">"Election"</th><th scope="col">"Of"</th><th scope="col">"Election Day"</th>
                                <th scope="col">"Mailing from"</th><th scope="col">"Receipt by"</th><th scope="col">"Cure by"</th>
                                <th scope="col">"Certification"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|e| {
                                    let edit = e.clone();
                                    view! {
                                        <tr>
                                            <td>{e.name.clone()}</td>
                                            <td>{e.county_name.clone().unwrap_or_else(|| "Statewide".to_owned())}</td>
                                            <td>{e.election_day.to_string()}</td>
                                            <td>{e.ballots_mailed_from.to_string()}</td>
                                            <td>{e.receipt_deadline.to_string()}</td>
                                            <td>{e.cure_deadline.format("%Y-%m-%d %H:%M").to_string()}</td>
                                            <td>{e.certification_date.to_string()}</td>
                                            <td>{keeps.then(|| view! {
                                                <button type="button" class="button button--quiet"
                                                    on:click=move |_| editing.set(Some(edit.clone()))>
                                                    {format!("Edit {}", e.name)}
                                                </button>
                                            })}</td>
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
        {keeps.then(|| view! { <ElectionForm save editing own_county=own_county.clone() /> })}
    }
}

#[component]
fn ElectionForm(
    save: ServerAction<SaveElection>,
    editing: RwSignal<Option<ElectionRow>>,
    own_county: String,
) -> impl IntoView {
    let value = move |f: fn(&ElectionRow) -> String| {
        move || editing.get().as_ref().map(f).unwrap_or_default()
    };
    let county = move || {
        editing
            .get()
            .map(|e| e.county_fips.unwrap_or_default())
            .unwrap_or_else(|| own_county.clone())
    };
    let field = move |id: &'static str,
                      label: &'static str,
                      kind: &'static str,
                      v: fn(&ElectionRow) -> String| {
        view! {
            <div class="field">
                <label for=format!("election-{id}")>{label}</label>
                <input id=format!("election-{id}") name=id type=kind prop:value=value(v) />
            </div>
        }
    };
    view! {
        <h2>{move || if editing.get().is_some() { "Change the election" } else { "New election" }}</h2>
        <p class="field__hint">"Left empty, a deadline takes California's usual value from Election Day."</p>
        <ActionForm action=save attr:class="change-form">
            <input type="hidden" name="id" prop:value=move || editing.get().map(|e| e.id).unwrap_or(0).to_string() />
            <input type="hidden" name="county_fips" prop:value=county />
            {field("name", "Name", "text", |e| e.name.clone())}
            {field("election_day", "Election Day", "date", |e| e.election_day.to_string())}
            {field("ballots_mailed_from", "Ballots mailed from", "date", |e| e.ballots_mailed_from.to_string())}
            {field("receipt_deadline", "Received by", "date", |e| e.receipt_deadline.to_string())}
            {field("cure_deadline", "Cure statements due (local time)", "datetime-local", |e| e.cure_deadline.format("%Y-%m-%dT%H:%M").to_string())}
            {field("certification_date", "Certification", "date", |e| e.certification_date.to_string())}
            <button type="submit" class="button">"Save the election"</button>
            <button type="button" class="button button--quiet" on:click=move |_| editing.set(None)>"New instead"</button>
        </ActionForm>
        <div aria-live="polite">
            {move || save.value().get().map(|r| match r {
                Ok(_) => view! { <p class="notice" role="status" data-testid="election-saved">"Saved."</p> }.into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert" data-testid="election-error">{e.to_string()}</p> }.into_any(),
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_deadlines_take_californias_usual_values() {
        let e = ElectionDates::parse("General", "2026-11-03", "", "", "", "").unwrap();
        assert_eq!(e.ballots_mailed_from.to_string(), "2026-10-05");
        assert_eq!(e.receipt_deadline.to_string(), "2026-11-10");
        assert_eq!(e.certification_date.to_string(), "2026-12-03");
        assert_eq!(e.cure_deadline.to_string(), "2026-12-01 17:00:00");
    }

    #[test]
    fn deadlines_out_of_order_are_refused_with_reasons() {
        let Err(AppError::Conflict(m)) =
            ElectionDates::parse("", "2026-11-03", "2026-11-04", "2026-11-01", "", "")
        else {
            panic!("must be refused")
        };
        for word in ["Name", "mailed after", "receipt deadline"] {
            assert!(m.contains(word), "{m}");
        }
        assert!(ElectionDates::parse("X", "11/03/2026", "", "", "", "").is_err());
        assert!(ElectionDates::parse("X", "", "", "", "", "").is_err());
    }
}
