//! Pushers and the durable queue of push notifications.

use async_trait::async_trait;
use ruma::{OwnedDeviceId, OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
use serde_json::{Map, Value};
use wardline_types::priority::Level;
use wardline_types::{StreamPos, Timestamp};

use crate::StoreResult;

/// How a pusher reaches its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PusherKind {
    /// A Matrix push gateway (`POST …/_matrix/push/v1/notify`).
    Http,
    /// A browser's Web Push subscription (MSC4174): encrypted (RFC 8291), signed (RFC 8292).
    WebPush,
}

impl PusherKind {
    /// `http`, `webpush`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::WebPush => "webpush",
        }
    }

    /// The kind named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "http" => Some(Self::Http),
            "webpush" => Some(Self::WebPush),
            _ => None,
        }
    }
}

/// A device's registration for push notifications.
#[derive(Debug, Clone, PartialEq)]
pub struct Pusher {
    /// Whose.
    pub user_id: OwnedUserId,
    /// The application (reverse DNS).
    pub app_id: String,
    /// The device's key at the gateway; for Web Push the subscription's P-256 public key.
    pub pushkey: String,
    /// Gateway or Web Push.
    pub kind: PusherKind,
    /// The application's name, for people.
    pub app_display_name: String,
    /// The device's name, for people.
    pub device_display_name: String,
    /// Which device-specific push rules apply.
    pub profile_tag: Option<String>,
    /// The language notifications are wanted in.
    pub lang: String,
    /// The pusher's data (`url`, `format`, for Web Push `auth`).
    pub data: Map<String, Value>,
    /// The device whose session set it (the pusher ends with that device).
    pub device_id: Option<OwnedDeviceId>,
    /// When it was set (`pushkey_ts`).
    pub created: Timestamp,
}

/// A notification to queue: one event, one pusher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPush {
    /// To whom.
    pub user_id: OwnedUserId,
    /// Their pusher's application.
    pub app_id: String,
    /// Their pusher's key.
    pub pushkey: String,
    /// About which event.
    pub event_id: OwnedEventId,
    /// In which conversation.
    pub room_id: OwnedRoomId,
    /// The message's level.
    pub level: Level,
    /// Whether it should ring out (a mention, urgent or emergency): `prio: high`.
    pub highlight: bool,
    /// The person's unread messages in the conversation, with this one.
    pub unread: u64,
    /// The escalating message it is about, if any (the message itself, or the one a step's
    /// notice is about): every push of it failing hastens that escalation.
    pub escalation: Option<OwnedEventId>,
    /// When to send it first.
    pub due: Timestamp,
}

/// A queued notification, claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedPush {
    /// Its row.
    pub id: i64,
    /// What to send.
    pub push: NewPush,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// How one notification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Accepted by the gateway or push service.
    Sent,
    /// Failed for good: rejected, gone, or out of attempts.
    Failed,
}

/// The notifications to one person about one event, after one of them finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushTally {
    /// Still to send.
    pub pending: u64,
    /// Accepted.
    pub sent: u64,
    /// Failed for good.
    pub failed: u64,
}

/// Pushers, queued notifications and the server's VAPID key.
#[async_trait]
pub trait PushStore: Send + Sync {
    /// Creates or replaces the user's pusher with the same `app_id` and `pushkey`; unless
    /// `append`, other users' pushers with that `app_id` and `pushkey` are removed (the spec's
    /// rule: a push key belongs to one account unless appended). Returns the users whose pusher
    /// was removed so, sorted.
    async fn set_pusher(&self, pusher: Pusher, append: bool) -> StoreResult<Vec<OwnedUserId>>;
    /// Removes the user's pusher; whether there was one.
    async fn delete_pusher(&self, user_id: &UserId, app_id: &str, pushkey: &str) -> StoreResult<bool>;
    /// The user's pushers.
    async fn pushers(&self, user_id: &UserId) -> StoreResult<Vec<Pusher>>;
    /// The pushers of any of these users.
    async fn pushers_of(&self, users: &[OwnedUserId]) -> StoreResult<Vec<Pusher>>;
    /// One pusher.
    async fn pusher(&self, user_id: &UserId, app_id: &str, pushkey: &str) -> StoreResult<Option<Pusher>>;
    /// Queues notifications and moves the follower `cursor` to `upto`, in one transaction (a
    /// notification already queued is not queued again).
    async fn queue_pushes(&self, pushes: Vec<NewPush>, cursor: &str, upto: StreamPos) -> StoreResult<()>;
    /// Claims up to `limit` pending notifications due by `now` that nobody claimed since
    /// `lease_from`, counting an attempt for each: emergency ones first, then urgent, then
    /// routine, each oldest due first (and so returned).
    async fn claim_due_pushes(
        &self,
        now: Timestamp,
        lease_from: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<QueuedPush>>;
    /// When the next pending notification is due.
    async fn next_push_due(&self) -> StoreResult<Option<Timestamp>>;
    /// A claimed notification is to be tried again at `due`.
    async fn retry_push(&self, id: i64, due: Timestamp) -> StoreResult<()>;
    /// A claimed notification finished (`reason` says why it failed, never a message's text);
    /// the tally of its person's notifications about its event, after it. A notification that
    /// had already finished changes nothing (its tally is all zero).
    async fn finish_push(&self, id: i64, outcome: PushOutcome, reason: &str, now: Timestamp) -> StoreResult<PushTally>;
    /// Forgets notifications that finished before `before`; how many.
    async fn forget_pushes(&self, before: Timestamp) -> StoreResult<u64>;
    /// The server's VAPID key (PKCS#8): the stored one, else `fresh`, stored now.
    async fn vapid_key(&self, fresh: Vec<u8>, now: Timestamp) -> StoreResult<Vec<u8>>;
}
