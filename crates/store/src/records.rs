//! Plain records passed to and from the storage traits.

use ruma::{OwnedDeviceId, OwnedEventId, OwnedRoomId, OwnedUserId};
use serde_json::Value;
use wardline_types::{Membership, StreamPos, Timestamp};

/// A half-open range of stream positions: `after < pos <= upto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosRange {
    /// Exclusive lower bound.
    pub after: StreamPos,
    /// Inclusive upper bound.
    pub upto: StreamPos,
}

impl PosRange {
    /// `after < pos <= upto`.
    #[must_use]
    pub fn new(after: StreamPos, upto: StreamPos) -> Self {
        Self { after, upto }
    }

    /// Everything up to and including `upto`.
    #[must_use]
    pub fn upto(upto: StreamPos) -> Self {
        Self { after: StreamPos::ZERO, upto }
    }

    /// Is the range empty?
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.upto <= self.after
    }
}

/// Which end of a range to read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Oldest first.
    Forward,
    /// Newest first.
    Backward,
}

/// A new session to record.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Owner.
    pub user_id: OwnedUserId,
    /// Device (created if new).
    pub device_id: OwnedDeviceId,
    /// Display name for a new device.
    pub device_name: Option<String>,
    /// SHA-256 of the access token, hex.
    pub token_hash: String,
    /// SHA-256 of the refresh token, for clients that use them.
    pub refresh_hash: Option<String>,
    /// When the access token stops working (`None`: when the session ends).
    pub expires_at: Option<Timestamp>,
    /// When.
    pub created_at: Timestamp,
    /// From where.
    pub ip: Option<String>,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Owner.
    pub user_id: OwnedUserId,
    /// Device.
    pub device_id: OwnedDeviceId,
    /// When the user signed in (kept across refreshes).
    pub created_at: Timestamp,
    /// When the access token stops working.
    pub expires_at: Option<Timestamp>,
    /// Last activity of the device.
    pub last_seen: Option<Timestamp>,
}

/// A membership of a user in a room, or a change of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipChange {
    /// The room.
    pub room_id: OwnedRoomId,
    /// The membership it changed to.
    pub membership: Membership,
    /// Position of the member event.
    pub stream: StreamPos,
}

/// A read receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// Room.
    pub room_id: OwnedRoomId,
    /// Reader.
    pub user_id: OwnedUserId,
    /// `m.read` or `m.read.private`.
    pub receipt_type: String,
    /// Thread id, or `None` for unthreaded.
    pub thread_id: Option<String>,
    /// The event read up to.
    pub event_id: OwnedEventId,
    /// That event's position.
    pub event_stream: StreamPos,
    /// When it was read: when the request carrying it arrived.
    pub ts: Timestamp,
    /// Position of the receipt itself (ignored on put).
    pub stream: StreamPos,
    /// The device that sent it; `None` for one kept from before devices were recorded (and in
    /// the latest receipts served to clients, which do not say).
    pub device_id: Option<OwnedDeviceId>,
    /// What the device could have had when the receipt arrived: every delivery to it recorded
    /// at a position `<= arrived` was made before ([`crate::ReceiptStore::put_receipt`]).
    pub arrived: StreamPos,
}

/// Room events that reached one member's device in one response: every event of the room at a
/// position in `first..=last` (a sync timeline, a page of history). Positions of other rooms in
/// that span say nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Room.
    pub room_id: OwnedRoomId,
    /// The member whose device received them.
    pub user_id: OwnedUserId,
    /// That device; `None` for a delivery recorded before devices were (to one of the member's
    /// devices, which is not known).
    pub device_id: Option<OwnedDeviceId>,
    /// The first position covered.
    pub first: StreamPos,
    /// The last position covered.
    pub last: StreamPos,
    /// When the response carrying them was made.
    pub ts: Timestamp,
    /// Position of the record itself (ignored on put).
    pub stream: StreamPos,
}

impl Delivery {
    /// Does it cover the position `pos`?
    #[must_use]
    pub fn covers(&self, pos: StreamPos) -> bool {
        self.first <= pos && pos <= self.last
    }
}

/// A changed account-data entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountDataChange {
    /// Room, or `None` for global.
    pub room_id: Option<OwnedRoomId>,
    /// Type.
    pub kind: String,
    /// Content.
    pub content: Value,
    /// Position.
    pub stream: StreamPos,
}

/// A user's presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// Whose.
    pub user_id: OwnedUserId,
    /// `online`, `offline` or `unavailable`.
    pub state: String,
    /// Free text ("In theatre until 3").
    pub status_msg: Option<String>,
    /// The user's last activity (a message, a receipt, typing, coming online).
    pub last_active: Timestamp,
    /// The last time one of the user's clients synced (or set their presence); `None` once the
    /// user chose to be offline, until a client syncs again.
    pub last_sync: Option<Timestamp>,
    /// Why the user shows as away whatever their activity, if they do.
    pub away: Option<Away>,
    /// Position (ignored on put).
    pub stream: StreamPos,
}

/// Why a user shows as away (`unavailable`) however recently they were active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Away {
    /// They chose it (`PUT /presence/{userId}/status`): it lasts until they choose otherwise.
    User,
    /// Their client said they are idle (`/sync?set_presence=unavailable`): it lasts until a
    /// client says they are back, or they act.
    Client,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOutcome {
    /// Accounts created.
    pub created: usize,
    /// Accounts updated.
    pub updated: usize,
}

/// A user's TOTP enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totp {
    /// The shared secret (base32).
    pub secret: String,
    /// Confirmed with a first code: required at sign-in from then on.
    pub confirmed: bool,
    /// The last time step whose code was accepted.
    pub last_step: u64,
}

/// Something a write can change that readers may want to know about without querying: what
/// [`crate::Store::last_change`] reports on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangeTopic {
    /// New events in a room.
    RoomEvents(OwnedRoomId),
    /// A room's current state: a new state event in it, or a redaction (which may change one).
    RoomState(OwnedRoomId),
    /// New receipts in a room.
    RoomReceipts(OwnedRoomId),
    /// A user's own receipts and read markers, in any room.
    ReceiptsBy(OwnedUserId),
    /// New deliveries of a room's events to its members' devices.
    RoomDeliveries(OwnedRoomId),
    /// A user's membership of any room.
    Membership(OwnedUserId),
    /// A user's account data.
    AccountData(OwnedUserId),
    /// Anyone's presence.
    Presence,
    /// Who is a member of a room (its `m.room.member` events).
    RoomMembers(OwnedRoomId),
    /// Anyone's devices (added, removed or renamed).
    DeviceLists,
    /// A user's account, password, sessions or devices.
    Account(OwnedUserId),
    /// The set of roles or any role's definition.
    Roles,
    /// Who holds a role.
    RoleHolders(wardline_types::RoleId),
}

/// When a [`ChangeTopic`] last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeMark {
    /// A stream position at or after the last change.
    pub pos: StreamPos,
    /// The commit serial ([`crate::Store::commit_serial`]) of the last change.
    pub serial: u64,
    /// How many changes were recorded for the topic since the store opened (for room events:
    /// how many events), so a reader keeping its own copy can tell whether it missed one.
    pub count: u64,
}

/// A media id handed out before its content arrives (`POST /_matrix/media/v1/create`), or with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMedia {
    /// The id (the part of `mxc://server/id` after the server).
    pub media_id: String,
    /// Who may upload to it, and always fetch it.
    pub uploader: OwnedUserId,
    /// When it was created.
    pub created_at: Timestamp,
    /// For an id without content yet: when it stops accepting the upload.
    pub upload_by: Option<Timestamp>,
}

/// The content of a media item, stored as a blob named by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaContent {
    /// SHA-256 of the stored bytes, hex: the blob's name.
    pub hash: String,
    /// The content type served.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// The name given at upload.
    pub filename: Option<String>,
    /// Image width and height, when it is an image.
    pub dimensions: Option<(u32, u32)>,
    /// Reference to the key the blob is encrypted with; `None` while files are stored in the clear
    /// (key management comes with the governance work).
    pub key_ref: Option<String>,
}

/// A media item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Id, uploader, creation and upload deadline.
    pub meta: NewMedia,
    /// The content, once uploaded.
    pub content: Option<MediaContent>,
}

/// A message event that refers to a media item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    /// The room it was sent in.
    pub room_id: OwnedRoomId,
    /// The event.
    pub event_id: OwnedEventId,
    /// The event's position.
    pub stream: StreamPos,
}
