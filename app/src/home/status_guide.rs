use crate::domain::{BallotStatus, wording};
use crate::prefs::use_language;
use leptos::prelude::*;

/// Every status, in the order a ballot usually meets them, in the same sentences the status page
/// and the messages use.
#[component]
pub fn StatusGuide() -> impl IntoView {
    let language = use_language();
    view! {
        <section class="status-guide" aria-labelledby="status-guide-title">
            <h2 id="status-guide-title">{tr!(home.guide_title)}</h2>
            <p>{tr!(home.guide_note)}</p>
            <dl class="status-guide__list">
                {move || {
                    let language = language.get();
                    BallotStatus::ALL
                        .into_iter()
                        .map(|status| {
                            let w = wording::status(status, language);
                            view! {
                                <div class="status-guide__item" data-status=status.code()>
                                    <dt>{w.headline}</dt>
                                    <dd>{w.meaning}</dd>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </dl>
        </section>
    }
}
