use crate::counties::{ContactBlock, list_counties, load_county_contact};
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

/// Pick a county, see its elections office. A GET form: works without JavaScript, and once
/// hydrated the router updates the page without reloading it.
#[component]
pub fn CountyFinder() -> impl IntoView {
    let language = crate::prefs::use_language();
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
            <h2 id="county-finder-title">{tr!(home.finder_title)}</h2>
            <Suspense fallback=|| view! { <p>{tr!(home.finder_loading)}</p> }>
                {move || Suspend::new(async move {
                    let list = counties.await.unwrap_or_default();
                    view! {
                        <Form method="GET" action="" attr:class="county-finder__form">
                            <label for="county-select">{tr!(home.finder_label)}</label>
                            <select id="county-select" name="county">
                                <option value="">{tr!(home.finder_choose)}</option>
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
                            <button type="submit" class="button">{tr!(home.finder_submit)}</button>
                        </Form>
                    }
                })}
            </Suspense>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match contact.await {
                        Ok(Some(c)) => view! { <ContactBlock contact=c /> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <p class="error" role="alert">{move || e.text(language.get())}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
