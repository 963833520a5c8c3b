//! Stream positions and the sync tokens built from them.
//!
//! Every persisted change a client can sync (room events, receipts, account data, presence)
//! takes the next position of one server-wide stream, so "everything since token T" is a single
//! range query per kind. Typing notifications are ephemeral and count on a separate in-memory
//! counter, carried in the same token.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A position in the server-wide stream of persisted changes. Zero means "before anything".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct StreamPos(pub i64);

impl StreamPos {
    /// The position before any change.
    pub const ZERO: Self = Self(0);

    /// The next position.
    #[must_use]
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for StreamPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The `since` / `next_batch` token of `/sync`: `s{stream}_{typing}`.
///
/// Pagination tokens (`from`/`to` of `/messages`) are `t{stream}` and never mix with these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncToken {
    /// Persisted changes up to and including this position were delivered.
    pub stream: StreamPos,
    /// Typing updates up to this serial were delivered.
    pub typing: u64,
}

impl fmt::Display for SyncToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}_{}", self.stream.0, self.typing)
    }
}

/// A token that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid token")]
pub struct InvalidToken;

impl FromStr for SyncToken {
    type Err = InvalidToken;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix('s').ok_or(InvalidToken)?;
        let (stream, typing) = rest.split_once('_').ok_or(InvalidToken)?;
        let stream: i64 = stream.parse().map_err(|_| InvalidToken)?;
        if stream < 0 {
            return Err(InvalidToken);
        }
        Ok(Self { stream: StreamPos(stream), typing: typing.parse().map_err(|_| InvalidToken)? })
    }
}

/// A pagination token for `/messages`: the stream position of a boundary between events.
///
/// Paginating backwards from `t{n}` returns events with positions `< n`; forwards, `>= n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageToken(pub StreamPos);

impl fmt::Display for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0.0)
    }
}

impl FromStr for PageToken {
    type Err = InvalidToken;

    /// Accepts `t{n}`, and also a sync token (`s{n}_{m}`), as the spec allows a `next_batch`
    /// or `prev_batch` from `/sync` as `from`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(n) = s.strip_prefix('t') {
            let n: i64 = n.parse().map_err(|_| InvalidToken)?;
            if n < 0 {
                return Err(InvalidToken);
            }
            return Ok(Self(StreamPos(n)));
        }
        let sync: SyncToken = s.parse()?;
        Ok(Self(sync.stream.next()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_token_round_trips() {
        let t = SyncToken { stream: StreamPos(42), typing: 7 };
        assert_eq!(t.to_string(), "s42_7");
        assert_eq!("s42_7".parse::<SyncToken>(), Ok(t));
    }

    #[test]
    fn bad_tokens_are_refused() {
        for bad in ["", "s", "s1", "x1_2", "s-1_0", "s1_x", "t"] {
            assert!(bad.parse::<SyncToken>().is_err(), "{bad}");
        }
        assert!("t-3".parse::<PageToken>().is_err());
    }

    #[test]
    fn page_token_accepts_sync_tokens() {
        assert_eq!("t9".parse::<PageToken>(), Ok(PageToken(StreamPos(9))));
        // A sync token at s9 means "after event 9": paging back from it includes event 9.
        assert_eq!("s9_0".parse::<PageToken>(), Ok(PageToken(StreamPos(10))));
    }
}
