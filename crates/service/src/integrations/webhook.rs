//! Standard Webhooks (<https://www.standardwebhooks.com/>): how a report to a hospital system is
//! signed, so the system can tell it came from this server and was not changed on the way.
//!
//! Every delivery carries three headers: `webhook-id` (the report's id, the same on every
//! attempt, for the receiver to deduplicate by), `webhook-timestamp` (when this attempt was
//! signed, in whole seconds since the epoch by the server's clock) and `webhook-signature`
//! (`v1,` and the base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`). The key is the secret
//! the system was given when it set its webhook, `whsec_` and the base64 of 32 random bytes; the
//! HMAC key is those bytes, as the specification says (not the text of the secret).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// What every webhook secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;
/// The signature scheme's version tag.
const VERSION: &str = "v1";

/// A stored secret that is not `whsec_` and base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the webhook secret is not whsec_ and base64")]
pub struct BadSecret;

/// A new secret: `whsec_` and the base64 of [`SECRET_BYTES`] bytes from the operating system.
#[must_use]
pub fn generate_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The HMAC key of a secret: its base64 part, decoded.
fn key_of(secret: &str) -> Result<Vec<u8>, BadSecret> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).ok_or(BadSecret)?;
    let key = STANDARD.decode(encoded).map_err(|_| BadSecret)?;
    if key.is_empty() { Err(BadSecret) } else { Ok(key) }
}

/// `v1,` and the base64 of HMAC-SHA256(key of `secret`, `{id}.{timestamp}.{body}`).
///
/// # Errors
/// [`BadSecret`] for a secret that is not `whsec_` and base64.
pub fn signature(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> Result<String, BadSecret> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_of(secret)?).map_err(|_| BadSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("{VERSION},{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The headers of one delivery of `body` as report `id`, signed at `timestamp` (seconds).
///
/// # Errors
/// [`BadSecret`] for a secret that is not `whsec_` and base64.
pub fn headers(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> Result<Vec<(&'static str, String)>, BadSecret> {
    Ok(vec![
        ("content-type", "application/json".to_owned()),
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature(secret, id, timestamp, body)?),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // Both vectors were computed independently with Python's `hmac` and `base64` modules
    // (`base64.b64encode(hmac.new(base64.b64decode(secret[6:]), f"{id}.{ts}.{body}".encode(),
    // hashlib.sha256).digest())`); the first is also the specification's own example.
    #[test]
    fn signs_as_the_specification_says() {
        let sig = signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let body = br#"{"type":"webhook.test","integration":"nursecall","at":1800000000000}"#;
        let secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let h = headers(secret, "msg_0123456789abcdef0123456789abcdef", 1_800_000_000, body).unwrap();
        assert_eq!(
            h,
            [
                ("content-type", "application/json".to_owned()),
                ("webhook-id", "msg_0123456789abcdef0123456789abcdef".to_owned()),
                ("webhook-timestamp", "1800000000".to_owned()),
                ("webhook-signature", "v1,s4Iubt6iCep8eMyn0bCESi/FpIMRiTsDVcTyZ8Mr1S0=".to_owned()),
            ]
        );
    }

    #[test]
    fn any_change_changes_the_signature() {
        let secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let base = signature(secret, "msg_1", 100, b"{}").unwrap();
        assert_ne!(base, signature(secret, "msg_2", 100, b"{}").unwrap(), "the id");
        assert_ne!(base, signature(secret, "msg_1", 101, b"{}").unwrap(), "the time");
        assert_ne!(base, signature(secret, "msg_1", 100, b"{ }").unwrap(), "the body");
        let other = "whsec_AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        assert_ne!(base, signature(other, "msg_1", 100, b"{}").unwrap(), "the key");
    }

    #[test]
    fn secrets_are_random_whsec_base64_of_32_bytes_and_others_are_refused() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        assert_eq!(key_of(&a).unwrap().len(), 32);
        assert!(a.starts_with("whsec_"));
        for bad in ["", "whsec_", "AAECAwQF", "whsec_not base64!", "sk_AAECAwQF"] {
            assert_eq!(signature(bad, "msg_1", 1, b"{}"), Err(BadSecret), "{bad:?}");
        }
    }
}
