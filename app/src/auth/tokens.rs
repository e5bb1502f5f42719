//! Invitation and password-reset links: a random secret mailed to the account's own address,
//! of which only an HMAC is kept. Each link works once, until it expires; a newer link of the
//! same purpose replaces the older ones, and setting a password ends every session.

use crate::messages::links::LinkKey;
use sqlx::{PgConnection, PgExecutor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A new account's first password: three days.
    Invitation,
    /// A forgotten password: one hour.
    PasswordReset,
}

impl Purpose {
    pub const fn code(self) -> &'static str {
        match self {
            Purpose::Invitation => "invitation",
            Purpose::PasswordReset => "password_reset",
        }
    }

    pub const fn lifetime_hours(self) -> i32 {
        match self {
            Purpose::Invitation => 72,
            Purpose::PasswordReset => 1,
        }
    }

    fn parse(code: &str) -> Option<Self> {
        [Purpose::Invitation, Purpose::PasswordReset]
            .into_iter()
            .find(|p| p.code() == code)
    }
}

/// Issues a link for `user_id`; earlier unused links of the same purpose stop working.
/// Returns the secret for the link (never stored).
pub async fn issue(
    tx: &mut PgConnection,
    key: &LinkKey,
    user_id: i64,
    purpose: Purpose,
    created_by: Option<i64>,
) -> Result<String, sqlx::Error> {
    sqlx::query!(
        "update admin_tokens set used_at = now()
          where user_id = $1 and purpose = $2 and used_at is null",
        user_id,
        purpose.code()
    )
    .execute(&mut *tx)
    .await?;
    let secret = key.new_link_secret();
    sqlx::query!(
        "insert into admin_tokens (user_id, purpose, secret_hash, created_by, expires_at)
         values ($1, $2, $3, $4, now() + make_interval(hours => $5))",
        user_id,
        purpose.code(),
        key.secret_hash(&secret),
        created_by,
        purpose.lifetime_hours()
    )
    .execute(&mut *tx)
    .await?;
    Ok(secret)
}

/// Whose link it is, while it still works.
#[derive(Clone, Debug)]
pub struct Holder {
    pub token_id: i64,
    pub user_id: i64,
    pub purpose: Purpose,
    pub email: String,
    pub display_name: String,
    pub county_fips: Option<String>,
}

/// The working link with this secret: unused, unexpired, of an account that is not disabled.
pub async fn find(
    db: impl PgExecutor<'_>,
    key: &LinkKey,
    secret: &str,
) -> Result<Option<Holder>, sqlx::Error> {
    let row = sqlx::query!(
        "select t.id, t.user_id, t.purpose, u.email, u.display_name, u.county_fips
         from admin_tokens t join admin_users u on u.id = t.user_id
         where t.secret_hash = $1 and t.used_at is null and t.expires_at > now()
           and u.disabled_at is null",
        key.secret_hash(secret.trim())
    )
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|r| {
        Some(Holder {
            token_id: r.id,
            user_id: r.user_id,
            purpose: Purpose::parse(&r.purpose)?,
            email: r.email,
            display_name: r.display_name,
            county_fips: r.county_fips,
        })
    }))
}

/// Spends the link on a new password: the link and every other open link of the account stop
/// working, and every session of the account ends. `false` when the link was spent meanwhile.
pub async fn set_password(
    tx: &mut PgConnection,
    holder: &Holder,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let spent = sqlx::query!(
        "update admin_tokens set used_at = now()
          where user_id = $1 and used_at is null and (id = $2 or expires_at > now())
         returning id",
        holder.user_id,
        holder.token_id
    )
    .fetch_all(&mut *tx)
    .await?;
    if !spent.iter().any(|r| r.id == holder.token_id) {
        return Ok(false);
    }
    sqlx::query!(
        "update admin_users
            set password_hash = $2, session_epoch = session_epoch + 1, updated_at = now()
          where id = $1",
        holder.user_id,
        password_hash
    )
    .execute(&mut *tx)
    .await?;
    Ok(true)
}
