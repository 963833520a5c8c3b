//! Web Push message encryption: RFC 8291 (the keys) in the `aes128gcm` content coding of
//! RFC 8188, one record. Built on `ring`'s primitives (ECDH P-256, HKDF-SHA-256, AES-128-GCM),
//! which the server already uses for TLS; the Python client tests decrypt what the server sends
//! with the independent `http_ece` library.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement::{ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey, agree_ephemeral};
use ring::hkdf::{HKDF_SHA256, KeyType, Prk, Salt};
use ring::rand::{SecureRandom, SystemRandom};

/// The record size announced in the header (one record holds the whole payload).
const RECORD_SIZE: u32 = 4096;
/// Largest payload accepted (push services take about 4 KiB of ciphertext).
pub const MAX_PAYLOAD: usize = 3000;

/// Why a subscription's keys cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebPushError {
    /// The pushkey is not an uncompressed P-256 public key in base64url.
    #[error("the pushkey is not the subscription's P-256 public key (p256dh, base64url)")]
    BadPublicKey,
    /// `data.auth` is not 16 bytes in base64url.
    #[error("data.auth is not the subscription's 16-byte authentication secret (base64url)")]
    BadAuth,
    /// The payload is too large.
    #[error("the payload is too large")]
    TooLarge,
    /// The cryptography failed (no randomness).
    #[error("encryption failed")]
    Crypto,
}

/// Decodes base64url, with or without padding (browsers' `toJSON()` gives none; some
/// libraries add it).
#[must_use]
pub fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// The subscription's public key (`p256dh`): an uncompressed point.
///
/// # Errors
/// [`WebPushError::BadPublicKey`].
pub fn public_key(p256dh: &str) -> Result<Vec<u8>, WebPushError> {
    match decode_b64url(p256dh) {
        Some(k) if k.len() == 65 && k.first() == Some(&4) => Ok(k),
        _ => Err(WebPushError::BadPublicKey),
    }
}

/// The subscription's authentication secret.
///
/// # Errors
/// [`WebPushError::BadAuth`].
pub fn auth_secret(auth: &str) -> Result<Vec<u8>, WebPushError> {
    match decode_b64url(auth) {
        Some(a) if a.len() == 16 => Ok(a),
        _ => Err(WebPushError::BadAuth),
    }
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand(prk: &Prk, info: &[&[u8]], len: usize) -> Result<Vec<u8>, WebPushError> {
    let mut out = vec![0u8; len];
    prk.expand(info, Len(len)).and_then(|okm| okm.fill(&mut out)).map_err(|_| WebPushError::Crypto)?;
    Ok(out)
}

/// Encrypts `payload` for the subscription with public key `p256dh` and secret `auth`: the
/// request body of a Web Push message (`Content-Encoding: aes128gcm`).
///
/// # Errors
/// Bad keys, a payload over [`MAX_PAYLOAD`], or no randomness.
pub fn encrypt(p256dh: &str, auth: &str, payload: &[u8]) -> Result<Vec<u8>, WebPushError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(WebPushError::TooLarge);
    }
    let ua_public = public_key(p256dh)?;
    let auth = auth_secret(auth)?;
    let rng = SystemRandom::new();
    let ephemeral = EphemeralPrivateKey::generate(&ECDH_P256, &rng).map_err(|_| WebPushError::Crypto)?;
    let as_public = ephemeral.compute_public_key().map_err(|_| WebPushError::Crypto)?.as_ref().to_vec();
    let ecdh_secret = agree_ephemeral(ephemeral, &UnparsedPublicKey::new(&ECDH_P256, &ua_public), |s| s.to_vec())
        .map_err(|_| WebPushError::BadPublicKey)?;

    // RFC 8291 §3.4: the input keying material, from the shared secret and the auth secret.
    let prk_key = Salt::new(HKDF_SHA256, &auth).extract(&ecdh_secret);
    let ikm = expand(&prk_key, &[b"WebPush: info\0", &ua_public, &as_public], 32)?;

    // RFC 8188 §2.2–2.3: the content-encryption key and nonce, from a random salt.
    let mut salt = [0u8; 16];
    rng.fill(&mut salt).map_err(|_| WebPushError::Crypto)?;
    let prk = Salt::new(HKDF_SHA256, &salt).extract(&ikm);
    let cek = expand(&prk, &[b"Content-Encoding: aes128gcm\0"], 16)?;
    let nonce = expand(&prk, &[b"Content-Encoding: nonce\0"], 12)?;

    // One record, the last: the payload then the delimiter 2, no padding.
    let mut record = Vec::with_capacity(payload.len() + 17);
    record.extend_from_slice(payload);
    record.push(2);
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek).map_err(|_| WebPushError::Crypto)?);
    let nonce = Nonce::try_assume_unique_for_key(&nonce).map_err(|_| WebPushError::Crypto)?;
    key.seal_in_place_append_tag(nonce, Aad::empty(), &mut record).map_err(|_| WebPushError::Crypto)?;

    // The header: salt, record size, the key id (the server's ephemeral public key).
    let mut body = Vec::with_capacity(16 + 4 + 1 + as_public.len() + record.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(u8::try_from(as_public.len()).map_err(|_| WebPushError::Crypto)?);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// The browser's side, for the test: decrypts a body with the subscription's private key.
    fn decrypt(ua_private: EphemeralPrivateKey, ua_public: &[u8], auth: &[u8], body: &[u8]) -> Vec<u8> {
        let (salt, rest) = body.split_at(16);
        let (rs, rest) = rest.split_at(4);
        assert_eq!(u32::from_be_bytes(rs.try_into().unwrap()), RECORD_SIZE);
        let idlen = usize::from(rest[0]);
        let (as_public, record) = rest[1..].split_at(idlen);
        let secret =
            agree_ephemeral(ua_private, &UnparsedPublicKey::new(&ECDH_P256, as_public), |s| s.to_vec()).unwrap();
        let prk_key = Salt::new(HKDF_SHA256, auth).extract(&secret);
        let ikm = expand(&prk_key, &[b"WebPush: info\0", ua_public, as_public], 32).unwrap();
        let prk = Salt::new(HKDF_SHA256, salt).extract(&ikm);
        let cek = expand(&prk, &[b"Content-Encoding: aes128gcm\0"], 16).unwrap();
        let nonce = expand(&prk, &[b"Content-Encoding: nonce\0"], 12).unwrap();
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek).unwrap());
        let mut buf = record.to_vec();
        let plain =
            key.open_in_place(Nonce::try_assume_unique_for_key(&nonce).unwrap(), Aad::empty(), &mut buf).unwrap();
        assert_eq!(plain.last(), Some(&2), "the last record's delimiter");
        plain[..plain.len() - 1].to_vec()
    }

    #[test]
    fn a_subscription_decrypts_what_is_sent_to_it() {
        let rng = SystemRandom::new();
        let ua = EphemeralPrivateKey::generate(&ECDH_P256, &rng).unwrap();
        let ua_public = ua.compute_public_key().unwrap().as_ref().to_vec();
        let auth = [7u8; 16];
        let body =
            encrypt(&URL_SAFE_NO_PAD.encode(&ua_public), &URL_SAFE_NO_PAD.encode(auth), b"{\"unread\":2}").unwrap();
        assert_eq!(decrypt(ua, &ua_public, &auth, &body), b"{\"unread\":2}");
    }

    #[test]
    fn bad_keys_are_refused() {
        let auth = URL_SAFE_NO_PAD.encode([1u8; 16]);
        assert_eq!(encrypt("AAAA", &auth, b"x"), Err(WebPushError::BadPublicKey));
        let not_on_curve = URL_SAFE_NO_PAD.encode([4u8; 65]);
        assert_eq!(encrypt(&not_on_curve, &auth, b"x"), Err(WebPushError::BadPublicKey));
        let rng = SystemRandom::new();
        let ua = EphemeralPrivateKey::generate(&ECDH_P256, &rng).unwrap();
        let key = URL_SAFE_NO_PAD.encode(ua.compute_public_key().unwrap().as_ref());
        assert_eq!(encrypt(&key, "short", b"x"), Err(WebPushError::BadAuth));
        assert_eq!(encrypt(&key, &auth, &[0u8; MAX_PAYLOAD + 1]), Err(WebPushError::TooLarge));
    }
}
