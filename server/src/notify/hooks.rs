//! What the outside world calls: the telephony provider's delivery-status callbacks, its request
//! for a call's script (TwiML), texts voters send (STOP, START, HELP), and email unsubscribe
//! links (a page, and RFC 8058's one-click POST). Every provider request must carry a valid
//! `X-Twilio-Signature`; every unsubscribe link its HMAC.

use app::messages::keywords;
use app::messages::links::verify_telephony_signature;
use app::messages::outbox;
use app::messages::{Channel, UnsubscribePage};
use app::state::AppState;
use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hooks/telephony/status/{id}", post(delivery_status))
        .route("/hooks/telephony/voice/{id}", post(voice_script))
        .route("/hooks/telephony/sms", post(inbound_text))
        .route(
            "/unsubscribe/{id}/{mac}",
            get(unsubscribe_page).post(unsubscribe),
        )
}

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The provider did not sign the request.
struct Unsigned;

impl IntoResponse for Unsigned {
    fn into_response(self) -> Response {
        (
            StatusCode::FORBIDDEN,
            "The request signature does not verify.",
        )
            .into_response()
    }
}

/// Refuses a request the provider did not sign: the signature covers our public URL as the
/// provider called it and every POST parameter.
fn verify(
    state: &AppState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(), Unsigned> {
    let token = state
        .settings
        .messaging
        .telephony_auth_token
        .as_ref()
        .ok_or(Unsigned)?;
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or(Unsigned)?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path}", state.settings.messaging.public_base_url);
    if verify_telephony_signature(&token.0, &url, params, signature) {
        Ok(())
    } else {
        Err(Unsigned)
    }
}

fn twiml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

fn unavailable(e: &sqlx::Error) -> Response {
    tracing::error!(error = %e, "a provider callback could not be recorded");
    // The provider retries callbacks that fail.
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

async fn delivery_status(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    axum::Form(params): axum::Form<Params>,
) -> Response {
    if let Err(refused) = verify(&state, &uri, &headers, &params) {
        return refused.into_response();
    }
    let sid = param(&params, "MessageSid").or_else(|| param(&params, "CallSid"));
    let status = param(&params, "MessageStatus").or_else(|| param(&params, "CallStatus"));
    let (Some(sid), Some(status)) = (sid, status) else {
        return (
            StatusCode::BAD_REQUEST,
            "MessageSid and MessageStatus (or CallSid and CallStatus) are required.",
        )
            .into_response();
    };
    match outbox::record_delivery(&state.pool, id, sid, status).await {
        // An unknown message is not the provider's problem to retry.
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => unavailable(&e),
    }
}

async fn voice_script(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    axum::Form(params): axum::Form<Params>,
) -> Response {
    if let Err(refused) = verify(&state, &uri, &headers, &params) {
        return refused.into_response();
    }
    let read = async {
        let mut conn = state.pool.acquire().await?;
        outbox::details(&mut conn, &[id]).await
    };
    let found = match read.await {
        Ok(mut rows) => rows.pop(),
        Err(e) => return unavailable(&e),
    };
    let Some(message) = found.filter(|m| m.channel == Channel::Voice) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let tz = message
        .time_zone
        .parse()
        .unwrap_or(chrono_tz::America::Los_Angeles);
    match super::render_claimed(&message, tz, &state.settings.messaging, "") {
        Ok(rendered) => twiml(rendered.text),
        Err(error) => {
            tracing::error!(%error, "a call's script could not be rendered");
            twiml("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>".into())
        }
    }
}

async fn inbound_text(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    axum::Form(params): axum::Form<Params>,
) -> Response {
    if let Err(refused) = verify(&state, &uri, &headers, &params) {
        return refused.into_response();
    }
    let (Some(from), Some(body)) = (param(&params, "From"), param(&params, "Body")) else {
        return (StatusCode::BAD_REQUEST, "From and Body are required.").into_response();
    };
    let help_url = format!("{}/privacy", state.settings.messaging.public_base_url);
    match keywords::handle_text(&state.pool, from, body, &help_url).await {
        Ok(Some(reply)) => twiml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
            xml_escape(&reply)
        )),
        Ok(None) => twiml("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".into()),
        Err(e) => unavailable(&e),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, html: Result<String, app::messages::TemplateError>) -> Response {
    match html {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the unsubscribe page could not be rendered");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A link that does not verify, or names no subscription: one page, the same for both.
fn invalid_link() -> Response {
    page(
        StatusCode::NOT_FOUND,
        app::messages::unsubscribe_page(UnsubscribePage::Invalid, Default::default(), ""),
    )
}

/// The language and address of the subscription an unsubscribe link names, when its MAC
/// verifies and the subscription exists; otherwise the page to answer with.
async fn linked_subscription(
    state: &AppState,
    id: i64,
    mac: &str,
) -> Result<(app::domain::Language, String), Response> {
    if !state
        .settings
        .messaging
        .link_key
        .verify_unsubscribe(id, mac)
    {
        return Err(invalid_link());
    }
    match keywords::subscription_contact(&state.pool, id).await {
        Ok(Some(contact)) => Ok(contact),
        Ok(None) => Err(invalid_link()),
        Err(e) => Err(unavailable(&e)),
    }
}

/// Opens from the email's link: asks before acting, since mail scanners follow links.
async fn unsubscribe_page(
    State(state): State<AppState>,
    Path((id, mac)): Path<(i64, String)>,
) -> Response {
    match linked_subscription(&state, id, &mac).await {
        Ok((language, address)) => page(
            StatusCode::OK,
            app::messages::unsubscribe_page(UnsubscribePage::Ask, language, &address),
        ),
        Err(answer) => answer,
    }
}

/// The page's button, and the mail client's one-click POST (RFC 8058): no cookie, no page.
async fn unsubscribe(
    State(state): State<AppState>,
    Path((id, mac)): Path<(i64, String)>,
) -> Response {
    let (language, address) = match linked_subscription(&state, id, &mac).await {
        Ok(contact) => contact,
        Err(answer) => return answer,
    };
    match keywords::unsubscribe_by_link(&state.pool, id).await {
        // Unsubscribing twice is still unsubscribed.
        Ok(_) => page(
            StatusCode::OK,
            app::messages::unsubscribe_page(UnsubscribePage::Done, language, &address),
        ),
        Err(e) => unavailable(&e),
    }
}
