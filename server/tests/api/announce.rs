//! Announcements over HTTP: placeholders refused until filled, the exact recipients per
//! channel, previews per language, a second person's approval past the threshold, delivery by
//! the engine in each reader's language, scheduling and cancelling, county isolation.

use crate::helpers::{TestApp, account};
use crate::notify::{SID, TOKEN, messaging, notify_config};
use app::state::Settings;
use reqwest::StatusCode;
use server::notify::Engine;
use server::standin::{SmtpSink, TelephonyStandin};
use sqlx::PgPool;

/// Four Los Angeles voters in two precincts and one in San Francisco, with subscriptions that
/// count (confirmed, of the county) and some that must not (unconfirmed, opted out, elsewhere).
async fn world(pool: &PgPool) {
    sqlx::query(
        "insert into voters (county_fips, county_voter_id, first_name, last_name, first_name_norm,
                             last_name_norm, date_of_birth, residential_zip, precinct)
         values ('06037', 'LA1', 'Ana', 'Lopez', 'ana', 'lopez', '1980-01-01', '90012', 'P1'),
                ('06037', 'LA2', 'Ben', 'Lopez', 'ben', 'lopez', '1981-01-01', '90012', 'P1'),
                ('06037', 'LA3', 'Cam', 'Ngo', 'cam', 'ngo', '1982-01-01', '90013', 'P2'),
                ('06037', 'LA4', 'Dee', 'Park', 'dee', 'park', '1983-01-01', '90014', 'P2'),
                ('06075', 'SF1', 'Eve', 'Chan', 'eve', 'chan', '1984-01-01', '94110', 'S1')",
    )
    .execute(pool)
    .await
    .unwrap();
    for (voter, channel, address, language, confirmed) in [
        ("LA1", "email", "home@example.org", "en", true),
        // The same household address: one email, not two.
        ("LA2", "email", "home@example.org", "en", true),
        ("LA2", "sms", "+12135550101", "es", true),
        ("LA3", "voice", "+12135550102", "en", true),
        // Vietnamese, with no Vietnamese text: reads the English.
        ("LA3", "email", "cam@example.org", "vi", true),
        // Texted STOP.
        ("LA4", "sms", "+12135550103", "en", true),
        // Never confirmed.
        ("LA4", "email", "dee@example.org", "es", false),
        ("SF1", "email", "eve@example.org", "en", true),
    ] {
        sqlx::query(
            "insert into subscriptions (voter_id, county_fips, channel, address, language,
                                        confirmed_at, window_start, window_end)
             select id, county_fips, $2, $3, $4, case when $5 then now() end, '00:00', '23:59'
             from voters where county_voter_id = $1",
        )
        .bind(voter)
        .bind(channel)
        .bind(address)
        .bind(language)
        .bind(confirmed)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query("insert into sms_opt_outs (address, keyword) values ('+12135550103', 'STOP')")
        .execute(pool)
        .await
        .unwrap();
}

fn settings() -> Settings {
    Settings {
        announcement_approval_threshold: 3,
        messaging: messaging("http://placeholder"),
        ..Settings::default()
    }
}

type Form = Vec<(&'static str, String)>;

fn draft(id: i64, precincts: &str, date: &str, place: &str) -> Form {
    vec![
        ("id", id.to_string()),
        ("county_fips", "06037".into()),
        ("kind", "polling_place".into()),
        ("precincts", precincts.into()),
        ("event_date", date.into()),
        ("place", place.into()),
        ("texts[0][language]", "en".into()),
        ("texts[0][subject]", "Your polling place moved".into()),
        (
            "texts[0][body]",
            "On {date}, vote at {place}.\n\n{county} elections office.".into(),
        ),
        ("texts[1][language]", "es".into()),
        ("texts[1][subject]", "Su lugar de votación cambió".into()),
        ("texts[1][body]", "El {date}, vote en {place}.".into()),
        // A language left empty has no text of its own.
        ("texts[2][language]", "vi".into()),
        ("texts[2][subject]", String::new()),
        ("texts[2][body]", String::new()),
    ]
}

async fn call(
    app: &TestApp,
    cookie: &str,
    endpoint: &str,
    form: &[(&str, String)],
) -> (StatusCode, serde_json::Value) {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.call(Some(cookie), endpoint, &pairs).await;
    let status = r.status();
    let body = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

fn id_form(id: i64) -> Form {
    vec![("id", id.to_string())]
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn an_announcement_is_checked_previewed_approved_and_delivered(pool: PgPool) {
    world(&pool).await;
    account(
        &pool,
        "writer@la.example.org",
        "county_staff",
        Some("06037"),
    )
    .await;
    account(
        &pool,
        "second@la.example.org",
        "county_staff",
        Some("06037"),
    )
    .await;
    account(&pool, "auditor@la.example.org", "auditor", Some("06037")).await;
    account(&pool, "clerk@sf.example.org", "county_staff", Some("06075")).await;
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let writer = app.session("writer@la.example.org").await;
    let second = app.session("second@la.example.org").await;
    let auditor = app.session("auditor@la.example.org").await;
    let sf = app.session("clerk@sf.example.org").await;

    // Empty placeholders: saved as a draft, but it cannot go.
    let (status, id) = call(&app, &writer, "save_announcement", &draft(0, "", "", "")).await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let id = id.as_i64().unwrap();
    let (_, p) = call(&app, &writer, "announcement_preview", &id_form(id)).await;
    let problems = p["problems"].to_string();
    assert!(
        problems.contains("{date}") && problems.contains("{place}"),
        "{problems}"
    );
    assert_eq!(p["may_send"], false);
    let mut send = id_form(id);
    send.push(("send_at", String::new()));
    let (status, body) = call(&app, &writer, "send_announcement", &send).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // A precinct nobody lives in is refused.
    let (status, body) = call(
        &app,
        &writer,
        "save_announcement",
        &draft(id, "P1, ZZ9", "", ""),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.to_string().contains("ZZ9"), "{body}");

    let place = "Central Library, 630 W 5th St";
    let (status, _) = call(
        &app,
        &writer,
        "save_announcement",
        &draft(id, "", "2026-11-03", place),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, p) = call(&app, &writer, "announcement_preview", &id_form(id)).await;
    assert_eq!(p["problems"], serde_json::json!([]));
    // Exactly: two emails (one per household address), one text (the other said STOP), one call.
    assert_eq!(
        p["audience"]["per_channel"],
        serde_json::json!([["email", 2], ["sms", 1], ["voice", 1]])
    );
    assert_eq!(
        p["audience"]["falling_back"],
        serde_json::json!([["vi", 1]])
    );
    let samples = p["samples"].as_array().unwrap();
    let es = samples.iter().find(|s| s["language"] == "es").unwrap();
    assert_eq!(es["recipients"], 1);
    let es_sms = es["sms_text"].as_str().unwrap();
    assert!(
        es_sms.contains("vote en Central Library") && es_sms.contains("noviembre"),
        "{es_sms}"
    );
    let en = samples.iter().find(|s| s["language"] == "en").unwrap();
    assert_eq!(en["recipients"], 3);
    assert_eq!(en["email_subject"], "Your polling place moved");
    assert!(
        en["email_text"]
            .as_str()
            .unwrap()
            .contains("Los Angeles County elections office.")
    );
    assert!(
        en["voice_words"]
            .as_str()
            .unwrap()
            .contains("November 3, 2026")
    );

    // Four recipients, past the threshold of three: a second person approves.
    let (status, body) = call(&app, &writer, "send_announcement", &send).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        serde_json::json!({ "AwaitingApproval": { "recipients": 4 } })
    );
    let (status, _) = call(&app, &writer, "approve_announcement", &id_form(id)).await;
    assert_eq!(status, StatusCode::CONFLICT, "not its own author");
    let (status, _) = call(
        &app,
        &sf,
        "save_announcement",
        &draft(id, "", "2026-11-03", place),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "writing for another county");
    for endpoint in [
        "announcement_preview",
        "announcement_editor",
        "send_announcement",
        "approve_announcement",
        "cancel_announcement",
    ] {
        let mut form = id_form(id);
        form.extend([("send_at", String::new()), ("county", String::new())]);
        let (status, _) = call(&app, &sf, endpoint, &form).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{endpoint} from another county"
        );
        let (status, _) = call(&app, &auditor, endpoint, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint} as an auditor");
    }
    let (status, _) = call(&app, &sf, "announcements", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let queued: i64 = sqlx::query_scalar("select count(*) from notifications")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 0, "nothing goes before approval");
    let (status, body) = call(&app, &second, "approve_announcement", &id_form(id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, serde_json::json!({ "Queued": { "recipients": 4 } }));
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select n.channel, n.language, s.address from notifications n
         join subscriptions s on s.id = n.subscription_id
         where n.announcement_id = $1 and n.kind = 'announcement' order by 1, 3",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].1, "en");
    assert_eq!(
        rows[1],
        ("email".into(), "en".into(), "home@example.org".into())
    );
    assert_eq!(rows[2], ("sms".into(), "es".into(), "+12135550101".into()));

    // The engine delivers them in each reader's language.
    let (smtp, smtp_port) = SmtpSink::start(0).await.unwrap();
    let (phone, phone_port) = TelephonyStandin::start(0, SID, TOKEN, true, None)
        .await
        .unwrap();
    let engine = Engine::new(
        pool.clone(),
        notify_config(Some(smtp_port), Some(phone_port)),
        messaging(&app.base),
    )
    .unwrap();
    let mut handled = 0;
    while let n @ 1.. = engine.tick("test").await.unwrap() {
        handled += n;
    }
    assert_eq!(handled, 4);
    let emails = smtp.emails();
    assert_eq!(emails.len(), 2);
    assert!(emails.iter().all(|e| e.data.contains("Central Library")));
    let texts: Vec<String> = phone
        .requests()
        .into_iter()
        .filter(|r| r.kind == "sms")
        .map(|r| r.body)
        .collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("vote en Central Library"), "{texts:?}");
    let (status, body) = call(&app, &second, "cancel_announcement", &id_form(id)).await;
    assert_eq!(status, StatusCode::CONFLICT, "everything went: {body}");

    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where entity = 'announcement' and entity_id = $1 order by id",
    )
    .bind(id.to_string())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "announcement.saved",
            "announcement.saved",
            "announcement.submitted",
            "announcement.approved",
            "announcement.queued"
        ]
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_scheduled_announcement_waits_and_can_be_cancelled(pool: PgPool) {
    world(&pool).await;
    account(
        &pool,
        "writer@la.example.org",
        "county_staff",
        Some("06037"),
    )
    .await;
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let writer = app.session("writer@la.example.org").await;
    let (_, id) = call(
        &app,
        &writer,
        "save_announcement",
        &draft(0, "P2", "2026-11-03", "Vote Center 12"),
    )
    .await;
    let id = id.as_i64().unwrap();
    let (_, p) = call(&app, &writer, "announcement_preview", &id_form(id)).await;
    assert_eq!(
        p["audience"]["per_channel"],
        serde_json::json!([["email", 1], ["voice", 1]]),
        "precinct P2 only"
    );
    let tomorrow = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .naive_local()
        + chrono::Duration::days(1);
    let yesterday = tomorrow - chrono::Duration::days(2);
    let mut send = id_form(id);
    send.push(("send_at", yesterday.format("%Y-%m-%dT%H:%M").to_string()));
    let (status, body) = call(&app, &writer, "send_announcement", &send).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    send[1].1 = tomorrow.format("%Y-%m-%dT%H:%M").to_string();
    let (status, body) = call(&app, &writer, "send_announcement", &send).await;
    assert_eq!(
        body,
        serde_json::json!({ "Queued": { "recipients": 2 } }),
        "{status}"
    );
    let waiting: i64 = sqlx::query_scalar(
        "select count(*) from notifications where announcement_id = $1 and not_before > now() + interval '23 hours'",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(waiting, 2, "due tomorrow, not now");
    let (status, body) = call(
        &app,
        &writer,
        "save_announcement",
        &draft(id, "", "2026-11-03", "X"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a queued one is not a draft: {body}"
    );

    let (status, body) = call(&app, &writer, "cancel_announcement", &id_form(id)).await;
    assert_eq!((status, body), (StatusCode::OK, serde_json::json!(2)));
    let states: Vec<String> =
        sqlx::query_scalar("select distinct state from notifications where announcement_id = $1")
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(states, ["cancelled"]);
    let (_, p) = call(&app, &writer, "announcement_preview", &id_form(id)).await;
    assert_eq!(p["announcement"]["state"], "Cancelled");
    assert_eq!(p["may_cancel"], false);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_reminder_can_go_only_to_voters_whose_ballot_is_still_out(pool: PgPool) {
    world(&pool).await;
    sqlx::query(
        "with e as (
             insert into elections (state_code, name, election_day, ballots_mailed_from,
                                    receipt_deadline, cure_deadline, certification_date)
             values ('CA', 'General', '2026-11-03', '2026-10-05', '2026-11-10',
                     '2026-12-01 17:00-08', '2026-12-03') returning id)
         insert into ballots (county_fips, election_id, voter_id, ballot_number, status, status_at)
         select v.county_fips, e.id, v.id, 'B-' || v.county_voter_id, s.status, now()
         from e, voters v join (values ('LA1', 'received'), ('LA3', 'mailed')) s(voter, status)
              on s.voter = v.county_voter_id",
    )
    .execute(&pool)
    .await
    .unwrap();
    account(
        &pool,
        "writer@la.example.org",
        "county_staff",
        Some("06037"),
    )
    .await;
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let writer = app.session("writer@la.example.org").await;
    let mut form = draft(0, "", "2026-11-03", "Vote Center 12");
    form.push(("unreturned_only", "on".into()));
    let (status, id) = call(&app, &writer, "save_announcement", &form).await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let (_, p) = call(
        &app,
        &writer,
        "announcement_preview",
        &id_form(id.as_i64().unwrap()),
    )
    .await;
    // Cam's ballot is still out; Ana's came back, and Ben has none: the household email and
    // Ben's text stay home.
    assert_eq!(
        p["audience"]["per_channel"],
        serde_json::json!([["email", 1], ["voice", 1]])
    );
    assert_eq!(p["announcement"]["unreturned_only"], true);
}
