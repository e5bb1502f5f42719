//! Texts voters send us: STOP and its synonyms (one confirmation, then silence), START, HELP.
//! Each opt-out and opt-in is written to the consent record as the voter's own act.

use super::{help_reply, start_reply, stop_reply};
use crate::domain::Language;
use sqlx::PgPool;

/// What a text asks for. The provider matches keywords on the whole message, trimmed and in
/// any case; "OPT OUT" is matched with or without its space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    Stop,
    Start,
    Help,
}

pub const STOP_WORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "CANCEL",
];
const START_WORDS: [&str; 3] = ["START", "UNSTOP", "YES"];
const HELP_WORDS: [&str; 2] = ["HELP", "INFO"];

impl Keyword {
    pub fn parse(body: &str) -> Option<(Keyword, String)> {
        let word: String = body
            .trim()
            .trim_end_matches(['.', '!'])
            .split_whitespace()
            .collect::<String>()
            .to_uppercase();
        let kind = if STOP_WORDS.contains(&word.as_str()) {
            Keyword::Stop
        } else if START_WORDS.contains(&word.as_str()) {
            Keyword::Start
        } else if HELP_WORDS.contains(&word.as_str()) {
            Keyword::Help
        } else {
            return None;
        };
        Some((kind, word))
    }
}

/// The consent text version an SMS keyword is recorded against.
pub const KEYWORD_TEXT_VERSION: &str = "sms-keyword-2026-12";

/// Acts on a text from `from` and returns the reply to send, if any.
pub async fn handle_text(
    pool: &PgPool,
    from: &str,
    body: &str,
    help_url: &str,
) -> Result<Option<String>, sqlx::Error> {
    let Some((keyword, word)) = Keyword::parse(body) else {
        return Ok(None);
    };
    let language = sqlx::query_scalar!(
        "select language from subscriptions where channel = 'sms' and address = $1
         order by created_at desc limit 1",
        from
    )
    .fetch_optional(pool)
    .await?
    .and_then(|l| Language::parse(&l).ok())
    .unwrap_or_default();
    match keyword {
        Keyword::Help => Ok(Some(help_reply(language, help_url))),
        Keyword::Stop => stop(pool, from, &word, language).await,
        Keyword::Start => start(pool, from, language).await,
    }
}

async fn stop(
    pool: &PgPool,
    from: &str,
    word: &str,
    language: Language,
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "insert into sms_opt_outs (address, keyword) values ($1, $2) on conflict do nothing",
        from,
        word
    )
    .execute(&mut *tx)
    .await?;
    let cancelled = sqlx::query!(
        r#"update subscriptions set cancelled_at = now(), cancelled_via = 'sms_keyword'
            where channel = 'sms' and address = $1 and cancelled_at is null
        returning id, county_fips"#,
        from
    )
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<i64> = cancelled.iter().map(|s| s.id).collect();
    let counties: Vec<String> = cancelled.iter().map(|s| s.county_fips.clone()).collect();
    record_texted_consents(&mut tx, "opt_out", &ids, &counties, from).await?;
    sqlx::query!(
        "update notifications set state = 'cancelled', last_error = 'the number texted STOP'
          where subscription_id = any($1) and state = 'queued'",
        &ids
    )
    .execute(&mut *tx)
    .await?;
    // The first opt-out since the last opt-in is confirmed once; any later one gets silence.
    let first = sqlx::query_scalar!(
        "update sms_opt_outs set confirmed_at = now()
          where address = $1 and confirmed_at is null returning address",
        from
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(first.map(|_| stop_reply(language)))
}

async fn start(
    pool: &PgPool,
    from: &str,
    language: Language,
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("delete from sms_opt_outs where address = $1", from)
        .execute(&mut *tx)
        .await?;
    // The subscriptions STOP ended come back, as new rows: the old ones keep their history.
    let restored = sqlx::query!(
        r#"insert into subscriptions (voter_id, county_fips, channel, address, language,
                                      window_start, window_end, confirmed_at)
           select distinct on (s.voter_id) s.voter_id, s.county_fips, 'sms', s.address,
                  s.language, s.window_start, s.window_end, now()
           from subscriptions s
           where s.channel = 'sms' and s.address = $1 and s.cancelled_via = 'sms_keyword'
             and not exists (select 1 from subscriptions a
                             where a.voter_id = s.voter_id and a.channel = 'sms'
                               and a.address = s.address and a.cancelled_at is null)
           order by s.voter_id, s.cancelled_at desc
        returning id, county_fips"#,
        from
    )
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<i64> = restored.iter().map(|s| s.id).collect();
    let counties: Vec<String> = restored.iter().map(|s| s.county_fips.clone()).collect();
    record_texted_consents(&mut tx, "opt_in", &ids, &counties, from).await?;
    tx.commit().await?;
    Ok(Some(start_reply(language)))
}

/// One consent row per subscription a keyword changed: the voter's own act, by text.
async fn record_texted_consents(
    tx: &mut sqlx::PgConnection,
    action: &str,
    ids: &[i64],
    counties: &[String],
    from: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into consents (subscription_id, county_fips, action, channel, address,
                                 text_version, method)
           select u.id, u.county_fips, $3, 'sms', $4, $5, 'sms'
           from unnest($1::bigint[], $2::text[]) as u(id, county_fips)"#,
        ids,
        counties,
        action,
        from,
        KEYWORD_TEXT_VERSION
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Ends a subscription from its email's unsubscribe link (or the one-click POST). Returns
/// whether it was active.
pub async fn unsubscribe_by_link(pool: &PgPool, subscription_id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ended = sqlx::query!(
        r#"update subscriptions set cancelled_at = now(), cancelled_via = 'email_link'
            where id = $1 and cancelled_at is null
        returning county_fips, channel, address"#,
        subscription_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(s) = &ended {
        sqlx::query!(
            r#"insert into consents (subscription_id, county_fips, action, channel, address,
                                     text_version, method)
               values ($1, $2, 'opt_out', $3, $4, 'email-unsubscribe-link', 'email')"#,
            subscription_id,
            s.county_fips,
            s.channel,
            s.address
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "update notifications set state = 'cancelled', last_error = 'unsubscribed'
              where subscription_id = $1 and state = 'queued'",
            subscription_id
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(ended.is_some())
}

/// A subscription's language and address, for the pages its links open.
pub async fn subscription_contact(
    pool: &PgPool,
    subscription_id: i64,
) -> Result<Option<(Language, String)>, sqlx::Error> {
    Ok(sqlx::query!(
        "select language, address from subscriptions where id = $1",
        subscription_id
    )
    .fetch_optional(pool)
    .await?
    .map(|s| (Language::parse(&s.language).unwrap_or_default(), s.address)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whole_messages_in_any_case() {
        assert_eq!(Keyword::parse(" stop ").map(|k| k.0), Some(Keyword::Stop));
        assert_eq!(Keyword::parse("Opt Out").map(|k| k.0), Some(Keyword::Stop));
        assert_eq!(Keyword::parse("STOPALL").map(|k| k.0), Some(Keyword::Stop));
        assert_eq!(Keyword::parse("cancel.").map(|k| k.0), Some(Keyword::Stop));
        assert_eq!(Keyword::parse("Start").map(|k| k.0), Some(Keyword::Start));
        assert_eq!(Keyword::parse("help").map(|k| k.0), Some(Keyword::Help));
        assert_eq!(Keyword::parse("please stop texting me"), None);
        assert_eq!(Keyword::parse("thanks"), None);
        for w in STOP_WORDS {
            assert_eq!(Keyword::parse(w).map(|k| k.0), Some(Keyword::Stop), "{w}");
        }
    }
}
