//! The spine's writer for a county's first file of an election: the same decisions as
//! [`spine::issue_and_apply`], written another way.
//!
//! A county's first ELG file names every ballot of the election in the county at once (a
//! million in Los Angeles). No ballot of the pair exists yet, so nothing needs locking or
//! reading back: each ballot's timeline is decided in memory by the status machine
//! ([`Timeline`]: its first status "issued", then every change in order, against the status
//! as it evolves), and the ballots, with the status they end in, and their events are
//! written by COPY into the pair's partition of its own (migration `20261206000004`), which is
//! then given its keys, indexes and reference checks and attached ([`FirstLoad::finish`]). Then,
//! as the spine does, the audit rows and the outbox. All of it in the caller's transaction:
//! if it does not commit, the partition never existed.
//!
//! The events (two for every ballot, at least) are written beside the ballots when the caller
//! can spare a second connection ([`EventsAside`]): filled and indexed in a transaction of their
//! own, which commits before the caller's attaches them (migration `20261209000001`). Until then
//! they are no one's: the app may write them and not read them, and a load that does not commit
//! leaves them to the next sweep.

use super::spine::{self, Cause, Proposal};
use crate::audit;
use crate::copy::{BinaryCopy, CopyChunk};
use crate::domain::{BallotStatus, Current, Refusal, StatusChange, transition};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, Postgres, Transaction};
use std::collections::BTreeMap;

/// COPY a table's buffer once it holds this many bytes.
const FLUSH_BYTES: usize = 8 << 20;
/// Notices queued per statement.
const NOTICE_BATCH: usize = 50_000;

/// One new ballot's timeline, decided by the status machine in memory.
#[derive(Clone, Debug)]
pub struct Timeline {
    pub id: i64,
    pub ballot: spine::NewBallot,
    current: Current,
    expected_delivery: Option<NaiveDate>,
    /// Its events after the first ("issued"), each with whether the voter is told of it.
    events: Vec<(Proposal, bool)>,
}

impl Timeline {
    /// A new ballot: the machine decides its first status, "issued", at `ballot.issued_at`.
    pub fn issue(id: i64, ballot: spine::NewBallot, now: DateTime<Utc>) -> Result<Self, Refusal> {
        let change = StatusChange::new(BallotStatus::Issued, ballot.issued_at);
        transition(None, change, now)?;
        Ok(Self {
            id,
            current: change.into_current(),
            ballot,
            expected_delivery: None,
            events: Vec::new(),
        })
    }

    /// Asks the machine for a change, against the status as it stands; recorded when accepted.
    pub fn propose(&mut self, proposal: Proposal, now: DateTime<Utc>) -> Result<(), Refusal> {
        let applied = transition(Some(self.current), proposal.change, now)?;
        self.current = proposal.change.into_current();
        if proposal.expected_delivery.is_some() {
            self.expected_delivery = proposal.expected_delivery;
        }
        self.events.push((proposal, applied.notify));
        Ok(())
    }

    /// The status of the last event the voter is told about, if any.
    pub fn notice(&self) -> Option<BallotStatus> {
        self.events
            .iter()
            .rev()
            .find(|(_, notify)| *notify)
            .map(|(p, _)| p.change.status)
    }
}

/// Drops the events written aside by first loads that did not commit (rolled back, failed or
/// killed); those of a load in progress are left. Returns how many were dropped. Run as an
/// import rolls back a first load, before every first load, and every few minutes by each
/// serving instance.
pub async fn sweep_asides(db: impl sqlx::PgExecutor<'_>) -> Result<i32, sqlx::Error> {
    // Not checked at build time: sqlx cannot tell the function's result is never null.
    sqlx::query_scalar("select ballot_events_aside_sweep()")
        .fetch_one(db)
        .await
}

/// A first load's events, written on a connection of their own into partition k's aside
/// table, in a transaction that commits once they are all written and indexed
/// ([`EventsAside::finish`]); the first load's transaction then attaches them. A task of its
/// own writes them, so that they go on while the next ballots are decided and sent.
pub struct EventsAside {
    /// Full buffers for the writer; two at most wait (16 MB).
    queue: Option<tokio::sync::mpsc::Sender<CopyChunk>>,
    /// Sends each buffer by COPY; hands the transaction back when the queue is closed.
    writer: tokio::task::JoinHandle<Result<Transaction<'static, Postgres>, sqlx::Error>>,
    partition: i32,
}

impl EventsAside {
    /// Makes partition k's aside table in the transaction given, which works for the county,
    /// and starts its writer.
    async fn begin(
        mut tx: Transaction<'static, Postgres>,
        partition: i32,
        county_fips: &str,
    ) -> Result<Self, sqlx::Error> {
        sqlx::query_scalar!("select set_config('app.county', $1, true)", county_fips)
            .fetch_one(&mut *tx)
            .await?;
        // Not checked at build time: the function returns `void`, which sqlx cannot name.
        sqlx::query("select ballot_events_aside_make($1, $2)")
            .bind(partition)
            .bind(county_fips)
            .execute(&mut *tx)
            .await?;
        let (queue, mut chunks) = tokio::sync::mpsc::channel::<CopyChunk>(2);
        let writer = tokio::spawn(async move {
            while let Some(chunk) = chunks.recv().await {
                chunk.send(&mut tx).await?;
            }
            Ok(tx)
        });
        Ok(Self {
            queue: Some(queue),
            writer,
            partition,
        })
    }

    /// Queues full buffers of events for the writer; waits only while two are waiting.
    pub async fn send(&mut self, chunks: Vec<CopyChunk>) -> Result<(), sqlx::Error> {
        for chunk in chunks {
            let sent = match &self.queue {
                Some(queue) => queue.send(chunk).await.is_ok(),
                None => false,
            };
            if !sent {
                // The writer stopped: its error says why.
                self.queue = None;
                return Err(match self.stopped().await {
                    Err(e) => e,
                    Ok(_) => sqlx::Error::Protocol("the events' writer stopped".into()),
                });
            }
        }
        Ok(())
    }

    /// The writer's end: its transaction, or why it stopped.
    async fn stopped(&mut self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        match (&mut self.writer).await {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(sqlx::Error::Protocol(format!("writing events: {e}"))),
        }
    }

    /// Sends the last events, builds their keys and indexes, and commits.
    async fn finish(mut self, last: Option<CopyChunk>) -> Result<(), sqlx::Error> {
        self.send(last.into_iter().collect()).await?;
        self.queue = None;
        let mut tx = self.stopped().await?;
        sqlx::query("select ballot_events_aside_index($1)")
            .bind(self.partition)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}

/// Full buffers to send: on the first load's connection, and on the events' own.
#[derive(Default)]
pub struct Full {
    pub main: Vec<CopyChunk>,
    pub aside: Vec<CopyChunk>,
}

/// A first load in progress: the pair's partition made, its tables being filled.
pub struct FirstLoad {
    partition: i32,
    /// Whether the events go to the partition's aside table (on their own connection).
    aside: bool,
    next_id: i64,
    end_id: i64,
    county_fips: String,
    cause: Cause,
    ballots: BinaryCopy,
    events: BinaryCopy,
    issued: usize,
    reissues: usize,
    by_status: BTreeMap<&'static str, usize>,
    /// (ballot, voter, status) of the last event each subscribed voter's ballot is told about.
    notices: Vec<(i64, i64, BallotStatus)>,
}

impl FirstLoad {
    /// Makes the pair's partition of its own; refused (a database error) when the pair has
    /// ballots already, or the transaction does not work for the county. Given a transaction
    /// on a second connection, the events are written there ([`EventsAside`], returned to the
    /// caller to send them); otherwise in `tx`.
    pub async fn begin(
        tx: &mut PgConnection,
        aside: Option<Transaction<'static, Postgres>>,
        cause: Cause,
        county_fips: &str,
        election_id: i64,
    ) -> Result<(Self, Option<EventsAside>), sqlx::Error> {
        let partition: i32 = sqlx::query_scalar!(
            r#"select ballot_partition_make($1, $2) as "k!""#,
            county_fips,
            election_id
        )
        .fetch_one(&mut *tx)
        .await?;
        let range = sqlx::query!(
            "select first_id, end_id from ballot_partitions where id = $1",
            partition
        )
        .fetch_one(&mut *tx)
        .await?;
        let aside = match aside {
            Some(side) => Some(EventsAside::begin(side, partition, county_fips).await?),
            None => None,
        };
        let events_table = match aside {
            Some(_) => format!("ballot_events_aside_{partition}"),
            None => format!("ballot_events_{partition}"),
        };
        let ballots = BinaryCopy::new(
            &format!("ballots_{partition}"),
            &[
                "id",
                "county_fips",
                "election_id",
                "voter_id",
                "ballot_number",
                "outbound_imb",
                "inbound_imb",
                "replaces_ballot_id",
                "status",
                "status_reason",
                "status_at",
                "expected_delivery",
            ],
        );
        // Event ids come from the column's default (`ballot_events_id_seq`), in the order
        // written: each ballot's events are written in time order, so its ids are too.
        let events = BinaryCopy::new(
            &events_table,
            &[
                "ballot_id",
                "county_fips",
                "status",
                "reason",
                "occurred_at",
                "source",
                "actor_user_id",
                "import_id",
                "api_token_id",
                "note",
                "postal_facility_zip",
                "postal_operation",
                "expected_delivery",
                "notify",
            ],
        );
        let load = Self {
            partition,
            aside: aside.is_some(),
            next_id: range.first_id,
            end_id: range.end_id,
            county_fips: county_fips.to_owned(),
            cause,
            ballots,
            events,
            issued: 0,
            reissues: 0,
            by_status: BTreeMap::new(),
            notices: Vec::new(),
        };
        Ok((load, aside))
    }

    /// The id for the next new ballot, from the partition's range.
    pub fn take_id(&mut self) -> Result<i64, sqlx::Error> {
        if self.next_id >= self.end_id {
            return Err(sqlx::Error::Protocol(
                "the partition's range of ballot ids is used up".into(),
            ));
        }
        self.next_id += 1;
        Ok(self.next_id - 1)
    }

    /// Buffers ballots decided in full (one voter's, say), with whether their voter has a
    /// subscription to tell.
    pub fn add(&mut self, timelines: &[Timeline], subscribed: bool) {
        for t in timelines {
            let b = &t.ballot;
            self.ballots
                .row()
                .int8(t.id)
                .text(&b.county_fips)
                .int8(b.election_id)
                .int8(b.voter_id)
                .text(&b.ballot_number)
                .opt_text(b.outbound_imb.as_deref())
                .opt_text(b.inbound_imb.as_deref())
                .opt_int8(b.replaces)
                .text(t.current.status.code())
                .opt_text(t.current.reason.map(|r| r.code()))
                .timestamptz(t.current.at)
                .opt_date(t.expected_delivery);
            self.issued += 1;
            if b.replaces.is_some() {
                self.reissues += 1;
            }
            let first = Proposal::new(t.id, StatusChange::new(BallotStatus::Issued, b.issued_at));
            self.event(&first, false);
            for (p, notify) in &t.events {
                self.event(p, *notify);
                *self.by_status.entry(p.change.status.code()).or_default() += 1;
            }
            if subscribed && let Some(status) = t.notice() {
                self.notices.push((t.id, b.voter_id, status));
            }
        }
    }

    fn event(&mut self, p: &Proposal, notify: bool) {
        let cause = &self.cause;
        self.events
            .row()
            .int8(p.ballot_id)
            .text(&self.county_fips)
            .text(p.change.status.code())
            .opt_text(p.change.reason.map(|r| r.code()))
            .timestamptz(p.change.occurred_at)
            .text(cause.source().code())
            .opt_int8(cause.user_id())
            .opt_int8(cause.import_id())
            .opt_int8(cause.api_token_id())
            .opt_text(p.note.as_deref())
            .opt_text(p.scan.as_ref().map(|s| s.facility_zip.as_str()))
            .opt_text(p.scan.as_ref().map(|s| s.operation.as_str()))
            .opt_date(p.expected_delivery)
            .bool(notify);
    }

    /// The buffers that hold enough to send, each taken as one COPY; sent by the caller when
    /// its connections are free (while the next ballots are decided).
    pub fn take_full(&mut self) -> Full {
        let mut full = Full::default();
        if self.ballots.len() >= FLUSH_BYTES {
            full.main.extend(self.ballots.take());
        }
        if self.events.len() >= FLUSH_BYTES {
            let to = if self.aside {
                &mut full.aside
            } else {
                &mut full.main
            };
            to.extend(self.events.take());
        }
        full
    }

    /// Sends the rest, builds the partition's keys and indexes (the events' beside the
    /// ballots', on their own connection, which then commits), checks its references and
    /// attaches it; then writes the audit rows and queues the notifications. Returns how many
    /// ballots' news queued a message.
    pub async fn finish(
        mut self,
        tx: &mut PgConnection,
        aside: Option<EventsAside>,
        now: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        let ballots = self.ballots.take();
        let (events, side_events) = match aside {
            Some(_) => (None, self.events.take()),
            None => (self.events.take(), None),
        };
        let partition = self.partition;
        let main = async {
            for chunk in ballots.into_iter().chain(events) {
                chunk.send(&mut *tx).await?;
            }
            // Not checked at build time: the function returns `void`, which sqlx cannot name.
            sqlx::query("select ballot_partition_index($1)")
                .bind(partition)
                .execute(&mut *tx)
                .await
        };
        match aside {
            Some(side) => {
                tokio::try_join!(main, side.finish(side_events))?;
            }
            None => {
                main.await?;
            }
        }
        sqlx::query("select ballot_partition_attach($1)")
            .bind(self.partition)
            .execute(&mut *tx)
            .await?;
        if self.issued > 0 {
            let entry = spine::issued_audit(
                &self.cause,
                Some(self.county_fips.clone()),
                self.issued,
                self.reissues,
            );
            audit::record(tx, entry).await?;
        }
        if !self.by_status.is_empty() {
            let entry =
                spine::changed_audit(&self.cause, Some(self.county_fips.clone()), &self.by_status);
            audit::record(tx, entry).await?;
        }
        let mut notified = 0u64;
        for batch in self.notices.chunks(NOTICE_BATCH) {
            let ids: Vec<i64> = batch.iter().map(|(id, _, _)| *id).collect();
            // Each ballot's last event the voter is told about: ids rise with time in a ballot.
            let last: std::collections::HashMap<i64, i64> = sqlx::query!(
                r#"select ballot_id, max(id) as "event_id!" from ballot_events
                   where ballot_id = any($1) and notify group by ballot_id"#,
                &ids
            )
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| (r.ballot_id, r.event_id))
            .collect();
            let mut notices: Vec<spine::Notice> = batch
                .iter()
                .filter_map(|(ballot_id, voter_id, status)| {
                    Some(spine::Notice {
                        ballot_id: *ballot_id,
                        event_id: *last.get(ballot_id)?,
                        voter_id: *voter_id,
                        county_fips: self.county_fips.clone(),
                        status: *status,
                    })
                })
                .collect();
            notices.sort_unstable_by_key(|n| (n.voter_id, n.ballot_id));
            notified += spine::enqueue(tx, &notices, now).await?.len() as u64;
        }
        Ok(notified)
    }
}
