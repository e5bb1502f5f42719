//! The dashboard's numbers: ballots by status, returns per day, not counted by reason, the cure
//! pipeline, subscribers by channel and language, messages by delivery state — for one county,
//! or every county for the state's roles; for one election or all.

use crate::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A labelled count: the code, the words staff read, and the number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub code: String,
    pub label: String,
    pub count: i64,
}

/// Ballots with a curable problem, and how far their cure got.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurePipeline {
    /// Ballots that were ever not counted for a curable reason.
    pub problems: i64,
    /// Of those, ballots whose voter was sent (or delivered) a message about it.
    pub notified: i64,
    /// Of those, ballots the voter cured.
    pub cured: i64,
    /// Still not counted for a curable reason, before the cure deadline.
    pub open: i64,
    /// Still not counted for a curable reason, past the cure deadline.
    pub expired: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribers {
    pub channel: String,
    pub language: String,
    pub count: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    /// "Los Angeles County" or "All counties".
    pub scope_label: String,
    /// The election's name, or `None` for all elections.
    pub election: Option<String>,
    pub by_status: Vec<Count>,
    /// Days (Pacific, YYYY-MM-DD) and the ballots received on each.
    pub returns_per_day: Vec<(String, i64)>,
    pub not_counted_by_reason: Vec<Count>,
    pub cure: CurePipeline,
    pub subscribers: Vec<Subscribers>,
    pub notifications: Vec<Count>,
    /// The charts, as SVG drawn on the server.
    pub charts: Charts,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charts {
    pub by_status: String,
    pub returns_per_day: String,
    pub not_counted_by_reason: String,
    pub cure: String,
    /// Subscribers by channel (the table has them by language too).
    pub subscribers: String,
    pub notifications: String,
}

impl Dashboard {
    pub fn ballots(&self) -> i64 {
        self.by_status.iter().map(|c| c.count).sum()
    }
}

#[server(endpoint = "admin/reports/dashboard")]
pub async fn load_dashboard(
    county: String,
    election_id: Option<i64>,
) -> Result<Dashboard, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let pool = pool?;
        let staff = crate::admin::frame::signed_in().await?;
        let scope = super::reports_scope(&staff)?;
        let county = super::county_for(&scope, &county)?;
        Ok(numbers::load(&pool, &scope, county.as_deref(), election_id).await?)
    })
    .await
}

#[cfg(feature = "ssr")]
pub mod numbers {
    use super::*;
    use crate::admin::roles::Scope;
    use crate::domain::{BallotStatus, Language, NotCountedReason, wording};
    use sqlx::PgPool;

    /// Every number on the dashboard, read in one transaction scoped to the account's counties.
    pub async fn load(
        pool: &PgPool,
        scope: &Scope,
        county: Option<&str>,
        election_id: Option<i64>,
    ) -> Result<Dashboard, sqlx::Error> {
        let mut tx = crate::admin::store::scoped(pool, scope).await?;
        let scope_label = match county {
            None => "All counties".to_owned(),
            Some(fips) => {
                let name: Option<String> =
                    sqlx::query_scalar!("select name from counties where fips = $1", fips)
                        .fetch_optional(&mut *tx)
                        .await?;
                format!("{} County", name.unwrap_or_else(|| fips.to_owned()))
            }
        };
        let election = match election_id {
            None => None,
            Some(id) => {
                sqlx::query_scalar!("select name from elections where id = $1", id)
                    .fetch_optional(&mut *tx)
                    .await?
            }
        };
        let statuses = sqlx::query!(
            r#"select status, count(*) as "n!" from ballots
               where ($1::text is null or county_fips = $1) and ($2::bigint is null or election_id = $2)
               group by status"#,
            county,
            election_id
        )
        .fetch_all(&mut *tx)
        .await?;
        // Every status, in the machine's order, zeros included: the table reads the same every day.
        let by_status: Vec<Count> = BallotStatus::ALL
            .into_iter()
            .map(|s| Count {
                code: s.code().to_owned(),
                label: wording::status(s, Language::En).headline.to_owned(),
                count: statuses
                    .iter()
                    .find(|r| r.status == s.code())
                    .map_or(0, |r| r.n),
            })
            .collect();
        let returns_per_day: Vec<(String, i64)> = sqlx::query!(
            r#"select to_char((e.occurred_at at time zone 'America/Los_Angeles')::date, 'YYYY-MM-DD') as "day!",
                      count(*) as "n!"
               from ballot_events e join ballots b on b.id = e.ballot_id
               where e.status = 'received'
                 and ($1::text is null or e.county_fips = $1) and ($2::bigint is null or b.election_id = $2)
               group by 1 order by 1"#,
            county,
            election_id
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.day, r.n))
        .collect();
        let reasons = sqlx::query!(
            r#"select status_reason as "reason!", count(*) as "n!" from ballots
               where status = 'not_counted'
                 and ($1::text is null or county_fips = $1) and ($2::bigint is null or election_id = $2)
               group by status_reason"#,
            county,
            election_id
        )
        .fetch_all(&mut *tx)
        .await?;
        let not_counted_by_reason: Vec<Count> = NotCountedReason::ALL
            .into_iter()
            .map(|r| Count {
                code: r.code().to_owned(),
                label: wording::reason(r, Language::En).headline.to_owned(),
                count: reasons
                    .iter()
                    .find(|x| x.reason == r.code())
                    .map_or(0, |x| x.n),
            })
            .collect();
        let curable: Vec<String> = NotCountedReason::ALL
            .into_iter()
            .filter(|r| r.is_curable())
            .map(|r| r.code().to_owned())
            .collect();
        let cure = sqlx::query!(
            r#"with problem as (
                   select distinct e.ballot_id from ballot_events e join ballots b on b.id = e.ballot_id
                   where e.status = 'not_counted' and e.reason = any($3)
                     and ($1::text is null or e.county_fips = $1) and ($2::bigint is null or b.election_id = $2)
               )
               select
                 (select count(*) from problem) as "problems!",
                 (select count(*) from problem p where exists (
                     select 1 from ballot_events e join notifications n on n.event_id = e.id
                     where e.ballot_id = p.ballot_id and e.status = 'not_counted' and e.reason = any($3)
                       and n.state in ('sent', 'delivered'))) as "notified!",
                 (select count(*) from problem p where exists (
                     select 1 from ballot_events e where e.ballot_id = p.ballot_id and e.status = 'cured')) as "cured!",
                 (select count(*) from ballots b join elections el on el.id = b.election_id
                  where b.status = 'not_counted' and b.status_reason = any($3) and now() <= el.cure_deadline
                    and ($1::text is null or b.county_fips = $1) and ($2::bigint is null or b.election_id = $2)) as "open!",
                 (select count(*) from ballots b join elections el on el.id = b.election_id
                  where b.status = 'not_counted' and b.status_reason = any($3) and now() > el.cure_deadline
                    and ($1::text is null or b.county_fips = $1) and ($2::bigint is null or b.election_id = $2)) as "expired!"
            "#,
            county,
            election_id,
            &curable
        )
        .fetch_one(&mut *tx)
        .await?;
        let subscribers = sqlx::query_as!(
            Subscribers,
            r#"select channel, language, count(*) as "count!" from subscriptions
               where confirmed_at is not null and cancelled_at is null
                 and ($1::text is null or county_fips = $1)
               group by channel, language order by channel, language"#,
            county
        )
        .fetch_all(&mut *tx)
        .await?;
        let states = sqlx::query!(
            r#"select n.state, count(*) as "n!" from notifications n left join ballots b on b.id = n.ballot_id
               where ($1::text is null or n.county_fips = $1) and ($2::bigint is null or b.election_id = $2)
               group by n.state"#,
            county,
            election_id
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let notifications: Vec<Count> = super::super::MESSAGE_STATES
            .into_iter()
            .map(|s| Count {
                code: s.to_owned(),
                label: message_state_label(s).to_owned(),
                count: states.iter().find(|r| r.state == s).map_or(0, |r| r.n),
            })
            .collect();
        let pairs = |counts: &[Count]| -> Vec<(String, i64)> {
            counts.iter().map(|c| (c.label.clone(), c.count)).collect()
        };
        let cure = CurePipeline {
            problems: cure.problems,
            notified: cure.notified,
            cured: cure.cured,
            open: cure.open,
            expired: cure.expired,
        };
        let stages = [
            ("Problem found", cure.problems),
            ("Voter notified", cure.notified),
            ("Cured", cure.cured),
            ("Still open", cure.open),
            ("Expired", cure.expired),
        ]
        .map(|(l, n)| (l.to_owned(), n));
        let channels: Vec<(String, i64)> = ["email", "sms", "voice"]
            .into_iter()
            .map(|c| {
                let n = subscribers
                    .iter()
                    .filter(|s| s.channel == c)
                    .map(|s| s.count)
                    .sum();
                (c.to_owned(), n)
            })
            .collect();
        use super::super::charts::{bars, columns};
        let charts = Charts {
            by_status: bars(&pairs(&by_status)),
            returns_per_day: columns(&returns_per_day),
            not_counted_by_reason: bars(&pairs(&not_counted_by_reason)),
            cure: bars(&stages),
            subscribers: bars(&channels),
            notifications: bars(&pairs(&notifications)),
        };
        Ok(Dashboard {
            scope_label,
            election,
            by_status,
            returns_per_day,
            not_counted_by_reason,
            cure,
            subscribers,
            notifications,
            charts,
        })
    }

    pub fn message_state_label(state: &str) -> &'static str {
        match state {
            "queued" => "Waiting to send",
            "sending" => "Sending",
            "sent" => "Sent",
            "delivered" => "Delivered",
            "failed" => "Failed, will retry",
            "dead" => "Failed for good",
            "superseded" => "Replaced by a newer message",
            "cancelled" => "Cancelled",
            _ => "Other",
        }
    }
}
