//! Rate limits kept in PostgreSQL, so every app instance counts against the same limit.
//! Subjects (client addresses, a voter's look-up identity) are stored only as salted hashes.

use sqlx::PgExecutor;
use std::collections::HashMap;

/// A fixed-window limit: at most `max` hits per `window_secs` for one subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub name: &'static str,
    pub max: i32,
    pub window_secs: i32,
}

/// Look-ups from one client address.
pub const LOOKUP_PER_CLIENT: Limit = Limit {
    name: "lookup.client",
    max: 20,
    window_secs: 60,
};
/// Look-ups of one identity (name, birth date and ZIP, or voter id), from anywhere.
pub const LOOKUP_PER_IDENTITY: Limit = Limit {
    name: "lookup.identity",
    max: 20,
    window_secs: 60,
};

/// Staff sign-in attempts from one client address.
pub const SIGN_IN_PER_CLIENT: Limit = Limit {
    name: "signin.client",
    max: 30,
    window_secs: 15 * 60,
};
/// Sign-in attempts at one account, from anywhere: past this the account is locked until the
/// window ends, whatever the password.
pub const SIGN_IN_PER_ACCOUNT: Limit = Limit {
    name: "signin.account",
    max: 10,
    window_secs: 15 * 60,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit; try again after this many seconds.
    Limited {
        retry_after_secs: i64,
    },
}

/// Counts one hit for `subject` and says whether it is within the limit.
pub async fn hit(
    db: impl PgExecutor<'_>,
    limit: &Limit,
    subject: &str,
) -> Result<Decision, sqlx::Error> {
    hit_each(db, &[(limit, subject)]).await
}

/// Counts one hit against each limit, in one statement (one round trip), and says whether all
/// are within their limits; when not, the longest wait. Rows are locked in the order given, the
/// same for every caller, so concurrent callers cannot deadlock.
#[tracing::instrument(skip_all, err)]
pub async fn hit_each(
    db: impl PgExecutor<'_>,
    hits: &[(&Limit, &str)],
) -> Result<Decision, sqlx::Error> {
    let (names, subjects, windows) = arguments(hits);
    let rows = sqlx::query!(
        r#"select limit_name as "limit_name!", hit_count as "hit_count!",
                  elapsed_secs as "elapsed_secs!"
           from rate_limit_hit($1, $2, $3)"#,
        &names as &[&str],
        &subjects as &[&str],
        &windows,
    )
    .fetch_all(db)
    .await?;
    Ok(decide(
        hits,
        rows.iter()
            .map(|r| (r.limit_name.as_str(), r.hit_count, r.elapsed_secs)),
    ))
}

/// Hits this instance has counted and not yet written to PostgreSQL, per limit and subject.
///
/// Voters' look-ups count here rather than writing a row each: [`flush`] adds the sums to
/// `rate_limit_hits` every [`FLUSH_EVERY`], and a look-up's decision is the written count (read
/// in the statement that finds the voter) plus this instance's unwritten hits, its own included.
/// One instance is exact; across instances a limit can be passed only by the hits other
/// instances counted in the last [`FLUSH_EVERY`].
#[derive(Debug, Default)]
pub struct Tally {
    pending: std::sync::Mutex<Pending>,
    /// The installation's salt (`app_secrets`), read once: look-ups name the stored keys
    /// themselves ([`stored_key`]), so their read is two index probes and no function call.
    salt: tokio::sync::OnceCell<String>,
}

/// (limit name, window in seconds, subject)
type TallyKey = (&'static str, i32, String);

/// An instance's unwritten hits: those counted since the last flush began, and those a flush
/// is writing. Hits being written still count until their statement has committed, so a
/// look-up that reads the written counts during a flush misses none of them.
#[derive(Debug, Default)]
struct Pending {
    open: HashMap<TallyKey, i32>,
    writing: HashMap<TallyKey, i32>,
}

/// The most (limit, subject) pairs an instance holds unwritten. A flush every
/// [`FLUSH_EVERY`] writes far fewer; while PostgreSQL is unreachable flushes fail and the hits
/// stay, and look-ups with ever new identities would otherwise grow the tally without bound.
pub const MAX_PENDING_SUBJECTS: usize = 100_000;

/// How often each instance writes its counted hits.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl Tally {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic elsewhere while holding the lock leaves counts that are still counts.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one hit against each limit and returns, per limit in order, this instance's hits
    /// not yet written, this one included. Past [`MAX_PENDING_SUBJECTS`], a subject not yet
    /// held is not kept: its hit counts as its first.
    pub fn count(&self, hits: &[(&Limit, &str)]) -> Vec<i32> {
        let mut pending = self.pending();
        hits.iter()
            .map(|(limit, subject)| {
                let key = (limit.name, limit.window_secs, (*subject).to_owned());
                let writing = pending.writing.get(&key).copied().unwrap_or(0);
                let full = pending.open.len() >= MAX_PENDING_SUBJECTS;
                let n = match pending.open.get_mut(&key) {
                    Some(n) => {
                        *n += 1;
                        *n
                    }
                    None if full => 1,
                    None => {
                        pending.open.insert(key, 1);
                        1
                    }
                };
                n + writing
            })
            .collect()
    }

    /// The stored key of each (limit, subject), in order, as the SQL functions that write the
    /// hits make it. The salt is read from the database on first use.
    pub async fn keys(
        &self,
        conn: &mut sqlx::PgConnection,
        hits: &[(&Limit, &str)],
    ) -> Result<Vec<String>, sqlx::Error> {
        let salt = self
            .salt
            .get_or_try_init(|| async {
                sqlx::query_scalar!("select value from app_secrets where name = 'rate_limit_salt'")
                    .fetch_one(&mut *conn)
                    .await
            })
            .await?;
        Ok(hits
            .iter()
            .map(|(limit, subject)| stored_key(salt, limit, subject))
            .collect())
    }

    /// The hits to write, which keep counting as `writing` until [`Writing`] ends: written,
    /// or given back. Nothing while another flush is writing: that one writes them.
    fn take(&self) -> HashMap<TallyKey, i32> {
        let mut pending = self.pending();
        if !pending.writing.is_empty() {
            return HashMap::new();
        }
        pending.writing = std::mem::take(&mut pending.open);
        pending.writing.clone()
    }

    /// The hits being written have committed: the written counts hold them now.
    fn written(&self) {
        self.pending().writing.clear();
    }

    /// Puts back hits a failed write took, so none is lost.
    fn give_back(&self) {
        let mut pending = self.pending();
        for (key, n) in std::mem::take(&mut pending.writing) {
            *pending.open.entry(key).or_insert(0) += n;
        }
    }
}

/// Writes the hits `tally` counted since the last flush, in one statement; on failure they stay
/// counted for the next. Returns how many (limit, subject) rows it wrote.
#[tracing::instrument(skip_all, err)]
pub async fn flush(db: impl PgExecutor<'_>, tally: &Tally) -> Result<usize, sqlx::Error> {
    let taken = tally.take();
    if taken.is_empty() {
        return Ok(0);
    }
    // Should this future be dropped mid-write, the hits go back to be written next time.
    let mut writing = Writing {
        tally,
        committed: false,
    };
    let names: Vec<&str> = taken.keys().map(|k| k.0).collect();
    let windows: Vec<f64> = taken.keys().map(|k| f64::from(k.1)).collect();
    let subjects: Vec<&str> = taken.keys().map(|k| k.2.as_str()).collect();
    let counts: Vec<i32> = taken.values().copied().collect();
    let written = sqlx::query!(
        "select rate_limit_add($1, $2, $3, $4)",
        &names as &[&str],
        &subjects as &[&str],
        &windows,
        &counts
    )
    .execute(db)
    .await;
    writing.committed = written.is_ok();
    drop(writing);
    written.map(|_| taken.len())
}

/// A flush's hits under way: when it ends, the written counts hold them, or (the write failed
/// or was dropped) they go back to be written next time.
struct Writing<'a> {
    tally: &'a Tally,
    committed: bool,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if self.committed {
            self.tally.written();
        } else {
            self.tally.give_back();
        }
    }
}

/// Flushes `tally` every [`FLUSH_EVERY`] until `stop` turns true, then once more.
pub fn spawn_flusher(
    pool: sqlx::PgPool,
    tally: std::sync::Arc<Tally>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => {}
            }
            // The error is logged by `flush`'s instrumentation; the hits stay counted.
            let _ = flush(&pool, &tally).await;
            if *stop.borrow() {
                break;
            }
        }
    })
}

/// The key a (limit, subject) is stored under: the limit's name and the hex SHA-256 of the
/// salt followed by the subject — what `rate_limit_hit` and `rate_limit_add` compute in SQL.
pub fn stored_key(salt: &str, limit: &Limit, subject: &str) -> String {
    format!(
        "{}:{}",
        limit.name,
        crate::api::tokens::hash(&format!("{salt}{subject}"))
    )
}

/// The arguments of the `rate_limit_hit` and `rate_limit_add` SQL functions, for statements
/// that call them.
pub fn arguments<'a>(hits: &[(&'a Limit, &'a str)]) -> (Vec<&'a str>, Vec<&'a str>, Vec<f64>) {
    (
        hits.iter().map(|(l, _)| l.name).collect(),
        hits.iter().map(|(_, s)| *s).collect(),
        hits.iter().map(|(l, _)| f64::from(l.window_secs)).collect(),
    )
}

/// The decision from the counts of each limit: (limit name, hits, seconds into window).
pub fn decide<'a>(
    hits: &[(&Limit, &str)],
    counted: impl IntoIterator<Item = (&'a str, i32, f64)>,
) -> Decision {
    let mut wait = None;
    for (name, count, elapsed) in counted {
        let Some((limit, _)) = hits.iter().find(|(l, _)| l.name == name) else {
            continue;
        };
        if count > limit.max {
            // Whole seconds until the window ends, at least one.
            let left = (f64::from(limit.window_secs) - elapsed).ceil().max(1.0) as i64;
            wait = Some(wait.map_or(left, |w: i64| w.max(left)));
        }
    }
    match wait {
        Some(retry_after_secs) => Decision::Limited { retry_after_secs },
        None => Decision::Allowed,
    }
}

/// Deletes windows that ended more than an hour ago. Any instance may run it at any time.
#[tracing::instrument(skip_all, err)]
pub async fn purge_expired(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query!("delete from rate_limit_hits where window_start < now() - interval '1 hour'")
            .execute(db)
            .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::PgPool;

    // Windows are fixed, so a test whose hits straddle a window's end would see the count
    // restart: the tests' windows are a year long.
    const YEAR: i32 = 365 * 24 * 3600;
    const TEST: Limit = Limit {
        name: "test.limit",
        max: 3,
        window_secs: YEAR,
    };
    /// A second, stricter limit, for hits counted against two at once.
    const OTHER: Limit = Limit {
        name: "test.other",
        max: 1,
        window_secs: YEAR - 1,
    };

    /// The written hits of each (limit, subject) in its current window, read by the keys a
    /// look-up computes ([`Tally::keys`]): so the tests below also show that those are the keys
    /// the SQL functions write.
    async fn written(pool: &PgPool, hits: &[(&Limit, &str)]) -> Vec<(String, i32)> {
        let mut conn = pool.acquire().await.unwrap();
        let keys = Tally::default().keys(&mut conn, hits).await.unwrap();
        let mut out = Vec::new();
        for ((limit, _), key) in hits.iter().zip(keys) {
            let n: Option<i32> = sqlx::query_scalar(
                "select hits from rate_limit_hits where key = $1
                   and window_start = date_bin(make_interval(secs => $2), now(), timestamptz '2000-01-01')",
            )
            .bind(&key)
            .bind(f64::from(limit.window_secs))
            .fetch_optional(&mut *conn)
            .await
            .unwrap();
            out.push((limit.name.to_owned(), n.unwrap_or(0)));
        }
        out
    }

    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn the_limit_holds_per_subject(pool: PgPool) {
        for _ in 0..3 {
            assert_eq!(
                hit(&pool, &TEST, "203.0.113.7").await.unwrap(),
                Decision::Allowed
            );
        }
        let Decision::Limited { retry_after_secs } =
            hit(&pool, &TEST, "203.0.113.7").await.unwrap()
        else {
            panic!("the fourth hit in a window must be limited")
        };
        assert!((1..=i64::from(YEAR)).contains(&retry_after_secs));
        assert_eq!(
            hit(&pool, &TEST, "203.0.113.8").await.unwrap(),
            Decision::Allowed
        );
    }

    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn several_limits_count_in_one_statement(pool: PgPool) {
        let both = [(&TEST, "client"), (&OTHER, "identity")];
        assert_eq!(hit_each(&pool, &both).await.unwrap(), Decision::Allowed);
        // The second hit is within TEST's 3 but over OTHER's 1.
        let Decision::Limited { retry_after_secs } = hit_each(&pool, &both).await.unwrap() else {
            panic!("the stricter limit decides")
        };
        assert!((1..=i64::from(YEAR)).contains(&retry_after_secs));
        // Each limit counted each hit.
        let counts: Vec<i32> = sqlx::query_scalar("select hits from rate_limit_hits order by key")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(counts, vec![2, 2]);
    }

    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn subjects_are_stored_only_as_salted_hashes(pool: PgPool) {
        hit(&pool, &TEST, "jose|ramirez|1979-06-11|90033")
            .await
            .unwrap();
        let keys: Vec<String> = sqlx::query_scalar("select key from rate_limit_hits")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].starts_with("test.limit:"));
        assert!(!keys[0].contains("ramirez") && !keys[0].contains("1979"));
        // Salted: not the plain SHA-256 of the subject.
        let plain: String = sqlx::query_scalar(
            "select encode(sha256('jose|ramirez|1979-06-11|90033'::bytea), 'hex')",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(!keys[0].ends_with(&plain));
    }

    /// While nothing is written (PostgreSQL unreachable), new subjects stop being held past the
    /// bound; those held still count.
    #[test]
    fn the_unwritten_tally_is_bounded() {
        let tally = Tally::default();
        for n in 0..MAX_PENDING_SUBJECTS {
            tally.count(&[(&TEST, &format!("identity {n}"))]);
        }
        assert_eq!(tally.count(&[(&TEST, "identity 7")]), vec![2]);
        assert_eq!(tally.count(&[(&TEST, "someone new")]), vec![1]);
        assert_eq!(tally.count(&[(&TEST, "someone new")]), vec![1]);
        assert_eq!(tally.pending().open.len(), MAX_PENDING_SUBJECTS);
    }

    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn counted_hits_are_written_in_batches_and_read_back(pool: PgPool) {
        let tally = Tally::default();
        let both = [(&TEST, "client"), (&OTHER, "identity")];
        // This instance's unwritten hits, this one included.
        assert_eq!(tally.count(&both), vec![1, 1]);
        assert_eq!(tally.count(&both[..1]), vec![2]);
        // While a flush writes them, its hits still count.
        let writing = tally.take();
        assert_eq!(writing.len(), 2);
        assert!(tally.take().is_empty(), "one flush at a time");
        assert_eq!(tally.count(&both[..1]), vec![3]);
        tally.give_back();
        assert_eq!(tally.count(&both[..1]), vec![4]);
        // Nothing written yet: the current windows read 0.
        assert_eq!(
            written(&pool, &both).await,
            vec![("test.limit".into(), 0), ("test.other".into(), 0)]
        );
        assert_eq!(flush(&pool, &tally).await.unwrap(), 2);
        assert_eq!(flush(&pool, &tally).await.unwrap(), 0, "nothing twice");
        assert_eq!(
            written(&pool, &both).await,
            vec![("test.limit".into(), 4), ("test.other".into(), 1)]
        );
        // Later hits add to the written ones; the counts start again after a flush.
        assert_eq!(tally.count(&both), vec![1, 1]);
        flush(&pool, &tally).await.unwrap();
        assert_eq!(
            written(&pool, &both).await,
            vec![("test.limit".into(), 5), ("test.other".into(), 2)]
        );
        // The same hashed keys as `hit_each` writes: both ways count against one limit.
        assert!(matches!(
            hit_each(&pool, &both).await.unwrap(),
            Decision::Limited { .. }
        ));
        let rows: i64 = sqlx::query_scalar("select count(*) from rate_limit_hits")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(rows, 2);
    }

    /// A failed write keeps the hits counted for the next one.
    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn hits_stay_counted_when_a_write_fails(pool: PgPool) {
        let tally = Tally::default();
        tally.count(&[(&TEST, "a")]);
        tally.count(&[(&TEST, "a")]);
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("lock table rate_limit_hits in access exclusive mode nowait")
            .execute(&mut *tx)
            .await
            .unwrap();
        let mut other = pool.acquire().await.unwrap();
        sqlx::query("set lock_timeout = '50ms'")
            .execute(&mut *other)
            .await
            .unwrap();
        assert!(flush(&mut *other, &tally).await.is_err());
        tx.rollback().await.unwrap();
        assert_eq!(flush(&mut *other, &tally).await.unwrap(), 1);
        let hits: i32 = sqlx::query_scalar("select hits from rate_limit_hits")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(hits, 2);
    }

    /// The purge keeps windows that began within the hour, so its test needs short windows.
    const MINUTE: Limit = Limit {
        name: "test.minute",
        max: 3,
        window_secs: 60,
    };

    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn old_windows_are_purged(pool: PgPool) {
        hit(&pool, &MINUTE, "a").await.unwrap();
        sqlx::query("update rate_limit_hits set window_start = window_start - interval '2 hours'")
            .execute(&pool)
            .await
            .unwrap();
        hit(&pool, &MINUTE, "a").await.unwrap();
        assert_eq!(purge_expired(&pool).await.unwrap(), 1);
        assert_eq!(hit(&pool, &MINUTE, "a").await.unwrap(), Decision::Allowed);
    }
}
