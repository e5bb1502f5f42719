//! Tokens, callers and idempotency keys, on the server.

use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use super::Scope;

/// A token that authenticated a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub token_id: i64,
    pub county_fips: String,
    pub scopes: Vec<String>,
}

impl Caller {
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.code())
    }
}

/// A token as listed (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub id: i64,
    pub county_fips: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The lower-case hex SHA-256 of a text: what is kept of an API token, and (of the salt and
/// the subject) a rate-limit key's hash, which SQL computes the same way.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn set_county(tx: &mut PgConnection, county: &str) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!("select set_config('app.county', $1, true)", county)
        .fetch_one(&mut *tx)
        .await?;
    Ok(())
}

/// Creates a token for `county`; returns its id and the token, which is shown once and kept
/// nowhere (only its hash is).
pub async fn create(
    pool: &PgPool,
    county: &str,
    name: &str,
    scopes: &[Scope],
    created_by: Option<i64>,
) -> Result<(i64, String), sqlx::Error> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!(
        "bt_{}",
        secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let scopes: Vec<String> = scopes.iter().map(|s| s.code().to_owned()).collect();
    let mut tx = pool.begin().await?;
    set_county(&mut tx, county).await?;
    let id = sqlx::query_scalar!(
        r#"insert into api_tokens (county_fips, name, token_hash, scopes, created_by)
           values ($1, $2, $3, $4, $5) returning id"#,
        county,
        name,
        hash(&token),
        &scopes,
        created_by
    )
    .fetch_one(&mut *tx)
    .await?;
    let entry = crate::audit::AuditEntry {
        county_fips: Some(county.to_owned()),
        entity: Some(("api_token", id.to_string())),
        after: Some(serde_json::json!({ "name": name, "scopes": scopes })),
        ..crate::audit::AuditEntry::new(
            if created_by.is_some() {
                crate::audit::ActorKind::User
            } else {
                crate::audit::ActorKind::System
            },
            created_by,
            crate::audit::AuditAction::ApiTokenCreated,
        )
    };
    crate::audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok((id, token))
}

/// Revokes a token of `county`; false when there is no such live token.
pub async fn revoke(
    pool: &PgPool,
    county: &str,
    id: i64,
    by: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    set_county(&mut tx, county).await?;
    let done = sqlx::query!(
        "update api_tokens set revoked_at = now() where id = $1 and revoked_at is null",
        id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if done {
        let entry = crate::audit::AuditEntry {
            county_fips: Some(county.to_owned()),
            entity: Some(("api_token", id.to_string())),
            ..crate::audit::AuditEntry::new(
                if by.is_some() {
                    crate::audit::ActorKind::User
                } else {
                    crate::audit::ActorKind::System
                },
                by,
                crate::audit::AuditAction::ApiTokenRevoked,
            )
        };
        crate::audit::record(&mut tx, entry).await?;
    }
    tx.commit().await?;
    Ok(done)
}

pub async fn list(pool: &PgPool, county: &str) -> Result<Vec<Listed>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    set_county(&mut tx, county).await?;
    let rows = sqlx::query_as!(
        Listed,
        r#"select id, county_fips, name, scopes, created_at, last_used_at, revoked_at
           from api_tokens where county_fips = $1 order by id"#,
        county
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// The live token a bearer string names, marked as used.
pub async fn authenticate(pool: &PgPool, bearer: &str) -> Result<Option<Caller>, sqlx::Error> {
    if !bearer.starts_with("bt_") || bearer.len() != 67 {
        return Ok(None);
    }
    let mut tx = pool.begin().await?;
    // Any county: the token decides which.
    set_county(&mut tx, "*").await?;
    let found = sqlx::query!(
        r#"update api_tokens set last_used_at = now()
           where token_hash = $1 and revoked_at is null
           returning id, county_fips, scopes"#,
        hash(bearer)
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(found.map(|r| Caller {
        token_id: r.id,
        county_fips: r.county_fips,
        scopes: r.scopes,
    }))
}

/// A stored answer to an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remembered {
    pub request_sha256: String,
    pub status: i32,
    pub body: serde_json::Value,
}

/// The status a key's row holds while its first request runs (HTTP's "Processing").
pub const RUNNING: i32 = 102;

/// How long a running claim holds: a request that died mid-way (its process killed) leaves
/// its claim, which a retry may take over after this.
pub const CLAIM_LEASE_MINUTES: i32 = 15;

/// What a key holds when a request arrives with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key was free (or its claim stale): this request runs, and must answer or release.
    Mine,
    /// An earlier request with the key has answered.
    Answered(Remembered),
    /// An earlier request with the key is still running; its request's hash.
    Running { request_sha256: String },
}

/// Claims an idempotency key for a request, so that two requests with one key never both
/// run: the first writes a running row; the others find it, or its answer.
pub async fn claim(
    pool: &PgPool,
    caller: &Caller,
    key: &str,
    request_sha256: &str,
) -> Result<Claim, sqlx::Error> {
    let mut tx = pool.begin().await?;
    set_county(&mut tx, &caller.county_fips).await?;
    let inserted = sqlx::query!(
        r#"insert into api_idempotency (api_token_id, county_fips, key, request_sha256, status, body)
           values ($1, $2, $3, $4, $5, '{}')
           on conflict (api_token_id, key) do nothing"#,
        caller.token_id,
        caller.county_fips,
        key,
        request_sha256,
        RUNNING
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        tx.commit().await?;
        return Ok(Claim::Mine);
    }
    let held = sqlx::query!(
        r#"select request_sha256, status, body,
                  created_at < now() - make_interval(mins => $3) as "stale!"
           from api_idempotency where api_token_id = $1 and key = $2 for update"#,
        caller.token_id,
        key,
        CLAIM_LEASE_MINUTES
    )
    .fetch_one(&mut *tx)
    .await?;
    let claim = if held.status != RUNNING {
        Claim::Answered(Remembered {
            request_sha256: held.request_sha256,
            status: held.status,
            body: held.body,
        })
    } else if held.stale {
        sqlx::query!(
            r#"update api_idempotency set request_sha256 = $3, created_at = now()
               where api_token_id = $1 and key = $2"#,
            caller.token_id,
            key,
            request_sha256
        )
        .execute(&mut *tx)
        .await?;
        Claim::Mine
    } else {
        Claim::Running {
            request_sha256: held.request_sha256,
        }
    };
    tx.commit().await?;
    Ok(claim)
}

/// Gives a claimed key back unanswered (the request was refused before it ran): a corrected
/// retry may use it.
pub async fn release(pool: &PgPool, caller: &Caller, key: &str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    set_county(&mut tx, &caller.county_fips).await?;
    sqlx::query!(
        "delete from api_idempotency where api_token_id = $1 and key = $2 and status = $3",
        caller.token_id,
        key,
        RUNNING
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Keeps the answer to a key this request claimed, and returns what the key holds.
pub async fn remember(
    pool: &PgPool,
    caller: &Caller,
    key: &str,
    answer: &Remembered,
) -> Result<Remembered, sqlx::Error> {
    let mut tx = pool.begin().await?;
    set_county(&mut tx, &caller.county_fips).await?;
    sqlx::query!(
        r#"insert into api_idempotency (api_token_id, county_fips, key, request_sha256, status, body)
           values ($1, $2, $3, $4, $5, $6)
           on conflict (api_token_id, key) do update
             set status = excluded.status, body = excluded.body
             where api_idempotency.status = $7 and api_idempotency.request_sha256 = excluded.request_sha256"#,
        caller.token_id,
        caller.county_fips,
        key,
        answer.request_sha256,
        answer.status,
        answer.body,
        RUNNING
    )
    .execute(&mut *tx)
    .await?;
    let kept = sqlx::query_as!(
        Remembered,
        r#"select request_sha256, status, body from api_idempotency
           where api_token_id = $1 and key = $2"#,
        caller.token_id,
        key
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(kept)
}

/// The OpenAPI description served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");
