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
                    <h2 id="footer-contact" class="site-footer__heading">{tr!(footer.heading)}</h2>
                    <Suspense fallback=|| view! { <p>{tr!(footer.loading)}</p> }>
                        {move || Suspend::new(async move {
                            match contact.await {
                                Ok(c) => view! {
                                    <p>{c.agency_name}</p>
                                    <p>
                                        {c.phone.map(|p| view! { <a href=format!("tel:{}", p.replace(['(', ')', ' ', '-'], ""))>{p.clone()}</a> " · " })}
                                        {c.website.map(|w| view! { <a href=w.clone()>{w.trim_start_matches("https://").to_owned()}</a> })}
                                    </p>
                                    <p>{tr!(footer.county_hint)}</p>
                                }.into_any(),
                                Err(_) => view! { <p>{tr!(footer.fallback)}</p> }.into_any(),
                            }
                        })}
                    </Suspense>
                </section>
                <nav aria-label=tr!(footer.nav_label) class="site-footer__links">
                    <A href="/accessibility">{tr!(footer.accessibility)}</A>
                    <A href="/privacy">{tr!(footer.privacy)}</A>
                </nav>
                <p class="site-footer__note">
                    {tr!(footer.note)}
                </p>
            </div>
        </footer>
    }
}
