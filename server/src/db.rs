use crate::config::Config;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

pub async fn connect(config: &Config) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(config.database_url.expose_secret())
        .await
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
