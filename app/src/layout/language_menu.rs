use crate::domain::Language;
use crate::prefs::{SetLanguage, use_language};
use leptos::prelude::*;

/// A form that works as a plain post before hydration and without JavaScript, and updates the
/// page in place once hydrated.
#[component]
pub fn LanguageMenu() -> impl IntoView {
    let language = use_language();
    let action = ServerAction::<SetLanguage>::new();
    Effect::new(move |_| {
        if let Some(Ok(chosen)) = action.value().get() {
            language.set(chosen);
        }
    });

    view! {
        <ActionForm action attr:class="language-menu">
            <label for="language-select">
                // A drawn globe: emoji fonts are not on every machine.
                <svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
                    <circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" stroke-width="1.6" />
                    <ellipse cx="12" cy="12" rx="4.2" ry="9.5" fill="none" stroke="currentColor" stroke-width="1.6" />
                    <path d="M2.5 12h19M4 7h16M4 17h16" fill="none" stroke="currentColor" stroke-width="1.6" />
                </svg>
                {tr!(site.language)}
            </label>
            <select id="language-select" name="lang">
                {Language::ALL
                    .into_iter()
                    .map(|l| {
                        view! {
                            <option value=l.code() lang=l.code() selected=move || language.get() == l>
                                {l.native_name()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <button type="submit" class="button button--small">{tr!(site.language_change)}</button>
        </ActionForm>
    }
}
