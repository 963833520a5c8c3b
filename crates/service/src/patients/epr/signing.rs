//! The key Wardline signs its SMART Backend Services client assertions with, and the assertion
//! itself (a JWT, RFC 7523 as SMART profiles it): `iss` and `sub` the client id, `aud` the token
//! endpoint, `exp` five minutes on, a `jti` used once, signed `RS384` (an RSA key) or `ES384`
//! (an EC P-384 key), with the key's `kid`. Its public half, as a JWK set, is what the EPR is
//! given to check them.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::rsa::PublicKeyComponents;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use wardline_types::Timestamp;

/// How long an assertion is good for: SMART allows at most five minutes; four leave room for
/// the EPR's clock being a little behind Wardline's.
pub const ASSERTION_LIFETIME_SECS: u64 = 240;

/// A private key that signs client assertions.
pub struct SigningKey {
    key: Key,
    kid: String,
    rng: SystemRandom,
}

enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("alg", &self.alg()).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads a PEM private key (PKCS#8; RSA of at least 2048 bits, or EC P-384).
    ///
    /// # Errors
    /// The file cannot be read, or holds no key of these kinds.
    pub fn from_pem_file(path: &Path, kid: &str) -> Result<Self, String> {
        let der = PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let PrivateKeyDer::Pkcs8(der) = der else {
            return Err(format!(
                "{}: the key must be PKCS#8 (\"BEGIN PRIVATE KEY\"); convert it with `openssl pkcs8 -topk8 -nocrypt`",
                path.display()
            ));
        };
        Self::from_pkcs8(der.secret_pkcs8_der(), kid).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads a PKCS#8 private key.
    ///
    /// # Errors
    /// Neither an RSA key (2048 bits or more) nor an EC P-384 key.
    pub fn from_pkcs8(der: &[u8], kid: &str) -> Result<Self, String> {
        if kid.trim().is_empty() {
            return Err("the key needs an id (key_id), as in the JWK set the EPR holds".into());
        }
        let rng = SystemRandom::new();
        let key = if let Ok(rsa) = RsaKeyPair::from_pkcs8(der) {
            if rsa.public().modulus_len() < 256 {
                return Err("an RSA key must be at least 2048 bits".into());
            }
            Key::Rsa(rsa)
        } else {
            let ec = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, der, &rng)
                .map_err(|e| format!("neither an RSA key nor an EC P-384 key ({e})"))?;
            Key::Ec(ec)
        };
        Ok(Self { key, kid: kid.to_owned(), rng })
    }

    /// `RS384` or `ES384`.
    #[must_use]
    pub fn alg(&self) -> &'static str {
        match self.key {
            Key::Rsa(_) => "RS384",
            Key::Ec(_) => "ES384",
        }
    }

    /// The public key as a JWK set (`{"keys": [...]}`), for the EPR's registration.
    #[must_use]
    pub fn jwks(&self) -> Value {
        let jwk = match &self.key {
            Key::Rsa(rsa) => {
                let c: PublicKeyComponents<Vec<u8>> = rsa.public().into();
                json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&c.n), "e": URL_SAFE_NO_PAD.encode(&c.e)})
            }
            Key::Ec(ec) => {
                // The uncompressed point: 0x04, then x and y of 48 bytes each.
                let point = ec.public_key().as_ref();
                let (x, y) = point.get(1..).unwrap_or_default().split_at(point.len().saturating_sub(1) / 2);
                json!({"kty": "EC", "crv": "P-384", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)})
            }
        };
        let mut jwk = jwk;
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg());
        jwk["use"] = json!("sig");
        jwk["key_ops"] = json!(["verify"]);
        json!({ "keys": [jwk] })
    }

    /// A client assertion for `client_id` to the token endpoint `aud`, made at `now`.
    ///
    /// # Errors
    /// The system's random source or the signature failed.
    pub fn assertion(&self, client_id: &str, aud: &str, now: Timestamp) -> Result<String, String> {
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti).map_err(|_| "no randomness for the jti".to_owned())?;
        let secs = now.0 / 1000;
        let header = json!({"alg": self.alg(), "typ": "JWT", "kid": self.kid});
        let claims = json!({
            "iss": client_id,
            "sub": client_id,
            "aud": aud,
            "exp": secs + ASSERTION_LIFETIME_SECS,
            "iat": secs,
            "jti": hex::encode(jti),
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = match &self.key {
            Key::Rsa(rsa) => {
                let mut sig = vec![0u8; rsa.public().modulus_len()];
                rsa.sign(&signature::RSA_PKCS1_SHA384, &self.rng, signing_input.as_bytes(), &mut sig)
                    .map_err(|_| "RSA signing failed".to_owned())?;
                sig
            }
            Key::Ec(ec) => ec
                .sign(&self.rng, signing_input.as_bytes())
                .map_err(|_| "ECDSA signing failed".to_owned())?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

#[cfg(test)]
mod tests {
    use ring::signature::{ECDSA_P384_SHA384_FIXED, RSA_PKCS1_2048_8192_SHA384, UnparsedPublicKey};

    use super::*;

    fn ec_key() -> SigningKey {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
            .unwrap_or_else(|e| panic!("{e}"));
        SigningKey::from_pkcs8(doc.as_ref(), "k1").unwrap_or_else(|e| panic!("{e}"))
    }

    fn part(jwt: &str, i: usize) -> Vec<u8> {
        let p = jwt.split('.').nth(i).unwrap_or_else(|| panic!("part {i}"));
        URL_SAFE_NO_PAD.decode(p).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_ec_assertion_carries_smarts_claims_and_verifies_with_the_published_key() {
        let key = ec_key();
        let now = Timestamp(1_800_000_000_123);
        let jwt = key.assertion("wardline", "https://epr.example/token", now).unwrap_or_else(|e| panic!("{e}"));
        let header: Value = serde_json::from_slice(&part(&jwt, 0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header, json!({"alg": "ES384", "typ": "JWT", "kid": "k1"}));
        let claims: Value = serde_json::from_slice(&part(&jwt, 1)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims["iss"], "wardline");
        assert_eq!(claims["sub"], "wardline");
        assert_eq!(claims["aud"], "https://epr.example/token");
        assert_eq!(claims["exp"], 1_800_000_000 + 240);
        let again = key.assertion("wardline", "https://epr.example/token", now).unwrap_or_else(|e| panic!("{e}"));
        let claims2: Value = serde_json::from_slice(&part(&again, 1)).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(claims["jti"], claims2["jti"], "each assertion has its own jti");

        let jwk = &key.jwks()["keys"][0];
        assert_eq!(jwk["kid"], "k1");
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap_or_default()).unwrap_or_default();
        let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!((x.len(), y.len()), (48, 48));
        let point = [vec![4u8], x, y].concat();
        let (input, _) = jwt.rsplit_once('.').unwrap_or_default();
        UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, point)
            .verify(input.as_bytes(), &part(&jwt, 2))
            .unwrap_or_else(|_| panic!("the signature does not verify"));
    }

    #[test]
    fn an_rsa_key_signs_rs384() {
        // A 2048-bit test key made with `openssl genpkey -algorithm RSA` (never used anywhere).
        let pem = include_str!("test_rsa_key.pem");
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let PrivateKeyDer::Pkcs8(der) = der else { panic!("not PKCS#8") };
        let key = SigningKey::from_pkcs8(der.secret_pkcs8_der(), "rsa1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.alg(), "RS384");
        let jwt = key.assertion("c", "https://t", Timestamp(0)).unwrap_or_else(|e| panic!("{e}"));
        let jwk = &key.jwks()["keys"][0];
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap_or_default()).unwrap_or_default();
        let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap_or_default()).unwrap_or_default();
        let (input, _) = jwt.rsplit_once('.').unwrap_or_default();
        PublicKeyComponents { n, e }
            .verify(&RSA_PKCS1_2048_8192_SHA384, input.as_bytes(), &part(&jwt, 2))
            .unwrap_or_else(|_| panic!("the signature does not verify"));
    }

    #[test]
    fn a_key_without_an_id_or_of_another_kind_is_refused() {
        let rng = SystemRandom::new();
        let p256 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(SigningKey::from_pkcs8(p256.as_ref(), "k").is_err());
        let p384 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(SigningKey::from_pkcs8(p384.as_ref(), " ").is_err());
    }
}
