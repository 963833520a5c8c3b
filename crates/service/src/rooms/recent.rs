//! Each room's latest events, kept in memory so that a woken `/sync` does not read them back from
//! the database (a message to a room of ten is read by nine syncs).
//!
//! **Invariant:** a room's tail holds every event of the room after its `floor`, which the store's
//! change count proves: the tail is used only when the number of events it has seen appended
//! equals the store's count for the room ([`ChangeTopic::RoomEvents`]). An append whose request
//! was cancelled after the commit, or anything else the tail missed, makes the counts differ, and
//! the next append starts the tail afresh. A redaction changes an earlier event, so it starts the
//! tail afresh too.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use ruma::{OwnedRoomId, RoomId};
use wardline_store::{ChangeTopic, PosRange, Store};
use wardline_types::{StoredEvent, StreamPos, kinds};

/// Events kept per room.
const PER_ROOM: usize = 16;
/// Rooms with a tail; beyond this the tails start afresh (at most about 16 × 4096 events).
const MAX_ROOMS: usize = 4096;

#[derive(Debug)]
struct Tail {
    /// Every event of the room after this position is in `events`.
    floor: StreamPos,
    /// The store's count of the room's events when the tail started.
    base_count: u64,
    /// Events appended since.
    appended: u64,
    events: VecDeque<StoredEvent>,
}

/// The tails of all rooms.
#[derive(Debug, Default)]
pub(crate) struct RecentEvents {
    rooms: Mutex<HashMap<OwnedRoomId, Tail>>,
}

impl RecentEvents {
    /// Records events just committed to `room`, under the room's lock.
    pub fn appended(&self, store: &dyn Store, room: &RoomId, events: &[StoredEvent]) {
        let mark = store.last_change(&ChangeTopic::RoomEvents(room.to_owned()));
        let redaction = events.iter().any(|e| e.event.kind == kinds::REDACTION);
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = rooms.get_mut(room)
            && !redaction
            && t.base_count + t.appended + events.len() as u64 == mark.count
        {
            t.appended += events.len() as u64;
            t.events.extend(events.iter().cloned());
            while t.events.len() > PER_ROOM {
                if let Some(old) = t.events.pop_front() {
                    t.floor = old.stream;
                }
            }
            return;
        }
        if rooms.len() >= MAX_ROOMS && !rooms.contains_key(room) {
            rooms.clear();
        }
        rooms.insert(
            room.to_owned(),
            Tail { floor: mark.pos, base_count: mark.count, appended: 0, events: VecDeque::new() },
        );
    }

    /// The newest `limit` events of `room` in `range`, and whether older ones in the range were
    /// left out; `None` when memory does not hold the whole range. `range.upto` must have been
    /// read from the store before this call.
    pub fn slice(
        &self,
        store: &dyn Store,
        room: &RoomId,
        range: PosRange,
        limit: usize,
    ) -> Option<(Vec<StoredEvent>, bool)> {
        let mark = store.last_change(&ChangeTopic::RoomEvents(room.to_owned()));
        let rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let t = rooms.get(room)?;
        if t.base_count + t.appended != mark.count || range.after < t.floor {
            return None;
        }
        let in_range: Vec<&StoredEvent> =
            t.events.iter().filter(|e| e.stream > range.after && e.stream <= range.upto).collect();
        let limited = in_range.len() > limit;
        let skip = in_range.len().saturating_sub(limit);
        Some((in_range.into_iter().skip(skip).cloned().collect(), limited))
    }
}

#[cfg(test)]
mod tests {
    use ruma::{OwnedEventId, owned_room_id, owned_user_id};
    use serde_json::json;
    use wardline_store::RoomStore;
    use wardline_store_sqlite::{Durability, SqliteStore};
    use wardline_types::{NewEvent, Timestamp};

    use super::*;

    fn message(room: &OwnedRoomId, n: u32) -> NewEvent {
        NewEvent {
            event_id: OwnedEventId::try_from(format!("$e{n}")).unwrap(),
            room_id: room.clone(),
            sender: owned_user_id!("@ada:localhost"),
            kind: kinds::MESSAGE.into(),
            state_key: None,
            content: json!({"msgtype": "m.text", "body": format!("m{n}")}),
            origin_server_ts: Timestamp(1),
            redacts: None,
            txn: None,
        }
    }

    async fn append(store: &SqliteStore, recent: Option<&RecentEvents>, e: NewEvent) -> StoredEvent {
        let pos = store.append_events(vec![e.clone()], vec![]).await.unwrap()[0];
        let stored = StoredEvent { stream: pos, event: e, redacted_because: None };
        if let Some(r) = recent {
            r.appended(store, &stored.event.room_id, std::slice::from_ref(&stored));
        }
        stored
    }

    #[tokio::test]
    async fn serves_only_what_it_provably_holds() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap();
        let room = owned_room_id!("!ward:localhost");
        let recent = RecentEvents::default();
        let mut create = message(&room, 0);
        create.kind = kinds::CREATE.into();
        create.state_key = Some(String::new());
        create.content = json!({"room_version": "11"});
        let first = append(&store, Some(&recent), create).await;
        // The tail starts after the first event: older ranges come from the database.
        assert!(recent.slice(&store, &room, PosRange::upto(first.stream), 10).is_none());
        let a = append(&store, Some(&recent), message(&room, 1)).await;
        let b = append(&store, Some(&recent), message(&room, 2)).await;
        let (events, limited) = recent.slice(&store, &room, PosRange::new(first.stream, b.stream), 10).unwrap();
        assert_eq!((events.iter().map(|e| e.stream).collect::<Vec<_>>(), limited), (vec![a.stream, b.stream], false));
        let (events, limited) = recent.slice(&store, &room, PosRange::new(first.stream, b.stream), 1).unwrap();
        assert_eq!((events[0].stream, limited), (b.stream, true));
        // An event committed without the tail hearing of it (a cancelled request): not used.
        append(&store, None, message(&room, 3)).await;
        assert!(recent.slice(&store, &room, PosRange::new(b.stream, store.current_pos()), 10).is_none());
        // The next append starts afresh after itself.
        let d = append(&store, Some(&recent), message(&room, 4)).await;
        assert!(recent.slice(&store, &room, PosRange::new(b.stream, d.stream), 10).is_none());
        let e = append(&store, Some(&recent), message(&room, 5)).await;
        assert_eq!(recent.slice(&store, &room, PosRange::new(d.stream, e.stream), 10).unwrap().0.len(), 1);
        // A redaction changes an earlier event: afresh.
        let mut redaction = message(&room, 6);
        redaction.kind = kinds::REDACTION.into();
        redaction.redacts = Some(e.event.event_id.clone());
        let r = append(&store, Some(&recent), redaction).await;
        assert!(recent.slice(&store, &room, PosRange::new(d.stream, r.stream), 10).is_none());
        // Only the newest events are kept.
        let mut last = r.stream;
        for n in 7..40 {
            last = append(&store, Some(&recent), message(&room, n)).await.stream;
        }
        assert!(recent.slice(&store, &room, PosRange::new(r.stream, last), 100).is_none());
        let newest = recent.slice(&store, &room, PosRange::new(StreamPos(last.0 - 16), last), 100).unwrap().0;
        assert_eq!(newest.len(), 16);
    }
}
