//! Announcements in the database: drafts and their texts, who would receive one (counted with
//! the same query that queues it, so the number the preview shows is the number queued), and
//! the messages it puts in the outbox.

use super::announcements::{Announcement, AnnouncementState, AnnouncementSummary, Audience, Kind};
use crate::domain::Language;
use crate::messages::Channel;
use crate::messages::announcements::Text;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// `query!` over the subscribers an announcement reaches (`r`): confirmed and active, of the
/// county (`$1`) and of the chosen precincts (`$2`, empty for all), not opted out of texts; one
/// message per address and channel, so a household sharing an address gets one. `reads` is the
/// language they get: their own (`own`) when the announcement has a text in it (`$3`), English
/// otherwise. With `$4`, only voters whose live ballot has not come back. Counting and
/// queueing share it, so the preview's number is the number queued.
macro_rules! with_recipients {
    ($rest:literal, $($arg:expr),* $(,)?) => {
        sqlx::query!(
            "with r as (
                 select distinct on (s.channel, s.address)
                        s.id, s.channel, s.language as own,
                        case when s.language = any($3::text[]) then s.language else 'en' end
                            as reads
                 from subscriptions s
                 join voters v on v.id = s.voter_id
                 where s.county_fips = $1 and s.confirmed_at is not null
                   and s.cancelled_at is null
                   and (cardinality($2::text[]) = 0 or v.precinct = any($2::text[]))
                   and not (s.channel = 'sms'
                            and exists (select 1 from sms_opt_outs o where o.address = s.address))
                   and (not $4::boolean or exists (
                        select 1 from ballots b where b.voter_id = v.id
                          and b.status in ('issued', 'mailed', 'in_transit', 'delivered',
                                           'undeliverable')))
                 order by s.channel, s.address, s.id
             )" + $rest,
            $($arg),*
        )
    };
}

fn languages(texts: &[Text]) -> Vec<String> {
    texts.iter().map(|t| t.language.code().to_owned()).collect()
}

/// Who would receive it now: per channel, and per channel and language read.
pub async fn audience(
    tx: &mut PgConnection,
    county: &str,
    precincts: &[String],
    texts: &[Text],
    unreturned_only: bool,
) -> Result<Audience, sqlx::Error> {
    let rows = with_recipients!(
        r#"select channel as "channel!", reads as "reads!", own as "own!", count(*) as "n!"
           from r group by channel, reads, own order by channel, reads, own"#,
        county,
        precincts,
        &languages(texts),
        unreturned_only
    )
    .fetch_all(tx)
    .await?;
    let mut audience = Audience::default();
    for r in rows {
        let (Some(channel), Ok(language)) = (Channel::parse(&r.channel), Language::parse(&r.reads))
        else {
            continue;
        };
        audience.add(channel, language, r.n);
        if r.own != r.reads {
            audience.note_fallback(&r.own, r.n);
        }
    }
    Ok(audience)
}

/// Precincts among `wanted` that no voter of the county is in.
pub async fn unknown_precincts(
    tx: &mut PgConnection,
    county: &str,
    wanted: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select p as "p!" from unnest($2::text[]) p
           where not exists (select 1 from voters v where v.county_fips = $1 and v.precinct = p)
           order by p"#,
        county,
        wanted
    )
    .fetch_all(tx)
    .await
}

/// Creates a draft (`id` 0) or replaces a draft's contents. `None` when `id` names no draft.
#[allow(clippy::too_many_arguments)]
pub async fn save_draft(
    tx: &mut PgConnection,
    id: i64,
    county: &str,
    kind: Kind,
    precincts: &[String],
    event_date: Option<chrono::NaiveDate>,
    place: &str,
    texts: &[Text],
    unreturned_only: bool,
    author: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let place = Some(place.trim()).filter(|p| !p.is_empty());
    let saved = if id == 0 {
        Some(
            sqlx::query_scalar!(
                "insert into announcements
                     (county_fips, kind, precincts, event_date, place, created_by, unreturned_only)
                 values ($1, $2, $3, $4, $5, $6, $7) returning id",
                county,
                kind.code(),
                precincts,
                event_date,
                place,
                author,
                unreturned_only
            )
            .fetch_one(&mut *tx)
            .await?,
        )
    } else {
        sqlx::query_scalar!(
            "update announcements
                set kind = $3, precincts = $4, event_date = $5, place = $6, unreturned_only = $7,
                    updated_at = now()
              where id = $1 and county_fips = $2 and state = 'draft' returning id",
            id,
            county,
            kind.code(),
            precincts,
            event_date,
            place,
            unreturned_only
        )
        .fetch_optional(&mut *tx)
        .await?
    };
    let Some(saved) = saved else {
        return Ok(None);
    };
    sqlx::query!(
        "delete from announcement_texts where announcement_id = $1",
        saved
    )
    .execute(&mut *tx)
    .await?;
    let (langs, subjects, bodies): (Vec<String>, Vec<String>, Vec<String>) = texts
        .iter()
        .map(|t| {
            (
                t.language.code().to_owned(),
                t.subject.trim().to_owned(),
                t.body.trim().to_owned(),
            )
        })
        .collect();
    sqlx::query!(
        "insert into announcement_texts (announcement_id, county_fips, language, subject, body)
         select $1, $2, l, s, b from unnest($3::text[], $4::text[], $5::text[]) as t(l, s, b)",
        saved,
        county,
        &langs,
        &subjects,
        &bodies
    )
    .execute(&mut *tx)
    .await?;
    Ok(Some(saved))
}

/// One announcement with its texts, locked for the change that follows.
pub async fn load(tx: &mut PgConnection, id: i64) -> Result<Option<Announcement>, sqlx::Error> {
    let Some(r) = sqlx::query!(
        r#"select a.id, a.county_fips, c.name as county_name, a.kind, a.precincts, a.event_date,
                  a.place, a.unreturned_only, a.state, a.send_at, a.recipients, a.created_at,
                  a.created_by, cu.display_name as created_by_name,
                  a.submitted_by, su.display_name as "submitted_by_name?",
                  au.display_name as "approved_by_name?", a.approved_at,
                  xu.display_name as "cancelled_by_name?", a.cancelled_at, a.queued_at
           from announcements a
           join counties c on c.fips = a.county_fips
           join admin_users cu on cu.id = a.created_by
           left join admin_users su on su.id = a.submitted_by
           left join admin_users au on au.id = a.approved_by
           left join admin_users xu on xu.id = a.cancelled_by
           where a.id = $1
           for update of a"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let texts = sqlx::query!(
        "select language, subject, body from announcement_texts
         where announcement_id = $1 order by language = 'en' desc, language",
        id
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .filter_map(|t| {
        Some(super::announcements::TextInput {
            language: Language::parse(&t.language).ok()?.code().to_owned(),
            subject: t.subject,
            body: t.body,
        })
    })
    .collect();
    let progress = progress(tx, id).await?;
    Ok(Some(Announcement {
        id: r.id,
        county_fips: r.county_fips,
        county_name: r.county_name,
        kind: Kind::parse(&r.kind).unwrap_or(Kind::Other),
        precincts: r.precincts,
        event_date: r.event_date,
        place: r.place.unwrap_or_default(),
        unreturned_only: r.unreturned_only,
        state: AnnouncementState::parse(&r.state).unwrap_or(AnnouncementState::Draft),
        send_at: r.send_at,
        queued: r
            .recipients
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        created_at: r.created_at,
        created_by: r.created_by,
        created_by_name: r.created_by_name,
        submitted_by: r.submitted_by,
        submitted_by_name: r.submitted_by_name,
        approved_by_name: r.approved_by_name,
        approved_at: r.approved_at,
        cancelled_by_name: r.cancelled_by_name,
        cancelled_at: r.cancelled_at,
        queued_at: r.queued_at,
        texts,
        progress,
    }))
}

/// Its messages in the outbox by state: `[("queued", 10), ("sent", 90)]`.
async fn progress(tx: &mut PgConnection, id: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"select state, count(*) as "n!" from notifications where announcement_id = $1
           group by state order by state"#,
        id
    )
    .fetch_all(tx)
    .await?
    .into_iter()
    .map(|r| (r.state, r.n))
    .collect())
}

/// The county's announcements (every county's for `None`), newest first.
pub async fn list(
    tx: &mut PgConnection,
    county: Option<&str>,
) -> Result<Vec<AnnouncementSummary>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select a.id, c.name as county_name, a.kind, a.state, a.send_at, a.created_at,
                  u.display_name as author, a.recipients,
                  (select t.subject from announcement_texts t
                    where t.announcement_id = a.id and t.language = 'en') as subject,
                  (select count(*) from notifications n
                    where n.announcement_id = a.id and n.state in ('sent', 'delivered')) as "sent!"
           from announcements a
           join counties c on c.fips = a.county_fips
           join admin_users u on u.id = a.created_by
           where $1::text is null or a.county_fips = $1
           order by a.created_at desc, a.id desc
           limit 200"#,
        county
    )
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AnnouncementSummary {
            id: r.id,
            county_name: r.county_name,
            kind: Kind::parse(&r.kind).unwrap_or(Kind::Other),
            state: AnnouncementState::parse(&r.state).unwrap_or(AnnouncementState::Draft),
            subject: r.subject.unwrap_or_default(),
            author: r.author,
            created_at: r.created_at,
            send_at: r.send_at,
            recipients: r
                .recipients
                .and_then(|v| serde_json::from_value::<Vec<(String, i64)>>(v).ok())
                .map(|v| v.iter().map(|(_, n)| n).sum()),
            sent: r.sent,
        })
        .collect())
}

/// Sends it for a second person's approval.
pub async fn submit(
    tx: &mut PgConnection,
    id: i64,
    by: i64,
    send_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update announcements
            set state = 'awaiting_approval', submitted_by = $2, submitted_at = now(),
                send_at = $3, updated_at = now()
          where id = $1 and state = 'draft'",
        id,
        by,
        send_at
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Puts its messages in the outbox, due at `send_at`, and marks it queued. Returns how many
/// went in per channel.
pub async fn queue(
    tx: &mut PgConnection,
    a: &Announcement,
    texts: &[Text],
    by: i64,
    approved: bool,
    send_at: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = with_recipients!(
        r#", queued as (
               insert into notifications
                   (county_fips, subscription_id, kind, channel, language, template, not_before,
                    announcement_id)
               select $1, r.id, 'announcement', r.channel, r.reads, $5, $6, $7 from r
               on conflict do nothing
               returning channel
           )
           select channel as "channel!", count(*) as "n!" from queued group by channel
           order by channel"#,
        a.county_fips,
        &a.precincts,
        &languages(texts),
        a.unreturned_only,
        a.kind.code(),
        send_at,
        a.id
    )
    .fetch_all(&mut *tx)
    .await?;
    let counts: Vec<(String, i64)> = rows.into_iter().map(|r| (r.channel, r.n)).collect();
    sqlx::query!(
        "update announcements
            set state = 'queued', queued_at = now(), send_at = $2, recipients = $3,
                submitted_by = coalesce(submitted_by, $4), submitted_at = coalesce(submitted_at, now()),
                approved_by = case when $5 then $4 end, approved_at = case when $5 then now() end,
                updated_at = now()
          where id = $1",
        a.id,
        send_at,
        serde_json::json!(counts),
        by,
        approved
    )
    .execute(&mut *tx)
    .await?;
    Ok(counts)
}

/// Cancels it, and whichever of its messages have not gone yet. Returns how many those were.
pub async fn cancel(tx: &mut PgConnection, id: i64, by: i64) -> Result<u64, sqlx::Error> {
    let stopped = sqlx::query!(
        "update notifications set state = 'cancelled', last_error = 'the announcement was cancelled'
          where announcement_id = $1 and state = 'queued'",
        id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query!(
        "update announcements
            set state = 'cancelled', cancelled_by = $2, cancelled_at = now(), updated_at = now()
          where id = $1",
        id,
        by
    )
    .execute(&mut *tx)
    .await?;
    Ok(stopped)
}
