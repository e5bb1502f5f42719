//! Ballot Tracker: pages, components, server functions and domain types.
//!
//! Organised by feature. Server-only code (database, hashing, network) sits in modules that are
//! declared once behind `#[cfg(feature = "ssr")]` and never reach the browser build.

// Release builds keep the full view types (debug builds erase them), and the status page's are
// deep.
#![recursion_limit = "256"]

// The words on every page, one file per language in `app/locales/`, compiled in by leptos_i18n
// (`build.rs` fails the build when a language lacks a key).
#[allow(clippy::all, clippy::expect_used, clippy::unwrap_used)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));
}
pub use generated::i18n;

/// A sentence from the locale files in the page's language, as a view that follows the
/// language menu: `tr!(lookup.title)`.
macro_rules! tr {
    ($($key:ident).+) => {{
        let language = $crate::prefs::use_language();
        move || $crate::i18n::td_string!(language.get().locale(), $($key).+)
    }};
}

pub mod admin;
pub mod api;
pub mod ballots;
pub mod counties;
pub mod domain;
pub mod error;
pub mod home;
pub mod imports;
pub mod layout;
pub mod pages;
pub mod prefs;
pub mod reports;
pub mod voter;

#[cfg(feature = "ssr")]
pub mod audit;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod client;
#[cfg(feature = "ssr")]
pub mod copy;
#[cfg(feature = "ssr")]
pub mod messages;
#[cfg(feature = "ssr")]
pub mod ratelimit;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{Html, Link, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

pub use error::AppError;

/// The HTML document around the app, rendered on the server only, for pages that hydrate.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    html_document(options, true)
}

/// The same document without hydration scripts: for answers rendered to a form posted without
/// JavaScript, which then have nothing to hydrate against.
pub fn static_shell(options: LeptosOptions) -> impl IntoView {
    html_document(options, false)
}

fn html_document(options: LeptosOptions, hydrate: bool) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                {hydrate.then(|| view! {
                    <AutoReload options=options.clone() />
                    <HydrationScripts options=options.clone() />
                })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let language = prefs::provide_language();
    // Runs only in the browser, once hydrated: lets tests (and styles) tell the two apart.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Html attr:lang=move || language.get().code() />
        <Stylesheet id="leptos" href="/pkg/ballot-tracker.css" />
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        <Title formatter=|page: String| format!("{page} · Ballot Tracker") />
        <Router>
            <layout::Page>
                <Routes fallback=pages::NotFound>
                    <Route path=StaticSegment("") view=home::HomePage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("ballot") view=voter::page::BallotPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("accessibility") view=pages::Accessibility ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("privacy") view=pages::Privacy ssr=SsrMode::InOrder />
                    // The portal waits for the account before it answers, so that a visitor
                    // who is not signed in gets a plain redirect to the sign-in page.
                    <Route path=StaticSegment("admin") view=admin::records::RecordsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("sign-in")) view=admin::signin::SignInPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("audit")) view=admin::audit_view::AuditPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("messages")) view=admin::messages_view::MessagesPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("imports")) view=admin::imports_view::ImportsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("imports"), ParamSegment("id")) view=admin::imports_view::ImportPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("reports")) view=admin::reports_view::ReportsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("reports"), StaticSegment("exports")) view=admin::reports_view::ExportsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("accounts")) view=admin::accounts::AccountsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("forgot-password")) view=admin::accounts::ForgotPasswordPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("password"), ParamSegment("secret")) view=admin::accounts::SetPasswordPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("announcements")) view=admin::announcements::AnnouncementsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("announcements"), StaticSegment("new")) view=admin::announcements::AnnouncementEditorPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("announcements"), ParamSegment("id")) view=admin::announcements::AnnouncementPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("announcements"), ParamSegment("id"), StaticSegment("edit")) view=admin::announcements::AnnouncementEditorPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("elections")) view=admin::elections::ElectionsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("county")) view=admin::county_settings::CountySettingsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("county"), StaticSegment("codes")) view=admin::code_maps::CodeMapsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("county"), StaticSegment("api-tokens")) view=admin::api_tokens::ApiTokensPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("two-factor")) view=admin::two_factor::TwoFactorPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("ballots"), ParamSegment("id")) view=admin::ballot::BallotRecordPage ssr=SsrMode::Async />
                </Routes>
            </layout::Page>
        </Router>
    }
}
