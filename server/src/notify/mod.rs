//! The delivery engine. Workers — in every `serve` process (`NOTIFY_WORKERS`) and in any number
//! of `ballot-tracker worker` processes on any machines — claim due messages from the outbox
//! (`app::messages::outbox`), render them in the voter's language, send them through the
//! channel's provider, and record the outcome: sent, retried with backoff, failed, dead after
//! `NOTIFY_MAX_ATTEMPTS`, deferred to the voter's contact window, or cancelled.

pub mod email;
pub mod hooks;
pub mod signup;
pub mod smtp;
pub mod telephony;

use crate::config::NotifyConfig;
use app::domain::{BallotStatus, NotCountedReason};
use app::messages::announcements;
use app::messages::outbox::{self, Claimed, Outcome};
use app::messages::{Channel, Rendered, Sender, StatusFacts};
use app::state::Messaging;
use email::{EmailSender, Envelope};
use futures::StreamExt;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use telephony::TelephonySender;

/// What every worker of a process shares: providers' clients and connection pools.
pub struct Engine {
    pool: PgPool,
    config: NotifyConfig,
    messaging: Messaging,
    email: Option<EmailSender>,
    telephony: Option<TelephonySender>,
}

impl Engine {
    pub fn new(pool: PgPool, config: NotifyConfig, messaging: Messaging) -> anyhow::Result<Self> {
        // The connection pools serve every worker of the process, each with `concurrency`
        // sends in flight: sized for one worker, they closed and reopened connections all day.
        let in_flight = config.concurrency.saturating_mul(config.workers.max(1));
        let email = email::sender(&config, &messaging, in_flight)?;
        let telephony = match &config.telephony {
            Some(t) => Some(TelephonySender::new(t.clone(), in_flight)?),
            None => None,
        };
        Ok(Self {
            pool,
            config,
            messaging,
            email,
            telephony,
        })
    }

    /// The channels this process can send on; the others' messages wait in the outbox.
    pub fn channels(&self) -> Vec<Channel> {
        let mut c = Vec::new();
        if self.email.is_some() {
            c.push(Channel::Email);
        }
        if self.telephony.is_some() {
            c.extend([Channel::Sms, Channel::Voice]);
        }
        c
    }

    fn per_second(&self, channel: Channel) -> i32 {
        match channel {
            Channel::Email => self.config.email_per_second,
            Channel::Sms => self.config.sms_per_second,
            Channel::Voice => self.config.voice_per_second,
        }
    }

    /// One pass over the channels: claim, send, record. Returns how many messages it handled.
    pub async fn tick(&self, worker: &str) -> Result<usize, sqlx::Error> {
        let mut handled = 0;
        for channel in self.channels() {
            handled += self.tick_one(worker, channel).await?;
        }
        Ok(handled)
    }

    /// One batch of one channel: claim (within the provider's limit), send, record.
    pub async fn tick_one(&self, worker: &str, channel: Channel) -> Result<usize, sqlx::Error> {
        let limit = self.per_second(channel);
        let wanted = self.config.batch;
        let granted = if limit > 0 {
            outbox::take_slots(&self.pool, channel, wanted, limit).await?
        } else {
            wanted
        };
        if granted == 0 {
            return Ok(0);
        }
        let mut claim = outbox::claim(&self.pool, channel, granted).await?;
        let claimed = std::mem::take(&mut claim.messages);
        if limit > 0 {
            let unused = granted - i64::try_from(claimed.len()).unwrap_or(granted);
            outbox::give_back_slots(&self.pool, channel, unused).await?;
        }
        if claimed.is_empty() {
            return Ok(0);
        }
        let handled = claimed.len();
        let opted_out = if channel == Channel::Sms {
            let addresses: Vec<String> = claimed.iter().map(|c| c.address.clone()).collect();
            outbox::opted_out(&self.pool, &addresses).await?
        } else {
            HashSet::new()
        };
        // Texts and calls about the same event in the same county read the same: render each
        // once per batch (a mailing's batch is one message a thousand times).
        let rendered: std::sync::Mutex<HashMap<String, Arc<Rendered>>> = Default::default();
        let outcomes: Vec<(i64, i32, Outcome)> = futures::stream::iter(claimed)
            .map(|c| {
                let (opted_out, rendered) = (&opted_out, &rendered);
                async move {
                    let outcome = self.deliver(&c, opted_out, rendered).await;
                    (c.id, c.attempts, outcome)
                }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        for (_, _, o) in &outcomes {
            if let Outcome::Retry { error } | Outcome::Failed { error } = o {
                // The provider's words only: never the address or the message.
                tracing::warn!(worker, channel = channel.code(), error = %error, "a send did not go through");
            }
        }
        claim.finish(&outcomes, self.config.max_attempts).await?;
        Ok(handled)
    }

    async fn deliver(
        &self,
        c: &Claimed,
        opted_out: &HashSet<String>,
        cache: &std::sync::Mutex<HashMap<String, Arc<Rendered>>>,
    ) -> Outcome {
        if !c.subscription_active {
            return Outcome::Cancelled {
                why: "the subscription was cancelled".into(),
            };
        }
        if opted_out.contains(&c.address) {
            return Outcome::Cancelled {
                why: "the number texted STOP".into(),
            };
        }
        // A later message about the same ballot says what is true now: this one is not sent.
        if c.superseded {
            return Outcome::Superseded;
        }
        let tz: chrono_tz::Tz = c
            .time_zone
            .parse()
            .unwrap_or(chrono_tz::America::Los_Angeles);
        // A confirmation code is sent while the voter waits for it, whatever the hour.
        if c.channel != Channel::Email
            && c.kind != "confirmation"
            && let Some(until) =
                outbox::outside_window(chrono::Utc::now(), tz, c.window_start, c.window_end)
        {
            return Outcome::Deferred { until };
        }
        let base = &self.messaging.public_base_url;
        // Only emails carry a link to unsubscribe (a text's answer STOP ends its subscription;
        // a call carries no link): texts and calls do not pay for the link's signature.
        let unsubscribe_url = if c.channel == Channel::Email {
            format!(
                "{base}{}",
                self.messaging.link_key.unsubscribe_path(c.subscription_id)
            )
        } else {
            String::new()
        };
        // A confirmation carries its own secret: rendered for each message. Others are
        // rendered once per batch for each distinct wording, with a placeholder where an
        // email's link to unsubscribe goes; each email's copy gets its subscription's link.
        let key = (c.kind != "confirmation").then(|| {
            format!(
                "{}|{:?}|{}|{}|{:?}|{:?}|{}|{:?}|{:?}",
                c.kind,
                c.announcement.as_ref().map(|a| a.id),
                c.channel.code(),
                c.language.code(),
                c.status,
                c.reason,
                c.county_name,
                c.expected_delivery,
                c.cure_deadline
            )
        });
        let cached = key
            .as_ref()
            .and_then(|k| cache.lock().ok().and_then(|m| m.get(k).cloned()));
        let shared = key.is_some();
        let link = if shared {
            UNSUBSCRIBE_PLACEHOLDER
        } else {
            unsubscribe_url.as_str()
        };
        let rendered = match cached {
            Some(r) => r,
            None => match render_claimed(c, tz, &self.messaging, link) {
                Ok(r) => {
                    let r = Arc::new(r);
                    if let (Some(k), Ok(mut m)) = (key, cache.lock()) {
                        m.insert(k, Arc::clone(&r));
                    }
                    r
                }
                Err(error) => return Outcome::Failed { error },
            },
        };
        let callback = || format!("{base}/hooks/telephony/status/{}", c.id);
        match (c.channel, &self.email, &self.telephony) {
            (Channel::Email, Some(email), _) => {
                let envelope = Envelope {
                    notification_id: c.id,
                    to: &c.address,
                    language: c.language.code(),
                    unsubscribe_url: &unsubscribe_url,
                };
                // The email's own copy: from the shared rendering with its link put in, not a
                // clone of it.
                let own = if shared {
                    with_link(&rendered, &unsubscribe_url)
                } else {
                    Arc::unwrap_or_clone(rendered)
                };
                email.send(&envelope, own).await
            }
            (Channel::Sms, _, Some(t)) => t.send_sms(&c.address, &rendered.text, &callback()).await,
            (Channel::Voice, _, Some(t)) => {
                let script = format!("{base}/hooks/telephony/voice/{}", c.id);
                t.place_call(&c.address, &script, &callback()).await
            }
            _ => Outcome::Retry {
                error: "no provider for this channel in this process".into(),
            },
        }
    }

    /// Runs one worker until `stop` says so.
    pub async fn run(
        self: Arc<Self>,
        worker: String,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut last_recovery = Instant::now() - Duration::from_secs(60);
        let mut failures = 0u32;
        tracing::info!(worker = %worker, channels = ?self.channels(), "delivery worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            if last_recovery.elapsed() >= Duration::from_secs(10) {
                last_recovery = Instant::now();
                match outbox::recover_stuck(&self.pool, self.config.claim_lease).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(recovered = n, "put back claims of a stopped worker"),
                    Err(e) => tracing::warn!(error = %e, "recovering stuck claims failed"),
                }
            }
            let pause = match self.tick(&worker).await {
                Ok(n) if n > 0 => {
                    failures = 0;
                    Duration::ZERO
                }
                Ok(_) => Duration::from_millis(250),
                Err(e) => {
                    failures = (failures + 1).min(6);
                    tracing::warn!(error = %e, "delivery pass failed");
                    Duration::from_millis(250 << failures)
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!(worker = %worker, "delivery worker stopped");
    }
}

/// Stands for an email's link to unsubscribe in a rendering shared by a batch's messages:
/// letters and digits, which the templates' escaping leaves as they are.
const UNSUBSCRIBE_PLACEHOLDER: &str = "unsubscribe0link0c7f3e9a41d2";

/// An email's copy of a shared rendering, with its subscription's link to unsubscribe (as the
/// templates insert it: as is in the text, escaped in the HTML's attribute).
fn with_link(shared: &Rendered, unsubscribe_url: &str) -> Rendered {
    Rendered {
        subject: shared.subject.clone(),
        text: shared
            .text
            .replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe_url),
        html: shared.html.as_ref().map(|html| {
            html.replace(
                UNSUBSCRIBE_PLACEHOLDER,
                &app::messages::attr_escape(unsubscribe_url),
            )
        }),
    }
}

/// A claimed message rendered for its channel: status messages, sign-up confirmations and
/// announcements.
pub fn render_claimed(
    c: &Claimed,
    tz: chrono_tz::Tz,
    messaging: &Messaging,
    unsubscribe_url: &str,
) -> Result<Rendered, String> {
    match c.kind.as_str() {
        "status" | "current_status" => {
            let status = c
                .status
                .as_deref()
                .and_then(|s| BallotStatus::parse(s).ok())
                .ok_or_else(|| "the message's ballot event is gone".to_owned())?;
            let reason = c
                .reason
                .as_deref()
                .and_then(|r| NotCountedReason::parse(r).ok());
            let cure = c
                .cure_deadline
                .map(|d| d.with_timezone(&tz).naive_local())
                .unwrap_or_default();
            let today = chrono::Utc::now().with_timezone(&tz).date_naive();
            let facts = StatusFacts {
                status,
                reason,
                cure_deadline: cure,
                cure_days_left: (cure.date() - today).num_days(),
                expected_delivery: c.expected_delivery,
            };
            app::messages::status_message(c.channel, &sender(c, messaging, unsubscribe_url), &facts)
                .map_err(|e| e.to_string())
        }
        "announcement" => {
            let a = c
                .announcement
                .as_ref()
                .ok_or_else(|| "the announcement's text is gone".to_owned())?;
            let text = announcements::Text {
                language: c.language,
                subject: a.subject.clone(),
                body: a.body.clone(),
            };
            let filling = announcements::Filling {
                county_name: c.county_name.clone(),
                date: a.event_date,
                place: a.place.clone().unwrap_or_default(),
            };
            announcements::render(
                c.channel,
                &sender(c, messaging, unsubscribe_url),
                &text,
                &filling,
            )
            .map_err(|e| e.to_string())
        }
        "confirmation" => {
            let secret = c
                .payload
                .as_ref()
                .and_then(|p| p.get("secret"))
                .and_then(|s| s.as_str())
                .ok_or_else(|| "the confirmation's secret is gone".to_owned())?;
            let what = match c.channel {
                Channel::Email => format!(
                    "{}/confirm/{}/{secret}",
                    messaging.public_base_url, c.subscription_id
                ),
                Channel::Sms | Channel::Voice => secret.to_owned(),
            };
            app::messages::confirmation_message(c.channel, c.language, &what)
                .map_err(|e| e.to_string())
        }
        other => Err(format!("no template for messages of kind {other}")),
    }
}

/// Who a message to a voter is from, and where its links go.
fn sender(c: &Claimed, messaging: &Messaging, unsubscribe_url: &str) -> Sender {
    Sender {
        language: c.language,
        county_name: c.county_name.clone(),
        contact: [&c.county_phone, &c.county_email, &c.county_website]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        status_url: format!("{}/ballot", messaging.public_base_url),
        unsubscribe_url: unsubscribe_url.to_owned(),
    }
}

/// A worker's name in the claims it makes: the host, the process and the worker's number.
pub fn worker_name(n: usize) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!("{host}:{}:{n}", std::process::id())
}

/// Starts `count` workers on `engine`; they stop when `stop` turns true.
pub fn spawn_workers(
    engine: Arc<Engine>,
    count: usize,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|n| tokio::spawn(Arc::clone(&engine).run(worker_name(n), stop.clone())))
        .collect()
}
