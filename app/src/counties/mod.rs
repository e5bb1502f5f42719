//! Counties and the state: the contact details voters are pointed to.

#[cfg(feature = "ssr")]
pub mod store;

use crate::AppError;
use leptos::prelude::*;

mod contact_block;
pub use contact_block::ContactBlock;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountySummary {
    pub fips: String,
    pub name: String,
}

/// A county elections office's contact block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountyContact {
    pub fips: String,
    pub name: String,
    pub office_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub office_address: Option<String>,
    pub office_hours: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateContact {
    pub name: String,
    pub agency_name: String,
    pub phone: Option<String>,
    pub website: Option<String>,
}

#[server(endpoint = "counties")]
pub async fn list_counties() -> Result<Vec<CountySummary>, AppError> {
    let pool = crate::state::pool()?;
    Ok(store::list(&pool).await?)
}

#[server(endpoint = "county_contact")]
pub async fn load_county_contact(fips: String) -> Result<CountyContact, AppError> {
    let fips = crate::domain::CountyFips::parse(&fips)
        .map_err(|_| AppError::field("county", crate::error::Problem::County))?;
    let pool = crate::state::pool()?;
    store::contact(&pool, fips).await?.ok_or(AppError::NotFound)
}

#[server(endpoint = "state_contact")]
pub async fn load_state_contact() -> Result<StateContact, AppError> {
    let state = crate::state::state()?;
    state
        .cache
        .state_contact(&state.pool)
        .await?
        .ok_or(AppError::NotFound)
}
