//! Signing up, confirming, cancelling: a voter's subscriptions and their consent record.
//!
//! A sign-up is a subscription that is not confirmed yet, an `opt_in` consent naming the exact
//! text agreed to, and a confirmation message in the outbox: a link by email, a code by text or
//! by a call that reads it. Until confirmed nothing else is sent; unconfirmed sign-ups expire.
//! Confirming records a `confirm` consent and queues the ballot's current status once, so a
//! voter who signs up late is not left in silence.

use super::Channel;
use crate::domain::Language;
use chrono::{DateTime, NaiveTime, Utc};
use sqlx::PgPool;
use std::net::IpAddr;

/// The version of the sign-up text (`signup.consent` in the locale files). Change it whenever
/// that text changes: consents name the version they agreed to, with the language.
pub const CONSENT_VERSION: &str = "signup-2026-12-01";

/// How long an email's confirmation link works, and a texted or spoken code.
pub const LINK_HOURS: i64 = 24;
pub const CODE_MINUTES: i64 = 15;

#[derive(Clone, Debug)]
pub struct NewSubscription {
    pub voter_id: i64,
    pub channel: Channel,
    /// An email address, or an E.164 number.
    pub address: String,
    pub language: Language,
    pub window_start: NaiveTime,
    pub window_end: NaiveTime,
    pub client_ip: Option<IpAddr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscribed {
    /// Waiting for the link or code just sent.
    Pending { id: i64 },
    /// Already confirmed at this address; its language and window are updated.
    Active { id: i64 },
}

/// Records a sign-up and queues its confirmation, whose secret (a link's or a code) is
/// `secret`; only `secret_hash` is kept on the subscription.
pub async fn subscribe(
    pool: &PgPool,
    new: &NewSubscription,
    secret: &str,
    secret_hash: &str,
    now: DateTime<Utc>,
) -> Result<Subscribed, sqlx::Error> {
    let expires = now
        + match new.channel {
            Channel::Email => chrono::Duration::hours(LINK_HOURS),
            Channel::Sms | Channel::Voice => chrono::Duration::minutes(CODE_MINUTES),
        };
    let ip = new.client_ip.map(ipnetwork::IpNetwork::from);
    let mut tx = pool.begin().await?;
    let county = sqlx::query_scalar!("select county_fips from voters where id = $1", new.voter_id)
        .fetch_one(&mut *tx)
        .await?;
    let existing = sqlx::query!(
        r#"select id, confirmed_at is not null as "confirmed!" from subscriptions
            where voter_id = $1 and channel = $2 and address = $3 and cancelled_at is null
            for update"#,
        new.voter_id,
        new.channel.code(),
        new.address
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (id, outcome) = match existing {
        Some(s) if s.confirmed => {
            sqlx::query!(
                "update subscriptions set language = $2, window_start = $3, window_end = $4
                  where id = $1",
                s.id,
                new.language.code(),
                new.window_start,
                new.window_end
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Subscribed::Active { id: s.id });
        }
        Some(s) => {
            // Asked again before confirming: a new secret replaces the old one.
            sqlx::query!(
                "update subscriptions set language = $2, window_start = $3, window_end = $4,
                        confirmation_secret_hash = $5, confirmation_expires_at = $6
                  where id = $1",
                s.id,
                new.language.code(),
                new.window_start,
                new.window_end,
                secret_hash,
                expires
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!(
                "update notifications set state = 'cancelled', last_error = 'a newer confirmation replaced it'
                  where subscription_id = $1 and kind = 'confirmation' and state = 'queued'",
                s.id
            )
            .execute(&mut *tx)
            .await?;
            (s.id, Subscribed::Pending { id: s.id })
        }
        None => {
            let id = sqlx::query_scalar!(
                "insert into subscriptions (voter_id, county_fips, channel, address, language,
                                            window_start, window_end, confirmation_secret_hash,
                                            confirmation_expires_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
                new.voter_id,
                county,
                new.channel.code(),
                new.address,
                new.language.code(),
                new.window_start,
                new.window_end,
                secret_hash,
                expires
            )
            .fetch_one(&mut *tx)
            .await?;
            (id, Subscribed::Pending { id })
        }
    };
    sqlx::query!(
        "insert into consents (subscription_id, county_fips, action, channel, address,
                               text_version, method, client_ip)
         values ($1, $2, 'opt_in', $3, $4, $5, 'web', $6)",
        id,
        county,
        new.channel.code(),
        new.address,
        format!("{CONSENT_VERSION}/{}", new.language.code()),
        ip
    )
    .execute(&mut *tx)
    .await?;
    if new.channel == Channel::Sms {
        // Signing up on the web is a new consent: a STOP texted earlier no longer holds.
        sqlx::query!("delete from sms_opt_outs where address = $1", new.address)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query!(
        "insert into notifications (county_fips, subscription_id, kind, channel, language,
                                    template, payload)
         values ($1, $2, 'confirmation', $3, $4, 'confirmation', $5)",
        county,
        id,
        new.channel.code(),
        new.language.code(),
        serde_json::json!({ "secret": secret })
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmation {
    Confirmed,
    AlreadyConfirmed,
    Wrong,
    Expired,
    /// No such subscription (or not this voter's, or cancelled).
    Unknown,
}

/// Confirms subscription `id` when `secret_hash` is its secret's and it has not expired. With
/// `voter_id`, only that voter's subscription (the code form on the status page).
pub async fn confirm(
    pool: &PgPool,
    id: i64,
    voter_id: Option<i64>,
    secret_hash: &str,
    now: DateTime<Utc>,
) -> Result<Confirmation, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(s) = sqlx::query!(
        r#"select voter_id, county_fips, channel, address, confirmed_at, confirmation_secret_hash,
                  confirmation_expires_at
             from subscriptions where id = $1 and cancelled_at is null for update"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .filter(|s| voter_id.is_none_or(|v| v == s.voter_id)) else {
        return Ok(Confirmation::Unknown);
    };
    if s.confirmed_at.is_some() {
        return Ok(Confirmation::AlreadyConfirmed);
    }
    if s.confirmation_expires_at.is_none_or(|at| at < now) {
        return Ok(Confirmation::Expired);
    }
    let matches = s
        .confirmation_secret_hash
        .as_deref()
        .is_some_and(|h| super::links::constant_time_eq(h.as_bytes(), secret_hash.as_bytes()));
    if !matches {
        return Ok(Confirmation::Wrong);
    }
    sqlx::query!(
        "update subscriptions set confirmed_at = $2, confirmation_secret_hash = null,
                confirmation_expires_at = null
          where id = $1",
        id,
        now
    )
    .execute(&mut *tx)
    .await?;
    let method = if s.channel == "email" { "email" } else { "web" };
    sqlx::query!(
        "insert into consents (subscription_id, county_fips, action, channel, address,
                               text_version, method)
         values ($1, $2, 'confirm', $3, $4, $5, $6)",
        id,
        s.county_fips,
        s.channel,
        s.address,
        CONSENT_VERSION,
        method
    )
    .execute(&mut *tx)
    .await?;
    // The ballot's current status, once: the latest event of each live ballot of the voter.
    sqlx::query!(
        r#"insert into notifications (county_fips, subscription_id, kind, ballot_id, event_id,
                                      channel, language, template)
           select b.county_fips, sub.id, 'current_status', b.id, e.id, sub.channel, sub.language,
                  e.status
           from subscriptions sub
           join ballots b on b.voter_id = sub.voter_id and b.status <> 'replaced'
           cross join lateral (
               select id, status from ballot_events
               where ballot_id = b.id order by occurred_at desc, id desc limit 1
           ) e
           where sub.id = $1
           on conflict (event_id, subscription_id) where event_id is not null do nothing"#,
        id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Confirmation::Confirmed)
}

/// Ends one of the voter's subscriptions from the status page. Returns whether it was active.
pub async fn cancel(pool: &PgPool, id: i64, voter_id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ended = sqlx::query!(
        r#"update subscriptions set cancelled_at = now(), cancelled_via = 'web'
            where id = $1 and voter_id = $2 and cancelled_at is null
        returning county_fips, channel, address"#,
        id,
        voter_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(s) = &ended {
        sqlx::query!(
            "insert into consents (subscription_id, county_fips, action, channel, address,
                                   text_version, method)
             values ($1, $2, 'opt_out', $3, $4, $5, 'web')",
            id,
            s.county_fips,
            s.channel,
            s.address,
            CONSENT_VERSION
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "update notifications set state = 'cancelled', last_error = 'cancelled by the voter'
              where subscription_id = $1 and state = 'queued'",
            id
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(ended.is_some())
}

/// A subscription as its voter sees it on the status page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnSubscription {
    pub id: i64,
    pub channel: Channel,
    pub address: String,
    pub language: Language,
    pub confirmed: bool,
}

pub async fn of_voter(
    db: impl sqlx::PgExecutor<'_>,
    voter_id: i64,
) -> Result<Vec<OwnSubscription>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select id, channel, address, language, confirmed_at is not null as "confirmed!"
             from subscriptions where voter_id = $1 and cancelled_at is null order by id"#,
        voter_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OwnSubscription {
            id: r.id,
            channel: Channel::parse(&r.channel).unwrap_or(Channel::Email),
            address: r.address,
            language: Language::parse(&r.language).unwrap_or_default(),
            confirmed: r.confirmed,
        })
        .collect())
}

/// Ends sign-ups never confirmed in time, with their queued messages. Any instance may run it.
pub async fn expire_unconfirmed(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ended = sqlx::query_scalar!(
        "update subscriptions set cancelled_at = now(), cancelled_via = 'expired'
          where confirmed_at is null and cancelled_at is null and confirmation_expires_at < now()
        returning id"
    )
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query!(
        "update notifications set state = 'cancelled', last_error = 'the sign-up expired'
          where subscription_id = any($1) and state = 'queued'",
        &ended
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(u64::try_from(ended.len()).unwrap_or(u64::MAX))
}
