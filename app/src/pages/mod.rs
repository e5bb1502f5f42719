//! Plain pages: not found, accessibility, privacy.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=tr!(not_found.title) />
        <h1>{tr!(not_found.title)}</h1>
        <p>{tr!(not_found.body)} " " <a href="/">{tr!(not_found.home)}</a></p>
    }
}

#[component]
pub fn Accessibility() -> impl IntoView {
    view! {
        <Title text=tr!(accessibility.title) />
        <article class="prose">
            <h1>{tr!(accessibility.title)}</h1>
            <p>{tr!(accessibility.intro)}</p>
            <ul>
                <li>{tr!(accessibility.keyboard)}</li>
                <li>{tr!(accessibility.no_js)}</li>
                <li>{tr!(accessibility.zoom)}</li>
                <li>{tr!(accessibility.languages)}</li>
                <li>{tr!(accessibility.channels)}</li>
            </ul>
            <p>{tr!(accessibility.contact)}</p>
        </article>
    }
}

#[component]
pub fn Privacy() -> impl IntoView {
    view! {
        <Title text=tr!(privacy.title) />
        <article class="prose">
            <h1>{tr!(privacy.title)}</h1>
            <p>{tr!(privacy.intro)}</p>
            <h2>{tr!(privacy.keep_title)}</h2>
            <ul>
                <li>{tr!(privacy.keep_record)}</li>
                <li>{tr!(privacy.keep_contact)}</li>
            </ul>
            <h2>{tr!(privacy.use_title)}</h2>
            <ul>
                <li>{tr!(privacy.use_notices)}</li>
                <li>{tr!(privacy.use_never)}</li>
                <li>{tr!(privacy.use_lookup)}</li>
                <li>{tr!(privacy.use_confidential)}</li>
            </ul>
            <h2>{tr!(privacy.stop_title)}</h2>
            <p>{tr!(privacy.stop_body)}</p>
        </article>
    }
}
