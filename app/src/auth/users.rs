//! Creating administrator accounts (the first comes from `ballot-tracker admin create`).

use crate::audit::{self, ActorKind, AuditAction, AuditEntry};
use sqlx::PgConnection;

pub use crate::admin::Role;

pub struct NewAdmin<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub county_fips: Option<&'a str>,
}

/// Creates the account, or with `replace_password` sets a new password on an existing one.
/// Returns the account id and whether it was created.
#[tracing::instrument(skip_all, fields(role = new.role.code()), err)]
pub async fn upsert(
    tx: &mut PgConnection,
    new: &NewAdmin<'_>,
    replace_password: bool,
) -> Result<(i64, bool), sqlx::Error> {
    let existing = sqlx::query_scalar!(
        "select id from admin_users where lower(email) = lower($1) for update",
        new.email
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = existing {
        if replace_password {
            sqlx::query!(
                "update admin_users set password_hash = $2, updated_at = now() where id = $1",
                id,
                new.password_hash
            )
            .execute(&mut *tx)
            .await?;
            let entry = AuditEntry {
                entity: Some(("admin_user", id.to_string())),
                ..AuditEntry::new(ActorKind::Cli, None, AuditAction::AdminPasswordSet)
            };
            audit::record(tx, entry).await?;
        }
        return Ok((id, false));
    }
    let id = sqlx::query_scalar!(
        "insert into admin_users (email, display_name, password_hash, role, county_fips)
         values ($1, $2, $3, $4, $5) returning id",
        new.email,
        new.display_name,
        new.password_hash,
        new.role.code(),
        new.county_fips
    )
    .fetch_one(&mut *tx)
    .await?;
    let entry = AuditEntry {
        county_fips: new.county_fips.map(str::to_owned),
        entity: Some(("admin_user", id.to_string())),
        after: Some(serde_json::json!({ "role": new.role.code(), "county_fips": new.county_fips })),
        ..AuditEntry::new(ActorKind::Cli, None, AuditAction::AdminUserCreated)
    };
    audit::record(tx, entry).await?;
    Ok((id, true))
}
