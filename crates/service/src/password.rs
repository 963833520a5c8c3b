//! Password hashing (argon2id) and the password policy.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

use crate::{ServiceError, ServiceResult};

/// OWASP's argon2id floor: 19 MiB, 2 passes, 1 lane.
fn hasher() -> ServiceResult<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string. CPU-heavy: call from a blocking thread.
pub fn hash(password: &str) -> ServiceResult<String> {
    let bytes: [u8; 16] = rand::thread_rng().r#gen();
    let salt = SaltString::encode_b64(&bytes).map_err(|e| ServiceError::Internal(e.to_string()))?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

/// Checks a password against a PHC string. CPU-heavy: call from a blocking thread.
#[must_use]
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    hasher().is_ok_and(|h| h.verify_password(password.as_bytes(), &parsed).is_ok())
}

/// The 10,000 most common passwords (see `data/README.md`), lower case.
static COMMON: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| include_str!("../data/common-passwords.txt").lines().collect());

/// Is this one of the 10,000 most common passwords (ignoring case)?
#[must_use]
pub fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

/// Checks a new password against the policy: 12 to 1024 characters, not one of the 10,000
/// most common passwords, not containing the username. No forced rotation, no composition
/// rules (NIST SP 800-63B, OWASP ASVS 5.0).
pub fn check_policy(password: &str, username: &str) -> ServiceResult<()> {
    let chars = password.chars().count();
    if chars < 12 {
        return Err(ServiceError::WeakPassword("a password needs at least 12 characters".into()));
    }
    if chars > 1024 {
        return Err(ServiceError::WeakPassword("a password may have at most 1024 characters".into()));
    }
    if is_common(password) {
        return Err(ServiceError::WeakPassword(
            "that password is one of the most commonly used: choose another".into(),
        ));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(ServiceError::WeakPassword("a password must not contain the username".into()));
    }
    Ok(())
}

/// A one-time password for a new account: 16 characters from an alphabet without look-alikes,
/// about 80 bits.
#[must_use]
pub fn generate_one_time() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| {
            let i = rng.gen_range(0..ALPHABET.len());
            char::from(ALPHABET.get(i).copied().unwrap_or(b'x'))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() -> ServiceResult<()> {
        let phc = hash("correct horse battery")?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("wrong horse battery", &phc));
        assert!(!verify("anything", "not a phc string"));
        Ok(())
    }

    #[test]
    fn policy() {
        assert!(check_policy("short", "ada").is_err());
        assert!(check_policy("ada-likes-long-passwords", "ada").is_err());
        assert!(check_policy("a perfectly fine one", "bob").is_ok());
        assert!(check_policy(&"x".repeat(1025), "bob").is_err());
        assert!(check_policy(&"x".repeat(128), "bob").is_ok(), "long passphrases are welcome");
        assert!(check_policy("1qaz2wsx3edc", "bob").is_err(), "common, though long enough");
        assert!(check_policy("1QAZ2WSX3EDC", "bob").is_err(), "case does not matter");
        assert!(is_common("password") && !is_common("a perfectly fine one"));
    }

    #[test]
    fn one_time_passwords_differ() {
        let a = generate_one_time();
        assert_eq!(a.chars().count(), 16);
        assert_ne!(a, generate_one_time());
    }
}
