//! The site's frame: header with the site name and the language menu, the main area, and the
//! footer with the state's contact and the accessibility and privacy links.

mod footer;
mod language_menu;

pub use footer::Footer;
pub use language_menu::LanguageMenu;

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Page(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">{tr!(site.skip)}</a>
        <header class="site-header">
            <div class="site-header__inner">
                <A href="/" attr:class="site-name">
                    <span class="site-name__mark" aria-hidden="true">"✉"</span>
                    {tr!(site.name)}
                </A>
                <LanguageMenu />
            </div>
        </header>
        <main id="main" tabindex="-1" class="site-main">
            {children()}
        </main>
        <Footer />
    }
}
