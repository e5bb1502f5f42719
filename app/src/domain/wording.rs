//! What each status and reason means, in the sentences voters read — on the status page, in
//! every message and in staff reports alike. Keep "received" and "counted" apart: a received
//! ballot has not been counted yet, and no sentence may suggest it will be.
//!
//! English lives here; the other languages follow the same keys.

use super::{BallotStatus, NotCountedReason};

/// The three sentences a voter reads for a status: what happened, what it means, what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wording {
    pub headline: &'static str,
    pub meaning: &'static str,
    pub next_step: Option<&'static str>,
}

pub const fn status(status: BallotStatus) -> Wording {
    use BallotStatus::*;
    match status {
        Issued => Wording {
            headline: "Your ballot is being prepared.",
            meaning: "Your county has assigned you a ballot. It has not been mailed yet.",
            next_step: Some("We will tell you when it is mailed."),
        },
        Mailed => Wording {
            headline: "Your ballot was mailed.",
            meaning: "Your county handed your ballot to the U.S. Postal Service. The Postal Service has not scanned it yet; that is normal in the first days.",
            next_step: Some(
                "If it has not arrived within 7 days, contact your county elections office.",
            ),
        },
        InTransit => Wording {
            headline: "Your ballot is on its way to you.",
            meaning: "The U.S. Postal Service has scanned your ballot on its way to your mailbox.",
            next_step: Some(
                "If it has not arrived by the expected date, contact your county elections office.",
            ),
        },
        Delivered => Wording {
            headline: "Your ballot should have been delivered.",
            meaning: "Postal tracking shows your ballot was delivered to your address.",
            next_step: Some(
                "Vote, sign the envelope, and return it by Election Day. If you cannot find it, contact your county elections office.",
            ),
        },
        Undeliverable => Wording {
            headline: "Your ballot could not be delivered.",
            meaning: "The U.S. Postal Service returned your ballot to the county as undeliverable.",
            next_step: Some(
                "Contact your county elections office to confirm your address and get a replacement ballot, or vote in person.",
            ),
        },
        ReturnInTransit => Wording {
            headline: "Your ballot is on its way to the county.",
            meaning: "The U.S. Postal Service has scanned your returned ballot. The county has not received it yet.",
            next_step: None,
        },
        Received => Wording {
            headline: "Your ballot was received.",
            meaning: "Your county elections office has your ballot. It has not been counted yet: the signature and envelope are checked first.",
            next_step: Some("We will tell you when it is counted, or if there is a problem."),
        },
        InReview => Wording {
            headline: "Your ballot is being checked.",
            meaning: "Your county is checking the signature and envelope of your ballot. It has not been counted yet.",
            next_step: Some("We will tell you when it is counted, or if there is a problem."),
        },
        Counted => Wording {
            headline: "Your ballot was counted.",
            meaning: "Your county counted your ballot. Thank you for voting.",
            next_step: None,
        },
        NotCounted => Wording {
            headline: "Your ballot was not counted.",
            meaning: "Your county could not count your ballot.",
            next_step: None,
        },
        Cured => Wording {
            headline: "Your signature statement was received.",
            meaning: "Your county has the statement you returned. Your ballot has not been counted yet: it will be checked again.",
            next_step: Some("We will tell you when it is counted."),
        },
        VotedInPerson => Wording {
            headline: "You voted in person.",
            meaning: "Your county's records show that you voted in person. Your mail ballot is no longer needed.",
            next_step: Some("There is nothing more to do. Do not return the mail ballot."),
        },
        Replaced => Wording {
            headline: "This ballot was replaced.",
            meaning: "Your county cancelled this ballot and issued you a new one.",
            next_step: Some("Use only the new ballot."),
        },
    }
}

/// Why a ballot was not counted, and for curable reasons, what fixes it.
pub const fn reason(reason: NotCountedReason) -> Wording {
    use NotCountedReason::*;
    match reason {
        SignatureMismatch => Wording {
            headline: "The signature on your envelope does not match the signature on file.",
            meaning: "You can fix this: sign and return a Signature Verification Statement before the deadline, and your ballot will be checked again.",
            next_step: Some("Return the Signature Verification Statement by the cure deadline."),
        },
        SignatureMissing => Wording {
            headline: "Your ballot envelope was not signed.",
            meaning: "You can fix this: sign and return an Unsigned Ballot Statement before the deadline, and your ballot will be checked again.",
            next_step: Some("Return the Unsigned Ballot Statement by the cure deadline."),
        },
        ReceivedLate => Wording {
            headline: "Your ballot arrived too late.",
            meaning: "Ballots must be postmarked by Election Day and received within the deadline after it.",
            next_step: None,
        },
        AlreadyVoted => Wording {
            headline: "You had already voted.",
            meaning: "Your county's records show a vote from you before this ballot arrived.",
            next_step: None,
        },
        BallotMissing => Wording {
            headline: "Your envelope had no ballot in it.",
            meaning: "The return envelope reached the county without a ballot inside.",
            next_step: None,
        },
        VoterDeceased => Wording {
            headline: "The voter is recorded as deceased.",
            meaning: "County records show the voter died before the ballot was cast.",
            next_step: None,
        },
        MultipleBallots => Wording {
            headline: "Your envelope held more than one ballot.",
            meaning: "Each voter's envelope may hold only that voter's ballot.",
            next_step: None,
        },
        UnofficialEnvelope => Wording {
            headline: "Your ballot came back in an unofficial envelope.",
            meaning: "Ballots must be returned in the official envelope the county sent.",
            next_step: None,
        },
        NotEligible => Wording {
            headline: "The voter was not eligible in this election.",
            meaning: "County records show the voter was not registered or not a resident of the area.",
            next_step: None,
        },
        Other => Wording {
            headline: "There was another problem with your ballot.",
            meaning: "Your county elections office can tell you more.",
            next_step: Some("Contact your county elections office."),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_never_promises_counting() {
        for s in BallotStatus::ALL
            .into_iter()
            .filter(|s| *s != BallotStatus::Counted)
        {
            let w = status(s);
            for text in [w.headline, w.meaning, w.next_step.unwrap_or_default()] {
                assert!(!text.contains("will be counted"), "{s:?}: {text}");
                assert!(!text.contains("was counted"), "{s:?}: {text}");
            }
        }
    }

    #[test]
    fn no_status_is_worded_as_spoiled() {
        for s in BallotStatus::ALL {
            assert!(!status(s).headline.to_lowercase().contains("spoil"));
        }
    }

    #[test]
    fn curable_reasons_say_how_to_fix_them() {
        for r in NotCountedReason::ALL {
            assert_eq!(
                reason(r).meaning.starts_with("You can fix this"),
                r.is_curable(),
                "{r:?}"
            );
        }
    }
}
