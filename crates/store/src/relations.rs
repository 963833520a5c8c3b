//! The index of relationships between events: which event is a reply in a thread, a reaction,
//! an edit or a reference to which other event of the same room.

use async_trait::async_trait;
use ruma::{EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use wardline_types::{StoredEvent, StreamPos, Timestamp};

use crate::{Direction, PosRange, StoreResult};

/// One indexed relation: a child event's `m.relates_to` (with a `rel_type`) to a parent in the
/// same room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The child event.
    pub event_id: OwnedEventId,
    /// The room of both events.
    pub room_id: OwnedRoomId,
    /// `m.annotation`, `m.replace`, `m.thread`, `m.reference` or another type.
    pub rel_type: String,
    /// The parent event.
    pub parent_id: OwnedEventId,
    /// Who sent the child.
    pub sender: OwnedUserId,
    /// The child's event type.
    pub kind: String,
    /// For annotations: the key.
    pub key: Option<String>,
    /// The child's position in the stream.
    pub stream: StreamPos,
    /// When the child was sent (edits are ordered by it, as the spec says).
    pub origin_server_ts: Timestamp,
}

/// Which children `/relations` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationFilter {
    /// Only children with this `rel_type`.
    pub rel_type: Option<String>,
    /// Only children of this event type.
    pub event_type: Option<String>,
    /// How many levels of children: 1 for direct children only; more follows children of
    /// children, through children that pass the filter.
    pub depth: u32,
}

/// The relations index, kept by `append_events` in the transaction that stores each event.
///
/// An event is indexed when its content has an `m.relates_to` with a string `rel_type` and the
/// id of an event already in the same room ([`wardline_types::relation::relation`]); the
/// redaction of a child removes it from the index (its `m.relates_to` is gone), the redaction
/// of a parent leaves its children.
#[async_trait]
pub trait RelationStore: Send + Sync {
    /// Children of `parent` in `room` that pass `filter`, at positions in `range`, nearest the
    /// start of `dir` first, at most `limit`.
    async fn relating_events(
        &self,
        room: &RoomId,
        parent: &EventId,
        filter: RelationFilter,
        range: PosRange,
        dir: Direction,
        limit: usize,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// The relations of the given types whose parent is one of `parents`, at positions up to
    /// `upto`, in stream order.
    async fn relations_to(
        &self,
        parents: &[OwnedEventId],
        rel_types: &[&str],
        upto: StreamPos,
    ) -> StoreResult<Vec<Relation>>;
    /// The relation `event_id` has to a parent, if it is an indexed child.
    async fn relation_of(&self, event_id: &EventId) -> StoreResult<Option<Relation>>;
    /// Has `sender` already annotated `parent` with `key` in an event of type `kind` that was
    /// not redacted?
    async fn has_annotation(&self, parent: &EventId, sender: &UserId, kind: &str, key: &str) -> StoreResult<bool>;
    /// The events with these ids that exist, in stream order.
    async fn events_by_id(&self, ids: &[OwnedEventId]) -> StoreResult<Vec<StoredEvent>>;
    /// The threads of `room`, most recently active first ([`ThreadQuery`]).
    async fn thread_roots(&self, room: &RoomId, query: ThreadQuery) -> StoreResult<Vec<ThreadActivity>>;
}

/// Which threads [`RelationStore::thread_roots`] lists. Only a root at a position in `ranges`,
/// and only events of the thread at positions in `ranges`, count: a thread is listed by its
/// latest such event, so a reader's list holds what they may see, ordered by it, never by
/// activity they may not see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadQuery {
    /// The stretches of the room's log that count (a reader's visible ranges).
    pub ranges: Vec<PosRange>,
    /// Only threads this user started (sent the root) or wrote in, within `ranges`.
    pub participant: Option<OwnedUserId>,
    /// Only threads whose latest counted event is below this position (the next page).
    pub before: Option<StreamPos>,
    /// Most threads listed.
    pub limit: usize,
}

/// A thread's root and the position of its latest counted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadActivity {
    /// The root message.
    pub root: OwnedEventId,
    /// The latest event of the thread in the query's ranges.
    pub latest: StreamPos,
}
