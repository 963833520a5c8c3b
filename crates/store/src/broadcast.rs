//! Broadcasts: the record of each one, found by its conversation or by its sender's
//! transaction id (so a retried request never sends twice), and the claim of a reminder.

use async_trait::async_trait;
use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use wardline_types::Timestamp;
use wardline_types::broadcast::Audience;
use wardline_types::priority::Level;

use crate::StoreResult;

/// A broadcast as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    /// Its conversation (also the broadcast's id).
    pub room_id: OwnedRoomId,
    /// The broadcast message.
    pub event_id: OwnedEventId,
    /// Who sent it.
    pub sender: OwnedUserId,
    /// The sender's transaction id.
    pub txn_id: String,
    /// Who it went to.
    pub audience: Audience,
    /// Its title.
    pub title: String,
    /// Its priority.
    pub level: Level,
    /// Does it ask each recipient to acknowledge?
    pub acknowledge: bool,
    /// When it was sent.
    pub sent: Timestamp,
    /// How many recipients it had when sent.
    pub recipients: u64,
    /// When its recipients were last reminded.
    pub reminded: Option<Timestamp>,
}

/// Broadcasts.
#[async_trait]
pub trait BroadcastStore: Send + Sync {
    /// Records a broadcast; `false` (and nothing written) if its sender already has one with
    /// this transaction id.
    async fn insert_broadcast(&self, b: Broadcast) -> StoreResult<bool>;
    /// The broadcast in this conversation.
    async fn broadcast(&self, room: &RoomId) -> StoreResult<Option<Broadcast>>;
    /// The sender's broadcast with this transaction id.
    async fn broadcast_for_txn(&self, sender: &UserId, txn_id: &str) -> StoreResult<Option<Broadcast>>;
    /// The sender's latest `limit` broadcasts, newest first.
    async fn broadcasts_by(&self, sender: &UserId, limit: usize) -> StoreResult<Vec<Broadcast>>;
    /// Claims a reminder at `now` if none was sent after `not_after`: `Ok(None)` when claimed
    /// (the reminder time is written), `Ok(Some(last))` with the last reminder's time when
    /// refused. Decided inside the write, so two claims never both succeed.
    async fn claim_reminder(
        &self,
        room: &RoomId,
        now: Timestamp,
        not_after: Timestamp,
    ) -> StoreResult<Option<Timestamp>>;
}
