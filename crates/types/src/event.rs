//! Room events as stored, and their client-facing JSON.

use ruma::{OwnedDeviceId, OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId, UserId};
use serde_json::{Map, Value, json};

use crate::{StreamPos, Timestamp};

/// Well-known event types the server itself interprets.
pub mod kinds {
    /// Room creation.
    pub const CREATE: &str = "m.room.create";
    /// Membership.
    pub const MEMBER: &str = "m.room.member";
    /// Power levels.
    pub const POWER_LEVELS: &str = "m.room.power_levels";
    /// Join rules.
    pub const JOIN_RULES: &str = "m.room.join_rules";
    /// History visibility.
    pub const HISTORY_VISIBILITY: &str = "m.room.history_visibility";
    /// Room name.
    pub const NAME: &str = "m.room.name";
    /// Room topic.
    pub const TOPIC: &str = "m.room.topic";
    /// Room avatar.
    pub const AVATAR: &str = "m.room.avatar";
    /// Canonical alias.
    pub const CANONICAL_ALIAS: &str = "m.room.canonical_alias";
    /// End-to-end encryption setting.
    pub const ENCRYPTION: &str = "m.room.encryption";
    /// Guest access.
    pub const GUEST_ACCESS: &str = "m.room.guest_access";
    /// Redaction.
    pub const REDACTION: &str = "m.room.redaction";
    /// A message.
    pub const MESSAGE: &str = "m.room.message";
    /// An encrypted message.
    pub const ENCRYPTED: &str = "m.room.encrypted";
}

/// The event type string (`m.room.message`, `org.wardline.…`).
pub type EventKind = String;

/// Longest event type, in bytes (the Matrix spec's limit).
pub const MAX_EVENT_TYPE_BYTES: usize = 255;

/// Longest state key, in bytes (the Matrix spec's limit).
pub const MAX_STATE_KEY_BYTES: usize = 255;

/// Largest event, in bytes of its JSON as clients receive it (the Matrix spec's 65,536-byte
/// limit on a whole event).
pub const MAX_EVENT_BYTES: usize = 65_536;

/// Why an event is over the spec's size limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventLimitError {
    /// The type is too long.
    #[error("an event type may be at most {MAX_EVENT_TYPE_BYTES} bytes long")]
    TypeTooLong,
    /// The state key is too long.
    #[error("a state key may be at most {MAX_STATE_KEY_BYTES} bytes long")]
    StateKeyTooLong,
    /// The whole event is too large.
    #[error("an event may be at most {MAX_EVENT_BYTES} bytes")]
    TooLarge,
}

/// The transaction that produced an event: used for idempotent sends and echoed back to the
/// sending device only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnRef {
    /// Sending device.
    pub device_id: OwnedDeviceId,
    /// The client's transaction id.
    pub txn_id: OwnedTransactionId,
}

/// An event about to be appended to a room's log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Globally unique id.
    pub event_id: OwnedEventId,
    /// The room.
    pub room_id: OwnedRoomId,
    /// Who sent it.
    pub sender: OwnedUserId,
    /// Event type.
    pub kind: EventKind,
    /// Present for state events.
    pub state_key: Option<String>,
    /// The content object.
    pub content: Value,
    /// When the server accepted it.
    pub origin_server_ts: Timestamp,
    /// For redactions: the redacted event.
    pub redacts: Option<OwnedEventId>,
    /// The transaction that sent it, if any.
    pub txn: Option<TxnRef>,
}

impl NewEvent {
    /// The content's `membership`, for member events.
    #[must_use]
    pub fn membership(&self) -> Option<crate::Membership> {
        if self.kind != kinds::MEMBER {
            return None;
        }
        self.content.get("membership")?.as_str()?.parse().ok()
    }

    /// Checks the spec's limits: type and state key at most 255 bytes, the whole event (as a
    /// client receives it, before any `unsigned` data) at most 65,536 bytes.
    ///
    /// # Errors
    /// Which limit the event is over.
    pub fn check_limits(&self) -> Result<(), EventLimitError> {
        if self.kind.len() > MAX_EVENT_TYPE_BYTES {
            return Err(EventLimitError::TypeTooLong);
        }
        if self.state_key.as_ref().is_some_and(|k| k.len() > MAX_STATE_KEY_BYTES) {
            return Err(EventLimitError::StateKeyTooLong);
        }
        let mut obj = Map::new();
        obj.insert("event_id".into(), json!(self.event_id));
        obj.insert("room_id".into(), json!(self.room_id));
        obj.insert("sender".into(), json!(self.sender));
        obj.insert("type".into(), json!(self.kind));
        obj.insert("content".into(), self.content.clone());
        obj.insert("origin_server_ts".into(), json!(self.origin_server_ts.0));
        if let Some(sk) = &self.state_key {
            obj.insert("state_key".into(), json!(sk));
        }
        if let Some(r) = &self.redacts {
            obj.insert("redacts".into(), json!(r));
        }
        if Value::Object(obj).to_string().len() > MAX_EVENT_BYTES {
            return Err(EventLimitError::TooLarge);
        }
        Ok(())
    }
}

/// An event in a room's log, with its position in the server-wide stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Position in the stream: the total order of the room's log.
    pub stream: StreamPos,
    /// The event as it was appended (content already redacted if it has been).
    pub event: NewEvent,
    /// The redaction event that redacted this one, as client JSON.
    pub redacted_because: Option<Value>,
}

impl StoredEvent {
    /// Is this a state event?
    #[must_use]
    pub fn is_state(&self) -> bool {
        self.event.state_key.is_some()
    }

    /// The event in the client-server API's `ClientEvent` format, as seen by `viewer` at `now`.
    ///
    /// `unsigned.transaction_id` is included only for the device that sent it.
    #[must_use]
    pub fn to_client_json(&self, viewer: Option<(&UserId, &ruma::DeviceId)>, now: Timestamp) -> Value {
        let e = &self.event;
        let mut obj = Map::new();
        obj.insert("event_id".into(), json!(e.event_id));
        obj.insert("room_id".into(), json!(e.room_id));
        obj.insert("sender".into(), json!(e.sender));
        obj.insert("type".into(), json!(e.kind));
        obj.insert("content".into(), e.content.clone());
        obj.insert("origin_server_ts".into(), json!(e.origin_server_ts.0));
        if let Some(sk) = &e.state_key {
            obj.insert("state_key".into(), json!(sk));
        }
        if let Some(r) = &e.redacts {
            obj.insert("redacts".into(), json!(r));
        }
        let mut unsigned = Map::new();
        unsigned.insert("age".into(), json!(now.millis_since(e.origin_server_ts)));
        if let (Some(txn), Some((user, device))) = (&e.txn, viewer)
            && user == e.sender
            && *device == *txn.device_id
        {
            unsigned.insert("transaction_id".into(), json!(txn.txn_id));
        }
        if let Some(because) = &self.redacted_because {
            unsigned.insert("redacted_because".into(), because.clone());
        }
        obj.insert("unsigned".into(), Value::Object(unsigned));
        Value::Object(obj)
    }

    /// The content's `membership`, for member events.
    #[must_use]
    pub fn membership(&self) -> Option<crate::Membership> {
        self.event.membership()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::{device_id, event_id, room_id, user_id};

    fn sample() -> StoredEvent {
        StoredEvent {
            stream: StreamPos(3),
            event: NewEvent {
                event_id: event_id!("$abc").to_owned(),
                room_id: room_id!("!r:localhost").to_owned(),
                sender: user_id!("@a:localhost").to_owned(),
                kind: kinds::MESSAGE.into(),
                state_key: None,
                content: json!({"msgtype": "m.text", "body": "hi"}),
                origin_server_ts: Timestamp(1_000),
                redacts: None,
                txn: Some(TxnRef { device_id: device_id!("DEV").to_owned(), txn_id: "t1".into() }),
            },
            redacted_because: None,
        }
    }

    #[test]
    fn limits_on_types_state_keys_and_size() {
        let mut e = sample().event;
        assert_eq!(e.check_limits(), Ok(()));
        e.kind = "t".repeat(MAX_EVENT_TYPE_BYTES);
        assert_eq!(e.check_limits(), Ok(()));
        e.kind = "t".repeat(MAX_EVENT_TYPE_BYTES + 1);
        assert_eq!(e.check_limits(), Err(EventLimitError::TypeTooLong));
        e.kind = "m.room.topic".into();
        e.state_key = Some("k".repeat(MAX_STATE_KEY_BYTES + 1));
        assert_eq!(e.check_limits(), Err(EventLimitError::StateKeyTooLong));
        e.state_key = Some(String::new());
        e.content = json!({ "topic": "x".repeat(MAX_EVENT_BYTES - 300) });
        assert_eq!(e.check_limits(), Ok(()));
        e.content = json!({ "topic": "x".repeat(MAX_EVENT_BYTES) });
        assert_eq!(e.check_limits(), Err(EventLimitError::TooLarge));
        e.state_key = None;
        assert_eq!(e.check_limits(), Err(EventLimitError::TooLarge), "message events too");
    }

    #[test]
    fn transaction_id_only_for_the_sending_device() {
        let e = sample();
        let a = user_id!("@a:localhost");
        let mine = e.to_client_json(Some((a, device_id!("DEV"))), Timestamp(1_500));
        assert_eq!(mine["unsigned"]["transaction_id"], "t1");
        assert_eq!(mine["unsigned"]["age"], 500);
        let other_device = e.to_client_json(Some((a, device_id!("OTHER"))), Timestamp(1_500));
        assert!(other_device["unsigned"].get("transaction_id").is_none());
        let other_user = e.to_client_json(Some((user_id!("@b:localhost"), device_id!("DEV"))), Timestamp(1_500));
        assert!(other_user["unsigned"].get("transaction_id").is_none());
        assert!(mine.get("state_key").is_none());
    }
}
