//! Unread counts kept up to date as the stream moves, instead of counted afresh on every sync.
//!
//! A user away for a week has thousands of unread messages in a busy ward room; counting them
//! again for each of their syncs would cost more the longer they are away. Each count is kept
//! with the stream position it was taken at, and the next sync only adds the messages that
//! arrived since: unless the user has read something (a receipt or read marker), posted in the
//! room or a message was deleted, in which case the count is taken afresh.
//!
//! The count starts after the user's own newest event, and a join is always the user's own
//! event: so messages from before the user's latest join (said while they were away, which
//! history visibility may hide from them) are never counted.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use wardline_store::{ChangeTopic, PosRange, Store, StoreResult};
use wardline_types::StreamPos;

/// More entries than this and the counts start afresh (about 100 bytes each).
const MAX_ENTRIES: usize = 500_000;

#[derive(Debug, Clone, Copy)]
struct Known {
    at: StreamPos,
    count: u64,
}

/// Unread counts per room and user, each as of a stream position.
#[derive(Debug, Default)]
pub(crate) struct UnreadCounts {
    known: Mutex<HashMap<(OwnedRoomId, OwnedUserId), Known>>,
}

impl UnreadCounts {
    /// The user's unread messages in the room as of `upto` (a position read from the store before
    /// this call).
    pub async fn count(&self, store: &dyn Store, room: &RoomId, user: &UserId, upto: StreamPos) -> StoreResult<u64> {
        let key = (room.to_owned(), user.to_owned());
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner).get(&key).copied();
        let mut count = None;
        if let Some(k) = known.filter(|k| k.at <= upto)
            && store.last_change(&ChangeTopic::ReceiptsBy(user.to_owned())).pos <= k.at
        {
            count = store.unread_gained(room, user, PosRange::new(k.at, upto)).await?.map(|gained| k.count + gained);
        }
        let count = match count {
            Some(c) => c,
            None => store.unread_count(room, user, upto).await?,
        };
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= MAX_ENTRIES {
            known.clear();
        }
        let entry = known.entry(key).or_insert(Known { at: upto, count });
        if entry.at <= upto {
            *entry = Known { at: upto, count };
        }
        Ok(count)
    }
}
