//! Reissuing a ballot: the old one becomes "replaced" and a new one is issued in its place, both
//! through the spine, in one transaction of the staff's county.

use crate::AppError;
use leptos::prelude::*;

/// A barcode as staff type it: the 20-digit tracking code, with or without the 5-, 9- or
/// 11-digit routing code; spaces ignored. Empty means "not known yet" (the print vendor's file
/// will bring it).
pub fn parse_barcode(raw: &str) -> Result<Option<String>, AppError> {
    let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() {
        return Ok(None);
    }
    if digits.bytes().all(|b| b.is_ascii_digit()) && [20, 25, 29, 31].contains(&digits.len()) {
        return Ok(Some(digits));
    }
    Err(AppError::Conflict(
        "A barcode is 20 digits, or 25, 29 or 31 with its routing code.".into(),
    ))
}

/// Replaces the ballot with a new one and returns the new ballot's id.
#[server(endpoint = "admin/reissue")]
pub async fn reissue_ballot(
    ballot_id: i64,
    outbound_imb: String,
    note: String,
) -> Result<i64, AppError> {
    use crate::ballots::spine::{self, Cause, NewBallot, Outcome, Proposal};
    use crate::domain::{BallotStatus, StatusChange};
    let pool = crate::state::pool();
    crate::error::respond(async move {
        let staff = super::frame::signed_in().await?;
        let scope = staff.records_scope()?;
        let outbound_imb = parse_barcode(&outbound_imb)?;
        let note =
            super::ballot::staff_note(&note, "Write a note saying why the ballot is reissued.")?;
        let pool = pool?;
        let mut tx = super::store::scoped(&pool, &scope).await?;
        let Some(old) = super::store::ballot_for_reissue(&mut tx, ballot_id).await? else {
            return Err(AppError::NotFound);
        };
        let taken = "That barcode is already on another ballot in this election.";
        if let Some(code) = &outbound_imb
            && super::store::barcode_taken(&mut tx, old.election_id, code).await?
        {
            return Err(AppError::Conflict(taken.into()));
        }
        let now = chrono::Utc::now();
        let cause = Cause::Staff { user_id: staff.id };
        let replaced = Proposal {
            note: Some(note),
            ..Proposal::new(ballot_id, StatusChange::new(BallotStatus::Replaced, now))
        };
        match spine::apply(&mut tx, &cause, &[replaced], now).await?.pop() {
            Some(Outcome::Recorded { .. }) => {}
            Some(Outcome::Refused(refusal)) => {
                return Err(AppError::Conflict(format!(
                    "This ballot cannot be reissued: {refusal}."
                )));
            }
            _ => return Err(AppError::NotFound),
        }
        let new = NewBallot {
            voter_id: old.voter_id,
            county_fips: old.county_fips,
            election_id: old.election_id,
            ballot_number: super::store::next_ballot_number(
                &mut tx,
                &old.ballot_number,
                old.election_id,
            )
            .await?,
            outbound_imb,
            inbound_imb: None,
            replaces: Some(ballot_id),
            issued_at: now,
        };
        let new_id = match spine::issue(&mut tx, &cause, &new, now).await {
            Ok(Ok(id)) => id,
            Ok(Err(refusal)) => return Err(AppError::Conflict(refusal.to_string())),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(AppError::Conflict(taken.into()));
            }
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        Ok(new_id)
    })
    .await
}

#[component]
pub fn ReissueForm(ballot_id: i64) -> impl IntoView {
    let reissue = ServerAction::<ReissueBallot>::new();
    view! {
        <ActionForm action=reissue attr:class="change-form">
            <input type="hidden" name="ballot_id" value=ballot_id.to_string() />
            <div class="field">
                <label for="reissue-imb">"New outbound barcode (if known)"</label>
                <input id="reissue-imb" name="outbound_imb" inputmode="numeric" autocomplete="off" />
            </div>
            <div class="field">
                <label for="reissue-note">"Why (required)"</label>
                <textarea id="reissue-note" name="note" rows="2" maxlength="2000" aria-required="true"></textarea>
            </div>
            <button type="submit" class="button">"Reissue the ballot"</button>
        </ActionForm>
        <div aria-live="polite">
            {move || reissue.value().get().map(|r| match r {
                Ok(id) => view! {
                    <p class="notice" role="status" data-testid="reissued">
                        "Reissued. " <a href=format!("/admin/ballots/{id}")>"Open the new ballot"</a>
                    </p>
                }.into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::parse_barcode;

    #[test]
    fn barcodes_are_20_digits_with_an_optional_routing_code() {
        assert_eq!(parse_barcode(" ").unwrap(), None);
        assert_eq!(
            parse_barcode("0070 0901 2345 6789 0123")
                .unwrap()
                .as_deref(),
            Some("00700901234567890123")
        );
        assert!(
            parse_barcode("0070090123456789012394110")
                .unwrap()
                .is_some()
        );
        for bad in ["123", "0070090123456789012x", "007009012345678901239411"] {
            assert!(parse_barcode(bad).is_err(), "{bad}");
        }
    }
}
