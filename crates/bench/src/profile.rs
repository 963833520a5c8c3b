//! How the benchmark's clients behave: like Element Web (the default), or as the original
//! workload did (kept so old and new figures can be compared).
//!
//! Element Web (matrix-react-sdk's `MatrixClientPeg` over matrix-js-sdk's `SyncApi`) starts its
//! client with `lazyLoadMembers: true`, `threadSupport: true` and `initialSyncLimit: 20`. The SDK
//! then uploads one filter (`POST /user/{userId}/filter`) holding its default filter
//! (`room.timeline.unread_thread_notifications`) with `room.state.lazy_load_members` added, makes
//! the first `/sync` with the same filter inline and `room.timeline.limit` set to 20, and every
//! later `/sync` with the uploaded filter's id, so the timeline limit is the server's default.
//! Nothing is filtered out: every event type, receipts, typing, presence and account data all
//! arrive. `/messages` (back-pagination of a gap) uses `{"lazy_load_members": true}` and pages of
//! 20 (`TimelinePanel`'s `PAGINATE_SIZE`).
//!
//! Element's `TimelinePanel` sends a read receipt (`POST /receipt/m.read/{eventId}` with
//! `{"thread_id": "main"}` once threads are on) for the newest event from someone else that the
//! reader has been shown, at most once per `READ_RECEIPT_INTERVAL_MS` (500 ms). Its composer
//! sends `PUT /typing/{userId}` `{"typing": true, "timeout": 30000}` when the user starts typing
//! and `{"typing": false}` when the message is sent.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

/// Which clients the workload imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// Element Web: its lazy-loading sync filter, any member sends, readers send read receipts,
    /// some messages are preceded by typing notifications.
    #[default]
    Element,
    /// The original workload: a filter that asks for messages only (no state, receipts, typing,
    /// presence or account data), one fixed sender per room (its creator), no receipts.
    Legacy,
    /// The escalation simulation (its own run, [`crate::escalation`]): Element's clients
    /// sending urgent messages and answering them late, declining or never.
    Escalation,
    /// The alarm storm (its own run, [`crate::alarms`]): alarms over HTTP and HL7 to
    /// responders' phones that accept, decline or leave them to the failsafe.
    Alarms,
}

/// Element's sync filter, as uploaded (and used, by id, for every sync after the first).
#[must_use]
pub fn element_filter() -> Value {
    json!({"room": {"timeline": {"unread_thread_notifications": true}, "state": {"lazy_load_members": true}}})
}

/// Element's first sync's filter: the uploaded one with `initialSyncLimit` as the timeline limit.
#[must_use]
pub fn element_initial_filter() -> Value {
    let mut f = element_filter();
    f["room"]["timeline"]["limit"] = json!(ELEMENT_INITIAL_SYNC_LIMIT);
    f
}

/// matrix-react-sdk's `initialSyncLimit`.
pub const ELEMENT_INITIAL_SYNC_LIMIT: u64 = 20;

/// The filter for `/messages` (matrix-js-sdk's `LAZY_LOADING_MESSAGES_FILTER`).
pub const ELEMENT_MESSAGES_FILTER: &str = r#"{"lazy_load_members":true}"#;

/// Events per `/messages` page (`TimelinePanel`'s `PAGINATE_SIZE`).
pub const ELEMENT_PAGE: usize = 20;

/// Shortest time between two rounds of read receipts from one client (`READ_RECEIPT_INTERVAL_MS`).
pub const ELEMENT_RECEIPT_INTERVAL: Duration = Duration::from_millis(500);

/// How long a typing notification says the user will keep typing (Element's
/// `TYPING_SERVER_TIMEOUT`).
pub const ELEMENT_TYPING_TIMEOUT_MS: u64 = 30_000;

/// The original workload's filter: messages only, nothing else, 200 per timeline.
pub const LEGACY_FILTER: &str = r#"{"room":{"timeline":{"limit":200,"types":["m.room.message"]},"state":{"types":[]},"ephemeral":{"types":[]},"account_data":{"types":[]}},"presence":{"types":[]},"account_data":{"types":[]}}"#;

impl ClientKind {
    /// The name shown in reports (`element`, `legacy`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Element => "element",
            Self::Legacy => "legacy",
            Self::Escalation => "escalation",
            Self::Alarms => "alarms",
        }
    }

    /// Do readers send read receipts?
    #[must_use]
    pub fn sends_receipts(self) -> bool {
        matches!(self, Self::Element | Self::Escalation | Self::Alarms)
    }

    /// Does any member of a room send (rather than always its creator)?
    #[must_use]
    pub fn any_member_sends(self) -> bool {
        matches!(self, Self::Element | Self::Escalation | Self::Alarms)
    }

    /// Does a sync loop fill a limited timeline's gap from `/messages`? (Legacy syncs ask for
    /// 200 events per room, so their timelines are not cut short under this workload.)
    #[must_use]
    pub fn fills_gaps(self) -> bool {
        matches!(self, Self::Element | Self::Escalation | Self::Alarms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_filters_lazy_load_members_and_limit_only_the_first_sync() {
        let f = element_filter();
        assert_eq!(f["room"]["state"]["lazy_load_members"], true);
        assert!(f["room"]["timeline"].get("limit").is_none(), "later syncs use the server's default limit");
        let first = element_initial_filter();
        assert_eq!(first["room"]["timeline"]["limit"], 20);
        assert_eq!(first["room"]["state"], f["room"]["state"]);
        let legacy: Value = serde_json::from_str(LEGACY_FILTER).unwrap_or_default();
        assert_eq!(legacy["room"]["state"]["types"], json!([]));
    }

    #[test]
    fn only_element_clients_read_and_rotate_senders() {
        assert!(ClientKind::Element.sends_receipts() && ClientKind::Element.any_member_sends());
        assert!(!ClientKind::Legacy.sends_receipts() && !ClientKind::Legacy.any_member_sends());
        assert_eq!(ClientKind::default(), ClientKind::Element);
    }
}
