//! SMTP connections, kept open between messages: lettre speaks the protocol on sockets we open
//! ourselves, with Nagle's algorithm off.
//!
//! lettre's own pool (0.11.23, the latest release) opens its sockets with Nagle on. It writes
//! a message's body, then the closing `\r\n.\r\n` as a second small write, which the kernel
//! holds until the server acknowledges the body — and a server delays that acknowledgement by
//! 40 ms (Linux's minimum), waiting for a reply to carry it that cannot come before the
//! closing dot. Every email paid 40 ms on every connection, to the stand-in and to a real
//! relay alike (lettre's pull request 1159, merged upstream, not yet released). Here sockets
//! are opened with `TCP_NODELAY`; lettre's `AsyncSmtpConnection` does the rest (greeting,
//! STARTTLS or implicit TLS, authentication, the message).
//!
//! Where the server offers PIPELINING (RFC 2920), a message's `MAIL`, `RCPT` and `DATA` go in
//! one write and their replies are read together: two round trips a message instead of four
//! (lettre's `send` waits for each reply before the next command).
//!
//! A connection used within the last [`FRESH`] goes straight to the next message; one idle
//! longer is tested with `NOOP` first (the server may have closed it). A connection whose send
//! failed, on the wire or by the server's refusal, or timed out (the send future is dropped
//! with it), is not reused.

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
// `AsyncNetworkStream` is deprecated as "not meant to be made public", but it is lettre's only
// way to put TLS on a socket opened elsewhere (implicit TLS, `smtps://`); lettre is pinned.
#[allow(deprecated)]
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

/// How long an idle connection is trusted without a `NOOP`.
pub const FRESH: Duration = Duration::from_secs(5);
/// Idle connections are closed after this long (servers drop them at about 5 minutes): taken,
/// or found at the front of the idle queue when another is put back.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// How the session is protected, as `SMTP_URL` says (the forms lettre's `from_url` reads).
enum Security {
    /// `smtp://host` (port 25): plain, for a relay on the same network.
    Plain,
    /// `smtp://host?tls=required` or `?tls=opportunistic` (port 587): STARTTLS.
    StartTls {
        required: bool,
        params: TlsParameters,
    },
    /// `smtps://host` (port 465): TLS from the first byte.
    Implicit(TlsParameters),
}

/// Why a send did not go through.
#[derive(Debug)]
pub enum SendError {
    /// The server's answer, or lettre meeting a broken session.
    Smtp(lettre::transport::smtp::Error),
    /// No session: the connection could not be opened or protected as `SMTP_URL` asks.
    Connect(String),
}

impl SendError {
    /// A refusal the server says is final (5xx): retrying will not help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Smtp(e) if e.is_permanent())
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(e) => e.fmt(f),
            Self::Connect(why) => f.write_str(why),
        }
    }
}

impl From<lettre::transport::smtp::Error> for SendError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        Self::Smtp(e)
    }
}

/// A pool of SMTP connections to one server.
pub struct SmtpPool {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    connect_timeout: Duration,
    /// Connections between messages, with when each was last used.
    /// Most recently used at the back, where messages take them; longest idle at the front.
    idle: Mutex<VecDeque<(Session, Instant)>>,
    max_idle: usize,
}

/// `SMTP_URL`'s errors never include the URL: it may carry a password.
fn bad_url(why: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("SMTP_URL: {why}")
}

impl SmtpPool {
    /// Reads `SMTP_URL`: `smtp://` or `smtps://`, `user:password@` (percent-encoded), a port,
    /// `?tls=required|opportunistic`, and a path naming the EHLO host.
    pub fn from_url(url: &str, connect_timeout: Duration, max_idle: usize) -> anyhow::Result<Self> {
        let url = url::Url::parse(url).map_err(bad_url)?;
        let host = url
            .host_str()
            .ok_or_else(|| bad_url("no host"))?
            .trim_matches(['[', ']'])
            .to_owned();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let params = || TlsParameters::new(host.clone()).map_err(bad_url);
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some(mode @ ("required" | "opportunistic"))) => (
                Security::StartTls {
                    required: mode == "required",
                    params: params()?,
                },
                587,
            ),
            ("smtps", _) => (Security::Implicit(params()?), 465),
            (scheme, tls) => {
                return Err(bad_url(format!(
                    "use smtp:// (with ?tls=required or ?tls=opportunistic for STARTTLS) or \
                     smtps://, not {scheme}:// with tls={tls:?}"
                )));
            }
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(bad_url)
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let path = url.path().trim_matches('/');
        let hello = if path.is_empty() {
            ClientId::default()
        } else {
            ClientId::Domain(path.to_owned())
        };
        Ok(Self {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            hello,
            connect_timeout,
            idle: Mutex::new(VecDeque::new()),
            max_idle: max_idle.max(1),
        })
    }

    /// Sends one message on a pooled connection, or a new one.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<Response, SendError> {
        let mut session = match self.take().await {
            Some(session) => session,
            None => self.connect().await?,
        };
        let sent = session.send(envelope, message).await;
        // After a refusal, a pipelined group's later replies may still be unread.
        if sent.is_ok() && !session.conn.has_broken() {
            self.put_back(session);
        }
        Ok(sent?)
    }

    /// An idle connection that still answers, if there is one.
    async fn take(&self) -> Option<Session> {
        loop {
            let (mut session, last_used) = self.idle.lock().ok()?.pop_back()?;
            let idle = last_used.elapsed();
            if idle < FRESH || (idle < IDLE_LIMIT && session.conn.test_connected().await) {
                return Some(session);
            }
            session.conn.abort().await;
        }
    }

    /// Returns a connection for the next message; the longest idle, at the front, are closed
    /// (dropped) on the way once past [`IDLE_LIMIT`].
    fn put_back(&self, session: Session) {
        if let Ok(mut idle) = self.idle.lock() {
            while idle
                .front()
                .is_some_and(|(_, last_used)| last_used.elapsed() >= IDLE_LIMIT)
            {
                idle.pop_front();
            }
            if idle.len() < self.max_idle {
                idle.push_back((session, Instant::now()));
            }
        }
    }

    /// A new session: TCP with Nagle off, TLS as configured, EHLO, and AUTH when there are
    /// credentials.
    async fn connect(&self) -> Result<Session, SendError> {
        let tcp = tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| {
            SendError::Connect(format!(
                "no connection within {} s",
                self.connect_timeout.as_secs_f64()
            ))
        })?
        .map_err(|e| SendError::Connect(format!("connecting: {e}")))?;
        tcp.set_nodelay(true)
            .map_err(|e| SendError::Connect(format!("TCP_NODELAY: {e}")))?;
        let mut conn = match &self.security {
            Security::Plain => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?
            }
            Security::StartTls { required, params } => {
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?;
                if conn.can_starttls() {
                    conn.starttls(params.clone(), &self.hello).await?;
                } else if *required {
                    conn.abort().await;
                    return Err(SendError::Connect(
                        "the server does not offer STARTTLS, which SMTP_URL requires".into(),
                    ));
                }
                conn
            }
            Security::Implicit(params) => {
                #[allow(deprecated)]
                let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                stream.upgrade_tls(params.clone()).await?;
                AsyncSmtpConnection::connect_with_transport(
                    Box::new(TlsFirst(stream.compat())),
                    &self.hello,
                )
                .await?
            }
        };
        // lettre keeps only the extensions it uses from its EHLO, so ask again (RFC 5321
        // allows it; it is the greeting of the session as protected) to learn of PIPELINING
        // and CHUNKING.
        let hello = conn.command(Ehlo::new(self.hello.clone())).await?;
        let offers = |extension: &str| {
            hello.message().skip(1).any(|line| {
                line.split_whitespace()
                    .next()
                    .is_some_and(|keyword| keyword.eq_ignore_ascii_case(extension))
            })
        };
        let pipelining = offers("PIPELINING");
        let chunking = pipelining && offers("CHUNKING");
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(Session {
            conn,
            pipelining,
            chunking,
        })
    }
}

/// An SMTP session, and whether its server pipelines and takes chunks (`BDAT`).
struct Session {
    conn: AsyncSmtpConnection,
    pipelining: bool,
    /// Only with `pipelining`: a message goes whole in its group.
    chunking: bool,
}

impl Session {
    /// Sends one message: lettre's `send`, or where the server pipelines, its commands in one
    /// group — and where it also takes chunks, the message itself in that group, as one
    /// `BDAT … LAST` (RFC 3030): one write and one round trip a message. Anything lettre would
    /// refuse before sending (an address or body the server cannot take) goes through
    /// lettre's `send` for its error.
    async fn send(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Response, lettre::transport::smtp::Error> {
        let info = self.conn.server_info();
        let utf8_addresses = !(envelope
            .from()
            .is_none_or(|a| AsRef::<str>::as_ref(a).is_ascii())
            && envelope
                .to()
                .iter()
                .all(|a| AsRef::<str>::as_ref(a).is_ascii()));
        let eight_bit = !message.is_ascii();
        if !self.pipelining
            || (utf8_addresses && !info.supports_feature(Extension::SmtpUtfEight))
            || (eight_bit && !info.supports_feature(Extension::EightBitMime))
        {
            return self.conn.send(envelope, message).await;
        }
        let mut parameters = Vec::new();
        if utf8_addresses {
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if eight_bit {
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let text = std::str::from_utf8(message).ok();
        let chunk = text.filter(|_| self.chunking);
        let group = Group {
            mail: Mail::new(envelope.from().cloned(), parameters),
            recipients: envelope
                .to()
                .iter()
                .map(|to| Rcpt::new(to.clone(), Vec::new()))
                .collect(),
            chunk,
        };
        // The reply to MAIL, then one to each RCPT, then BDAT's (the message's) or DATA's 354;
        // a refusal ends the session (its later replies are left unread).
        self.conn.command(group).await?;
        for _ in envelope.to() {
            self.conn.read_response().await?;
        }
        if chunk.is_some() {
            return self.conn.read_response().await;
        }
        self.conn.read_response().await?;
        // The content and its closing dot in one write (lettre's `message` writes the dot on
        // its own: one more packet and wake-up a message).
        match text {
            Some(text) => self.conn.command(Content(text)).await,
            None => self.conn.message(message).await,
        }
    }
}

/// A message's content as sent after `DATA`: each line that begins with a dot gets another
/// (RFC 5321 4.5.2, as lettre's codec does it), then the line holding a lone dot.
struct Content<'a>(&'a str);

impl std::fmt::Display for Content<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, line) in self.0.split("\r\n").enumerate() {
            if n > 0 {
                f.write_str("\r\n")?;
            }
            if line.starts_with('.') {
                f.write_str(".")?;
            }
            f.write_str(line)?;
        }
        f.write_str("\r\n.\r\n")
    }
}

/// A message's commands written at once (RFC 2920): up to `DATA`, or with the message itself
/// as one chunk (`BDAT <octets> LAST`, RFC 3030), which needs no dot-stuffing and no closing
/// dot.
struct Group<'a> {
    mail: Mail,
    recipients: Vec<Rcpt>,
    chunk: Option<&'a str>,
}

impl std::fmt::Display for Group<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.mail)?;
        for rcpt in &self.recipients {
            write!(f, "{rcpt}")?;
        }
        match self.chunk {
            Some(message) => write!(f, "BDAT {} LAST\r\n{message}", message.len()),
            None => write!(f, "{Data}"),
        }
    }
}

/// An implicit-TLS stream (already encrypted) handed to lettre as a plain one.
#[allow(deprecated)]
#[derive(Debug)]
struct TlsFirst(Compat<AsyncNetworkStream>);

#[allow(deprecated)]
impl AsyncTokioStream for TlsFirst {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().peer_addr()
    }
}

impl tokio::io::AsyncRead for TlsFirst {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsFirst {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standin::SmtpSink;

    fn pool(url: &str) -> SmtpPool {
        SmtpPool::from_url(url, Duration::from_secs(5), 4).unwrap()
    }

    #[test]
    fn smtp_url_forms_read_as_lettre_reads_them() {
        let plain = pool("smtp://relay.example");
        assert_eq!((plain.host.as_str(), plain.port), ("relay.example", 25));
        assert!(matches!(plain.security, Security::Plain));
        assert!(plain.credentials.is_none());

        let submission = pool("smtp://ballots%40county.gov:p%2Fss@relay.example?tls=required");
        assert_eq!(submission.port, 587);
        assert!(matches!(
            submission.security,
            Security::StartTls { required: true, .. }
        ));
        assert_eq!(
            submission.credentials,
            Some(Credentials::new("ballots@county.gov".into(), "p/ss".into()))
        );
        let opportunistic = pool("smtp://relay.example:2525/mail.county.gov?tls=opportunistic");
        assert_eq!(opportunistic.port, 2525);
        assert!(matches!(
            opportunistic.security,
            Security::StartTls {
                required: false,
                ..
            }
        ));
        assert_eq!(
            opportunistic.hello,
            ClientId::Domain("mail.county.gov".into())
        );
        assert!(matches!(
            pool("smtps://relay.example").security,
            Security::Implicit(_)
        ));
        assert_eq!(pool("smtps://relay.example").port, 465);
        // As lettre: `smtps://` is TLS from the first byte whatever `tls=` says.
        assert!(matches!(
            pool("smtps://relay.example?tls=required").security,
            Security::Implicit(_)
        ));
    }

    #[test]
    fn a_bad_smtp_url_is_refused_without_its_password() {
        for url in [
            "http://user:hunter2@relay.example",
            "smtp://user:hunter2@relay.example?tls=sometimes",
            "smtp://user:hunter2@",
        ] {
            let e = SmtpPool::from_url(url, Duration::from_secs(5), 1)
                .err()
                .unwrap()
                .to_string();
            assert!(e.starts_with("SMTP_URL: "), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    fn envelope(to: &str) -> Envelope {
        Envelope::new(
            Some("ballots@county.gov".parse().unwrap()),
            vec![to.parse().unwrap()],
        )
        .unwrap()
    }

    /// Messages one after another go down one session: the pool keeps it between them.
    #[tokio::test]
    async fn messages_share_a_session() {
        let (sink, port) = SmtpSink::start(0).await.unwrap();
        let pool = pool(&format!("smtp://127.0.0.1:{port}"));
        for n in 0..3 {
            let body = format!("Subject: {n}\r\n\r\nMessage {n}\r\n");
            pool.send(&envelope(&format!("voter{n}@example.org")), body.as_bytes())
                .await
                .unwrap();
        }
        assert_eq!(sink.count(), 3);
        assert_eq!(sink.sessions(), 1);
        assert_eq!(sink.emails()[2].to, vec!["voter2@example.org".to_owned()]);
        // The server pipelines and takes chunks: each message came whole in one group, its
        // MAIL, RCPT and `BDAT … LAST` with the message.
        assert_eq!(sink.grouped(), 3);
        assert_eq!(sink.chunked(), 3);
    }

    /// A stand-in that pipelines and takes chunks, or only messages after `DATA`, and a pool
    /// sending to it.
    async fn sink_and_pool(chunking: bool) -> (SmtpSink, SmtpPool) {
        let (sink, port) = if chunking {
            SmtpSink::start(0).await.unwrap()
        } else {
            SmtpSink::start_without_chunking(0).await.unwrap()
        };
        (sink, pool(&format!("smtp://127.0.0.1:{port}")))
    }

    /// Lines that begin with a dot arrive as they were written: after `DATA` the content is
    /// dot-stuffed, and the lone dot that ends it is not mistaken for one; a chunk is taken
    /// octet for octet.
    #[tokio::test]
    async fn lines_that_begin_with_a_dot_arrive_whole() {
        let body = ".first\r\n\r\n.\r\n..two dots\r\nlast.\r\n.";
        for chunking in [true, false] {
            let (sink, pool) = sink_and_pool(chunking).await;
            pool.send(&envelope("voter@example.org"), body.as_bytes())
                .await
                .unwrap();
            // `DATA`'s closing line break belongs to the content (RFC 5321 4.1.1.4).
            let expected = if chunking {
                body.to_owned()
            } else {
                format!("{body}\r\n")
            };
            assert_eq!(sink.emails()[0].data, expected);
            assert_eq!(sink.grouped(), 1);
            assert_eq!(sink.chunked(), usize::from(chunking));
        }
        assert_eq!(
            Content(".a\r\nb\r\n.").to_string(),
            "..a\r\nb\r\n..\r\n.\r\n"
        );
    }

    /// A server that does not announce PIPELINING gets one command at a time, and a message
    /// with a non-ASCII body (8BITMIME) goes through either way.
    #[tokio::test]
    async fn commands_wait_for_replies_unless_the_server_pipelines() {
        for pipelining in [false, true] {
            let (sink, port) = if pipelining {
                SmtpSink::start(0).await.unwrap()
            } else {
                SmtpSink::start_without_pipelining(0).await.unwrap()
            };
            let pool = pool(&format!("smtp://127.0.0.1:{port}"));
            for to in ["votante@example.org", "cử.tri@example.org"] {
                pool.send(
                    &envelope(to),
                    "Subject: Boleta\r\n\r\nSu boleta llegó.\r\n".as_bytes(),
                )
                .await
                .unwrap();
            }
            assert_eq!(sink.count(), 2);
            assert_eq!(sink.grouped(), if pipelining { 2 } else { 0 });
            assert_eq!(sink.chunked(), if pipelining { 2 } else { 0 });
            assert!(sink.emails()[1].data.contains("llegó"));
            assert_eq!(sink.emails()[1].to, vec!["cử.tri@example.org".to_owned()]);
            assert_eq!(sink.sessions(), 1);
        }
    }

    /// A refused recipient in a pipelined group fails that message, permanently, and the
    /// session it left with unread replies is not reused: the next message goes through.
    #[tokio::test]
    async fn a_refused_recipient_fails_its_message_alone() {
        for chunking in [true, false] {
            let (sink, pool) = sink_and_pool(chunking).await;
            let e = pool
                .send(&envelope("refuse@example.org"), b"Subject: x\r\n\r\nx\r\n")
                .await
                .unwrap_err();
            assert!(e.is_permanent(), "{e}");
            pool.send(&envelope("voter@example.org"), b"Subject: y\r\n\r\ny\r\n")
                .await
                .unwrap();
            assert_eq!(sink.count(), 1);
            assert_eq!(sink.emails()[0].to, vec!["voter@example.org".to_owned()]);
            // After `DATA`, lettre's way: a line break before the closing dot, whatever the
            // content ends with.
            let data = if chunking {
                "Subject: y\r\n\r\ny\r\n"
            } else {
                "Subject: y\r\n\r\ny\r\n\r\n"
            };
            assert_eq!(sink.emails()[0].data, data);
            assert_eq!(sink.sessions(), 2);
        }
    }

    /// `?tls=required` against a server without STARTTLS: nothing is sent in the clear, and
    /// the failure is temporary (the server may be fixed).
    #[tokio::test]
    async fn required_tls_is_never_skipped() {
        let (sink, port) = SmtpSink::start(0).await.unwrap();
        let pool = pool(&format!("smtp://127.0.0.1:{port}?tls=required"));
        let e = pool
            .send(&envelope("voter@example.org"), b"Subject: x\r\n\r\nx\r\n")
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::Connect(_)), "{e}");
        assert!(!e.is_permanent());
        assert_eq!(sink.count(), 0);
    }
}
