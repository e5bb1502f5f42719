//! `ballot-tracker api-token create | list | revoke`: a county system's API tokens.

use anyhow::bail;
use app::api::{self, Scope};
use clap::Subcommand;
use sqlx::PgPool;

#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Create a token for a county's system and print it (once: only its hash is kept).
    Create {
        #[arg(long)]
        county: String,
        /// What the token is for, e.g. "EMS nightly push".
        #[arg(long)]
        name: String,
        /// statuses:write and/or scans:write (repeat the option for both).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List a county's tokens (never the tokens themselves).
    List {
        #[arg(long)]
        county: String,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        #[arg(long)]
        county: String,
        #[arg(long)]
        id: i64,
    },
}

pub async fn run(pool: &PgPool, command: ApiTokenCommand) -> anyhow::Result<()> {
    match command {
        ApiTokenCommand::Create {
            county,
            name,
            scopes,
        } => {
            let mut parsed = Vec::new();
            for s in &scopes {
                let Some(scope) = Scope::parse(s) else {
                    bail!(
                        "unknown scope {s:?}: use {}",
                        Scope::ALL.map(Scope::code).join(" or ")
                    );
                };
                parsed.push(scope);
            }
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 100 {
                bail!("--name is 1 to 100 characters");
            }
            let known: Option<String> =
                sqlx::query_scalar("select fips from counties where fips = $1")
                    .bind(&county)
                    .fetch_optional(pool)
                    .await?;
            if known.is_none() {
                bail!("there is no county {county}");
            }
            let (id, token) = api::create(pool, &county, name, &parsed, None).await?;
            println!("token {id} for county {county} ({}):", scopes.join(", "));
            println!("{token}");
            println!("keep it now: it is not shown again");
        }
        ApiTokenCommand::List { county } => {
            for t in api::list(pool, &county).await? {
                println!(
                    "{:>5}  {:<30}  {:<28}  created {}  last used {}{}",
                    t.id,
                    t.name,
                    t.scopes.join(","),
                    t.created_at.format("%Y-%m-%d"),
                    t.last_used_at.map_or_else(
                        || "never".to_owned(),
                        |u| u.format("%Y-%m-%d %H:%M").to_string()
                    ),
                    t.revoked_at
                        .map(|r| format!("  REVOKED {}", r.format("%Y-%m-%d %H:%M")))
                        .unwrap_or_default()
                );
            }
        }
        ApiTokenCommand::Revoke { county, id } => {
            if api::revoke(pool, &county, id, None).await? {
                println!("token {id} revoked");
            } else {
                bail!("county {county} has no live token {id}");
            }
        }
    }
    Ok(())
}
