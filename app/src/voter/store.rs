//! Look-up and the ballot's story, from the database.

use super::{BallotStory, BallotView, ElectionDates, EventView, Identity};
use crate::counties::CountyContact;
use crate::domain::{BallotStatus, NotCountedReason};
use crate::ratelimit::{self, Decision, Limit};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::PgExecutor;

/// The voter an identity names: exactly one, never a confidential voter. Two matches (a voter
/// id used by two counties) find no one, exactly as no match does.
#[tracing::instrument(level = "debug", skip_all, err)]
pub async fn find_voter(
    db: impl PgExecutor<'_>,
    identity: &Identity,
) -> Result<Option<i64>, sqlx::Error> {
    let ids = match identity {
        Identity::ByName {
            first,
            last,
            date_of_birth,
            zip,
        } => {
            sqlx::query_scalar!(
                "select id from voters
                 where last_name_norm = $1 and first_name_norm = $2 and date_of_birth = $3
                   and residential_zip = $4 and not confidential
                 limit 2",
                last.as_str(),
                first.as_str(),
                date_of_birth,
                zip.as_str()
            )
            .fetch_all(db)
            .await?
        }
        Identity::ByVoterId {
            voter_id,
            date_of_birth,
        } => {
            sqlx::query_scalar!(
                "select id from voters
                 where county_voter_id = $1 and date_of_birth = $2 and not confidential
                 limit 2",
                voter_id,
                date_of_birth
            )
            .fetch_all(db)
            .await?
        }
    };
    Ok(match ids.as_slice() {
        [one] => Some(*one),
        _ => None,
    })
}

/// Some voter with a ballot, for a failed look-up's decoy read: the newest ballot's voter, who
/// is not confidential.
#[tracing::instrument(level = "debug", skip_all, err)]
pub async fn any_voter_with_ballot(db: impl PgExecutor<'_>) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "select b.voter_id from ballots b join voters v on v.id = b.voter_id
         where not v.confidential order by b.id desc limit 1"
    )
    .fetch_optional(db)
    .await
}

/// [`find_voter`] and the look-up's two rate limits (per client, per identity) in one read
/// statement, one round trip: counts a hit against each limit in `tally` (written in batches,
/// [`ratelimit::Tally`]), reads the written counts, and finds the voter (whose id is to be used
/// only when allowed). The counts are read by their stored keys, two probes of the table's
/// primary key: no function call, and a plan PostgreSQL keeps (design note (d2)).
#[tracing::instrument(level = "debug", skip_all, err)]
pub async fn find_voter_counting(
    conn: &mut sqlx::PgConnection,
    identity: &Identity,
    limits: &[(&Limit, &str); 2],
    tally: &ratelimit::Tally,
) -> Result<(Decision, Option<i64>), sqlx::Error> {
    let unwritten = tally.count(limits);
    let keys = tally.keys(&mut *conn, limits).await?;
    let windows = limits.map(|(l, _)| f64::from(l.window_secs));
    // The window each limit is in now, as the writes bin it; the voters sub-select has no outer
    // reference, so it runs once.
    let row = match identity {
        Identity::ByName {
            first,
            last,
            date_of_birth,
            zip,
        } => {
            sqlx::query_as!(
                Counted,
                r#"select array(select id from voters
                                where last_name_norm = $5 and first_name_norm = $6
                                  and date_of_birth = $7 and residential_zip = $8
                                  and not confidential
                                limit 2) as "ids!",
                          coalesce((select h.hits from rate_limit_hits h
                                    where h.key = $1 and h.window_start = w.one), 0) as "hits_one!",
                          coalesce((select h.hits from rate_limit_hits h
                                    where h.key = $2 and h.window_start = w.two), 0) as "hits_two!",
                          extract(epoch from now() - w.one)::float8 as "elapsed_one!",
                          extract(epoch from now() - w.two)::float8 as "elapsed_two!"
                   from (select date_bin(make_interval(secs => $3), now(), timestamptz '2000-01-01') as one,
                                date_bin(make_interval(secs => $4), now(), timestamptz '2000-01-01') as two) w"#,
                keys[0],
                keys[1],
                windows[0],
                windows[1],
                last.as_str(),
                first.as_str(),
                date_of_birth,
                zip.as_str()
            )
            .fetch_one(&mut *conn)
            .await?
        }
        Identity::ByVoterId {
            voter_id,
            date_of_birth,
        } => {
            sqlx::query_as!(
                Counted,
                r#"select array(select id from voters
                                where county_voter_id = $5 and date_of_birth = $6
                                  and not confidential
                                limit 2) as "ids!",
                          coalesce((select h.hits from rate_limit_hits h
                                    where h.key = $1 and h.window_start = w.one), 0) as "hits_one!",
                          coalesce((select h.hits from rate_limit_hits h
                                    where h.key = $2 and h.window_start = w.two), 0) as "hits_two!",
                          extract(epoch from now() - w.one)::float8 as "elapsed_one!",
                          extract(epoch from now() - w.two)::float8 as "elapsed_two!"
                   from (select date_bin(make_interval(secs => $3), now(), timestamptz '2000-01-01') as one,
                                date_bin(make_interval(secs => $4), now(), timestamptz '2000-01-01') as two) w"#,
                keys[0],
                keys[1],
                windows[0],
                windows[1],
                voter_id,
                date_of_birth
            )
            .fetch_one(&mut *conn)
            .await?
        }
    };
    let counted = [
        (row.hits_one, row.elapsed_one),
        (row.hits_two, row.elapsed_two),
    ];
    let decision = ratelimit::decide(
        limits,
        (0..2).map(|i| (limits[i].0.name, counted[i].0 + unwritten[i], counted[i].1)),
    );
    let voter = match row.ids.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    Ok((decision, voter))
}

/// What [`find_voter_counting`]'s statement reads: the voter ids found (at most two), and each
/// limit's written hits and seconds into its window.
struct Counted {
    ids: Vec<i64>,
    hits_one: i32,
    hits_two: i32,
    elapsed_one: f64,
    elapsed_two: f64,
}

fn decode<T, E: std::error::Error + Send + Sync + 'static>(
    r: Result<T, E>,
) -> Result<T, sqlx::Error> {
    r.map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn reason(code: Option<&str>) -> Result<Option<NotCountedReason>, sqlx::Error> {
    decode(code.map(NotCountedReason::parse).transpose())
}

/// The voter's ballots in their latest election, with every event, the county's contact block
/// and the election's deadlines, times in the county's zone. `None` when the voter has no
/// ballot yet.
#[tracing::instrument(level = "debug", skip_all, err)]
pub async fn story(
    db: &mut sqlx::PgConnection,
    voter_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<BallotStory>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select b.id, b.status, b.status_reason, b.expected_delivery,
                  b.replaces_ballot_id is not null as "replaces_earlier!",
                  e.name as election_name, e.election_day, e.receipt_deadline, e.cure_deadline,
                  c.fips, c.name as county_name, c.time_zone, c.office_name, c.phone, c.email,
                  c.website, c.office_address, c.office_hours
           from ballots b
           join elections e on e.id = b.election_id
           join counties c on c.fips = b.county_fips
           where b.voter_id = $1
             and b.election_id = (select b2.election_id from ballots b2
                                  join elections e2 on e2.id = b2.election_id
                                  where b2.voter_id = $1
                                  order by e2.election_day desc, e2.id desc limit 1)
           order by b.id"#,
        voter_id
    )
    .fetch_all(&mut *db)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let tz: Tz = first
        .time_zone
        .parse()
        .unwrap_or(chrono_tz::America::Los_Angeles);
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local();
    let today = now.with_timezone(&tz).date_naive();
    let cure_deadline = local(first.cure_deadline);
    let county = CountyContact {
        fips: first.fips.clone(),
        name: first.county_name.clone(),
        office_name: first.office_name.clone(),
        phone: first.phone.clone(),
        email: first.email.clone(),
        website: first.website.clone(),
        office_address: first.office_address.clone(),
        office_hours: first.office_hours.clone(),
    };
    let election = ElectionDates {
        name: first.election_name.clone(),
        election_day: first.election_day,
        receipt_deadline: first.receipt_deadline,
        cure_deadline,
        cure_days_left: (cure_deadline.date() - today).num_days(),
    };

    let ballot_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let events = sqlx::query!(
        "select ballot_id, status, reason, occurred_at, expected_delivery,
                postal_operation is not null as postal_scan
         from ballot_events where ballot_id = any($1) order by ballot_id, id",
        &ballot_ids
    )
    .fetch_all(&mut *db)
    .await?;

    let mut ballots = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut views = Vec::new();
        for e in events.iter().filter(|e| e.ballot_id == r.id) {
            views.push(EventView {
                status: decode(BallotStatus::parse(&e.status))?,
                reason: reason(e.reason.as_deref())?,
                occurred_at: local(e.occurred_at),
                expected_delivery: e.expected_delivery,
                postal_scan: e.postal_scan.unwrap_or(false),
            });
        }
        ballots.push(BallotView {
            status: decode(BallotStatus::parse(&r.status))?,
            reason: reason(r.status_reason.as_deref())?,
            expected_delivery: r.expected_delivery,
            replaces_earlier: r.replaces_earlier,
            events: views,
        });
    }
    // Read for a decoy too (a failed look-up reads a story and throws it away), so a failed
    // look-up still costs what a successful one does.
    let subscriptions = crate::messages::subscriptions::of_voter(&mut *db, voter_id)
        .await?
        .into_iter()
        .map(|s| super::SubscriptionLine {
            id: s.id,
            channel: s.channel.code().to_owned(),
            address: crate::messages::pages::mask_address(s.channel, &s.address),
            confirmed: s.confirmed,
        })
        .collect();
    Ok(Some(BallotStory {
        county,
        election,
        ballots,
        notify_token: String::new(),
        subscriptions,
    }))
}
