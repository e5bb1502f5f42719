use super::CountyContact;
use leptos::prelude::*;

#[component]
pub fn ContactBlock(contact: CountyContact) -> impl IntoView {
    let office = contact
        .office_name
        .clone()
        .unwrap_or_else(|| format!("{} County Elections Office", contact.name));
    view! {
        <div class="contact-block" aria-live="polite" data-county=contact.fips.clone()>
            <h3>{office}</h3>
            <ul class="contact-block__list">
                {contact.phone.map(|p| view! { <li>"Phone: " <a href=format!("tel:{}", p.replace(['(', ')', ' ', '-'], ""))>{p.clone()}</a></li> })}
                {contact.email.map(|e| view! { <li>"Email: " <a href=format!("mailto:{e}")>{e.clone()}</a></li> })}
                {contact.website.map(|w| view! { <li>"Website: " <a href=w.clone()>{w.clone()}</a></li> })}
                {contact.office_address.map(|a| view! { <li>"Address: " {a}</li> })}
                {contact.office_hours.map(|h| view! { <li>"Hours: " {h}</li> })}
            </ul>
        </div>
    }
}
