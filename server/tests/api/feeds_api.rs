//! The county API over HTTP: tokens and scopes, a status change through the spine, idempotency
//! keys, another county's voter refused, revocation, the OpenAPI description.

use crate::helpers::TestApp;
use app::api::{self, Scope};
use reqwest::StatusCode;
use server::demo::{DemoArgs, run};
use sqlx::PgPool;

async fn post(
    app: &TestApp,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: &serde_json::Value,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}/api/v1/{path}", app.base))
        .header("authorization", format!("Bearer {token}"))
        .json(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    req.send().await.unwrap()
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn county_systems_push_status_changes_with_a_token(pool: PgPool) {
    run(
        &pool,
        &DemoArgs {
            voters: 100,
            seed: 9,
            if_empty: false,
        },
    )
    .await
    .unwrap();
    let (_, token) = api::create(&pool, "06037", "EMS push", &[Scope::Statuses], None)
        .await
        .unwrap();
    let (_, sf_token) = api::create(&pool, "06075", "SF", &[Scope::Statuses, Scope::Scans], None)
        .await
        .unwrap();
    // A Los Angeles ballot on its way to the voter.
    let (voter, number, day, at): (
        String,
        String,
        chrono::NaiveDate,
        chrono::DateTime<chrono::Utc>,
    ) = sqlx::query_as(
        "select v.county_voter_id, b.ballot_number, e.election_day, b.status_at
         from ballots b join voters v on v.id = b.voter_id join elections e on e.id = b.election_id
         where b.county_fips = '06037' and b.status in ('mailed', 'in_transit', 'delivered')
         order by b.id limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let when = (at.max(chrono::Utc::now() - chrono::Duration::minutes(2)))
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let app = TestApp::spawn(pool.clone()).await;
    let body = serde_json::json!({
        "election_date": day.to_string(),
        "changes": [{ "voter_id": voter, "ballot_id": number, "status_code": "RECEIVED", "status_date": when }],
    });

    let none = app
        .client
        .post(format!("{}/api/v1/ballot-statuses", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let forged = post(
        &app,
        "ballot-statuses",
        &format!("bt_{}", "0".repeat(64)),
        None,
        &body,
    )
    .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let scans = post(
        &app,
        "scans",
        &token,
        None,
        &serde_json::json!({ "election_date": day.to_string(), "scans": [] }),
    )
    .await;
    assert_eq!(scans.status(), StatusCode::FORBIDDEN);

    let first = post(&app, "ballot-statuses", &token, Some("push-1"), &body).await;
    assert_eq!(first.status(), StatusCode::OK);
    let answer: serde_json::Value = first.json().await.unwrap();
    assert_eq!(answer["applied"], true);
    assert!(
        answer["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "1 ballot → received"),
        "{answer}"
    );
    let (source, token_id): (String, Option<i64>) = sqlx::query_as(
        "select e.source, e.api_token_id from ballot_events e join ballots b on b.id = e.ballot_id
         where b.ballot_number = $1 order by e.id desc limit 1",
    )
    .bind(&number)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(source, "api");
    assert!(token_id.is_some());
    let events: i64 = sqlx::query_scalar("select count(*) from ballot_events")
        .fetch_one(&pool)
        .await
        .unwrap();

    // The same key and body: the first answer again, nothing applied twice.
    let again = post(&app, "ballot-statuses", &token, Some("push-1"), &body).await;
    assert_eq!(again.status(), StatusCode::OK);
    let replayed: serde_json::Value = again.json().await.unwrap();
    assert_eq!(replayed["import_id"], answer["import_id"]);
    let after: i64 = sqlx::query_scalar("select count(*) from ballot_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after, events);
    // The same key with another body is refused.
    let mut other = body.clone();
    other["skip_rejected"] = serde_json::json!(true);
    assert_eq!(
        post(&app, "ballot-statuses", &token, Some("push-1"), &other)
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // A request refused before it ran leaves its key free for the corrected one.
    let malformed = serde_json::json!({ "election_date": "soon", "changes": [] });
    let refused = post(&app, "ballot-statuses", &token, Some("push-2"), &malformed).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let corrected = post(&app, "ballot-statuses", &token, Some("push-2"), &body).await;
    assert_eq!(corrected.status(), StatusCode::OK);

    // Six requests at once with one new key: one runs; the others get its answer, or are told
    // it is still running — never a second import.
    let imports = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from imports")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = imports().await;
    let answers = futures::future::join_all(
        (0..6).map(|_| post(&app, "ballot-statuses", &token, Some("push-3"), &body)),
    )
    .await;
    assert_eq!(imports().await, before + 1);
    let mut ran = std::collections::HashSet::new();
    for a in answers {
        match a.status() {
            StatusCode::OK => {
                let v: serde_json::Value = a.json().await.unwrap();
                ran.insert(v["import_id"].to_string());
            }
            StatusCode::CONFLICT => {
                let v: serde_json::Value = a.json().await.unwrap();
                assert!(
                    v["error"].as_str().unwrap().contains("still running"),
                    "{v}"
                );
            }
            other => panic!("{other}"),
        }
    }
    assert!(ran.len() <= 1, "{ran:?}");
    let last = post(&app, "ballot-statuses", &token, Some("push-3"), &body).await;
    assert_eq!(last.status(), StatusCode::OK);

    // San Francisco's token cannot touch a Los Angeles voter: the row is rejected, nothing applied.
    let theirs = post(&app, "ballot-statuses", &sf_token, None, &body).await;
    assert_eq!(theirs.status(), StatusCode::CONFLICT);
    let refused: serde_json::Value = theirs.json().await.unwrap();
    assert_eq!(refused["applied"], false);
    assert_eq!(refused["rejected"][0]["item"], 0);
    assert!(
        refused["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no voter with this id")
    );

    // Malformed requests get a clear error.
    let bad = post(
        &app,
        "ballot-statuses",
        &token,
        None,
        &serde_json::json!({ "election_date": "soon", "changes": [] }),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad = post(
        &app,
        "ballot-statuses",
        &token,
        None,
        &serde_json::json!({ "election_date": day.to_string(), "changes": [{ "voter": 1 }] }),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let text: serde_json::Value = bad.json().await.unwrap();
    assert!(text["error"].as_str().unwrap().contains("JSON"));

    // Revoked: refused at once.
    let id: i64 = sqlx::query_scalar("select id from api_tokens where name = 'EMS push'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(api::revoke(&pool, "06037", id, None).await.unwrap());
    assert_eq!(
        post(&app, "ballot-statuses", &token, None, &body)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let spec = app.get("/api/v1/openapi.json").await;
    assert_eq!(spec.status(), StatusCode::OK);
    let spec: serde_json::Value = spec.json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/ballot-statuses"]["post"].is_object());
}

/// The portal's token page: a county administrator makes (shown once), lists and revokes their
/// county's tokens; staff and other counties' administrators cannot; each step is audited.
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn the_portal_keeps_a_countys_api_tokens(pool: PgPool) {
    use crate::helpers::account;
    let admin_id = account(&pool, "admin@la.example.org", "county_admin", Some("06037")).await;
    account(&pool, "admin@sf.example.org", "county_admin", Some("06075")).await;
    account(&pool, "clerk@la.example.org", "county_staff", Some("06037")).await;
    account(&pool, "state@ca.example.org", "state_admin", None).await;
    let app = TestApp::spawn(pool.clone()).await;
    let admin = app.session("admin@la.example.org").await;
    let sf_admin = app.session("admin@sf.example.org").await;
    let clerk = app.session("clerk@la.example.org").await;
    let state = app.session("state@ca.example.org").await;
    let make = [
        ("fips", "06037"),
        ("name", " EMS push "),
        ("statuses", "on"),
    ];

    for who in [&clerk, &sf_admin] {
        let r = app.call(Some(who), "create_api_token", &make).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = app
            .call(Some(who), "api_tokens", &[("fips", "06037")])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let r = app
        .call(
            Some(&admin),
            "create_api_token",
            &[("fips", "06037"), ("name", "x")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("at least one"));

    let r = app.call(Some(&admin), "create_api_token", &make).await;
    assert_eq!(r.status(), StatusCode::OK);
    let made: serde_json::Value = r.json().await.unwrap();
    let token = made["token"].as_str().unwrap().to_owned();
    assert_eq!(made["name"], "EMS push");
    let id = made["id"].as_i64().unwrap();
    // Only its hash is kept, and the list never carries it.
    let stored: String = sqlx::query_scalar("select token_hash from api_tokens where id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, api::hash(&token));
    let listed = app
        .call(Some(&admin), "api_tokens", &[("fips", "06037")])
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains("EMS push") && listed.contains("statuses:write"));
    assert!(!listed.contains(&token) && !listed.contains(&stored));
    // A state administrator sees it too; San Francisco's list stays empty.
    let r = app
        .call(Some(&state), "api_tokens", &[("fips", "06037")])
        .await;
    assert!(r.text().await.unwrap().contains("EMS push"));
    let r = app
        .call(Some(&sf_admin), "api_tokens", &[("fips", "06075")])
        .await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!([])
    );

    // It authenticates, for its scope only.
    let scans = app
        .client
        .post(format!("{}/api/v1/scans", app.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "election_date": "2026-11-03", "scans": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(scans.status(), StatusCode::FORBIDDEN);

    // San Francisco's administrator cannot revoke it; Los Angeles' can, once.
    let revoke = [("fips", "06037"), ("id", &id.to_string() as &str)];
    let r = app.call(Some(&sf_admin), "revoke_api_token", &revoke).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .call(
            Some(&sf_admin),
            "revoke_api_token",
            &[("fips", "06075"), ("id", &id.to_string())],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "another county's id is no token of theirs"
    );
    let r = app.call(Some(&admin), "revoke_api_token", &revoke).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.call(Some(&admin), "revoke_api_token", &revoke).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(api::authenticate(&pool, &token).await.unwrap(), None);

    let audited: Vec<(String, Option<i64>)> = sqlx::query_as(
        "select action, actor_user_id from audit_log where entity = 'api_token'
         and entity_id = $1 order by id",
    )
    .bind(id.to_string())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        vec![
            ("api_token.created".to_owned(), Some(admin_id)),
            ("api_token.revoked".to_owned(), Some(admin_id)),
        ]
    );
}
