//! The server's VAPID identity (RFC 8292): one P-256 key pair, and the signed token each Web
//! Push request carries so the push service knows which application server sends it.
//!
//! The key pair is created on first need and kept in the store (`PushStore::vapid_key`), so
//! every node signs with the same key and browsers' subscriptions, which are bound to its
//! public key, survive restarts. **Who can read it:** whoever can read the database or a
//! backup of it. With it they could send pushes to this server's subscribers, but only to
//! subscriptions they also hold (endpoints and keys are in the same database, next to every
//! message), and pushes carry no clinical content; so it needs no more protection than the
//! database itself. Replacing it (deleting the `push_vapid` row) makes every browser subscribe
//! again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;
use wardline_types::Timestamp;

use crate::ServiceError;

/// How long a VAPID token is valid (at most 24 hours by RFC 8292).
const TOKEN_SECS: u64 = 12 * 3600;

/// The server's VAPID key pair.
pub struct Vapid {
    key: EcdsaKeyPair,
    subject: String,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid").field("public_key", &self.public_key()).finish_non_exhaustive()
    }
}

fn internal(what: &str) -> ServiceError {
    ServiceError::Internal(format!("VAPID: {what}"))
}

impl Vapid {
    /// A new key pair, as PKCS#8.
    ///
    /// # Errors
    /// The system's random number generator failed.
    pub fn generate() -> Result<Vec<u8>, ServiceError> {
        let rng = SystemRandom::new();
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| internal("cannot generate a key"))
    }

    /// The key pair stored as PKCS#8; `subject` is the operator's contact for the claims.
    ///
    /// # Errors
    /// The stored key is not a P-256 key.
    pub fn from_pkcs8(pkcs8: &[u8], subject: String) -> Result<Self, ServiceError> {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &SystemRandom::new())
            .map_err(|_| internal("the stored key is not a P-256 key"))?;
        Ok(Self { key, subject })
    }

    /// The public key, an uncompressed P-256 point, base64url without padding: what browsers
    /// take as `applicationServerKey`.
    #[must_use]
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.public_key().as_ref())
    }

    /// The `Authorization` header for a push to `endpoint` at `now`: `vapid t=<JWT>, k=<key>`.
    ///
    /// # Errors
    /// Signing failed.
    pub fn authorization(&self, endpoint: &Url, now: Timestamp) -> Result<String, ServiceError> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = json!({
            "aud": endpoint.origin().ascii_serialization(),
            "exp": now.0 / 1000 + TOKEN_SECS,
            "sub": self.subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| internal("cannot sign the token"))?;
        Ok(format!("vapid t={signing_input}.{}, k={}", URL_SAFE_NO_PAD.encode(signature.as_ref()), self.public_key()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    use super::*;

    #[test]
    fn the_token_is_signed_by_the_published_key_for_the_push_services_origin() {
        let v = Vapid::from_pkcs8(&Vapid::generate().unwrap(), "mailto:ops@example.org".into()).unwrap();
        let url = Url::parse("https://fcm.googleapis.com/fcm/send/abc").unwrap();
        let auth = v.authorization(&url, Timestamp(1_700_000_000_000)).unwrap();
        let rest = auth.strip_prefix("vapid t=").unwrap();
        let (jwt, k) = rest.split_once(", k=").unwrap();
        assert_eq!(k, v.public_key());
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let key = URL_SAFE_NO_PAD.decode(k).unwrap();
        assert_eq!(key.len(), 65);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key)
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(input.split_once('.').unwrap().1).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://fcm.googleapis.com");
        assert_eq!(claims["exp"], 1_700_000_000 + 12 * 3600);
        assert_eq!(claims["sub"], "mailto:ops@example.org");
    }
}
