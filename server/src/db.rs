use crate::config::Config;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// Who a pool's connections act as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acting {
    /// The serving app: `DATABASE_ROLE` (row-level security binds it).
    App,
    /// The schema's owner, as connected: migrations, the demo loader, the CLI.
    Owner,
}

pub async fn connect(config: &Config, acting: Acting) -> Result<PgPool, sqlx::Error> {
    let role = match acting {
        Acting::App => config.database_role.clone(),
        Acting::Owner => None,
    };
    PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _meta| {
            let role = role.clone();
            Box::pin(async move { prepare_connection(conn, role.as_deref()).await })
        })
        .connect(config.database_url.expose_secret())
        .await
}

/// Takes on the app's role (validated as a plain identifier by the configuration) and works
/// across counties until a transaction says otherwise (`app.county`, read by the row-level
/// security policies).
pub async fn prepare_connection(
    conn: &mut sqlx::PgConnection,
    role: Option<&str>,
) -> Result<(), sqlx::Error> {
    if let Some(role) = role {
        sqlx::query(&format!("set role \"{role}\""))
            .execute(&mut *conn)
            .await?;
    }
    // No JIT: it compiles every statement costed above 100,000 — the batches of imports, of
    // the outbox and of the delivery workers, whose partitioned-events look-ups are costed at
    // sixteen partitions a row — and spent more compiling (60–300 ms a statement, measured on
    // the bench) than the statements took.
    sqlx::query("select set_config('app.county', '*', false), set_config('jit', 'off', false)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Applies pending migrations. Safe with many instances starting at once: sqlx holds a
/// PostgreSQL advisory lock while it migrates.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    app::state::MIGRATOR.run(pool).await
}

/// Creates the database named in the URL when it does not exist yet (first start).
pub async fn ensure_database(config: &Config) -> Result<(), sqlx::Error> {
    use sqlx::migrate::MigrateDatabase;
    let url = config.database_url.expose_secret();
    if !sqlx::Postgres::database_exists(url).await? {
        sqlx::Postgres::create_database(url).await?;
        tracing::info!("created the database");
    }
    Ok(())
}
