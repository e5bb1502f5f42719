//! Announcements: a county's own message to its subscribers — a deadline reminder, a polling
//! place that moved, anything else — written in the county's languages, aimed at the whole
//! county or chosen precincts, previewed per language with the exact number of recipients per
//! channel, scheduled, and cancelled before it goes. Past a recipient threshold a second person
//! approves it. The delivery engine sends it like every other message (contact windows, STOP,
//! retries).

use super::frame::AdminFrame;
use super::{Role, Staff};
use crate::AppError;
use chrono::{DateTime, NaiveDate, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

/// Recipients past which a second person approves (`ANNOUNCEMENT_APPROVAL_THRESHOLD`).
pub const DEFAULT_APPROVAL_THRESHOLD: i64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Deadline,
    PollingPlace,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Deadline, Kind::PollingPlace, Kind::Other];

    pub const fn code(self) -> &'static str {
        match self {
            Kind::Deadline => "deadline",
            Kind::PollingPlace => "polling_place",
            Kind::Other => "other",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            Kind::Deadline => "Deadline reminder",
            Kind::PollingPlace => "Polling place change",
            Kind::Other => "Other",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnnouncementState {
    Draft,
    AwaitingApproval,
    Queued,
    Cancelled,
}

impl AnnouncementState {
    pub const fn code(self) -> &'static str {
        match self {
            AnnouncementState::Draft => "draft",
            AnnouncementState::AwaitingApproval => "awaiting_approval",
            AnnouncementState::Queued => "queued",
            AnnouncementState::Cancelled => "cancelled",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            AnnouncementState::Draft => "Draft",
            AnnouncementState::AwaitingApproval => "Awaiting approval",
            AnnouncementState::Queued => "Queued for sending",
            AnnouncementState::Cancelled => "Cancelled",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [
            AnnouncementState::Draft,
            AnnouncementState::AwaitingApproval,
            AnnouncementState::Queued,
            AnnouncementState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// One language's words as the form sends them (`texts[0][language]`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextInput {
    pub language: String,
    pub subject: String,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub id: i64,
    pub county_fips: String,
    pub county_name: String,
    pub kind: Kind,
    pub precincts: Vec<String>,
    pub event_date: Option<NaiveDate>,
    pub place: String,
    /// Only voters whose live ballot has not come back (a reminder to return it).
    pub unreturned_only: bool,
    pub state: AnnouncementState,
    pub send_at: Option<DateTime<Utc>>,
    /// Messages queued per channel (once queued).
    pub queued: Vec<(String, i64)>,
    pub created_at: DateTime<Utc>,
    pub created_by: i64,
    pub created_by_name: String,
    pub submitted_by: Option<i64>,
    pub submitted_by_name: Option<String>,
    pub approved_by_name: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub cancelled_by_name: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub queued_at: Option<DateTime<Utc>>,
    pub texts: Vec<TextInput>,
    /// Its messages in the outbox by state.
    pub progress: Vec<(String, i64)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncementSummary {
    pub id: i64,
    pub county_name: String,
    pub kind: Kind,
    pub state: AnnouncementState,
    pub subject: String,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub send_at: Option<DateTime<Utc>>,
    pub recipients: Option<i64>,
    pub sent: i64,
}

/// Who would receive it: per channel, and per channel and language read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    pub per_channel: Vec<(String, i64)>,
    pub per_language: Vec<(String, String, i64)>,
    /// Recipients whose language has no text of its own (they read the English), by language.
    pub falling_back: Vec<(String, i64)>,
}

impl Audience {
    #[cfg(feature = "ssr")]
    pub fn add(
        &mut self,
        channel: crate::messages::Channel,
        language: crate::domain::Language,
        n: i64,
    ) {
        let code = channel.code().to_owned();
        match self.per_channel.iter_mut().find(|(c, _)| *c == code) {
            Some((_, total)) => *total += n,
            None => self.per_channel.push((code.clone(), n)),
        }
        self.per_language
            .push((code, language.code().to_owned(), n));
    }

    #[cfg(feature = "ssr")]
    pub fn note_fallback(&mut self, language: &str, n: i64) {
        match self.falling_back.iter_mut().find(|(l, _)| l == language) {
            Some((_, total)) => *total += n,
            None => self.falling_back.push((language.to_owned(), n)),
        }
    }

    pub fn total(&self) -> i64 {
        self.per_channel.iter().map(|(_, n)| n).sum()
    }

    pub fn of_channel(&self, channel: &str) -> i64 {
        self.per_channel
            .iter()
            .find(|(c, _)| c == channel)
            .map_or(0, |(_, n)| *n)
    }

    pub fn of_language(&self, language: &str) -> i64 {
        self.per_language
            .iter()
            .filter(|(_, l, _)| l == language)
            .map(|(_, _, n)| n)
            .sum()
    }
}

/// One language's message as each channel would carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub language: String,
    pub language_name: String,
    pub recipients: i64,
    pub email_subject: String,
    pub email_text: String,
    pub sms_text: String,
    pub sms_chars: usize,
    pub sms_segments: usize,
    pub voice_words: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub announcement: Announcement,
    pub audience: Audience,
    pub problems: Vec<String>,
    pub threshold: i64,
    pub time_zone: String,
    pub samples: Vec<Sample>,
    pub may_edit: bool,
    pub may_send: bool,
    pub may_approve: bool,
    pub may_cancel: bool,
}

/// What the compose form needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Editor {
    pub announcement: Option<Announcement>,
    pub county_fips: String,
    pub county_name: String,
    /// English, then the languages the county's subscribers read: (code, name, subscribers).
    pub languages: Vec<(String, String, i64)>,
    /// The standard wording per kind and language: (kind, language, subject, body).
    pub defaults: Vec<(String, String, String, String)>,
}

/// What became of a send or an approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sent {
    Queued { recipients: i64 },
    AwaitingApproval { recipients: i64 },
}

/// Whether `staff` may write, send, approve or cancel announcements of `county`: county staff
/// and administrators of that county, and state administrators; never auditors.
pub fn may_announce(staff: &Staff, county: &str) -> bool {
    staff.role != Role::Auditor && staff.may_work_records_of(county)
}

/// Parses the comma-, space- or line-separated precinct list of the form.
pub fn parse_precincts(raw: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for p in raw.split([',', ';', '\n', '\r', ' ', '\t']) {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if p.chars().count() > 40 {
            return Err(format!("“{p}” is not a precinct (40 characters at most)."));
        }
        if !out.iter().any(|o| o == p) {
            out.push(p.to_owned());
        }
    }
    Ok(out)
}

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use crate::audit::{self, ActorKind, AuditAction, AuditEntry};
    use crate::domain::Language;
    use crate::messages::announcements::{self as words, Filling, Text};
    use crate::messages::{Channel, Sender};
    use sqlx::PgConnection;

    pub fn texts(inputs: &[TextInput]) -> Result<Vec<Text>, AppError> {
        let mut out: Vec<Text> = Vec::new();
        for t in inputs {
            let language = Language::parse(&t.language)
                .map_err(|_| AppError::Conflict(format!("“{}” is not a language.", t.language)))?;
            // A language left empty on the form has no text of its own.
            if t.subject.trim().is_empty() && t.body.trim().is_empty() && language != Language::En {
                continue;
            }
            if out.iter().any(|o| o.language == language) {
                return Err(AppError::Conflict(format!(
                    "Two {} texts were sent.",
                    language.english_name()
                )));
            }
            if t.subject.trim().chars().count() > 200 || t.body.trim().chars().count() > 2000 {
                return Err(AppError::Conflict(format!(
                    "The {} text is too long: 200 characters for the subject, 2,000 for the message.",
                    language.english_name()
                )));
            }
            out.push(Text {
                language,
                subject: t.subject.trim().to_owned(),
                body: t.body.trim().to_owned(),
            });
        }
        Ok(out)
    }

    pub fn texts_of(a: &Announcement) -> Vec<Text> {
        a.texts
            .iter()
            .filter_map(|t| {
                Some(Text {
                    language: Language::parse(&t.language).ok()?,
                    subject: t.subject.clone(),
                    body: t.body.clone(),
                })
            })
            .collect()
    }

    pub fn filling(a: &Announcement) -> Filling {
        Filling {
            county_name: a.county_name.clone(),
            date: a.event_date,
            place: a.place.clone(),
        }
    }

    /// The standard wording of each kind in each language, placeholders in braces.
    pub fn defaults() -> Vec<(String, String, String, String)> {
        use crate::i18n::td_string;
        let braces = |s: &str| {
            s.replace("%county%", "{county}")
                .replace("%date%", "{date}")
                .replace("%place%", "{place}")
        };
        let mut out = Vec::new();
        for language in Language::ALL {
            let l = language.locale();
            out.push((
                Kind::Deadline.code().to_owned(),
                language.code().to_owned(),
                braces(td_string!(l, announce.deadline_subject)),
                braces(td_string!(l, announce.deadline_body)),
            ));
            out.push((
                Kind::PollingPlace.code().to_owned(),
                language.code().to_owned(),
                braces(td_string!(l, announce.polling_place_subject)),
                braces(td_string!(l, announce.polling_place_body)),
            ));
        }
        out
    }

    /// The words a call says, from its script.
    fn spoken(twiml: &str) -> String {
        let mut out = String::new();
        let mut rest = twiml;
        while let Some(start) = rest.find("<Say") {
            let Some(open_end) = rest[start..].find('>') else {
                break;
            };
            let from = start + open_end + 1;
            let Some(len) = rest[from..].find("</Say>") else {
                break;
            };
            if !out.is_empty() {
                out.push_str(" … ");
            }
            out.push_str(
                &rest[from..from + len]
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&#x27;", "'")
                    .replace("&#39;", "'")
                    .replace("&amp;", "&"),
            );
            rest = &rest[from + len..];
        }
        out
    }

    /// The message in `language` on every channel, as the engine will render it.
    pub fn sample(
        a: &Announcement,
        text: &Text,
        language: Language,
        contact: Vec<String>,
        recipients: i64,
        base: &str,
    ) -> Result<Sample, AppError> {
        let sender = Sender {
            language,
            county_name: a.county_name.clone(),
            contact,
            status_url: format!("{base}/ballot"),
            unsubscribe_url: format!("{base}/unsubscribe/…"),
        };
        let text = Text {
            language,
            ..text.clone()
        };
        let filling = filling(a);
        let render = |channel| {
            words::render(channel, &sender, &text, &filling).map_err(|e| AppError::internal(&e))
        };
        let email = render(Channel::Email)?;
        let sms = render(Channel::Sms)?;
        let voice = render(Channel::Voice)?;
        let (sms_chars, sms_segments) = words::sms_segments(&sms.text);
        Ok(Sample {
            language: language.code().to_owned(),
            language_name: language.english_name().to_owned(),
            recipients,
            email_subject: email.subject,
            email_text: email.text,
            sms_text: sms.text,
            sms_chars,
            sms_segments,
            voice_words: spoken(&voice.text),
        })
    }

    pub async fn county_contact(
        tx: &mut PgConnection,
        fips: &str,
    ) -> Result<(Vec<String>, String), sqlx::Error> {
        let r = sqlx::query!(
            "select phone, email, website, time_zone from counties where fips = $1",
            fips
        )
        .fetch_one(tx)
        .await?;
        Ok((
            [r.phone, r.email, r.website]
                .into_iter()
                .flatten()
                .collect(),
            r.time_zone,
        ))
    }

    /// The announcement, if `staff` may work on it.
    pub async fn visible(
        tx: &mut PgConnection,
        staff: &Staff,
        id: i64,
    ) -> Result<Announcement, AppError> {
        match super::super::announcement_store::load(tx, id).await? {
            Some(a) if may_announce(staff, &a.county_fips) => Ok(a),
            // Another county's looks like none at all.
            _ => Err(AppError::NotFound),
        }
    }

    /// Audits `action` on announcement `a`.
    pub async fn record(
        tx: &mut PgConnection,
        staff: &Staff,
        a: &Announcement,
        action: AuditAction,
        after: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        let entry = AuditEntry {
            county_fips: Some(a.county_fips.clone()),
            entity: Some(("announcement", a.id.to_string())),
            after: Some(after),
            ..AuditEntry::new(ActorKind::User, Some(staff.id), action)
        };
        audit::record(tx, entry).await
    }

    /// The county's local time `raw` (`YYYY-MM-DDTHH:MM`, empty for now) as a UTC instant.
    pub fn send_time(raw: &str, tz: &str) -> Result<DateTime<Utc>, AppError> {
        let now = Utc::now();
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(now);
        }
        let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::America::Los_Angeles);
        let local = chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
            .map_err(|_| AppError::Conflict("The send time must be a date and time.".into()))?;
        let at = local
            .and_local_timezone(tz)
            .earliest()
            .ok_or_else(|| {
                AppError::Conflict("That time does not exist in the county's time zone.".into())
            })?
            .with_timezone(&Utc);
        if at < now - chrono::Duration::minutes(1) {
            return Err(AppError::Conflict(
                "The send time has passed: leave it empty to send now.".into(),
            ));
        }
        Ok(at.max(now))
    }

    /// The signed-in account, its transaction (scoped to what it may reach) and announcement
    /// `id`, locked: the start of every server function that works on one announcement.
    pub async fn open(
        pool: &sqlx::PgPool,
        id: i64,
    ) -> Result<
        (
            Staff,
            sqlx::Transaction<'static, sqlx::Postgres>,
            Announcement,
        ),
        AppError,
    > {
        let staff = super::super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let mut tx = super::super::store::scoped(pool, &scope).await?;
        let a = visible(&mut tx, &staff, id).await?;
        Ok((staff, tx, a))
    }

    /// Its texts and who would receive them now.
    pub async fn audience_of(
        tx: &mut PgConnection,
        a: &Announcement,
    ) -> Result<(Vec<Text>, Audience), sqlx::Error> {
        let texts = texts_of(a);
        let audience = super::super::announcement_store::audience(
            tx,
            &a.county_fips,
            &a.precincts,
            &texts,
            a.unreturned_only,
        )
        .await?;
        Ok((texts, audience))
    }

    /// Its texts and who would receive it now, or why it cannot go.
    pub async fn ready_to_go(
        tx: &mut PgConnection,
        a: &Announcement,
    ) -> Result<(Vec<Text>, Audience), AppError> {
        let (texts, audience) = audience_of(tx, a).await?;
        let problems = blockers(a, &audience);
        if !problems.is_empty() {
            return Err(AppError::Conflict(problems.join(" ")));
        }
        Ok((texts, audience))
    }

    /// Queues its messages (due at `at`) and audits it. Returns how many were queued.
    pub async fn queue(
        tx: &mut PgConnection,
        staff: &Staff,
        a: &Announcement,
        texts: &[Text],
        approved: bool,
        at: DateTime<Utc>,
    ) -> Result<Sent, AppError> {
        let counts =
            super::super::announcement_store::queue(tx, a, texts, staff.id, approved, at).await?;
        record(
            tx,
            staff,
            a,
            AuditAction::AnnouncementQueued,
            serde_json::json!({ "recipients": counts, "send_at": at }),
        )
        .await?;
        Ok(Sent::Queued {
            recipients: counts.iter().map(|(_, n)| n).sum(),
        })
    }

    /// Everything that stops it going: placeholder problems, no recipients.
    pub fn blockers(a: &Announcement, audience: &Audience) -> Vec<String> {
        let mut p = words::problems(&texts_of(a), &filling(a));
        if audience.total() == 0 {
            p.push("Nobody would receive it: no confirmed subscriber matches the target.".into());
        }
        p
    }
}

#[cfg(feature = "ssr")]
pub use server::defaults as standard_wording;

#[server(endpoint = "admin/announcements")]
pub async fn list_announcements() -> Result<Vec<AnnouncementSummary>, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        // Auditors have no records scope: refused here.
        let scope = staff.records_scope()?;
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let rows = super::announcement_store::list(&mut tx, scope.county()).await?;
        tx.commit().await?;
        Ok(rows)
    })
    .await
}

/// The compose form: a new announcement (`id` 0) of `county` (the account's own unless a
/// state administrator names one), or a draft to change.
#[server(endpoint = "admin/announcement_editor")]
pub async fn announcement_editor(id: i64, county: String) -> Result<Editor, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let announcement = match id {
            0 => None,
            id => Some(server::visible(&mut tx, &staff, id).await?),
        };
        let fips = match (&announcement, &staff.county_fips) {
            (Some(a), _) => a.county_fips.clone(),
            (None, Some(own)) => own.clone(),
            (None, None) if !county.trim().is_empty() => county.trim().to_owned(),
            (None, None) => {
                return Err(AppError::Conflict(
                    "Choose the county to write for (its FIPS code).".into(),
                ));
            }
        };
        if !may_announce(&staff, &fips) {
            return Err(AppError::Forbidden);
        }
        let county_name = sqlx::query_scalar!("select name from counties where fips = $1", fips)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(AppError::NotFound)?;
        let mut languages: Vec<(String, String, i64)> = sqlx::query!(
            r#"select language, count(*) as "n!" from subscriptions
               where county_fips = $1 and confirmed_at is not null and cancelled_at is null
               group by language"#,
            fips
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .filter_map(|r| {
            let l = crate::domain::Language::parse(&r.language).ok()?;
            Some((l.code().to_owned(), l.english_name().to_owned(), r.n))
        })
        .collect();
        // English first, then by readers.
        if !languages.iter().any(|(c, _, _)| c == "en") {
            languages.push(("en".into(), "English".into(), 0));
        }
        if let Some(a) = &announcement {
            for t in &a.texts {
                if !languages.iter().any(|(c, _, _)| *c == t.language)
                    && let Ok(l) = crate::domain::Language::parse(&t.language)
                {
                    languages.push((t.language.clone(), l.english_name().to_owned(), 0));
                }
            }
        }
        languages.sort_by(|a, b| (b.0 == "en").cmp(&(a.0 == "en")).then(b.2.cmp(&a.2)));
        tx.commit().await?;
        Ok(Editor {
            announcement,
            county_fips: fips,
            county_name,
            languages,
            defaults: server::defaults(),
        })
    })
    .await
}

/// Saves a draft (`id` 0: a new one). Returns its id.
#[server(endpoint = "admin/save_announcement")]
pub async fn save_announcement(
    id: i64,
    county_fips: String,
    kind: String,
    precincts: String,
    event_date: String,
    place: String,
    #[server(default)] unreturned_only: Option<String>,
    #[server(default)] texts: Vec<TextInput>,
) -> Result<i64, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let county = county_fips.trim().to_owned();
        if !may_announce(&staff, &county) {
            return Err(AppError::Forbidden);
        }
        let kind = Kind::parse(&kind)
            .ok_or_else(|| AppError::Conflict("Choose what kind of announcement it is.".into()))?;
        let precincts = parse_precincts(&precincts).map_err(AppError::Conflict)?;
        let event_date =
            match event_date.trim() {
                "" => None,
                s => Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                    AppError::Conflict("The date must be a date (YYYY-MM-DD).".into())
                })?),
            };
        if place.trim().chars().count() > 300 {
            return Err(AppError::Conflict(
                "The place is 300 characters at most.".into(),
            ));
        }
        let texts = server::texts(&texts)?;
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let unknown =
            super::announcement_store::unknown_precincts(&mut tx, &county, &precincts).await?;
        if !unknown.is_empty() {
            return Err(AppError::Conflict(format!(
                "No voter of the county is in precinct {}: check the list.",
                unknown.join(", ")
            )));
        }
        if id != 0 {
            // Another county's or someone else's finished one is not this person's to change.
            server::visible(&mut tx, &staff, id).await?;
        }
        let saved = super::announcement_store::save_draft(
            &mut tx,
            id,
            &county,
            kind,
            &precincts,
            event_date,
            &place,
            &texts,
            unreturned_only.is_some(),
            staff.id,
        )
        .await?
        .ok_or_else(|| {
            AppError::Conflict("Only a draft can be changed: this one has moved on.".into())
        })?;
        let after = serde_json::json!({
            "kind": kind.code(),
            "precincts": precincts,
            "event_date": event_date,
            "place": place.trim(),
            "unreturned_only": unreturned_only.is_some(),
            "texts": texts.iter().map(|t| serde_json::json!({
                "language": t.language.code(), "subject": t.subject, "body": t.body
            })).collect::<Vec<_>>(),
        });
        let entry = crate::audit::AuditEntry {
            county_fips: Some(county.clone()),
            entity: Some(("announcement", saved.to_string())),
            after: Some(after),
            ..crate::audit::AuditEntry::new(
                crate::audit::ActorKind::User,
                Some(staff.id),
                crate::audit::AuditAction::AnnouncementSaved,
            )
        };
        crate::audit::record(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(saved)
    })
    .await
}

/// What it would send, to how many, and what may be done with it now.
#[server(endpoint = "admin/announcement_preview")]
pub async fn announcement_preview(id: i64) -> Result<Preview, AppError> {
    let state = crate::state::state();
    crate::error::respond(async move {
        let state = state?;
        let threshold = state.settings.announcement_approval_threshold;
        let base = state.settings.messaging.public_base_url.clone();
        let (staff, mut tx, a) = server::open(&state.pool, id).await?;
        let (texts, audience) = server::audience_of(&mut tx, &a).await?;
        let (contact, time_zone) = server::county_contact(&mut tx, &a.county_fips).await?;
        tx.commit().await?;
        let problems = server::blockers(&a, &audience);
        let mut samples = Vec::new();
        for t in &texts {
            samples.push(server::sample(
                &a,
                t,
                t.language,
                contact.clone(),
                audience.of_language(t.language.code()),
                &base,
            )?);
        }
        let state = a.state;
        let author_or_submitter = a.submitted_by.unwrap_or(a.created_by);
        Ok(Preview {
            may_edit: state == AnnouncementState::Draft,
            may_send: state == AnnouncementState::Draft && problems.is_empty(),
            may_approve: state == AnnouncementState::AwaitingApproval
                && author_or_submitter != staff.id
                && problems.is_empty(),
            may_cancel: match state {
                AnnouncementState::Draft | AnnouncementState::AwaitingApproval => true,
                AnnouncementState::Queued => a.progress.iter().any(|(s, _)| s == "queued"),
                AnnouncementState::Cancelled => false,
            },
            announcement: a,
            audience,
            problems,
            threshold,
            time_zone,
            samples,
        })
    })
    .await
}

/// Sends a draft: queued at `send_at` (the county's local time; empty: now), or held for a
/// second person's approval when it reaches more than the threshold.
#[server(endpoint = "admin/send_announcement")]
pub async fn send_announcement(id: i64, send_at: String) -> Result<Sent, AppError> {
    use crate::audit::AuditAction;
    let pool = crate::state::pool();
    let threshold = crate::state::state().map(|s| s.settings.announcement_approval_threshold);
    crate::error::respond(async move {
        let (pool, threshold) = (pool?, threshold?);
        let (staff, mut tx, a) = server::open(&pool, id).await?;
        if a.state != AnnouncementState::Draft {
            return Err(AppError::Conflict(format!(
                "It is no longer a draft ({}).",
                a.state.label().to_lowercase()
            )));
        }
        let (texts, audience) = server::ready_to_go(&mut tx, &a).await?;
        let (_, tz) = server::county_contact(&mut tx, &a.county_fips).await?;
        let at = server::send_time(&send_at, &tz)?;
        let recipients = audience.total();
        let sent = if recipients > threshold {
            super::announcement_store::submit(&mut tx, a.id, staff.id, at).await?;
            server::record(
                &mut tx,
                &staff,
                &a,
                AuditAction::AnnouncementSubmitted,
                serde_json::json!({ "recipients": audience.per_channel, "send_at": at }),
            )
            .await?;
            Sent::AwaitingApproval { recipients }
        } else {
            server::queue(&mut tx, &staff, &a, &texts, false, at).await?
        };
        tx.commit().await?;
        Ok(sent)
    })
    .await
}

/// A second person approves: its messages are queued (at the planned time, or now if that
/// has passed) for whoever matches the target now.
#[server(endpoint = "admin/approve_announcement")]
pub async fn approve_announcement(id: i64) -> Result<Sent, AppError> {
    use crate::audit::AuditAction;
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let (staff, mut tx, a) = server::open(&pool?, id).await?;
        if a.state != AnnouncementState::AwaitingApproval {
            return Err(AppError::Conflict("It is not waiting for approval.".into()));
        }
        if a.submitted_by == Some(staff.id) || a.created_by == staff.id {
            return Err(AppError::Conflict(
                "A second person approves: someone other than its author.".into(),
            ));
        }
        let (texts, audience) = server::ready_to_go(&mut tx, &a).await?;
        let at = a.send_at.unwrap_or_else(Utc::now).max(Utc::now());
        server::record(
            &mut tx,
            &staff,
            &a,
            AuditAction::AnnouncementApproved,
            serde_json::json!({ "recipients": audience.per_channel }),
        )
        .await?;
        let sent = server::queue(&mut tx, &staff, &a, &texts, true, at).await?;
        tx.commit().await?;
        Ok(sent)
    })
    .await
}

/// Cancels it: a draft or one awaiting approval never goes; a queued one's messages that have
/// not gone yet are stopped. Returns how many messages were stopped.
#[server(endpoint = "admin/cancel_announcement")]
pub async fn cancel_announcement(id: i64) -> Result<u64, AppError> {
    use crate::audit::AuditAction;
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let (staff, mut tx, a) = server::open(&pool?, id).await?;
        if a.state == AnnouncementState::Cancelled {
            return Err(AppError::Conflict("It was cancelled already.".into()));
        }
        let stopped = super::announcement_store::cancel(&mut tx, a.id, staff.id).await?;
        if a.state == AnnouncementState::Queued && stopped == 0 {
            return Err(AppError::Conflict(
                "Every message has gone already: there is nothing left to cancel.".into(),
            ));
        }
        server::record(
            &mut tx,
            &staff,
            &a,
            AuditAction::AnnouncementCancelled,
            serde_json::json!({ "was": a.state.code(), "messages_stopped": stopped }),
        )
        .await?;
        tx.commit().await?;
        Ok(stopped)
    })
    .await
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[component]
pub fn AnnouncementsPage() -> impl IntoView {
    view! {
        <Title text="Announcements" />
        <AdminFrame content=|staff| view! { <Announcements staff /> }.into_any() />
    }
}

#[component]
fn Announcements(staff: Staff) -> impl IntoView {
    let list = Resource::new(|| (), |_| list_announcements());
    view! {
        <h1>"Announcements"</h1>
        <p>"Messages from the county to its subscribers, by email, text and call, in their languages."</p>
        {if staff.role == Role::StateAdmin {
            // A state administrator writes for one county at a time.
            view! {
                <form method="get" action="/admin/announcements/new" class="change-form">
                    <div class="field">
                        <label for="announce-county">"County (FIPS code, e.g. 06037)"</label>
                        <input id="announce-county" name="county" type="text" inputmode="numeric" maxlength="5" required />
                    </div>
                    <button type="submit" class="button">"Write an announcement"</button>
                </form>
            }.into_any()
        } else {
            view! { <p><a class="button" href="/admin/announcements/new">"Write an announcement"</a></p> }.into_any()
        }}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(rows) if rows.is_empty() => view! { <p>"No announcements yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="records" data-testid="announcements">
                            <thead><tr>
                                <th scope="col">"Subject"</th><th scope="col">"Kind"</th><th scope="col">"County"</th>
                                <th scope="col">"State"</th><th scope="col">"Recipients"</th><th scope="col">"Sent"</th>
                                <th scope="col">"Sends at"</th><th scope="col">"Written by"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr>
                                        <td><a href=format!("/admin/announcements/{}", r.id)>{if r.subject.is_empty() { "(no subject)".to_owned() } else { r.subject.clone() }}</a></td>
                                        <td>{r.kind.label()}</td>
                                        <td>{r.county_name.clone()}</td>
                                        <td>{r.state.label()}</td>
                                        <td>{r.recipients.map(|n| n.to_string()).unwrap_or_else(|| "—".into())}</td>
                                        <td>{r.sent}</td>
                                        <td>{r.send_at.map(when).unwrap_or_else(|| "—".into())}</td>
                                        <td>{r.author.clone()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn AnnouncementEditorPage() -> impl IntoView {
    view! {
        <Title text="Write an announcement" />
        <AdminFrame content=|_| view! { <AnnouncementEditor /> }.into_any() />
    }
}

fn id_param() -> impl Fn() -> i64 + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    }
}

#[component]
fn AnnouncementEditor() -> impl IntoView {
    let id = id_param();
    let query = leptos_router::hooks::use_query_map();
    let county = move || query.read().get("county").unwrap_or_default();
    let editor = Resource::new(
        move || (id(), county()),
        |(id, c)| announcement_editor(id, c),
    );
    view! {
        <h1>{move || if id() == 0 { "Write an announcement" } else { "Change the announcement" }}</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match editor.await {
                    Ok(e) => view! { <EditorForm e /> }.into_any(),
                    Err(AppError::NotFound) => view! { <p class="notice" role="status">"There is no such announcement."</p> }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// One language's fields on the form: code, name, subscribers, subject, message.
type LanguageFields = (String, String, i64, RwSignal<String>, RwSignal<String>);

#[component]
fn EditorForm(e: Editor) -> impl IntoView {
    let save = ServerAction::<SaveAnnouncement>::new();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = save.value().get() {
            navigate(&format!("/admin/announcements/{id}"), Default::default());
        }
    });
    let a = e.announcement.clone();
    let kind = RwSignal::new(a.as_ref().map_or(Kind::Deadline, |a| a.kind));
    let defaults = StoredValue::new(e.defaults.clone());
    let standard = move |k: Kind, language: &str| {
        defaults.with_value(|d| {
            d.iter()
                .find(|(dk, dl, _, _)| dk == k.code() && dl == language)
                .map(|(_, _, s, b)| (s.clone(), b.clone()))
                .unwrap_or_default()
        })
    };
    // One pair of fields per language, starting from the draft's words or the standard ones.
    let fields: Vec<LanguageFields> = e
        .languages
        .iter()
        .map(|(code, name, readers)| {
            let (s, b) = match &a {
                Some(a) => a
                    .texts
                    .iter()
                    .find(|t| t.language == *code)
                    .map(|t| (t.subject.clone(), t.body.clone()))
                    .unwrap_or_default(),
                None => standard(Kind::Deadline, code),
            };
            (
                code.clone(),
                name.clone(),
                *readers,
                RwSignal::new(s),
                RwSignal::new(b),
            )
        })
        .collect();
    let for_kind = fields.clone();
    // A new kind brings its standard words into the fields that still hold the old kind's.
    let on_kind = move |ev: leptos::ev::Event| {
        let Some(new) = Kind::parse(&event_target_value(&ev)) else {
            return;
        };
        let old = kind.get_untracked();
        for (code, _, _, subject, body) in &for_kind {
            let (os, ob) = standard(old, code);
            if (subject.get_untracked() == os && body.get_untracked() == ob)
                || (subject.get_untracked().is_empty() && body.get_untracked().is_empty())
            {
                let (ns, nb) = standard(new, code);
                subject.set(ns);
                body.set(nb);
            }
        }
        kind.set(new);
    };
    let id = a.as_ref().map_or(0, |a| a.id);
    let precincts = a
        .as_ref()
        .map(|a| a.precincts.join(", "))
        .unwrap_or_default();
    let date = a
        .as_ref()
        .and_then(|a| a.event_date)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let place = a.as_ref().map(|a| a.place.clone()).unwrap_or_default();
    let unreturned = a.as_ref().is_some_and(|a| a.unreturned_only);
    view! {
        <p>{format!("For subscribers in {} County.", e.county_name)}</p>
        <ActionForm action=save attr:class="change-form announcement-form">
            <input type="hidden" name="id" value=id.to_string() />
            <input type="hidden" name="county_fips" value=e.county_fips.clone() />
            <div class="field">
                <label for="announcement-kind">"Kind"</label>
                <select id="announcement-kind" name="kind" on:change=on_kind>
                    {Kind::ALL.into_iter().map(|k| view! {
                        <option value=k.code() selected=move || kind.get() == k>{k.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="announcement-precincts">"Precincts"</label>
                <input id="announcement-precincts" name="precincts" type="text" value=precincts
                    aria-describedby="announcement-precincts-hint" />
                <p class="field__hint" id="announcement-precincts-hint">"Separated by commas. Empty: the whole county."</p>
            </div>
            <div class="field">
                <label for="announcement-date">"Date " <code>"{date}"</code></label>
                <input id="announcement-date" name="event_date" type="date" value=date />
            </div>
            <div class="field">
                <label for="announcement-place">"Place " <code>"{place}"</code></label>
                <input id="announcement-place" name="place" type="text" value=place maxlength="300" />
            </div>
            <div class="field field--check">
                <input id="announcement-unreturned" name="unreturned_only" type="checkbox" value="on"
                    checked=unreturned />
                <label for="announcement-unreturned">"Only voters whose ballot has not come back yet"</label>
            </div>
            <p class="field__hint">"In the texts, " <code>"{county}"</code> ", " <code>"{date}"</code> " and " <code>"{place}"</code>
                " are filled in for each language. Leave a language empty and its readers get the English."</p>
            {fields.into_iter().enumerate().map(|(i, (code, name, readers, subject, body))| view! {
                <fieldset class="announcement-text">
                    <legend>{format!("{name} ({readers} subscribers)")}</legend>
                    <input type="hidden" name=format!("texts[{i}][language]") value=code.clone() />
                    <div class="field">
                        <label for=format!("announcement-subject-{code}")>{format!("{name} subject")}</label>
                        <input id=format!("announcement-subject-{code}") name=format!("texts[{i}][subject]") type="text"
                            maxlength="200" prop:value=move || subject.get()
                            on:input=move |ev| subject.set(event_target_value(&ev)) />
                    </div>
                    <div class="field">
                        <label for=format!("announcement-body-{code}")>{format!("{name} message")}</label>
                        <textarea id=format!("announcement-body-{code}") name=format!("texts[{i}][body]") rows="5"
                            maxlength="2000" prop:value=move || body.get()
                            on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                    </div>
                </fieldset>
            }).collect_view()}
            <button type="submit" class="button">"Save and preview"</button>
        </ActionForm>
        <div aria-live="polite">
            {move || save.value().get().and_then(Result::err).map(|e| view! {
                <p class="notice notice--error" role="alert" data-testid="announcement-error">{e.to_string()}</p>
            })}
        </div>
    }
}

#[component]
pub fn AnnouncementPage() -> impl IntoView {
    view! {
        <Title text="Announcement" />
        <AdminFrame content=|_| view! { <AnnouncementView /> }.into_any() />
    }
}

#[component]
fn AnnouncementView() -> impl IntoView {
    let id = id_param();
    let send = ServerAction::<SendAnnouncement>::new();
    let approve = ServerAction::<ApproveAnnouncement>::new();
    let cancel = ServerAction::<CancelAnnouncement>::new();
    let preview = Resource::new(
        move || {
            (
                id(),
                send.version().get(),
                approve.version().get(),
                cancel.version().get(),
            )
        },
        |(id, ..)| announcement_preview(id),
    );
    let outcome = move || {
        let sent = |r: Option<Result<Sent, AppError>>| {
            r.map(|r| match r {
                Ok(Sent::Queued { recipients }) => Ok(format!(
                    "Queued: {recipients} messages are in the outbox."
                )),
                Ok(Sent::AwaitingApproval { recipients }) => Ok(format!(
                    "Sent for approval: it reaches {recipients} recipients, so a second person of the county approves it before anything goes."
                )),
                Err(e) => Err(e.to_string()),
            })
        };
        sent(send.value().get())
            .or_else(|| sent(approve.value().get()))
            .or_else(|| {
                cancel.value().get().map(|r| {
                    r.map(|n| format!("Cancelled. {n} messages that had not gone were stopped."))
                        .map_err(|e| e.to_string())
                })
            })
    };
    view! {
        <div aria-live="polite">
            {move || outcome().map(|r| match r {
                Ok(m) => view! { <p class="notice" role="status" data-testid="announcement-outcome">{m}</p> }.into_any(),
                Err(m) => view! { <p class="notice notice--error" role="alert" data-testid="announcement-outcome">{m}</p> }.into_any(),
            })}
        </div>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match preview.await {
                    Ok(p) => view! { <PreviewView p send approve cancel /> }.into_any(),
                    Err(AppError::NotFound) => view! { <p class="notice" role="status">"There is no such announcement."</p> }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PreviewView(
    p: Preview,
    send: ServerAction<SendAnnouncement>,
    approve: ServerAction<ApproveAnnouncement>,
    cancel: ServerAction<CancelAnnouncement>,
) -> impl IntoView {
    let a = p.announcement.clone();
    let id = a.id;
    let subject = a
        .texts
        .iter()
        .find(|t| t.language == "en")
        .map(|t| t.subject.clone())
        .unwrap_or_default();
    let target = if a.precincts.is_empty() {
        format!("All of {} County", a.county_name)
    } else {
        format!(
            "{} County, precincts {}",
            a.county_name,
            a.precincts.join(", ")
        )
    };
    let total = p.audience.total();
    let needs_approval = total > p.threshold;
    let history = [
        Some(format!(
            "Written by {} on {}.",
            a.created_by_name,
            when(a.created_at)
        )),
        a.submitted_by_name
            .clone()
            .filter(|_| a.state == AnnouncementState::AwaitingApproval || a.approved_at.is_some())
            .map(|n| format!("Sent for approval by {n}.")),
        a.approved_by_name
            .clone()
            .zip(a.approved_at)
            .map(|(n, t)| format!("Approved by {n} on {}.", when(t))),
        a.queued_at.map(|t| format!("Queued on {}.", when(t))),
        a.cancelled_by_name
            .clone()
            .zip(a.cancelled_at)
            .map(|(n, t)| format!("Cancelled by {n} on {}.", when(t))),
    ];
    view! {
        <h1>{if subject.is_empty() { "Announcement".to_owned() } else { subject }}</h1>
        <dl class="facts">
            <dt>"State"</dt><dd data-testid="announcement-state">{a.state.label()}</dd>
            <dt>"Kind"</dt><dd>{a.kind.label()}</dd>
            <dt>"Target"</dt><dd>{target}</dd>
            <dt>"Sends"</dt><dd>{a.send_at.map(when).unwrap_or_else(|| "When sent".into())}</dd>
        </dl>
        <ul>{history.into_iter().flatten().map(|h| view! { <li>{h}</li> }).collect_view()}</ul>
        {(!a.progress.is_empty()).then(|| view! {
            <h2>"Delivery"</h2>
            <table class="records" data-testid="announcement-progress">
                <thead><tr><th scope="col">"Messages"</th><th scope="col">"Count"</th></tr></thead>
                <tbody>{a.progress.iter().map(|(s, n)| view! { <tr><td>{s.clone()}</td><td>{*n}</td></tr> }).collect_view()}</tbody>
            </table>
        })}
        <h2>"Recipients"</h2>
        <p>{if a.state == AnnouncementState::Queued { "Who matches the target now (the messages already queued are above)." } else { "Exactly who it would go to now: confirmed subscribers, one message per address and channel, numbers that texted STOP left out." }}</p>
        <table class="records" data-testid="announcement-recipients">
            <thead><tr><th scope="col">"Channel"</th><th scope="col">"Recipients"</th></tr></thead>
            <tbody>
                {[("email", "Email"), ("sms", "Text message"), ("voice", "Voice call")].into_iter().map(|(c, label)| view! {
                    <tr><th scope="row">{label}</th><td data-testid=format!("recipients-{c}")>{p.audience.of_channel(c)}</td></tr>
                }).collect_view()}
                <tr><th scope="row">"In all"</th><td data-testid="recipients-total">{total}</td></tr>
            </tbody>
        </table>
        {(!p.audience.falling_back.is_empty()).then(|| view! {
            <p data-testid="announcement-fallback">{format!("Read in English, having no text in their language: {}.",
                p.audience.falling_back.iter().map(|(l, n)| format!("{n} {}", crate::domain::Language::parse(l).map(|l| l.english_name()).unwrap_or("other"))).collect::<Vec<_>>().join(", "))}</p>
        })}
        {needs_approval.then(|| view! {
            <p class="notice" role="note">{format!("More than {} recipients: a second person of the county approves it before anything goes.", p.threshold)}</p>
        })}
        {(!p.problems.is_empty()).then(|| view! {
            <div class="notice notice--error" role="alert" data-testid="announcement-problems">
                <p>"It cannot be sent yet:"</p>
                <ul>{p.problems.iter().map(|m| view! { <li>{m.clone()}</li> }).collect_view()}</ul>
            </div>
        })}
        <h2>"Preview"</h2>
        {p.samples.iter().map(|s| view! {
            <section class="announcement-sample" data-testid=format!("sample-{}", s.language)>
                <h3>{format!("{} ({} recipients)", s.language_name, s.recipients)}</h3>
                <h4>"Email"</h4>
                <p><strong>"Subject: "</strong><span lang=s.language.clone()>{s.email_subject.clone()}</span></p>
                <pre class="message-preview" lang=s.language.clone()>{s.email_text.clone()}</pre>
                <h4>{format!("Text message ({} characters, {} {})", s.sms_chars, s.sms_segments, if s.sms_segments == 1 { "segment" } else { "segments" })}</h4>
                <pre class="message-preview" lang=s.language.clone()>{s.sms_text.clone()}</pre>
                <h4>"Voice call"</h4>
                <p class="message-preview" lang=s.language.clone()>{s.voice_words.clone()}</p>
            </section>
        }).collect_view()}
        <h2>"Next"</h2>
        <div class="actions">
            {p.may_edit.then(|| view! {
                <a class="button button--quiet" href=format!("/admin/announcements/{}/edit", a.id)>"Change it"</a>
            })}
            {p.may_send.then(|| view! {
                <ActionForm action=send attr:class="change-form">
                    <input type="hidden" name="id" value=id.to_string() />
                    <div class="field">
                        <label for="announcement-send-at">{format!("Send at ({}); empty: now", p.time_zone)}</label>
                        <input id="announcement-send-at" name="send_at" type="datetime-local" />
                    </div>
                    <button type="submit" class="button">{if needs_approval { "Send for approval" } else { "Send" }}</button>
                </ActionForm>
            })}
            {p.may_approve.then(|| view! {
                <ActionForm action=approve attr:class="inline-form">
                    <input type="hidden" name="id" value=id.to_string() />
                    <button type="submit" class="button">"Approve and queue"</button>
                </ActionForm>
            })}
            {p.may_cancel.then(|| view! {
                <ActionForm action=cancel attr:class="inline-form">
                    <input type="hidden" name="id" value=id.to_string() />
                    <button type="submit" class="button button--danger">"Cancel the announcement"</button>
                </ActionForm>
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precinct_lists_split_on_commas_and_spaces_and_drop_repeats() {
        assert_eq!(
            parse_precincts("0123, 0456\n0123 ;0789").unwrap(),
            ["0123", "0456", "0789"]
        );
        assert!(parse_precincts("").unwrap().is_empty());
        assert!(parse_precincts(&"9".repeat(41)).is_err());
    }

    #[test]
    fn kinds_and_states_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.code()), Some(k));
        }
        assert_eq!(
            AnnouncementState::parse("awaiting_approval"),
            Some(AnnouncementState::AwaitingApproval)
        );
        assert_eq!(Kind::parse("spam"), None);
    }
}
