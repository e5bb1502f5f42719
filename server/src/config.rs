//! Typed configuration, from environment variables only (`.env.example` documents each one).
//! Leptos reads its own `LEPTOS_*` variables.

use app::ratelimit::{LOOKUP_PER_CLIENT, LOOKUP_PER_IDENTITY, Limit};
use app::state::Settings;
use secrecy::{ExposeSecret, SecretString};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, for development.
    Pretty,
    /// One JSON object per line, for production log collectors.
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: SecretString,
    pub database_max_connections: u32,
    /// The role the serving app acts as (`SET ROLE`), bound by row-level security; `None`
    /// when `DATABASE_ROLE` is empty (then the login itself must not own the tables).
    pub database_role: Option<String>,
    pub migrate_on_start: bool,
    pub log_format: LogFormat,
    /// Look-up limits, per minute, and the proxies whose `X-Forwarded-For` is believed.
    pub settings: Settings,
    /// The delivery engine: providers, workers, limits.
    pub notify: NotifyConfig,
}

/// How notifications leave: SMTP for email, a Twilio-shaped REST API for SMS and voice.
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    /// `smtp://host:port` (plain, for a relay on the same network), `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtps://host:465`, with `user:password@` when the server wants them. `None`:
    /// email stays queued.
    pub smtp_url: Option<SecretString>,
    pub email_from: String,
    /// `None`: SMS and voice stay queued.
    pub telephony: Option<Telephony>,
    /// Workers each `serve` process runs (`ballot-tracker worker` runs them alone).
    pub workers: usize,
    /// Messages one worker claims at a time, per channel.
    pub batch: i64,
    /// Sends one worker has in flight at once.
    pub concurrency: usize,
    /// Tries before a message is dead.
    pub max_attempts: i32,
    /// How long a claim holds before another worker may take the message (its worker died).
    pub claim_lease: std::time::Duration,
    /// Provider limits, messages (or calls) a second across all workers; 0 is no limit.
    pub email_per_second: i32,
    pub sms_per_second: i32,
    pub voice_per_second: i32,
}

#[derive(Clone, Debug)]
pub struct Telephony {
    /// `https://api.twilio.com` or a provider speaking the same API.
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: SecretString,
    /// The number (E.164) or messaging service texts come from, and the number calls come from.
    pub sms_from: String,
    pub voice_from: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set")]
    Missing { name: &'static str },
    #[error("{name} has an invalid value: {reason}")]
    Invalid { name: &'static str, reason: String },
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/ballot_tracker";

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup`, so tests can configure without touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let database_url = lookup("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "must be a postgres:// URL".into(),
            });
        }
        let production = lookup("APP_ENV").is_some_and(|v| v == "production");
        let log_format = match lookup("LOG_FORMAT").as_deref() {
            None | Some("") => {
                if production {
                    LogFormat::Json
                } else {
                    LogFormat::Pretty
                }
            }
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "LOG_FORMAT",
                    reason: format!("expected json or pretty, got {other:?}"),
                });
            }
        };
        let per_minute = |name: &'static str, limit: Limit| -> Result<Limit, ConfigError> {
            let max: i32 = parse_or(&lookup, name, limit.max)?;
            if max < 1 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                });
            }
            Ok(Limit { max, ..limit })
        };
        let trusted_proxies =
            app::client::parse_trusted_proxies(&lookup("TRUSTED_PROXIES").unwrap_or_default())
                .map_err(|reason| ConfigError::Invalid {
                    name: "TRUSTED_PROXIES",
                    reason,
                })?;
        let notify = notify_config(&lookup)?;
        let public_base_url = lookup("PUBLIC_BASE_URL")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "http://127.0.0.1:3000".into())
            .trim_end_matches('/')
            .to_owned();
        if !public_base_url.starts_with("https://") && !public_base_url.starts_with("http://") {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_BASE_URL",
                reason: "must be an http:// or https:// URL".into(),
            });
        }
        let link_key = match lookup("LINK_SIGNING_KEY").filter(|v| !v.is_empty()) {
            Some(k) if k.len() >= 32 => k,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "LINK_SIGNING_KEY",
                    reason: "must be at least 32 characters".into(),
                });
            }
            None if production => {
                return Err(ConfigError::Missing {
                    name: "LINK_SIGNING_KEY",
                });
            }
            None => app::messages::links::DEVELOPMENT_LINK_KEY.to_owned(),
        };
        let messaging = app::state::Messaging {
            public_base_url,
            link_key: app::messages::links::LinkKey::new(&link_key),
            telephony_auth_token: notify
                .telephony
                .as_ref()
                .map(|t| app::state::RedactedToken(t.auth_token.expose_secret().to_owned())),
        };
        Ok(Config {
            notify,
            database_url: SecretString::from(database_url),
            database_max_connections: parse_or(&lookup, "DATABASE_MAX_CONNECTIONS", 10)?,
            database_role: database_role(lookup("DATABASE_ROLE"))?,
            migrate_on_start: parse_or(&lookup, "MIGRATE_ON_START", true)?,
            log_format,
            settings: Settings {
                lookup_per_client: per_minute("LOOKUP_LIMIT_PER_CLIENT", LOOKUP_PER_CLIENT)?,
                lookup_per_identity: per_minute("LOOKUP_LIMIT_PER_IDENTITY", LOOKUP_PER_IDENTITY)?,
                trusted_proxies,
                sign_in_per_client: app::ratelimit::SIGN_IN_PER_CLIENT,
                sign_in_per_account: app::ratelimit::SIGN_IN_PER_ACCOUNT,
                password_hash_concurrency: parse_or(
                    &lookup,
                    "PASSWORD_HASH_CONCURRENCY",
                    app::state::default_hash_concurrency(),
                )?,
                messaging,
                export_inline_rows: parse_or(
                    &lookup,
                    "EXPORT_INLINE_ROWS",
                    app::admin::reports_view::DEFAULT_INLINE_ROWS,
                )?,
                announcement_approval_threshold: parse_or(
                    &lookup,
                    "ANNOUNCEMENT_APPROVAL_THRESHOLD",
                    app::admin::announcements::DEFAULT_APPROVAL_THRESHOLD,
                )?,
            },
        })
    }
}

fn notify_config(lookup: &impl Fn(&str) -> Option<String>) -> Result<NotifyConfig, ConfigError> {
    let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let smtp_url = match set("SMTP_URL") {
        Some(u) if u.starts_with("smtp://") || u.starts_with("smtps://") => {
            Some(SecretString::from(u))
        }
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: "SMTP_URL",
                reason: "must be an smtp:// or smtps:// URL".into(),
            });
        }
        None => None,
    };
    let telephony = match set("TELEPHONY_BASE_URL") {
        None => None,
        Some(base_url) => {
            let need = |name: &'static str| set(name).ok_or(ConfigError::Missing { name });
            Some(Telephony {
                base_url: base_url.trim_end_matches('/').to_owned(),
                account_sid: need("TELEPHONY_ACCOUNT_SID")?,
                auth_token: SecretString::from(need("TELEPHONY_AUTH_TOKEN")?),
                sms_from: need("SMS_FROM")?,
                voice_from: set("VOICE_FROM").map_or_else(|| need("SMS_FROM"), Ok)?,
            })
        }
    };
    let at_least = |name: &'static str, min: i64, value: i64| {
        if value < min {
            Err(ConfigError::Invalid {
                name,
                reason: format!("must be at least {min}"),
            })
        } else {
            Ok(value)
        }
    };
    let per_second = |name: &'static str, default: i32| -> Result<i32, ConfigError> {
        let v: i32 = parse_or(lookup, name, default)?;
        at_least(name, 0, v.into())?;
        Ok(v)
    };
    let batch: i64 = parse_or(lookup, "NOTIFY_BATCH", 500)?;
    let concurrency: usize = parse_or(lookup, "NOTIFY_CONCURRENCY", 64)?;
    let max_attempts: i32 = parse_or(lookup, "NOTIFY_MAX_ATTEMPTS", 8)?;
    Ok(NotifyConfig {
        smtp_url,
        email_from: set("EMAIL_FROM")
            .unwrap_or_else(|| "Ballot Tracker <ballots@localhost>".into()),
        telephony,
        workers: parse_or(lookup, "NOTIFY_WORKERS", 1)?,
        batch: at_least("NOTIFY_BATCH", 1, batch)?,
        concurrency: usize::try_from(at_least(
            "NOTIFY_CONCURRENCY",
            1,
            i64::try_from(concurrency).unwrap_or(i64::MAX),
        )?)
        .unwrap_or(1),
        max_attempts: i32::try_from(at_least("NOTIFY_MAX_ATTEMPTS", 1, max_attempts.into())?)
            .unwrap_or(1),
        claim_lease: std::time::Duration::from_secs(
            u64::try_from(at_least(
                "NOTIFY_CLAIM_LEASE_SECONDS",
                1,
                parse_or(
                    lookup,
                    "NOTIFY_CLAIM_LEASE_SECONDS",
                    app::messages::outbox::DEFAULT_CLAIM_LEASE.as_secs(),
                )?
                .try_into()
                .unwrap_or(i64::MAX),
            )?)
            .unwrap_or(app::messages::outbox::DEFAULT_CLAIM_LEASE.as_secs()),
        ),
        email_per_second: per_second("EMAIL_PER_SECOND", 0)?,
        sms_per_second: per_second("SMS_PER_SECOND", 30)?,
        voice_per_second: per_second("VOICE_PER_SECOND", 5)?,
    })
}

pub const DEFAULT_DATABASE_ROLE: &str = "ballot_tracker_app";

fn database_role(raw: Option<String>) -> Result<Option<String>, ConfigError> {
    let role = raw.unwrap_or_else(|| DEFAULT_DATABASE_ROLE.to_owned());
    if role.is_empty() {
        return Ok(None);
    }
    let plain = role.len() <= 63
        && role.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !plain {
        return Err(ConfigError::Invalid {
            name: "DATABASE_ROLE",
            reason: "lower-case letters, digits and underscores only".into(),
        });
    }
    Ok(Some(role))
}

fn parse_or<T: FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match lookup(name) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => v.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_suit_development() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert_eq!(c.database_max_connections, 10);
        assert_eq!(c.database_role.as_deref(), Some(DEFAULT_DATABASE_ROLE));
        assert_eq!(
            config(&[("DATABASE_ROLE", "")]).unwrap().database_role,
            None
        );
        assert!(c.migrate_on_start);
        assert_eq!(c.log_format, LogFormat::Pretty);
    }

    #[test]
    fn production_logs_json() {
        let production = [
            ("APP_ENV", "production"),
            ("LINK_SIGNING_KEY", "0123456789abcdef0123456789abcdef"),
        ];
        assert_eq!(config(&production).unwrap().log_format, LogFormat::Json);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("DATABASE_MAX_CONNECTIONS", "many")]).unwrap_err();
        assert!(err.to_string().starts_with("DATABASE_MAX_CONNECTIONS"));
        assert!(config(&[("DATABASE_URL", "mysql://x")]).is_err());
        assert!(config(&[("LOG_FORMAT", "xml")]).is_err());
        assert!(config(&[("DATABASE_ROLE", "app; drop table voters")]).is_err());
    }

    #[test]
    fn limits_and_proxies_are_configurable() {
        let c = config(&[
            ("LOOKUP_LIMIT_PER_CLIENT", "500"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
        ])
        .unwrap();
        assert_eq!(c.settings.lookup_per_client.max, 500);
        assert_eq!(c.settings.lookup_per_identity.max, 20);
        assert_eq!(c.settings.trusted_proxies.len(), 2);
        assert!(config(&[("LOOKUP_LIMIT_PER_IDENTITY", "0")]).is_err());
        let err = config(&[("TRUSTED_PROXIES", "lb.internal")]).unwrap_err();
        assert!(err.to_string().starts_with("TRUSTED_PROXIES"));
    }

    #[test]
    fn providers_are_optional_but_complete() {
        let c = config(&[]).unwrap();
        assert!(c.notify.smtp_url.is_none() && c.notify.telephony.is_none());
        let err = config(&[("TELEPHONY_BASE_URL", "http://127.0.0.1:9")]).unwrap_err();
        assert!(
            err.to_string().starts_with("TELEPHONY_ACCOUNT_SID"),
            "{err}"
        );
        let c = config(&[
            ("TELEPHONY_BASE_URL", "http://127.0.0.1:9/"),
            ("TELEPHONY_ACCOUNT_SID", "AC1"),
            ("TELEPHONY_AUTH_TOKEN", "secret-token"),
            ("SMS_FROM", "+15555550100"),
            ("SMTP_URL", "smtp://127.0.0.1:2525"),
        ])
        .unwrap();
        let t = c.notify.telephony.as_ref().unwrap();
        assert_eq!(t.base_url, "http://127.0.0.1:9");
        assert_eq!(t.voice_from, "+15555550100");
        assert!(!format!("{c:?}").contains("secret-token"));
        assert!(config(&[("SMTP_URL", "http://mail")]).is_err());
        assert!(config(&[("NOTIFY_BATCH", "0")]).is_err());
        assert!(config(&[("SMS_PER_SECOND", "-1")]).is_err());
    }

    #[test]
    fn production_needs_a_link_signing_key() {
        let err = config(&[("APP_ENV", "production")]).unwrap_err();
        assert!(err.to_string().starts_with("LINK_SIGNING_KEY"), "{err}");
        assert!(config(&[("LINK_SIGNING_KEY", "short")]).is_err());
        let c = config(&[
            ("APP_ENV", "production"),
            ("LINK_SIGNING_KEY", "0123456789abcdef0123456789abcdef"),
            ("PUBLIC_BASE_URL", "https://ballots.example.gov/"),
        ])
        .unwrap();
        assert_eq!(
            c.settings.messaging.public_base_url,
            "https://ballots.example.gov"
        );
    }

    #[test]
    fn the_database_url_does_not_print() {
        let c = config(&[("DATABASE_URL", "postgres://u:hunter2@db/x")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
