use crate::helpers::TestApp;
use sqlx::PgPool;

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn health_and_readiness(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    assert_eq!(app.get("/healthz").await.text().await.unwrap(), "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready");
}

#[sqlx::test(migrations = false)]
async fn not_ready_until_migrated(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("migrations not applied"));
    app::state::MIGRATOR.run(&pool).await.unwrap();
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn the_home_page_is_rendered_on_the_server(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.get("/?county=06075").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["x-request-id"].to_str().unwrap().len() >= 32);
    let html = res.text().await.unwrap();
    assert!(html.contains("Track your vote-by-mail ballot"));
    assert!(
        html.contains("Your ballot was received."),
        "status sentences come from the domain"
    );
    assert!(
        html.contains(">San Francisco County Elections Office<")
            || html.contains("San Francisco County Elections Office")
    );
    assert_eq!(html.matches("<option value=\"06").count(), 58);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn unknown_pages_are_404(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.get("/nothing-here").await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("Page not found"));
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn county_contact_server_function(pool: PgPool) {
    sqlx::query("update counties set phone = '(555) 010-0001' where fips = '06037'")
        .execute(&pool)
        .await
        .unwrap();
    let app = TestApp::spawn(pool).await;
    let res = app
        .post_form("/api/county_contact", &[("fips", "06037")], false)
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["name"], "Los Angeles");
    assert_eq!(body["phone"], "(555) 010-0001");

    for bad in ["6037", "abcde", "99999"] {
        let res = app
            .post_form("/api/county_contact", &[("fips", bad)], false)
            .await;
        assert!(!res.status().is_success(), "{bad}");
        let err: app::AppError = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        assert!(
            matches!(err, app::AppError::Validation(_) | app::AppError::NotFound),
            "{bad}: {err:?}"
        );
    }
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn choosing_a_language_sets_a_cookie_and_returns_to_the_page(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .post_form("/api/set_language", &[("lang", "vi")], true)
        .await;
    assert!(res.status().is_redirection(), "{}", res.status());
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/privacy")
    );
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("bt_lang=vi;")
    );

    let res = app
        .post_form("/api/set_language", &[("lang", "xx")], false)
        .await;
    assert!(!res.status().is_success());
    assert!(res.headers().get("set-cookie").is_none());

    let html = app
        .client
        .get(format!("{}/", app.base))
        .header("cookie", "bt_lang=th")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<html lang=\"th\""),
        "the remembered language is served"
    );
}
