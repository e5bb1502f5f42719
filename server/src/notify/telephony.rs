//! SMS and voice through a Twilio-shaped REST API: `POST {base}/2010-04-01/Accounts/{sid}/
//! Messages.json` and `…/Calls.json`, form-encoded, with HTTP basic auth. The provider calls
//! back (signed) with delivery states, and fetches each call's script (TwiML) from us.

use crate::config::Telephony;
use app::messages::outbox::Outcome;
use secrecy::ExposeSecret;
use std::time::Duration;

pub struct TelephonySender {
    http: reqwest::Client,
    config: Telephony,
    /// The two resources' addresses and the credentials' header, made once: parsing the
    /// address again for every send was 2.85% of the sending process's CPU in the benchmark
    /// (docs/benchmarks.md, the fifth machine's profile).
    messages_url: reqwest::Url,
    calls_url: reqwest::Url,
    authorization: reqwest::header::HeaderValue,
}

#[derive(serde::Deserialize)]
struct Created {
    sid: String,
}

#[derive(serde::Deserialize, Default)]
struct ProviderError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

impl TelephonySender {
    pub fn new(config: Telephony, connections: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(connections)
            .build()?;
        let resource = |name: &str| {
            reqwest::Url::parse(&format!(
                "{}/2010-04-01/Accounts/{}/{name}",
                config.base_url.trim_end_matches('/'),
                config.account_sid
            ))
        };
        let (messages_url, calls_url) = (resource("Messages.json")?, resource("Calls.json")?);
        use base64::Engine as _;
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            config.account_sid,
            config.auth_token.expose_secret()
        ));
        let mut authorization =
            reqwest::header::HeaderValue::from_str(&format!("Basic {credentials}"))?;
        authorization.set_sensitive(true);
        Ok(Self {
            http,
            config,
            messages_url,
            calls_url,
            authorization,
        })
    }

    pub async fn send_sms(&self, to: &str, body: &str, status_callback: &str) -> Outcome {
        let form = [
            ("To", to),
            ("From", self.config.sms_from.as_str()),
            ("Body", body),
            ("StatusCallback", status_callback),
        ];
        self.create(&self.messages_url, &form).await
    }

    pub async fn place_call(&self, to: &str, script_url: &str, status_callback: &str) -> Outcome {
        let form = [
            ("To", to),
            ("From", self.config.voice_from.as_str()),
            ("Url", script_url),
            ("Method", "POST"),
            ("StatusCallback", status_callback),
            ("StatusCallbackMethod", "POST"),
        ];
        self.create(&self.calls_url, &form).await
    }

    async fn create(&self, url: &reqwest::Url, form: &[(&str, &str)]) -> Outcome {
        let response = match self
            .http
            .post(url.clone())
            .header(reqwest::header::AUTHORIZATION, self.authorization.clone())
            .form(form)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Retry {
                    error: format!("telephony provider unreachable: {e}"),
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            return match response.json::<Created>().await {
                Ok(c) => Outcome::Sent { provider_id: c.sid },
                // Taken, but the answer was garbled: retrying could send it twice. Record it
                // as sent without an id; no callback will match it.
                Err(e) => Outcome::Sent {
                    provider_id: format!("unknown ({e})"),
                },
            };
        }
        let detail = response.json::<ProviderError>().await.unwrap_or_default();
        let error = format!(
            "provider answered {}{}{}",
            status.as_u16(),
            detail
                .code
                .map(|c| format!(", code {c}"))
                .unwrap_or_default(),
            detail.message.map(|m| format!(": {m}")).unwrap_or_default()
        );
        // The message itself is refused (a bad number, a blocked one): trying again cannot
        // help. Anything else — our credentials, the provider's limits or its outage — can be
        // fixed, so the message waits and tries again.
        if matches!(status.as_u16(), 400 | 404 | 422) {
            Outcome::Failed { error }
        } else {
            Outcome::Retry { error }
        }
    }
}
