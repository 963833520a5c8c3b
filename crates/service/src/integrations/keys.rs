//! API keys: made from the operating system's random numbers, stored as the SHA-256 of their
//! secret, compared in constant time.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wardline_types::integration::{ApiKey, KEY_ID_CHARS};

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new key: a 12-character key id (60 random bits, enough to never collide by chance) and a
/// 256-bit secret.
#[must_use]
pub fn generate() -> ApiKey {
    let mut rng = rand::rngs::OsRng;
    let mut id_bytes = [0u8; KEY_ID_CHARS];
    rng.fill_bytes(&mut id_bytes);
    // 256 is a multiple of 32, so each character is uniform.
    let key_id =
        id_bytes.iter().map(|b| char::from(BASE32.get(usize::from(*b) % 32).copied().unwrap_or(b'a'))).collect();
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    ApiKey { key_id, secret: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret) }
}

/// What is stored instead of a secret: its SHA-256.
#[must_use]
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Does `secret` hash to `stored`? Compared in constant time, so how long the comparison takes
/// tells nothing about how much of the hash was right.
#[must_use]
pub fn secret_matches(stored: &[u8], secret: &str) -> bool {
    stored.ct_eq(secret_hash(secret).as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_well_formed_and_checked_by_their_hash() {
        let a = generate();
        let b = generate();
        assert_ne!(a.key_id, b.key_id);
        assert_ne!(a.secret, b.secret);
        let text = a.expose();
        assert_eq!(ApiKey::parse(&text), Some(a.clone()), "a made key parses back: {}", a.key_id);
        let stored = secret_hash(&a.secret);
        assert_eq!(stored.len(), 32);
        use sha2::Digest as _;
        assert_eq!(
            stored.as_slice(),
            sha2::Sha256::digest(a.secret.as_bytes()).as_slice(),
            "the SHA-256 of the secret"
        );
        assert!(secret_matches(&stored, &a.secret));
        assert!(!secret_matches(&stored, &b.secret));
        assert!(!secret_matches(&stored[..31], &a.secret), "a short hash never matches");
        assert!(!secret_matches(&[], ""));
    }
}
