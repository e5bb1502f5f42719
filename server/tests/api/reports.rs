//! Reports and exports over HTTP: every dashboard number against the database for the demo
//! data, exports parsed back (CSV and XLSX) and compared with the database, formula cells
//! neutralised, large exports in the background, county isolation, the audit rows, the CLI.

use crate::helpers::{TestApp, account};
use app::reports::dashboard::Dashboard;
use app::reports::{ExportKind, ExportRow, export};
use app::state::Settings;
use reqwest::StatusCode;
use server::demo::{DemoArgs, run};
use sqlx::PgPool;
use std::collections::HashMap;

const LOS_ANGELES: &str = "06037";
const CURABLE: &str = "('signature_mismatch', 'signature_missing')";

async fn demo(pool: &PgPool) {
    let args = DemoArgs {
        voters: 400,
        seed: 21,
        if_empty: false,
    };
    run(pool, &args).await.unwrap();
    // Messages about the not-counted and received events (the demo queues none), a third of
    // them delivered: the cure pipeline's "notified" and the delivery states have some.
    sqlx::query(
        "insert into notifications (county_fips, subscription_id, kind, ballot_id, event_id, channel,
                                    language, template, state, sent_at, delivered_at)
         select e.county_fips, s.id, 'status', e.ballot_id, e.id, s.channel, s.language, e.status,
                case when e.id % 3 = 0 then 'delivered' when e.id % 3 = 1 then 'queued' else 'dead' end,
                case when e.id % 3 = 0 then now() end, case when e.id % 3 = 0 then now() end
         from ballot_events e
         cross join lateral (select id, channel, language from subscriptions order by id limit 1) s
         where e.status in ('not_counted', 'received')",
    )
    .execute(pool)
    .await
    .unwrap();
}

async fn dashboard(app: &TestApp, cookie: &str, county: &str) -> (StatusCode, Option<Dashboard>) {
    let response = app
        .call(Some(cookie), "reports/dashboard", &[("county", county)])
        .await;
    let status = response.status();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).ok())
}

async fn counts(pool: &PgPool, sql: &str, county: Option<&str>) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(sql)
        .bind(county)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn one(pool: &PgPool, sql: &str, county: Option<&str>) -> i64 {
    sqlx::query_scalar(sql)
        .bind(county)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Checks every number of `d` with SQL of its own (as the owner: no row-level security).
async fn check_against_database(pool: &PgPool, d: &Dashboard, county: Option<&str>) {
    let by_status = counts(
        pool,
        "select status, count(*) from ballots where $1::text is null or county_fips = $1 group by 1",
        county,
    )
    .await;
    for c in &d.by_status {
        assert_eq!(
            c.count,
            by_status.get(&c.code).copied().unwrap_or(0),
            "status {}",
            c.code
        );
    }
    assert_eq!(d.ballots(), by_status.values().sum::<i64>());
    assert!(d.ballots() > 0);

    let returns: Vec<(String, i64)> = sqlx::query_as(
        "select to_char((occurred_at at time zone 'America/Los_Angeles')::date, 'YYYY-MM-DD'), count(*)
         from ballot_events where status = 'received' and ($1::text is null or county_fips = $1)
         group by 1 order by 1",
    )
    .bind(county)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(d.returns_per_day, returns);
    assert!(!returns.is_empty());

    let reasons = counts(
        pool,
        "select status_reason, count(*) from ballots
         where status = 'not_counted' and ($1::text is null or county_fips = $1) group by 1",
        county,
    )
    .await;
    for c in &d.not_counted_by_reason {
        assert_eq!(
            c.count,
            reasons.get(&c.code).copied().unwrap_or(0),
            "reason {}",
            c.code
        );
    }

    let problem = format!(
        "select distinct ballot_id from ballot_events
         where status = 'not_counted' and reason in {CURABLE} and ($1::text is null or county_fips = $1)"
    );
    let problems = one(pool, &format!("select count(*) from ({problem}) p"), county).await;
    let notified = one(
        pool,
        &format!(
            "select count(distinct e.ballot_id) from ballot_events e join notifications n on n.event_id = e.id
             where e.status = 'not_counted' and e.reason in {CURABLE} and n.state in ('sent', 'delivered')
               and ($1::text is null or e.county_fips = $1)"
        ),
        county,
    )
    .await;
    let cured = one(
        pool,
        &format!(
            "select count(distinct ballot_id) from ballot_events
             where status = 'cured' and ballot_id in ({problem})"
        ),
        county,
    )
    .await;
    let still = |past: bool| {
        format!(
            "select count(*) from ballots b join elections e on e.id = b.election_id
             where b.status = 'not_counted' and b.status_reason in {CURABLE}
               and (now() > e.cure_deadline) = {past} and ($1::text is null or b.county_fips = $1)"
        )
    };
    let open = one(pool, &still(false), county).await;
    let expired = one(pool, &still(true), county).await;
    let cure = &d.cure;
    assert_eq!(
        (
            cure.problems,
            cure.notified,
            cure.cured,
            cure.open,
            cure.expired
        ),
        (problems, notified, cured, open, expired)
    );
    assert!(
        problems > 0 && cured > 0 && notified > 0,
        "the demo data has cures: {cure:?}"
    );

    let subscribers: Vec<(String, String, i64)> = sqlx::query_as(
        "select channel, language, count(*) from subscriptions
         where confirmed_at is not null and cancelled_at is null and ($1::text is null or county_fips = $1)
         group by 1, 2 order by 1, 2",
    )
    .bind(county)
    .fetch_all(pool)
    .await
    .unwrap();
    let got: Vec<(String, String, i64)> = d
        .subscribers
        .iter()
        .map(|s| (s.channel.clone(), s.language.clone(), s.count))
        .collect();
    assert_eq!(got, subscribers);

    let states = counts(
        pool,
        "select state, count(*) from notifications where $1::text is null or county_fips = $1 group by 1",
        county,
    )
    .await;
    for c in &d.notifications {
        assert_eq!(
            c.count,
            states.get(&c.code).copied().unwrap_or(0),
            "state {}",
            c.code
        );
    }
    assert_eq!(
        d.notifications.iter().map(|c| c.count).sum::<i64>(),
        states.values().sum::<i64>()
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn every_dashboard_number_matches_the_database(pool: PgPool) {
    demo(&pool).await;
    account(&pool, "state@example.org", "state_admin", None).await;
    account(
        &pool,
        "clerk@la.example.org",
        "county_staff",
        Some(LOS_ANGELES),
    )
    .await;
    account(
        &pool,
        "auditor@la.example.org",
        "auditor",
        Some(LOS_ANGELES),
    )
    .await;
    let app = TestApp::spawn(pool.clone()).await;

    let state = app.session("state@example.org").await;
    let (status, all) = dashboard(&app, &state, "").await;
    assert_eq!(status, StatusCode::OK);
    let all = all.unwrap();
    assert_eq!(all.scope_label, "All counties");
    check_against_database(&pool, &all, None).await;
    // Charts are drawn on the server, one bar a status.
    assert!(all.charts.by_status.starts_with("<svg"));
    assert!(all.charts.by_status.matches("<rect").count() > all.by_status.len());
    assert!(all.charts.returns_per_day.matches("<rect").count() > all.returns_per_day.len());

    let (_, la) = dashboard(&app, &state, LOS_ANGELES).await;
    let la = la.unwrap();
    assert_eq!(la.scope_label, "Los Angeles County");
    check_against_database(&pool, &la, Some(LOS_ANGELES)).await;
    assert!(la.ballots() < all.ballots());

    // County staff and auditors read their own county's numbers, never another's.
    for who in ["clerk@la.example.org", "auditor@la.example.org"] {
        let cookie = app.session(who).await;
        let (status, own) = dashboard(&app, &cookie, "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(own.unwrap(), la);
        let (status, other) = dashboard(&app, &cookie, "06075").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(other.is_none());
    }

    // The page itself renders the tables without JavaScript.
    let page = app
        .client
        .get(format!("{}/admin/reports?county={LOS_ANGELES}", app.base))
        .header("cookie", &state)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-testid=\"table-status\""), "{page}");
    assert!(page.contains("<svg"));
}

async fn post_export(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(format!("{}/admin/exports", app.base))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).unwrap();
    let body = text
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark for Excel");
    assert!(body.contains("\r\n"), "CRLF line ends");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn parse_xlsx(bytes: Vec<u8>) -> Vec<Vec<String>> {
    use calamine::{Data, Reader, Xlsx};
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let mut rows = Vec::new();
    for (n, name) in book.sheet_names().into_iter().enumerate() {
        let range = book.worksheet_range(&name).unwrap();
        for (i, row) in range.rows().enumerate() {
            if n > 0 && i == 0 {
                continue; // each worksheet repeats the header
            }
            rows.push(
                row.iter()
                    .map(|c| match c {
                        Data::Empty => String::new(),
                        Data::String(s) => s.clone(),
                        other => panic!("only text cells, got {other:?}"),
                    })
                    .collect(),
            );
        }
    }
    rows
}

/// The ballot list as the database has it: ballot number → (county name, status code).
async fn ballots_in_db(pool: &PgPool, county: &str) -> HashMap<String, (String, String)> {
    sqlx::query_as::<_, (String, String, String)>(
        "select b.ballot_number, c.name, b.status from ballots b join counties c on c.fips = b.county_fips
         where b.county_fips = $1",
    )
    .bind(county)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(n, c, s)| (n, (c, s)))
    .collect()
}

fn check_ballots(rows: &[Vec<String>], db: &HashMap<String, (String, String)>) {
    let headers = export::headers(ExportKind::Ballots);
    assert_eq!(rows[0], headers);
    let col = |name: &str| headers.iter().position(|h| *h == name).unwrap();
    let (county, ballot, code, status) = (
        col("County"),
        col("Ballot"),
        col("Status code"),
        col("Status"),
    );
    assert_eq!(rows.len() - 1, db.len());
    for row in &rows[1..] {
        let (c, s) = &db[&row[ballot]];
        assert_eq!((&row[county], &row[code]), (c, s));
        let words = app::domain::wording::status(
            app::domain::BallotStatus::parse(s).unwrap(),
            app::domain::Language::En,
        );
        assert_eq!(row[status], words.headline, "the status page's sentence");
    }
}

async fn wait_until_done(app: &TestApp, cookie: &str) -> ExportRow {
    for _ in 0..200 {
        let list: Vec<ExportRow> = app
            .call(Some(cookie), "reports/exports", &[])
            .await
            .json()
            .await
            .unwrap();
        let latest = list.into_iter().next().expect("an export");
        assert_ne!(latest.state, "failed", "{latest:?}");
        if latest.state == "done" {
            return latest;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the export did not finish");
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn exports_parse_back_to_the_database_with_formulas_neutralised(pool: PgPool) {
    demo(&pool).await;
    account(
        &pool,
        "clerk@la.example.org",
        "county_staff",
        Some(LOS_ANGELES),
    )
    .await;
    account(
        &pool,
        "other@la.example.org",
        "county_staff",
        Some(LOS_ANGELES),
    )
    .await;
    account(
        &pool,
        "auditor@la.example.org",
        "auditor",
        Some(LOS_ANGELES),
    )
    .await;
    // A name a spreadsheet would run as a formula, and a confidential voter with a curable problem.
    let formula_voter: String = sqlx::query_scalar(
        "update voters set first_name = '=HYPERLINK(\"http://x.example\",\"y\")', precinct = '+1'
         where id = (select min(v.id) from voters v join ballots b on b.voter_id = v.id where v.county_fips = $1)
         returning county_voter_id",
    )
    .bind(LOS_ANGELES)
    .fetch_one(&pool)
    .await
    .unwrap();
    let confidential: String = sqlx::query_scalar(
        "update voters set confidential = true, email = 'hidden@example.org'
         where id = (select min(b.voter_id) from ballots b
                     where b.county_fips = $1 and b.status = 'not_counted' and b.status_reason in ('signature_mismatch', 'signature_missing'))
         returning county_voter_id",
    )
    .bind(LOS_ANGELES)
    .fetch_one(&pool)
    .await
    .unwrap();
    let db = ballots_in_db(&pool, LOS_ANGELES).await;

    // Small: the file comes back at once.
    let app = TestApp::spawn(pool.clone()).await;
    let clerk = app.session("clerk@la.example.org").await;
    let response = post_export(&app, &clerk, &[("kind", "ballots"), ("format", "csv")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("ballots-06037-")
    );
    let rows = parse_csv(&response.bytes().await.unwrap());
    check_ballots(&rows, &db);
    let name = export::headers(ExportKind::Ballots)
        .iter()
        .position(|h| *h == "Name")
        .unwrap();
    let voter = export::headers(ExportKind::Ballots)
        .iter()
        .position(|h| *h == "Voter ID")
        .unwrap();
    let precinct = export::headers(ExportKind::Ballots)
        .iter()
        .position(|h| *h == "Precinct")
        .unwrap();
    let row = rows.iter().find(|r| r[voter] == formula_voter).unwrap();
    assert!(row[name].starts_with("'=HYPERLINK("), "{}", row[name]);
    assert_eq!(row[precinct], "'+1");

    // Filtered by status: only those rows.
    let response = post_export(
        &app,
        &clerk,
        &[
            ("kind", "ballots"),
            ("format", "csv"),
            ("status", "counted"),
        ],
    )
    .await;
    let counted = parse_csv(&response.bytes().await.unwrap());
    assert_eq!(
        counted.len() - 1,
        db.values().filter(|(_, s)| s == "counted").count()
    );

    // The cure list: curable problems only, a confidential voter's contact details withheld.
    let response = post_export(&app, &clerk, &[("kind", "cure"), ("format", "csv")]).await;
    let cure = parse_csv(&response.bytes().await.unwrap());
    let headers = export::headers(ExportKind::Cure);
    let at = |h: &str| headers.iter().position(|x| *x == h).unwrap();
    let curable: i64 = sqlx::query_scalar(
        "select count(*) from ballots where county_fips = $1 and status = 'not_counted'
         and status_reason in ('signature_mismatch', 'signature_missing')",
    )
    .bind(LOS_ANGELES)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(cure.len() as i64 - 1, curable);
    assert!(curable > 0);
    let hidden = cure
        .iter()
        .find(|r| r[at("Voter ID")] == confidential)
        .unwrap();
    assert_eq!(
        (
            hidden[at("Confidential")].as_str(),
            hidden[at("Email on file")].as_str()
        ),
        ("yes", "")
    );

    // Refused: another county, a list the role may not see, nonsense.
    let other = post_export(
        &app,
        &clerk,
        &[("kind", "ballots"), ("format", "csv"), ("county", "06075")],
    )
    .await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let auditor = app.session("auditor@la.example.org").await;
    let refused = post_export(&app, &auditor, &[("kind", "cure"), ("format", "csv")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let audit = post_export(&app, &auditor, &[("kind", "audit"), ("format", "csv")]).await;
    assert_eq!(audit.status(), StatusCode::OK);
    let bad = post_export(
        &app,
        &clerk,
        &[
            ("kind", "ballots"),
            ("format", "csv"),
            ("from", "yesterday"),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("from date"));
    drop(app);

    // Large (here: anything): it runs in the background and waits on the exports page.
    let app = TestApp::spawn_with(
        pool.clone(),
        Settings {
            export_inline_rows: 0,
            ..Settings::default()
        },
    )
    .await;
    let clerk = app.session("clerk@la.example.org").await;
    let response = post_export(&app, &clerk, &[("kind", "ballots"), ("format", "xlsx")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/admin/reports/exports");
    let done = wait_until_done(&app, &clerk).await;
    assert_eq!(done.rows_written as usize, db.len());
    let path = format!("/admin/exports/{}/download", done.id);
    // Someone else of the same county may not take another's file.
    let other = app.session("other@la.example.org").await;
    let theirs = app
        .client
        .get(format!("{}{path}", app.base))
        .header("cookie", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let file = app
        .client
        .get(format!("{}{path}", app.base))
        .header("cookie", &clerk)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    let rows = parse_xlsx(file.bytes().await.unwrap().to_vec());
    check_ballots(&rows, &db);
    let row = rows.iter().find(|r| r[voter] == formula_voter).unwrap();
    assert!(row[name].starts_with("'=HYPERLINK("));

    // Every export is in the audit log: who, what, how many rows.
    let audited: Vec<(Option<i64>, String, i64)> = sqlx::query_as(
        "select actor_user_id, after->>'kind', (after->>'rows')::bigint from audit_log
         where action = 'export.created' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let kinds: Vec<&str> = audited.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(kinds, ["ballots", "ballots", "cure", "audit", "ballots"]);
    assert_eq!(audited[0].2 as usize, db.len());
    assert_eq!(audited[4].2 as usize, db.len());
    assert!(audited.iter().all(|a| a.0.is_some()));
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn the_command_line_exports_the_notification_log_and_records_it(pool: PgPool) {
    demo(&pool).await;
    let url = crate::helpers::database_url(&pool);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("log.xlsx");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ballot-tracker"))
        .args([
            "export",
            "--kind",
            "notifications",
            "--format",
            "xlsx",
            "--out",
        ])
        .arg(&out)
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success());
    let rows = parse_xlsx(std::fs::read(&out).unwrap());
    let ids: Vec<i64> = sqlx::query_scalar("select id from notifications order by id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows[0], export::headers(ExportKind::Notifications));
    let got: Vec<i64> = rows[1..].iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(got, ids);
    assert!(!ids.is_empty());
    // Addresses are masked in the log.
    let to = export::headers(ExportKind::Notifications)
        .iter()
        .position(|h| *h == "To")
        .unwrap();
    assert!(rows[1..].iter().all(|r| r[to].contains("***")));
    let (actor, rows_recorded): (String, i64) = sqlx::query_as(
        "select actor_kind, (after->>'rows')::bigint from audit_log where action = 'export.created'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((actor.as_str(), rows_recorded), ("cli", ids.len() as i64));
}
