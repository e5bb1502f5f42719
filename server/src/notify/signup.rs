//! The voter's notification pages: sign up after a look-up, confirm with a texted or spoken code
//! or an email's link, list and stop subscriptions. Plain forms posted to these handlers and
//! pages rendered on the server (`app::messages::pages`), so they work without JavaScript.
//!
//! The look-up proves who the voter is: its answer carries a token (the voter's id, an expiry and
//! an HMAC) that every form here posts back. Nothing here accepts a voter id on its own.

use app::domain::Language;
use app::messages::Channel;
use app::messages::pages::{self, FormValues, Listed, Page, Problem, Said, State};
use app::messages::subscriptions::{self, Confirmation, NewSubscription, Subscribed};
use app::ratelimit::{self, Decision, Limit};
use app::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State as Extract};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{NaiveTime, Utc};
use std::net::SocketAddr;

/// Codes tried for one subscription: five in a quarter of an hour.
const CODE_TRIES: Limit = Limit {
    name: "signup.code",
    max: 5,
    window_secs: 15 * 60,
};

/// Sign-ups from one client address: a family's worth, not a script's.
const SIGNUPS_PER_CLIENT: Limit = Limit {
    name: "signup.client",
    max: 20,
    window_secs: 60 * 60,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications/new", post(new_form))
        .route("/notifications/subscribe", post(subscribe))
        .route("/notifications/confirm", post(confirm_code))
        .route("/notifications/cancel", post(cancel))
        .route(
            "/confirm/{id}/{secret}",
            get(confirm_link_page).post(confirm_link),
        )
}

fn show(status: StatusCode, page: &Page) -> Response {
    match pages::render(page) {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a notification page could not be rendered");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn unavailable(e: &sqlx::Error) -> Response {
    tracing::error!(error = %e, "a notification page could not reach the database");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The service is busy. Please try again in a moment.",
    )
        .into_response()
}

/// The page's language: the voter's choice on the site (its cookie), else the browser's.
fn language(headers: &HeaderMap) -> Language {
    app::prefs::language_from_headers(headers)
}

/// A page saying the look-up has expired, with the way back.
fn expired_session(language: Language) -> Response {
    let mut page = Page::new(State::Done, language);
    page.errors.push(Problem::Session);
    show(StatusCode::FORBIDDEN, &page)
}

/// The voter's subscriptions as the pages list them, addresses masked.
fn listing(
    own: impl IntoIterator<Item = subscriptions::OwnSubscription>,
    language: Language,
) -> Vec<Listed> {
    own.into_iter()
        .map(|s| Listed {
            id: s.id,
            channel: pages::channel_label(s.channel, language),
            address: pages::mask_address(s.channel, &s.address),
            confirmed: s.confirmed,
        })
        .collect()
}

async fn listed(
    state: &AppState,
    voter_id: i64,
    language: Language,
) -> Result<Vec<Listed>, sqlx::Error> {
    Ok(listing(
        subscriptions::of_voter(&state.pool, voter_id).await?,
        language,
    ))
}

#[derive(serde::Deserialize)]
struct TokenForm {
    #[serde(default)]
    token: String,
}

async fn new_form(
    Extract(state): Extract<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<TokenForm>,
) -> Response {
    let language = language(&headers);
    let key = &state.settings.messaging.link_key;
    let Some(voter_id) = key.verify_voter_token(&form.token, Utc::now()) else {
        return expired_session(language);
    };
    let mut page = Page::new(State::Form, language);
    page.token = form.token;
    match listed(&state, voter_id, page.language).await {
        Ok(own) => page.own = own,
        Err(e) => return unavailable(&e),
    }
    show(StatusCode::OK, &page)
}

#[derive(serde::Deserialize, Default)]
struct SignupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    window_start: String,
    #[serde(default)]
    window_end: String,
    #[serde(default)]
    consent: Option<String>,
}

/// An email address as lettre (our SMTP client) will accept it, trimmed.
fn parse_email(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let address: lettre::Address = trimmed.parse().ok()?;
    // The schema's check too: one @, no spaces.
    Some(address.to_string()).filter(|a| a.matches('@').count() == 1 && !a.contains(' '))
}

/// A phone number in E.164, read as a U.S. number unless it starts with + and a country code.
fn parse_phone(raw: &str) -> Option<String> {
    let number = phonenumber::parse(Some(phonenumber::country::Id::US), raw.trim()).ok()?;
    if !phonenumber::is_valid(&number) {
        return None;
    }
    Some(number.format().mode(phonenumber::Mode::E164).to_string())
}

fn parse_hour(raw: &str, default: NaiveTime) -> NaiveTime {
    NaiveTime::parse_from_str(raw, "%H:%M").unwrap_or(default)
}

async fn subscribe(
    Extract(state): Extract<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignupForm>,
) -> Response {
    let page_language = language(&headers);
    let now = Utc::now();
    let key = &state.settings.messaging.link_key;
    let Some(voter_id) = key.verify_voter_token(&form.token, now) else {
        return expired_session(page_language);
    };
    let message_language = Language::parse(&form.language).unwrap_or(page_language);
    let channel = Channel::parse(&form.channel);
    let mut errors = Vec::new();
    let address = match channel {
        None => {
            errors.push(Problem::Channel);
            None
        }
        Some(Channel::Email) => {
            let a = parse_email(&form.address);
            if a.is_none() {
                errors.push(Problem::Email);
            }
            a
        }
        Some(Channel::Sms | Channel::Voice) => {
            let a = parse_phone(&form.address);
            if a.is_none() {
                errors.push(Problem::Phone);
            }
            a
        }
    };
    let window_start = parse_hour(
        &form.window_start,
        NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
    );
    let window_end = parse_hour(
        &form.window_end,
        NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
    );
    if window_start == window_end {
        errors.push(Problem::Window);
    }
    if form.consent.as_deref() != Some("yes") {
        errors.push(Problem::Consent);
    }
    let (Some(channel), Some(address), true) = (channel, address, errors.is_empty()) else {
        // The form again, as the voter filled it, with what to fix.
        let mut page = Page::new(State::Form, page_language);
        page.token = form.token.clone();
        page.errors = errors;
        page.form = FormValues {
            channel: form.channel,
            address: form.address,
            language: message_language.code().to_owned(),
            window_start: window_start.format("%H:%M").to_string(),
            window_end: window_end.format("%H:%M").to_string(),
        };
        return show(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };

    let client = app::client::client_ip(peer.ip(), &headers, &state.settings.trusted_proxies);
    let subject = app::client::rate_limit_subject(client);
    match ratelimit::hit(&state.pool, &SIGNUPS_PER_CLIENT, &subject).await {
        Ok(Decision::Allowed) => {}
        Ok(Decision::Limited { .. }) => {
            let mut page = Page::new(State::Done, page_language);
            page.token = form.token;
            page.errors.push(Problem::TooMany);
            return show(StatusCode::TOO_MANY_REQUESTS, &page);
        }
        Err(e) => return unavailable(&e),
    }

    let secret = match channel {
        Channel::Email => key.new_link_secret(),
        Channel::Sms | Channel::Voice => key.new_code(),
    };
    let new = NewSubscription {
        voter_id,
        channel,
        address: address.clone(),
        language: message_language,
        window_start,
        window_end,
        client_ip: Some(client),
    };
    let outcome =
        match subscriptions::subscribe(&state.pool, &new, &secret, &key.secret_hash(&secret), now)
            .await
        {
            Ok(o) => o,
            Err(e) => return unavailable(&e),
        };
    let mut page = Page::new(State::Done, page_language);
    page.token = form.token;
    page.address = pages::mask_address(channel, &address);
    match outcome {
        Subscribed::Active { .. } => page.said = Said::Already,
        Subscribed::Pending { id } => match channel {
            Channel::Email => {
                page.state = State::CheckEmail;
                page.said = Said::CheckEmail;
            }
            Channel::Sms | Channel::Voice => {
                page.state = State::EnterCode;
                page.said = Said::CodeSent(channel);
                page.subscription = Some(id);
            }
        },
    }
    match listed(&state, voter_id, page.language).await {
        Ok(own) => page.own = own,
        Err(e) => return unavailable(&e),
    }
    show(StatusCode::OK, &page)
}

#[derive(serde::Deserialize)]
struct CodeForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    subscription: i64,
    #[serde(default)]
    code: String,
}

async fn confirm_code(
    Extract(state): Extract<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CodeForm>,
) -> Response {
    let language = language(&headers);
    let now = Utc::now();
    let key = &state.settings.messaging.link_key;
    let Some(voter_id) = key.verify_voter_token(&form.token, now) else {
        return expired_session(language);
    };
    let mut page = Page::new(State::EnterCode, language);
    page.token = form.token.clone();
    page.subscription = Some(form.subscription);
    match ratelimit::hit(&state.pool, &CODE_TRIES, &form.subscription.to_string()).await {
        Ok(Decision::Allowed) => {}
        Ok(Decision::Limited { .. }) => {
            page.errors.push(Problem::TooMany);
            return show(StatusCode::TOO_MANY_REQUESTS, &page);
        }
        Err(e) => return unavailable(&e),
    }
    let code: String = form.code.chars().filter(char::is_ascii_digit).collect();
    let outcome = match subscriptions::confirm(
        &state.pool,
        form.subscription,
        Some(voter_id),
        &key.secret_hash(&code),
        now,
    )
    .await
    {
        Ok(o) => o,
        Err(e) => return unavailable(&e),
    };
    let status = match outcome {
        Confirmation::Confirmed | Confirmation::AlreadyConfirmed => {
            page.state = State::Done;
            page.said = Said::Confirmed;
            page.subscription = None;
            StatusCode::OK
        }
        Confirmation::Wrong => {
            page.errors.push(Problem::Code);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Confirmation::Expired | Confirmation::Unknown => {
            page.state = State::Done;
            page.errors.push(Problem::Expired);
            StatusCode::GONE
        }
    };
    match listed(&state, voter_id, page.language).await {
        Ok(own) => page.own = own,
        Err(e) => return unavailable(&e),
    }
    show(status, &page)
}

#[derive(serde::Deserialize)]
struct CancelForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    subscription: i64,
}

async fn cancel(
    Extract(state): Extract<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CancelForm>,
) -> Response {
    let language = language(&headers);
    let key = &state.settings.messaging.link_key;
    let Some(voter_id) = key.verify_voter_token(&form.token, Utc::now()) else {
        return expired_session(language);
    };
    let own = match subscriptions::of_voter(&state.pool, voter_id).await {
        Ok(own) => own,
        Err(e) => return unavailable(&e),
    };
    let Some(target) = own.iter().find(|s| s.id == form.subscription) else {
        let mut page = Page::new(State::Done, language);
        page.token = form.token;
        page.errors.push(Problem::Expired);
        return show(StatusCode::NOT_FOUND, &page);
    };
    let mut page = Page::new(State::Done, language);
    page.address = pages::mask_address(target.channel, &target.address);
    if let Err(e) = subscriptions::cancel(&state.pool, form.subscription, voter_id).await {
        return unavailable(&e);
    }
    page.token = form.token;
    page.said = Said::Cancelled;
    // What is left is what was listed, less the one just stopped.
    page.own = listing(
        own.into_iter().filter(|s| s.id != form.subscription),
        language,
    );
    show(StatusCode::OK, &page)
}

/// Opens from the confirmation email: asks before acting, since mail scanners follow links.
async fn confirm_link_page(
    Extract(state): Extract<AppState>,
    Path((id, _secret)): Path<(i64, String)>,
) -> Response {
    let (language, address) =
        match app::messages::keywords::subscription_contact(&state.pool, id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                let mut page = Page::new(State::Done, Language::default());
                page.errors.push(Problem::Expired);
                return show(StatusCode::NOT_FOUND, &page);
            }
            Err(e) => return unavailable(&e),
        };
    let mut page = Page::new(State::ConfirmLink, language);
    page.said = Said::ConfirmAsk;
    page.address = pages::mask_address(Channel::Email, &address);
    show(StatusCode::OK, &page)
}

async fn confirm_link(
    Extract(state): Extract<AppState>,
    Path((id, secret)): Path<(i64, String)>,
) -> Response {
    let key = &state.settings.messaging.link_key;
    let language = match app::messages::keywords::subscription_contact(&state.pool, id).await {
        Ok(c) => c.map(|(l, _)| l).unwrap_or_default(),
        Err(e) => return unavailable(&e),
    };
    let outcome =
        match subscriptions::confirm(&state.pool, id, None, &key.secret_hash(&secret), Utc::now())
            .await
        {
            Ok(o) => o,
            Err(e) => return unavailable(&e),
        };
    let mut page = Page::new(State::Done, language);
    let status = match outcome {
        Confirmation::Confirmed | Confirmation::AlreadyConfirmed => {
            page.said = Said::Confirmed;
            StatusCode::OK
        }
        Confirmation::Wrong | Confirmation::Expired | Confirmation::Unknown => {
            page.errors.push(Problem::Expired);
            StatusCode::GONE
        }
    };
    show(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_parsed_as_a_mail_server_and_a_carrier_would() {
        assert_eq!(
            parse_email(" Ana@Example.org ").as_deref(),
            Some("Ana@Example.org")
        );
        assert_eq!(parse_email("ana@"), None);
        assert_eq!(parse_email("ana example.org"), None);
        assert_eq!(
            parse_phone("(213) 555-0100").as_deref(),
            Some("+12135550100")
        );
        assert_eq!(parse_phone("213.555.0100").as_deref(), Some("+12135550100"));
        assert_eq!(
            parse_phone("+52 55 1234 5678").as_deref(),
            Some("+525512345678")
        );
        assert_eq!(parse_phone("555-0100"), None);
        assert_eq!(parse_phone("call me"), None);
    }
}
