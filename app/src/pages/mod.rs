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
        <Title text="Page not found" />
        <h1>"Page not found"</h1>
        <p>"There is no page at this address. " <a href="/">"Go to the home page"</a> "."</p>
    }
}

#[component]
pub fn Accessibility() -> impl IntoView {
    view! {
        <Title text="Accessibility" />
        <article class="prose">
            <h1>"Accessibility"</h1>
            <p>"Ballot Tracker is built to meet the Web Content Accessibility Guidelines (WCAG) 2.1 at level AA, as California law requires of ballot tracking for voters with disabilities."</p>
            <ul>
                <li>"Every page works with a keyboard alone and with screen readers; focus is always visible."</li>
                <li>"Every page works without JavaScript."</li>
                <li>"Text can be enlarged to 200% without loss of content, and colours meet AA contrast."</li>
                <li>"You can choose any of ten languages from the menu at the top of each page."</li>
                <li>"Notifications can come as an email, a text message, or a voice call read aloud."</li>
            </ul>
            <p>"If something does not work for you, contact your county elections office or the Secretary of State (listed at the bottom of each page). We treat accessibility problems as defects and fix them."</p>
        </article>
    }
}

#[component]
pub fn Privacy() -> impl IntoView {
    view! {
        <Title text="Privacy" />
        <article class="prose">
            <h1>"Privacy"</h1>
            <p>"Ballot Tracker tracks your ballot as it travels to you and back to your county elections office. It never knows how you voted."</p>
            <h2>"What we keep"</h2>
            <ul>
                <li>"Your county's record of your ballot: when it was mailed, scanned by the Postal Service, received, and counted or not counted."</li>
                <li>"If you sign up for notifications: your email address or phone number, your language, the hours you accept texts and calls, and a record of when and to what text you agreed."</li>
            </ul>
            <h2>"What we do with it"</h2>
            <ul>
                <li>"We use your contact details only to send you notices about your ballot and your county's election announcements."</li>
                <li>"We never sell or share them, and never use them for campaigns."</li>
                <li>"Looking up a ballot never tells anyone whether a person is registered to vote: a failed look-up says the same thing whatever was wrong."</li>
                <li>"Voters in confidential programs (Safe at Home) are never shown by a look-up."</li>
            </ul>
            <h2>"Stopping notifications"</h2>
            <p>"Reply STOP to any text message, use the unsubscribe link in any email, or cancel from your ballot's status page. Msg & data rates may apply."</p>
        </article>
    }
}
