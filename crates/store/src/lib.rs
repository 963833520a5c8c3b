//! Storage traits: what the services need from a database, split by capability.
//!
//! **Invariant:** nothing outside a `wardline-store-*` crate knows which database is behind
//! these traits. Every implementation passes the shared conformance suite in [`conformance`].
//!
//! **Invariant:** positions in the stream are handed out in commit order: once
//! [`Store::current_pos`] returns `p`, every change at a position `<= p` is committed and
//! readable, and no later change will take a position `<= p`.

mod alarms;
mod broadcast;
pub mod conformance;
mod deadlines;
mod dnd;
mod error;
mod escalation;
mod filings;
mod integrations;
mod observer;
mod outbox;
mod patient_context;
mod patients;
mod push;
mod records;
mod relations;
mod roles;
mod search;
mod topics;
mod wctp;

use async_trait::async_trait;
use ruma::{DeviceId, EventId, OwnedDeviceId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde_json::Value;
use wardline_types::audit::{AuditRecord, Checkpoint, NewAuditRecord};
use wardline_types::{
    Account, AccountUpdate, Device, Membership, NewAccount, NewEvent, StoredEvent, StreamPos, Timestamp,
};

pub use alarms::{
    Alarm, AlarmChange, AlarmEvent, AlarmQuery, AlarmStore, Dispatched, FactToRecord, Intake, IntakeOutcome, NewAlarm,
    Routing, StatusFact, StoredRule,
};
pub use broadcast::{Broadcast, BroadcastStore};
pub use deadlines::{AnswerDeadline, DeadlineEnd, DeadlineStore};
pub use dnd::{CursorStore, DndRefusal, DndStore, NewDnd};
pub use error::StoreError;
pub use escalation::{Escalation, EscalationEnd, EscalationStore, NewEscalation, StepRecord};
pub use filings::{FiledEvent, FiledStatus, Filing, FilingHeld, FilingResult, FilingStore, NewFiling};
pub use integrations::{Integration, IntegrationKey, IntegrationStore, KEY_TOUCH_INTERVAL_MS, NewIntegration};
pub use observer::{NoObserver, WriteObserver};
pub use outbox::{IntegrationOutboxStore, NewReport, Report, ReportChannel, ReportOutcome, ReportQuery, Webhook};
pub use patient_context::{PatientContextStore, PatientTie};
pub use patients::{AdtApplied, AdtEvent, Patient, PatientStore, PatientUpdate};
pub use push::{NewPush, PushOutcome, PushStore, PushTally, Pusher, PusherKind, QueuedPush};
pub use records::{
    AccountDataChange, Away, ChangeMark, ChangeTopic, Delivery, Direction, ImportOutcome, Media, MediaContent,
    MediaRef, MembershipChange, NewMedia, NewSession, PosRange, Presence, Receipt, Session, Totp,
};
pub use relations::{Relation, RelationFilter, RelationStore, ThreadActivity, ThreadQuery};
pub use roles::{
    HolderChange, HolderOp, HolderRefusal, RoleNotice, RoleStore, RotaApplied, RotaImportOutcome, Uncovered,
};
pub use search::{SearchHit, SearchOrder, SearchQuery, SearchResults, SearchScope};
pub use topics::{StoredTopic, TOPIC_MISSING, TopicStore};
pub use wctp::WctpStore;

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Staff accounts and the organisation directory.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account; [`StoreError::Conflict`] if the username is taken.
    async fn create_account(&self, account: NewAccount, now: Timestamp) -> StoreResult<Account>;
    /// Creates or updates many accounts in one transaction: all or nothing.
    async fn import_accounts(
        &self,
        creates: Vec<NewAccount>,
        updates: Vec<(ruma::OwnedUserId, AccountUpdate)>,
        now: Timestamp,
    ) -> StoreResult<ImportOutcome>;
    /// One account, deactivated or not.
    async fn account(&self, user_id: &UserId) -> StoreResult<Option<Account>>;
    /// The stored argon2id PHC string.
    async fn password_hash(&self, user_id: &UserId) -> StoreResult<Option<String>>;
    /// Replaces the password hash.
    async fn set_password(&self, user_id: &UserId, hash: &str, must_change: bool) -> StoreResult<()>;
    /// Changes an account's directory entry, password or rights; [`StoreError::NotFound`] if
    /// there is no such account.
    async fn update_account(&self, user_id: &UserId, update: AccountUpdate) -> StoreResult<()>;
    /// Every account, ordered by user id.
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    /// How many accounts exist.
    async fn count_accounts(&self) -> StoreResult<u64>;
    /// Marks an account (in)active.
    async fn set_deactivated(&self, user_id: &UserId, deactivated: bool) -> StoreResult<()>;
    /// Changes display name and/or avatar; `Some(None)` clears a field.
    async fn set_profile(
        &self,
        user_id: &UserId,
        display_name: Option<Option<String>>,
        avatar_url: Option<Option<String>>,
    ) -> StoreResult<()>;
    /// Active accounts whose user id, display name, job title or department contains `term`
    /// (case-insensitive), at most `limit` of them.
    async fn search_directory(&self, term: &str, limit: usize) -> StoreResult<Vec<Account>>;
}

/// Devices and their access tokens (stored hashed).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a new session, creating its device if needed. A device keeps at most one token:
    /// an older token of the same device is replaced.
    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    /// The session owning a token hash.
    async fn session_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Session>>;
    /// Swaps a refresh token for a new access token and refresh token, in one step: the old
    /// pair stops working. `None` if the refresh token is unknown (or was already used).
    async fn refresh_session(
        &self,
        refresh_hash: &str,
        new_token_hash: &str,
        new_refresh_hash: &str,
        expires_at: Option<Timestamp>,
    ) -> StoreResult<Option<Session>>;
    /// A user's devices.
    async fn devices(&self, user_id: &UserId) -> StoreResult<Vec<Device>>;
    /// Renames a device; [`StoreError::NotFound`] if it doesn't exist.
    async fn set_device_name(&self, user_id: &UserId, device_id: &DeviceId, name: Option<String>) -> StoreResult<()>;
    /// Deletes devices and their tokens; returns those that existed.
    async fn delete_devices(&self, user_id: &UserId, device_ids: &[OwnedDeviceId]) -> StoreResult<Vec<OwnedDeviceId>>;
    /// Deletes every device of the user except `keep`; returns the deleted ones.
    async fn delete_all_devices(&self, user_id: &UserId, keep: Option<&DeviceId>) -> StoreResult<Vec<OwnedDeviceId>>;
    /// Users whose device list changed (a device added, removed or renamed) at positions in
    /// `range`, each once. Creating a session, deleting devices and renaming one record such a
    /// change, at a position of its own, in the transaction that makes it (a new session on a
    /// device that exists, under the same name, changes nothing).
    async fn device_list_changes(&self, range: PosRange) -> StoreResult<Vec<OwnedUserId>>;
    /// Remembers why each of the user's current access tokens is about to end (`reason`, at
    /// `at`), and forgets what was remembered before `forget_before`. Call before ending them.
    async fn remember_ending_tokens(
        &self,
        user_id: &UserId,
        reason: &str,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> StoreResult<()>;
    /// Why the session of an access token that no longer works ended, and when, if remembered.
    async fn ended_token(&self, token_hash: &str) -> StoreResult<Option<(String, Timestamp)>>;
    /// Records activity of a device.
    async fn touch_device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        ts: Timestamp,
        ip: Option<String>,
    ) -> StoreResult<()>;
}

/// Rooms as totally ordered logs of events, with their current state and memberships.
#[async_trait]
pub trait RoomStore: Send + Sync {
    /// Appends events, in order, with their audit records, in one transaction; returns the
    /// events' stream positions.
    ///
    /// The store maintains the current state, current memberships and membership history, and
    /// applies redactions (keeping the original content for investigations). It keeps the
    /// relations index ([`RelationStore`]) in the same transaction.
    async fn append_events(&self, events: Vec<NewEvent>, audit: Vec<NewAuditRecord>) -> StoreResult<Vec<StreamPos>>;
    /// One event by id.
    async fn event(&self, event_id: &EventId) -> StoreResult<Option<StoredEvent>>;
    /// The event sent earlier by this device with this transaction id.
    async fn event_for_txn(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        txn_id: &str,
    ) -> StoreResult<Option<OwnedEventId>>;
    /// Events of a room in `range`, nearest the start of `dir` first, at most `limit`.
    async fn room_events(
        &self,
        room_id: &RoomId,
        range: PosRange,
        dir: Direction,
        limit: usize,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// The room's state after every event at a position `<= at`.
    async fn state_at(&self, room_id: &RoomId, at: StreamPos) -> StoreResult<Vec<StoredEvent>>;
    /// The latest state event for each key among those at positions in `range`.
    async fn state_changes(&self, room_id: &RoomId, range: PosRange) -> StoreResult<Vec<StoredEvent>>;
    /// Every state event of one type in the room, in stream order (for history visibility).
    async fn state_history(&self, room_id: &RoomId, kind: &str) -> StoreResult<Vec<StoredEvent>>;
    /// Does the room exist?
    async fn room_exists(&self, room_id: &RoomId) -> StoreResult<bool>;
    /// Current members of a room with their membership.
    async fn members(&self, room_id: &RoomId) -> StoreResult<Vec<(ruma::OwnedUserId, Membership)>>;
    /// Current membership of a user in every room they have one in (forgotten rooms excluded).
    async fn rooms_of_user(&self, user_id: &UserId) -> StoreResult<Vec<MembershipChange>>;
    /// Changes of the user's membership at positions in `range`, in order.
    async fn membership_changes(&self, user_id: &UserId, range: PosRange) -> StoreResult<Vec<MembershipChange>>;
    /// Events of a room sent by `sender` in `range`, newest first, at most `limit`.
    async fn events_by_sender(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        range: PosRange,
        limit: usize,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// The user's membership history in one room, in order.
    async fn membership_history(&self, user_id: &UserId, room_id: &RoomId) -> StoreResult<Vec<MembershipChange>>;
    /// The membership histories of `users` in one room, each in order (one query).
    async fn membership_histories(
        &self,
        room_id: &RoomId,
        users: &[OwnedUserId],
    ) -> StoreResult<Vec<(OwnedUserId, MembershipChange)>>;
    /// The position of the latest message (`m.room.message`, `m.room.encrypted`, `m.sticker`)
    /// `sender` sent in the room at or before `upto`.
    async fn last_message_by(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        upto: StreamPos,
    ) -> StoreResult<Option<StreamPos>>;
    /// Unread messages for `user_id` in the room up to `upto`: messages (not redacted) from others
    /// after both the user's newest read receipt or read marker and the user's own newest event.
    async fn unread_count(&self, room_id: &RoomId, user_id: &UserId, upto: StreamPos) -> StoreResult<u64>;
    /// Where the user's unread messages in the room begin as of `upto`: the later of their newest
    /// read receipt or read marker and their own newest event (`ZERO`: neither).
    async fn read_point(&self, room_id: &RoomId, user_id: &UserId, upto: StreamPos) -> StoreResult<StreamPos>;
    /// What [`RoomStore::unread_count`] gained over `range`: messages from others in it, or `None`
    /// when the range holds the user's own event or a redaction (the count must be taken afresh).
    /// Receipts are not looked at: the caller knows from [`ChangeTopic::ReceiptsBy`].
    async fn unread_gained(&self, room_id: &RoomId, user_id: &UserId, range: PosRange) -> StoreResult<Option<u64>>;
    /// The content an event had before it was redacted (kept for investigations, never served
    /// to clients); `None` if it was not redacted.
    async fn original_content(&self, event_id: &EventId) -> StoreResult<Option<Value>>;
    /// Hides a room the user has left from their sync.
    async fn forget_room(&self, user_id: &UserId, room_id: &RoomId) -> StoreResult<()>;
    /// Ids of every room (for caches).
    async fn room_ids(&self) -> StoreResult<Vec<OwnedRoomId>>;
}

/// Full-text search of room events.
///
/// [`RoomStore::append_events`] keeps the index in the same transaction as the events it
/// indexes, by the rules of [`wardline_types::search`]:
/// - a message is found by its text, and once edited (an `m.replace` by its own sender, in its
///   room, of a message that is not itself an edit) by its latest edit's text only; the result
///   is always the original message;
/// - a redacted message, room name or topic is no longer found; a redacted edit gives the
///   message back the text it had before that edit.
///
/// **Invariant:** a search only ever looks inside the [`SearchScope`]s it is given. The caller
/// builds them from what the searcher may see; the store never widens them, and counts only
/// what lies inside them, so a count never reveals events the searcher cannot see.
#[async_trait]
pub trait SearchStore: Send + Sync {
    /// The events matching `query` inside its scopes, one page of them, with the number of all
    /// matches inside the scopes.
    async fn search_events(&self, query: SearchQuery) -> StoreResult<SearchResults>;
}

/// Read receipts: the latest of each user's per type and thread (served to clients), and the
/// log of every public read receipt as sent, with its device (for "Read").
#[async_trait]
pub trait ReceiptStore: Send + Sync {
    /// Stores a receipt, replacing the user's earlier one of the same type and thread, unless the
    /// earlier one points later in the room. It is logged with its device whenever it advances;
    /// one that does not advance is logged too when a delivery to its device was recorded at a
    /// position in `(arrived of that device's previous logged receipt of the type and thread,
    /// receipt.arrived]` (a client re-sending its receipt once it has shown more). Returns the
    /// position it took, or `None` if it was neither stored nor logged.
    async fn put_receipt(&self, receipt: Receipt) -> StoreResult<Option<StreamPos>>;
    /// Receipts of a room that changed at positions in `range`.
    async fn receipts(&self, room_id: &RoomId, range: PosRange) -> StoreResult<Vec<Receipt>>;
    /// The public read receipts (`m.read`, any thread) logged in the room at positions in
    /// `range`, in order.
    async fn read_receipt_log(&self, room_id: &RoomId, range: PosRange) -> StoreResult<Vec<Receipt>>;
    /// For each `(user, device, thread)`: the user's latest public read receipt in the room from
    /// that device in that thread (`None`: unthreaded) logged at a position `<= at`, if any.
    async fn latest_read_receipts(
        &self,
        room_id: &RoomId,
        keys: &[(OwnedUserId, Option<OwnedDeviceId>, Option<String>)],
        at: StreamPos,
    ) -> StoreResult<Vec<Receipt>>;
    /// For each `(user, after)`: the user's public read receipts in the room (any thread, any
    /// device) logged at positions after `after` that point at `from_event` or later, in order.
    async fn read_receipts_since(
        &self,
        room_id: &RoomId,
        users: &[(OwnedUserId, StreamPos)],
        from_event: StreamPos,
    ) -> StoreResult<Vec<Receipt>>;
}

/// Which of a room's events reached which member's device, and when: intervals of the room's log
/// per member and device, each stored once with the time it was first delivered to that device.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Records deliveries. Of each, only the room's events not delivered to that device before
    /// are recorded (what was delivered earlier keeps its earlier time): each run of them is
    /// stored as a [`Delivery`] from its first event to its last, at the next stream position.
    /// Returns what was recorded.
    async fn put_deliveries(&self, deliveries: Vec<Delivery>) -> StoreResult<Vec<Delivery>>;
    /// The deliveries to each of `users` (every device) in the room that cover a position in
    /// `span`, ordered by member, device and position. One query however many members.
    async fn deliveries(&self, room_id: &RoomId, users: &[OwnedUserId], span: PosRange) -> StoreResult<Vec<Delivery>>;
    /// The deliveries in the room recorded at positions in `range` whose first position is
    /// `<= starting_by`, in the order recorded.
    async fn delivery_changes(
        &self,
        room_id: &RoomId,
        range: PosRange,
        starting_by: StreamPos,
    ) -> StoreResult<Vec<Delivery>>;
    /// For each `(user, device, range)`: the deliveries in the room to that device of the user,
    /// and to the user's unknown device (recorded before devices were), recorded at positions in
    /// `range`.
    async fn device_delivery_changes(
        &self,
        room_id: &RoomId,
        windows: &[(OwnedUserId, Option<OwnedDeviceId>, PosRange)],
    ) -> StoreResult<Vec<Delivery>>;
}

/// Per-user account data, global and per room.
#[async_trait]
pub trait AccountDataStore: Send + Sync {
    /// Sets one entry; returns its position.
    async fn put_account_data(
        &self,
        user_id: &UserId,
        room_id: Option<&RoomId>,
        kind: &str,
        content: Value,
    ) -> StoreResult<StreamPos>;
    /// One entry.
    async fn account_data(&self, user_id: &UserId, room_id: Option<&RoomId>, kind: &str) -> StoreResult<Option<Value>>;
    /// Entries that changed at positions in `range`.
    async fn account_data_changes(&self, user_id: &UserId, range: PosRange) -> StoreResult<Vec<AccountDataChange>>;
}

/// Stored sync filters.
#[async_trait]
pub trait FilterStore: Send + Sync {
    /// Stores a filter's JSON text unchanged; returns its id.
    async fn put_filter(&self, user_id: &UserId, json: &str) -> StoreResult<String>;
    /// A stored filter's JSON text.
    async fn filter(&self, user_id: &UserId, filter_id: &str) -> StoreResult<Option<String>>;
}

/// Presence.
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Replaces a user's presence, at a new position, if what is stored is still `expected`
    /// (`None`: nothing stored yet), compared field by field, position included. Returns the new
    /// position, or `None` (nothing written) when it had changed meanwhile: whoever decided from
    /// `expected` reads again and decides again.
    async fn put_presence(&self, presence: Presence, expected: Option<Presence>) -> StoreResult<Option<StreamPos>>;
    /// Moves a user's stored last sync and last activity forward (never back), keeping the
    /// position: facts nobody is told of until they make presence expire. No-op without a row.
    async fn note_presence(
        &self,
        user_id: &UserId,
        last_sync: Option<Timestamp>,
        last_active: Option<Timestamp>,
    ) -> StoreResult<()>;
    /// A user's presence.
    async fn presence(&self, user_id: &UserId) -> StoreResult<Option<Presence>>;
    /// Presence changes at positions in `range`.
    async fn presence_changes(&self, range: PosRange) -> StoreResult<Vec<Presence>>;
    /// Presence that may have expired: not `offline`, with no sync recorded since
    /// `synced_before` (or none at all); or `online`, with no activity since `active_before`.
    async fn presence_expiring(&self, synced_before: Timestamp, active_before: Timestamp)
    -> StoreResult<Vec<Presence>>;
}

/// The audit trail: an append-only hash chain with signed checkpoints.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Links records onto the end of the chain, in one transaction.
    async fn append_audit(&self, records: Vec<NewAuditRecord>) -> StoreResult<()>;
    /// Records in stored order from position `from_seq` on, at most `limit`. A record whose
    /// stored values cannot be read fails the call with [`StoreError::UnreadableAuditRecord`]
    /// naming it (records before it can be read by asking for fewer).
    async fn audit_records(&self, from_seq: u64, limit: usize) -> StoreResult<Vec<AuditRecord>>;
    /// The last record's position and hash (`0` and the genesis hash when empty).
    async fn audit_head(&self) -> StoreResult<(u64, String)>;
    /// Stores a signed checkpoint. A checkpoint already stored for the same position is kept:
    /// a signed statement is never replaced.
    async fn put_checkpoint(&self, checkpoint: Checkpoint) -> StoreResult<()>;
    /// Every checkpoint, in order.
    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>>;
}

/// Second factors: a TOTP secret per user and single-use recovery codes (stored hashed).
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The user's TOTP enrolment, if any.
    async fn totp(&self, user_id: &UserId) -> StoreResult<Option<Totp>>;
    /// Starts (or restarts) an enrolment with a new secret, not yet confirmed.
    async fn put_totp(&self, user_id: &UserId, secret: &str, now: Timestamp) -> StoreResult<()>;
    /// Confirms the enrolment and replaces the recovery codes, in one step.
    async fn confirm_totp(&self, user_id: &UserId, step: u64, recovery_hashes: Vec<String>) -> StoreResult<()>;
    /// Records that the code of `step` was used; `false` if that step (or a later one) was
    /// already used, so a code works once.
    async fn use_totp_step(&self, user_id: &UserId, step: u64) -> StoreResult<bool>;
    /// Uses a recovery code; `false` if unknown or already used.
    async fn use_recovery_code(&self, user_id: &UserId, code_hash: &str, now: Timestamp) -> StoreResult<bool>;
    /// Removes the second factor and its recovery codes.
    async fn delete_totp(&self, user_id: &UserId) -> StoreResult<()>;
}

/// Uploaded files: their metadata and the events that refer to them. The bytes are kept outside
/// the database, as blobs named by their hash; a blob is removed once no media item uses it.
///
/// `append_events` records a reference for each `mxc://` URI of a stored media item that an
/// event's content names ([`wardline_types::media::referenced`]). Redacting an event removes its
/// references; a media item that was referred to and has no reference left is released: it is
/// no longer served, and [`MediaStore::purge_released_media`] deletes it.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Records a new media item (`Conflict` if the id exists).
    async fn create_media(&self, media: NewMedia) -> StoreResult<()>;
    /// Attaches content to an item of `uploader` that has none: `NotFound` if there is no such
    /// item of theirs, `Conflict` if it already has content.
    async fn put_media_content(&self, media_id: &str, uploader: &UserId, content: MediaContent) -> StoreResult<()>;
    /// A media item that has not been released.
    async fn media(&self, media_id: &str) -> StoreResult<Option<Media>>;
    /// Bytes of content the user has uploaded and that are still kept (for the quota).
    async fn media_bytes_of(&self, user_id: &UserId) -> StoreResult<u64>;
    /// The events that refer to a media item.
    async fn media_refs(&self, media_id: &str) -> StoreResult<Vec<MediaRef>>;
    /// Deletes released items and ids whose upload deadline passed without content; returns the
    /// blob hashes no item uses any more, for the caller to delete.
    async fn purge_released_media(&self, now: Timestamp) -> StoreResult<Vec<String>>;
    /// Is a blob used by any item?
    async fn blob_in_use(&self, hash: &str) -> StoreResult<bool>;
}

/// Facts fixed when the server first started.
#[async_trait]
pub trait MetaStore: Send + Sync {
    /// Records the server name on first use and returns the name the data belongs to: user
    /// and room ids embed it, so it can never change afterwards.
    async fn bind_server_name(&self, name: &str) -> StoreResult<String>;
    /// A stored server setting.
    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores a server setting.
    async fn put_meta(&self, key: &str, value: &str) -> StoreResult<()>;
}

/// Whether a store can take writes, as cheaply as it can tell without writing (for readiness).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreHealth {
    /// Writes can run: `false` once the store's writer stopped for good (every write fails until
    /// the process restarts, so the process should exit and let its supervisor restart it).
    pub writer_running: bool,
}

/// Everything a Wardline server stores.
#[async_trait]
pub trait Store:
    std::fmt::Debug
    + AccountStore
    + SessionStore
    + RoomStore
    + SearchStore
    + ReceiptStore
    + DeliveryStore
    + AccountDataStore
    + FilterStore
    + PresenceStore
    + MetaStore
    + AuditStore
    + MfaStore
    + MediaStore
    + RelationStore
    + RoleStore
    + DndStore
    + CursorStore
    + EscalationStore
    + DeadlineStore
    + BroadcastStore
    + PushStore
    + IntegrationStore
    + AlarmStore
    + PatientStore
    + IntegrationOutboxStore
    + WctpStore
    + TopicStore
    + PatientContextStore
    + FilingStore
{
    /// The latest committed stream position.
    fn current_pos(&self) -> StreamPos;

    /// When `topic` last changed. Published before [`Store::current_pos`] covers the change, so
    /// `last_change(t).pos <= after` proves that nothing in `t` changed in `(after, current_pos()]`
    /// for a `current_pos()` read before this call. The mark may be later than the change, never
    /// earlier; a topic unchanged since the store opened reports the opening position, serial 0 and
    /// count 0. For [`ChangeTopic::RoomEvents`] the position is exactly that of the room's latest
    /// event and the count is the number of events appended since the store opened. (A store
    /// shared by several nodes must feed in the other nodes' changes as well.)
    fn last_change(&self, topic: &ChangeTopic) -> ChangeMark;

    /// How many write groups have committed since the store opened. A cache that reads this
    /// before a query may keep the answer while `last_change(t).serial` stays at or below it.
    fn commit_serial(&self) -> u64;

    /// What the store knows of its own health without writing.
    fn health(&self) -> StoreHealth;

    /// Runs a small durable write through the same path as every other write and returns once
    /// it committed: proof that the store accepts writes now. It changes nothing any other call
    /// reads, takes no stream position and publishes no change.
    async fn probe_write(&self) -> StoreResult<()>;

    /// Resolves once [`StoreHealth::writer_running`] turned `false` (never, while it stays `true`).
    async fn writer_stopped(&self);
}
