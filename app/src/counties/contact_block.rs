use super::CountyContact;
use crate::i18n::td_string;
use crate::prefs::use_language;
use leptos::prelude::*;

#[component]
pub fn ContactBlock(contact: CountyContact) -> impl IntoView {
    let language = use_language();
    move || {
        let l = language.get().locale();
        let contact = contact.clone();
        let office = contact
            .office_name
            .clone()
            .unwrap_or_else(|| td_string!(l, contact.office, county = contact.name.clone()));
        view! {
            <div class="contact-block" aria-live="polite" data-county=contact.fips.clone()>
                <h3>{office}</h3>
                <ul class="contact-block__list">
                    {contact.phone.map(|p| view! { <li>{td_string!(l, contact.phone)} " " <a href=format!("tel:{}", p.replace(['(', ')', ' ', '-'], ""))>{p.clone()}</a></li> })}
                    {contact.email.map(|e| view! { <li>{td_string!(l, contact.email)} " " <a href=format!("mailto:{e}")>{e.clone()}</a></li> })}
                    {contact.website.map(|w| view! { <li>{td_string!(l, contact.website)} " " <a href=w.clone()>{w.clone()}</a></li> })}
                    {contact.office_address.map(|a| view! { <li>{td_string!(l, contact.address)} " " {a}</li> })}
                    {contact.office_hours.map(|h| view! { <li>{td_string!(l, contact.hours)} " " {h}</li> })}
                </ul>
            </div>
        }
    }
}
