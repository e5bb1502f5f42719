//! The notification pages a voter reaches from the status page and from messages' links:
//! signing up, confirming with a code or a link, cancelling. Plain HTML forms rendered on the
//! server (`templates/pages/notifications.html`), so they work with or without JavaScript.

use super::{Channel, TEMPLATES, TemplateError};
use crate::domain::Language;
use crate::i18n::td_string;
use serde::Serialize;

/// Which page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Form,
    CheckEmail,
    EnterCode,
    ConfirmLink,
    Done,
}

/// What the sign-up form holds, to show it again after a mistake.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FormValues {
    pub channel: String,
    pub address: String,
    pub language: String,
    pub window_start: String,
    pub window_end: String,
}

/// The problems a sign-up can have, each one sentence in every language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    Email,
    Phone,
    Consent,
    Window,
    Channel,
    Session,
    Code,
    Expired,
    TooMany,
}

impl Problem {
    pub fn text(self, language: Language) -> &'static str {
        let l = language.locale();
        match self {
            Problem::Email => td_string!(l, signup.err_email),
            Problem::Phone => td_string!(l, signup.err_phone),
            Problem::Consent => td_string!(l, signup.err_consent),
            Problem::Window => td_string!(l, signup.err_window),
            Problem::Channel => td_string!(l, signup.err_channel),
            Problem::Session => td_string!(l, signup.err_session),
            Problem::Code => td_string!(l, signup.err_code),
            Problem::Expired => td_string!(l, signup.err_expired),
            Problem::TooMany => td_string!(l, signup.err_too_many),
        }
    }
}

/// What the page says after the sign-up form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Said {
    Nothing,
    CheckEmail,
    CodeSent(Channel),
    Confirmed,
    Already,
    ConfirmAsk,
    Cancelled,
}

/// A subscription listed on the page, its address masked.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    pub id: i64,
    pub channel: &'static str,
    pub address: String,
    pub confirmed: bool,
}

#[derive(Clone, Debug)]
pub struct Page {
    pub state: State,
    pub language: Language,
    /// The look-up's proof; empty when the page came from a message's link.
    pub token: String,
    pub said: Said,
    /// The address the message is about (masked here).
    pub address: String,
    pub subscription: Option<i64>,
    pub errors: Vec<Problem>,
    pub form: FormValues,
    pub own: Vec<Listed>,
}

impl Page {
    pub fn new(state: State, language: Language) -> Self {
        Self {
            state,
            language,
            token: String::new(),
            said: Said::Nothing,
            address: String::new(),
            subscription: None,
            errors: Vec::new(),
            form: FormValues {
                language: language.code().to_owned(),
                window_start: "08:00".into(),
                window_end: "21:00".into(),
                channel: "email".into(),
                ..FormValues::default()
            },
            own: Vec::new(),
        }
    }
}

/// `m•••@example.org` or `•••0100`.
pub fn mask_address(channel: Channel, address: &str) -> String {
    match channel {
        Channel::Email => crate::admin::ballot::mask(address),
        Channel::Sms | Channel::Voice => {
            let digits: String = address.chars().rev().take(4).collect();
            format!("•••{}", digits.chars().rev().collect::<String>())
        }
    }
}

pub fn channel_label(channel: Channel, language: Language) -> &'static str {
    let l = language.locale();
    match channel {
        Channel::Email => td_string!(l, signup.channel_email),
        Channel::Sms => td_string!(l, signup.channel_sms),
        Channel::Voice => td_string!(l, signup.channel_voice),
    }
}

pub fn render(page: &Page) -> Result<String, TemplateError> {
    let language = page.language;
    let l = language.locale();
    let masked = page.address.clone();
    let message = match page.said {
        Said::Nothing => String::new(),
        Said::CheckEmail => td_string!(l, signup.check_email).replace("%address%", &masked),
        Said::CodeSent(Channel::Voice) => {
            td_string!(l, signup.code_voice).replace("%address%", &masked)
        }
        Said::CodeSent(_) => td_string!(l, signup.code_sms).replace("%address%", &masked),
        Said::Confirmed => td_string!(l, signup.confirmed).to_owned(),
        Said::Already => td_string!(l, signup.already).replace("%address%", &masked),
        Said::ConfirmAsk => td_string!(l, signup.confirm_ask).replace("%address%", &masked),
        Said::Cancelled => td_string!(l, signup.cancelled).replace("%address%", &masked),
    };
    let words = std::collections::BTreeMap::from([
        ("title", td_string!(l, signup.title)),
        ("intro", td_string!(l, signup.intro)),
        ("channel_legend", td_string!(l, signup.channel_legend)),
        ("address_label", td_string!(l, signup.address_label)),
        ("address_hint", td_string!(l, signup.address_hint)),
        ("language_label", td_string!(l, signup.language_label)),
        ("window_legend", td_string!(l, signup.window_legend)),
        ("window_from", td_string!(l, signup.window_from)),
        ("window_to", td_string!(l, signup.window_to)),
        ("consent", td_string!(l, signup.consent)),
        ("consent_agree", td_string!(l, signup.consent_agree)),
        ("submit", td_string!(l, signup.submit)),
        ("code_label", td_string!(l, signup.code_label)),
        ("confirm", td_string!(l, signup.confirm)),
        ("yours_title", td_string!(l, signup.yours_title)),
        ("yours_pending", td_string!(l, signup.yours_pending)),
        ("stop", td_string!(l, signup.stop)),
        ("add", td_string!(l, signup.add)),
        ("lookup_again", td_string!(l, signup.lookup_again)),
    ]);
    let channels: Vec<_> = Channel::ALL
        .into_iter()
        .map(|c| minijinja::context! { code => c.code(), label => channel_label(c, language) })
        .collect();
    let languages: Vec<_> = Language::ALL
        .into_iter()
        .map(|x| minijinja::context! { code => x.code(), name => x.native_name() })
        .collect();
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}:00")).collect();
    let errors: Vec<&str> = page.errors.iter().map(|p| p.text(language)).collect();
    let ctx = minijinja::context! {
        lang => language.code(),
        site => td_string!(l, site.name),
        skip => td_string!(l, site.skip),
        privacy => td_string!(l, privacy.title),
        state => page.state,
        t => words,
        token => page.token,
        message => message,
        subscription => page.subscription,
        errors => errors,
        form => page.form,
        own => page.own,
        channels => channels,
        languages => languages,
        hours => hours,
    };
    TEMPLATES
        .get_template("notifications.html")
        .and_then(|t| t.render(ctx))
        .map_err(|source| TemplateError {
            name: "notifications.html".into(),
            source,
        })
}
