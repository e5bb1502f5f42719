//! The ballot's story: where it is, what that means, what to do, and every step so far — in the
//! same sentences the messages and reports use, in the voter's language.

use super::{BallotStory, BallotView, EventView};
use crate::counties::ContactBlock;
use crate::domain::{BallotStatus, Language, dates, wording};
use crate::i18n::td_string;
use crate::prefs::use_language;
use leptos::prelude::*;

#[component]
pub fn StoryView(story: BallotStory) -> impl IntoView {
    let language = use_language();
    move || {
        let language = language.get();
        let l = language.locale();
        let live = story.live().cloned();
        let replaced: Vec<BallotView> = story
            .ballots
            .iter()
            .filter(|b| b.status == BallotStatus::Replaced)
            .cloned()
            .collect();
        let election = story.election.clone();
        let was_replaced = wording::status(BallotStatus::Replaced, language);
        let token = story.notify_token.clone();
        let subscriptions = story.subscriptions.clone();
        view! {
            <div class="story">
                <h2 id="story-title">{td_string!(l, story.title, election = election.name.clone())}</h2>
                {live.map(|b| view! { <Current ballot=b election=election.clone() language /> })}
                {(!replaced.is_empty()).then(|| view! {
                    <section class="story__replaced" aria-labelledby="replaced-title">
                        <h3 id="replaced-title">{td_string!(l, story.replaced_title)}</h3>
                        <p>{was_replaced.meaning} " " {was_replaced.next_step}</p>
                        {replaced.into_iter().map(|b| view! { <Timeline events=b.events language /> }).collect_view()}
                    </section>
                })}
                {(!token.is_empty()).then(|| view! {
                    <section class="story__notify" aria-labelledby="notify-title">
                        <h3 id="notify-title">{td_string!(l, signup.title)}</h3>
                        <p>{td_string!(l, signup.intro)}</p>
                        // A plain form: the sign-up pages work with or without JavaScript.
                        <form method="post" action="/notifications/new">
                            <input type="hidden" name="token" value=token.clone() />
                            <button type="submit" class="button">{td_string!(l, signup.submit)}</button>
                        </form>
                        {(!subscriptions.is_empty()).then(|| view! {
                            <h4>{td_string!(l, signup.yours_title)}</h4>
                            <ul class="subscriptions">
                                {subscriptions.iter().map(|s| {
                                    let label = match s.channel.as_str() {
                                        "sms" => td_string!(l, signup.channel_sms),
                                        "voice" => td_string!(l, signup.channel_voice),
                                        _ => td_string!(l, signup.channel_email),
                                    };
                                    view! {
                                        <li>
                                            {format!("{label}: {}", s.address)}
                                            {(!s.confirmed).then(|| view! { " " {td_string!(l, signup.yours_pending)} })}
                                            <form method="post" action="/notifications/cancel" class="inline-form">
                                                <input type="hidden" name="token" value=token.clone() />
                                                <input type="hidden" name="subscription" value=s.id.to_string() />
                                                <button type="submit" class="button button--small">{td_string!(l, signup.stop)}</button>
                                            </form>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        })}
                    </section>
                })}
                <section aria-labelledby="county-title">
                    <h3 id="county-title">{td_string!(l, story.county_title)}</h3>
                    <ContactBlock contact=story.county.clone() />
                </section>
            </div>
        }
    }
}

#[component]
fn Current(
    ballot: BallotView,
    election: super::ElectionDates,
    language: Language,
) -> impl IntoView {
    let l = language.locale();
    let w = wording::status(ballot.status, language);
    let reason = ballot.reason.map(|r| wording::reason(r, language));
    let curable = ballot.reason.is_some_and(|r| r.is_curable());
    view! {
        <section class="story__now" data-status=ballot.status.code() aria-labelledby="now-title">
            <h3 id="now-title" class="story__headline">{w.headline}</h3>
            <p>{w.meaning}</p>
            {reason.map(|r| view! { <p class="story__reason">{r.headline} " " {r.meaning}</p> })}
            {curable.then(|| view! {
                <p class="story__cure">
                    <strong>{td_string!(l, story.deadline, when = dates::moment(election.cure_deadline, language))}</strong>
                    " "
                    {match election.cure_days_left {
                        d if d > 1 => td_string!(l, story.days_left, count = d),
                        1 => td_string!(l, story.day_left).to_owned(),
                        0 => td_string!(l, story.deadline_today).to_owned(),
                        _ => td_string!(l, story.deadline_passed).to_owned(),
                    }}
                    " " {reason.and_then(|r| r.next_step)}
                </p>
            })}
            {ballot.expected_delivery.filter(|_| ballot.status == BallotStatus::InTransit).map(|d| view! {
                <p class="story__expected">{td_string!(l, story.expected, day = dates::day(d, language))}</p>
            })}
            {w.next_step.map(|n| view! { <p class="story__next">{n}</p> })}
            <h3>{td_string!(l, story.so_far)}</h3>
            <Timeline events=ballot.events language />
        </section>
    }
}

#[component]
fn Timeline(events: Vec<EventView>, language: Language) -> impl IntoView {
    let scan = td_string!(language.locale(), story.postal_scan);
    view! {
        <ol class="timeline" reversed>
            {events.into_iter().rev().map(|e| {
                let w = wording::status(e.status, language);
                view! {
                    <li class="timeline__event" data-status=e.status.code()>
                        <time datetime=e.occurred_at.format("%Y-%m-%dT%H:%M").to_string()>{dates::moment(e.occurred_at, language)}</time>
                        " — " {w.headline}
                        {e.reason.map(|r| view! { " " {wording::reason(r, language).headline} })}
                        {e.postal_scan.then_some(view! { " " {scan} })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}
