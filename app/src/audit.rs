//! The audit log's typed catalogue. Each action says what happened and who may cause it; rows
//! are written in the same transaction as the change they describe.

use sqlx::PgConnection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    /// A signed-in person (staff, administrator).
    User,
    /// A county data file.
    Import,
    /// A county system calling the API with a token.
    Api,
    /// The system itself (scheduled work, demo data).
    System,
    /// Someone with shell access running `ballot-tracker` subcommands.
    Cli,
}

impl ActorKind {
    pub const fn code(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Import => "import",
            ActorKind::Api => "api",
            ActorKind::System => "system",
            ActorKind::Cli => "cli",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    /// One ballot's status changed (staff, API): before and after are recorded.
    BallotStatusChanged,
    /// A ballot was issued to a voter (county file, staff reissue, API): its first status.
    BallotIssued,
    /// Many ballots' statuses changed at once (an import, a scan file, demo data): counts by
    /// status are recorded; each event names its import.
    BallotStatusesChanged,
    /// An administrator account was created (CLI for the first state administrator, or an
    /// administrator inviting someone).
    AdminUserCreated,
    /// An administrator's password was set or replaced (CLI, reset link).
    AdminPasswordSet,
    /// Synthetic demo data was loaded (CLI).
    DemoDataLoaded,
    /// Someone signed in to the portal (the account itself).
    SignedIn,
    /// A sign-in was refused: wrong password or code, unknown or disabled account (anyone).
    SignInRefused,
    /// Every session of an account was ended (the account itself).
    SignedOutEverywhere,
    /// Two-factor sign-in was turned on (the account itself).
    TotpEnabled,
}

impl AuditAction {
    pub const fn code(self) -> &'static str {
        match self {
            AuditAction::BallotStatusChanged => "ballot.status_changed",
            AuditAction::BallotStatusesChanged => "ballot.statuses_changed",
            AuditAction::BallotIssued => "ballot.issued",
            AuditAction::AdminUserCreated => "admin_user.created",
            AuditAction::AdminPasswordSet => "admin_user.password_set",
            AuditAction::DemoDataLoaded => "demo.loaded",
            AuditAction::SignedIn => "admin_user.signed_in",
            AuditAction::SignInRefused => "admin_user.sign_in_refused",
            AuditAction::SignedOutEverywhere => "admin_user.signed_out_everywhere",
            AuditAction::TotpEnabled => "admin_user.totp_enabled",
        }
    }
}

/// One row of the audit log.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub county_fips: Option<String>,
    pub actor_kind: ActorKind,
    pub actor_user_id: Option<i64>,
    pub action: AuditAction,
    pub entity: Option<(&'static str, String)>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl AuditEntry {
    pub fn new(actor_kind: ActorKind, actor_user_id: Option<i64>, action: AuditAction) -> Self {
        Self {
            county_fips: None,
            actor_kind,
            actor_user_id,
            action,
            entity: None,
            before: None,
            after: None,
        }
    }
}

pub async fn record(tx: &mut PgConnection, entry: AuditEntry) -> Result<(), sqlx::Error> {
    let (entity, entity_id) = entry
        .entity
        .map_or((None, None), |(e, id)| (Some(e), Some(id)));
    sqlx::query!(
        "insert into audit_log
           (county_fips, actor_kind, actor_user_id, action, entity, entity_id, before, after,
            request_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        entry.county_fips,
        entry.actor_kind.code(),
        entry.actor_user_id,
        entry.action.code(),
        entity,
        entity_id,
        entry.before,
        entry.after,
        crate::state::request_id(),
    )
    .execute(tx)
    .await?;
    Ok(())
}
