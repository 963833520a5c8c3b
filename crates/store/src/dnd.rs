//! Do not disturb with cover, and the cursors of background tasks that follow the stream.

use async_trait::async_trait;
use ruma::{OwnedDeviceId, OwnedUserId, UserId};
use wardline_types::{DndPeriod, DoNotDisturb, StoredEvent, StreamPos, Timestamp};

use crate::{PosRange, StoreResult};

/// A do-not-disturb to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDnd {
    /// Who.
    pub user_id: OwnedUserId,
    /// Until when (after `at`).
    pub until: Timestamp,
    /// The colleague named as cover, if any (never `user_id`: the caller checks).
    pub cover: Option<OwnedUserId>,
    /// Now.
    pub at: Timestamp,
    /// The device it was set from.
    pub device_id: Option<OwnedDeviceId>,
}

/// Why the store refused a do-not-disturb (nothing was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DndRefusal {
    /// The cover is on do-not-disturb themself at `at` (until then).
    CoverOnDnd(OwnedUserId, Timestamp),
    /// The cover has no active account.
    CoverNotActive(OwnedUserId),
}

/// Do not disturb: what each person has set now, and the record of every period.
///
/// **Invariant:** whether a cover is on do-not-disturb is checked inside the write that names
/// them, so two people naming each other at the same moment cannot both succeed. Every set and
/// every end (cleared, or run out and removed by [`DndStore::end_expired_dnd`]) gives the
/// person's presence a new stream position (creating a presence row for someone never seen)
/// and marks [`crate::ChangeTopic::Presence`], in the same write, so colleagues' `/sync` hears
/// of it. Every period is kept in the record ([`DndStore::dnd_periods`]); ending one early sets
/// its end, nothing else in it changes.
#[async_trait]
pub trait DndStore: Send + Sync {
    /// Sets `dnd.user_id`'s do-not-disturb, replacing (and ending in the record) any stored one,
    /// unless the cover is on do-not-disturb at `dnd.at` or has no active account.
    async fn set_dnd(&self, dnd: NewDnd) -> StoreResult<Result<DoNotDisturb, DndRefusal>>;
    /// Ends the user's do-not-disturb at `at`; returns what was stored, if anything (perhaps
    /// already run out). The record's period ends at `at` if it had not ended by then.
    async fn clear_dnd(&self, user_id: &UserId, at: Timestamp) -> StoreResult<Option<DoNotDisturb>>;
    /// The user's stored do-not-disturb (in force only while `now < until`).
    async fn dnd(&self, user_id: &UserId) -> StoreResult<Option<DoNotDisturb>>;
    /// The stored do-not-disturb of each of `users` that has one (one query).
    async fn dnds(&self, users: &[OwnedUserId]) -> StoreResult<Vec<DoNotDisturb>>;
    /// Removes every stored do-not-disturb that ran out by `now` (`until <= now`), and returns
    /// them: the record keeps their periods.
    async fn end_expired_dnd(&self, now: Timestamp) -> StoreResult<Vec<DoNotDisturb>>;
    /// The earliest `until` of those stored, if any.
    async fn next_dnd_end(&self) -> StoreResult<Option<Timestamp>>;
    /// Every period in the record that was in force at some time in `[from, to]`, by start.
    async fn dnd_periods(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<DndPeriod>>;
}

/// What background tasks that follow the server's stream of events need: their position,
/// kept by name, so that after a restart each picks up where it stopped.
#[async_trait]
pub trait CursorStore: Send + Sync {
    /// The stored position of the follower `name`.
    async fn cursor(&self, name: &str) -> StoreResult<Option<StreamPos>>;
    /// Stores the follower's position; a position before the stored one is ignored (a cursor
    /// never goes back).
    async fn put_cursor(&self, name: &str, pos: StreamPos) -> StoreResult<()>;
    /// Room events of type `kind`, of every room, at positions in `range`, in order, at most
    /// `limit` (redacted ones as redacted).
    async fn events_of_kind(&self, kind: &str, range: PosRange, limit: usize) -> StoreResult<Vec<StoredEvent>>;
}
