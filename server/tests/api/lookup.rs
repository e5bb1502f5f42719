//! Finding a voter and reading the ballot's story, against the demo election.

use app::domain::{BallotStatus, NotCountedReason};
use app::voter::{Identity, LookupFields, store};
use chrono::Utc;
use server::demo::{DemoArgs, run};
use sqlx::PgPool;

async fn demo(pool: &PgPool) {
    run(
        pool,
        &DemoArgs {
            voters: 200,
            seed: 5,
            if_empty: false,
        },
    )
    .await
    .unwrap();
}

fn by_name(first: &str, last: &str, dob: &str, zip: &str) -> Identity {
    LookupFields {
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: dob.into(),
        zip: zip.into(),
        voter_id: String::new(),
    }
    .parse(Utc::now().date_naive())
    .unwrap()
}

fn by_id(id: &str, dob: &str) -> Identity {
    LookupFields {
        voter_id: id.into(),
        date_of_birth: dob.into(),
        ..Default::default()
    }
    .parse(Utc::now().date_naive())
    .unwrap()
}

async fn found(pool: &PgPool, identity: &Identity) -> bool {
    store::find_voter(pool, identity).await.unwrap().is_some()
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn names_match_exactly_after_normalising(pool: PgPool) {
    demo(&pool).await;
    for (first, last, dob, zip) in [
        ("Guadalupe", "Hernández", "1958-03-14", "90012"),
        ("GUADALUPE", "HERNANDEZ", "03/14/1958", "90012-0001"),
        ("Sean", "OBRIEN", "1975-11-30", "94110"),
        ("sean", "o’brien", "1975-11-30", "94110"),
        ("Maricel", "DELACRUZ", "1969-09-17", "91911"),
        ("Lucia", "Nguyen Tran", "1998-10-10", "92683"),
        ("Tuan", "Le", "2004-09-30", "92701"),
        ("Minh", "Nguyen", "1990-07-02", "92103"),
    ] {
        assert!(
            found(&pool, &by_name(first, last, dob, zip)).await,
            "{first} {last}"
        );
    }
    assert!(found(&pool, &by_id("d0000010", "1979-06-11")).await);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn one_wrong_field_finds_no_one(pool: PgPool) {
    demo(&pool).await;
    for identity in [
        by_name("Sean", "O'Brien", "1975-11-29", "94110"),
        by_name("Sean", "O'Brien", "1975-11-30", "94111"),
        by_name("Shawn", "O'Brien", "1975-11-30", "94110"),
        by_name("Sean", "Brien", "1975-11-30", "94110"),
        by_id("D0000004", "1975-11-29"),
        by_id("D0000099", "1975-11-30"),
    ] {
        assert!(!found(&pool, &identity).await, "{identity:?}");
    }
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn confidential_voters_are_never_found(pool: PgPool) {
    demo(&pool).await;
    assert!(!found(&pool, &by_name("Alex", "Rivera", "1980-01-01", "90012")).await);
    assert!(!found(&pool, &by_id("D0000017", "1980-01-01")).await);
    // The record exists: it is the look-up that refuses to find it.
    let n: i64 =
        sqlx::query_scalar("select count(*) from voters where county_voter_id = 'D0000017'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(n, 1);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_voter_id_two_counties_share_finds_no_one(pool: PgPool) {
    demo(&pool).await;
    assert!(found(&pool, &by_id("D0000009", "1983-04-25")).await);
    sqlx::query(
        "insert into voters (county_fips, county_voter_id, first_name, last_name, first_name_norm,
           last_name_norm, date_of_birth, residential_zip)
         values ('06001', 'D0000009', 'Other', 'Person', 'other', 'person', '1983-04-25', '94501')",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert!(!found(&pool, &by_id("D0000009", "1983-04-25")).await);
}

async fn story_of(pool: &PgPool, identity: &Identity) -> app::voter::BallotStory {
    let id = store::find_voter(pool, identity).await.unwrap().unwrap();
    let mut conn = pool.acquire().await.unwrap();
    store::story(&mut conn, id, Utc::now())
        .await
        .unwrap()
        .unwrap()
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn the_story_has_the_timeline_deadlines_and_county(pool: PgPool) {
    demo(&pool).await;
    let s = story_of(&pool, &by_name("José", "Ramírez", "1979-06-11", "90033")).await;
    assert_eq!(s.county.name, "Los Angeles");
    assert!(s.county.phone.is_some());
    let live = s.live().unwrap();
    assert_eq!(
        (live.status, live.reason),
        (
            BallotStatus::NotCounted,
            Some(NotCountedReason::SignatureMismatch)
        )
    );
    assert!(
        s.election.cure_days_left > 0,
        "the demo's cure deadline is ahead"
    );
    let statuses: Vec<BallotStatus> = live.events.iter().map(|e| e.status).collect();
    assert_eq!(statuses.first(), Some(&BallotStatus::Issued));
    assert_eq!(statuses.last(), Some(&BallotStatus::NotCounted));
    assert!(statuses.contains(&BallotStatus::Received));
    assert!(
        live.events
            .windows(2)
            .all(|w| w[0].occurred_at <= w[1].occurred_at)
    );
    assert!(
        live.events
            .iter()
            .any(|e| e.postal_scan && e.status == BallotStatus::InTransit)
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_reissued_ballot_shows_the_old_one_replaced(pool: PgPool) {
    demo(&pool).await;
    let s = story_of(&pool, &by_name("Hannah", "St. John", "1991-12-12", "94607")).await;
    assert_eq!(s.ballots.len(), 2);
    assert_eq!(s.ballots[0].status, BallotStatus::Replaced);
    assert!(!s.ballots[0].replaces_earlier);
    assert!(s.ballots[1].replaces_earlier);
    assert_eq!(s.live().map(|b| b.status), Some(BallotStatus::InTransit));
    assert!(s.live().and_then(|b| b.expected_delivery).is_some());
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn every_showcase_story_ends_in_its_status(pool: PgPool) {
    demo(&pool).await;
    let cases = [
        ("Tuấn", "Lê", "2004-09-30", "92701", BallotStatus::Issued),
        (
            "Guadalupe",
            "Hernández",
            "1958-03-14",
            "90012",
            BallotStatus::Mailed,
        ),
        (
            "Priya",
            "Patel",
            "1988-01-21",
            "94536",
            BallotStatus::Undeliverable,
        ),
        (
            "Ji-woo",
            "Kim",
            "2001-05-09",
            "90020",
            BallotStatus::ReturnInTransit,
        ),
        (
            "Kenji",
            "Tanaka",
            "1952-12-03",
            "92618",
            BallotStatus::InReview,
        ),
        (
            "Aisha",
            "Washington",
            "1983-04-25",
            "93721",
            BallotStatus::Counted,
        ),
        (
            "Lucía",
            "Nguyen-Tran",
            "1998-10-10",
            "92683",
            BallotStatus::Cured,
        ),
        (
            "Rohan",
            "Sharma",
            "1985-07-19",
            "95014",
            BallotStatus::VotedInPerson,
        ),
    ];
    for (first, last, dob, zip, status) in cases {
        let s = story_of(&pool, &by_name(first, last, dob, zip)).await;
        assert_eq!(s.live().map(|b| b.status), Some(status), "{first} {last}");
    }
}

fn form<'a>(first: &'a str, last: &'a str, dob: &'a str, zip: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("first_name", first),
        ("last_name", last),
        ("date_of_birth", dob),
        ("zip", zip),
        ("voter_id", ""),
    ]
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn the_lookup_endpoint_finds_a_ballot_and_is_never_cached(pool: PgPool) {
    demo(&pool).await;
    let app = crate::helpers::TestApp::spawn(pool).await;
    let res = app
        .post_form(
            "/api/lookup",
            &form("jose", "RAMIREZ", "1979-06-11", "90033"),
            false,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let outcome: app::voter::lookup::LookupOutcome = res.json().await.unwrap();
    let app::voter::lookup::LookupOutcome::Found(story) = outcome else {
        panic!("not found")
    };
    assert_eq!(
        story.live().map(|b| b.status),
        Some(BallotStatus::NotCounted)
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn every_failed_lookup_answers_the_same(pool: PgPool) {
    demo(&pool).await;
    let app = crate::helpers::TestApp::spawn(pool).await;
    let mut answers = Vec::new();
    for f in [
        form("Sean", "O'Brien", "1975-11-29", "94110"), // wrong birth date
        form("Sean", "O'Brien", "1975-11-30", "94111"), // wrong ZIP
        form("Alex", "Rivera", "1980-01-01", "90012"),  // confidential
        form("Nobody", "Atall", "1975-11-30", "94110"), // no such person
    ] {
        let res = app.post_form("/api/lookup", &f, false).await;
        let status = res.status();
        let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
        answers.push((status, cache, res.text().await.unwrap()));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert_eq!(answers[0].0, 200);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn bad_input_names_the_fields(pool: PgPool) {
    let app = crate::helpers::TestApp::spawn(pool).await;
    let res = app
        .post_form(
            "/api/lookup",
            &form("", "Cruz", "1990-02-30", "9001"),
            false,
        )
        .await;
    assert_eq!(res.status(), 400);
    let err: app::AppError = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    for field in ["first_name", "date_of_birth", "zip"] {
        assert!(err.field_problem(field).is_some(), "{field}: {err:?}");
    }
    assert!(err.field_problem("last_name").is_none());
}

/// The default limits with windows a year long: limits count in fixed windows, and a test whose
/// look-ups straddle a window's end would see the count restart.
fn settings_with_long_windows() -> app::state::Settings {
    let defaults = app::state::Settings::default();
    app::state::Settings {
        lookup_per_client: app::ratelimit::Limit {
            window_secs: 365 * 24 * 3600,
            ..defaults.lookup_per_client
        },
        lookup_per_identity: app::ratelimit::Limit {
            window_secs: 365 * 24 * 3600,
            ..defaults.lookup_per_identity
        },
        ..defaults
    }
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn lookups_are_rate_limited_per_client(pool: PgPool) {
    demo(&pool).await;
    let app = crate::helpers::TestApp::spawn_with(pool, settings_with_long_windows()).await;
    for i in 0..20 {
        let zip = format!("9{i:04}");
        let res = app
            .post_form(
                "/api/lookup",
                &form("Ana", "Cruz", "1990-01-01", &zip),
                false,
            )
            .await;
        assert_eq!(res.status(), 200, "look-up {i}");
    }
    let res = app
        .post_form(
            "/api/lookup",
            &form("Sean", "O'Brien", "1975-11-30", "94110"),
            false,
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(
        res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 1
    );
    let err: app::AppError = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(err, app::AppError::RateLimited);
}

/// Two instances on one database share the limit: each writes its counted hits every 200 ms,
/// and the other reads them.
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn instances_share_the_lookup_limit(pool: PgPool) {
    demo(&pool).await;
    let first =
        crate::helpers::TestApp::spawn_with(pool.clone(), settings_with_long_windows()).await;
    let second =
        crate::helpers::TestApp::spawn_with(pool.clone(), settings_with_long_windows()).await;
    for i in 0..12 {
        let zip = format!("9{i:04}");
        let res = first
            .post_form(
                "/api/lookup",
                &form("Ana", "Cruz", "1990-01-01", &zip),
                false,
            )
            .await;
        assert_eq!(res.status(), 200, "look-up {i} at the first instance");
    }
    // Written within a flush or two.
    let mut written = 0i64;
    for _ in 0..50 {
        written = sqlx::query_scalar(
            "select coalesce(sum(hits), 0)::bigint from rate_limit_hits where key like 'lookup.client:%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if written == 12 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(written, 12, "the first instance's hits are written");
    // The same client's 13th to 20th look-ups pass at the second instance; the 21st does not.
    for i in 12..20 {
        let zip = format!("9{i:04}");
        let res = second
            .post_form(
                "/api/lookup",
                &form("Ana", "Cruz", "1990-01-01", &zip),
                false,
            )
            .await;
        assert_eq!(res.status(), 200, "look-up {i} at the second instance");
    }
    let res = second
        .post_form(
            "/api/lookup",
            &form("Ana", "Cruz", "1990-01-01", "99999"),
            false,
        )
        .await;
    assert_eq!(res.status(), 429);
}

/// Behind a trusted load balancer each voter has a limit of their own; a client that is not a
/// trusted proxy cannot escape its limit by writing `X-Forwarded-For` itself.
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn forwarded_addresses_count_only_from_trusted_proxies(pool: PgPool) {
    demo(&pool).await;
    let lookup = |app: &crate::helpers::TestApp, i: usize, forwarded: String| {
        let zip = format!("9{i:04}");
        let req = app
            .client
            .post(format!("{}/api/lookup", app.base))
            .header("x-forwarded-for", forwarded)
            .form(&form("Ana", "Cruz", "1990-01-01", &zip));
        async move { req.send().await.unwrap().status() }
    };
    let long = settings_with_long_windows();
    let settings = app::state::Settings {
        lookup_per_client: app::ratelimit::Limit {
            max: 3,
            ..long.lookup_per_client
        },
        trusted_proxies: app::client::parse_trusted_proxies("127.0.0.1").unwrap(),
        ..long
    };
    let app = crate::helpers::TestApp::spawn_with(pool.clone(), settings.clone()).await;
    // Three look-ups each from four voters behind the proxy: none is limited...
    for i in 0..12 {
        let voter = format!("6.6.6.6, 203.0.113.{}", i % 4);
        assert_eq!(lookup(&app, i, voter).await, 200, "look-up {i}");
    }
    // ...and the fourth from one of them is.
    assert_eq!(lookup(&app, 12, "203.0.113.0".into()).await, 429);
    drop(app);

    // The same requests from a peer that is not trusted share one limit.
    let untrusted = app::state::Settings {
        trusted_proxies: Vec::new(),
        ..settings
    };
    sqlx::query("truncate rate_limit_hits")
        .execute(&pool)
        .await
        .unwrap();
    let app = crate::helpers::TestApp::spawn_with(pool, untrusted).await;
    for i in 0..3 {
        assert_eq!(lookup(&app, i, format!("203.0.113.{i}")).await, 200);
    }
    assert_eq!(lookup(&app, 3, "203.0.113.99".into()).await, 429);
}
