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
    use crate::ratelimit::Decision;
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
    let state = crate::state::state()?;
    let pool = &state.pool;

    let client = crate::client::rate_limit_subject(
        crate::client::current_client_ip(&state.settings.trusted_proxies).await,
    );
    let subject = identity.rate_limit_subject();
    let limits = [
        (&state.settings.lookup_per_client, client.as_str()),
        (&state.settings.lookup_per_identity, subject.as_str()),
    ];
    let mut conn = pool.acquire().await?;
    let (decision, voter) =
        super::store::find_voter_counting(&mut conn, &identity, &limits, &state.lookup_hits)
            .await?;
    if let Decision::Limited { retry_after_secs } = decision {
        response.set_status(StatusCode::TOO_MANY_REQUESTS);
        if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
            response.insert_header(header::RETRY_AFTER, v);
        }
        return Err(AppError::RateLimited);
    }
    let found = match voter {
        Some(voter) => super::store::story(&mut conn, voter, now)
            .await?
            .map(|story| super::BallotStory {
                notify_token: state.settings.messaging.link_key.voter_token(voter, now),
                ..story
            }),
        None => None,
    };
    Ok(match found {
        Some(story) => LookupOutcome::Found(Box::new(story)),
        // No voter, or a registered voter with no ballot yet: both read exactly as no match,
        // so the look-up never tells a stranger whether someone is registered. Reading a
        // decoy's story makes the failure cost what a success does, so timing tells nothing
        // either.
        None => {
            let decoy = match state.cache.decoy_voter() {
                Some(id) => Some(id),
                None => super::store::any_voter_with_ballot(&mut *conn).await?,
            };
            if let Some(id) = decoy {
                let story = super::store::story(&mut conn, id, now).await?;
                state.cache.set_decoy_voter(story.is_some().then_some(id));
            }
            LookupOutcome::NoMatch
        }
    })
}
