use app::state::{AppState, Settings};
use leptos::prelude::LeptosOptions;
use reqwest::StatusCode;
use sqlx::PgPool;

/// A running app on an ephemeral port, with one method per endpoint the tests call.
///
/// It serves from a multi-thread runtime of its own, on its own thread, with its own pool to
/// the test's database — as in production. (`#[sqlx::test]` runs the test on a current-thread
/// runtime.) Dropping it stops the server and closes that pool, so the test's database can be
/// dropped afterwards without waiting for our connections.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestApp {
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, Settings::default()).await
    }

    pub async fn spawn_with(pool: PgPool, settings: Settings) -> Self {
        Self::spawn_full(pool, settings, None).await
    }

    /// With the portal's mail (invitations, reset links) going to an SMTP server on
    /// 127.0.0.1 at `smtp_port`.
    pub async fn spawn_with_mail(pool: PgPool, settings: Settings, smtp_port: u16) -> Self {
        Self::spawn_full(pool, settings, Some(smtp_port)).await
    }

    async fn spawn_full(pool: PgPool, mut settings: Settings, smtp_port: Option<u16>) -> Self {
        let options = (*pool.connect_options()).clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                // As in production: the app's role, bound by row-level security.
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(5)
                    .after_connect(|conn, _| {
                        Box::pin(server::db::prepare_connection(
                            conn,
                            Some("ballot_tracker_app"),
                        ))
                    })
                    .connect_lazy_with(options);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                // Links in messages and the provider's callbacks come back to this server.
                settings.messaging.public_base_url = format!("http://{addr}");
                let leptos_options = LeptosOptions::builder()
                    .output_name("ballot-tracker")
                    .site_addr(addr)
                    .build();
                let mut state = AppState::new(leptos_options, pool.clone(), settings);
                if let Some(port) = smtp_port {
                    let mail = server::notify::email::EmailSender::new(
                        &format!("smtp://127.0.0.1:{port}"),
                        "Ballot Tracker <ballots@example.org>",
                        "localhost",
                        2,
                    )
                    .unwrap();
                    state = state.with_staff_mail(std::sync::Arc::new(mail));
                }
                // As in `serve`: look-ups' rate-limit hits written in batches, the last on the
                // way out.
                let (stop_flusher, flusher_stop) = tokio::sync::watch::channel(false);
                let flusher = app::ratelimit::spawn_flusher(
                    pool.clone(),
                    std::sync::Arc::clone(&state.lookup_hits),
                    flusher_stop,
                );
                let router = server::build_router(state);
                addr_tx.send(addr).unwrap();
                // Graceful shutdown waits for every open request; a request left pending would
                // hold the test (and the run) for ever: it is given ten seconds, then the test
                // fails.
                let (stopping, mut stopped) = tokio::sync::watch::channel(false);
                let serve = axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .with_graceful_shutdown(async move {
                    let _ = stop.await;
                    let _ = stopping.send(true);
                });
                let deadline = async move {
                    let _ = stopped.changed().await;
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                };
                tokio::select! {
                    served = serve => served.unwrap(),
                    () = deadline => {
                        panic!("test server: a request was still open 10 s after shutdown")
                    }
                }
                let _ = stop_flusher.send(true);
                let _ = flusher.await;
                pool.close().await;
            });
        });
        let addr = addr_rx.recv().unwrap();
        // No keep-alive: graceful shutdown then has no idle connection to wait for.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            base: format!("http://{addr}"),
            client,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// Calls a server function the way a form without JavaScript does.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        accept_html: bool,
    ) -> reqwest::Response {
        let mut req = self.client.post(format!("{}{path}", self.base)).form(form);
        if accept_html {
            req = req
                .header("accept", "text/html")
                .header("referer", format!("{}/privacy", self.base));
        }
        req.send().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take()
            && let Err(panic) = thread.join()
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

/// The test database's URL, for the `ballot-tracker` processes a test starts.
pub fn database_url(pool: &PgPool) -> String {
    let options = pool.connect_options();
    format!(
        "postgres://postgres@{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap()
    )
}

// Portal accounts and sessions, for the tests that sign in.

pub const PASSWORD: &str = "a long enough passphrase";

pub async fn account(pool: &PgPool, email: &str, role: &str, county: Option<&str>) -> i64 {
    let hash = app::auth::password::hash(PASSWORD.into()).await.unwrap();
    sqlx::query_scalar(
        "insert into admin_users (email, display_name, password_hash, role, county_fips)
         values ($1, $1, $2, $3, $4) returning id",
    )
    .bind(email)
    .bind(hash)
    .bind(role)
    .bind(county)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The session cookie a response set, as `name=value`.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-bt_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

impl TestApp {
    pub async fn call(
        &self,
        cookie: Option<&str>,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/api/admin/{endpoint}", self.base))
            .form(form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    pub async fn sign_in(&self, email: &str, password: &str, code: &str) -> reqwest::Response {
        self.call(
            None,
            "sign_in",
            &[("email", email), ("password", password), ("code", code)],
        )
        .await
    }

    /// Signs in and returns the session cookie.
    pub async fn session(&self, email: &str) -> String {
        let response = self.sign_in(email, PASSWORD, "").await;
        assert!(response.status().is_success() || response.status() == StatusCode::FOUND);
        session_cookie(&response).expect("a session cookie")
    }
}

/// An election a month away whose ballots have been mailed since five days ago: its id and day.
pub async fn upcoming_election(pool: &PgPool, name: &str) -> (i64, chrono::NaiveDate) {
    sqlx::query_as(
        "insert into elections (state_code, name, election_day, ballots_mailed_from,
           receipt_deadline, cure_deadline, certification_date)
         values ('CA', $1, current_date + 30, current_date - 5, current_date + 37,
                 now() + interval '58 days', current_date + 60)
         returning id, election_day",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap()
}
