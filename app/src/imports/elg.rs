//! ELG (eligibility and ballot status) and TRK (barcode to ballot) rows: each names a voter and
//! a ballot of the election. An ELG row's status goes through the spine; a ballot the county
//! lists that we lack is issued, and one listed in place of the voter's earlier ballot is a
//! reissue (the earlier one "replaced").

use super::FeedKind;
use super::csvfeed::{Rejection, Row};
use super::run::{Checks, Ctx};
use crate::ballots::spine::{self, Issuing, NewBallot, Proposal};
use crate::domain::imb::Imb;
use crate::domain::{BallotStatus, NotCountedReason, StatusChange};
use std::collections::HashMap;

const ELG: FeedKind = FeedKind::Elg;

/// A ballot of the election as it stands.
struct OnFile {
    id: i64,
    voter_id: i64,
    number: String,
    live: bool,
    outbound: Option<String>,
    inbound: Option<String>,
}

/// Ballots and voters a chunk names, looked up once.
struct Lookup {
    voters: HashMap<String, i64>,
    by_number: HashMap<String, usize>,
    live_of_voter: HashMap<i64, usize>,
    ballots: Vec<OnFile>,
}

/// A county's id of a voter or a ballot: letters, digits and hyphens, up to `max`.
pub(super) fn valid_id(raw: &str, max: usize) -> bool {
    !raw.is_empty()
        && raw.len() <= max
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

async fn lookup(
    ctx: &mut Ctx<'_>,
    mut voter_ids: Vec<String>,
    mut numbers: Vec<String>,
) -> Result<Lookup, sqlx::Error> {
    // Each id once, in index order.
    for ids in [&mut voter_ids, &mut numbers] {
        ids.sort_unstable();
        ids.dedup();
    }
    // One probe of the voter key's index per id: a lateral subquery, fenced by `offset 0`,
    // with the county filtered outside, so that only an index led by the voter id can answer
    // it whatever the statistics say (migration 20261204000003). As `county_voter_id =
    // any($2)`, the planner priced 20,000 probes above a parallel scan of every voter (0.24 s
    // a chunk at 2,000,000 voters); with the county inside, and statistics from before the
    // county's VOT file, it probed the index by name and read the whole county for each id.
    let voters = sqlx::query!(
        r#"select v.id as "id!", v.county_voter_id as "county_voter_id!"
           from unnest($2::text[]) as n(voter)
           cross join lateral (select id, county_fips, county_voter_id from voters
                               where county_voter_id = n.voter offset 0) v
           where v.county_fips = $1"#,
        ctx.county,
        &voter_ids
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let voters: HashMap<String, i64> = voters
        .into_iter()
        .map(|v| (v.county_voter_id, v.id))
        .collect();
    let ids: Vec<i64> = voters.values().copied().collect();
    // Each half probes an index led by its own key once per id: a lateral subquery fenced by
    // `offset 0` cannot become a join, nor take the county and election into an
    // index scan. Left to the planner, with statistics that predate the import, both halves
    // read every ballot of the election in the county (its status index), including those the
    // import has written so far, which made a large file quadratic.
    let rows = sqlx::query!(
        r#"select b.id as "id!", b.voter_id as "voter_id!", b.ballot_number as "ballot_number!",
                  b.status as "status!", b.outbound_imb, b.inbound_imb
           from unnest($3::text[]) as n(number)
           cross join lateral (select * from ballots where ballot_number = n.number offset 0) b
           where b.county_fips = $1 and b.election_id = $2
           union
           select b.id, b.voter_id, b.ballot_number, b.status, b.outbound_imb, b.inbound_imb
           from unnest($4::bigint[]) as v(id)
           cross join lateral (select * from ballots where voter_id = v.id offset 0) b
           where b.election_id = $2 and b.status <> 'replaced' and b.county_fips = $1"#,
        ctx.county,
        ctx.election().id,
        &numbers,
        &ids
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let mut lookup = Lookup {
        voters,
        by_number: HashMap::new(),
        live_of_voter: HashMap::new(),
        ballots: Vec::with_capacity(rows.len()),
    };
    for r in rows {
        let i = lookup.ballots.len();
        let live = r.status != "replaced";
        lookup.by_number.insert(r.ballot_number.clone(), i);
        if live {
            lookup.live_of_voter.insert(r.voter_id, i);
        }
        lookup.ballots.push(OnFile {
            id: r.id,
            voter_id: r.voter_id,
            number: r.ballot_number,
            live,
            outbound: r.outbound_imb,
            inbound: r.inbound_imb,
        });
    }
    Ok(lookup)
}

/// A barcode field: empty, or a valid tracking code with an optional routing code.
fn barcode(
    ctx: &mut Checks,
    row: &Row,
    field: &'static str,
    raw: &str,
) -> Result<Option<String>, ()> {
    if raw.is_empty() {
        return Ok(None);
    }
    match Imb::from_digits(raw) {
        Ok(imb) => Ok(Some(imb.digits())),
        Err(e) => {
            ctx.reject(Rejection::field(row.number, field, raw, e.to_string()));
            Err(())
        }
    }
}

/// An ELG row, parsed.
pub(super) struct Parsed {
    pub row: u64,
    pub voter: String,
    pub number: String,
    pub change: StatusChange,
    pub outbound: Option<String>,
    pub inbound: Option<String>,
    /// The status code and date as written: with the voter and the number, what makes a row
    /// the repeat of another.
    pub code: String,
    pub date: String,
}

/// Checks an ELG row. A row that repeats an earlier one is rejected here when `remember` is
/// set (every row's key kept as the file is read); the first load finds repeats among each
/// voter's rows instead, and keeps no key per row.
pub(super) fn parse_elg(ctx: &mut Checks, row: &Row, remember: bool) -> Option<Parsed> {
    let f = |c: &str| row.get(ELG, c).to_owned();
    if !ctx.check_county(row, &f("county_fips")) || !ctx.check_election(row, &f("election_date")) {
        return None;
    }
    let voter = f("voter_id");
    if !valid_id(&voter, 32) {
        ctx.reject(Rejection::field(
            row.number,
            "voter_id",
            &voter,
            "a voter id is 1 to 32 letters, digits or hyphens",
        ));
        return None;
    }
    let number = f("ballot_id");
    if !valid_id(&number, 40) {
        ctx.reject(Rejection::field(
            row.number,
            "ballot_id",
            &number,
            "a ballot id is 1 to 40 letters, digits or hyphens",
        ));
        return None;
    }
    let code = f("status_code");
    let Some(meaning) = ctx.codes.elg(&code) else {
        ctx.reject(Rejection::field(
            row.number,
            "status_code",
            &code,
            "unknown status code: map it to a status in the county settings",
        ));
        return None;
    };
    let reason_raw = f("reason_code");
    let reason = if meaning.status == BallotStatus::NotCounted {
        match meaning
            .reason
            .or_else(|| super::codes::CodeMap::reason(&reason_raw))
        {
            Some(r) if meaning.curable && !r.is_curable() => {
                ctx.reject(Rejection::field(
                    row.number,
                    "reason_code",
                    &reason_raw,
                    "the status code says curable, but this reason cannot be cured",
                ));
                return None;
            }
            Some(r) => Some(r),
            None => {
                ctx.reject(Rejection::field(
                    row.number,
                    "reason_code",
                    &reason_raw,
                    format!(
                        "\"not counted\" needs a reason: one of {}",
                        NotCountedReason::ALL.map(|r| r.code()).join(", ")
                    ),
                ));
                return None;
            }
        }
    } else {
        if !reason_raw.is_empty() {
            ctx.reject(Rejection::field(
                row.number,
                "reason_code",
                &reason_raw,
                "only a not-counted status carries a reason",
            ));
            return None;
        }
        None
    };
    let outbound_status = !matches!(meaning.status, BallotStatus::Issued);
    let tz = ctx.tz;
    let date = f("status_date");
    let at = ctx.check_time(row, "status_date", &date, tz, outbound_status)?;
    let outbound = barcode(ctx, row, "outbound_imb", &f("outbound_imb")).ok()?;
    let inbound = barcode(ctx, row, "inbound_imb", &f("inbound_imb")).ok()?;
    if remember && ctx.repeated(row, &[&voter, &number, &code, &date]) {
        return None;
    }
    Some(Parsed {
        row: row.number,
        voter,
        number,
        change: StatusChange {
            status: meaning.status,
            reason,
            occurred_at: at,
        },
        outbound,
        inbound,
        code,
        date,
    })
}

pub(super) async fn process(ctx: &mut Ctx<'_>, rows: Vec<Row>) -> Result<(), sqlx::Error> {
    let mut parsed: Vec<Parsed> = rows
        .iter()
        .filter_map(|r| parse_elg(ctx, r, true))
        .collect();
    // Within a chunk, each ballot's rows in time order.
    parsed.sort_by(|a, b| {
        a.number
            .cmp(&b.number)
            .then(a.change.occurred_at.cmp(&b.change.occurred_at))
    });
    let voter_ids: Vec<String> = parsed.iter().map(|p| p.voter.clone()).collect();
    let numbers: Vec<String> = parsed.iter().map(|p| p.number.clone()).collect();
    let found = lookup(ctx, voter_ids, numbers).await?;

    // Barcodes of the ballots the chunk may issue: a new ballot may not take one that a
    // ballot of the election on file carries, nor one an earlier row of the file gives
    // another new ballot (the unique indexes would end the whole import with a database
    // error instead of rejecting the row).
    let mut first_claim: HashMap<&str, (u64, &str)> = HashMap::new();
    for p in parsed
        .iter()
        .filter(|p| !found.by_number.contains_key(&p.number))
    {
        for code in [&p.outbound, &p.inbound].into_iter().flatten() {
            let claim = first_claim
                .entry(Imb::tracking_of(code))
                .or_insert((p.row, &p.number));
            if p.row < claim.0 {
                *claim = (p.row, &p.number);
            }
        }
    }
    let wanted: Vec<String> = first_claim.keys().map(|code| (*code).to_owned()).collect();
    let on_file = holders(ctx, wanted).await?;
    let taken = |p: &Parsed| -> Option<(&'static str, String)> {
        [("outbound_imb", &p.outbound), ("inbound_imb", &p.inbound)]
            .into_iter()
            .find_map(|(field, code)| {
                let code = code.as_deref()?;
                let tracking = Imb::tracking_of(code);
                (on_file.contains_key(tracking)
                    || first_claim
                        .get(tracking)
                        .is_some_and(|(_, number)| *number != p.number))
                .then(|| (field, code.to_owned()))
            })
    };

    // What each row needs: a reissue (the voter's live ballot replaced), a new ballot, then
    // its status.
    let mut replacements: Vec<(u64, Proposal)> = Vec::new();
    let mut news: Vec<(u64, NewBallot)> = Vec::new();
    let mut pending: HashMap<String, usize> = HashMap::new();
    let mut keep: Vec<&Parsed> = Vec::new();
    for p in &parsed {
        let Some(&voter_id) = found.voters.get(&p.voter) else {
            ctx.reject(Rejection::field(
                p.row,
                "voter_id",
                &p.voter,
                "no voter with this id in the county: load the VOT file first",
            ));
            continue;
        };
        if let Some(&i) = found.by_number.get(&p.number) {
            if found.ballots[i].voter_id != voter_id {
                ctx.reject(Rejection::field(
                    p.row,
                    "ballot_id",
                    &p.number,
                    "this ballot belongs to another voter",
                ));
                continue;
            }
            keep.push(p);
            continue;
        }
        if pending.contains_key(&p.number) {
            keep.push(p);
            continue;
        }
        if let Some((field, code)) = taken(p) {
            ctx.reject(Rejection::field(
                p.row,
                field,
                &code,
                "another ballot of this election carries this barcode",
            ));
            continue;
        }
        let replaces = found
            .live_of_voter
            .get(&voter_id)
            .map(|&i| found.ballots[i].id);
        if let Some(old) = replaces {
            replacements.push((
                p.row,
                Proposal::new(
                    old,
                    StatusChange::new(BallotStatus::Replaced, p.change.occurred_at),
                ),
            ));
        }
        pending.insert(p.number.clone(), news.len());
        news.push((
            p.row,
            NewBallot {
                voter_id,
                county_fips: ctx.county.clone(),
                election_id: ctx.election().id,
                ballot_number: p.number.clone(),
                outbound_imb: p.outbound.clone(),
                inbound_imb: p.inbound.clone(),
                replaces,
                issued_at: p.change.occurred_at,
            },
        ));
        keep.push(p);
    }

    // Reissues: the earlier ballot must still be replaceable.
    let cause = ctx.cause();
    let mut refused_numbers: Vec<String> = Vec::new();
    if !replacements.is_empty() {
        let proposals: Vec<Proposal> = replacements.iter().map(|(_, p)| p.clone()).collect();
        let outcomes = spine::apply(ctx.tx, &cause, &proposals, ctx.now).await?;
        for (((row, _), outcome), new) in replacements
            .iter()
            .zip(&outcomes)
            .zip(news.iter().filter(|(_, n)| n.replaces.is_some()))
        {
            match outcome {
                spine::Outcome::Recorded { notified, .. } => {
                    *ctx.summary.moved.entry(BallotStatus::Replaced).or_default() += 1;
                    if *notified {
                        ctx.summary.notifications += 1;
                    }
                }
                spine::Outcome::Refused(refusal) => {
                    refused_numbers.push(new.1.ballot_number.clone());
                    ctx.reject(Rejection::row(
                        *row,
                        format!("the voter's earlier ballot cannot be replaced: {refusal}"),
                    ));
                }
                spine::Outcome::UnknownBallot => refused_numbers.push(new.1.ballot_number.clone()),
            }
        }
    }
    let news: Vec<(u64, NewBallot)> = news
        .into_iter()
        .filter(|(_, n)| !refused_numbers.contains(&n.ballot_number))
        .collect();
    // New ballots get their ids now, so that their rows' statuses go through the spine with
    // their issue, in one pass (each ballot written once, with the status it ends in).
    let election_id = ctx.election().id;
    let reserved =
        spine::reserve_ballot_ids(ctx.tx, &ctx.checks.county, election_id, news.len()).await?;
    let new_ids: HashMap<String, i64> = news
        .iter()
        .zip(&reserved)
        .map(|((_, n), id)| (n.ballot_number.clone(), *id))
        .collect();
    let issuing: Vec<Issuing> = news
        .iter()
        .zip(&reserved)
        .map(|((_, n), id)| Issuing {
            id: *id,
            ballot: n.clone(),
        })
        .collect();

    // Statuses, and barcodes the rows bring.
    let mut rows_of: Vec<u64> = Vec::new();
    let mut proposals: Vec<Proposal> = Vec::new();
    let mut barcodes: Vec<(u64, i64, Option<String>, Option<String>)> = Vec::new();
    for p in keep {
        let (id, existing) = match found.by_number.get(&p.number) {
            Some(&i) => (found.ballots[i].id, Some(i)),
            None => match new_ids.get(&p.number) {
                Some(&id) => (id, None),
                None => continue,
            },
        };
        if let Some(i) = existing {
            let b = &found.ballots[i];
            if (p.outbound.is_some() && p.outbound != b.outbound)
                || (p.inbound.is_some() && p.inbound != b.inbound)
            {
                barcodes.push((p.row, id, p.outbound.clone(), p.inbound.clone()));
            }
        }
        if p.change.status == BallotStatus::Issued {
            // Issuing is the ballot's first event; a repeat says nothing new.
            if existing.is_some() {
                ctx.summary.unchanged += 1;
            }
            continue;
        }
        rows_of.push(p.row);
        proposals.push(Proposal::new(id, p.change));
    }
    if !issuing.is_empty() || !proposals.is_empty() {
        let (issued, outcomes) =
            spine::issue_and_apply(ctx.tx, &cause, &issuing, &proposals, ctx.now).await?;
        let mut not_issued = std::collections::HashSet::new();
        for ((row, new), result) in news.iter().zip(issued) {
            match result {
                Ok(_) => ctx.summary.issued += 1,
                Err(refusal) => {
                    not_issued.insert(new_ids[&new.ballot_number]);
                    ctx.reject(Rejection::row(
                        *row,
                        format!("the ballot cannot be issued: {refusal}"),
                    ));
                }
            }
        }
        // The rows of a ballot that could not be issued were rejected with it.
        let (rows_of, proposals, outcomes): (Vec<u64>, Vec<Proposal>, Vec<spine::Outcome>) =
            if not_issued.is_empty() {
                (rows_of, proposals, outcomes)
            } else {
                let mut kept = (Vec::new(), Vec::new(), Vec::new());
                for ((row, p), o) in rows_of.into_iter().zip(proposals).zip(outcomes) {
                    if !not_issued.contains(&p.ballot_id) {
                        kept.0.push(row);
                        kept.1.push(p);
                        kept.2.push(o);
                    }
                }
                kept
            };
        ctx.tally(&rows_of, &proposals, &outcomes, false);
        ctx.flag_before_issue(&rows_of, &proposals, &outcomes)
            .await?;
    }
    set_barcodes(ctx, barcodes).await
}

/// Sets ballots' barcodes; a tracking code another ballot of the election carries (in either
/// direction) is refused.
async fn set_barcodes(
    ctx: &mut Ctx<'_>,
    changes: Vec<(u64, i64, Option<String>, Option<String>)>,
) -> Result<(), sqlx::Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let wanted: Vec<String> = changes
        .iter()
        .flat_map(|(_, _, o, i)| [o.as_deref(), i.as_deref()])
        .flatten()
        .map(|code| Imb::tracking_of(code).to_owned())
        .collect();
    let mut holder = holders(ctx, wanted).await?;
    let mut ids = Vec::new();
    let mut outbound: Vec<Option<String>> = Vec::new();
    let mut inbound: Vec<Option<String>> = Vec::new();
    for (row, id, o, i) in changes {
        let clash = [&o, &i]
            .into_iter()
            .flatten()
            .find(|code| holder.get(Imb::tracking_of(code)).is_some_and(|h| *h != id));
        if let Some(code) = clash {
            ctx.reject(Rejection::field(
                row,
                if Some(code) == o.as_ref() {
                    "outbound_imb"
                } else {
                    "inbound_imb"
                },
                code,
                "another ballot of this election carries this barcode",
            ));
            continue;
        }
        for code in [&o, &i].into_iter().flatten() {
            holder.insert(Imb::tracking_of(code).to_owned(), id);
        }
        ids.push(id);
        outbound.push(o);
        inbound.push(i);
    }
    if ids.is_empty() {
        return Ok(());
    }
    let updated = sqlx::query!(
        r#"update ballots b
           set outbound_imb = coalesce(u.outbound, b.outbound_imb),
               inbound_imb = coalesce(u.inbound, b.inbound_imb), updated_at = now()
           from unnest($1::bigint[], $2::text[], $3::text[]) as u(id, outbound, inbound)
           where b.id = u.id and b.county_fips = $4"#,
        &ids,
        &outbound as &[Option<String>],
        &inbound as &[Option<String>],
        ctx.county
    )
    .execute(&mut *ctx.tx)
    .await?;
    ctx.summary.barcodes_set += updated.rows_affected();
    Ok(())
}

/// The ballots of the election, in any county, that carry any of `codes` (tracking codes), in
/// either direction.
async fn holders(
    ctx: &mut Ctx<'_>,
    wanted: Vec<String>,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    // Through the owner's function: the county's transaction sees only its own ballots, and a
    // code must be one ballot's in the whole election.
    let taken = sqlx::query!(
        r#"select code as "code!", ballot_id as "ballot_id!"
           from ballot_tracking_holders($1, $2)"#,
        ctx.election().id,
        &wanted
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let holder: HashMap<String, i64> = taken.into_iter().map(|t| (t.code, t.ballot_id)).collect();
    Ok(holder)
}

/// TRK rows: a ballot's barcodes from the print vendor.
pub(super) async fn process_trk(ctx: &mut Ctx<'_>, rows: Vec<Row>) -> Result<(), sqlx::Error> {
    const TRK: FeedKind = FeedKind::Trk;
    struct Mapped {
        row: u64,
        voter: String,
        number: String,
        outbound: Option<String>,
        inbound: Option<String>,
    }
    let mut mapped = Vec::with_capacity(rows.len());
    for row in &rows {
        let f = |c: &str| row.get(TRK, c).to_owned();
        if !ctx.check_county(row, &f("county_fips"))
            || !ctx.check_election(row, &f("election_date"))
        {
            continue;
        }
        let (voter, number) = (f("voter_id"), f("ballot_id"));
        if !valid_id(&voter, 32) || !valid_id(&number, 40) {
            ctx.reject(Rejection::row(
                row.number,
                "voter_id and ballot_id are letters, digits or hyphens (up to 32 and 40)",
            ));
            continue;
        }
        let Ok(outbound) = barcode(ctx, row, "outbound_imb", &f("outbound_imb")) else {
            continue;
        };
        let Ok(inbound) = barcode(ctx, row, "inbound_imb", &f("inbound_imb")) else {
            continue;
        };
        if outbound.is_none() && inbound.is_none() {
            ctx.reject(Rejection::row(row.number, "the row has no barcode"));
            continue;
        }
        if ctx.repeated(row, &[&voter, &number]) {
            continue;
        }
        mapped.push(Mapped {
            row: row.number,
            voter,
            number,
            outbound,
            inbound,
        });
    }
    let voter_ids = mapped.iter().map(|m| m.voter.clone()).collect();
    let numbers = mapped.iter().map(|m| m.number.clone()).collect();
    let found = lookup(ctx, voter_ids, numbers).await?;
    let mut changes = Vec::new();
    for m in mapped {
        let Some(&i) = found.by_number.get(&m.number) else {
            ctx.reject(Rejection::field(
                m.row,
                "ballot_id",
                &m.number,
                "no such ballot in this election: load the ELG file first",
            ));
            continue;
        };
        let b = &found.ballots[i];
        if found.voters.get(&m.voter) != Some(&b.voter_id) {
            ctx.reject(Rejection::field(
                m.row,
                "voter_id",
                &m.voter,
                "the ballot belongs to another voter",
            ));
            continue;
        }
        if !b.live {
            ctx.reject(Rejection::field(
                m.row,
                "ballot_id",
                &b.number,
                "the ballot was replaced by a later one",
            ));
            continue;
        }
        if (m.outbound.is_none() || m.outbound == b.outbound)
            && (m.inbound.is_none() || m.inbound == b.inbound)
        {
            ctx.summary.unchanged += 1;
            continue;
        }
        changes.push((m.row, b.id, m.outbound, m.inbound));
    }
    set_barcodes(ctx, changes).await
}
