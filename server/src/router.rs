//! The whole HTTP application, buildable without a socket (tests call it directly).

use crate::{health, security};
use app::admin::session_store::PgSessionStore;
use app::state::AppState;
use app::{App, shell};
use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::routing::{get, post};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration;
use tower_sessions::{Expiry, SessionManagerLayer};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn build_router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let sessions = session_layer(&state);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/ballot", post(lookup_without_javascript))
        .merge(crate::notify::hooks::routes())
        .merge(crate::notify::signup::routes())
        .merge(crate::imports_http::routes())
        .merge(crate::exports_http::routes())
        .merge(crate::api::routes())
        .leptos_routes_with_context(&state, routes, page_nonce, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(page_nonce, shell))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            // The matched route pattern, never the raw path or query: those could carry
            // what a voter typed.
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("(unmatched)", MatchedPath::as_str)
                .to_owned();
            let request_id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            tracing::info_span!("request", http.method = %req.method(), http.route = %route, request.id = %request_id)
        }).on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(sessions)
        .layer(axum::middleware::from_fn(security::guard))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Server-side sessions in PostgreSQL: a `__Host-` cookie, HttpOnly, Secure, SameSite=Strict,
/// ended after half an hour without a request (and after twelve hours in any case, which
/// `app::admin::session` checks). Only the portal writes a session; voters get no cookie.
fn session_layer(state: &AppState) -> SessionManagerLayer<PgSessionStore> {
    use app::admin::session::{COOKIE_NAME, IDLE_TIMEOUT_SECS};
    SessionManagerLayer::new(PgSessionStore::new(state.pool.clone()))
        .with_name(COOKIE_NAME)
        .with_secure(true)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(Duration::seconds(IDLE_TIMEOUT_SECS)))
        .with_always_save(true)
}

/// The page's nonce, which Leptos puts on its inline scripts: the one `security::guard` made
/// for this request and names in the response's Content Security Policy.
fn page_nonce() {
    use leptos::nonce::Nonce;
    use leptos::prelude::{provide_context, use_context};
    let made = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<security::PageNonce>().cloned());
    match made {
        Some(security::PageNonce(n)) => provide_context(Nonce::from_value(n)),
        // Rendered outside the router's middleware (never in `serve`): a nonce of its own, in
        // the response's policy.
        None => {
            let nonce = Nonce::new();
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
                && let Ok(policy) =
                    HeaderValue::from_str(&security::content_security_policy(Some(&nonce)))
            {
                response.insert_header(header::CONTENT_SECURITY_POLICY, policy);
            }
            provide_context(nonce);
        }
    }
}

/// A look-up form posted without JavaScript: the `/ballot` page rendered with the answer, on the
/// server only. The answer has no URL of its own (no redirect, no query string).
async fn lookup_without_javascript(
    axum::extract::State(state): axum::extract::State<AppState>,
    connect_info: axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    axum::Form(fields): axum::Form<app::voter::LookupFields>,
) -> axum::response::Response {
    use leptos::prelude::provide_context;
    let mut request = Request::new(axum::body::Body::empty());
    *request.uri_mut() = axum::http::Uri::from_static("/ballot");
    *request.headers_mut() = headers;
    request.extensions_mut().insert(connect_info);
    let options = state.leptos_options.clone();
    // In order: the answer is in the HTML where it belongs, not swapped in by JavaScript.
    let render = leptos_axum::render_app_to_stream_in_order_with_context(
        move || {
            provide_context(state.clone());
            provide_context(app::voter::page::PostedLookup(fields.clone()));
        },
        move || app::static_shell(options.clone()),
    );
    render(request).await
}
