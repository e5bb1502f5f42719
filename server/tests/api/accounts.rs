//! Portal accounts over HTTP: an invitation by email and its single-use link, the password
//! rules, a reset that ends every session, disabling, and each county keeping its own.

use crate::helpers::{PASSWORD, TestApp, account, session_cookie};
use app::admin::accounts::RESET_SENT;
use app::state::Settings;
use reqwest::StatusCode;
use server::standin::SmtpSink;
use sqlx::PgPool;

/// The secret of the set-password link in the latest email to `to`.
fn link_secret(smtp: &SmtpSink, to: &str) -> Option<String> {
    let email = smtp
        .emails()
        .into_iter()
        .rev()
        .find(|e| e.to.iter().any(|t| t == to))?;
    let body = email.data.replace("=\r\n", "");
    let at = body.find("/admin/password/")? + "/admin/password/".len();
    Some(
        body[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

async fn status_of(
    app: &TestApp,
    cookie: Option<&str>,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let r = app.call(cookie, endpoint, form).await;
    (r.status(), r.text().await.unwrap())
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn an_invitation_link_sets_the_first_password_once(pool: PgPool) {
    account(&pool, "admin@la.example.org", "county_admin", Some("06037")).await;
    account(&pool, "admin@sf.example.org", "county_admin", Some("06075")).await;
    account(&pool, "clerk@la.example.org", "county_staff", Some("06037")).await;
    let (smtp, port) = SmtpSink::start(0).await.unwrap();
    let app = TestApp::spawn_with_mail(pool.clone(), Settings::default(), port).await;
    let admin = app.session("admin@la.example.org").await;
    let sf_admin = app.session("admin@sf.example.org").await;
    let clerk = app.session("clerk@la.example.org").await;
    let new = "new.clerk@la.example.org";
    let invite = |email: &'static str, role: &'static str, county: &'static str| {
        [
            ("email", email),
            ("name", "New Clerk"),
            ("role", role),
            ("county_fips", county),
        ]
    };

    // Staff invite nobody; a county administrator gives no state role and no other county.
    let (status, _) = status_of(
        &app,
        Some(&clerk),
        "invite",
        &invite(new, "county_staff", ""),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = status_of(
        &app,
        Some(&admin),
        "invite",
        &invite(new, "state_admin", ""),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = status_of(
        &app,
        Some(&admin),
        "invite",
        &invite(new, "county_staff", "06075"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (county, hash): (Option<String>, Option<String>) =
        sqlx::query_as("select county_fips, password_hash from admin_users where email = $1")
            .bind(new)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        county.as_deref(),
        Some("06037"),
        "the administrator's own county"
    );
    assert_eq!(hash, None, "no password until its owner chooses one");
    let (status, _) = status_of(
        &app,
        Some(&admin),
        "invite",
        &invite(new, "county_staff", ""),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "the address has an account");

    let secret = link_secret(&smtp, new).expect("an invitation email with a link");
    assert!(secret.len() >= 20);
    let stored: i64 =
        sqlx::query_scalar("select count(*) from admin_tokens where secret_hash = $1")
            .bind(&secret)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, 0, "only a hash of the secret is kept");
    // Not yet: no password means no sign-in.
    assert_eq!(
        app.sign_in(new, PASSWORD, "").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = status_of(&app, None, "password_link", &[("secret", &secret)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("\"invitation\":true") && body.contains(new),
        "{body}"
    );

    let set = |password: &'static str, repeat: &'static str| {
        [
            ("secret", secret.clone()),
            ("password", password.into()),
            ("repeat", repeat.into()),
        ]
    };
    for (password, repeat, why) in [
        ("qwerty123456", "qwerty123456", "common"),
        ("short", "short", "12 characters"),
        ("a long enough passphrase", "a long enough pass", "differ"),
    ] {
        let form = set(password, repeat);
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = status_of(&app, None, "set_password", &pairs).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(body.contains(why), "{why}: {body}");
    }
    let form = set("a long enough passphrase", "a long enough passphrase");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = status_of(&app, None, "set_password", &pairs).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = status_of(&app, None, "set_password", &pairs).await;
    assert_eq!(status, StatusCode::CONFLICT, "a link works once");
    let (status, _) = status_of(&app, None, "password_link", &[("secret", &secret)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = app.sign_in(new, PASSWORD, "").await;
    assert!(session_cookie(&response).is_some(), "{}", response.status());

    // Each county keeps its own: San Francisco neither sees nor disables Los Angeles' people.
    let new_id: i64 = sqlx::query_scalar("select id from admin_users where email = $1")
        .bind(new)
        .fetch_one(&pool)
        .await
        .unwrap();
    let (_, sf_list) = status_of(&app, Some(&sf_admin), "accounts", &[]).await;
    assert!(!sf_list.contains("la.example.org"), "{sf_list}");
    let (_, la_list) = status_of(&app, Some(&admin), "accounts", &[]).await;
    assert!(
        la_list.contains(new) && !la_list.contains("sf.example.org"),
        "{la_list}"
    );
    let id = new_id.to_string();
    let disable = [("id", id.as_str()), ("disabled", "true")];
    let (status, _) = status_of(&app, Some(&sf_admin), "set_disabled", &disable).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let session = app.session(new).await;
    let (status, _) = status_of(&app, Some(&admin), "set_disabled", &disable).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = status_of(&app, Some(&session), "whoami", &[]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a disabled account's sessions end"
    );

    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where entity = 'admin_user' and entity_id = $1 order by id",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .unwrap();
    for a in [
        "admin_user.invited",
        "admin_user.password_set",
        "admin_user.disabled",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_reset_link_replaces_the_password_and_ends_every_session(pool: PgPool) {
    account(&pool, "clerk@la.example.org", "county_staff", Some("06037")).await;
    let (smtp, port) = SmtpSink::start(0).await.unwrap();
    let app = TestApp::spawn_with_mail(pool.clone(), Settings::default(), port).await;
    let old_session = app.session("clerk@la.example.org").await;

    // The same answer whether or not the address has an account.
    for email in ["nobody@example.org", "clerk@la.example.org"] {
        let (status, body) = status_of(&app, None, "forgot_password", &[("email", email)]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(RESET_SENT), "{body}");
    }
    let mut secret = None;
    for _ in 0..100 {
        secret = link_secret(&smtp, "clerk@la.example.org");
        if secret.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let secret = secret.expect("a reset email");
    assert_eq!(smtp.count(), 1, "nothing to an address without an account");
    let new = "another long passphrase";
    let form = [
        ("secret", secret.as_str()),
        ("password", new),
        ("repeat", new),
    ];
    let (status, body) = status_of(&app, None, "set_password", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = status_of(&app, Some(&old_session), "whoami", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "every session ended");
    assert_eq!(
        app.sign_in("clerk@la.example.org", PASSWORD, "")
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "the old password is gone"
    );
    let response = app.sign_in("clerk@la.example.org", new, "").await;
    assert!(session_cookie(&response).is_some());
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn the_command_line_refuses_a_common_password_too(pool: PgPool) {
    use std::io::Write;
    let create = |password: &'static str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ballot-tracker"))
            .args([
                "admin",
                "create",
                "--email",
                "first@sos.example.org",
                "--name",
                "First",
            ])
            .args(["--role", "state-admin", "--password-stdin"])
            .env("DATABASE_URL", crate::helpers::database_url(&pool))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let refused = create("qwerty123456");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("most common"));
    assert!(create("a long enough passphrase").status.success());
    let n: i64 = sqlx::query_scalar("select count(*) from admin_users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}
