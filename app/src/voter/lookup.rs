//! The look-up server function: the status page calls it once hydrated; a form without
//! JavaScript posts the same fields.

use super::BallotStory;
use crate::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A look-up's answer. `NoMatch` is the same words, status and size whatever was wrong — or
/// whether the person exists at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LookupOutcome {
    Found(Box<BallotStory>),
    NoMatch,
}

#[server(endpoint = "lookup")]
pub async fn lookup_ballot(
    first_name: String,
    last_name: String,
    date_of_birth: String,
    zip: String,
    voter_id: String,
) -> Result<LookupOutcome, AppError> {
    use crate::ratelimit::{self, Decision};
    use axum::http::{HeaderValue, StatusCode, header};

    let response = expect_context::<leptos_axum::ResponseOptions>();
    // What a voter typed never sits in a cache.
    response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));

    let fields = super::LookupFields {
        first_name,
        last_name,
        date_of_birth,
        zip,
        voter_id,
    };
    let now = chrono::Utc::now();
    let identity = fields.parse(now.date_naive()).map_err(|errors| {
        response.set_status(StatusCode::BAD_REQUEST);
        AppError::Validation(errors)
    })?;
    let pool = crate::state::pool()?;

    let client = client_address().await;
    let subject = identity.rate_limit_subject();
    for (limit, key) in [
        (&ratelimit::LOOKUP_PER_CLIENT, client.as_str()),
        (&ratelimit::LOOKUP_PER_IDENTITY, subject.as_str()),
    ] {
        if let Decision::Limited { retry_after_secs } = ratelimit::hit(&pool, limit, key).await? {
            response.set_status(StatusCode::TOO_MANY_REQUESTS);
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.insert_header(header::RETRY_AFTER, v);
            }
            return Err(AppError::RateLimited);
        }
    }

    let mut conn = pool.acquire().await?;
    let Some(voter) = super::store::find_voter(&mut *conn, &identity).await? else {
        return Ok(LookupOutcome::NoMatch);
    };
    Ok(match super::store::story(&mut conn, voter, now).await? {
        Some(story) => LookupOutcome::Found(Box::new(story)),
        // A registered voter with no ballot yet reads exactly as no match: the look-up never
        // tells a stranger whether someone is registered.
        None => LookupOutcome::NoMatch,
    })
}

/// The client's address as the socket saw it. Behind a load balancer this is the balancer's
/// address until trusted-proxy handling is configured (noted in the README).
#[cfg(feature = "ssr")]
async fn client_address() -> String {
    use axum::extract::ConnectInfo;
    leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|_| "unknown".to_owned())
}
