//! The one path a ballot's status changes by. In the caller's transaction it:
//! 1. locks the ballots (in id order, so concurrent batches cannot deadlock),
//! 2. asks the status machine about every proposed change, in order,
//! 3. appends the accepted events to the timelines,
//! 4. updates each ballot's current status,
//! 5. writes the audit row, and
//! 6. queues the notifications the events cause (the outbox): of a ballot's changes in one
//!    batch, only the last the voter is told about; a message that a later one overtakes before
//!    it goes out is passed over when a worker claims it, so a voter gets the latest news
//!    rather than a burst.
//!
//! Single changes (staff, API) and bulk ones (imports, scans) both come through here; the work
//! is done set-wise so a million-row import costs a handful of statements, not a million. A
//! county's first file of an election, whose ballots are all new, is decided by the same machine
//! one ballot at a time in memory and written by COPY instead ([`super::first_load`]), with the
//! audit rows and the outbox written as here.

use super::EventSource;
use crate::audit::{self, AuditAction, AuditEntry};
use crate::domain::{Current, NotCountedReason, Refusal, StatusChange, transition};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};

/// Who or what causes a batch of changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    Staff {
        user_id: i64,
    },
    Import {
        import_id: i64,
    },
    PostalScan {
        import_id: Option<i64>,
        api_token_id: Option<i64>,
    },
    Api {
        api_token_id: i64,
    },
    /// The system itself: demo data, maintenance.
    System,
}

impl Cause {
    pub(crate) fn source(&self) -> EventSource {
        match self {
            Cause::Staff { .. } => EventSource::Staff,
            Cause::Import { .. } => EventSource::Import,
            Cause::PostalScan { .. } => EventSource::PostalScan,
            Cause::Api { .. } => EventSource::Api,
            Cause::System => EventSource::System,
        }
    }
    pub(crate) fn user_id(&self) -> Option<i64> {
        match self {
            Cause::Staff { user_id } => Some(*user_id),
            _ => None,
        }
    }
    pub(crate) fn import_id(&self) -> Option<i64> {
        match self {
            Cause::Import { import_id } => Some(*import_id),
            Cause::PostalScan { import_id, .. } => *import_id,
            _ => None,
        }
    }
    pub(crate) fn api_token_id(&self) -> Option<i64> {
        match self {
            Cause::Api { api_token_id } => Some(*api_token_id),
            Cause::PostalScan { api_token_id, .. } => *api_token_id,
            _ => None,
        }
    }
    pub(crate) fn actor_kind(&self) -> audit::ActorKind {
        match self {
            Cause::Staff { .. } => audit::ActorKind::User,
            Cause::Import { .. }
            | Cause::PostalScan {
                import_id: Some(_), ..
            } => audit::ActorKind::Import,
            Cause::Api { .. } | Cause::PostalScan { .. } => audit::ActorKind::Api,
            Cause::System => audit::ActorKind::System,
        }
    }
}

/// Details a postal scan adds to its event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostalScan {
    pub facility_zip: String,
    pub operation: String,
}

/// One proposed change to one ballot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub ballot_id: i64,
    pub change: StatusChange,
    pub expected_delivery: Option<NaiveDate>,
    pub scan: Option<PostalScan>,
    /// Staff's note; required of staff by the portal, optional elsewhere.
    pub note: Option<String>,
}

impl Proposal {
    pub fn new(ballot_id: i64, change: StatusChange) -> Self {
        Self {
            ballot_id,
            change,
            expected_delivery: None,
            scan: None,
            note: None,
        }
    }
}

/// A ballot to issue: its first status, "issued", is asked of the machine like any other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBallot {
    pub voter_id: i64,
    pub county_fips: String,
    pub election_id: i64,
    pub ballot_number: String,
    pub outbound_imb: Option<String>,
    pub inbound_imb: Option<String>,
    /// The ballot this one replaces; it must already be "replaced" (apply that first, in the
    /// same transaction).
    pub replaces: Option<i64>,
    pub issued_at: DateTime<Utc>,
}

/// Issues a ballot: the ballot row, its first event and the audit row, in the caller's
/// transaction. Returns the new ballot's id, or the machine's refusal (a planned date).
pub async fn issue(
    tx: &mut PgConnection,
    cause: &Cause,
    new: &NewBallot,
    now: DateTime<Utc>,
) -> Result<Result<i64, Refusal>, sqlx::Error> {
    let mut issued = issue_many(tx, cause, std::slice::from_ref(new), now).await?;
    Ok(issued.pop().unwrap_or(Err(Refusal::MustStartIssued)))
}

/// Issues ballots set-wise (a reissue, tests): for each, the machine decides its first status,
/// "issued"; the accepted ones get their ballot row and first event, and the batch one audit
/// row. Returns one result per ballot, in order.
pub async fn issue_many(
    tx: &mut PgConnection,
    cause: &Cause,
    news: &[NewBallot],
    now: DateTime<Utc>,
) -> Result<Vec<Result<i64, Refusal>>, sqlx::Error> {
    // Ids by county and election: a pair with a partition of its own takes them from its range.
    let mut wanted: HashMap<(&str, i64), usize> = HashMap::new();
    for new in news {
        *wanted
            .entry((new.county_fips.as_str(), new.election_id))
            .or_default() += 1;
    }
    let mut taken: HashMap<(&str, i64), std::vec::IntoIter<i64>> = HashMap::new();
    for ((county, election), n) in wanted {
        let ids = reserve_ballot_ids(tx, county, election, n).await?;
        taken.insert((county, election), ids.into_iter());
    }
    let mut issuing = Vec::with_capacity(news.len());
    for ballot in news {
        let id = taken
            .get_mut(&(ballot.county_fips.as_str(), ballot.election_id))
            .and_then(Iterator::next)
            .ok_or_else(|| sqlx::Error::Protocol("no ballot id was reserved".into()))?;
        issuing.push(Issuing {
            id,
            ballot: ballot.clone(),
        });
    }
    Ok(issue_and_apply(tx, cause, &issuing, &[], now).await?.0)
}

/// A ballot to issue, with the id taken for it beforehand ([`reserve_ballot_ids`]) so that
/// changes in the same batch can name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuing {
    pub id: i64,
    pub ballot: NewBallot,
}

/// Takes ids up front for `n` new ballots of one county and election: from the range of the
/// pair's partition of its own when it has one (its sequence, migration `20261207000001`), else
/// from `ballots_id_seq` (the first partition).
pub async fn reserve_ballot_ids(
    tx: &mut PgConnection,
    county_fips: &str,
    election_id: i64,
    n: usize,
) -> Result<Vec<i64>, sqlx::Error> {
    let count = i32::try_from(n)
        .map_err(|_| sqlx::Error::Protocol(format!("cannot take {n} ballot ids at once")))?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let own = sqlx::query_scalar!(
        r#"select id as "id!" from ballot_partition_take_ids($1, $2, $3) as t(id)"#,
        county_fips,
        election_id,
        count
    )
    .fetch_all(&mut *tx)
    .await?;
    if !own.is_empty() {
        return Ok(own);
    }
    sqlx::query_scalar!(
        r#"select nextval('ballots_id_seq') as "id!"
           from generate_series(1, $1::bigint)"#,
        i64::from(count)
    )
    .fetch_all(&mut *tx)
    .await
}

/// What became of one proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Recorded { event_id: i64, notified: bool },
    Refused(Refusal),
    UnknownBallot,
}

struct Locked {
    county_fips: String,
    voter_id: i64,
    current: Current,
    expected_delivery: Option<NaiveDate>,
}

struct Accepted {
    index: usize,
    event_id: i64,
    county_fips: String,
    notify: bool,
}

/// Records whatever of `proposals` the status machine accepts, with their audit row and
/// notifications, in the caller's transaction. Returns one outcome per proposal, in order.
pub async fn apply(
    tx: &mut PgConnection,
    cause: &Cause,
    proposals: &[Proposal],
    now: DateTime<Utc>,
) -> Result<Vec<Outcome>, sqlx::Error> {
    Ok(issue_and_apply(tx, cause, &[], proposals, now).await?.1)
}

/// What a batch recorded: one result per new ballot (its id, or the machine's refusal) and one
/// outcome per proposal, in order.
pub type Recorded = (Vec<Result<i64, Refusal>>, Vec<Outcome>);

/// The spine itself. Issues `issuing` and applies `proposals` (which may name the ballots being
/// issued: a county file that lists a new ballot as mailed), in the caller's transaction: the
/// machine decides every new ballot's first status and every change in order, against the
/// status as it evolves within the batch; then, set-wise, existing ballots are updated, new
/// ones are written once with the status they end the batch in, every event is appended, the
/// notifications are queued and the audit rows written. Returns one result per new ballot and
/// one outcome per proposal, in order.
#[tracing::instrument(skip_all, fields(issuing = issuing.len(), proposals = proposals.len(), source = cause.source().code()), err)]
pub async fn issue_and_apply(
    tx: &mut PgConnection,
    cause: &Cause,
    issuing: &[Issuing],
    proposals: &[Proposal],
    now: DateTime<Utc>,
) -> Result<Recorded, sqlx::Error> {
    // New ballots: "issued" is asked of the machine like any other status.
    let mut issued = Vec::with_capacity(issuing.len());
    let mut fresh: Vec<&Issuing> = Vec::with_capacity(issuing.len());
    for new in issuing {
        let change = StatusChange::new(crate::domain::BallotStatus::Issued, new.ballot.issued_at);
        match transition(None, change, now) {
            Ok(_) => {
                issued.push(Ok(new.id));
                fresh.push(new);
            }
            Err(refusal) => issued.push(Err(refusal)),
        }
    }
    // Ids reserved for new ballots name no row yet: a refused one stays unknown.
    let new_ids: HashSet<i64> = issuing.iter().map(|n| n.id).collect();
    let fresh_ids: HashSet<i64> = fresh.iter().map(|n| n.id).collect();
    let mut locked = lock(tx, proposals, &new_ids).await?;
    let before: HashMap<i64, Current> = locked.iter().map(|(id, l)| (*id, l.current)).collect();
    for new in &fresh {
        locked.insert(
            new.id,
            Locked {
                county_fips: new.ballot.county_fips.clone(),
                voter_id: new.ballot.voter_id,
                current: Current {
                    status: crate::domain::BallotStatus::Issued,
                    reason: None,
                    at: new.ballot.issued_at,
                },
                expected_delivery: None,
            },
        );
    }

    // Decide, in order, against the status as it evolves within this batch.
    let mut outcomes = Vec::with_capacity(proposals.len());
    let mut decided: Vec<(usize, String, bool)> = Vec::new();
    for (index, p) in proposals.iter().enumerate() {
        let Some(ballot) = locked.get_mut(&p.ballot_id) else {
            outcomes.push(Outcome::UnknownBallot);
            continue;
        };
        match transition(Some(ballot.current), p.change, now) {
            Ok(applied) => {
                ballot.current = p.change.into_current();
                if p.expected_delivery.is_some() {
                    ballot.expected_delivery = p.expected_delivery;
                }
                decided.push((index, ballot.county_fips.clone(), applied.notify));
                outcomes.push(Outcome::Recorded {
                    event_id: 0,
                    notified: false,
                });
            }
            Err(refusal) => outcomes.push(Outcome::Refused(refusal)),
        }
    }
    if fresh.is_empty() && decided.is_empty() {
        return Ok((issued, outcomes));
    }

    let mut ids = reserve_event_ids(tx, fresh.len() + decided.len())
        .await?
        .into_iter();
    let first_events: Vec<(Proposal, i64)> = fresh
        .iter()
        .zip(ids.by_ref())
        .map(|(new, event_id)| {
            let change =
                StatusChange::new(crate::domain::BallotStatus::Issued, new.ballot.issued_at);
            (Proposal::new(new.id, change), event_id)
        })
        .collect();
    let accepted: Vec<Accepted> = decided
        .into_iter()
        .zip(ids)
        .map(|((index, county_fips, notify), event_id)| Accepted {
            index,
            event_id,
            county_fips,
            notify,
        })
        .collect();
    // Existing ballots first: a reissue's earlier ballot is "replaced" before its successor
    // is written (one live ballot per voter).
    update_ballots(tx, &locked, &accepted, proposals, &fresh_ids).await?;
    insert_ballots(tx, &fresh, &locked).await?;
    let events: Vec<EventRow<'_>> = first_events
        .iter()
        .zip(&fresh)
        .map(|((p, event_id), new)| EventRow {
            proposal: p,
            event_id: *event_id,
            county_fips: &new.ballot.county_fips,
            notify: false,
        })
        .chain(accepted.iter().map(|a| EventRow {
            proposal: &proposals[a.index],
            event_id: a.event_id,
            county_fips: &a.county_fips,
            notify: a.notify,
        }))
        .collect();
    insert_events(tx, cause, &events).await?;
    // The last notifying event of each ballot in the batch.
    let mut latest: HashMap<i64, Notice> = HashMap::new();
    for a in accepted.iter().filter(|a| a.notify) {
        let p = &proposals[a.index];
        let Some(ballot) = locked.get(&p.ballot_id) else {
            continue;
        };
        latest.insert(
            p.ballot_id,
            Notice {
                ballot_id: p.ballot_id,
                event_id: a.event_id,
                voter_id: ballot.voter_id,
                county_fips: a.county_fips.clone(),
                status: p.change.status,
            },
        );
    }
    let mut notices: Vec<Notice> = latest.into_values().collect();
    // In the voters' order, not the map's: each voter's subscriptions are probed through their
    // index, and neighbouring voters share its pages.
    notices.sort_unstable_by_key(|n| (n.voter_id, n.ballot_id));
    let notified = enqueue(tx, &notices, now).await?;
    if !fresh.is_empty() {
        audit::record(tx, issue_audit(cause, &fresh)).await?;
    }
    if !accepted.is_empty() {
        write_audit(tx, cause, proposals, &accepted, &before).await?;
    }

    for a in &accepted {
        outcomes[a.index] = Outcome::Recorded {
            event_id: a.event_id,
            notified: notified.contains(&a.event_id),
        };
    }
    Ok((issued, outcomes))
}

/// The county of a batch's rows, when they are all of one.
fn one_county<'a>(mut counties: impl Iterator<Item = &'a str>) -> Option<String> {
    let first = counties.next()?;
    counties.all(|c| c == first).then(|| first.to_owned())
}

/// The audit row of a batch of new ballots: the ballot itself when there is one.
fn issue_audit(cause: &Cause, fresh: &[&Issuing]) -> AuditEntry {
    match fresh {
        [new] => AuditEntry {
            county_fips: Some(new.ballot.county_fips.clone()),
            entity: Some(("ballot", new.id.to_string())),
            after: Some(serde_json::json!({
                "election_id": new.ballot.election_id,
                "ballot_number": new.ballot.ballot_number,
                "replaces": new.ballot.replaces,
            })),
            ..AuditEntry::new(
                cause.actor_kind(),
                cause.user_id(),
                AuditAction::BallotIssued,
            )
        },
        many => issued_audit(
            cause,
            one_county(many.iter().map(|n| n.ballot.county_fips.as_str())),
            many.len(),
            many.iter().filter(|n| n.ballot.replaces.is_some()).count(),
        ),
    }
}

/// The audit row of a batch of new ballots, counted.
pub(crate) fn issued_audit(
    cause: &Cause,
    county_fips: Option<String>,
    ballots: usize,
    reissues: usize,
) -> AuditEntry {
    AuditEntry {
        county_fips,
        entity: cause.import_id().map(|id| ("import", id.to_string())),
        after: Some(serde_json::json!({ "ballots": ballots, "reissues": reissues })),
        ..AuditEntry::new(
            cause.actor_kind(),
            cause.user_id(),
            AuditAction::BallotIssued,
        )
    }
}

/// The audit row of a batch of status changes, counted by status.
pub(crate) fn changed_audit(
    cause: &Cause,
    county_fips: Option<String>,
    by_status: &std::collections::BTreeMap<&str, usize>,
) -> AuditEntry {
    let events: usize = by_status.values().sum();
    AuditEntry {
        county_fips,
        entity: cause.import_id().map(|id| ("import", id.to_string())),
        after: Some(serde_json::json!({ "events": events, "by_status": by_status })),
        ..AuditEntry::new(
            cause.actor_kind(),
            cause.user_id(),
            AuditAction::BallotStatusesChanged,
        )
    }
}

/// Writes new ballots with the status the batch leaves them in.
async fn insert_ballots(
    tx: &mut PgConnection,
    fresh: &[&Issuing],
    locked: &HashMap<i64, Locked>,
) -> Result<(), sqlx::Error> {
    if fresh.is_empty() {
        return Ok(());
    }
    let n = fresh.len();
    let (mut ids, mut counties, mut elections, mut voters, mut numbers) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut outbound: Vec<Option<String>> = Vec::with_capacity(n);
    let mut inbound: Vec<Option<String>> = Vec::with_capacity(n);
    let mut replaces: Vec<Option<i64>> = Vec::with_capacity(n);
    let (mut statuses, mut reasons, mut times, mut expected) = (
        Vec::with_capacity(n),
        Vec::<Option<String>>::with_capacity(n),
        Vec::with_capacity(n),
        Vec::<Option<NaiveDate>>::with_capacity(n),
    );
    for new in fresh {
        let Some(l) = locked.get(&new.id) else {
            continue;
        };
        let b = &new.ballot;
        ids.push(new.id);
        counties.push(b.county_fips.clone());
        elections.push(b.election_id);
        voters.push(b.voter_id);
        numbers.push(b.ballot_number.clone());
        outbound.push(b.outbound_imb.clone());
        inbound.push(b.inbound_imb.clone());
        replaces.push(b.replaces);
        statuses.push(l.current.status.code().to_owned());
        reasons.push(l.current.reason.map(|r| r.code().to_owned()));
        times.push(l.current.at);
        expected.push(l.expected_delivery);
    }
    sqlx::query!(
        r#"insert into ballots
             (id, county_fips, election_id, voter_id, ballot_number, outbound_imb, inbound_imb,
              replaces_ballot_id, status, status_reason, status_at, expected_delivery)
           select * from unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                                $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[],
                                $11::timestamptz[], $12::date[])"#,
        &ids,
        &counties,
        &elections,
        &voters,
        &numbers,
        &outbound as &[Option<String>],
        &inbound as &[Option<String>],
        &replaces as &[Option<i64>],
        &statuses,
        &reasons as &[Option<String>],
        &times,
        &expected as &[Option<NaiveDate>],
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Locks the existing ballots `proposals` name (not the ids reserved for new ones).
async fn lock(
    tx: &mut PgConnection,
    proposals: &[Proposal],
    new_ids: &HashSet<i64>,
) -> Result<HashMap<i64, Locked>, sqlx::Error> {
    let mut ids: Vec<i64> = proposals
        .iter()
        .map(|p| p.ballot_id)
        .filter(|id| !new_ids.contains(id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        r#"select id, county_fips, voter_id, status, status_reason, status_at, expected_delivery
           from ballots where id = any($1) order by id for update"#,
        &ids
    )
    .fetch_all(&mut *tx)
    .await?;
    rows.into_iter()
        .map(|r| {
            let status = crate::domain::BallotStatus::parse(&r.status)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            let reason = r
                .status_reason
                .as_deref()
                .map(NotCountedReason::parse)
                .transpose()
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok((
                r.id,
                Locked {
                    county_fips: r.county_fips,
                    voter_id: r.voter_id,
                    current: Current {
                        status,
                        reason,
                        at: r.status_at,
                    },
                    expected_delivery: r.expected_delivery,
                },
            ))
        })
        .collect()
}

/// Takes a block of event ids up front, so each event's id is known without relying on the
/// order of `RETURNING`.
pub async fn reserve_event_ids(tx: &mut PgConnection, n: usize) -> Result<Vec<i64>, sqlx::Error> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    sqlx::query_scalar!(
        r#"select nextval('ballot_events_id_seq') as "id!" from generate_series(1, $1::bigint)"#,
        n
    )
    .fetch_all(&mut *tx)
    .await
}

/// One event to append.
struct EventRow<'a> {
    proposal: &'a Proposal,
    event_id: i64,
    county_fips: &'a str,
    notify: bool,
}

async fn insert_events(
    tx: &mut PgConnection,
    cause: &Cause,
    events: &[EventRow<'_>],
) -> Result<(), sqlx::Error> {
    let n = events.len();
    let mut ids = Vec::with_capacity(n);
    let mut ballot_ids = Vec::with_capacity(n);
    let mut counties = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut reasons: Vec<Option<String>> = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    let mut notes: Vec<Option<String>> = Vec::with_capacity(n);
    let mut zips: Vec<Option<String>> = Vec::with_capacity(n);
    let mut operations: Vec<Option<String>> = Vec::with_capacity(n);
    let mut expected: Vec<Option<NaiveDate>> = Vec::with_capacity(n);
    let mut notify = Vec::with_capacity(n);
    for e in events {
        let p = e.proposal;
        ids.push(e.event_id);
        ballot_ids.push(p.ballot_id);
        counties.push(e.county_fips.to_owned());
        statuses.push(p.change.status.code().to_owned());
        reasons.push(p.change.reason.map(|r| r.code().to_owned()));
        times.push(p.change.occurred_at);
        notes.push(p.note.clone());
        zips.push(p.scan.as_ref().map(|s| s.facility_zip.clone()));
        operations.push(p.scan.as_ref().map(|s| s.operation.clone()));
        expected.push(p.expected_delivery);
        notify.push(e.notify);
    }
    sqlx::query!(
        r#"insert into ballot_events
             (id, ballot_id, county_fips, status, reason, occurred_at, source,
              actor_user_id, import_id, api_token_id, note, postal_facility_zip,
              postal_operation, expected_delivery, notify)
           select u.id, u.ballot_id, u.county_fips, u.status, u.reason, u.occurred_at, $12,
                  $13, $14, $15, u.note, u.zip, u.operation, u.expected, u.notify
           from unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                       $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::date[],
                       $11::bool[])
                as u(id, ballot_id, county_fips, status, reason, occurred_at, note, zip,
                     operation, expected, notify)"#,
        &ids,
        &ballot_ids,
        &counties,
        &statuses,
        &reasons as &[Option<String>],
        &times,
        &notes as &[Option<String>],
        &zips as &[Option<String>],
        &operations as &[Option<String>],
        &expected as &[Option<NaiveDate>],
        &notify,
        cause.source().code(),
        cause.user_id(),
        cause.import_id(),
        cause.api_token_id(),
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn update_ballots(
    tx: &mut PgConnection,
    locked: &HashMap<i64, Locked>,
    accepted: &[Accepted],
    proposals: &[Proposal],
    fresh: &HashSet<i64>,
) -> Result<(), sqlx::Error> {
    let mut touched: Vec<i64> = accepted
        .iter()
        .map(|a| proposals[a.index].ballot_id)
        .filter(|id| !fresh.contains(id))
        .collect();
    touched.sort_unstable();
    touched.dedup();
    if touched.is_empty() {
        return Ok(());
    }
    let mut statuses = Vec::with_capacity(touched.len());
    let mut reasons: Vec<Option<String>> = Vec::with_capacity(touched.len());
    let mut times = Vec::with_capacity(touched.len());
    let mut expected: Vec<Option<NaiveDate>> = Vec::with_capacity(touched.len());
    for id in &touched {
        let Some(l) = locked.get(id) else { continue };
        statuses.push(l.current.status.code().to_owned());
        reasons.push(l.current.reason.map(|r| r.code().to_owned()));
        times.push(l.current.at);
        expected.push(l.expected_delivery);
    }
    sqlx::query!(
        r#"update ballots b
           set status = u.status, status_reason = u.reason, status_at = u.at,
               expected_delivery = u.expected, updated_at = now()
           from unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::date[])
                as u(id, status, reason, at, expected)
           where b.id = u.id"#,
        &touched,
        &statuses,
        &reasons as &[Option<String>],
        &times,
        &expected as &[Option<NaiveDate>],
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// An event the voter is told about, with what its messages need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub ballot_id: i64,
    pub event_id: i64,
    pub voter_id: i64,
    pub county_fips: String,
    pub status: crate::domain::BallotStatus,
}

/// Queues one message per confirmed, active subscription of each notice's voter (earlier
/// messages about the same ballots are passed over when claimed). Returns the events that
/// queued a message. The notices carry what the spine already holds (the locked ballot, the new
/// event), so this reads only the subscriptions. Public so that `make bench` can time the
/// outbox's part of a bulk change alone; changes call it only through [`apply`].
pub async fn enqueue(
    tx: &mut PgConnection,
    notices: &[Notice],
    now: DateTime<Utc>,
) -> Result<HashSet<i64>, sqlx::Error> {
    if notices.is_empty() {
        return Ok(Default::default());
    }
    let ballot_ids: Vec<i64> = notices.iter().map(|n| n.ballot_id).collect();
    let event_ids: Vec<i64> = notices.iter().map(|n| n.event_id).collect();
    let voter_ids: Vec<i64> = notices.iter().map(|n| n.voter_id).collect();
    let counties: Vec<String> = notices.iter().map(|n| n.county_fips.clone()).collect();
    let statuses: Vec<String> = notices.iter().map(|n| n.status.code().to_owned()).collect();
    // One statement: each voter's subscriptions are probed through their index (a lateral
    // subquery, which `offset 0` keeps from being flattened: joined as sets, a custom plan
    // hashed every subscription), and a message queued for each. The events are the spine's own
    // new ones, so none has a message yet: a plain insert, not `on conflict do nothing`, which
    // cost a fifth more (speculative insertion). Asked again for an event that has its messages
    // (a bug), the unique index refuses the write and the change fails whole.
    //
    // Not a prepared statement (`persistent(false)`): each batch is planned for its own arrays
    // and the tables' size now. PostgreSQL otherwise settles on a generic plan after five runs
    // on a connection and keeps it; one made while the tables were nearly empty (a new
    // deployment) reads them whole once per notice when they have grown (the bench's batch of
    // 50,000 ran for more than twelve minutes instead of half a second).
    //
    // Earlier messages about the same ballot are not looked for here: the worker that claims
    // one passes it over when a later one exists (`outbox::details`). Looking
    // here cost a probe of the outbox per subscription and kept the subscriptions' rows in a
    // temporary store for a second reading (README, design note (b)).
    let rows = sqlx::query_scalar!(
        r#"insert into notifications
             (county_fips, subscription_id, kind, ballot_id, event_id, channel, language,
              template, not_before)
           select u.county_fips, s.id, 'status', u.ballot_id, u.event_id, s.channel, s.language,
                  u.status, $6
           from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])
                as u(ballot_id, event_id, voter_id, county_fips, status)
           cross join lateral (
                    select s.id, s.channel, s.language from subscriptions s
                    where s.voter_id = u.voter_id
                      and s.confirmed_at is not null and s.cancelled_at is null
                    offset 0) s
           returning event_id as "event_id!""#,
        &ballot_ids,
        &event_ids,
        &voter_ids,
        &counties,
        &statuses,
        now
    )
    .persistent(false)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().collect())
}

async fn write_audit(
    tx: &mut PgConnection,
    cause: &Cause,
    proposals: &[Proposal],
    accepted: &[Accepted],
    before: &HashMap<i64, Current>,
) -> Result<(), sqlx::Error> {
    let entry = match accepted {
        [one] => {
            let p = &proposals[one.index];
            AuditEntry {
                county_fips: Some(one.county_fips.clone()),
                entity: Some(("ballot", p.ballot_id.to_string())),
                before: before.get(&p.ballot_id).map(|c| serde_json::json!(c)),
                after: Some(serde_json::json!({
                    "current": p.change.into_current(),
                    "event_id": one.event_id,
                    "note": p.note,
                })),
                ..AuditEntry::new(
                    cause.actor_kind(),
                    cause.user_id(),
                    AuditAction::BallotStatusChanged,
                )
            }
        }
        many => {
            let mut by_status: std::collections::BTreeMap<&str, usize> = Default::default();
            for a in many {
                *by_status
                    .entry(proposals[a.index].change.status.code())
                    .or_default() += 1;
            }
            changed_audit(
                cause,
                one_county(many.iter().map(|a| a.county_fips.as_str())),
                &by_status,
            )
        }
    };
    audit::record(tx, entry).await
}

#[cfg(test)]
#[path = "spine_tests.rs"]
mod tests;
