//! PKG rows: the postal service's scans of ballots' barcodes. A scan of the outbound barcode is
//! "on its way" (with the delivery date it lets us expect), "delivered" or "undeliverable" by
//! its operation code; a scan of the return barcode is "on its way back to the county". Scan
//! times are the facility's local time. A scan already on the timeline changes nothing, so a
//! file applied twice adds nothing the second time.

use super::FeedKind;
use super::csvfeed::{Rejection, Row};
use super::postal;
use super::run::Ctx;
use crate::ballots::spine::{self, PostalScan, Proposal};
use crate::domain::imb::{RoutingCode, TrackingCode};
use crate::domain::{BallotStatus, StatusChange, Zip5};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

const PKG: FeedKind = FeedKind::Pkg;

struct Scan {
    row: u64,
    tracking: String,
    operation: String,
    facility: String,
    at: DateTime<Utc>,
    day: chrono::NaiveDate,
}

fn parse(ctx: &mut Ctx<'_>, row: &Row) -> Option<Scan> {
    let f = |c: &str| row.get(PKG, c).to_owned();
    let tracking = match TrackingCode::parse(&f("tracking_code")) {
        Ok(t) => t,
        Err(e) => {
            ctx.reject(Rejection::field(
                row.number,
                "tracking_code",
                &f("tracking_code"),
                e.to_string(),
            ));
            return None;
        }
    };
    if let Err(e) = RoutingCode::parse(&f("routing_code")) {
        ctx.reject(Rejection::field(
            row.number,
            "routing_code",
            &f("routing_code"),
            e.to_string(),
        ));
        return None;
    }
    let operation = f("operation_code");
    if operation.is_empty()
        || operation.len() > 10
        || !operation
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        ctx.reject(Rejection::field(
            row.number,
            "operation_code",
            &operation,
            "an operation code is 1 to 10 letters or digits",
        ));
        return None;
    }
    let facility = match Zip5::parse(&f("facility_zip")) {
        Ok(z) => z.as_str().to_owned(),
        Err(e) => {
            ctx.reject(Rejection::field(
                row.number,
                "facility_zip",
                &f("facility_zip"),
                e.to_string(),
            ));
            return None;
        }
    };
    let tz = postal::zone(&facility);
    let at = ctx.check_time(row, "scan_time", &f("scan_time"), tz, true)?;
    if ctx.repeated(
        row,
        &[tracking.as_str(), &operation, &facility, &f("scan_time")],
    ) {
        return None;
    }
    Some(Scan {
        row: row.number,
        tracking: tracking.as_str().to_owned(),
        operation: operation.to_ascii_uppercase(),
        facility,
        day: at.with_timezone(&tz).date_naive(),
        at,
    })
}

struct Target {
    id: i64,
    outbound: bool,
    voter_zip: String,
}

pub(super) async fn process(ctx: &mut Ctx<'_>, rows: Vec<Row>) -> Result<(), sqlx::Error> {
    let mut scans: Vec<Scan> = rows.iter().filter_map(|r| parse(ctx, r)).collect();
    let codes: Vec<String> = scans.iter().map(|s| s.tracking.clone()).collect();
    // One probe of each barcode index per code (the lateral subquery, fenced by `offset 0`,
    // cannot become a join): filtered on the county and election inside, the planner reads
    // every ballot of the election in the county through its status index instead.
    let found = sqlx::query!(
        r#"select b.id as "id!", b.outbound_tracking as outbound, b.inbound_tracking as inbound,
                  v.residential_zip
           from unnest($3::text[]) as t(code)
           cross join lateral (
             select id, voter_id, county_fips, election_id, outbound_tracking, inbound_tracking
             from ballots where outbound_tracking = t.code
             union all
             select id, voter_id, county_fips, election_id, outbound_tracking, inbound_tracking
             from ballots where inbound_tracking = t.code
             offset 0
           ) b
           join voters v on v.id = b.voter_id
           where b.county_fips = $1 and b.election_id = $2"#,
        ctx.county,
        ctx.election().id,
        &codes
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let mut targets: HashMap<String, Target> = HashMap::new();
    for b in found {
        if let Some(o) = b.outbound {
            targets.insert(
                o,
                Target {
                    id: b.id,
                    outbound: true,
                    voter_zip: b.residential_zip.clone(),
                },
            );
        }
        if let Some(i) = b.inbound {
            targets.insert(
                i,
                Target {
                    id: b.id,
                    outbound: false,
                    voter_zip: b.residential_zip,
                },
            );
        }
    }
    let ids: Vec<i64> = targets.values().map(|t| t.id).collect();
    let recorded = sqlx::query!(
        r#"select ballot_id, occurred_at, postal_operation as "operation!", postal_facility_zip as "facility!"
           from ballot_events
           where ballot_id = any($1) and source = 'postal_scan'
             and postal_operation is not null and postal_facility_zip is not null"#,
        &ids
    )
    .fetch_all(&mut *ctx.tx)
    .await?;
    let recorded: HashSet<(i64, DateTime<Utc>, String, String)> = recorded
        .into_iter()
        .map(|r| (r.ballot_id, r.occurred_at, r.operation, r.facility))
        .collect();

    // Each ballot's scans in time order.
    scans.sort_by(|a, b| a.tracking.cmp(&b.tracking).then(a.at.cmp(&b.at)));
    let mut rows_of = Vec::new();
    let mut proposals = Vec::new();
    for s in scans {
        let Some(t) = targets.get(&s.tracking) else {
            ctx.reject(Rejection::field(
                s.row,
                "tracking_code",
                &s.tracking,
                "no ballot of this election in the county carries this barcode",
            ));
            continue;
        };
        if recorded.contains(&(t.id, s.at, s.operation.clone(), s.facility.clone())) {
            ctx.summary.unchanged += 1;
            continue;
        }
        let status = if t.outbound {
            ctx.codes.pkg(&s.operation)
        } else {
            BallotStatus::ReturnInTransit
        };
        let expected = (status == BallotStatus::InTransit)
            .then(|| postal::expected_delivery(s.day, &s.facility, &t.voter_zip));
        rows_of.push(s.row);
        proposals.push(Proposal {
            ballot_id: t.id,
            change: StatusChange::new(status, s.at),
            expected_delivery: expected,
            scan: Some(PostalScan {
                facility_zip: s.facility,
                operation: s.operation,
            }),
            note: None,
        });
    }
    if proposals.is_empty() {
        return Ok(());
    }
    let cause = ctx.cause();
    let outcomes = spine::apply(ctx.tx, &cause, &proposals, ctx.now).await?;
    // A scan of a ballot already further along (received, counted) adds nothing: late scans
    // are normal, not errors.
    ctx.tally(&rows_of, &proposals, &outcomes, true);
    ctx.flag_before_issue(&rows_of, &proposals, &outcomes)
        .await?;
    Ok(())
}
