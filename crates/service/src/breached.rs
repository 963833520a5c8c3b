//! The breached-password list: about 1.4 million passwords of 12 characters or more that were
//! leaked in data breaches (source and licence in `data/README.md`), kept as a binary fuse
//! filter (`data/breached-passwords.bin`, about 18 bits an entry). A listed password is always
//! found; an unlisted one is wrongly found with a probability of 2⁻¹⁶ (1 in 65,536), so about
//! one strong password in 65,000 is refused and its owner picks another.
//!
//! Passwords are compared in lower case. A password's key is the first 8 bytes (little-endian)
//! of SHA-256 over `KEY_DOMAIN` followed by the lower-cased password in UTF-8: bytes we define,
//! so the filter stays valid whatever library builds or reads it.
//!
//! The file: `WLBF`, a version byte (1), three zero bytes, then little-endian: the filter's
//! seed (u64), segment length, segment length mask, segment count length, number of entries
//! (u32 each), then the 16-bit fingerprints. `examples/breached_filter.rs` writes it.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};
use xorf::{BinaryFuse16, Descriptor, Filter};

use crate::{ServiceError, ServiceResult};

/// Prefixed to every password before hashing.
pub const KEY_DOMAIN: &[u8] = b"wardline breached password v1\0";
/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"WLBF\x01\0\0\0";
const HEADER_LEN: usize = 8 + 8 + 4 * 4;

static FILTER: LazyLock<Result<BinaryFuse16, String>> =
    LazyLock::new(|| decode(include_bytes!("../data/breached-passwords.bin")));

/// The filter key of a password.
#[must_use]
pub fn key(password: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(KEY_DOMAIN);
    h.update(password.to_lowercase().as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(first)
}

/// Is the password (in any case) on the list?
pub fn contains(password: &str) -> ServiceResult<bool> {
    match &*FILTER {
        Ok(filter) => Ok(filter.contains(&key(password))),
        Err(e) => Err(ServiceError::Internal(format!("breached-password list unreadable: {e}"))),
    }
}

/// How many passwords the list holds.
pub fn entries() -> ServiceResult<u32> {
    match &*FILTER {
        Ok(_) => Ok(read_u32(include_bytes!("../data/breached-passwords.bin"), 28).unwrap_or(0)),
        Err(e) => Err(ServiceError::Internal(format!("breached-password list unreadable: {e}"))),
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// Writes a filter in the file format above.
#[must_use]
pub fn encode(filter: &BinaryFuse16, entries: u32) -> Vec<u8> {
    let d = &filter.descriptor;
    let mut out = Vec::with_capacity(HEADER_LEN + filter.fingerprints.len() * 2);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&d.seed.to_le_bytes());
    for n in [d.segment_length, d.segment_length_mask, d.segment_count_length, entries] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    for f in &*filter.fingerprints {
        out.extend_from_slice(&f.to_le_bytes());
    }
    out
}

/// Reads a filter written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<BinaryFuse16, String> {
    if bytes.get(..8) != Some(&MAGIC[..]) {
        return Err("not a Wardline breached-password filter (version 1)".into());
    }
    let seed_bytes: [u8; 8] = bytes.get(8..16).and_then(|b| b.try_into().ok()).ok_or("truncated header")?;
    let field = |at: usize| read_u32(bytes, at).ok_or("truncated header");
    let descriptor = Descriptor {
        seed: u64::from_le_bytes(seed_bytes),
        segment_length: field(16)?,
        segment_length_mask: field(20)?,
        segment_count_length: field(24)?,
    };
    let body = bytes.get(HEADER_LEN..).unwrap_or_default();
    if body.len() % 2 != 0 {
        return Err("odd number of fingerprint bytes".into());
    }
    let fingerprints: Box<[u16]> = body.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    // The lookup indexes up to `segment_count_length + 2 × segment_length`.
    let needed = u64::from(descriptor.segment_count_length) + 2 * u64::from(descriptor.segment_length);
    if (fingerprints.len() as u64) < needed || descriptor.segment_length == 0 {
        return Err("fingerprints do not match the header".into());
    }
    Ok(BinaryFuse16 { descriptor, fingerprints })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_loads_and_holds_what_it_should() {
        let n = entries().unwrap_or(0);
        assert!(n > 1_000_000, "{n} entries");
        for leaked in ["password1234", "aaaaaaaaaaaa", "123456789012", "qwertyuiopasdfgh", "1qaz2wsx3edc4rfv"] {
            assert!(contains(leaked).unwrap_or(false), "{leaked} is on the list");
            assert!(contains(&leaked.to_uppercase()).unwrap_or(false), "in any case");
        }
    }

    #[test]
    fn false_positives_are_rare() {
        // 20,000 random 16-character passwords: at 2⁻¹⁶ we expect 0.3 false positives.
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let hits = (0..20_000)
            .filter(|_| {
                let pw: String = (0..16).map(|_| char::from(rng.gen_range(b'!'..=b'~'))).collect();
                contains(&pw).unwrap_or(true)
            })
            .count();
        assert!(hits <= 5, "{hits} random passwords were on the list");
    }

    #[test]
    fn round_trip_and_damage() {
        let keys: Vec<u64> = (0..1000u64).map(|i| key(&format!("password number {i}"))).collect();
        let filter = BinaryFuse16::try_from(&keys).unwrap_or_else(|_| unreachable!());
        let bytes = encode(&filter, 1000);
        let back = decode(&bytes).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(keys.iter().all(|k| back.contains(k)));
        assert!(decode(&bytes[..40]).is_err(), "truncated");
        assert!(decode(b"not a filter at all, but long enough").is_err());
    }
}
