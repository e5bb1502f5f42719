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
            // The provider's API answers where it is asked; a redirect is not followed: a 307 or
            // 308 would carry the form (the voter's number, the message) to whatever address it
            // names (reqwest drops the credentials only when the host or port changes).
            .redirect(reqwest::redirect::Policy::none())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standin::TelephonyStandin;
    use secrecy::SecretString;

    fn config(base_url: String, token: &str) -> Telephony {
        Telephony {
            base_url,
            account_sid: "ACtest".into(),
            auth_token: SecretString::from(token.to_owned()),
            sms_from: "+15555550100".into(),
            voice_from: "+15555550101".into(),
        }
    }

    /// The stand-in keeps what the account's credentials send, and refuses other credentials
    /// (the provider's 401, which is for trying again once the configuration is mended).
    #[tokio::test]
    async fn a_text_reaches_the_provider_with_the_accounts_credentials_only() {
        let (phone, port) = TelephonyStandin::start(0, "ACtest", "right", false, None)
            .await
            .unwrap();
        let base = format!("http://127.0.0.1:{port}/");
        let wrong = TelephonySender::new(config(base.clone(), "wrong"), 1).unwrap();
        let refused = wrong
            .send_sms("+15551234567", "Hello", "http://x/s/1")
            .await;
        assert!(
            matches!(&refused, Outcome::Retry { error } if error.contains("401")),
            "{refused:?}"
        );
        assert_eq!(phone.count(), 0);

        let right = TelephonySender::new(config(base, "right"), 1).unwrap();
        let sent = right
            .send_sms("+15551234567", "Your ballot & you", "http://x/s/7")
            .await;
        let Outcome::Sent { provider_id } = sent else {
            panic!("{sent:?}")
        };
        let got = phone.requests();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].sid, provider_id);
        assert_eq!(
            (
                got[0].to.as_str(),
                got[0].from.as_str(),
                got[0].body.as_str()
            ),
            ("+15551234567", "+15555550100", "Your ballot & you")
        );
        assert_eq!(got[0].notification_id(), Some(7));
    }

    /// An answer that sends the request elsewhere is not followed: the voter's number and the
    /// message go to the provider that was configured and nowhere else. "Elsewhere" counts
    /// every request it gets.
    #[tokio::test]
    async fn a_redirect_from_the_provider_is_not_followed() {
        async fn serve(app: axum::Router) -> u16 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move { axum::serve(listener, app).await });
            port
        }
        let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&reached);
        let elsewhere = serve(axum::Router::new().fallback(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { (axum::http::StatusCode::CREATED, r#"{"sid":"SMx"}"#) }
        }))
        .await;
        let to = format!("http://127.0.0.1:{elsewhere}/2010-04-01/Accounts/ACtest/Messages.json");
        let redirecting = serve(axum::Router::new().fallback(move || {
            let to = to.clone();
            async move { axum::response::Redirect::temporary(&to) }
        }))
        .await;
        let sender = TelephonySender::new(
            config(format!("http://127.0.0.1:{redirecting}"), "right"),
            1,
        )
        .unwrap();
        let outcome = sender
            .send_sms("+15551234567", "Hello", "http://x/s/1")
            .await;
        assert!(
            matches!(&outcome, Outcome::Retry { error } if error.contains("307")),
            "{outcome:?}"
        );
        assert_eq!(
            reached.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "the redirect was followed"
        );
    }
}
