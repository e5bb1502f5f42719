//! Typed configuration, from environment variables only (`.env.example` documents each one).
//! Leptos reads its own `LEPTOS_*` variables.

use app::ratelimit::{LOOKUP_PER_CLIENT, LOOKUP_PER_IDENTITY, Limit};
use app::state::Settings;
use secrecy::SecretString;
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
        Ok(Config {
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
            },
        })
    }
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
        assert_eq!(
            config(&[("APP_ENV", "production")]).unwrap().log_format,
            LogFormat::Json
        );
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
    fn the_database_url_does_not_print() {
        let c = config(&[("DATABASE_URL", "postgres://u:hunter2@db/x")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
