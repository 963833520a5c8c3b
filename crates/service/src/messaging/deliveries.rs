//! Recording which messages reached whose device: a response that carried a room's events to a
//! member's device is stored as intervals of the room's log ([`Delivery`]), after the response
//! was made and without making it wait for the disk.
//!
//! Only what was really carried counts: a limited `/sync` timeline leaves a gap before its
//! events, a filter or the history-visibility rule leaves out events, and each of those splits
//! the interval, so no event that was left out is ever claimed delivered.

use std::collections::BTreeSet;
use std::sync::Arc;

use ruma::{OwnedRoomId, OwnedUserId, UserId};
use wardline_store::{Delivery, Store};
use wardline_types::{Clock, StoredEvent, StreamPos, Timestamp};

use super::status::is_message;
use crate::notifier::Notifier;

/// The runs of events carried by a response: `seq` is a stretch of a room's log with no event of
/// the room left out (any order), each event with whether the response carried it. Returns the
/// first and last position of each run of carried events.
#[must_use]
pub fn runs(mut seq: Vec<(StreamPos, bool)>) -> Vec<(StreamPos, StreamPos)> {
    seq.sort_by_key(|(p, _)| *p);
    seq.dedup_by_key(|(p, _)| *p);
    let mut out: Vec<(StreamPos, StreamPos)> = Vec::new();
    let mut open = false;
    for (pos, carried) in seq {
        match (carried, open, out.last_mut()) {
            (true, true, Some(last)) => last.1 = pos,
            (true, _, _) => out.push((pos, pos)),
            (false, _, _) => {}
        }
        open = carried;
    }
    out
}

/// What one response carried of one room.
#[derive(Debug, Clone)]
pub struct Carried {
    /// The room.
    pub room_id: OwnedRoomId,
    /// Runs of the room's log carried whole ([`runs`]).
    pub runs: Vec<(StreamPos, StreamPos)>,
    /// The messages among them, with their senders (to wake).
    pub messages: Vec<(StreamPos, OwnedUserId)>,
}

impl Carried {
    /// What a response carried: `runs` of the room's log, holding `events`.
    #[must_use]
    pub fn new(room_id: OwnedRoomId, runs: Vec<(StreamPos, StreamPos)>, events: &[StoredEvent]) -> Self {
        let messages = events.iter().filter(|e| is_message(e)).map(|e| (e.stream, e.event.sender.clone())).collect();
        Self { room_id, runs, messages }
    }
}

/// Stores deliveries in the background and wakes the senders whose counts they change.
#[derive(Clone)]
pub struct Deliveries {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    notifier: Notifier,
}

impl std::fmt::Debug for Deliveries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliveries").finish_non_exhaustive()
    }
}

impl Deliveries {
    /// A recorder over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, notifier: Notifier) -> Self {
        Self { store, clock, notifier }
    }

    /// A response just made for `user` carried `carried` to their device: stores it without
    /// waiting (the writer commits it with whatever else is waiting), then wakes the long-polls
    /// of the senders of messages delivered for the first time, and only theirs. A delivery
    /// lost before it was stored (a crash) is simply not shown: a false "not delivered", never
    /// a false "delivered".
    pub fn record(&self, user: &UserId, carried: Vec<Carried>) {
        let at = self.clock.now();
        let carried: Vec<Carried> = carried.into_iter().filter(|c| !c.runs.is_empty()).collect();
        if carried.is_empty() {
            return;
        }
        let (store, notifier, user) = (Arc::clone(&self.store), self.notifier.clone(), user.to_owned());
        tokio::spawn(async move {
            if let Err(e) = store_and_wake(store.as_ref(), &notifier, &user, carried, at).await {
                tracing::warn!(error = %e, "a delivery was not recorded");
            }
        });
    }
}

async fn store_and_wake(
    store: &dyn Store,
    notifier: &Notifier,
    user: &UserId,
    carried: Vec<Carried>,
    at: Timestamp,
) -> Result<(), wardline_store::StoreError> {
    let deliveries = carried
        .iter()
        .flat_map(|c| {
            c.runs.iter().map(|&(first, last)| Delivery {
                room_id: c.room_id.clone(),
                user_id: user.to_owned(),
                first,
                last,
                ts: at,
                stream: StreamPos::ZERO,
            })
        })
        .collect();
    let recorded = store.put_deliveries(deliveries).await?;
    let senders: BTreeSet<&UserId> = carried
        .iter()
        .flat_map(|c| {
            let new: Vec<&Delivery> = recorded.iter().filter(|d| d.room_id == c.room_id).collect();
            c.messages.iter().filter(move |(pos, _)| new.iter().any(|d| d.covers(*pos))).map(|(_, s)| s.as_ref())
        })
        .filter(|s| *s != user)
        .collect();
    notifier.wake(senders);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_where_something_was_left_out() {
        let p = StreamPos;
        assert_eq!(runs(vec![]), vec![]);
        assert_eq!(runs(vec![(p(5), true), (p(3), true), (p(4), true)]), vec![(p(3), p(5))]);
        assert_eq!(
            runs(vec![(p(1), true), (p(2), false), (p(3), true), (p(7), true), (p(9), false)]),
            vec![(p(1), p(1)), (p(3), p(7))]
        );
        assert_eq!(runs(vec![(p(2), false)]), vec![]);
    }
}
