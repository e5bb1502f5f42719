//! The audit log's typed catalogue. Each action says what happened and who may cause it; rows
//! are written in the same transaction as the change they describe, with the request's id and
//! client address when there is a request. The log is a hash chain (the database computes each
//! row's hash on insert); [`verify_chain`] walks it.

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
    /// A county's contact block, time zone or two-factor rule changed (its county
    /// administrator, a state administrator): before and after are recorded.
    CountySettingsChanged,
    /// An election was created (a state administrator, or a county administrator for their
    /// county): its dates are recorded.
    ElectionCreated,
    /// An election's name, days or deadlines changed (the same people): before and after.
    ElectionChanged,
    /// A county file was applied (staff in the portal, or the command line): its kind, name,
    /// hash, what was confirmed and what it changed. Its status changes have their own rows.
    ImportApplied,
    /// An API token was created for a county's system (its county administrator, a state
    /// administrator, the command line): its name and scopes, never the token.
    ApiTokenCreated,
    /// An API token was revoked (the same people).
    ApiTokenRevoked,
    /// Someone exported a report (the portal, the command line): what, filtered how, and how
    /// many rows.
    ExportCreated,
    /// An announcement was written or changed while a draft (county staff): its kind, target
    /// and texts.
    AnnouncementSaved,
    /// An announcement was sent for approval, past the recipient threshold (its author).
    AnnouncementSubmitted,
    /// A second person approved an announcement.
    AnnouncementApproved,
    /// An announcement's messages went into the outbox: recipients per channel and when.
    AnnouncementQueued,
    /// An announcement was cancelled, with how many of its messages had not gone yet.
    AnnouncementCancelled,
    /// Someone was invited to the portal (an administrator): role and county, never the link.
    AdminUserInvited,
    /// An account was disabled or enabled again (an administrator): its sessions end at once.
    AdminUserDisabled,
    AdminUserEnabled,
    /// A password-reset link was asked for and sent (anyone who knows the address).
    PasswordResetRequested,
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
            AuditAction::CountySettingsChanged => "county.settings_changed",
            AuditAction::ElectionCreated => "election.created",
            AuditAction::ElectionChanged => "election.changed",
            AuditAction::ImportApplied => "import.applied",
            AuditAction::ApiTokenCreated => "api_token.created",
            AuditAction::ApiTokenRevoked => "api_token.revoked",
            AuditAction::ExportCreated => "export.created",
            AuditAction::AnnouncementSaved => "announcement.saved",
            AuditAction::AnnouncementSubmitted => "announcement.submitted",
            AuditAction::AnnouncementApproved => "announcement.approved",
            AuditAction::AnnouncementQueued => "announcement.queued",
            AuditAction::AnnouncementCancelled => "announcement.cancelled",
            AuditAction::AdminUserInvited => "admin_user.invited",
            AuditAction::AdminUserDisabled => "admin_user.disabled",
            AuditAction::AdminUserEnabled => "admin_user.enabled",
            AuditAction::PasswordResetRequested => "admin_user.password_reset_requested",
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
            request_id, client_ip)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        entry.county_fips,
        entry.actor_kind.code(),
        entry.actor_user_id,
        entry.action.code(),
        entity,
        entity_id,
        entry.before,
        entry.after,
        crate::state::request_id(),
        crate::client::request_client_ip().map(ipnetwork::IpNetwork::from),
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Where the chain breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Break {
    /// The row's contents do not match its hash.
    Edited { id: i64 },
    /// The row's link does not name the row before it: a row was deleted, or edited and
    /// re-hashed.
    Unlinked { id: i64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainCheck {
    pub rows: u64,
    /// The last row's id and hash.
    pub head: Option<(i64, String)>,
    pub broken: Option<Break>,
}

/// Walks the audit log in id order (chain order), ten thousand rows a query, checking each
/// row's hash against its contents and its link against the row before it.
#[tracing::instrument(skip_all, err)]
pub async fn verify_chain(db: &sqlx::PgPool) -> Result<ChainCheck, sqlx::Error> {
    let mut last = "0".repeat(64);
    let mut after = i64::MIN;
    let mut check = ChainCheck {
        rows: 0,
        head: None,
        broken: None,
    };
    loop {
        let batch = sqlx::query!(
            r#"select id, prev_hash, row_hash, audit_row_hash(prev_hash, a) as "expected!"
               from audit_log a where id > $1 order by id limit 10000"#,
            after
        )
        .fetch_all(db)
        .await?;
        if batch.is_empty() {
            return Ok(check);
        }
        for r in batch {
            if r.prev_hash != last {
                check.broken = Some(Break::Unlinked { id: r.id });
                return Ok(check);
            }
            if r.expected != r.row_hash {
                check.broken = Some(Break::Edited { id: r.id });
                return Ok(check);
            }
            check.rows += 1;
            after = r.id;
            last = r.row_hash;
            check.head = Some((r.id, last.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::PgPool;

    async fn write(pool: &PgPool, n: usize) -> Vec<i64> {
        let mut conn = pool.acquire().await.unwrap();
        for i in 0..n {
            let entry = AuditEntry {
                entity: Some(("test", i.to_string())),
                after: Some(serde_json::json!({ "i": i })),
                ..AuditEntry::new(ActorKind::System, None, AuditAction::DemoDataLoaded)
            };
            record(&mut conn, entry).await.unwrap();
        }
        sqlx::query_scalar("select id from audit_log order by id")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    /// Changes the log behind the append-only trigger's back, as someone with the database's
    /// superuser could.
    async fn tamper(pool: &PgPool, sql: &str, id: i64) {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("set local session_replication_role = replica")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(sql).bind(id).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }

    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn an_untouched_chain_verifies(pool: PgPool) {
        let ids = write(&pool, 5).await;
        let check = verify_chain(&pool).await.unwrap();
        assert_eq!(check.broken, None);
        assert_eq!(check.rows, ids.len() as u64);
        assert_eq!(check.head.map(|h| h.0), ids.last().copied());
    }

    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn an_edited_row_breaks_the_chain_there(pool: PgPool) {
        let ids = write(&pool, 5).await;
        tamper(
            &pool,
            r#"update audit_log set after = '{"i": 99}' where id = $1"#,
            ids[2],
        )
        .await;
        let check = verify_chain(&pool).await.unwrap();
        assert_eq!(check.broken, Some(Break::Edited { id: ids[2] }));
        assert_eq!(check.rows, 2);
    }

    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn a_deleted_row_breaks_the_chain_at_the_next(pool: PgPool) {
        let ids = write(&pool, 5).await;
        tamper(&pool, "delete from audit_log where id = $1", ids[2]).await;
        let check = verify_chain(&pool).await.unwrap();
        assert_eq!(check.broken, Some(Break::Unlinked { id: ids[3] }));
    }

    #[sqlx::test(migrator = "crate::state::MIGRATOR")]
    async fn concurrent_writers_keep_one_chain(pool: PgPool) {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    for i in 0..25 {
                        let mut tx = pool.begin().await.unwrap();
                        let entry = AuditEntry {
                            entity: Some(("test", format!("{w}-{i}"))),
                            ..AuditEntry::new(ActorKind::System, None, AuditAction::DemoDataLoaded)
                        };
                        record(&mut tx, entry).await.unwrap();
                        tx.commit().await.unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        let check = verify_chain(&pool).await.unwrap();
        assert_eq!(check.broken, None);
        assert_eq!(check.rows, 100);
    }
}
