//! Argon2id password hashing at OWASP's parameters, off the async runtime.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
fn hasher() -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None)?,
    ))
}

pub const MIN_LENGTH: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Among the 10,000 most common passwords (zxcvbn's ranked list from leaked password dumps),
/// counting case, reversal and l33t spellings ("Password1234" is "password1234").
pub fn is_common(password: &str) -> bool {
    let entropy = zxcvbn::zxcvbn(password, &[]);
    let chars = password.chars().count();
    entropy.sequence().iter().any(|m| {
        m.i == 0
            && m.j + 1 == chars
            && matches!(&m.pattern, zxcvbn::matching::patterns::MatchPattern::Dictionary(d)
                if d.rank <= 10_000 && format!("{:?}", d.dictionary_name) == "Passwords")
    })
}

/// Why a new password is refused, in words for the person choosing it.
pub fn refusal(password: &str, repeated: &str, email: &str) -> Option<&'static str> {
    if password.chars().count() < MIN_LENGTH {
        Some("A password needs at least 12 characters; a few words make a good one.")
    } else if password != repeated {
        Some("The two passwords differ: type the same one twice.")
    } else if password.eq_ignore_ascii_case(email) {
        Some("Your email address is not a password.")
    } else if is_common(password) {
        Some("That password is one of the most common ones; choose another.")
    } else {
        None
    }
}

/// Hashes on a blocking thread: argon2 takes tens of milliseconds of CPU by design.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        hasher()
            .map_err(|e| PasswordError::Hash(e.to_string()))?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| PasswordError::Hash(e.to_string()))?
}

/// Verifies on a blocking thread. Unknown users are checked against a dummy hash so that the
/// time taken tells nothing about whether the account exists.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let dummy = dummy_hash();
        let (phc, known) = match &stored {
            Some(s) => (s.as_str(), true),
            None => (dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let Ok(argon) = hasher() else { return false };
        argon.verify_password(password.as_bytes(), &parsed).is_ok() && known
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            hasher()
                .and_then(|h| {
                    h.hash_password(b"not-a-real-password", &salt)
                        .map(|h| h.to_string())
                        .map_err(|_| argon2::Error::AlgorithmInvalid)
                })
                .unwrap_or_default()
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_and_passphrases_taken() {
        // Ranks 100 to 9,000 of the list, as typed and capitalised.
        for p in [
            "qwerty123456",
            "Qwerty123456",
            "leavemealone",
            "LEAVEMEALONE",
            "sonyericsson",
        ] {
            assert!(is_common(p), "{p}");
            assert!(refusal(p, p, "a@b.c").unwrap().contains("common"), "{p}");
        }
        // Rank 11,383: past the 10,000.
        assert!(!is_common("password1234"));
        assert!(!is_common("correct horse battery staple"));
        assert_eq!(
            refusal("short", "short", "a@b.c"),
            Some("A password needs at least 12 characters; a few words make a good one.")
        );
        assert!(
            refusal(
                "a long enough passphrase",
                "a long enough passphrasE",
                "x@y.z"
            )
            .is_some()
        );
        assert_eq!(
            refusal(
                "a long enough passphrase",
                "a long enough passphrase",
                "x@y.z"
            ),
            None
        );
    }

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_fail() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(h)).await);
        assert!(!verify("correct horse battery".into(), None).await);
    }

    #[tokio::test]
    async fn short_passwords_are_refused() {
        assert!(matches!(
            hash("short".into()).await,
            Err(PasswordError::TooShort)
        ));
    }
}
