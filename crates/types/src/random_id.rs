//! Ids made of random bytes the caller draws (this crate does no I/O): a prefix naming what the
//! id is (`al_`, `fl_`) and the bytes' bits in lowercase base32, so ids read aloud and typed
//! back stay unambiguous and never need escaping in a URL.

/// The base32 alphabet (RFC 4648, lower case).
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `prefix` followed by `chars` base32 characters of `bytes`' bits (at most 16 bytes: the
/// last `5 * chars` bits are taken).
#[must_use]
pub(crate) fn base32_id(prefix: &str, bytes: &[u8], chars: usize) -> String {
    let mut bits: u128 = 0;
    for b in bytes.iter().take(16) {
        bits = (bits << 8) | u128::from(*b);
    }
    let mut out = String::with_capacity(prefix.len() + chars);
    out.push_str(prefix);
    for i in 0..chars {
        let shift = 5 * (chars - 1 - i);
        let index = usize::try_from((bits >> shift) & 31).unwrap_or(0);
        out.push(char::from(BASE32.get(index).copied().unwrap_or(b'a')));
    }
    out
}

/// Whether `rest` is `chars` characters of the alphabet.
#[must_use]
pub(crate) fn is_base32(rest: &str, chars: usize) -> bool {
    rest.len() == chars && rest.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bits_are_read_in_order() {
        assert_eq!(base32_id("x_", &[0; 13], 20), format!("x_{}", "a".repeat(20)));
        assert_eq!(base32_id("x_", &[0xff; 13], 20), format!("x_{}", "7".repeat(20)));
        let id = base32_id("fl_", &[1; 15], 24);
        assert!(id.starts_with("fl_") && is_base32(&id[3..], 24), "{id}");
    }
}
