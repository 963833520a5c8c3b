//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) and the
//! base32 text form authenticator apps read.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use wardline_types::Timestamp;

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;

/// The step a moment falls in.
#[must_use]
pub fn step_at(t: Timestamp) -> u64 {
    t.0 / 1000 / STEP_SECONDS
}

/// The 6-digit code of `step` for `secret` (RFC 4226 dynamic truncation).
#[must_use]
pub fn code(secret: &[u8], step: u64) -> String {
    code_digits(secret, step, 6)
}

fn code_digits(secret: &[u8], step: u64, digits: u32) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else { return String::new() };
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h.last().copied().unwrap_or(0) & 0x0f);
    let part = h.get(offset..offset + 4).unwrap_or(&[0, 0, 0, 0]);
    let bin =
        (u32::from(part[0] & 0x7f) << 24) | (u32::from(part[1]) << 16) | (u32::from(part[2]) << 8) | u32::from(part[3]);
    format!("{:0width$}", bin % 10u32.pow(digits), width = digits as usize)
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
#[must_use]
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (case-insensitive, padding and spaces ignored).
#[must_use]
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !matches!(c, '=' | ' ' | '-')) {
        let v = ALPHABET.iter().position(|a| char::from(*a) == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 vectors (8 digits).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, want) in
            [(59u64, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")]
        {
            assert_eq!(code_digits(secret, t / 30, 8), want, "t={t}");
        }
        assert_eq!(code(secret, 59 / 30), "287082");
        assert_eq!(step_at(Timestamp(59_000)), 1);
    }

    #[test]
    fn base32_round_trip() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("mzxw6ytboi").as_deref(), Some(&b"foobar"[..]));
        let secret: Vec<u8> = (0..20).collect();
        assert_eq!(base32_decode(&base32_encode(&secret)), Some(secret));
        assert_eq!(base32_decode("not base32!"), None);
    }
}
