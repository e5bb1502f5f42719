//! The home page: what the tracker does, what each status means, and where to find your county.

mod county_finder;
mod status_guide;

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Track your mail ballot" />
        <section class="hero" aria-labelledby="home-title">
            <h1 id="home-title">"Track your vote-by-mail ballot"</h1>
            <p class="lead">
                "See when your county mails your ballot, when it reaches the elections office, and when it is counted — or what to do if there is a problem."
            </p>
            <p>
                "Sign up to be told by email, text message or phone call each time your ballot's status changes, in your language."
            </p>
            <p><a class="button" href="/ballot">"Look up your ballot"</a></p>
        </section>
        <status_guide::StatusGuide />
        <county_finder::CountyFinder />
    }
}
