//! `ballot-tracker audit verify`: walks the audit log's hash chain and names the first broken
//! link.

use anyhow::bail;
use app::audit::{Break, verify_chain};
use clap::Subcommand;
use sqlx::PgPool;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every row's hash and its link to the row before; exit 1 at the first break.
    Verify,
}

pub async fn run(pool: &PgPool, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify => {
            let check = verify_chain(pool).await?;
            match check.broken {
                None => {
                    println!("audit chain intact: {} rows", check.rows);
                    if let Some(head) = check.head {
                        // Kept somewhere else, the head also shows rows cut from the end.
                        println!("head: row {} {}", head.0, head.1);
                    }
                    Ok(())
                }
                Some(Break::Edited { id }) => {
                    bail!(
                        "audit chain broken at row {id}: its contents do not match its hash (edited)"
                    )
                }
                Some(Break::Unlinked { id }) => bail!(
                    "audit chain broken at row {id}: it does not follow the row before it (a row before it was removed or changed)"
                ),
            }
        }
    }
}
