use super::{CountyContact, CountySummary, StateContact};
use crate::domain::CountyFips;
use sqlx::PgExecutor;

#[tracing::instrument(skip_all, err)]
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<CountySummary>, sqlx::Error> {
    sqlx::query_as!(
        CountySummary,
        "select fips, name from counties order by name"
    )
    .fetch_all(db)
    .await
}

#[tracing::instrument(skip_all, fields(county.fips = %fips), err)]
pub async fn contact(
    db: impl PgExecutor<'_>,
    fips: CountyFips,
) -> Result<Option<CountyContact>, sqlx::Error> {
    sqlx::query_as!(
        CountyContact,
        "select fips, name, office_name, phone, email, website, office_address, office_hours
         from counties where fips = $1",
        fips.as_str()
    )
    .fetch_optional(db)
    .await
}

#[tracing::instrument(skip_all, err)]
pub async fn state_contact(
    db: impl PgExecutor<'_>,
    code: &str,
) -> Result<Option<StateContact>, sqlx::Error> {
    sqlx::query_as!(
        StateContact,
        "select name, agency_name, phone, website from states where code = $1",
        code
    )
    .fetch_optional(db)
    .await
}
