//! The home page: what the tracker does, what each status means, and where to find your county.

mod county_finder;
mod status_guide;

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text=tr!(home.title) />
        <section class="hero" aria-labelledby="home-title">
            <h1 id="home-title">{tr!(home.heading)}</h1>
            <p class="lead">
                {tr!(home.lead)}
            </p>
            <p>
                {tr!(home.signup)}
            </p>
            <p><a class="button" href="/ballot">{tr!(home.cta)}</a></p>
        </section>
        <status_guide::StatusGuide />
        <county_finder::CountyFinder />
    }
}
