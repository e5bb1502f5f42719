//! `make bench`: the notification figures, on the benchmark's database (the demo election).
//!
//! 1. Enqueue: a bulk status change of BENCH_NOTIFY_BALLOTS (1,000,000) ballots, every one with
//!    a confirmed subscription, through the spine in batches of 50,000 as an import makes them;
//!    then the outbox's part alone (`spine::enqueue`) for the same events.
//! 2. Dispatch: the delivery engine sending those messages to the stand-in telephony API (SMS)
//!    and SMTP server on 127.0.0.1, provider limits off, for a fixed number of messages.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]

use app::ballots::spine::{self, Cause, Proposal};
use app::domain::{BallotStatus, StatusChange};
use app::state::{Messaging, RedactedToken};
use chrono::Utc;
use secrecy::SecretString;
use server::config::{NotifyConfig, Telephony};
use server::notify::Engine;
use server::standin::{SmtpSink, TelephonyStandin};
use sqlx::postgres::PgPoolOptions;
use std::sync::Arc;
use std::time::Instant;

const BATCH: usize = 50_000;

fn env_or(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let ballots = env_or("BENCH_NOTIFY_BALLOTS", 1_000_000);
    let sms_messages = env_or("BENCH_DISPATCH_SMS", 300_000);
    let email_messages = env_or("BENCH_DISPATCH_EMAIL", 100_000);
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .after_connect(|conn, _| Box::pin(server::db::prepare_connection(conn, None)))
        .connect(&url)
        .await
        .unwrap();

    // The fixture (not timed): the ballots are "mailed", each voter subscribed by text (and,
    // for the email figure, by email), all day, so nothing waits for a window.
    let t = Instant::now();
    let ids: Vec<i64> = sqlx::query_scalar(
        "select id from ballots where status <> 'replaced' order by id limit $1",
    )
    .bind(ballots)
    .fetch_all(&pool)
    .await
    .unwrap();
    sqlx::query("update notifications set state = 'cancelled' where state = 'queued'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "update ballots set status = 'mailed', status_reason = null,
                status_at = now() - interval '2 days'
          where id = any($1)",
    )
    .bind(&ids)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into subscriptions (voter_id, county_fips, channel, address, language,
                                    window_start, window_end, confirmed_at)
         select b.voter_id, b.county_fips, 'sms', '+1213' || lpad((b.voter_id % 10000000)::text, 7, '0'),
                'en', '00:00', '23:59:59', now()
         from ballots b where b.id = any($1)
         on conflict do nothing",
    )
    .bind(&ids)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into subscriptions (voter_id, county_fips, channel, address, language,
                                    window_start, window_end, confirmed_at)
         select b.voter_id, b.county_fips, 'email', 'bench' || b.voter_id || '@example.org',
                'en', '00:00', '23:59:59', now()
         from ballots b where b.id = any($1) and b.id % 10 = 0
         on conflict do nothing",
    )
    .bind(&ids)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("analyze subscriptions")
        .execute(&pool)
        .await
        .unwrap();
    eprintln!(
        "fixture: {} ballots, subscriptions made in {:.1} s",
        ids.len(),
        t.elapsed().as_secs_f64()
    );

    // 1. The bulk change, through the spine.
    let now = Utc::now();
    let at = now - chrono::Duration::hours(1);
    let t = Instant::now();
    let mut pairs: Vec<(i64, i64)> = Vec::with_capacity(ids.len());
    // For the enqueue-alone figure: each ballot's voter and county (read now, not timed).
    let owners: std::collections::HashMap<i64, (i64, String)> =
        sqlx::query_as::<_, (i64, i64, String)>(
            "select id, voter_id, county_fips from ballots where id = any($1)",
        )
        .bind(&ids)
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, voter, county)| (id, (voter, county)))
        .collect();
    for chunk in ids.chunks(BATCH) {
        let proposals: Vec<Proposal> = chunk
            .iter()
            .map(|id| Proposal::new(*id, StatusChange::new(BallotStatus::Received, at)))
            .collect();
        let mut tx = pool.begin().await.unwrap();
        let out = spine::apply(&mut tx, &Cause::System, &proposals, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        for (p, o) in proposals.iter().zip(out) {
            if let spine::Outcome::Recorded { event_id, .. } = o {
                pairs.push((p.ballot_id, event_id));
            }
        }
    }
    let change = t.elapsed().as_secs_f64();
    // What autovacuum does on a deployment after a change this size (PostgreSQL on the CI
    // machine runs without it): the dispatch's plans need the outbox's statistics.
    analyze(&pool, "notifications, ballots").await;
    let queued: i64 =
        sqlx::query_scalar("select count(*) from notifications where state = 'queued'")
            .fetch_one(&pool)
            .await
            .unwrap();

    // The outbox's part alone: the same events enqueued again (into a rolled-back transaction).
    // The outbox's statements alone, as the change ran them: its messages are deleted (and the
    // table vacuumed, so that no dead twin of a key is left for the unique index to step
    // over), then queued again batch by batch, each batch committed as the change's were.
    let events: Vec<i64> = pairs.iter().map(|(_, e)| *e).collect();
    for chunk in events.chunks(BATCH) {
        sqlx::query("delete from notifications where event_id = any($1)")
            .bind(chunk)
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("vacuum analyze notifications")
        .execute(&pool)
        .await
        .unwrap();
    let mut enqueue = std::time::Duration::ZERO;
    for chunk in pairs.chunks(BATCH) {
        let notices: Vec<spine::Notice> = chunk
            .iter()
            .map(|(b, e)| spine::Notice {
                ballot_id: *b,
                event_id: *e,
                voter_id: owners[b].0,
                county_fips: owners[b].1.clone(),
                status: BallotStatus::Received,
            })
            .collect();
        let start = Instant::now();
        let mut tx = pool.begin().await.unwrap();
        spine::enqueue(&mut tx, &notices, now).await.unwrap();
        tx.commit().await.unwrap();
        enqueue += start.elapsed();
    }
    analyze(&pool, "notifications").await;
    println!(
        "{:<44} {:>12}",
        "notify: ballots changed in bulk",
        pairs.len()
    );
    println!("{:<44} {:>12}", "notify: messages queued", queued);
    println!(
        "{:<44} {:>11.1}s",
        "notify: bulk change incl. enqueue, wall", change
    );
    println!(
        "{:<44} {:>11.1}s",
        "notify: enqueue alone (outbox statements)",
        enqueue.as_secs_f64()
    );

    // 2. Dispatch to the stand-ins, limits off.
    let (smtp, smtp_port) = SmtpSink::start_counting(0).await.unwrap();
    let (phone, phone_port) = TelephonyStandin::start(0, "ACbench", "bench-token", false, None)
        .await
        .unwrap();
    let config = NotifyConfig {
        smtp_url: Some(SecretString::from(format!("smtp://127.0.0.1:{smtp_port}"))),
        email_from: "Ballot Tracker <ballots@example.org>".into(),
        telephony: Some(Telephony {
            base_url: format!("http://127.0.0.1:{phone_port}"),
            account_sid: "ACbench".into(),
            auth_token: SecretString::from("bench-token"),
            sms_from: "+15555550100".into(),
            voice_from: "+15555550100".into(),
        }),
        workers: 4,
        batch: env_or("BENCH_NOTIFY_BATCH", 1000),
        concurrency: usize::try_from(env_or("BENCH_NOTIFY_CONCURRENCY", 128)).unwrap(),
        max_attempts: 8,
        claim_lease: std::time::Duration::from_secs(45),
        email_per_second: 0,
        sms_per_second: 0,
        voice_per_second: 0,
    };
    let messaging = Messaging {
        public_base_url: "http://127.0.0.1:9".into(),
        telephony_auth_token: Some(RedactedToken("bench-token".into())),
        ..Messaging::default()
    };
    let engine = Arc::new(Engine::new(pool.clone(), config, messaging).unwrap());
    for (label, count, target) in [
        ("sms", &phone as &dyn Count, sms_messages),
        ("email", &smtp as &dyn Count, email_messages),
    ] {
        let workers = 4;
        let t = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..workers {
            let engine = Arc::clone(&engine);
            let name = format!("bench-{label}-{w}");
            let channel = app::messages::Channel::parse(label).unwrap();
            tasks.push(tokio::spawn(async move {
                loop {
                    let n = engine.tick_one(&name, channel).await.unwrap();
                    if n == 0 {
                        break;
                    }
                }
            }));
        }
        while i64::try_from(count.count()).unwrap() < target {
            if tasks.iter().all(|t| t.is_finished()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let secs = t.elapsed().as_secs_f64();
        let sent = count.count();
        for task in &tasks {
            task.abort();
        }
        println!(
            "{:<44} {:>12.0}",
            format!("notify: {label} dispatched per second"),
            sent as f64 / secs
        );
        println!(
            "{:<44} {:>12}",
            format!("notify: {label} dispatched (in {secs:.1} s)"),
            sent
        );
    }
}

async fn analyze(pool: &sqlx::PgPool, tables: &str) {
    sqlx::query(&format!("analyze {tables}"))
        .execute(pool)
        .await
        .unwrap();
}

trait Count {
    fn count(&self) -> usize;
}

impl Count for SmtpSink {
    fn count(&self) -> usize {
        SmtpSink::count(self)
    }
}

impl Count for TelephonyStandin {
    fn count(&self) -> usize {
        TelephonyStandin::count(self)
    }
}
