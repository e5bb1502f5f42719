//! One ballot's record for staff: the voter, the ballot and its barcodes, the whole timeline
//! with who or what caused each step, the notifications sent and the subscriptions (contact
//! details masked unless the role may see them), and the status change form.

use super::frame::AdminFrame;
use crate::AppError;
use crate::domain::{BallotStatus, Language, NotCountedReason, wording};
use chrono::{NaiveDate, NaiveDateTime};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotRecord {
    pub ballot_id: i64,
    pub county_fips: String,
    pub county_name: String,
    pub election_name: String,
    pub ballot_number: String,
    pub outbound_imb: Option<String>,
    pub inbound_imb: Option<String>,
    pub status: BallotStatus,
    pub reason: Option<NotCountedReason>,
    pub expected_delivery: Option<NaiveDate>,
    pub replaces: Option<i64>,
    pub replaced_by: Option<i64>,
    pub voter: VoterRecord,
    pub events: Vec<EventRecord>,
    pub notifications: Vec<NotificationRecord>,
    pub subscriptions: Vec<SubscriptionRecord>,
    /// The statuses the machine may accept next (reasons and dates aside).
    pub next_statuses: Vec<BallotStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoterRecord {
    pub county_voter_id: String,
    pub name: String,
    pub date_of_birth: NaiveDate,
    pub residential_zip: String,
    pub precinct: Option<String>,
    pub language: Language,
    pub confidential: bool,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// In the county's time zone.
    pub occurred_at: NaiveDateTime,
    pub status: BallotStatus,
    pub reason: Option<NotCountedReason>,
    pub source: String,
    pub actor: Option<String>,
    pub note: Option<String>,
    pub postal: Option<String>,
    pub notify: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub created_at: NaiveDateTime,
    pub channel: String,
    pub template: String,
    pub state: String,
    pub attempts: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub channel: String,
    pub address: String,
    pub language: Language,
    pub confirmed: bool,
    pub cancelled: bool,
}

/// A staff member's note on a change: required (`missing` says what to write), at most 2,000
/// characters (the timeline's limit).
pub fn staff_note(raw: &str, missing: &str) -> Result<String, AppError> {
    let note = raw.trim();
    if note.is_empty() {
        return Err(AppError::Conflict(missing.to_owned()));
    }
    if note.chars().count() > 2000 {
        return Err(AppError::Conflict(
            "The note is too long (2,000 characters at most).".into(),
        ));
    }
    Ok(note.to_owned())
}

/// Hides most of an email address or phone number: "m•••@example.org", "•••••••1234".
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => {
            let n = address.chars().count();
            let tail: String = address.chars().skip(n.saturating_sub(4)).collect();
            format!("{}{tail}", "•".repeat(n.saturating_sub(4)))
        }
    }
}

#[server(endpoint = "admin/ballot")]
pub async fn load_ballot_record(ballot_id: i64) -> Result<BallotRecord, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let pool = pool?;
        let reveal = matches!(
            staff.role,
            super::Role::StateAdmin | super::Role::CountyAdmin
        );
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let record = super::store::ballot_record(&mut tx, &scope, ballot_id, reveal).await?;
        tx.commit().await?;
        record.ok_or(AppError::NotFound)
    })
    .await
}

/// Asks the status machine for a change, through the one path every status change takes
/// (`ballots::spine::apply`): event, current status, audit row and notifications in one
/// transaction. A refusal comes back with the machine's reason.
#[server(endpoint = "admin/change_status")]
pub async fn change_status(
    ballot_id: i64,
    status: String,
    reason: String,
    note: String,
) -> Result<BallotStatus, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        use crate::ballots::spine::{self, Cause, Outcome, Proposal};
        use crate::domain::StatusChange;
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let status = BallotStatus::parse(status.trim())
            .map_err(|_| AppError::Conflict("Choose a status.".into()))?;
        let reason = match reason.trim() {
            "" => None,
            code => Some(
                NotCountedReason::parse(code)
                    .map_err(|_| AppError::Conflict("Unknown reason.".into()))?,
            ),
        };
        let note = staff_note(&note, "Write a note saying why the status changes.")?;
        let pool = pool?;
        // A transaction of the staff's county: row-level security backs up the check below.
        let mut tx = super::store::scoped(&pool, &scope).await?;
        // The county check, inside the transaction that makes the change.
        if !super::store::ballot_in_scope(&mut *tx, &scope, ballot_id).await? {
            return Err(AppError::NotFound);
        }
        let now = chrono::Utc::now();
        let change = StatusChange {
            status,
            reason,
            occurred_at: now,
        };
        let proposal = Proposal {
            note: Some(note),
            ..Proposal::new(ballot_id, change)
        };
        let cause = Cause::Staff { user_id: staff.id };
        let outcome = spine::apply(&mut tx, &cause, &[proposal], now).await?;
        match outcome.into_iter().next() {
            Some(Outcome::Recorded { .. }) => {
                tx.commit().await?;
                Ok(status)
            }
            Some(Outcome::Refused(refusal)) => Err(AppError::Conflict(format!(
                "The status machine refused this change: {refusal}."
            ))),
            _ => Err(AppError::NotFound),
        }
    })
    .await
}

#[component]
pub fn BallotRecordPage() -> impl IntoView {
    view! {
        <Title text="Ballot" />
        <AdminFrame content=|_| view! { <Record /> }.into_any() />
    }
}

#[component]
fn Record() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let change = ServerAction::<ChangeStatus>::new();
    let record = Resource::new(
        move || (id(), change.version().get()),
        |(id, _)| load_ballot_record(id),
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match record.await {
                    Ok(r) => view! { <RecordView record=r change /> }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn en(status: BallotStatus) -> &'static str {
    wording::status(status, Language::En).headline
}

#[component]
fn RecordView(record: BallotRecord, change: ServerAction<ChangeStatus>) -> impl IntoView {
    let v = record.voter.clone();
    let current = wording::status(record.status, Language::En);
    let reason = record
        .reason
        .map(|r| wording::reason(r, Language::En).headline);
    let outcome = move || {
        match change.value().get() {
        Some(Ok(s)) => Some(view! { <p class="notice" role="status" data-testid="change-ok">{format!("Recorded: {}", en(s))}</p> }.into_any()),
        Some(Err(e)) => Some(view! { <p class="notice notice--error" role="alert" data-testid="change-error">{e.to_string()}</p> }.into_any()),
        None => None,
    }
    };
    view! {
        <h1>{format!("Ballot {}", record.ballot_number)}</h1>
        <section class="record-now" data-status=record.status.code()>
            <h2>"Now"</h2>
            <p><strong data-testid="current-status">{current.headline}</strong> {reason.map(|r| format!(" — {r}"))}</p>
            <p>{current.meaning}</p>
        </section>
        <dl class="record-facts">
            <dt>"Voter"</dt><dd>{v.name.clone()} {v.confidential.then(|| view! { " " <span class="tag">"Confidential"</span> })}</dd>
            <dt>"County voter id"</dt><dd>{v.county_voter_id.clone()}</dd>
            <dt>"Born"</dt><dd>{v.date_of_birth.to_string()}</dd>
            <dt>"Residential ZIP"</dt><dd>{v.residential_zip.clone()}</dd>
            <dt>"Precinct"</dt><dd>{v.precinct.clone().unwrap_or_default()}</dd>
            <dt>"Language"</dt><dd>{v.language.code()}</dd>
            <dt>"Email on file"</dt><dd>{v.email.clone().unwrap_or_default()}</dd>
            <dt>"Phone on file"</dt><dd>{v.phone.clone().unwrap_or_default()}</dd>
            <dt>"County"</dt><dd>{record.county_name.clone()}</dd>
            <dt>"Election"</dt><dd>{record.election_name.clone()}</dd>
            <dt>"Outbound barcode"</dt><dd>{record.outbound_imb.clone().unwrap_or_default()}</dd>
            <dt>"Return barcode"</dt><dd>{record.inbound_imb.clone().unwrap_or_default()}</dd>
            {record.replaces.map(|id| view! { <dt>"Replaces"</dt><dd><a href=format!("/admin/ballots/{id}")>{format!("ballot #{id}")}</a></dd> })}
            {record.replaced_by.map(|id| view! { <dt>"Replaced by"</dt><dd><a href=format!("/admin/ballots/{id}")>{format!("ballot #{id}")}</a></dd> })}
        </dl>
        <section>
            <h2>"Change the status"</h2>
            {if record.next_statuses.is_empty() {
                view! { <p>"This status is final: nothing may follow it."</p> }.into_any()
            } else {
                view! { <ChangeForm record=record.clone() change /> }.into_any()
            }}
            <div aria-live="polite">{outcome}</div>
        </section>
        {record.next_statuses.contains(&BallotStatus::Replaced).then(|| view! {
            <section>
                <h2>"Reissue"</h2>
                <p>"Replaces this ballot with a new one (lost, damaged, undeliverable). The voter is told."</p>
                <super::reissue::ReissueForm ballot_id=record.ballot_id />
            </section>
        })}
        <section>
            <h2>"Timeline"</h2>
            <table class="records">
                <thead><tr><th scope="col">"When (county time)"</th><th scope="col">"Status"</th><th scope="col">"Source"</th><th scope="col">"By"</th><th scope="col">"Note"</th><th scope="col">"Voter told"</th></tr></thead>
                <tbody>
                    {record.events.iter().map(|e| view! {
                        <tr>
                            <td>{e.occurred_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                            <td>{en(e.status)} {e.reason.map(|r| format!(" — {}", wording::reason(r, Language::En).headline))}</td>
                            <td>{e.source.clone()} {e.postal.clone().map(|p| format!(" ({p})"))}</td>
                            <td>{e.actor.clone().unwrap_or_default()}</td>
                            <td>{e.note.clone().unwrap_or_default()}</td>
                            <td>{if e.notify { "yes" } else { "no" }}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section>
            <h2>"Notifications"</h2>
            {if record.notifications.is_empty() {
                view! { <p>"None."</p> }.into_any()
            } else {
                view! {
                    <table class="records" data-testid="notifications">
                        <thead><tr><th scope="col">"Queued"</th><th scope="col">"Channel"</th><th scope="col">"Message"</th><th scope="col">"State"</th><th scope="col">"Attempts"</th></tr></thead>
                        <tbody>
                            {record.notifications.iter().map(|n| view! {
                                <tr><td>{n.created_at.format("%Y-%m-%d %H:%M").to_string()}</td><td>{n.channel.clone()}</td><td>{n.template.clone()}</td><td>{n.state.clone()}</td><td>{n.attempts}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section>
            <h2>"Subscriptions"</h2>
            {if record.subscriptions.is_empty() {
                view! { <p>"None."</p> }.into_any()
            } else {
                view! {
                    <ul>
                        {record.subscriptions.iter().map(|s| view! {
                            <li>{format!("{}: {} ({}; {})", s.channel, s.address, s.language.code(),
                                if s.cancelled { "cancelled" } else if s.confirmed { "confirmed" } else { "not confirmed" })}</li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn ChangeForm(record: BallotRecord, change: ServerAction<ChangeStatus>) -> impl IntoView {
    view! {
        <ActionForm action=change attr:class="change-form">
            <input type="hidden" name="ballot_id" value=record.ballot_id.to_string() />
            <div class="field">
                <label for="change-status">"New status"</label>
                <select id="change-status" name="status" required>
                    {record.next_statuses.iter().map(|s| view! { <option value=s.code()>{en(*s)}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="change-reason">"Reason (for “not counted” only)"</label>
                <select id="change-reason" name="reason">
                    <option value="">"—"</option>
                    {NotCountedReason::ALL.into_iter().map(|r| view! {
                        <option value=r.code()>{wording::reason(r, Language::En).headline}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="change-note">"Note (required)"</label>
                <textarea id="change-note" name="note" rows="3" maxlength="2000" aria-required="true"></textarea>
            </div>
            <button type="submit" class="button">"Record the change"</button>
        </ActionForm>
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_keep_little() {
        assert_eq!(mask("maria@example.org"), "m•••@example.org");
        assert_eq!(mask("+14155550123"), "••••••••0123");
        assert_eq!(mask("12"), "12");
    }
}
