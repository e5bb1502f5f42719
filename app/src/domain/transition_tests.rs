use super::*;
use BallotStatus::*;
use chrono::TimeZone;
use proptest::prelude::*;

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 5, 8, 0, 0).single().unwrap() + Duration::minutes(minutes)
}

/// The legal moves, written out by hand from DOMAIN.md so the test does not trust `is_legal`.
const LEGAL: &[(&str, &[&str])] = &[
    (
        "issued",
        &[
            "mailed",
            "in_transit",
            "delivered",
            "undeliverable",
            "return_in_transit",
            "received",
            "replaced",
            "voted_in_person",
        ],
    ),
    (
        "mailed",
        &[
            "in_transit",
            "delivered",
            "undeliverable",
            "return_in_transit",
            "received",
            "replaced",
            "voted_in_person",
        ],
    ),
    (
        "in_transit",
        &[
            "in_transit",
            "delivered",
            "undeliverable",
            "return_in_transit",
            "received",
            "replaced",
            "voted_in_person",
        ],
    ),
    (
        "delivered",
        &[
            "return_in_transit",
            "received",
            "replaced",
            "voted_in_person",
        ],
    ),
    ("undeliverable", &["replaced", "voted_in_person"]),
    (
        "return_in_transit",
        &[
            "return_in_transit",
            "received",
            "replaced",
            "voted_in_person",
        ],
    ),
    ("received", &["in_review", "counted", "not_counted"]),
    ("in_review", &["counted", "not_counted"]),
    ("counted", &[]),
    ("not_counted", &["cured", "in_review"]),
    ("cured", &["in_review", "counted", "not_counted"]),
    ("voted_in_person", &[]),
    ("replaced", &[]),
];

#[test]
fn every_pair_matches_the_written_table() {
    for from in BallotStatus::ALL {
        let row = LEGAL.iter().find(|(f, _)| *f == from.code()).unwrap().1;
        for to in BallotStatus::ALL {
            assert_eq!(
                is_legal(from, to),
                row.contains(&to.code()),
                "{from:?} -> {to:?}"
            );
        }
    }
}

#[test]
fn a_new_ballot_starts_issued() {
    assert_eq!(
        transition(None, StatusChange::new(Issued, t(0)), t(1)),
        Ok(Applied { notify: false })
    );
    assert_eq!(
        transition(None, StatusChange::new(Mailed, t(0)), t(1)),
        Err(Refusal::MustStartIssued)
    );
}

#[test]
fn counted_needs_received_first() {
    let mailed = Current {
        status: Mailed,
        reason: None,
        at: t(0),
    };
    assert_eq!(
        transition(Some(mailed), StatusChange::new(Counted, t(5)), t(10)),
        Err(Refusal::Illegal {
            from: Mailed,
            to: Counted
        })
    );
}

#[test]
fn planned_dates_are_refused() {
    let issued = Current {
        status: Issued,
        reason: None,
        at: t(0),
    };
    let tomorrow = StatusChange::new(Mailed, t(24 * 60));
    assert_eq!(
        transition(Some(issued), tomorrow, t(10)),
        Err(Refusal::InFuture)
    );
    let within_skew = StatusChange::new(Mailed, t(14));
    assert!(transition(Some(issued), within_skew, t(10)).is_ok());
}

#[test]
fn reasons_belong_to_not_counted_only() {
    let received = Some(Current {
        status: Received,
        reason: None,
        at: t(0),
    });
    let mut change = StatusChange::new(NotCounted, t(1));
    assert_eq!(
        transition(received, change, t(2)),
        Err(Refusal::ReasonRequired)
    );
    change = StatusChange {
        status: Counted,
        reason: Some(NotCountedReason::Other),
        occurred_at: t(1),
    };
    assert_eq!(
        transition(received, change, t(2)),
        Err(Refusal::ReasonNotAllowed)
    );
}

#[test]
fn only_signature_problems_cure() {
    for reason in NotCountedReason::ALL {
        let nc = Some(Current {
            status: NotCounted,
            reason: Some(reason),
            at: t(0),
        });
        let r = transition(nc, StatusChange::new(Cured, t(1)), t(2));
        assert_eq!(r.is_ok(), reason.is_curable(), "{reason:?}");
    }
}

#[test]
fn repeats_are_scans_and_other_repeats_are_no_ops() {
    let transit = Some(Current {
        status: InTransit,
        reason: None,
        at: t(0),
    });
    assert_eq!(
        transition(transit, StatusChange::new(InTransit, t(1)), t(2)),
        Ok(Applied { notify: false })
    );
    let received = Some(Current {
        status: Received,
        reason: None,
        at: t(0),
    });
    assert_eq!(
        transition(received, StatusChange::new(Received, t(1)), t(2)),
        Err(Refusal::Unchanged)
    );
}

#[test]
fn the_voter_hears_of_the_first_scan_only() {
    let mailed = Some(Current {
        status: Mailed,
        reason: None,
        at: t(0),
    });
    assert_eq!(
        transition(mailed, StatusChange::new(InTransit, t(1)), t(2)),
        Ok(Applied { notify: true })
    );
    assert!(!notifies(Some(InTransit), InTransit));
    assert!(
        !notifies(None, Issued),
        "issuing is not mailing: no 'mailed' message before the mail"
    );
}

#[test]
fn final_statuses_take_nothing_more() {
    for status in [Counted, VotedInPerson, Replaced] {
        let cur = Some(Current {
            status,
            reason: None,
            at: t(0),
        });
        for to in BallotStatus::ALL
            .into_iter()
            .filter(|s| *s != status && *s != NotCounted)
        {
            assert_eq!(
                transition(cur, StatusChange::new(to, t(1)), t(2)),
                Err(Refusal::Final(status))
            );
        }
    }
}

fn any_change() -> impl Strategy<Value = (usize, Option<usize>, i64)> {
    // A status, maybe a reason, and a time step (minutes) that is sometimes negative and
    // sometimes far in the future.
    (
        0..BallotStatus::ALL.len(),
        proptest::option::of(0..NotCountedReason::ALL.len()),
        -60i64..20_000,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_histories_keep_every_invariant(steps in proptest::collection::vec(any_change(), 1..40)) {
        let now = t(100_000);
        let mut clock = t(0);
        let mut current: Option<Current> = None;
        let mut history: Vec<Current> = Vec::new();
        for (s, r, dt) in steps {
            let change = StatusChange {
                status: BallotStatus::ALL[s],
                reason: r.map(|r| NotCountedReason::ALL[r]),
                occurred_at: clock + Duration::minutes(dt),
            };
            if transition(current, change, now).is_ok() {
                // Accepted: check the change against the hand-written rules.
                prop_assert!(change.occurred_at <= now + MAX_CLOCK_SKEW, "planned date accepted");
                match current {
                    None => prop_assert_eq!(change.status, Issued),
                    Some(cur) => {
                        let row = LEGAL.iter().find(|(f, _)| *f == cur.status.code()).unwrap().1;
                        prop_assert!(row.contains(&change.status.code()), "{:?} -> {:?}", cur.status, change.status);
                        prop_assert!(change.occurred_at >= cur.at, "time went backwards");
                    }
                }
                if change.status == Counted {
                    prop_assert!(history.iter().any(|h| h.status == Received), "counted without received");
                }
                if change.status == Cured {
                    prop_assert!(current.and_then(|c| c.reason).is_some_and(|r| r.is_curable()));
                }
                prop_assert_eq!(change.reason.is_some(), change.status == NotCounted);
                current = Some(change.into_current());
                history.push(change.into_current());
                clock = change.occurred_at;
            }
        }
        if let Some(first) = history.first() {
            prop_assert_eq!(first.status, Issued);
        }
        if let Some(pos) = history.iter().position(|h| h.status.is_terminal()) {
            prop_assert_eq!(pos, history.len() - 1, "an event followed a final status");
        }
    }

    #[test]
    fn planned_dates_never_produce_events(s in 0..13usize, ahead in 6i64..1_000_000, from in 0..13usize) {
        let now = t(0);
        let cur = Some(Current { status: BallotStatus::ALL[from], reason: Some(NotCountedReason::SignatureMissing).filter(|_| BallotStatus::ALL[from] == NotCounted), at: t(-10) });
        let change = StatusChange { status: BallotStatus::ALL[s], reason: None, occurred_at: now + Duration::minutes(ahead) };
        prop_assert_eq!(transition(cur, change, now), Err(Refusal::InFuture));
        prop_assert_eq!(transition(None, change, now), Err(Refusal::InFuture));
    }
}
