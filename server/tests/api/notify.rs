//! The delivery engine against a real SMTP server and a real HTTP server speaking the telephony
//! provider's API, both on 127.0.0.1 (`server::standin`): what arrives, in which language, with
//! which headers and signatures; retries, dead messages, contact windows, opt-outs, rate limits;
//! and worker processes killed mid-batch.

use crate::helpers::TestApp;
use app::ballots::spine::{self, Cause, NewBallot, Proposal};
use app::domain::{BallotStatus, StatusChange};
use app::messages::Channel;
use app::messages::outbox;
use app::state::{Messaging, RedactedToken, Settings};
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use secrecy::SecretString;
use server::config::{NotifyConfig, Telephony};
use server::notify::Engine;
use server::standin::{SmtpSink, TelephonyStandin};
use sqlx::PgPool;

pub(crate) const SID: &str = "AC00000000000000000000000000000001";
pub(crate) const TOKEN: &str = "test-auth-token";

struct World {
    voter_id: i64,
    ballot_id: i64,
}

async fn world(pool: &PgPool) -> World {
    let mut tx = pool.begin().await.unwrap();
    let election_id: i64 = sqlx::query_scalar(
        "insert into elections (state_code, name, election_day, ballots_mailed_from,
           receipt_deadline, cure_deadline, certification_date)
         values ('CA', 'Test General', current_date, current_date - 29, current_date + 7,
                 now() + interval '28 days', current_date + 30) returning id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let voter_id: i64 = sqlx::query_scalar(
        "insert into voters (county_fips, county_voter_id, first_name, last_name, first_name_norm,
           last_name_norm, date_of_birth, residential_zip)
         values ('06037', 'N1', 'Ana', 'Lee', 'ana', 'lee', '1970-01-02', '90012')
         returning id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query("update counties set phone = '(800) 815-2666' where fips = '06037'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let new = NewBallot {
        voter_id,
        county_fips: "06037".into(),
        election_id,
        ballot_number: "N-1".into(),
        outbound_imb: None,
        inbound_imb: None,
        replaces: None,
        issued_at: Utc::now() - Duration::days(10),
    };
    let ballot_id = spine::issue(&mut tx, &Cause::System, &new, Utc::now())
        .await
        .unwrap()
        .unwrap();
    let mailed = Proposal::new(
        ballot_id,
        StatusChange::new(BallotStatus::Mailed, Utc::now() - Duration::days(9)),
    );
    spine::apply(&mut tx, &Cause::System, &[mailed], Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    World {
        voter_id,
        ballot_id,
    }
}

/// A confirmed subscription, open all day unless a window is given.
async fn subscribe(
    pool: &PgPool,
    voter_id: i64,
    channel: &str,
    address: &str,
    language: &str,
    window: Option<(&str, &str)>,
) -> i64 {
    let (start, end) = window.unwrap_or(("00:00", "23:59:59"));
    sqlx::query_scalar(
        "insert into subscriptions (voter_id, county_fips, channel, address, language,
                                    window_start, window_end, confirmed_at)
         values ($1, '06037', $2, $3, $4, $5::time, $6::time, now()) returning id",
    )
    .bind(voter_id)
    .bind(channel)
    .bind(address)
    .bind(language)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A status change through the one path; returns its event id.
async fn change(pool: &PgPool, ballot_id: i64, status: BallotStatus) -> i64 {
    change_to(pool, ballot_id, StatusChange::new(status, Utc::now())).await
}

/// Any change (one with a reason too) through the one path; returns its event id.
async fn change_to(pool: &PgPool, ballot_id: i64, to: StatusChange) -> i64 {
    let mut tx = pool.begin().await.unwrap();
    let out = spine::apply(
        &mut tx,
        &Cause::System,
        &[Proposal::new(ballot_id, to)],
        Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    match out[0] {
        spine::Outcome::Recorded { event_id, .. } => event_id,
        ref other => panic!("{other:?}"),
    }
}

pub(crate) fn notify_config(smtp_port: Option<u16>, telephony_port: Option<u16>) -> NotifyConfig {
    NotifyConfig {
        smtp_url: smtp_port.map(|p| SecretString::from(format!("smtp://127.0.0.1:{p}"))),
        email_from: "Ballot Tracker <ballots@example.org>".into(),
        telephony: telephony_port.map(|p| Telephony {
            base_url: format!("http://127.0.0.1:{p}"),
            account_sid: SID.into(),
            auth_token: SecretString::from(TOKEN),
            sms_from: "+15555550100".into(),
            voice_from: "+15555550101".into(),
        }),
        workers: 1,
        batch: 100,
        concurrency: 16,
        max_attempts: 3,
        claim_lease: std::time::Duration::from_secs(3),
        email_per_second: 0,
        sms_per_second: 0,
        voice_per_second: 0,
    }
}

pub(crate) fn messaging(base: &str) -> Messaging {
    Messaging {
        public_base_url: base.to_owned(),
        telephony_auth_token: Some(RedactedToken(TOKEN.into())),
        ..Messaging::default()
    }
}

fn settings() -> Settings {
    Settings {
        messaging: messaging("http://placeholder"),
        ..Settings::default()
    }
}

/// Runs passes until one finds nothing to do.
async fn drain(engine: &Engine) -> usize {
    let mut total = 0;
    loop {
        let n = engine.tick("test-worker").await.unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

async fn states(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as("select channel, state from notifications order by channel")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Waits (up to ten seconds) for the provider's callbacks to land.
async fn eventually(pool: &PgPool, sql: &str, want: i64) -> i64 {
    let mut got = -1;
    for _ in 0..100 {
        got = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        if got == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    got
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_status_change_reaches_every_channel_in_the_voters_language(pool: PgPool) {
    let w = world(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let (smtp, smtp_port) = SmtpSink::start(0).await.unwrap();
    let (phone, phone_port) = TelephonyStandin::start(0, SID, TOKEN, true, None)
        .await
        .unwrap();
    subscribe(&pool, w.voter_id, "email", "ana@example.org", "es", None).await;
    subscribe(&pool, w.voter_id, "sms", "+12135550100", "ko", None).await;
    subscribe(&pool, w.voter_id, "voice", "+12135550101", "en", None).await;
    change(&pool, w.ballot_id, BallotStatus::Received).await;

    let engine = Engine::new(
        pool.clone(),
        notify_config(Some(smtp_port), Some(phone_port)),
        messaging(&app.base),
    )
    .unwrap();
    assert_eq!(drain(&engine).await, 3);

    // Email: Spanish, the status page's sentences, one-click unsubscribe.
    let emails = smtp.emails();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to, ["ana@example.org"]);
    let parsed = mail_parser::MessageParser::default()
        .parse(emails[0].data.as_bytes())
        .unwrap();
    assert_eq!(parsed.subject(), Some("Su boleta fue recibida."));
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains("Todavía no ha sido contada"), "{text}");
    assert!(text.contains("(800) 815-2666"), "{text}");
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains(r#"<html lang="es">"#), "{html}");
    assert_eq!(emails[0].header("Content-Language").as_deref(), Some("es"));
    assert_eq!(
        emails[0].header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let unsubscribe = emails[0].header("List-Unsubscribe").unwrap();
    assert!(
        unsubscribe.starts_with(&format!("<{}/unsubscribe/", app.base)),
        "{unsubscribe}"
    );

    // SMS in Korean; the voice call in English, its script fetched (signed) from our server.
    let requests = phone.requests();
    let sms = requests.iter().find(|r| r.kind == "sms").unwrap();
    assert_eq!(sms.to, "+12135550100");
    assert_eq!(sms.from, "+15555550100");
    let korean = app::domain::wording::status(BallotStatus::Received, app::domain::Language::Ko);
    assert!(sms.body.contains(korean.headline), "{}", sms.body);
    assert!(sms.body.contains("STOP"), "{}", sms.body);
    for _ in 0..50 {
        if phone.count() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let call = phone
        .requests()
        .into_iter()
        .find(|r| r.kind == "voice")
        .unwrap();
    assert!(
        call.body.contains(r#"<Say language="en-US">"#),
        "{}",
        call.body
    );
    assert!(
        call.body.contains("Your ballot was received."),
        "{}",
        call.body
    );

    // The signed delivery-status callbacks mark SMS and voice delivered.
    assert_eq!(
        eventually(
            &pool,
            "select count(*) from notifications where state = 'delivered' and delivered_at is not null",
            2
        )
        .await,
        2
    );
    assert_eq!(
        states(&pool).await,
        [
            ("email".into(), "sent".into()),
            ("sms".into(), "delivered".into()),
            ("voice".into(), "delivered".into())
        ]
    );
    let sent_ids: i64 = sqlx::query_scalar(
        "select count(*) from notifications where provider_message_id is not null and sent_at is not null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(sent_ids, 3);
}

/// Two changes before the workers get to the first one's message: the voter is told the
/// latest, once. The earlier message is passed over when claimed (superseded, not a try) and
/// never reaches the provider; a message already sent is not taken back.
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_message_overtaken_before_it_goes_out_is_not_sent(pool: PgPool) {
    let w = world(&pool).await;
    let (phone, phone_port) = TelephonyStandin::start(0, SID, TOKEN, false, None)
        .await
        .unwrap();
    subscribe(&pool, w.voter_id, "sms", "+12135550100", "en", None).await;
    let engine = Engine::new(
        pool.clone(),
        notify_config(None, Some(phone_port)),
        messaging("http://127.0.0.1:9"),
    )
    .unwrap();
    // The first change's message goes out before the next change.
    change(&pool, w.ballot_id, BallotStatus::Received).await;
    assert_eq!(drain(&engine).await, 1);
    // Two changes before the workers look again: "not counted", then "cured".
    let missing = app::domain::NotCountedReason::SignatureMissing;
    change_to(
        &pool,
        w.ballot_id,
        StatusChange::not_counted(missing, Utc::now()),
    )
    .await;
    change(&pool, w.ballot_id, BallotStatus::Cured).await;
    assert_eq!(drain(&engine).await, 2);

    let sent = phone.requests();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let en = app::domain::Language::En;
    let received = app::domain::wording::status(BallotStatus::Received, en);
    let cured = app::domain::wording::status(BallotStatus::Cured, en);
    assert!(sent[0].body.contains(received.headline), "{}", sent[0].body);
    assert!(sent[1].body.contains(cured.headline), "{}", sent[1].body);
    let ledger: Vec<(String, String, i32)> =
        sqlx::query_as("select template, state, attempts from notifications order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        ledger,
        [
            ("received".into(), "sent".into(), 1),
            ("not_counted".into(), "superseded".into(), 0),
            ("cured".into(), "sent".into(), 1)
        ]
    );
}

/// Emails about one event share one rendering, but each carries its own subscription's link to
/// unsubscribe, in the header, the text and the HTML.
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn emails_sharing_a_rendering_each_carry_their_own_link(pool: PgPool) {
    let w = world(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let (smtp, smtp_port) = SmtpSink::start(0).await.unwrap();
    for address in [
        "ana@example.org",
        "ana.work@example.org",
        "ana.home@example.org",
    ] {
        subscribe(&pool, w.voter_id, "email", address, "es", None).await;
    }
    change(&pool, w.ballot_id, BallotStatus::Received).await;
    let engine = Engine::new(
        pool.clone(),
        notify_config(Some(smtp_port), None),
        messaging(&app.base),
    )
    .unwrap();
    assert_eq!(drain(&engine).await, 3);

    let mut links = std::collections::HashSet::new();
    for email in smtp.emails() {
        let link = email.header("List-Unsubscribe").unwrap();
        let link = link
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned();
        let parsed = mail_parser::MessageParser::default()
            .parse(email.data.as_bytes())
            .unwrap();
        let text = parsed.body_text(0).unwrap();
        let html = parsed.body_html(0).unwrap();
        assert!(text.contains(&link), "{link} not in {text}");
        assert!(
            html.contains(&format!(r#"href="{link}""#)),
            "{link} not in {html}"
        );
        assert!(!email.data.contains("unsubscribe0link"), "{}", email.data);
        assert!(text.contains("Todavía no ha sido contada"), "{text}");
        links.insert(link);
    }
    assert_eq!(links.len(), 3, "each subscription its own link: {links:?}");
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn subscriptions_are_never_deleted_so_messages_never_dangle(pool: PgPool) {
    let w = world(&pool).await;
    subscribe(&pool, w.voter_id, "email", "ana@example.org", "en", None).await;
    change(&pool, w.ballot_id, BallotStatus::Received).await;
    for sql in [
        "delete from subscriptions",
        "truncate subscriptions cascade",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("never deleted"), "{sql}: {err}");
    }
    // A message for an event is written once per subscription: asked again, the outbox refuses
    // the write (the unique index), and nothing of the second ask is kept.
    let before = count(&pool, "select count(*) from notifications").await;
    let (ballot_id, event_id, voter_id): (i64, i64, i64) = sqlx::query_as(
        "select n.ballot_id, n.event_id, b.voter_id from notifications n
         join ballots b on b.id = n.ballot_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let notice = spine::Notice {
        ballot_id,
        event_id,
        voter_id,
        county_fips: "06037".into(),
        status: BallotStatus::Received,
    };
    let mut tx = pool.begin().await.unwrap();
    let again = spine::enqueue(&mut tx, &[notice], Utc::now())
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("notifications_once_per_event"),
        "{again}"
    );
    tx.rollback().await.unwrap();
    let queued = "select count(*) from notifications where state = 'queued'";
    assert_eq!(
        count(&pool, queued).await,
        1,
        "the first message stays queued"
    );
    assert_eq!(
        count(&pool, "select count(*) from notifications").await,
        before
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_delivery_report_that_beats_the_workers_record_is_kept(pool: PgPool) {
    let w = world(&pool).await;
    subscribe(&pool, w.voter_id, "sms", "+12135550100", "en", None).await;
    change(&pool, w.ballot_id, BallotStatus::Received).await;
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let (phone, _) = TelephonyStandin::start(0, SID, TOKEN, false, None)
        .await
        .unwrap();
    let claim = outbox::claim(&pool, Channel::Sms, 10).await.unwrap();
    let id = claim.messages[0].id;
    // The provider took the text and reports it delivered before the worker records the send:
    // the report waits for the worker's claim to end, then finds the send recorded.
    let report = vec![
        ("MessageSid".to_owned(), "SM1".to_owned()),
        ("MessageStatus".to_owned(), "delivered".to_owned()),
    ];
    let url = format!("{}/hooks/telephony/status/{id}", app.base);
    let callback = tokio::spawn(async move { phone.signed_post(&url, &report).await });
    let waiting = "select count(*) from pg_stat_activity
                   where datname = current_database() and wait_event_type = 'Lock'";
    assert_eq!(
        eventually(&pool, waiting, 1).await,
        1,
        "the report waits for the claim"
    );
    let sent = outbox::Outcome::Sent {
        provider_id: "SM1".into(),
    };
    claim.finish(&[(id, 1, sent)], 8).await.unwrap();
    assert_eq!(
        callback.await.unwrap().unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let (state, provider_id): (String, String) =
        sqlx::query_as("select state, provider_message_id from notifications where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), provider_id.as_str()), ("delivered", "SM1"));
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn callbacks_and_scripts_need_the_providers_signature(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let form = [("MessageSid", "SM1"), ("MessageStatus", "delivered")];
    for path in [
        "/hooks/telephony/status/1",
        "/hooks/telephony/voice/1",
        "/hooks/telephony/sms",
    ] {
        let unsigned = app
            .client
            .post(format!("{}{path}", app.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), StatusCode::FORBIDDEN, "{path}");
        let forged = app
            .client
            .post(format!("{}{path}", app.base))
            .header("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{path}");
    }
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn the_unsubscribe_link_asks_first_and_one_click_unsubscribes(pool: PgPool) {
    let w = world(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let id = subscribe(&pool, w.voter_id, "email", "ana@example.org", "es", None).await;
    let path = app::messages::links::LinkKey::new(app::messages::links::DEVELOPMENT_LINK_KEY)
        .unsubscribe_path(id);

    let page = app.get(&path).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<html lang="es">"#), "{html}");
    assert!(
        html.contains("a•••@example.org") && !html.contains("ana@"),
        "{html}"
    );
    let active: bool =
        sqlx::query_scalar("select cancelled_at is null from subscriptions where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(active, "opening the link must not unsubscribe");

    let forged = app
        .get(&format!("/unsubscribe/{id}/AAAAAAAAAAAAAAAAAAAAAA"))
        .await;
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);

    // RFC 8058: the mail client POSTs this body, with no cookie and no Origin.
    let one_click = app
        .client
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), StatusCode::OK);
    let (via, consents): (String, i64) = sqlx::query_as(
        "select s.cancelled_via, (select count(*) from consents c
                                  where c.subscription_id = s.id and c.action = 'opt_out')
         from subscriptions s where s.id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((via.as_str(), consents), ("email_link", 1));
    // A second click is still unsubscribed, and writes no second opt-out.
    let again = app
        .client
        .post(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let consents: i64 =
        sqlx::query_scalar("select count(*) from consents where action = 'opt_out'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(consents, 1);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn stop_confirms_once_then_silence_start_and_help_answer(pool: PgPool) {
    let w = world(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let (phone, phone_port) = TelephonyStandin::start(0, SID, TOKEN, false, None)
        .await
        .unwrap();
    let sub = subscribe(&pool, w.voter_id, "sms", "+12135550100", "es", None).await;
    change(&pool, w.ballot_id, BallotStatus::Received).await;
    let text = |body: &'static str| {
        let url = format!("{}/hooks/telephony/sms", app.base);
        let phone = phone.clone();
        async move {
            let params = vec![
                ("From".to_owned(), "+12135550100".to_owned()),
                ("To".to_owned(), "+15555550100".to_owned()),
                ("Body".to_owned(), body.to_owned()),
            ];
            let r = phone.signed_post(&url, &params).await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };

    let first = text("Stop").await;
    assert!(
        first.contains("<Message>") && first.contains("START"),
        "{first}"
    );
    assert!(
        first.contains("no recibirá más"),
        "in the subscriber's language: {first}"
    );
    let second = text("QUIT").await;
    assert!(!second.contains("<Message>"), "{second}");
    let (via,): (String,) = sqlx::query_as("select cancelled_via from subscriptions where id = $1")
        .bind(sub)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(via, "sms_keyword");
    // The message queued before STOP never goes.
    let engine = Engine::new(
        pool.clone(),
        notify_config(None, Some(phone_port)),
        messaging(&app.base),
    )
    .unwrap();
    drain(&engine).await;
    assert_eq!(phone.count(), 0);
    assert_eq!(states(&pool).await, [("sms".into(), "cancelled".into())]);

    let help = text("HELP").await;
    assert!(help.contains("STOP") && help.contains("/privacy"), "{help}");
    let start = text("START").await;
    assert!(start.contains("STOP"), "{start}");
    let active: i64 = sqlx::query_scalar(
        "select count(*) from subscriptions where address = '+12135550100' and cancelled_at is null and confirmed_at is not null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(active, 1);
    let consents: Vec<(String, String)> =
        sqlx::query_as("select action, method from consents order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        consents,
        [
            ("opt_out".into(), "sms".into()),
            ("opt_in".into(), "sms".into())
        ]
    );
    // After START, a new status reaches the number again; a second STOP is confirmed again.
    change(&pool, w.ballot_id, BallotStatus::Counted).await;
    drain(&engine).await;
    assert_eq!(phone.count(), 1);
    assert!(text("STOP").await.contains("<Message>"));
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn failures_retry_with_backoff_then_die_and_bad_numbers_fail(pool: PgPool) {
    let w = world(&pool).await;
    subscribe(&pool, w.voter_id, "sms", "+12135550100", "en", None).await;
    change(&pool, w.ballot_id, BallotStatus::Received).await;
    // A provider that is down: nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let engine = Engine::new(
        pool.clone(),
        notify_config(None, Some(closed)),
        messaging("http://127.0.0.1:9"),
    )
    .unwrap();
    assert_eq!(drain(&engine).await, 1);
    let (state, attempts, wait, error): (String, i32, f64, String) = sqlx::query_as(
        "select state, attempts, extract(epoch from not_before - now())::float8, last_error
         from notifications",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 1));
    assert!(
        (10.0..=50.0).contains(&wait),
        "first retry in 15–45 s, got {wait}"
    );
    assert!(error.contains("unreachable"), "{error}");

    for _ in 0..2 {
        sqlx::query("update notifications set not_before = now()")
            .execute(&pool)
            .await
            .unwrap();
        drain(&engine).await;
    }
    let (state, attempts): (String, i32) =
        sqlx::query_as("select state, attempts from notifications")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("dead", 3));

    // A number the provider refuses outright fails at once, without retries.
    let (_phone, port) = TelephonyStandin::start(0, SID, TOKEN, false, None)
        .await
        .unwrap();
    let bad = subscribe(&pool, w.voter_id, "sms", "+19995550199", "en", None).await;
    let engine = Engine::new(
        pool.clone(),
        notify_config(None, Some(port)),
        messaging("http://127.0.0.1:9"),
    )
    .unwrap();
    change(&pool, w.ballot_id, BallotStatus::Counted).await;
    drain(&engine).await;
    let (state, attempts, error): (String, i32, String) = sqlx::query_as(
        "select state, attempts, last_error from notifications where subscription_id = $1",
    )
    .bind(bad)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((state.as_str(), attempts), ("failed", 1), "{error}");
    assert!(error.contains("400, code 21211"), "{error}");
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn texts_and_calls_outside_the_window_wait_for_it(pool: PgPool) {
    let w = world(&pool).await;
    // A window that opens two hours from now, county time, for an hour.
    let local = Utc::now().with_timezone(&chrono_tz::America::Los_Angeles);
    let start = (local + Duration::hours(2)).format("%H:00").to_string();
    let end = (local + Duration::hours(3)).format("%H:00").to_string();
    subscribe(
        &pool,
        w.voter_id,
        "sms",
        "+12135550100",
        "en",
        Some((&start, &end)),
    )
    .await;
    subscribe(
        &pool,
        w.voter_id,
        "email",
        "ana@example.org",
        "en",
        Some((&start, &end)),
    )
    .await;
    change(&pool, w.ballot_id, BallotStatus::Received).await;
    let (smtp, smtp_port) = SmtpSink::start(0).await.unwrap();
    let (phone, phone_port) = TelephonyStandin::start(0, SID, TOKEN, false, None)
        .await
        .unwrap();
    let engine = Engine::new(
        pool.clone(),
        notify_config(Some(smtp_port), Some(phone_port)),
        messaging("http://127.0.0.1:9"),
    )
    .unwrap();
    drain(&engine).await;
    // Email is not bound by the window; the text waits, not counted as a try.
    assert_eq!((smtp.count(), phone.count()), (1, 0));
    let (state, attempts, wait): (String, i32, f64) = sqlx::query_as(
        "select state, attempts, extract(epoch from not_before - now())::float8
         from notifications where channel = 'sms'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 0));
    assert!(
        (3600.0..=7300.0).contains(&wait),
        "deferred to the window's opening, got {wait} s"
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_providers_rate_limit_holds_across_workers(pool: PgPool) {
    // Slots are per second: ask twice within one second and the two grants share the limit.
    // Each try starts just after a second begins, so no earlier try has taken from that second.
    for _ in 0..5 {
        let into = Utc::now().timestamp_subsec_millis();
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(
            1010 - into.min(1000),
        )))
        .await;
        let second = Utc::now().timestamp();
        let a = outbox::take_slots(&pool, Channel::Sms, 4, 5).await.unwrap();
        let b = outbox::take_slots(&pool, Channel::Sms, 4, 5).await.unwrap();
        if Utc::now().timestamp() == second {
            assert_eq!((a, b), (4, 1));
            outbox::give_back_slots(&pool, Channel::Sms, 1)
                .await
                .unwrap();
            let c = outbox::take_slots(&pool, Channel::Sms, 4, 5).await.unwrap();
            if Utc::now().timestamp() == second {
                assert_eq!(c, 1);
            }
            return;
        }
    }
    panic!("five tries all straddled a second");
}

/// Queues `n` email messages for one event, each to its own subscription.
async fn queue_emails(pool: &PgPool, n: i64) -> i64 {
    let w = world(pool).await;
    sqlx::query(
        "insert into subscriptions (voter_id, county_fips, channel, address, language, confirmed_at)
         select $1, '06037', 'email', 'voter' || i || '@example.org', 'en', now()
         from generate_series(1, $2) i",
    )
    .bind(w.voter_id)
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
    change(pool, w.ballot_id, BallotStatus::Received).await;
    sqlx::query_scalar("select count(*) from notifications where state = 'queued'")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn worker_process(pool: &PgPool, smtp_port: u16) -> std::process::Child {
    let url = crate::helpers::database_url(pool);
    std::process::Command::new(env!("CARGO_BIN_EXE_ballot-tracker"))
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
        .env("NOTIFY_BATCH", "100")
        .env("NOTIFY_CONCURRENCY", "16")
        .env("NOTIFY_CLAIM_LEASE_SECONDS", "2")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_for(mut done: impl FnMut() -> bool, seconds: u64) {
    for _ in 0..seconds * 20 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn unsent(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from notifications where state <> 'sent'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_worker_killed_mid_batch_loses_nothing(pool: PgPool) {
    assert_eq!(queue_emails(&pool, 10_000).await, 10_000);
    let (smtp, port) = SmtpSink::start(0).await.unwrap();
    let mut first = worker_process(&pool, port);
    wait_for(|| smtp.count() >= 3_000, 120).await;
    first.kill().unwrap(); // SIGKILL: no chance to finish or put anything back.
    first.wait().unwrap();
    let at_kill = smtp.count();
    assert!((3_000..10_000).contains(&at_kill), "killed after {at_kill}");
    // The dead worker's transaction ends when PostgreSQL sees its connection close; then its
    // claim is gone and its messages are due again, with no lease to wait out.
    let open = "select count(*) from pg_stat_activity
                where datname = current_database() and pid <> pg_backend_pid()
                  and xact_start is not null";
    assert_eq!(
        eventually(&pool, open, 0).await,
        0,
        "the killed worker's claim ended"
    );
    // In flight: sent to the provider, but the send not recorded when the worker died.
    let recorded: std::collections::HashSet<i64> =
        sqlx::query_scalar::<_, i64>("select id from notifications where state = 'sent'")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let sent_at_kill: std::collections::HashSet<i64> = smtp
        .emails()
        .iter()
        .filter_map(|e| e.notification_id())
        .collect();
    let in_flight = sent_at_kill.difference(&recorded).count();
    assert!(
        recorded.is_subset(&sent_at_kill),
        "only what the provider took is recorded sent"
    );

    let mut second = worker_process(&pool, port);
    for _ in 0..1200 {
        if unsent(&pool).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(unsent(&pool).await, 0, "every message ends sent");

    let ids: Vec<i64> = smtp
        .emails()
        .iter()
        .map(|e| e.notification_id().unwrap())
        .collect();
    let distinct: std::collections::HashSet<i64> = ids.iter().copied().collect();
    let ledger: std::collections::HashSet<i64> =
        sqlx::query_scalar::<_, i64>("select id from notifications")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(distinct, ledger, "nothing lost, nothing invented");
    let duplicates = ids.len() - distinct.len();
    eprintln!(
        "crash test: killed after {at_kill} received; {in_flight} sent but not recorded at the \
         kill; {} received in all for 10000 messages; {duplicates} duplicates",
        ids.len()
    );
    assert_eq!(
        duplicates, in_flight,
        "the messages in flight at the kill, and only they, go out twice"
    );
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn two_worker_processes_send_no_message_twice(pool: PgPool) {
    assert_eq!(queue_emails(&pool, 10_000).await, 10_000);
    let (smtp, port) = SmtpSink::start(0).await.unwrap();
    let mut a = worker_process(&pool, port);
    let mut b = worker_process(&pool, port);
    wait_for(|| smtp.count() >= 10_000, 300).await;
    for _ in 0..100 {
        if unsent(&pool).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
    let ids: Vec<i64> = smtp
        .emails()
        .iter()
        .map(|e| e.notification_id().unwrap())
        .collect();
    let distinct: std::collections::HashSet<i64> = ids.iter().copied().collect();
    assert_eq!((ids.len(), distinct.len()), (10_000, 10_000));
    assert_eq!(unsent(&pool).await, 0);
    let distinct_ids: i64 =
        sqlx::query_scalar("select count(distinct provider_message_id) from notifications")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(distinct_ids, 10_000);
}

/// The token a look-up's answer carries, from the page a form without JavaScript gets.
async fn look_up_token(app: &TestApp) -> String {
    let page = app
        .post_form(
            "/ballot",
            &[
                ("first_name", "Ana"),
                ("last_name", "Lee"),
                ("date_of_birth", "1970-01-02"),
                ("zip", "90012"),
                ("voter_id", ""),
            ],
            true,
        )
        .await
        .text()
        .await
        .unwrap();
    let at = page
        .find(r#"name="token" value=""#)
        .expect("a sign-up form")
        + 20;
    page[at..].split('"').next().unwrap().to_owned()
}

fn six_digits(text: &str) -> String {
    let digits: Vec<char> = text.chars().collect();
    digits
        .windows(6)
        .find(|w| w.iter().all(char::is_ascii_digit))
        .map(|w| w.iter().collect())
        .unwrap_or_default()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_voter_signs_up_by_text_confirms_the_code_and_hears_the_status_once(pool: PgPool) {
    let _w = world(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let (phone, phone_port) = TelephonyStandin::start(0, SID, TOKEN, false, None)
        .await
        .unwrap();
    let engine = Engine::new(
        pool.clone(),
        notify_config(None, Some(phone_port)),
        messaging(&app.base),
    )
    .unwrap();
    let token = look_up_token(&app).await;

    // Mistakes come back with every problem named, and nothing is stored.
    let bad = app
        .post_form(
            "/notifications/subscribe",
            &[
                ("token", &token),
                ("channel", "sms"),
                ("address", "555-01"),
                ("language", "es"),
            ],
            false,
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("(213) 555-0100") && html.contains("Check the box"),
        "{html}"
    );
    assert_eq!(count(&pool, "select count(*) from subscriptions").await, 0);
    let forged = app
        .post_form(
            "/notifications/subscribe",
            &[("token", "1.99999999999.AAAA"), ("channel", "sms")],
            false,
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // A window open now, whatever the hour the test runs at (county time).
    let pacific = Utc::now().with_timezone(&chrono_tz::America::Los_Angeles);
    let opens = (pacific - Duration::hours(1)).format("%H:00").to_string();
    let closes = (pacific + Duration::hours(3)).format("%H:00").to_string();
    let form = [
        ("token", token.as_str()),
        ("channel", "sms"),
        ("address", "(213) 555-0100"),
        ("language", "es"),
        ("window_start", opens.as_str()),
        ("window_end", closes.as_str()),
        ("consent", "yes"),
    ];
    let asked = app
        .post_form("/notifications/subscribe", &form, false)
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let html = asked.text().await.unwrap();
    assert!(
        html.contains(r#"data-state="enter_code""#) && html.contains("•••0100"),
        "{html}"
    );
    let (consent, version): (String, String) =
        sqlx::query_as("select action, text_version from consents")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (consent.as_str(), version.as_str()),
        ("opt_in", "signup-2026-12-01/es")
    );

    // The code arrives by text, in Spanish, whatever the hour.
    drain(&engine).await;
    let sms = phone.requests();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].to, "+12135550100");
    assert!(
        sms[0].body.starts_with("Código de Seguimiento de Boletas"),
        "{}",
        sms[0].body
    );
    let code = six_digits(&sms[0].body);
    let subscription: i64 = sqlx::query_scalar("select id from subscriptions")
        .fetch_one(&pool)
        .await
        .unwrap();
    let confirm = |code: String| {
        let (app, token) = (&app, token.clone());
        async move {
            app.post_form(
                "/notifications/confirm",
                &[
                    ("token", token.as_str()),
                    ("subscription", &subscription.to_string()),
                    ("code", &code),
                ],
                false,
            )
            .await
        }
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(
        confirm(wrong.into()).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let done = confirm(code.clone()).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains(r#"data-state="done""#));
    assert_eq!(
        count(
            &pool,
            "select count(*) from subscriptions where confirmed_at is not null"
        )
        .await,
        1
    );

    // Late, so the current status comes once, in the status page's words.
    drain(&engine).await;
    let sms = phone.requests();
    assert_eq!(sms.len(), 2);
    let mailed = app::domain::wording::status(BallotStatus::Mailed, app::domain::Language::Es);
    assert!(sms[1].body.contains(mailed.headline), "{}", sms[1].body);
    // Confirming again changes nothing and sends nothing more.
    confirm(code).await;
    drain(&engine).await;
    assert_eq!(phone.count(), 2);

    // Stopped from the status page's list.
    let stopped = app
        .post_form(
            "/notifications/cancel",
            &[
                ("token", token.as_str()),
                ("subscription", &subscription.to_string()),
            ],
            false,
        )
        .await;
    assert_eq!(stopped.status(), StatusCode::OK);
    let consents: Vec<String> = sqlx::query_scalar("select action from consents order by id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(consents, ["opt_in", "confirm", "opt_out"]);
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn an_email_sign_up_is_confirmed_by_its_link_after_a_question(pool: PgPool) {
    let _w = world(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), settings()).await;
    let (smtp, smtp_port) = SmtpSink::start(0).await.unwrap();
    let engine = Engine::new(
        pool.clone(),
        notify_config(Some(smtp_port), None),
        messaging(&app.base),
    )
    .unwrap();
    let token = look_up_token(&app).await;
    let form = [
        ("token", token.as_str()),
        ("channel", "email"),
        ("address", "ana@example.org"),
        ("language", "vi"),
        ("consent", "yes"),
    ];
    let asked = app
        .post_form("/notifications/subscribe", &form, false)
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(
        asked
            .text()
            .await
            .unwrap()
            .contains(r#"data-state="check_email""#)
    );
    drain(&engine).await;
    let emails = smtp.emails();
    assert_eq!(emails.len(), 1);
    let parsed = mail_parser::MessageParser::default()
        .parse(emails[0].data.as_bytes())
        .unwrap();
    let text = parsed.body_text(0).unwrap().to_string();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/confirm/"))
        .unwrap()
        .to_owned();
    let path = link.trim_start_matches(&app.base).to_owned();

    // Opening the link asks; only the button confirms.
    let page = app.get(&path).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(r#"<html lang="vi">"#));
    assert_eq!(
        count(
            &pool,
            "select count(*) from subscriptions where confirmed_at is not null"
        )
        .await,
        0
    );
    let forged = app.post_form(&format!("{path}x"), &[], false).await;
    assert_eq!(forged.status(), StatusCode::GONE);
    let done = app.post_form(&path, &[], false).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(
        count(
            &pool,
            "select count(*) from subscriptions where confirmed_at is not null"
        )
        .await,
        1
    );
    // Signing up again at a confirmed address says so and sends nothing.
    let again = app
        .post_form("/notifications/subscribe", &form, false)
        .await;
    assert!(again.text().await.unwrap().contains("a•••@example.org"));
    drain(&engine).await;
    assert_eq!(smtp.count(), 2, "the confirmation, then the current status");
}
