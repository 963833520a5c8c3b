//! Password hashing (argon2id) and the password policy.

use std::sync::Mutex;

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::Rng;

use crate::{ServiceError, ServiceResult};

/// OWASP's argon2id floor: 19 MiB, 2 passes, 1 lane.
fn params() -> ServiceResult<Params> {
    Params::new(19 * 1024, 2, 1, Some(32)).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// Work memory for argon2 (19 MiB each), kept for reuse. Allocating and freeing 19 MiB per
/// sign-in made the allocator keep gigabytes after a burst of logins; reusing a few buffers
/// keeps memory flat. Never more than this many are kept.
static BUFFERS: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
const KEPT_BUFFERS: usize = 4;

/// Runs argon2id with a pooled buffer.
fn argon2(params: Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> ServiceResult<()> {
    let blocks = params.block_count();
    let mut buf = BUFFERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop().unwrap_or_default();
    if buf.len() < blocks {
        buf.resize(blocks, Block::default());
    }
    let result = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password, salt, out, &mut buf[..])
        .map_err(|e| ServiceError::Internal(e.to_string()));
    let mut pool = BUFFERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if pool.len() < KEPT_BUFFERS {
        pool.push(buf);
    }
    result
}

/// Hashes a password into a PHC string. CPU-heavy: call from a blocking thread.
pub fn hash(password: &str) -> ServiceResult<String> {
    let params = params()?;
    let salt_bytes: [u8; 16] = rand::thread_rng().r#gen();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let mut out = [0u8; 32];
    argon2(params.clone(), password.as_bytes(), &salt_bytes, &mut out)?;
    let output = Output::new(&out).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${output}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        salt.as_str()
    ))
}

/// Checks a password against a PHC string (argon2id only). CPU-heavy: call from a blocking
/// thread.
#[must_use]
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    let (Ok(params), Some(salt), Some(expected)) = (Params::try_from(&parsed), parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let mut out = vec![0u8; expected.len()];
    if argon2(params, password.as_bytes(), salt, &mut out).is_err() {
        return false;
    }
    // Output's equality is constant-time.
    Output::new(&out).is_ok_and(|o| o == expected)
}

/// The 10,000 most common passwords (see `data/README.md`), lower case.
static COMMON: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| include_str!("../data/common-passwords.txt").lines().collect());

/// Is this one of the 10,000 most common passwords (ignoring case)?
#[must_use]
pub fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

/// The zxcvbn score a new password needs unless the settings say otherwise (0 to 4; 3 is
/// "safely unguessable: moderate protection from offline slow-hash attacks").
pub const DEFAULT_MIN_SCORE: u8 = 3;

/// zxcvbn looks at this many characters at most: its matching grows faster than linearly with
/// the length, and a passphrase longer than this is not weak for what follows.
const SCORED_CHARS: usize = 100;

/// Checks a new password against the policy: 12 to 1024 characters, not one of the 10,000
/// most common passwords, not on the breached-password list ([`crate::breached`]), not
/// containing the username, and a zxcvbn strength score of at least `min_score`. No forced
/// rotation, no composition rules (NIST SP 800-63B, OWASP ASVS 5.0).
pub fn check_policy(password: &str, username: &str, min_score: u8) -> ServiceResult<()> {
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
    if crate::breached::contains(password)? {
        return Err(ServiceError::WeakPassword(
            "that password appears in lists of passwords leaked in data breaches: choose another".into(),
        ));
    }
    let scored: String = password.chars().take(SCORED_CHARS).collect();
    let inputs: Vec<&str> = [username, "wardline"].into_iter().filter(|s| !s.is_empty()).collect();
    let estimate = zxcvbn::zxcvbn(&scored, &inputs);
    if u8::from(estimate.score()) < min_score.min(4) {
        let mut msg = String::from("that password is too easy to guess");
        if let Some(warning) = estimate.feedback().and_then(zxcvbn::feedback::Feedback::warning) {
            msg.push_str(&format!(" ({})", warning.to_string().trim_end_matches('.').to_lowercase()));
        }
        msg.push_str(": a few unrelated words, or a longer phrase, are stronger");
        return Err(ServiceError::WeakPassword(msg));
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
    fn verifies_hashes_made_by_the_argon2_crate_itself() {
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap_or_else(|_| unreachable!());
        let phc =
            Argon2::default().hash_password(b"a shared passphrase", &salt).map(|h| h.to_string()).unwrap_or_default();
        assert!(verify("a shared passphrase", &phc));
        assert!(!verify("another passphrase", &phc));
    }

    #[test]
    fn hash_and_verify() -> ServiceResult<()> {
        let phc = hash("correct horse battery")?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("wrong horse battery", &phc));
        assert!(!verify("anything", "not a phc string"));
        Ok(())
    }

    fn check(password: &str, username: &str) -> ServiceResult<()> {
        check_policy(password, username, DEFAULT_MIN_SCORE)
    }

    #[test]
    fn policy() {
        assert!(check("short", "ada").is_err());
        assert!(check("ada-likes-long-passwords", "ada").is_err());
        assert!(check("a perfectly fine one", "bob").is_ok());
        assert!(check(&"x".repeat(1025), "bob").is_err());
        assert!(check("my bicycle has forty-three spokes", "bob").is_ok(), "long passphrases are welcome");
        assert!(check("1qaz2wsx3edc", "bob").is_err(), "common, though long enough");
        assert!(check("1QAZ2WSX3EDC", "bob").is_err(), "case does not matter");
        assert!(is_common("password") && !is_common("a perfectly fine one"));
    }

    #[test]
    fn weak_passwords_of_twelve_characters_and_more_are_refused() {
        // Each of these passed the old policy (long enough, not in the 10,000 most common).
        for weak in ["password1234", "Welcome2025!", "aaaaaaaaaaaa", "123456789012", &"x".repeat(128)] {
            assert!(matches!(check(weak, "bob"), Err(ServiceError::WeakPassword(_))), "{weak:?} must be refused");
        }
        assert!(
            matches!(check("Password1234", "bob"), Err(ServiceError::WeakPassword(m)) if m.contains("breach")),
            "on the breached list whatever the case"
        );
    }

    #[test]
    fn the_minimum_score_is_a_setting() {
        // Not on any list, and weak only by its structure (zxcvbn scores it 2).
        let pw = "Zebra-Zebra-1";
        assert!(check_policy(pw, "bob", DEFAULT_MIN_SCORE).is_err());
        assert!(check_policy(pw, "bob", 2).is_ok());
    }

    #[test]
    fn one_time_passwords_differ() {
        let a = generate_one_time();
        assert_eq!(a.chars().count(), 16);
        assert_ne!(a, generate_one_time());
    }
}
