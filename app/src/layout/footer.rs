use crate::counties::load_state_contact;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Footer() -> impl IntoView {
    let contact = Resource::new(|| (), |_| load_state_contact());
    view! {
        <footer class="site-footer">
            <div class="site-footer__inner">
                <section aria-labelledby="footer-contact">
                    <h2 id="footer-contact" class="site-footer__heading">"Questions about voting?"</h2>
                    <Suspense fallback=|| view! { <p>"Loading contact details…"</p> }>
                        {move || Suspend::new(async move {
                            match contact.await {
                                Ok(c) => view! {
                                    <p>{c.agency_name}</p>
                                    <p>
                                        {c.phone.map(|p| view! { <a href=format!("tel:{}", p.replace(['(', ')', ' ', '-'], ""))>{p.clone()}</a> " · " })}
                                        {c.website.map(|w| view! { <a href=w.clone()>{w.trim_start_matches("https://").to_owned()}</a> })}
                                    </p>
                                    <p>"Or contact your county elections office (see the home page)."</p>
                                }.into_any(),
                                Err(_) => view! { <p>"Contact your county elections office."</p> }.into_any(),
                            }
                        })}
                    </Suspense>
                </section>
                <nav aria-label="Site information" class="site-footer__links">
                    <A href="/accessibility">"Accessibility"</A>
                    <A href="/privacy">"Privacy"</A>
                </nav>
                <p class="site-footer__note">
                    "Ballot Tracker tracks your ballot, never your vote."
                </p>
            </div>
        </footer>
    }
}
