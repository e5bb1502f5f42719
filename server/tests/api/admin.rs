//! The admin portal over HTTP: sign-in and its abuse cases, sessions, two-factor codes, county
//! isolation, status changes through the spine, cross-site refusal and security headers.

use crate::helpers::{PASSWORD, TestApp, account, session_cookie};
use app::admin::signin::{CODE_NEEDED, REFUSED};
use reqwest::StatusCode;
use server::demo::{DemoArgs, run};
use sqlx::PgPool;

const LOS_ANGELES: &str = "06037";

async fn demo(pool: &PgPool) {
    let args = DemoArgs {
        voters: 100,
        seed: 9,
        if_empty: false,
    };
    run(pool, &args).await.unwrap();
}

/// A demo voter's live ballot, by county voter id.
async fn ballot_of(pool: &PgPool, county_voter_id: &str) -> i64 {
    sqlx::query_scalar(
        "select b.id from ballots b join voters v on v.id = b.voter_id
         where v.county_voter_id = $1 and b.status <> 'replaced'",
    )
    .bind(county_voter_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Los Angeles's clerk (`clerk@la.example.org`, county staff), whom most tests sign in as.
async fn la_clerk(pool: &PgPool) {
    account(
        pool,
        "clerk@la.example.org",
        "county_staff",
        Some(LOS_ANGELES),
    )
    .await;
}

async fn text(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    (status, response.text().await.unwrap())
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn sign_in_starts_a_strict_session_and_sign_out_everywhere_ends_it(pool: PgPool) {
    la_clerk(&pool).await;
    let app = TestApp::spawn(pool.clone()).await;

    let wrong = text(
        app.sign_in("clerk@la.example.org", "not the password at all", "")
            .await,
    )
    .await;
    let unknown = text(app.sign_in("nobody@la.example.org", PASSWORD, "").await).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong, unknown,
        "an unknown account reads as a wrong password"
    );
    assert!(wrong.1.contains(REFUSED));

    let response = app.sign_in("Clerk@LA.example.org ", PASSWORD, "").await;
    let set_cookie: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let cookie = session_cookie(&response).expect("a session cookie");
    let attributes = set_cookie
        .iter()
        .find(|c| c.starts_with("__Host-"))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(attributes.contains(attribute), "{attributes}");
    }

    let me = app.call(Some(&cookie), "whoami", &[]).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["role"], "county_staff");
    assert_eq!(me["county_name"], "Los Angeles");

    // A second session on another device, then "sign out everywhere" from the first.
    let other = app.session("clerk@la.example.org").await;
    assert_ne!(other, cookie, "each sign-in gets its own session id");
    app.call(Some(&cookie), "sign_out_everywhere", &[]).await;
    for c in [&cookie, &other] {
        assert_eq!(
            app.call(Some(c), "whoami", &[]).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action in ('admin_user.signed_in', 'admin_user.sign_in_refused', 'admin_user.signed_out_everywhere')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 2 + 2 + 1);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_disabled_account_is_signed_out_at_once(pool: PgPool) {
    let id = account(
        &pool,
        "clerk@la.example.org",
        "county_staff",
        Some(LOS_ANGELES),
    )
    .await;
    let app = TestApp::spawn(pool.clone()).await;
    let cookie = app.session("clerk@la.example.org").await;
    sqlx::query("update admin_users set disabled_at = now() where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        app.call(Some(&cookie), "whoami", &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let again = text(app.sign_in("clerk@la.example.org", PASSWORD, "").await).await;
    assert_eq!(again.0, StatusCode::UNAUTHORIZED);
    assert!(again.1.contains(REFUSED));
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn repeated_failures_lock_the_account_for_a_while(pool: PgPool) {
    la_clerk(&pool).await;
    // A year-long window, so that the attempts cannot straddle the end of one.
    let per_account = app::ratelimit::Limit {
        window_secs: 365 * 24 * 3600,
        ..app::ratelimit::SIGN_IN_PER_ACCOUNT
    };
    let settings = app::state::Settings {
        sign_in_per_account: per_account,
        ..Default::default()
    };
    let app = TestApp::spawn_with(pool.clone(), settings).await;
    let limit = per_account.max;
    for _ in 0..limit {
        let r = app
            .sign_in("clerk@la.example.org", "guess guess guess", "")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused, with a wait.
    let locked = app.sign_in("clerk@la.example.org", PASSWORD, "").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
    assert!(session_cookie(&locked).is_none());
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn each_two_factor_code_works_once(pool: PgPool) {
    let id = account(
        &pool,
        "clerk@la.example.org",
        "county_staff",
        Some(LOS_ANGELES),
    )
    .await;
    let secret = app::admin::totp::new_secret();
    let recovery = vec!["abcde-fghjk".to_owned()];
    let mut tx = pool.begin().await.unwrap();
    app::admin::store::enable_totp(&mut tx, id, &secret, 0, &recovery)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let app = TestApp::spawn(pool.clone()).await;

    let (status, body) = text(app.sign_in("clerk@la.example.org", PASSWORD, "").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains(CODE_NEEDED));

    let now = chrono::Utc::now().timestamp() as u64;
    let code = app::admin::totp::code_at(&secret, now).unwrap();
    let first = app.sign_in("clerk@la.example.org", PASSWORD, &code).await;
    assert!(session_cookie(&first).is_some());
    let replay = text(app.sign_in("clerk@la.example.org", PASSWORD, &code).await).await;
    assert_eq!(
        replay.0,
        StatusCode::UNAUTHORIZED,
        "a code is accepted once"
    );
    assert!(replay.1.contains(REFUSED));
    // An older code (the previous step) is refused too, once a newer one was used.
    let older = app::admin::totp::code_at(&secret, now - 30).unwrap();
    assert!(session_cookie(&app.sign_in("clerk@la.example.org", PASSWORD, &older).await).is_none());

    let by_recovery = app
        .sign_in("clerk@la.example.org", PASSWORD, "ABCDE FGHJK")
        .await;
    assert!(
        session_cookie(&by_recovery).is_some(),
        "recovery codes ignore case and spaces"
    );
    let recovery_again = app
        .sign_in("clerk@la.example.org", PASSWORD, "abcde-fghjk")
        .await;
    assert_eq!(recovery_again.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_county_requiring_two_factor_sends_its_staff_to_set_it_up(pool: PgPool) {
    demo(&pool).await;
    la_clerk(&pool).await;
    sqlx::query("update counties set require_2fa = true where fips = $1")
        .bind(LOS_ANGELES)
        .execute(&pool)
        .await
        .unwrap();
    let app = TestApp::spawn(pool.clone()).await;
    let cookie = app.session("clerk@la.example.org").await;
    let me: serde_json::Value = app
        .call(Some(&cookie), "whoami", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["must_enrol_totp"], true);
    let search = app
        .call(
            Some(&cookie),
            "search",
            &[
                ("q", "Ramírez"),
                ("status", ""),
                ("precinct", ""),
                ("page", "0"),
            ],
        )
        .await;
    assert_eq!(search.status(), StatusCode::FORBIDDEN);
}

/// Every county-scoped portal function, called by a Los Angeles clerk about a San Francisco
/// ballot, is refused; the state administrator reaches both.
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn staff_never_reach_another_countys_records(pool: PgPool) {
    demo(&pool).await;
    la_clerk(&pool).await;
    account(
        &pool,
        "auditor@la.example.org",
        "auditor",
        Some(LOS_ANGELES),
    )
    .await;
    account(&pool, "state@sos.example.org", "state_admin", None).await;
    let app = TestApp::spawn(pool.clone()).await;
    let clerk = app.session("clerk@la.example.org").await;
    let auditor = app.session("auditor@la.example.org").await;
    let state = app.session("state@sos.example.org").await;
    // Sean O'Brien votes in San Francisco; José Ramírez in Los Angeles.
    let sf_ballot = ballot_of(&pool, "D0000004").await.to_string();
    let la_ballot = ballot_of(&pool, "D0000010").await.to_string();

    let search = |q: &'static str| [("q", q), ("status", ""), ("precinct", ""), ("page", "0")];
    // (county voter id, county) of each row found.
    let found = async |cookie: &str, q: &'static str| -> Vec<(String, String)> {
        let r = app.call(Some(cookie), "search", &search(q)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: serde_json::Value = r.json().await.unwrap();
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row["county_voter_id"].as_str().unwrap().to_owned(),
                    row["county_name"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let has = |rows: &[(String, String)], id: &str| rows.iter().any(|(v, _)| v == id);
    for q in ["O'Brien", "D0000004", "Ramirez", ""] {
        let rows = found(&clerk, q).await;
        assert!(!has(&rows, "D0000004"), "{q}");
        assert!(
            rows.iter().all(|(_, county)| county == "Los Angeles"),
            "{q}: {rows:?}"
        );
    }
    assert!(has(&found(&clerk, "Ramirez").await, "D0000010"));
    assert!(has(&found(&clerk, "jose ramírez").await, "D0000010"));
    assert!(has(&found(&state, "OBRIEN").await, "D0000004"));
    assert!(has(&found(&state, "D0000004").await, "D0000004"));

    let record = |id: &str| vec![("ballot_id", id.to_owned())];
    let change = |id: &str| {
        vec![
            ("ballot_id", id.to_owned()),
            ("status", "received".to_owned()),
            ("reason", String::new()),
            ("note", "test".to_owned()),
        ]
    };
    for (endpoint, form) in [
        ("ballot", record(&sf_ballot)),
        ("change_status", change(&sf_ballot)),
    ] {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app.call(Some(&clerk), endpoint, &pairs).await;
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "{endpoint} across counties"
        );
        let r = app.call(Some(&auditor), endpoint, &pairs).await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{endpoint} as an auditor"
        );
        let r = app.call(None, endpoint, &pairs).await;
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{endpoint} signed out"
        );
    }
    let r = app.call(Some(&auditor), "search", &search("Ramirez")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let sf_status: String = sqlx::query_scalar("select status from ballots where id = $1")
        .bind(sf_ballot.parse::<i64>().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sf_status, "delivered", "nothing changed across counties");
    let r = app
        .call(Some(&clerk), "ballot", &[("ballot_id", la_ballot.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .call(Some(&state), "ballot", &[("ballot_id", sf_ballot.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_staff_status_change_goes_through_the_machine_and_queues_its_notice(pool: PgPool) {
    demo(&pool).await;
    let clerk_id = account(
        &pool,
        "clerk@la.example.org",
        "county_staff",
        Some(LOS_ANGELES),
    )
    .await;
    let app = TestApp::spawn(pool.clone()).await;
    let clerk = app.session("clerk@la.example.org").await;
    // José Ramírez: not counted, signature mismatch; a confirmed email subscription.
    let ballot = ballot_of(&pool, "D0000010").await.to_string();
    let change = |status: &'static str, note: &'static str| {
        [
            ("ballot_id", leak(&ballot)),
            ("status", status),
            ("reason", ""),
            ("note", note),
        ]
    };

    let (status, body) = text(
        app.call(Some(&clerk), "change_status", &change("cured", ""))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("Write a note"));

    let r = app
        .call(
            Some(&clerk),
            "change_status",
            &change(
                "cured",
                "Signature Verification Statement received in person.",
            ),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let (source, actor, note, notify): (String, Option<i64>, Option<String>, bool) =
        sqlx::query_as(
            "select source, actor_user_id, note, notify from ballot_events
         where ballot_id = $1 order by id desc limit 1",
        )
        .bind(ballot.parse::<i64>().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(source, "staff");
    assert_eq!(actor, Some(clerk_id));
    assert!(note.unwrap().starts_with("Signature Verification"));
    assert!(notify);
    let queued: i64 = sqlx::query_scalar(
        "select count(*) from notifications where ballot_id = $1 and template = 'cured' and state = 'queued'",
    )
    .bind(ballot.parse::<i64>().unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(queued, 1);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'ballot.status_changed' and actor_user_id = $1",
    )
    .bind(clerk_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // "Cured" cannot go back to "mailed": the machine's reason comes back.
    let (status, body) = text(
        app.call(Some(&clerk), "change_status", &change("mailed", "oops"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("refused"), "{body}");

    let record: serde_json::Value = app
        .call(Some(&clerk), "ballot", &[("ballot_id", leak(&ballot))])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["status"], "cured");
    let address = record["subscriptions"][0]["address"].as_str().unwrap();
    assert!(
        address.contains("•••@"),
        "county staff see masked contacts: {address}"
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn cross_site_posts_are_refused(pool: PgPool) {
    la_clerk(&pool).await;
    let app = TestApp::spawn(pool.clone()).await;
    let r = app
        .client
        .post(format!("{}/api/admin/sign_in", app.base))
        .header("origin", "https://attacker.example")
        .form(&[
            ("email", "clerk@la.example.org"),
            ("password", PASSWORD),
            ("code", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&r).is_none());
    let r = app
        .client
        .post(format!("{}/api/admin/sign_in", app.base))
        .header("origin", app.base.clone())
        .form(&[
            ("email", "clerk@la.example.org"),
            ("password", PASSWORD),
            ("code", ""),
        ])
        .send()
        .await
        .unwrap();
    assert!(session_cookie(&r).is_some());
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn pages_carry_the_security_headers_and_a_fresh_nonce(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let r = app.get("/admin/sign-in").await;
        let headers = r.headers().clone();
        let html = r.text().await.unwrap();
        let csp = headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            headers["strict-transport-security"]
                .to_str()
                .unwrap()
                .contains("max-age=")
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a nonce in the policy")
            .to_owned();
        assert!(
            html.contains(&format!("nonce=\"{nonce}\"")),
            "the page's scripts carry it"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1]);
    let health = app.get("/healthz").await;
    assert!(health.headers().contains_key("content-security-policy"));
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn reissuing_replaces_the_ballot_with_a_new_one(pool: PgPool) {
    demo(&pool).await;
    la_clerk(&pool).await;
    let app = TestApp::spawn(pool.clone()).await;
    let clerk = app.session("clerk@la.example.org").await;
    // Guadalupe Hernández: mailed, no scan yet, in Los Angeles.
    let old = ballot_of(&pool, "D0000002").await;
    let old_id = old.to_string();
    let form = |imb: &'static str, note: &'static str| {
        [
            ("ballot_id", leak(&old_id)),
            ("outbound_imb", imb),
            ("note", note),
        ]
    };
    let (status, body) = text(
        app.call(Some(&clerk), "reissue", &form("123", "lost"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("20 digits"));

    let r = app
        .call(
            Some(&clerk),
            "reissue",
            &form("00700901234567891234", "Voter says it never came."),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let new: i64 = r.json().await.unwrap();
    type Row = (i64, String, String, Option<i64>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "select id, status, ballot_number, replaces_ballot_id, outbound_imb from ballots
         where id in ($1, $2) order by id",
    )
    .bind(old)
    .bind(new)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows[0].1, "replaced");
    assert_eq!(rows[1].1, "issued");
    assert_eq!(rows[1].2, format!("{}-R2", rows[0].2));
    assert_eq!(rows[1].3, Some(old));
    assert_eq!(rows[1].4.as_deref(), Some("00700901234567891234"));

    // A replaced ballot cannot be reissued again; the new one can.
    let (status, body) = text(app.call(Some(&clerk), "reissue", &form("", "again")).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("cannot be reissued"), "{body}");
}

/// A reissue into a county's partition of its own may not take a barcode another county's
/// ballot of the election carries: the partition's unique index does not see it, and the
/// clerk's transaction does not see the other county's ballots.
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_reissue_may_not_take_another_countys_barcode(pool: PgPool) {
    use app::imports::{
        FeedKind,
        run::{self, Limits, Mode, Request},
    };
    la_clerk(&pool).await;
    let (election, day) = crate::helpers::upcoming_election(&pool, "Special").await;
    // A voter in each county; San Francisco's ballot carries 00700901234500000077.
    sqlx::query(
        "with v as (
           insert into voters (county_fips, county_voter_id, first_name, last_name,
             first_name_norm, last_name_norm, date_of_birth, residential_zip)
           values ('06037', 'LA-1', 'Ana', 'Lee', 'ana', 'lee', '1980-01-02', '90012'),
                  ('06075', 'SF-1', 'Bo', 'Wu', 'bo', 'wu', '1980-01-03', '94110')
           returning id, county_fips)
         insert into ballots (id, county_fips, election_id, voter_id, ballot_number,
           outbound_imb, status, status_at)
         select nextval('ballots_id_seq'), county_fips, $1, id, 'SF-B-1',
                '00700901234500000077', 'mailed', now() from v where county_fips = '06075'",
    )
    .bind(election)
    .execute(&pool)
    .await
    .unwrap();
    // Los Angeles's first file of the election: its ballot in a partition of its own.
    let file = format!(
        "county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n\
         06037,{day},LA-1,LA-B-1,ISSUED,{},,,\n",
        chrono::Utc::now().date_naive() - chrono::Duration::days(1)
    );
    let request = Request {
        county_fips: LOS_ANGELES.into(),
        election_id: Some(election),
        kind: FeedKind::Elg,
        file_name: "elg.csv".into(),
        user_id: None,
        api_token_id: None,
        limits: Limits::default(),
    };
    let import = run::start(&pool, &request).await.unwrap();
    let mode = Mode::Apply {
        confirmed: vec![app::imports::Guard::MassChange],
        skip_rejected: false,
    };
    let report = run::process(&pool, import, &request, &mode, file.as_bytes())
        .await
        .unwrap();
    assert!(report.applied, "{report:?}");
    let old: i64 = sqlx::query_scalar("select id from ballots where ballot_number = 'LA-B-1'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(old >= 1 << 40, "in the partition's range: {old}");

    let app = TestApp::spawn(pool.clone()).await;
    let clerk = app.session("clerk@la.example.org").await;
    let old_id = old.to_string();
    let form = |imb: &'static str| {
        [
            ("ballot_id", leak(&old_id)),
            ("outbound_imb", imb),
            ("note", "Voter says it never came."),
        ]
    };
    let (status, body) = text(
        app.call(Some(&clerk), "reissue", &form("0070090123450000007790012"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("already on another ballot"), "{body}");
    let r = app
        .call(Some(&clerk), "reissue", &form("00700901234500000078"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let new: i64 = r.json().await.unwrap();
    assert!(new > old, "the partition's next id: {new}");
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn county_administrators_change_their_own_countys_contact_block(pool: PgPool) {
    account(
        &pool,
        "admin@la.example.org",
        "county_admin",
        Some(LOS_ANGELES),
    )
    .await;
    account(&pool, "admin@sf.example.org", "county_admin", Some("06075")).await;
    la_clerk(&pool).await;
    let app = TestApp::spawn(pool.clone()).await;
    let form = |website: &'static str| {
        [
            ("fips", LOS_ANGELES),
            ("office_name", "Registrar-Recorder/County Clerk"),
            ("phone", "(800) 555-0100"),
            ("email", "vote@la.example.org"),
            ("website", website),
            ("office_address", "12400 Imperial Hwy, Norwalk"),
            ("office_hours", "Mon–Fri 8 a.m.–5 p.m."),
            ("time_zone", "America/Los_Angeles"),
            ("require_2fa", "on"),
        ]
    };
    for who in ["admin@sf.example.org", "clerk@la.example.org"] {
        let cookie = app.session(who).await;
        let r = app
            .call(
                Some(&cookie),
                "save_county_settings",
                &form("https://la.example.org"),
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{who}");
    }
    let admin = app.session("admin@la.example.org").await;
    let (status, body) = text(
        app.call(
            Some(&admin),
            "save_county_settings",
            &form("http://la.example.org"),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("https://"), "{body}");
    let r = app
        .call(
            Some(&admin),
            "save_county_settings",
            &form("https://la.example.org"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Voters see it; staff must now set up two-factor sign-in; the change is audited.
    let contact =
        app::counties::store::contact(&pool, app::domain::CountyFips::parse(LOS_ANGELES).unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(contact.phone.as_deref(), Some("(800) 555-0100"));
    let clerk = app.session("clerk@la.example.org").await;
    let me: serde_json::Value = app
        .call(Some(&clerk), "whoami", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["must_enrol_totp"], true);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'county.settings_changed' and before is not null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn elections_are_kept_by_their_countys_administrators(pool: PgPool) {
    demo(&pool).await;
    account(
        &pool,
        "admin@la.example.org",
        "county_admin",
        Some(LOS_ANGELES),
    )
    .await;
    la_clerk(&pool).await;
    account(&pool, "admin@sf.example.org", "county_admin", Some("06075")).await;
    let app = TestApp::spawn(pool.clone()).await;
    let admin = app.session("admin@la.example.org").await;
    let form = |id: &'static str, county: &'static str, name: &'static str, day: &'static str| {
        [
            ("id", id),
            ("county_fips", county),
            ("name", name),
            ("election_day", day),
            ("ballots_mailed_from", ""),
            ("receipt_deadline", ""),
            ("cure_deadline", ""),
            ("certification_date", ""),
        ]
    };
    // Statewide elections are the state's; county staff keep none.
    let r = app
        .call(
            Some(&admin),
            "save_election",
            &form("0", "", "Statewide special", "2027-06-01"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let clerk = app.session("clerk@la.example.org").await;
    let r = app
        .call(
            Some(&clerk),
            "save_election",
            &form("0", LOS_ANGELES, "Measure A", "2027-03-02"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = app
        .call(
            Some(&admin),
            "save_election",
            &form("0", LOS_ANGELES, "Measure A", "2027-03-02"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let id: i64 = r.json().await.unwrap();
    let (cure, mailed): (chrono::DateTime<chrono::Utc>, chrono::NaiveDate) =
        sqlx::query_as("select cure_deadline, ballots_mailed_from from elections where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(mailed.to_string(), "2027-02-01");
    // Certification 30 days after (April 1); cure statements due 5 p.m. Pacific two days
    // before, on March 30, daylight time (UTC-7).
    assert_eq!(cure.to_rfc3339(), "2027-03-31T00:00:00+00:00");

    // Another county's administrator neither sees nor changes it.
    let sf = app.session("admin@sf.example.org").await;
    let listed: serde_json::Value = app
        .call(Some(&sf), "elections", &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["name"] != "Measure A")
    );
    let id_text = leak(&id.to_string());
    let r = app
        .call(
            Some(&sf),
            "save_election",
            &form(id_text, "06075", "Hijacked", "2027-03-02"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Out of order: refused with the reason.
    let bad = [
        ("id", id_text),
        ("county_fips", LOS_ANGELES),
        ("name", "Measure A"),
        ("election_day", "2027-03-02"),
        ("ballots_mailed_from", "2027-03-09"),
        ("receipt_deadline", ""),
        ("cure_deadline", ""),
        ("certification_date", ""),
    ];
    let (status, body) = text(app.call(Some(&admin), "save_election", &bad).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("mailed after Election Day"), "{body}");
    let listed: serde_json::Value = app
        .call(Some(&clerk), "elections", &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "Measure A")
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn auditors_read_their_countys_audit_log_only(pool: PgPool) {
    demo(&pool).await;
    la_clerk(&pool).await;
    account(&pool, "clerk@sf.example.org", "county_staff", Some("06075")).await;
    account(
        &pool,
        "auditor@la.example.org",
        "auditor",
        Some(LOS_ANGELES),
    )
    .await;
    account(&pool, "auditor@sos.example.org", "auditor", None).await;
    let app = TestApp::spawn(pool.clone()).await;
    for (who, voter) in [
        ("clerk@la.example.org", "D0000010"),
        ("clerk@sf.example.org", "D0000014"),
    ] {
        let cookie = app.session(who).await;
        let ballot = ballot_of(&pool, voter).await.to_string();
        // Either a legal change or a refusal; only recorded ones reach the log.
        app.call(
            Some(&cookie),
            "change_status",
            &[
                ("ballot_id", leak(&ballot)),
                ("status", "in_review"),
                ("reason", ""),
                ("note", "audit test"),
            ],
        )
        .await;
    }
    let list = async |who: &str| -> (StatusCode, Vec<serde_json::Value>) {
        let cookie = app.session(who).await;
        let r = app
            .call(
                Some(&cookie),
                "audit",
                &[("action", ""), ("entity", ""), ("page", "0")],
            )
            .await;
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        (status, v["rows"].as_array().cloned().unwrap_or_default())
    };
    let (status, la) = list("auditor@la.example.org").await;
    assert_eq!(status, StatusCode::OK);
    assert!(la.iter().any(|r| r["action"] == "ballot.status_changed"));
    assert!(
        la.iter().all(|r| r["county_name"] == "Los Angeles"),
        "{la:?}"
    );
    let (_, all) = list("auditor@sos.example.org").await;
    assert!(all.iter().any(|r| r["county_name"] == "San Francisco"));
    assert!(
        all.iter().any(|r| r["county_name"].is_null()),
        "the state's own rows"
    );
    let (status, _) = list("clerk@la.example.org").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A multipart form as a browser sends it: text fields, then the file.
fn multipart(fields: &[(&str, &str)], file_name: &str, file: &str) -> (String, Vec<u8>) {
    let boundary = "----ballot-tracker-test-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\ncontent-type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// A file larger than the portal takes is refused with a clear error as it arrives, and nothing
/// is kept of it (the command line takes files of any size).
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_file_too_large_for_the_portal_is_refused_with_a_clear_error(pool: PgPool) {
    use app::admin::imports_view::MAX_UPLOAD_BYTES;
    demo(&pool).await;
    la_clerk(&pool).await;
    let app = TestApp::spawn(pool.clone()).await;
    let clerk = app.session("clerk@la.example.org").await;
    let (content_type, form) = multipart(&[("kind", "vot")], "huge.csv", "FILE");
    // The file's place in the form filled with one byte more than the portal takes.
    let at = form.windows(4).position(|w| w == b"FILE").unwrap();
    let mut body = Vec::with_capacity(form.len() + MAX_UPLOAD_BYTES);
    body.extend_from_slice(&form[..at]);
    body.resize(at + MAX_UPLOAD_BYTES + 1, b'x');
    body.extend_from_slice(&form[at + 4..]);
    let r = app
        .client
        .post(format!("{}/admin/imports", app.base))
        .header("content-type", content_type)
        .header("cookie", &clerk)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("larger than the portal takes (512 MB): use ballot-tracker import"),
        "{text}"
    );
    let imports: i64 = sqlx::query_scalar("select count(*) from imports")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(imports, 0);
}

/// County files in the portal: a clerk uploads, reads the dry run and applies their county's
/// file; another county's import is out of reach in every way (page, apply, error report).
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn county_files_are_checked_applied_and_kept_to_their_county(pool: PgPool) {
    demo(&pool).await;
    la_clerk(&pool).await;
    account(
        &pool,
        "auditor@la.example.org",
        "auditor",
        Some(LOS_ANGELES),
    )
    .await;
    let app = TestApp::spawn(pool.clone()).await;
    let clerk = app.session("clerk@la.example.org").await;
    let auditor = app.session("auditor@la.example.org").await;
    let vot = "county_fips,voter_id,first_name,middle_name,last_name,suffix,date_of_birth,residential_zip,precinct,language,confidential,email,phone\r\n\
               06037,UP-1,Ana,,Quintero,,1980-02-03,90012,P-1,es,N,,\r\n\
               06037,UP-2,Bo,,Ng,,1981-04-05,90013,P-1,zh,N,,(213) 555-0199\r\n\
               06075,UP-3,Cy,,Park,,1982-06-07,94110,P-1,ko,N,,\r\n";
    let upload = async |cookie: Option<&str>, fields: &[(&str, &str)]| {
        let (content_type, body) = multipart(fields, "voters.csv", vot);
        let mut req = app
            .client
            .post(format!("{}/admin/imports", app.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    };
    assert_eq!(
        upload(None, &[("kind", "vot")]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        upload(Some(&auditor), &[("kind", "vot")]).await.status(),
        StatusCode::FORBIDDEN
    );
    // A clerk's county is their own, whatever the form says.
    let r = upload(Some(&clerk), &[("kind", "vot"), ("county", "06075")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let id = location.rsplit('/').next().unwrap().to_owned();
    let detail = app
        .call(Some(&clerk), "imports/detail", &[("id", &id)])
        .await;
    assert_eq!(detail.status(), StatusCode::OK);
    let d: serde_json::Value = detail.json().await.unwrap();
    assert_eq!(d["county_name"], "Los Angeles");
    assert_eq!(d["state"], "dry_run");
    assert_eq!(d["summary"]["voters_added"], 2);
    assert_eq!(d["summary"]["rejected"], 1);
    assert_eq!(d["summary"]["findings"][0]["guard"], "other_county");
    assert_eq!(d["rejected_preview"][0]["row"], 4);
    let report = app
        .client
        .get(format!("{}/admin/imports/{id}/rejections.csv", app.base))
        .header("cookie", &clerk)
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), StatusCode::OK);
    assert!(
        report
            .text()
            .await
            .unwrap()
            .contains("this import is for 06037")
    );
    // Not confirmed: refused, nothing applied.
    let refused = app
        .call(Some(&clerk), "imports/apply", &[("id", &id)])
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(
        count(
            &pool,
            "select count(*) from voters where county_voter_id like 'UP-%'"
        )
        .await,
        0
    );
    let applied = app
        .call(
            Some(&clerk),
            "imports/apply",
            &[
                ("id", &id),
                ("other_county", "yes"),
                ("skip_rejected", "yes"),
            ],
        )
        .await;
    assert_eq!(applied.status(), StatusCode::OK);
    assert_eq!(
        count(
            &pool,
            "select count(*) from voters where county_voter_id like 'UP-%'"
        )
        .await,
        2
    );
    // San Francisco's import, out of the clerk's reach.
    let sf = app::imports::run::Request {
        county_fips: "06075".into(),
        election_id: None,
        kind: app::imports::FeedKind::Vot,
        file_name: "sf.csv".into(),
        user_id: None,
        api_token_id: None,
        limits: app::imports::run::Limits::default(),
    };
    let sf_id = app::imports::run::start(&pool, &sf).await.unwrap();
    let sf_id = sf_id.to_string();
    for endpoint in ["imports/detail", "imports/apply"] {
        let r = app.call(Some(&clerk), endpoint, &[("id", &sf_id)]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{endpoint}");
    }
    let report = app
        .client
        .get(format!("{}/admin/imports/{sf_id}/rejections.csv", app.base))
        .header("cookie", &clerk)
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), StatusCode::NOT_FOUND);
    let list = app.call(Some(&clerk), "imports/list", &[]).await;
    let listed: serde_json::Value = list.json().await.unwrap();
    assert!(
        listed["imports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["county_name"] == "Los Angeles")
    );
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// A county administrator maps a county's own ELG code; staff may not; the next file uses it.
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_county_administrator_maps_the_countys_own_codes(pool: PgPool) {
    demo(&pool).await;
    account(
        &pool,
        "admin@la.example.org",
        "county_admin",
        Some(LOS_ANGELES),
    )
    .await;
    la_clerk(&pool).await;
    let app = TestApp::spawn(pool.clone()).await;
    let admin = app.session("admin@la.example.org").await;
    let clerk = app.session("clerk@la.example.org").await;
    let save = |status: &'static str, reason: &'static str| {
        [
            ("fips", LOS_ANGELES),
            ("kind", "elg"),
            ("code", "vbm-rcvd"),
            ("status", status),
            ("reason", reason),
        ]
    };
    let r = app
        .call(Some(&clerk), "save_code_map", &save("received", ""))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .call(Some(&admin), "save_code_map", &save("received", "other"))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "a reason only with not counted"
    );
    let r = app
        .call(Some(&admin), "save_code_map", &save("received", ""))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let scan = [
        ("fips", LOS_ANGELES),
        ("kind", "pkg"),
        ("code", "918"),
        ("status", "counted"),
        ("reason", ""),
    ];
    let r = app.call(Some(&admin), "save_code_map", &scan).await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "a scan cannot mean counted"
    );
    let listed = app
        .call(Some(&admin), "code_maps", &[("fips", LOS_ANGELES)])
        .await;
    let rows: serde_json::Value = listed.json().await.unwrap();
    let own = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "VBM-RCVD")
        .unwrap();
    assert_eq!(own["status"], "received");
    assert_eq!(own["county_row"], true);
    let other = app
        .call(Some(&admin), "code_maps", &[("fips", "06075")])
        .await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        count(
            &pool,
            "select count(*) from audit_log where entity = 'feed_code'"
        )
        .await,
        1
    );
    // The county's next file reads the code.
    let (voter, number, day): (String, String, chrono::NaiveDate) = sqlx::query_as(
        "select v.county_voter_id, b.ballot_number, e.election_day
         from ballots b join voters v on v.id = b.voter_id join elections e on e.id = b.election_id
         where b.county_fips = '06037' and b.status in ('mailed', 'in_transit', 'delivered')
           and b.status_at < now() - interval '1 hour'
         order by b.id limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let when = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let file = format!(
        "county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n06037,{day},{voter},{number},vbm-rcvd,{when},,,\n"
    );
    let election: i64 = sqlx::query_scalar("select id from elections where election_day = $1")
        .bind(day)
        .fetch_one(&pool)
        .await
        .unwrap();
    let request = app::imports::run::Request {
        county_fips: LOS_ANGELES.into(),
        election_id: Some(election),
        kind: app::imports::FeedKind::Elg,
        file_name: "elg.csv".into(),
        user_id: None,
        api_token_id: None,
        limits: app::imports::run::Limits::default(),
    };
    let id = app::imports::run::start(&pool, &request).await.unwrap();
    let mode = app::imports::run::Mode::Apply {
        confirmed: vec![],
        skip_rejected: false,
    };
    let report = app::imports::run::process(&pool, id, &request, &mode, file.as_bytes())
        .await
        .unwrap();
    assert!(report.applied, "{:?}", report.summary);
    assert_eq!(
        report
            .summary
            .moved
            .get(&app::domain::BallotStatus::Received),
        Some(&1)
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_status_filter_finds_every_voter_whose_latest_ballot_has_it(pool: PgPool) {
    demo(&pool).await;
    la_clerk(&pool).await;
    account(&pool, "state@sos.example.org", "state_admin", None).await;
    let app = TestApp::spawn(pool.clone()).await;
    for (who, county) in [
        ("clerk@la.example.org", Some(LOS_ANGELES)),
        ("state@sos.example.org", None),
    ] {
        let cookie = app.session(who).await;
        let statuses: Vec<String> =
            sqlx::query_scalar("select distinct status from ballots order by 1")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert!(statuses.len() >= 5, "{statuses:?}");
        let mut found = 0;
        for status in statuses.iter().map(String::as_str) {
            // The truth: voters whose latest ballot has the status, in name order.
            let mut want: Vec<String> = sqlx::query_scalar(
                "select v.county_voter_id from voters v
                 where ($2::text is null or v.county_fips = $2)
                   and (select b.status from ballots b join elections e on e.id = b.election_id
                        where b.voter_id = v.id
                        order by e.election_day desc, (b.status = 'replaced'), b.id desc limit 1) = $1
                 order by v.last_name_norm, v.first_name_norm, v.id limit 25",
            )
            .bind(status)
            .bind(county)
            .fetch_all(&pool)
            .await
            .unwrap();
            let form = [
                ("q", ""),
                ("status", status),
                ("precinct", ""),
                ("page", "0"),
            ];
            let r = app.call(Some(&cookie), "search", &form).await;
            assert_eq!(r.status(), StatusCode::OK);
            let v: serde_json::Value = r.json().await.unwrap();
            let mut got: Vec<String> = v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row["county_voter_id"].as_str().unwrap().to_owned())
                .collect();
            found += usize::from(!want.is_empty());
            want.sort();
            got.sort();
            assert_eq!(got, want, "{who} {status}");
        }
        assert!(found >= 4, "{who}: {found} statuses with voters");
    }
}
