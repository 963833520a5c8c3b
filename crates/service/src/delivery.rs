//! Which messages have reached whose device: the "Delivered to 2 of 3" before "Read by". Matrix
//! has no delivery receipts; the server knows, because a message is delivered when a `/sync`
//! response carries it to the member's device.
//!
//! Kept in memory (a restart forgets deliveries until the next sync of each member, and read
//! receipts still show); only members of a room may ask about it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use wardline_types::{StoredEvent, StreamPos, Timestamp};

/// The latest event delivered to one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The event.
    pub event_id: OwnedEventId,
    /// Its position.
    pub stream: StreamPos,
    /// When the sync carrying it was answered.
    pub at: Timestamp,
}

/// Per room, the latest event delivered to each member.
#[derive(Debug, Default)]
pub struct Deliveries {
    rooms: Mutex<HashMap<OwnedRoomId, HashMap<OwnedUserId, Delivered>>>,
}

impl Deliveries {
    /// A sync response carried `events` of `room` to `user`.
    pub fn record(&self, room: &RoomId, user: &UserId, events: &[StoredEvent], at: Timestamp) {
        let Some(last) = events.iter().max_by_key(|e| e.stream) else { return };
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let members = rooms.entry(room.to_owned()).or_default();
        let newer = members.get(user).is_none_or(|d| d.stream < last.stream);
        if newer {
            members
                .insert(user.to_owned(), Delivered { event_id: last.event.event_id.clone(), stream: last.stream, at });
        }
    }

    /// The latest delivery to each member of `room` that has had one.
    #[must_use]
    pub fn in_room(&self, room: &RoomId) -> Vec<(OwnedUserId, Delivered)> {
        let rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        rooms.get(room).map(|m| m.iter().map(|(u, d)| (u.clone(), d.clone())).collect()).unwrap_or_default()
    }
}
