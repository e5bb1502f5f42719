//! A county's settings: the contact block voters see on their status page, its time zone, and
//! whether its staff must use two-factor sign-in. County administrators change their own
//! county's; state administrators any county's.

use super::frame::{AdminFrame, CountyPicker};
use super::{Role, Staff};
use crate::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountySettings {
    pub fips: String,
    pub name: String,
    pub office_name: String,
    pub phone: String,
    pub email: String,
    pub website: String,
    pub office_address: String,
    pub office_hours: String,
    pub time_zone: String,
    pub require_2fa: bool,
}

/// The settings as a form sends them, checked field by field; every problem is named.
pub fn check(settings: &CountySettings) -> Result<(), AppError> {
    let mut problems = Vec::new();
    let long = |v: &str, max: usize| v.chars().count() > max;
    if long(&settings.office_name, 200) || long(&settings.office_address, 300) {
        problems.push("The office name or address is too long.");
    }
    if long(&settings.office_hours, 300) {
        problems.push("The office hours are too long (300 characters at most).");
    }
    if !settings.phone.is_empty()
        && (long(&settings.phone, 40)
            || !settings
                .phone
                .chars()
                .all(|c| c.is_ascii_digit() || " ()+-.x".contains(c)))
    {
        problems.push("The phone number may hold digits, spaces and ( ) + - . x only.");
    }
    if !settings.email.is_empty() {
        let ok = settings
            .email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains(' '))
            && !settings.email.contains(char::is_whitespace)
            && !long(&settings.email, 320);
        if !ok {
            problems.push("The email address is not valid.");
        }
    }
    if !settings.website.is_empty()
        && (!settings.website.starts_with("https://") || long(&settings.website, 300))
    {
        problems.push("The website must be an https:// address.");
    }
    if settings.time_zone.parse::<chrono_tz_check::Tz>().is_err() {
        problems.push("The time zone must be an IANA name, such as America/Los_Angeles.");
    }
    match problems.as_slice() {
        [] => Ok(()),
        _ => Err(AppError::Conflict(problems.join(" "))),
    }
}

/// Time zones are checked on the server only (chrono-tz stays out of the browser's build).
#[cfg(feature = "ssr")]
mod chrono_tz_check {
    pub use chrono_tz::Tz;
}
#[cfg(not(feature = "ssr"))]
mod chrono_tz_check {
    /// In the browser any non-empty name passes; the server checks it again.
    pub struct Tz;
    impl std::str::FromStr for Tz {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            if s.is_empty() { Err(()) } else { Ok(Tz) }
        }
    }
}

/// Whether `staff` may change `fips`'s settings.
pub fn may_manage(staff: &Staff, fips: &str) -> bool {
    !staff.must_enrol_totp
        && match staff.role {
            Role::StateAdmin => true,
            Role::CountyAdmin => staff.county_fips.as_deref() == Some(fips),
            Role::CountyStaff | Role::Auditor => false,
        }
}

#[server(endpoint = "admin/county_settings")]
pub async fn load_county_settings(fips: String) -> Result<CountySettings, AppError> {
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        if !may_manage(&staff, &fips) {
            return Err(AppError::Forbidden);
        }
        let pool = pool?;
        super::store::county_settings(&pool, &fips)
            .await?
            .ok_or(AppError::NotFound)
    })
    .await
}

#[server(endpoint = "admin/save_county_settings")]
pub async fn save_county_settings(
    fips: String,
    office_name: String,
    phone: String,
    email: String,
    website: String,
    office_address: String,
    office_hours: String,
    time_zone: String,
    require_2fa: Option<String>,
) -> Result<(), AppError> {
    use crate::audit::{self, ActorKind, AuditAction, AuditEntry};
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        if !may_manage(&staff, &fips) {
            return Err(AppError::Forbidden);
        }
        let pool = pool?;
        let mut tx = pool.begin().await?;
        let Some(before) = super::store::county_settings(&mut *tx, &fips).await? else {
            return Err(AppError::NotFound);
        };
        let after = CountySettings {
            fips: fips.clone(),
            name: before.name.clone(),
            office_name: office_name.trim().to_owned(),
            phone: phone.trim().to_owned(),
            email: email.trim().to_owned(),
            website: website.trim().to_owned(),
            office_address: office_address.trim().to_owned(),
            office_hours: office_hours.trim().to_owned(),
            time_zone: time_zone.trim().to_owned(),
            require_2fa: require_2fa.is_some(),
        };
        check(&after)?;
        super::store::save_county_settings(&mut tx, &after).await?;
        let entry = AuditEntry {
            county_fips: Some(fips.clone()),
            entity: Some(("county", fips.clone())),
            before: Some(serde_json::json!(before)),
            after: Some(serde_json::json!(after)),
            ..AuditEntry::new(
                ActorKind::User,
                Some(staff.id),
                AuditAction::CountySettingsChanged,
            )
        };
        audit::record(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

#[component]
pub fn CountySettingsPage() -> impl IntoView {
    view! {
        <Title text="County settings" />
        <AdminFrame content=|staff| view! { <Settings staff /> }.into_any() />
    }
}

#[component]
fn Settings(staff: Staff) -> impl IntoView {
    let county = RwSignal::new(staff.county_fips.clone().unwrap_or_default());
    let save = ServerAction::<SaveCountySettings>::new();
    let settings = Resource::new(
        move || (county.get(), save.version().get()),
        move |(fips, _)| async move {
            if fips.is_empty() {
                Ok(None)
            } else {
                load_county_settings(fips).await.map(Some)
            }
        },
    );
    // A state administrator chooses the county first.
    let picker = (staff.role == Role::StateAdmin).then(|| {
        view! { <CountyPicker id="county-pick" county /> }
    });
    view! {
        <h1>"County settings"</h1>
        {picker}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(Some(s)) => view! { <SettingsForm settings=s save /> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(AppError::Forbidden) => view! {
                        <p class="notice" role="status">"Only a county administrator (or a state administrator) changes a county's settings."</p>
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <div aria-live="polite">
            {move || save.value().get().map(|r| match r {
                Ok(()) => view! { <p class="notice" role="status" data-testid="settings-saved">"Saved."</p> }.into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert" data-testid="settings-error">{e.to_string()}</p> }.into_any(),
            })}
        </div>
    }
}

#[component]
fn SettingsForm(settings: CountySettings, save: ServerAction<SaveCountySettings>) -> impl IntoView {
    let field = |id: &'static str, label: &'static str, value: String| {
        view! {
            <div class="field">
                <label for=format!("county-{id}")>{label}</label>
                <input id=format!("county-{id}") name=id value=value autocomplete="off" />
            </div>
        }
    };
    view! {
        <h2>{format!("{} County", settings.name)}</h2>
        <ActionForm action=save attr:class="change-form">
            <input type="hidden" name="fips" value=settings.fips.clone() />
            <fieldset>
                <legend>"What voters see on their status page"</legend>
                {field("office_name", "Office name", settings.office_name.clone())}
                {field("phone", "Phone", settings.phone.clone())}
                {field("email", "Email", settings.email.clone())}
                {field("website", "Website (https://)", settings.website.clone())}
                {field("office_address", "Office address", settings.office_address.clone())}
                {field("office_hours", "Office hours", settings.office_hours.clone())}
            </fieldset>
            {field("time_zone", "Time zone (IANA name)", settings.time_zone.clone())}
            <div class="field field--check">
                <input id="county-require_2fa" name="require_2fa" type="checkbox" value="on" checked=settings.require_2fa />
                <label for="county-require_2fa">"Staff must use two-factor sign-in"</label>
            </div>
            <button type="submit" class="button">"Save"</button>
        </ActionForm>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> CountySettings {
        CountySettings {
            fips: "06037".into(),
            name: "Los Angeles".into(),
            office_name: "Registrar-Recorder/County Clerk".into(),
            phone: "(800) 815-2666".into(),
            email: "elections@county.example.org".into(),
            website: "https://county.example.org/elections".into(),
            office_address: "12400 Imperial Hwy".into(),
            office_hours: "Mon–Fri 8–5".into(),
            time_zone: "America/Los_Angeles".into(),
            require_2fa: true,
        }
    }

    #[test]
    fn good_settings_pass_and_each_bad_field_is_named() {
        assert_eq!(check(&ok()), Ok(()));
        let bad = CountySettings {
            phone: "call us".into(),
            email: "nobody".into(),
            website: "http://insecure.example.org".into(),
            time_zone: "Mars/Olympus".into(),
            ..ok()
        };
        let Err(AppError::Conflict(message)) = check(&bad) else {
            panic!("bad settings must be refused")
        };
        for word in ["phone", "email", "https://", "time zone"] {
            assert!(message.contains(word), "{message}");
        }
    }
}
