//! Notification and highlight counts kept up to date as the stream moves, instead of evaluated
//! afresh on every sync.
//!
//! A count is of the user's unread messages (`m.room.message`, `m.room.encrypted`,
//! `m.sticker` from others after the later of their read receipt or marker and their own newest
//! event, as [`wardline_store::RoomStore::read_point`] says) whose verdict notifies, and of
//! those that highlight. Each count is kept with the stream position and the revision of the
//! user's rules it was taken at; the next sync only evaluates the events that arrived since.
//! It is taken afresh when the user read something, posted in the room, a message was deleted
//! or their rules changed. Taking it afresh evaluates at most [`MAX_EVALUATED`] of the newest
//! events after the read point: a count above that many events is a lower bound.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use wardline_store::{ChangeTopic, Direction, PosRange};
use wardline_types::{StoredEvent, StreamPos};

use super::PushRuleService;
use crate::ServiceResult;

/// More entries than this and the counts start afresh.
const MAX_ENTRIES: usize = 500_000;
/// Most events evaluated to take a count afresh.
pub const MAX_EVALUATED: usize = 2_000;
/// Most new events evaluated to bring a count up to date (more: afresh).
const MAX_GAINED: usize = 500;

/// The event types that count as messages (as unread counts always have).
pub const COUNTED: [&str; 3] = ["m.room.message", "m.room.encrypted", "m.sticker"];

/// Does this event count, if its verdict notifies?
pub(crate) fn counted(e: &StoredEvent, user: &UserId) -> bool {
    e.event.sender != user && e.redacted_because.is_none() && COUNTED.contains(&e.event.kind.as_str())
}

/// A user's counts in one room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Unread events that notify (`notification_count`).
    pub notify: u64,
    /// Unread events that highlight (`highlight_count`).
    pub highlight: u64,
}

#[derive(Debug, Clone, Copy)]
struct Known {
    at: StreamPos,
    revision: u64,
    counts: Counts,
}

/// Counts per room and user, each as of a stream position and rules revision.
#[derive(Debug, Default)]
pub(crate) struct NotificationCounts {
    known: Mutex<HashMap<(OwnedRoomId, OwnedUserId), Known>>,
}

impl NotificationCounts {
    pub(crate) async fn count(
        &self,
        push: &PushRuleService,
        room: &RoomId,
        user: &UserId,
        upto: StreamPos,
    ) -> ServiceResult<Counts> {
        let store = push.store.as_ref();
        let revision = push.user_rules(user).await?.revision;
        let key = (room.to_owned(), user.to_owned());
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner).get(&key).copied();
        let mut counts = None;
        if let Some(k) = known.filter(|k| k.at <= upto && k.revision == revision)
            && store.last_change(&ChangeTopic::ReceiptsBy(user.to_owned())).pos <= k.at
        {
            if store.last_change(&ChangeTopic::RoomEvents(room.to_owned())).pos <= k.at {
                counts = Some(k.counts);
            } else {
                let new =
                    store.room_events(room, PosRange::new(k.at, upto), Direction::Forward, MAX_GAINED + 1).await?;
                let afresh = new.len() > MAX_GAINED
                    || new.iter().any(|e| e.event.sender == user || e.event.kind == wardline_types::kinds::REDACTION);
                if !afresh {
                    let gained = Self::tally(push, room, user, new).await?;
                    counts = Some(Counts {
                        notify: k.counts.notify + gained.notify,
                        highlight: k.counts.highlight + gained.highlight,
                    });
                }
            }
        }
        let counts = match counts {
            Some(c) => c,
            None => {
                let from = store.read_point(room, user, upto).await?;
                let events =
                    store.room_events(room, PosRange::new(from, upto), Direction::Backward, MAX_EVALUATED).await?;
                Self::tally(push, room, user, events).await?
            }
        };
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= MAX_ENTRIES {
            known.clear();
        }
        let entry = known.entry(key).or_insert(Known { at: upto, revision, counts });
        if entry.at <= upto {
            *entry = Known { at: upto, revision, counts };
        }
        Ok(counts)
    }

    async fn tally(
        push: &PushRuleService,
        room: &RoomId,
        user: &UserId,
        events: Vec<StoredEvent>,
    ) -> ServiceResult<Counts> {
        let events: Vec<StoredEvent> = events.into_iter().filter(|e| counted(e, user)).collect();
        if events.is_empty() {
            return Ok(Counts::default());
        }
        let mut counts = Counts::default();
        for v in push.verdicts(user, room, &events).await? {
            counts.notify += u64::from(v.notify);
            counts.highlight += u64::from(v.highlight);
        }
        Ok(counts)
    }
}
