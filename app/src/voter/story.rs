//! The ballot's story: where it is, what that means, what to do, and every step so far — in the
//! same sentences the messages and reports use.

use super::{BallotStory, BallotView, EventView};
use crate::counties::ContactBlock;
use crate::domain::{BallotStatus, wording};
use chrono::{NaiveDate, NaiveDateTime};
use leptos::prelude::*;

fn when(t: NaiveDateTime) -> String {
    t.format("%B %-d, %Y, %-I:%M %p").to_string()
}

fn day(d: NaiveDate) -> String {
    d.format("%A, %B %-d, %Y").to_string()
}

#[component]
pub fn StoryView(story: BallotStory) -> impl IntoView {
    let live = story.live().cloned();
    let replaced: Vec<BallotView> = story
        .ballots
        .iter()
        .filter(|b| b.status == BallotStatus::Replaced)
        .cloned()
        .collect();
    let election = story.election.clone();
    view! {
        <div class="story">
            <h2 id="story-title">{format!("Your ballot: {}", election.name)}</h2>
            {live.map(|b| view! { <Current ballot=b election=election.clone() /> })}
            {(!replaced.is_empty()).then(|| view! {
                <section class="story__replaced" aria-labelledby="replaced-title">
                    <h3 id="replaced-title">"Your earlier ballot"</h3>
                    <p>{wording::status(BallotStatus::Replaced).meaning} " " {wording::status(BallotStatus::Replaced).next_step}</p>
                    {replaced.into_iter().map(|b| view! { <Timeline events=b.events /> }).collect_view()}
                </section>
            })}
            <section aria-labelledby="county-title">
                <h3 id="county-title">"Questions? Contact your county"</h3>
                <ContactBlock contact=story.county />
            </section>
        </div>
    }
}

#[component]
fn Current(ballot: BallotView, election: super::ElectionDates) -> impl IntoView {
    let w = wording::status(ballot.status);
    let reason = ballot.reason.map(wording::reason);
    let curable = ballot.reason.is_some_and(|r| r.is_curable());
    view! {
        <section class="story__now" data-status=ballot.status.code() aria-labelledby="now-title">
            <h3 id="now-title" class="story__headline">{w.headline}</h3>
            <p>{w.meaning}</p>
            {reason.map(|r| view! { <p class="story__reason">{r.headline} " " {r.meaning}</p> })}
            {curable.then(|| view! {
                <p class="story__cure">
                    <strong>{format!("Deadline: {} ", when(election.cure_deadline))}</strong>
                    {match election.cure_days_left {
                        d if d > 1 => format!("({d} days left)."),
                        1 => "(1 day left).".to_owned(),
                        0 => "(today).".to_owned(),
                        _ => "(the deadline has passed; contact your county).".to_owned(),
                    }}
                    " " {reason.and_then(|r| r.next_step)}
                </p>
            })}
            {ballot.expected_delivery.filter(|_| ballot.status == BallotStatus::InTransit).map(|d| view! {
                <p class="story__expected">{format!("Expected delivery: {}.", day(d))}</p>
            })}
            {w.next_step.map(|n| view! { <p class="story__next">{n}</p> })}
            <h3>"What has happened so far"</h3>
            <Timeline events=ballot.events />
        </section>
    }
}

#[component]
fn Timeline(events: Vec<EventView>) -> impl IntoView {
    view! {
        <ol class="timeline" reversed>
            {events.into_iter().rev().map(|e| {
                let w = wording::status(e.status);
                view! {
                    <li class="timeline__event" data-status=e.status.code()>
                        <time datetime=e.occurred_at.format("%Y-%m-%dT%H:%M").to_string()>{when(e.occurred_at)}</time>
                        " — " {w.headline}
                        {e.reason.map(|r| view! { " " {wording::reason(r).headline} })}
                        {e.postal_scan.then_some(" (U.S. Postal Service scan)")}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}
