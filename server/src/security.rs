//! What every response carries for the browser's protection, and the refusal of cross-site
//! state changes.
//!
//! - Headers: HSTS, `nosniff`, a referrer policy, and a Content Security Policy that allows
//!   scripts only from this origin and from inline scripts bearing this response's nonce
//!   (Leptos puts it on its hydration and streaming scripts), plus `frame-ancestors 'none'`.
//! - Cross-site requests: a request that changes state (anything but GET, HEAD, OPTIONS) is
//!   refused with 403 when its `Origin` names another site, or when the browser says it is
//!   cross-site (`Sec-Fetch-Site`). SameSite=Strict session cookies are the second lock.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The policy, with the nonce of the page's inline scripts when it has any.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let scripts = match nonce {
        Some(n) => format!("script-src 'self' 'nonce-{n}' 'wasm-unsafe-eval'"),
        None => "script-src 'self' 'wasm-unsafe-eval'".to_owned(),
    };
    format!(
        "default-src 'self'; {scripts}; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The nonce of this request's page: made here, before anything renders, so the policy on the
/// response and the nonce on the page's scripts come from one place (`router::page_nonce` reads
/// it from the request).
#[derive(Clone, Debug)]
pub struct PageNonce(pub String);

/// Refuses cross-site state changes; then sets the protective headers on the response: the
/// Content Security Policy with this request's nonce, which a rendered page's inline scripts
/// carry, and `no-store` on the portal's answers even where a handler forgot it.
pub async fn guard(mut request: Request, next: Next) -> Response {
    if changes_state(request.method()) && is_cross_site(&request) {
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }
    let nonce = leptos::nonce::Nonce::new().to_string();
    request.extensions_mut().insert(PageNonce(nonce.clone()));
    let portal = request.uri().path().starts_with("/admin")
        || request.uri().path().starts_with("/api/admin");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&content_security_policy(Some(&nonce)))
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")),
    );
    if portal {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert_with(|| HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_cross_site(request: &Request<Body>) -> bool {
    let headers = request.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        return match (origin.to_str().ok(), host) {
            (Some(origin), Some(host)) => !same_host(origin, host),
            _ => true,
        };
    }
    // No Origin: browsers send Sec-Fetch-Site on every request they make.
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site" || site == "same-site")
}

/// Whether an `Origin` ("https://example.org:8443") names the `Host` the request came to.
fn same_host(origin: &str, host: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    if scheme != "http" && scheme != "https" {
        return false;
    }
    rest.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri("/api/x");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn same_origin_and_non_browser_posts_pass() {
        let host = ("host", "127.0.0.1:3000");
        assert!(!is_cross_site(&request(
            Method::POST,
            &[host, ("origin", "http://127.0.0.1:3000")]
        )));
        assert!(!is_cross_site(&request(Method::POST, &[host])));
        assert!(!is_cross_site(&request(
            Method::POST,
            &[host, ("sec-fetch-site", "same-origin")]
        )));
    }

    #[test]
    fn other_sites_are_refused() {
        let host = ("host", "127.0.0.1:3000");
        for origin in [
            "http://evil.example",
            "http://127.0.0.1:3001",
            "null",
            "file://",
        ] {
            assert!(
                is_cross_site(&request(Method::POST, &[host, ("origin", origin)])),
                "{origin}"
            );
        }
        assert!(is_cross_site(&request(
            Method::POST,
            &[host, ("sec-fetch-site", "cross-site")]
        )));
        assert!(!changes_state(&Method::GET));
        assert!(changes_state(&Method::DELETE));
    }

    #[test]
    fn the_policy_names_the_nonce_and_forbids_framing() {
        let csp = content_security_policy(Some("abc123"));
        assert!(csp.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!content_security_policy(None).contains("nonce"));
    }
}
