//! Links in messages that act without a sign-in (unsubscribe), signed so that nobody can make
//! one for another voter's subscription; and the telephony provider's request signatures.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};

/// The secret behind signed links (`LINK_SIGNING_KEY`). Every instance must share it.
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(…)")
    }
}

/// The development key: fine on a laptop, refused in production by the configuration.
pub const DEVELOPMENT_LINK_KEY: &str = "development only: set LINK_SIGNING_KEY in production";

impl LinkKey {
    pub fn new(secret: &str) -> Self {
        Self(secret.as_bytes().to_vec())
    }

    fn mac(&self, purpose: &str, id: i64) -> String {
        // Any key length is valid for HMAC, so this cannot fail.
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(id.to_string().as_bytes());
        // 128 bits are plenty against guessing, and keep the link short.
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
    }

    /// `/unsubscribe/<subscription>/<mac>`.
    pub fn unsubscribe_path(&self, subscription_id: i64) -> String {
        format!(
            "/unsubscribe/{subscription_id}/{}",
            self.mac("unsubscribe", subscription_id)
        )
    }

    pub fn verify_unsubscribe(&self, subscription_id: i64, mac: &str) -> bool {
        constant_time_eq(
            self.mac("unsubscribe", subscription_id).as_bytes(),
            mac.as_bytes(),
        )
    }

    /// Proof of a look-up, for the status page's notification forms: `<voter>.<expiry>.<mac>`,
    /// good for [`VOTER_TOKEN_MINUTES`]. It names an internal id only, never a person.
    pub fn voter_token(&self, voter_id: i64, now: chrono::DateTime<chrono::Utc>) -> String {
        let expires = now.timestamp() + VOTER_TOKEN_MINUTES * 60;
        format!(
            "{voter_id}.{expires}.{}",
            self.mac(&format!("voter-token:{expires}"), voter_id)
        )
    }

    /// The voter a token proves, when it is genuine and not expired.
    pub fn verify_voter_token(
        &self,
        token: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<i64> {
        let mut parts = token.splitn(3, '.');
        let voter_id: i64 = parts.next()?.parse().ok()?;
        let expires: i64 = parts.next()?.parse().ok()?;
        let mac = parts.next()?;
        let genuine = constant_time_eq(
            self.mac(&format!("voter-token:{expires}"), voter_id)
                .as_bytes(),
            mac.as_bytes(),
        );
        (genuine && now.timestamp() <= expires).then_some(voter_id)
    }

    /// What is kept of a confirmation link's secret or a code: its HMAC, never the secret.
    pub fn secret_hash(&self, secret: &str) -> String {
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(b"confirmation:");
        mac.update(secret.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// A confirmation link's secret: 128 random bits.
    pub fn new_link_secret(&self) -> String {
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
    }

    /// A six-digit code to text or say.
    pub fn new_code(&self) -> String {
        format!("{:06}", rand::random_range(0..1_000_000u32))
    }
}

/// How long the status page's notification forms work after a look-up.
pub const VOTER_TOKEN_MINUTES: i64 = 60;

/// A Twilio-shaped request signature (`X-Twilio-Signature`): Base64 of HMAC-SHA1, keyed with the
/// account's auth token, over the full URL the provider called followed by each POST parameter's
/// name and value, sorted by name.
pub fn telephony_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

pub fn verify_telephony_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    constant_time_eq(
        telephony_signature(auth_token, url, params).as_bytes(),
        signature.as_bytes(),
    )
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsubscribe_links_verify_for_their_subscription_only() {
        let key = LinkKey::new("k1");
        let path = key.unsubscribe_path(42);
        let mac = path.rsplit('/').next().unwrap_or_default();
        assert!(key.verify_unsubscribe(42, mac));
        assert!(!key.verify_unsubscribe(43, mac));
        assert!(!LinkKey::new("k2").verify_unsubscribe(42, mac));
        assert!(!key.verify_unsubscribe(42, ""));
        assert!(!format!("{key:?}").contains("k1"));
    }

    #[test]
    fn voter_tokens_prove_one_voter_for_an_hour() {
        let key = LinkKey::new("k1");
        let now = chrono::Utc::now();
        let token = key.voter_token(7, now);
        assert_eq!(key.verify_voter_token(&token, now), Some(7));
        assert_eq!(
            key.verify_voter_token(&token, now + chrono::Duration::minutes(61)),
            None
        );
        assert_eq!(LinkKey::new("k2").verify_voter_token(&token, now), None);
        let forged = token.replacen('7', "8", 1);
        assert_eq!(key.verify_voter_token(&forged, now), None);
        assert_eq!(key.verify_voter_token("garbage", now), None);
        let code = key.new_code();
        assert!(code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(key.secret_hash(&code), key.secret_hash(&code));
        assert_ne!(key.secret_hash("123456"), key.secret_hash("123457"));
    }

    #[test]
    fn telephony_signature_matches_twilios_documented_example() {
        // Twilio's documentation: auth token 12345, this URL and these parameters.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            telephony_signature("12345", url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(verify_telephony_signature(
            "12345",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!verify_telephony_signature("12345", url, &params, "x"));
    }
}
