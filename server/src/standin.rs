//! Stand-ins for the providers, on 127.0.0.1: an SMTP server that keeps what it is sent, and an
//! HTTP server speaking the telephony provider's API that keeps the texts and calls it is asked
//! for, fetches each call's script and answers with signed delivery-status callbacks, as the
//! real one does. The tests, `make bench` and `ballot-tracker standins` (for `make run` and the
//! browser tests) use them; nothing they receive leaves the machine.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Connections a stand-in's socket queues before it accepts them. Tokio's default (128) is too
/// few for `make bench`'s hundreds of connections opened at once: the rest sat half-open.
const BACKLOG: u32 = 4096;

/// A listener on 127.0.0.1:`port` (0 for any) with room for [`BACKLOG`] waiting connections.
fn listen(port: u16) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(BACKLOG)
}

/// The largest message the SMTP stand-in takes in chunks (`BDAT`): a size on the command line
/// is not memory to hand out unchecked.
const MAX_MESSAGE: usize = 32 << 20;

/// An email as the SMTP stand-in received it.
#[derive(Clone, Debug, Serialize)]
pub struct Email {
    pub from: String,
    pub to: Vec<String>,
    /// The whole message as sent: headers and body.
    pub data: String,
}

impl Email {
    /// A header's value (unfolded), by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = found.as_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                found = Some(v.trim().to_owned());
            }
        }
        found
    }

    /// The notification id in the Message-ID (`<notification-42@host>`).
    pub fn notification_id(&self) -> Option<i64> {
        let id = self.header("Message-ID")?;
        id.trim_start_matches("<notification-")
            .split('@')
            .next()?
            .parse()
            .ok()
    }
}

/// The SMTP stand-in: accepts every message, keeps it in memory.
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub received: Arc<Mutex<Vec<Email>>>,
    /// Connections accepted so far.
    sessions: Arc<std::sync::atomic::AtomicUsize>,
    /// Messages whose `MAIL FROM` arrived with the commands after it, in one group.
    grouped: Arc<std::sync::atomic::AtomicUsize>,
    /// Messages that came as one `BDAT … LAST` chunk.
    chunked: Arc<std::sync::atomic::AtomicUsize>,
    /// Whether EHLO announces PIPELINING.
    pipelining: bool,
    /// Whether EHLO announces CHUNKING (`BDAT`).
    chunking: bool,
    /// Messages accepted, kept or not.
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    /// Whether messages are kept (`received`), or only counted.
    keep: bool,
}

impl SmtpSink {
    /// Listens on 127.0.0.1:`port` (0 for any) and returns the port.
    pub async fn start(port: u16) -> std::io::Result<(Self, u16)> {
        Self::start_with(port, true, true, true).await
    }

    /// A sink whose EHLO announces neither PIPELINING nor CHUNKING, as some servers' do not.
    pub async fn start_without_pipelining(port: u16) -> std::io::Result<(Self, u16)> {
        Self::start_with(port, false, false, true).await
    }

    /// A sink that pipelines but takes messages only after `DATA`, not in chunks.
    pub async fn start_without_chunking(port: u16) -> std::io::Result<(Self, u16)> {
        Self::start_with(port, true, false, true).await
    }

    /// A sink that reads every message whole and counts it, keeping none: `make bench`'s,
    /// which sends a hundred thousand (kept, they filled a gigabyte of memory in the process
    /// being measured).
    pub async fn start_counting(port: u16) -> std::io::Result<(Self, u16)> {
        Self::start_with(port, true, true, false).await
    }

    async fn start_with(
        port: u16,
        pipelining: bool,
        chunking: bool,
        keep: bool,
    ) -> std::io::Result<(Self, u16)> {
        let listener = listen(port)?;
        let port = listener.local_addr()?.port();
        let sink = Self {
            pipelining,
            chunking,
            keep,
            ..Self::default()
        };
        let kept = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let kept = kept.clone();
                kept.sessions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::spawn(async move {
                    let _ = kept.session(socket).await;
                });
            }
        });
        Ok((sink, port))
    }

    pub fn emails(&self) -> Vec<Email> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Messages accepted (kept or, for a counting sink, not).
    pub fn count(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many connections the sink has accepted.
    pub fn sessions(&self) -> usize {
        self.sessions.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many messages' commands came pipelined: `MAIL FROM` with the next already sent.
    pub fn grouped(&self) -> usize {
        self.grouped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many messages came as one chunk (`BDAT … LAST`) rather than after `DATA`.
    pub fn chunked(&self) -> usize {
        self.chunked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes a whole message: kept, or only counted (its text is not even made).
    fn accept(&self, from: String, to: Vec<String>, data: impl FnOnce() -> String) {
        if self.keep
            && let Ok(mut v) = self.received.lock()
        {
            v.push(Email {
                from,
                to,
                data: data(),
            });
        }
        self.accepted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    async fn session(&self, socket: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, write) = socket.into_split();
        let mut lines = BufReader::new(read);
        // Replies are held while more commands wait in the read buffer and sent together, as
        // a pipelining server does (RFC 2920): a client's group of commands gets one write.
        let mut write = tokio::io::BufWriter::new(write);
        write.write_all(b"220 standin ESMTP\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        // A message's chunks so far (`BDAT`).
        let mut chunks: Vec<u8> = Vec::new();
        let mut line = String::new();
        loop {
            if !lines.buffer().contains(&b'\n') {
                write.flush().await?;
            }
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                match (self.pipelining, self.chunking) {
                    (true, true) => {
                        b"250-standin\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
                    }
                    (true, false) => {
                        b"250-standin\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n"
                    }
                    _ => b"250-standin\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
                }
            } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
                b"250 OK\r\n"
            } else if upper.starts_with("RSET") {
                from.clear();
                to.clear();
                chunks.clear();
                b"250 OK\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                if lines.buffer().contains(&b'\n') {
                    self.grouped
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                from = address(&line[10..]);
                b"250 OK\r\n"
            } else if upper.starts_with("RCPT TO:") {
                // A mailbox the server refuses, for tests of permanent failures.
                let rcpt = address(&line[8..]);
                if rcpt.starts_with("refuse@") {
                    b"550 no such mailbox\r\n"
                } else {
                    to.push(rcpt);
                    b"250 OK\r\n"
                }
            } else if upper.starts_with("DATA") && to.is_empty() {
                b"554 no valid recipients\r\n"
            } else if upper.starts_with("DATA") {
                write.write_all(b"354 go ahead\r\n").await?;
                write.flush().await?;
                // The content up to the line holding a lone dot, as bytes (one UTF-8 check at
                // the end, not one a line).
                let mut raw = Vec::new();
                loop {
                    let start = raw.len();
                    if lines.read_until(b'\n', &mut raw).await? == 0 {
                        return Ok(());
                    }
                    if raw[start..] == *b".\r\n" {
                        raw.truncate(start);
                        break;
                    }
                }
                self.accept(std::mem::take(&mut from), std::mem::take(&mut to), || {
                    unstuff(&String::from_utf8_lossy(&raw))
                });
                b"250 OK queued\r\n"
            } else if self.chunking && upper.starts_with("BDAT ") {
                // `BDAT <octets> [LAST]`: exactly that many octets follow the command line,
                // read whatever the reply (RFC 3030 section 2).
                let mut words = line[5..].split_whitespace();
                let Some(size) = words.next().and_then(|n| n.parse::<usize>().ok()) else {
                    write.write_all(b"501 BDAT needs a size\r\n").await?;
                    write.flush().await?;
                    return Ok(());
                };
                let last = words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
                let start = chunks.len();
                // A message past the bound is refused before anything is allocated for it;
                // its octets cannot be skipped safely, so the session ends.
                if start.saturating_add(size) > MAX_MESSAGE {
                    write.write_all(b"552 message too large\r\n").await?;
                    write.flush().await?;
                    return Ok(());
                }
                chunks.resize(start + size, 0);
                lines.read_exact(&mut chunks[start..]).await?;
                if to.is_empty() {
                    chunks.clear();
                    b"554 no valid recipients\r\n"
                } else if !last {
                    b"250 chunk taken\r\n"
                } else {
                    self.chunked
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.accept(std::mem::take(&mut from), std::mem::take(&mut to), || {
                        String::from_utf8_lossy(&chunks).into_owned()
                    });
                    chunks.clear();
                    b"250 OK queued\r\n"
                }
            } else if upper.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await?;
                return write.flush().await;
            } else {
                b"502 not implemented\r\n"
            };
            write.write_all(reply).await?;
        }
    }
}

/// Undoes dot-stuffing (RFC 5321 4.5.2): a line that begins with a dot was sent with one more.
fn unstuff(data: &str) -> String {
    let data = data.strip_prefix('.').unwrap_or(data);
    data.replace("\r\n..", "\r\n.")
}

fn address(rest: &str) -> String {
    rest.trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A text or call the telephony stand-in was asked for.
#[derive(Clone, Debug, Serialize)]
pub struct Request {
    pub sid: String,
    /// "sms" or "voice".
    pub kind: &'static str,
    pub to: String,
    pub from: String,
    /// The text's body, or the call's script as our server served it.
    pub body: String,
    pub status_callback: String,
}

impl Request {
    /// The notification id in the status-callback URL (`…/status/42`).
    pub fn notification_id(&self) -> Option<i64> {
        self.status_callback.rsplit('/').next()?.parse().ok()
    }
}

/// The telephony stand-in's settings and what it has been asked for.
#[derive(Clone)]
pub struct TelephonyStandin {
    pub account_sid: String,
    pub auth_token: String,
    /// The `Authorization` header a request with the account's credentials carries, made once.
    authorization: Arc<str>,
    pub received: Arc<Mutex<Vec<Request>>>,
    /// Callbacks the stand-in makes (none when false: a bench measures only our sending).
    pub callbacks: bool,
    /// An SMTP stand-in whose emails `GET /emails` lists (for the browser tests).
    pub emails: Option<SmtpSink>,
    http: reqwest::Client,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl TelephonyStandin {
    pub async fn start(
        port: u16,
        account_sid: &str,
        auth_token: &str,
        callbacks: bool,
        emails: Option<SmtpSink>,
    ) -> std::io::Result<(Self, u16)> {
        let listener = listen(port)?;
        let port = listener.local_addr()?.port();
        use base64::Engine;
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{account_sid}:{auth_token}"));
        let standin = Self {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            authorization: format!("Basic {credentials}").into(),
            received: Arc::default(),
            callbacks,
            emails,
            http: reqwest::Client::new(),
            next: Arc::default(),
        };
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                post(create_message),
            )
            .route("/2010-04-01/Accounts/{sid}/Calls.json", post(create_call))
            .route("/received", get(list_received))
            .route("/emails", get(list_emails))
            .with_state(standin.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((standin, port))
    }

    pub fn requests(&self) -> Vec<Request> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.received.lock().map(|v| v.len()).unwrap_or_default()
    }

    /// POSTs `params` to `url` signed as the provider signs (`X-Twilio-Signature`).
    pub async fn signed_post(
        &self,
        url: &str,
        params: &[(String, String)],
    ) -> reqwest::Result<reqwest::Response> {
        let signature = app::messages::links::telephony_signature(&self.auth_token, url, params);
        self.http
            .post(url)
            .header("X-Twilio-Signature", signature)
            .form(params)
            .send()
            .await
    }

    fn authorized(&self, sid: &str, headers: &HeaderMap) -> bool {
        sid == self.account_sid
            && headers
                .get(axum::http::header::AUTHORIZATION)
                .is_some_and(|v| v.as_bytes() == self.authorization.as_bytes())
    }

    fn sid(&self, prefix: &str) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{prefix}{n:032x}")
    }

    fn keep(&self, request: Request) {
        if let Ok(mut v) = self.received.lock() {
            v.push(request);
        }
    }
}

/// A create request's form, as the provider reads it (absent fields are empty).
#[derive(serde::Deserialize)]
struct Form {
    #[serde(rename = "To", default)]
    to: String,
    #[serde(rename = "From", default)]
    from: String,
    #[serde(rename = "Body", default)]
    body: String,
    #[serde(rename = "Url", default)]
    url: String,
    #[serde(rename = "StatusCallback", default)]
    status_callback: String,
}

/// The credentials checked on the request's headers (borrowed, not copied), then its form read.
async fn authorized_form(
    s: &TelephonyStandin,
    sid: &str,
    request: axum::extract::Request,
) -> Result<Form, Response> {
    use axum::extract::FromRequest;
    if !s.authorized(sid, request.headers()) {
        return Err(refused(StatusCode::UNAUTHORIZED, 20003, "Authenticate"));
    }
    match axum::Form::<Form>::from_request(request, &()).await {
        Ok(axum::Form(form)) => Ok(form),
        Err(e) => Err(refused(StatusCode::BAD_REQUEST, 21100, &e.body_text())),
    }
}

/// The provider's answer to a create: the new resource's id (letters and digits), as JSON.
fn created(sid: &str) -> Response {
    (
        StatusCode::CREATED,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"sid":"{sid}","status":"queued"}}"#),
    )
        .into_response()
}

fn refused(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        axum::Json(
            serde_json::json!({ "code": code, "message": message, "status": status.as_u16() }),
        ),
    )
        .into_response()
}

async fn create_message(
    State(s): State<TelephonyStandin>,
    Path(sid): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let form = match authorized_form(&s, &sid, request).await {
        Ok(form) => form,
        Err(refusal) => return refusal,
    };
    let to = form.to;
    // Numbers under +1999 stand for ones the carrier rejects.
    if !to.starts_with('+') || to.starts_with("+1999") {
        return refused(
            StatusCode::BAD_REQUEST,
            21211,
            "The 'To' number is not a valid phone number.",
        );
    }
    let message_sid = s.sid("SM");
    let callback = form.status_callback;
    s.keep(Request {
        sid: message_sid.clone(),
        kind: "sms",
        to,
        from: form.from,
        body: form.body,
        status_callback: callback.clone(),
    });
    if s.callbacks && !callback.is_empty() {
        let (s, message_sid) = (s.clone(), message_sid.clone());
        tokio::spawn(async move {
            let params = vec![
                ("MessageSid".to_owned(), message_sid),
                ("MessageStatus".to_owned(), "delivered".to_owned()),
            ];
            let _ = s.signed_post(&callback, &params).await;
        });
    }
    created(&message_sid)
}

async fn create_call(
    State(s): State<TelephonyStandin>,
    Path(sid): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let form = match authorized_form(&s, &sid, request).await {
        Ok(form) => form,
        Err(refusal) => return refusal,
    };
    let call_sid = s.sid("CA");
    let (to, from, url, callback) = (form.to, form.from, form.url, form.status_callback);
    let answer = {
        let (s, call_sid) = (s.clone(), call_sid.clone());
        async move {
            // The call is answered: fetch its script, then report it completed.
            let params = vec![
                ("CallSid".to_owned(), call_sid.clone()),
                ("To".to_owned(), to.clone()),
                ("From".to_owned(), from.clone()),
            ];
            let script = match s.signed_post(&url, &params).await {
                Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
                Ok(r) => format!("(script request answered {})", r.status()),
                Err(e) => format!("(script request failed: {e})"),
            };
            s.keep(Request {
                sid: call_sid.clone(),
                kind: "voice",
                to,
                from,
                body: script,
                status_callback: callback.clone(),
            });
            if s.callbacks && !callback.is_empty() {
                let params = vec![
                    ("CallSid".to_owned(), call_sid),
                    ("CallStatus".to_owned(), "completed".to_owned()),
                ];
                let _ = s.signed_post(&callback, &params).await;
            }
        }
    };
    tokio::spawn(answer);
    created(&call_sid)
}

async fn list_received(State(s): State<TelephonyStandin>) -> Response {
    axum::Json(s.requests()).into_response()
}

async fn list_emails(State(s): State<TelephonyStandin>) -> Response {
    axum::Json(s.emails.map(|e| e.emails()).unwrap_or_default()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk whose size passes the bound is refused before anything is allocated for it.
    #[tokio::test]
    async fn an_oversized_chunk_is_refused() {
        let (sink, port) = SmtpSink::start(0).await.unwrap();
        let mut client = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        client
            .write_all(
                b"EHLO t\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n\
                  BDAT 99999999999 LAST\r\n",
            )
            .await
            .unwrap();
        let mut replies = String::new();
        client.read_to_string(&mut replies).await.unwrap();
        assert!(replies.ends_with("552 message too large\r\n"), "{replies}");
        assert_eq!(sink.count(), 0);
    }
}
