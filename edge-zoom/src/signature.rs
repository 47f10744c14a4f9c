//! Zoom's webhook signatures. Every post carries `x-zm-request-timestamp` (Unix seconds) and
//! `x-zm-signature`: `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` under the
//! app's secret token. A post is taken only when the signature matches (compared in constant
//! time) and the timestamp is recent, so a recorded post cannot be replayed later. The URL
//! validation challenge is answered with the same secret.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "x-zm-signature";
/// The header with the time the post was signed.
pub const TIMESTAMP_HEADER: &str = "x-zm-request-timestamp";
/// How far a post's timestamp may be from now, either way.
pub const MAX_AGE: Duration = Duration::from_secs(5 * 60);

type HmacSha256 = Hmac<Sha256>;

/// Why a post was refused; each is 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No signature or no timestamp.
    Unsigned,
    /// The timestamp is not a number, or more than [`MAX_AGE`] from now.
    Stale,
    /// The signature does not match.
    Forged,
}

/// Checks a post's signature under `secret_token`, at `now` (Unix seconds).
pub fn verify(
    secret_token: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<(), Refusal> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(Refusal::Unsigned);
    };
    let signed_at: u64 = timestamp.trim().parse().map_err(|_| Refusal::Stale)?;
    if signed_at.abs_diff(now) > MAX_AGE.as_secs() {
        return Err(Refusal::Stale);
    }
    let presented =
        signature.trim().strip_prefix("v0=").and_then(|hex| hex::decode(hex).ok()).ok_or(Refusal::Forged)?;
    let mut mac = keyed(secret_token);
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&presented).map_err(|_| Refusal::Forged)
}

/// The signature header value for `body` signed at `timestamp`: what Zoom sends.
pub fn sign(secret_token: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = keyed(secret_token);
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `encryptedToken` answering a URL validation challenge: the hex HMAC-SHA256 of
/// `plain_token` under the secret token.
pub fn encrypted_token(secret_token: &str, plain_token: &str) -> String {
    let mut mac = keyed(secret_token);
    mac.update(plain_token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn keyed(secret_token: &str) -> HmacSha256 {
    HmacSha256::new_from_slice(secret_token.as_bytes()).expect("HMAC takes a key of any length")
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "zoom-webhook-secret-token-1234";
    const BODY: &[u8] = br#"{"event":"bot_notification"}"#;

    // Both vectors were computed with `openssl dgst -sha256 -hmac <secret>`.
    #[test]
    fn the_challenge_and_the_signature_match_known_vectors() {
        assert_eq!(
            encrypted_token(SECRET, "qgg8vlvZRS6UYooatFL8Aw"),
            "8b18062bb74b8b567c57d1755a4202977f105802699c9778ebbff7a1b23fee7b"
        );
        let expected = "v0=d6e145771c40dad31ef360792e8c3640ac1abe16f8f74d10e0deb9f3d1e16901";
        assert_eq!(sign(SECRET, 1_700_000_000, BODY), expected);
        assert_eq!(verify(SECRET, Some("1700000000"), Some(expected), BODY, 1_700_000_100), Ok(()));
    }

    #[test]
    fn forged_unsigned_and_stale_posts_are_refused() {
        let now = 1_700_000_000;
        let signature = sign(SECRET, now, BODY);
        let stamp = now.to_string();
        assert_eq!(verify("another-secret", Some(&stamp), Some(&signature), BODY, now), Err(Refusal::Forged));
        assert_eq!(verify(SECRET, Some(&stamp), Some(&signature), b"{}", now), Err(Refusal::Forged));
        assert_eq!(verify(SECRET, Some(&stamp), Some("v0=zz"), BODY, now), Err(Refusal::Forged));
        assert_eq!(verify(SECRET, Some(&stamp), Some(&signature[3..]), BODY, now), Err(Refusal::Forged));
        assert_eq!(verify(SECRET, None, Some(&signature), BODY, now), Err(Refusal::Unsigned));
        assert_eq!(verify(SECRET, Some(&stamp), None, BODY, now), Err(Refusal::Unsigned));
        assert_eq!(verify(SECRET, Some(&stamp), Some(&signature), BODY, now + 301), Err(Refusal::Stale));
        assert_eq!(verify(SECRET, Some(&stamp), Some(&signature), BODY, now - 301), Err(Refusal::Stale));
        assert_eq!(verify(SECRET, Some(&stamp), Some(&signature), BODY, now + 299), Ok(()));
    }
}
