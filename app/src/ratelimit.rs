//! Rate limits kept in PostgreSQL, so every app instance counts against the same limit.
//! Subjects (client addresses, a voter's look-up identity) are stored only as salted hashes.

use sqlx::PgExecutor;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit; try again after this many seconds.
    Limited {
        retry_after_secs: i64,
    },
}

/// Counts one hit for `subject` and says whether it is within the limit.
#[tracing::instrument(skip_all, fields(limit = limit.name), err)]
pub async fn hit(
    db: impl PgExecutor<'_>,
    limit: &Limit,
    subject: &str,
) -> Result<Decision, sqlx::Error> {
    let row = sqlx::query!(
        r#"insert into rate_limit_hits (key, window_start, hits)
           select $1 || ':' || encode(sha256(convert_to(s.value || $2, 'UTF8')), 'hex'),
                  date_bin(make_interval(secs => $3), now(), timestamptz '2000-01-01'), 1
           from app_secrets s where s.name = 'rate_limit_salt'
           on conflict (key, window_start) do update set hits = rate_limit_hits.hits + 1
           returning hits,
                     ceil(extract(epoch from window_start + make_interval(secs => $3) - now()))::bigint
                       as "retry_after!""#,
        limit.name,
        subject,
        f64::from(limit.window_secs),
    )
    .fetch_one(db)
    .await?;
    Ok(if row.hits > limit.max {
        Decision::Limited {
            retry_after_secs: row.retry_after.max(1),
        }
    } else {
        Decision::Allowed
    })
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

    const TEST: Limit = Limit {
        name: "test.limit",
        max: 3,
        window_secs: 60,
    };

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
        assert!((1..=60).contains(&retry_after_secs));
        assert_eq!(
            hit(&pool, &TEST, "203.0.113.8").await.unwrap(),
            Decision::Allowed
        );
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

    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn old_windows_are_purged(pool: PgPool) {
        hit(&pool, &TEST, "a").await.unwrap();
        sqlx::query("update rate_limit_hits set window_start = window_start - interval '2 hours'")
            .execute(&pool)
            .await
            .unwrap();
        hit(&pool, &TEST, "a").await.unwrap();
        assert_eq!(purge_expired(&pool).await.unwrap(), 1);
        assert_eq!(hit(&pool, &TEST, "a").await.unwrap(), Decision::Allowed);
    }
}
