//! The outbox as the delivery workers see it: claim due messages (`for update skip locked`, so any
//! number of workers on any number of machines share the work without taking a message twice),
//! record each outcome, recover claims a dead worker left, and share the providers' rate limits.
//!
//! A claim holds its messages locked in the worker's transaction while they are sent
//! ([`Claim`]); nothing is written until the outcomes are, so a message is written twice in its
//! life (queued, then its outcome). Versions before this one marked claimed messages `sending`
//! with the worker's name; a message still `sending` a lease later ([`DEFAULT_CLAIM_LEASE`]) was
//! left by a worker that died, and goes back to `queued` ([`recover_stuck`]).

use super::Channel;
use crate::domain::Language;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sqlx::PgPool;
use std::time::Duration;

/// How long a `sending` mark of an earlier version holds by default before workers, which look
/// every ten seconds, put the message back (its worker is gone: marks are no longer made).
pub const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(45);

/// A claimed message with what its template needs.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: i64,
    pub kind: String,
    pub channel: Channel,
    pub language: Language,
    pub template: String,
    pub payload: Option<serde_json::Value>,
    /// Tries so far, this one included.
    pub attempts: i32,
    pub subscription_id: i64,
    pub address: String,
    pub subscription_active: bool,
    pub window_start: NaiveTime,
    pub window_end: NaiveTime,
    pub county_name: String,
    pub county_phone: Option<String>,
    pub county_email: Option<String>,
    pub county_website: Option<String>,
    pub time_zone: String,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub expected_delivery: Option<NaiveDate>,
    pub cure_deadline: Option<DateTime<Utc>>,
    /// An announcement's words in the message's language, and what its placeholders stand for.
    pub announcement: Option<ClaimedAnnouncement>,
    /// A status message that a later one about the same ballot, to the same subscription, has
    /// overtaken: it is passed over, not sent ([`Outcome::Superseded`]).
    pub superseded: bool,
}

#[derive(Clone, Debug)]
pub struct ClaimedAnnouncement {
    pub id: i64,
    pub subject: String,
    pub body: String,
    pub event_date: Option<NaiveDate>,
    pub place: Option<String>,
}

/// What became of one claimed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The provider took it; its id for the delivery-status callbacks.
    Sent { provider_id: String },
    /// A failure worth another try (network, 4xx temporary, 429, 5xx).
    Retry { error: String },
    /// The provider refused it for good (a bad address, a blocked number).
    Failed { error: String },
    /// Not now: outside the voter's contact window. Not a try.
    Deferred { until: DateTime<Utc> },
    /// Not at all: the subscription ended or the number opted out.
    Cancelled { why: String },
    /// Not at all: a later status message about the same ballot, to the same subscription, is
    /// queued or gone already, and says what is true now. Not a try.
    Superseded,
}

/// A worker's claim: due messages of one channel, locked (`for update skip locked`) in the
/// worker's own transaction while it sends them. Other workers pass them by; the outcomes are
/// written and the locks let go in one commit ([`Claim::finish`]). A worker that dies takes its
/// transaction with it, and its messages are due again at once.
pub struct Claim {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    pub messages: Vec<Claimed>,
}

/// The claim of one channel's due messages, the channel written into the statement: each
/// channel's queue is an index of its own (`channel = 'sms'` in its predicate, migration
/// `20261206000002`), which a plan can read only if it knows the channel when it is made — a
/// parameter would do for the first plans of a prepared statement but not for the generic one
/// PostgreSQL settles on after five runs.
macro_rules! claim_statement {
    ($channel:literal) => {
        concat!(
            "select id from notifications
              where state = 'queued' and channel = '",
            $channel,
            "' and not_before <= now()
              order by not_before, id
              limit $1
              for update skip locked"
        )
    };
}

fn claim_statement(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => claim_statement!("email"),
        Channel::Sms => claim_statement!("sms"),
        Channel::Voice => claim_statement!("voice"),
    }
}

/// Claims up to `limit` due messages of one channel.
///
/// The claim's statements are planned for each batch (`force_custom_plan` for its
/// transaction): a worker's connection lives long, and the generic plan PostgreSQL settles on
/// after five runs of a prepared statement, if made while the outbox was empty and vacuumed,
/// reads the whole outbox for each message's probe once it has grown.
pub async fn claim(pool: &PgPool, channel: Channel, limit: i64) -> Result<Claim, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("set local plan_cache_mode = force_custom_plan")
        .execute(&mut *tx)
        .await?;
    let ids: Vec<i64> = sqlx::query_scalar(claim_statement(channel))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    let mut messages = details(&mut tx, &ids).await?;
    for m in &mut messages {
        m.attempts += 1;
    }
    Ok(Claim { tx, messages })
}

/// Messages with what their templates need (a voice call's script is rendered when the
/// provider asks for it, from this too).
///
/// Two statements: the messages with their subscriptions, counties, ballots and announcements,
/// then their events. Joined in one, the events' sixteen partitions were costed a probe each
/// per message (PostgreSQL prunes them only as it runs), and the plan that cost bought —
/// every message scanned in parallel, subscriptions and ballots hashed whole — took 300 ms
/// for a batch of 1,000 that the two statements read in 25.
///
/// In the first, each message, its subscription, county and ballot is one probe of its key,
/// fenced as a lateral subquery (`offset 0`) so that no plan can do otherwise. Left to the
/// planner, a batch of 1,000 emails was read by three processes, the subscriptions scanned
/// whole in parallel and hashed: 86 ms and three cores' worth, where the probes take 18 ms
/// on one.
///
/// A status message is superseded when a later one about the same ballot exists for the same
/// subscription (a later event: event ids grow in the order a ballot's changes commit, since
/// the spine locks the ballot before it takes them). That is one probe of the outbox's
/// (subscription, event) key per status message, here among the claim's probes, where it costs
/// a worker a few microseconds of each send, and reads only the later messages; made when
/// queuing, it read every message the subscription ever had, inside the import's transaction
/// (README, design note (b)).
///
/// The ballot and the event are read only for the statuses whose words use them
/// ([`super::StatusFacts::DETAILED`]): a mailing says "received" or "counted" a million
/// times, and nothing of those messages' events but the status, which is their template.
pub async fn details(
    db: &mut sqlx::PgConnection,
    ids: &[i64],
) -> Result<Vec<Claimed>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // A status message's template is its status. Only the detailed ones need their event's
    // reason and dates, their ballot's expected delivery and their election's cure deadline.
    let detailed: Vec<String> = super::StatusFacts::DETAILED
        .iter()
        .map(|s| s.code().to_owned())
        .collect();
    let rows = sqlx::query!(
        r#"select n.id, n.kind, n.channel, n.language, n.template, n.payload, n.attempts,
                  n.ballot_id, n.event_id,
                  s.id as subscription_id, s.address, s.cancelled_at is null as "active!",
                  s.window_start, s.window_end,
                  co.name as county_name, co.phone, co.email, co.website, co.time_zone,
                  b.expected_delivery as "ballot_expected_delivery?",
                  el.cure_deadline as "cure_deadline?",
                  a.id as "announcement_id?", t.subject as "subject?", t.body as "body?",
                  a.event_date as "event_date?", a.place as "place?",
                  n.kind in ('status', 'current_status') and exists (
                      select from notifications l
                      where l.subscription_id = n.subscription_id and l.event_id > n.event_id
                        and l.ballot_id = n.ballot_id
                        and l.kind in ('status', 'current_status')) as "superseded!"
           from unnest($1::bigint[]) as k(id)
           cross join lateral (select * from notifications where id = k.id offset 0) n
           cross join lateral (select id, address, cancelled_at, window_start, window_end
                               from subscriptions where id = n.subscription_id offset 0) s
           cross join lateral (select name, phone, email, website, time_zone from counties
                               where fips = n.county_fips offset 0) co
           left join lateral (select expected_delivery, election_id from ballots
                              where id = n.ballot_id and n.template = any($2) offset 0) b on true
           left join elections el on el.id = b.election_id
           left join announcements a on a.id = n.announcement_id
           left join announcement_texts t
                  on t.announcement_id = n.announcement_id and t.language = n.language"#,
        ids,
        &detailed
    )
    .fetch_all(&mut *db)
    .await?;
    let (ballots, events): (Vec<i64>, Vec<i64>) = rows
        .iter()
        .filter(|r| detailed.contains(&r.template))
        .filter_map(|r| r.ballot_id.zip(r.event_id))
        .unzip();
    // An event's messages (one per subscription) share its row.
    let event_facts: std::collections::HashMap<i64, EventFacts> = sqlx::query!(
        r#"select e.id, e.reason, e.expected_delivery
           from unnest($1::bigint[], $2::bigint[]) as k(ballot_id, id)
           join ballot_events e on e.ballot_id = k.ballot_id and e.id = k.id"#,
        &ballots,
        &events
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|e| {
        (
            e.id,
            EventFacts {
                reason: e.reason,
                expected_delivery: e.expected_delivery,
            },
        )
    })
    .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let event = r.event_id.and_then(|id| event_facts.get(&id));
            // A status message's template is its event's status (`spine::enqueue`).
            let status =
                matches!(r.kind.as_str(), "status" | "current_status").then(|| r.template.clone());
            Claimed {
                id: r.id,
                kind: r.kind,
                channel: Channel::parse(&r.channel).unwrap_or(Channel::Email),
                language: Language::parse(&r.language).unwrap_or_default(),
                template: r.template,
                payload: r.payload,
                attempts: r.attempts,
                subscription_id: r.subscription_id,
                address: r.address,
                subscription_active: r.active,
                window_start: r.window_start,
                window_end: r.window_end,
                county_name: r.county_name,
                county_phone: r.phone,
                county_email: r.email,
                county_website: r.website,
                time_zone: r.time_zone,
                expected_delivery: event
                    .and_then(|e| e.expected_delivery)
                    .or(r.ballot_expected_delivery),
                status,
                reason: event.and_then(|e| e.reason.clone()),
                cure_deadline: r.cure_deadline,
                announcement: match (r.announcement_id, r.subject, r.body) {
                    (Some(id), Some(subject), Some(body)) => Some(ClaimedAnnouncement {
                        id,
                        subject,
                        body,
                        event_date: r.event_date,
                        place: r.place,
                    }),
                    _ => None,
                },
                superseded: r.superseded,
            }
        })
        .collect())
}

/// What a message's event says.
struct EventFacts {
    reason: Option<String>,
    expected_delivery: Option<NaiveDate>,
}

/// The wait before try `attempts + 1`: 30 s doubling to at most an hour, times a random factor
/// in [0.5, 1.5) so that a provider's outage does not end in a thundering herd.
pub fn backoff(attempts: i32, jitter: f64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 12) - 1).unwrap_or(0);
    let base = (30u64 << exponent).min(3600);
    Duration::from_secs_f64(base as f64 * (0.5 + jitter.clamp(0.0, 1.0)))
}

impl Claim {
    /// Records the outcomes of the claim's messages in one statement and commits.
    pub async fn finish(
        mut self,
        outcomes: &[(i64, i32, Outcome)],
        max_attempts: i32,
    ) -> Result<(), sqlx::Error> {
        record(&mut self.tx, outcomes, max_attempts).await?;
        self.tx.commit().await
    }
}

async fn record(
    tx: &mut sqlx::PgConnection,
    outcomes: &[(i64, i32, Outcome)],
    max_attempts: i32,
) -> Result<(), sqlx::Error> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let n = outcomes.len();
    let (mut ids, mut states, mut provider_ids, mut errors, mut not_befores, mut deltas) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (id, attempts, outcome) in outcomes {
        let (state, provider_id, error, not_before, delta) = match outcome {
            Outcome::Sent { provider_id } => ("sent", provider_id.clone(), String::new(), now, 1),
            Outcome::Retry { error } if *attempts >= max_attempts => {
                ("dead", String::new(), error.clone(), now, 1)
            }
            Outcome::Retry { error } => {
                let wait = backoff(*attempts, rand::random::<f64>());
                let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                ("queued", String::new(), error.clone(), at, 1)
            }
            Outcome::Failed { error } => ("failed", String::new(), error.clone(), now, 1),
            Outcome::Deferred { until } => ("queued", String::new(), String::new(), *until, 0),
            Outcome::Cancelled { why } => ("cancelled", String::new(), why.clone(), now, 1),
            Outcome::Superseded => ("superseded", String::new(), String::new(), now, 0),
        };
        ids.push(*id);
        states.push(state.to_owned());
        provider_ids.push(provider_id);
        errors.push(error);
        not_befores.push(not_before);
        deltas.push(delta);
    }
    sqlx::query!(
        r#"update notifications n
              set state = r.state,
                  provider_message_id = coalesce(nullif(r.provider_id, ''), n.provider_message_id),
                  last_error = case when r.error = '' then n.last_error else r.error end,
                  not_before = case when r.state = 'queued' then r.not_before else n.not_before end,
                  attempts = n.attempts + r.delta,
                  sent_at = case when r.state = 'sent' then now() else n.sent_at end,
                  -- A voice call reads its payload when the provider asks for the script.
                  payload = case when r.state in ('queued', 'sent') and n.channel = 'voice'
                                 then n.payload
                                 when r.state = 'queued' then n.payload end
             from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                         $6::int[]) as r(id, state, provider_id, error, not_before, delta)
            where n.id = r.id"#,
        &ids,
        &states,
        &provider_ids,
        &errors,
        &not_befores,
        &deltas
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Puts back claims older than the lease (their worker died or hung). Any worker may run it.
pub async fn recover_stuck(pool: &PgPool, lease: Duration) -> Result<u64, sqlx::Error> {
    let lease = chrono::Duration::from_std(lease).unwrap_or_default();
    let done = sqlx::query!(
        r#"update notifications
              set state = 'queued', claimed_at = null, claimed_by = null,
                  last_error = 'claim expired: the worker stopped before it finished'
            where state = 'sending' and claimed_at < $1"#,
        Utc::now() - lease
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Takes up to `wanted` sends of the provider's per-second limit, shared by every worker.
pub async fn take_slots(
    pool: &PgPool,
    channel: Channel,
    wanted: i64,
    per_second: i32,
) -> Result<i64, sqlx::Error> {
    let wanted = i32::try_from(wanted).unwrap_or(i32::MAX);
    let granted = sqlx::query_scalar!(
        r#"select take_send_slots($1, $2, $3) as "granted!""#,
        channel.code(),
        wanted,
        per_second
    )
    .fetch_one(pool)
    .await?;
    Ok(granted.into())
}

/// Returns slots taken but not used (fewer messages were due) to the current second.
pub async fn give_back_slots(pool: &PgPool, channel: Channel, n: i64) -> Result<(), sqlx::Error> {
    if n <= 0 {
        return Ok(());
    }
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    sqlx::query!(
        r#"update provider_send_windows set used = greatest(used - $2, 0)
            where channel = $1 and window_start = date_trunc('second', clock_timestamp())"#,
        channel.code(),
        n
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A delivery-status callback: the provider's word on message `id`, whose provider id it must
/// name. `delivered` and `failed` are final; other words are only recorded. Returns whether the
/// message matched.
pub async fn record_delivery(
    pool: &PgPool,
    id: i64,
    provider_id: &str,
    provider_status: &str,
) -> Result<bool, sqlx::Error> {
    let state = match provider_status {
        "delivered" | "completed" | "read" => Some("delivered"),
        "undelivered" | "failed" | "busy" | "no-answer" | "canceled" => Some("failed"),
        _ => None,
    };
    // The provider may call back before the worker has recorded the send (it records a whole
    // batch at once). The worker holds the message locked while it sends (its `Claim`), so the
    // report first waits for that claim to end; the update then reads the worker's record. An
    // update alone would not wait: the claimed row, still `queued` with no provider id, does not
    // match it. A message an earlier version left `sending` takes the id, the send and the word
    // now. The request is signed and names the message, so it is the provider's.
    let mut tx = pool.begin().await?;
    sqlx::query!("select id from notifications where id = $1 for update", id)
        .fetch_optional(&mut *tx)
        .await?;
    let done = sqlx::query!(
        r#"update notifications
              set provider_status = $3,
                  provider_message_id = coalesce(provider_message_id, $2),
                  sent_at = coalesce(sent_at, now()),
                  state = case when $4::text is not null and state in ('sending', 'sent', 'failed')
                               then $4::text
                               when state = 'sending' then 'sent'
                               else state end,
                  claimed_at = case when state = 'sending' then null else claimed_at end,
                  claimed_by = case when state = 'sending' then null else claimed_by end,
                  delivered_at = case when $4::text = 'delivered' and delivered_at is null
                                      then now() else delivered_at end,
                  last_error = case when $4::text = 'failed'
                                    then 'the provider reports: ' || $3 else last_error end,
                  payload = case when $4::text is not null then null else payload end
            where id = $1
              and (provider_message_id = $2
                   or (provider_message_id is null and state = 'sending'))"#,
        id,
        provider_id,
        provider_status,
        state
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Which of these numbers texted STOP.
pub async fn opted_out(
    pool: &PgPool,
    addresses: &[String],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    if addresses.is_empty() {
        return Ok(Default::default());
    }
    let rows = sqlx::query_scalar!(
        "select address from sms_opt_outs where address = any($1)",
        addresses
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// When SMS and voice may next reach a voter whose window is `start`–`end` local time (a window
/// may run past midnight), or `None` when `now` is inside it.
pub fn outside_window(
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
    start: NaiveTime,
    end: NaiveTime,
) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    let local = now.with_timezone(&tz);
    let t = local.time();
    let inside = if start < end {
        t >= start && t < end
    } else {
        t >= start || t < end
    };
    if inside {
        return None;
    }
    let today = local.date_naive();
    let day = if start < end && t < start {
        today
    } else if start > end {
        // Between the end and the start of an overnight window: it opens later today.
        today
    } else {
        today.succ_opt().unwrap_or(today)
    };
    // A start in a daylight-saving gap opens at the first valid moment after it.
    let opens = tz
        .from_local_datetime(&day.and_time(start))
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(day.and_time(start) + chrono::Duration::hours(1)))
                .earliest()
        })?;
    Some(opens.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::America::Los_Angeles
            .with_ymd_and_hms(2026, 11, 2, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn contact_windows_defer_to_the_next_opening() {
        let tz = chrono_tz::America::Los_Angeles;
        let (eight, nine_pm) = (
            NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
        );
        assert_eq!(outside_window(at(12, 0), tz, eight, nine_pm), None);
        assert_eq!(
            outside_window(at(7, 59), tz, eight, nine_pm),
            Some(at(8, 0))
        );
        let next_morning = chrono_tz::America::Los_Angeles
            .with_ymd_and_hms(2026, 11, 3, 8, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            outside_window(at(21, 0), tz, eight, nine_pm),
            Some(next_morning)
        );
        // Overnight: 20:00–02:00.
        let (eight_pm, two_am) = (
            NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
        );
        assert_eq!(outside_window(at(1, 0), tz, eight_pm, two_am), None);
        assert_eq!(outside_window(at(23, 0), tz, eight_pm, two_am), None);
        assert_eq!(
            outside_window(at(9, 0), tz, eight_pm, two_am),
            Some(at(20, 0))
        );
    }

    /// The generic plan of each channel's claim — the one a prepared statement settles on —
    /// can read that channel's queue index. (Sequential scans are turned off: on a test's empty
    /// outbox one would be cheapest, and the question is whether the index can serve at all.)
    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn each_channel_claims_from_its_own_queue(pool: PgPool) {
        let mut conn = pool.acquire().await.unwrap();
        sqlx::raw_sql("set enable_seqscan = off; set plan_cache_mode = force_generic_plan")
            .execute(&mut *conn)
            .await
            .unwrap();
        for channel in Channel::ALL {
            let statement = claim_statement(channel);
            assert!(statement.contains(&format!("channel = '{}'", channel.code())));
            let name = format!("claim_{}", channel.code());
            sqlx::query(&format!("prepare {name} as {statement}"))
                .execute(&mut *conn)
                .await
                .unwrap();
            let plan: Vec<String> = sqlx::query_scalar(&format!("explain execute {name}(100)"))
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            let plan = plan.join("\n");
            assert!(
                plan.contains(&format!("notifications_due_{}", channel.code())),
                "{plan}"
            );
        }
    }

    /// A worker's connection never settles on a generic plan for its claim's statements: one
    /// made on an empty, vacuumed outbox (as here) reads the table whole for every message.
    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn a_workers_claims_are_planned_for_each_batch(pool: PgPool) {
        sqlx::query("vacuum analyze notifications")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::raw_sql(
            "insert into voters (county_fips, county_voter_id, first_name, last_name,
                                 first_name_norm, last_name_norm, date_of_birth, residential_zip)
             values ('06037', 'P1', 'Ana', 'Lee', 'ana', 'lee', '1970-01-02', '90012');
             insert into subscriptions (voter_id, county_fips, channel, address, language,
                                        confirmed_at)
             select id, '06037', 'sms', '+12135550100', 'en', now() from voters;
             insert into notifications (county_fips, subscription_id, kind, ballot_id, event_id,
                                        channel, language, template)
             select '06037', id, 'status', 1, e, 'sms', 'en', 'received'
             from subscriptions, generate_series(1, 3) as e;",
        )
        .execute(&pool)
        .await
        .unwrap();
        // One connection, as a worker's: every claim (rolled back) runs on it.
        let worker = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with((*pool.connect_options()).clone())
            .await
            .unwrap();
        for _ in 0..8 {
            let claim = claim(&worker, Channel::Sms, 10).await.unwrap();
            let superseded: Vec<bool> = claim.messages.iter().map(|m| m.superseded).collect();
            assert_eq!(
                superseded.iter().filter(|s| **s).count(),
                2,
                "{superseded:?}"
            );
        }
        let plans: Vec<(String, i64, i64)> = sqlx::query_as(
            "select statement, generic_plans, custom_plans from pg_prepared_statements
              where statement like '%from notifications%'
                and statement not like '%pg_prepared_statements%'",
        )
        .fetch_all(&worker)
        .await
        .unwrap();
        assert!(plans.len() >= 2, "{plans:?}");
        for (statement, generic, custom) in &plans {
            assert_eq!((*generic, *custom), (0, 8), "{statement}");
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1, 0.5), Duration::from_secs(30));
        assert_eq!(backoff(2, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(20, 0.5), Duration::from_secs(3600));
        assert!(backoff(3, 0.0) < backoff(3, 0.99));
    }
}
