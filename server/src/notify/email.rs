//! Email over SMTP (lettre on pooled connections of ours, [`super::smtp`]): HTML with a
//! plain-text alternative, the voter's language, and RFC 8058 one-click unsubscribe headers.

use app::messages::Rendered;
use app::messages::outbox::Outcome;
use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use std::time::Duration;

use super::smtp::{SendError, SmtpPool};

pub struct EmailSender {
    smtp: SmtpPool,
    from: Mailbox,
    /// The domain in Message-IDs (`<notification-42@ballots.example.gov>`).
    id_domain: String,
    /// The most one send may take, from taking a connection to the server's answer to the
    /// message (see [`SEND_TIMEOUT`]).
    send_timeout: Duration,
}

/// lettre's timeout covers opening a connection only, not the commands on it: a server that
/// stops answering (or a connection it never accepted, left half-open) held a send — and with
/// it its worker and the worker's claim transaction — for ever. The bench hung so with 512
/// SMTP connections to the stand-in. A send past this bound is retried later like any
/// temporary failure; the connection it held is closed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// What one email needs besides its rendered text.
pub struct Envelope<'a> {
    pub notification_id: i64,
    pub to: &'a str,
    pub language: &'a str,
    pub unsubscribe_url: &'a str,
}

impl EmailSender {
    pub fn new(
        smtp_url: &str,
        from: &str,
        id_domain: &str,
        connections: usize,
    ) -> anyhow::Result<Self> {
        let smtp = SmtpPool::from_url(smtp_url, Duration::from_secs(15), connections)?;
        Ok(Self {
            smtp,
            from: from
                .parse()
                .map_err(|e| anyhow::anyhow!("EMAIL_FROM: {e}"))?,
            id_domain: id_domain.to_owned(),
            send_timeout: SEND_TIMEOUT,
        })
    }

    /// The same sender with another bound on one send (tests use a short one).
    #[must_use]
    pub fn with_send_timeout(self, send_timeout: Duration) -> Self {
        Self {
            send_timeout,
            ..self
        }
    }

    /// One send through the pool, given up after `send_timeout` (the outer error).
    async fn send_bounded(
        &self,
        email: &Message,
    ) -> Result<Result<lettre::transport::smtp::response::Response, SendError>, String> {
        let formatted = email.formatted();
        tokio::time::timeout(
            self.send_timeout,
            self.smtp.send(email.envelope(), &formatted),
        )
        .await
        .map_err(|_| {
            format!(
                "SMTP: no answer within {} s",
                self.send_timeout.as_secs_f64()
            )
        })
    }

    pub async fn send(&self, envelope: &Envelope<'_>, message: Rendered) -> Outcome {
        let to: Mailbox = match envelope.to.parse() {
            Ok(to) => to,
            Err(e) => {
                return Outcome::Failed {
                    error: format!("the address does not parse: {e}"),
                };
            }
        };
        let body = match message.html {
            Some(html) => MultiPart::alternative_plain_html(message.text, html),
            None => MultiPart::mixed().singlepart(lettre::message::SinglePart::plain(message.text)),
        };
        let built = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject)
            .message_id(Some(format!(
                "<notification-{}@{}>",
                envelope.notification_id, self.id_domain
            )))
            .header(ContentLanguage(envelope.language.to_owned()))
            .header(ListUnsubscribe(format!("<{}>", envelope.unsubscribe_url)))
            .header(ListUnsubscribePost)
            .multipart(body);
        let email = match built {
            Ok(email) => email,
            Err(e) => {
                return Outcome::Failed {
                    error: format!("the message could not be built: {e}"),
                };
            }
        };
        let sent = match self.send_bounded(&email).await {
            Ok(sent) => sent,
            Err(error) => return Outcome::Retry { error },
        };
        match sent {
            Ok(_) => Outcome::Sent {
                provider_id: format!(
                    "<notification-{}@{}>",
                    envelope.notification_id, self.id_domain
                ),
            },
            Err(e) if e.is_permanent() => Outcome::Failed {
                error: format!("SMTP refused it: {e}"),
            },
            Err(e) => Outcome::Retry {
                error: format!("SMTP: {e}"),
            },
        }
    }
}

/// The sender for `SMTP_URL`, if one is set. Message-IDs carry the site's host.
pub fn sender(
    config: &crate::config::NotifyConfig,
    messaging: &app::state::Messaging,
    connections: usize,
) -> anyhow::Result<Option<EmailSender>> {
    use secrecy::ExposeSecret;
    let Some(url) = &config.smtp_url else {
        return Ok(None);
    };
    let host = messaging
        .public_base_url
        .split("://")
        .nth(1)
        .unwrap_or("localhost")
        .split(['/', ':'])
        .next()
        .unwrap_or("localhost");
    EmailSender::new(url.expose_secret(), &config.email_from, host, connections).map(Some)
}

/// The portal's mail (invitations, reset links), when `SMTP_URL` is set.
pub fn staff_mail(
    config: &crate::config::NotifyConfig,
    messaging: &app::state::Messaging,
) -> anyhow::Result<Option<std::sync::Arc<dyn app::state::StaffMail>>> {
    Ok(sender(config, messaging, 2)?
        .map(|s| std::sync::Arc::new(s) as std::sync::Arc<dyn app::state::StaffMail>))
}

/// Mail to portal accounts: plain text, no unsubscribe (it is the account's own business).
#[async_trait::async_trait]
impl app::state::StaffMail for EmailSender {
    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), String> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("the address does not parse: {e}"))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(text.to_owned())
            .map_err(|e| format!("the message could not be built: {e}"))?;
        self.send_bounded(&email)
            .await?
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }
}

/// `List-Unsubscribe: <https://…/unsubscribe/…>` (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): the mail client may POST to
/// the link to unsubscribe without showing a page.
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// `Content-Language: es` (RFC 3282): the voter's language, for screen readers and filters.
#[derive(Clone)]
struct ContentLanguage(String);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that takes the connection and never says a word: the send ends, as a retry,
    /// instead of holding its worker for ever.
    #[tokio::test]
    async fn a_silent_server_is_a_retry_not_a_hang() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let sender = EmailSender::new(
            &format!("smtp://127.0.0.1:{port}"),
            "Ballot Tracker <ballots@example.org>",
            "example.org",
            2,
        )
        .unwrap()
        .with_send_timeout(Duration::from_millis(500));
        let message = Rendered {
            subject: "Your ballot".into(),
            text: "It was received.".into(),
            html: None,
        };
        let envelope = Envelope {
            notification_id: 1,
            to: "voter@example.org",
            language: "en",
            unsubscribe_url: "http://127.0.0.1/unsubscribe/x",
        };
        let started = std::time::Instant::now();
        let outcome =
            tokio::time::timeout(Duration::from_secs(10), sender.send(&envelope, message))
                .await
                .expect("the send came back");
        assert!(
            matches!(&outcome, Outcome::Retry { error } if error.contains("no answer")),
            "{outcome:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        silent.abort();
    }
}
