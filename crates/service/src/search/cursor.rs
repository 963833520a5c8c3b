//! The `next_batch` token of a search: opaque to clients, stable across pages.
//!
//! It holds the stream position of the first page (so messages sent while someone pages
//! through results never shift them: later pages search the same messages), where to continue
//! (below the last result's position in `recent` order, after a number of results in `rank`
//! order), the first page's count, and, for a group's token, the room or sender the group is
//! about.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use wardline_types::StreamPos;

use crate::{ServiceError, ServiceResult};

/// The order of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Order {
    /// Best match first (the spec's default).
    #[serde(rename = "k")]
    Rank,
    /// Newest first.
    #[serde(rename = "t")]
    Recent,
}

/// Where a search continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Format version.
    #[serde(rename = "v")]
    pub version: u8,
    /// The order the token belongs to.
    #[serde(rename = "o")]
    pub order: Order,
    /// The first page's stream position: nothing later is searched.
    #[serde(rename = "u")]
    pub upto: StreamPos,
    /// `recent`: continue below this position; `rank`: after this many results.
    #[serde(rename = "n")]
    pub next: i64,
    /// Only this room (a `room_id` group's token).
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Only this sender (a `sender` group's token).
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// The count of the first page (the same for every page, as the results are those up to
    /// `upto`), so later pages need not count again. Given back by the client, so it only ever
    /// tells the client what it was told.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

const VERSION: u8 = 1;

impl Cursor {
    /// A cursor of the current format.
    #[must_use]
    pub fn new(order: Order, upto: StreamPos, next: i64) -> Self {
        Self { version: VERSION, order, upto, next, room: None, sender: None, count: None }
    }

    /// The token text.
    #[must_use]
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a token given back by a client, for a search in `order`.
    pub fn decode(token: &str, order: Order) -> ServiceResult<Self> {
        let bad = || ServiceError::invalid("next_batch is not a token from this search");
        let bytes = URL_SAFE_NO_PAD.decode(token.as_bytes()).map_err(|_| bad())?;
        let c: Self = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if c.version != VERSION || c.order != order || c.next < 0 || c.upto.0 < 0 {
            return Err(bad());
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let mut c = Cursor::new(Order::Recent, StreamPos(812), 790);
        c.room = Some("!a:localhost".into());
        let t = c.encode();
        assert!(t.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'), "URL-safe: {t}");
        assert_eq!(Cursor::decode(&t, Order::Recent).ok(), Some(c));
        assert!(Cursor::decode(&t, Order::Rank).is_err(), "a token of another order");
        for bad in ["", "t12", "%%%", &URL_SAFE_NO_PAD.encode(br#"{"v":1,"o":"t","u":5,"n":-1}"#)] {
            assert!(matches!(Cursor::decode(bad, Order::Recent), Err(ServiceError::InvalidParam(_))), "{bad}");
        }
    }
}
