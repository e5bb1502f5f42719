//! `/ballot`: the look-up form and, below it, the ballot's story.
//!
//! Hydrated, the form calls the look-up server function in place and moves focus to the
//! answer. Without JavaScript it posts to `/ballot`, and the server renders this same page with
//! the answer (and without hydration scripts). Either way the answer has no URL of its own.

use super::LookupFields;
use super::lookup::{LookupBallot, LookupOutcome, lookup_ballot};
use super::story::StoryView;
use crate::AppError;
use crate::prefs::use_language;
use leptos::html;
use leptos::prelude::*;
use leptos_meta::Title;

/// The fields a form without JavaScript posted to `/ballot`, provided by the server's handler.
#[derive(Clone, Debug)]
pub struct PostedLookup(pub LookupFields);

#[component]
pub fn BallotPage() -> impl IntoView {
    let action = ServerAction::<LookupBallot>::new();
    let posted = use_context::<PostedLookup>();
    let answer_ref = NodeRef::<html::Section>::new();
    // Once an in-place answer arrives, move focus to it.
    Effect::new(move |_| {
        if action.value().get().is_some()
            && let Some(el) = answer_ref.get()
        {
            let _ = el.focus();
        }
    });
    let inputs: [NodeRef<html::Input>; 5] = std::array::from_fn(|_| NodeRef::new());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = |i: usize| inputs[i].get().map(|el| el.value()).unwrap_or_default();
        action.dispatch(LookupBallot {
            first_name: value(0),
            last_name: value(1),
            date_of_birth: value(2),
            zip: value(3),
            voter_id: value(4),
        });
    };
    let posted_answer = posted.map(|PostedLookup(f)| {
        Resource::new_blocking(
            || (),
            move |_| {
                let f = f.clone();
                async move {
                    lookup_ballot(
                        f.first_name,
                        f.last_name,
                        f.date_of_birth,
                        f.zip,
                        f.voter_id,
                    )
                    .await
                }
            },
        )
    });
    let language = use_language();
    let field_error = move |name: &'static str| {
        move || match action.value().get() {
            Some(Err(e)) => e.field_problem(name).map(|p| p.text(language.get())),
            _ => None,
        }
    };

    view! {
        <Title text=tr!(lookup.title) />
        <h1>{tr!(lookup.title)}</h1>
        <p>{tr!(lookup.intro)}</p>
        <form method="post" action="/ballot" class="lookup-form" on:submit=on_submit novalidate>
            <fieldset>
                <legend>{tr!(lookup.legend)}</legend>
                <Field name="first_name" label=tr!(lookup.first_name) autocomplete="given-name" node_ref=inputs[0] error=field_error("first_name") />
                <Field name="last_name" label=tr!(lookup.last_name) autocomplete="family-name" node_ref=inputs[1] error=field_error("last_name") />
                <Field name="date_of_birth" label=tr!(lookup.date_of_birth) kind="date" autocomplete="bday" node_ref=inputs[2] error=field_error("date_of_birth") />
                <Field name="zip" label=tr!(lookup.zip) autocomplete="postal-code" inputmode="numeric" node_ref=inputs[3] error=field_error("zip") />
            </fieldset>
            <details class="lookup-form__alt">
                <summary>{tr!(lookup.alt)}</summary>
                <Field name="voter_id" label=tr!(lookup.voter_id) autocomplete="off" node_ref=inputs[4] error=field_error("voter_id") />
            </details>
            <button type="submit" class="button">{tr!(lookup.submit)}</button>
        </form>
        <section class="lookup-answer" aria-live="polite" tabindex="-1" node_ref=answer_ref>
            {move || action.value().get().map(|answer| view! { <Answer answer /> })}
            {posted_answer.map(|r| view! {
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move { view! { <Answer answer=r.await /> } })}
                </Suspense>
            })}
        </section>
    }
}

#[component]
fn Field(
    name: &'static str,
    label: impl Fn() -> &'static str + Send + Sync + 'static,
    #[prop(default = "text")] kind: &'static str,
    autocomplete: &'static str,
    #[prop(optional)] inputmode: Option<&'static str>,
    node_ref: NodeRef<html::Input>,
    error: impl Fn() -> Option<&'static str> + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let id = format!("lookup-{name}");
    let error_id = format!("{id}-error");
    let described = error_id.clone();
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input id=id name=name type=kind node_ref=node_ref autocomplete=autocomplete inputmode=inputmode
                aria-invalid=move || error().is_some().then_some("true")
                aria-describedby=move || error().is_some().then(|| described.clone()) />
            {move || error().map(|m| view! { <p class="field__error" id=error_id.clone()>{m}</p> })}
        </div>
    }
}

#[component]
fn Answer(answer: Result<LookupOutcome, AppError>) -> impl IntoView {
    let language = use_language();
    match answer {
        Ok(LookupOutcome::Found(story)) => view! { <StoryView story=*story /> }.into_any(),
        Ok(LookupOutcome::NoMatch) => {
            view! { <p class="notice" role="alert">{tr!(lookup.no_match)}</p> }.into_any()
        }
        Err(AppError::Validation(errors)) => view! {
            <div class="notice notice--error" role="alert">
                <p>{tr!(lookup.correct)}</p>
                <ul>{errors.into_iter().map(|e| view! { <li>{move || e.problem.text(language.get())}</li> }).collect_view()}</ul>
            </div>
        }
        .into_any(),
        Err(e) => {
            let rate_limited = (e == AppError::RateLimited).then_some("rate-limited");
            view! {
                <p class="notice notice--error" role="alert" data-error=rate_limited>{move || e.text(language.get())}</p>
            }
            .into_any()
        }
    }
}
