//! Ballot histories for synthetic voters. Every step is put to the status machine exactly as an
//! import would be; a history the machine refuses is a bug in this file and stops the load.

use app::domain::{BallotStatus, Current, NotCountedReason, StatusChange, transition};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::Rng;

/// Where a demo ballot's story ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Issued,
    Mailed,
    InTransit,
    Delivered,
    Undeliverable,
    ReturnInTransit,
    Received,
    InReview,
    Counted,
    NotCounted(NotCountedReason),
    Cured,
    CuredThenCounted,
    VotedInPerson,
    /// Replaced before it came back; the voter's new ballot follows `Scenario` of its own.
    Reissued,
}

impl Scenario {
    /// The status a ballot following this scenario ends in.
    pub const fn final_status(self) -> BallotStatus {
        match self {
            Scenario::Issued => BallotStatus::Issued,
            Scenario::Mailed => BallotStatus::Mailed,
            Scenario::InTransit => BallotStatus::InTransit,
            Scenario::Delivered => BallotStatus::Delivered,
            Scenario::Undeliverable => BallotStatus::Undeliverable,
            Scenario::ReturnInTransit => BallotStatus::ReturnInTransit,
            Scenario::Received => BallotStatus::Received,
            Scenario::InReview => BallotStatus::InReview,
            Scenario::Counted | Scenario::CuredThenCounted => BallotStatus::Counted,
            Scenario::NotCounted(_) => BallotStatus::NotCounted,
            Scenario::Cured => BallotStatus::Cured,
            Scenario::VotedInPerson => BallotStatus::VotedInPerson,
            Scenario::Reissued => BallotStatus::Replaced,
        }
    }
}

/// The election's calendar as the generator needs it.
#[derive(Clone)]
pub struct Calendar {
    pub mail_from: DateTime<Utc>,
    pub election_day: DateTime<Utc>,
    pub receipt_deadline: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub change: StatusChange,
    pub scan: Option<(String, &'static str)>,
    pub expected_delivery: Option<NaiveDate>,
    pub notify: bool,
}

pub struct Timeline {
    pub steps: Vec<Step>,
    pub last: Current,
    pub expected_delivery: Option<NaiveDate>,
}

#[derive(Debug, thiserror::Error)]
#[error("the status machine refused a demo step ({status:?}): {refusal}")]
pub struct RefusedStep {
    status: BallotStatus,
    refusal: app::domain::Refusal,
}

struct Builder<'a, R: Rng> {
    rng: &'a mut R,
    cal: &'a Calendar,
    zip: &'a str,
    t: DateTime<Utc>,
    steps: Vec<Step>,
    current: Option<Current>,
    expected: Option<NaiveDate>,
}

impl<R: Rng> Builder<'_, R> {
    /// Moves the clock on by `min..max` hours, never past `now` less six hours per step that
    /// still has to follow, so every history fits before now.
    fn wait(&mut self, min_h: i64, max_h: i64, remaining: i64) {
        let step = Duration::minutes(self.rng.random_range(min_h * 60..=max_h.max(min_h) * 60));
        let cap = self.cal.now - Duration::hours(6 * remaining + 1);
        self.t = (self.t + step).min(cap).max(self.t + Duration::minutes(1));
    }

    fn push(
        &mut self,
        status: BallotStatus,
        reason: Option<NotCountedReason>,
    ) -> Result<(), RefusedStep> {
        let change = StatusChange {
            status,
            reason,
            occurred_at: self.t,
        };
        let applied = transition(self.current, change, self.cal.now)
            .map_err(|refusal| RefusedStep { status, refusal })?;
        let (scan, expected) = match status {
            BallotStatus::InTransit => {
                let first = !matches!(
                    self.current.map(|c| c.status),
                    Some(BallotStatus::InTransit)
                );
                let expected = first.then(|| (self.t + Duration::days(2)).date_naive());
                (
                    Some((self.zip.to_owned(), if first { "919" } else { "918" })),
                    expected,
                )
            }
            BallotStatus::ReturnInTransit => (Some((self.zip.to_owned(), "271")), None),
            _ => (None, None),
        };
        if expected.is_some() {
            self.expected = expected;
        }
        self.steps.push(Step {
            change,
            scan,
            expected_delivery: expected,
            notify: applied.notify,
        });
        self.current = Some(change.into_current());
        Ok(())
    }

    fn finish(self) -> Option<Timeline> {
        let last = self.current?;
        Some(Timeline {
            steps: self.steps,
            last,
            expected_delivery: self.expected,
        })
    }
}

/// Builds a ballot's history from `start` (when it was issued) to `scenario`.
pub fn build<R: Rng>(
    rng: &mut R,
    cal: &Calendar,
    zip: &str,
    start: DateTime<Utc>,
    scenario: Scenario,
) -> Result<Timeline, RefusedStep> {
    use BallotStatus::*;
    let mut b = Builder {
        rng,
        cal,
        zip,
        t: start,
        steps: Vec::new(),
        current: None,
        expected: None,
    };
    b.push(Issued, None)?;
    if scenario == Scenario::Issued {
        return b.finish().ok_or(RefusedStep {
            status: Issued,
            refusal: app::domain::Refusal::MustStartIssued,
        });
    }
    // Mailed no earlier than the first lawful mailing day.
    if b.t < cal.mail_from {
        b.t = cal.mail_from;
    }
    b.wait(1, 60, 8);
    b.push(Mailed, None)?;
    if scenario == Scenario::Mailed {
        return finish(b);
    }
    b.wait(14, 30, 7);
    b.push(InTransit, None)?;
    if b.rng.random_bool(0.25) {
        b.wait(8, 20, 7);
        b.push(InTransit, None)?;
    }
    if scenario == Scenario::InTransit {
        return finish(b);
    }
    if scenario == Scenario::Undeliverable {
        b.wait(72, 240, 3);
        b.push(Undeliverable, None)?;
        return finish(b);
    }
    b.wait(20, 72, 6);
    b.push(Delivered, None)?;
    match scenario {
        Scenario::Delivered => return finish(b),
        Scenario::Reissued => {
            b.wait(48, 200, 3);
            b.push(Replaced, None)?;
            return finish(b);
        }
        Scenario::VotedInPerson => {
            b.t = b.t.max(cal.election_day - Duration::days(10));
            b.wait(0, 230, 1);
            b.push(VotedInPerson, None)?;
            return finish(b);
        }
        _ => {}
    }
    let late = scenario == Scenario::NotCounted(NotCountedReason::ReceivedLate);
    b.wait(72, 480, 5);
    // About half of returned ballots come by mail and are scanned on the way; the rest go into
    // drop boxes or are handed in, and the county's "received" is the first news of them.
    if scenario == Scenario::ReturnInTransit || b.rng.random_bool(0.5) {
        b.push(ReturnInTransit, None)?;
    }
    if scenario == Scenario::ReturnInTransit {
        return finish(b);
    }
    if late {
        b.t = b.t.max(cal.receipt_deadline + Duration::hours(2));
    }
    b.wait(20, 60, 4);
    b.push(Received, None)?;
    if scenario == Scenario::Received {
        return finish(b);
    }
    // Many counties report only "received" then the decision; review shows up about half the
    // time.
    if scenario == Scenario::InReview || b.rng.random_bool(0.5) {
        b.wait(4, 40, 3);
        b.push(InReview, None)?;
    }
    if scenario == Scenario::InReview {
        return finish(b);
    }
    b.wait(12, 60, 2);
    match scenario {
        Scenario::Counted => b.push(Counted, None)?,
        Scenario::NotCounted(reason) => b.push(NotCounted, Some(reason))?,
        Scenario::Cured | Scenario::CuredThenCounted => {
            let reason = if b.rng.random_bool(0.75) {
                NotCountedReason::SignatureMismatch
            } else {
                NotCountedReason::SignatureMissing
            };
            b.push(NotCounted, Some(reason))?;
            b.wait(24, 120, 1);
            b.push(Cured, None)?;
            if scenario == Scenario::CuredThenCounted {
                b.wait(6, 40, 0);
                b.push(Counted, None)?;
            }
        }
        _ => {}
    }
    finish(b)
}

fn finish<R: Rng>(b: Builder<'_, R>) -> Result<Timeline, RefusedStep> {
    b.finish().ok_or(RefusedStep {
        status: BallotStatus::Issued,
        refusal: app::domain::Refusal::MustStartIssued,
    })
}

/// Random voters' scenarios, per mille, roughly as a California general election looks a week
/// and a half after Election Day.
pub fn random_scenario<R: Rng>(rng: &mut R) -> Scenario {
    let x = rng.random_range(0..1000);
    match x {
        0..5 => Scenario::Issued,
        5..20 => Scenario::Mailed,
        20..35 => Scenario::InTransit,
        35..255 => Scenario::Delivered,
        255..270 => Scenario::Undeliverable,
        270..290 => Scenario::ReturnInTransit,
        290..350 => Scenario::Received,
        350..400 => Scenario::InReview,
        400..890 => Scenario::Counted,
        890..915 => Scenario::NotCounted(random_reason(rng)),
        915..923 => Scenario::Cured,
        923..930 => Scenario::CuredThenCounted,
        930..980 => Scenario::VotedInPerson,
        _ => Scenario::Reissued,
    }
}

/// Weighted by California's November 2020 rejections (2 CCR 19092 reasons).
fn random_reason<R: Rng>(rng: &mut R) -> NotCountedReason {
    use NotCountedReason::*;
    let x = rng.random_range(0..1000);
    match x {
        0..577 => SignatureMismatch,
        577..751 => ReceivedLate,
        751..921 => SignatureMissing,
        921..987 => AlreadyVoted,
        987..990 => BallotMissing,
        990..993 => VoterDeceased,
        993..995 => MultipleBallots,
        995..997 => UnofficialEnvelope,
        997..999 => NotEligible,
        _ => Other,
    }
}

/// What the replacement ballot of a reissued voter goes on to.
pub fn replacement_scenario<R: Rng>(rng: &mut R) -> Scenario {
    match rng.random_range(0..4) {
        0 => Scenario::InTransit,
        1 => Scenario::Delivered,
        2 => Scenario::Received,
        _ => Scenario::Counted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn calendar() -> Calendar {
        let now = Utc::now();
        let election_day = now - Duration::days(10);
        Calendar {
            mail_from: election_day - Duration::days(29),
            election_day,
            receipt_deadline: election_day + Duration::days(7),
            now,
        }
    }

    #[test]
    fn every_scenario_reaches_its_status_before_now() {
        let cal = calendar();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let cases = [
            Scenario::Issued,
            Scenario::Mailed,
            Scenario::InTransit,
            Scenario::Delivered,
            Scenario::Undeliverable,
            Scenario::ReturnInTransit,
            Scenario::Received,
            Scenario::InReview,
            Scenario::Counted,
            Scenario::NotCounted(NotCountedReason::ReceivedLate),
            Scenario::Cured,
            Scenario::CuredThenCounted,
            Scenario::VotedInPerson,
            Scenario::Reissued,
        ];
        for _ in 0..200 {
            for scenario in cases {
                let status = scenario.final_status();
                let start = cal.mail_from - Duration::days(3);
                let t = build(&mut rng, &cal, "90012", start, scenario).unwrap();
                assert_eq!(t.last.status, status, "{scenario:?}");
                assert!(t.steps.iter().all(|s| s.change.occurred_at <= cal.now));
                assert!(
                    t.steps
                        .windows(2)
                        .all(|w| w[0].change.occurred_at <= w[1].change.occurred_at)
                );
            }
        }
    }

    #[test]
    fn late_ballots_arrive_after_the_deadline() {
        let cal = calendar();
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let t = build(
            &mut rng,
            &cal,
            "90012",
            cal.mail_from,
            Scenario::NotCounted(NotCountedReason::ReceivedLate),
        )
        .unwrap();
        let received = t
            .steps
            .iter()
            .find(|s| s.change.status == BallotStatus::Received)
            .unwrap();
        assert!(received.change.occurred_at > cal.receipt_deadline);
    }
}
