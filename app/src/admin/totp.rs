//! Time-based one-time codes (RFC 6238: SHA-1, six digits, 30-second steps), as authenticator
//! apps make them, through the `totp-rs` crate. Each code is accepted once: the caller records
//! the step a code belonged to and refuses that step and every earlier one afterwards.

use totp_rs::{Algorithm, Builder, Secret, Totp};

const DIGITS: u8 = 6;
const STEP_SECS: u64 = 30;
/// Codes from one step before or after now are accepted too (clock drift, slow typing).
const SKEW_STEPS: u16 = 1;
const ISSUER: &str = "Ballot Tracker";

/// A new random secret: 160 bits, as RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut bytes = vec![0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW_STEPS)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .ok()
}

/// The `otpauth://` address an authenticator app reads (from a QR code or typed in).
pub fn setup_url(secret: &[u8], account: &str) -> Option<String> {
    totp(secret, account)?.to_url().ok()
}

/// The secret in base32, for typing into an app by hand.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The time step `code` belongs to, if it is a valid code within the skew around `unix_secs`
/// (compared in constant time by the crate).
pub fn matching_step(secret: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "")?.check(&code, unix_secs)
}

/// The code for `unix_secs`: for tests, and for nothing else.
pub fn code_at(secret: &[u8], unix_secs: u64) -> Option<String> {
    totp(secret, "").map(|t| t.generate(unix_secs).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1, the last six of the eight digits.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59).unwrap(), "287082");
        assert_eq!(code_at(secret, 1_111_111_109).unwrap(), "081804");
        assert_eq!(code_at(secret, 2_000_000_000).unwrap(), "279037");
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_only() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap();
        assert_eq!(matching_step(&secret, &code, now), Some(now / 30));
        assert_eq!(matching_step(&secret, &code, now + 30), Some(now / 30));
        assert_eq!(matching_step(&secret, &code, now + 90), None);
        assert_eq!(matching_step(&secret, " 12 34 ", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn the_setup_url_names_the_issuer_and_account() {
        let url = setup_url(&new_secret(), "clerk@county.example.org").unwrap();
        assert!(url.starts_with("otpauth://totp/Ballot%20Tracker:clerk%40county.example.org?"));
        assert!(url.contains("issuer=Ballot%20Tracker"));
    }
}
