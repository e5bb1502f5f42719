//! The voter's language: chosen from the menu, remembered in a cookie, and otherwise taken from
//! the browser's `Accept-Language`.

use crate::AppError;
use crate::domain::Language;
use leptos::prelude::*;

pub const LANGUAGE_COOKIE: &str = "bt_lang";

/// Provides the language signal for the page; the server reads the request, the browser reads
/// what the server rendered into `<html lang>`, so both agree at hydration.
pub fn provide_language() -> RwSignal<Language> {
    let signal = RwSignal::new(initial_language());
    provide_context(signal);
    signal
}

pub fn use_language() -> RwSignal<Language> {
    use_context::<RwSignal<Language>>().unwrap_or_else(|| RwSignal::new(Language::En))
}

#[cfg(feature = "ssr")]
fn initial_language() -> Language {
    let Some(parts) = use_context::<axum::http::request::Parts>() else {
        return Language::En;
    };
    language_from_headers(&parts.headers)
}

/// The language a request asks for: the menu's cookie, else `Accept-Language`, else English.
#[cfg(feature = "ssr")]
pub fn language_from_headers(headers: &axum::http::HeaderMap) -> Language {
    let from_cookie = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == LANGUAGE_COOKIE)
        .and_then(|(_, value)| Language::parse(value).ok());
    from_cookie
        .or_else(|| {
            headers
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Language::from_accept_language)
        })
        .unwrap_or_default()
}

#[cfg(not(feature = "ssr"))]
fn initial_language() -> Language {
    document()
        .document_element()
        .and_then(|html| html.get_attribute("lang"))
        .and_then(|lang| Language::parse(&lang).ok())
        .unwrap_or_default()
}

/// Remembers the chosen language for a year. Works as a plain form post without JavaScript
/// (the server redirects back to the page) and as a call from the hydrated menu.
#[server(endpoint = "set_language")]
pub async fn set_language(lang: String) -> Result<Language, AppError> {
    let language = Language::parse(&lang)
        .map_err(|_| AppError::field("lang", crate::error::Problem::Language))?;
    let cookie = format!(
        "{LANGUAGE_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
        language.code()
    );
    let response = expect_context::<leptos_axum::ResponseOptions>();
    if let Ok(value) = axum::http::HeaderValue::from_str(&cookie) {
        response.append_header(axum::http::header::SET_COOKIE, value);
    }
    Ok(language)
}
