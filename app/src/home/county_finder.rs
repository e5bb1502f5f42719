use crate::counties::{ContactBlock, list_counties, load_county_contact};
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

/// Pick a county, see its elections office. A GET form: works without JavaScript, and once
/// hydrated the router updates the page without reloading it.
#[component]
pub fn CountyFinder() -> impl IntoView {
    let query = use_query_map();
    let selected = move || query.read().get("county").filter(|c| !c.is_empty());
    let counties = Resource::new(|| (), |_| list_counties());
    let contact = Resource::new(selected, |fips| async move {
        match fips {
            Some(fips) => load_county_contact(fips).await.map(Some),
            None => Ok(None),
        }
    });

    view! {
        <section class="county-finder" aria-labelledby="county-finder-title">
            <h2 id="county-finder-title">"Contact your county elections office"</h2>
            <Suspense fallback=|| view! { <p>"Loading counties…"</p> }>
                {move || Suspend::new(async move {
                    let list = counties.await.unwrap_or_default();
                    view! {
                        <Form method="GET" action="" attr:class="county-finder__form">
                            <label for="county-select">"County"</label>
                            <select id="county-select" name="county">
                                <option value="">"Choose your county"</option>
                                {list
                                    .into_iter()
                                    .map(|c| {
                                        let fips = c.fips.clone();
                                        view! {
                                            <option value=c.fips selected=move || selected().as_deref() == Some(fips.as_str())>
                                                {c.name}
                                            </option>
                                        }
                                    })
                                    .collect_view()}
                            </select>
                            <button type="submit" class="button">"Show contact"</button>
                        </Form>
                    }
                })}
            </Suspense>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match contact.await {
                        Ok(Some(c)) => view! { <ContactBlock contact=c /> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
