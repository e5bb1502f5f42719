use crate::domain::{BallotStatus, wording};
use leptos::prelude::*;

/// Every status, in the order a ballot usually meets them, in the same sentences the status page
/// and the messages use.
#[component]
pub fn StatusGuide() -> impl IntoView {
    view! {
        <section class="status-guide" aria-labelledby="status-guide-title">
            <h2 id="status-guide-title">"What each status means"</h2>
            <p>"\"Received\" and \"counted\" are different steps: a received ballot is checked before it is counted."</p>
            <dl class="status-guide__list">
                {BallotStatus::ALL
                    .into_iter()
                    .map(|status| {
                        let w = wording::status(status);
                        view! {
                            <div class="status-guide__item" data-status=status.code()>
                                <dt>{w.headline}</dt>
                                <dd>{w.meaning}</dd>
                            </div>
                        }
                    })
                    .collect_view()}
            </dl>
        </section>
    }
}
