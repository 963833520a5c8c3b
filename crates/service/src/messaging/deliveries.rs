//! Recording which messages reached whose device: a response that carried a room's events to a
//! member's device is stored as intervals of the room's log ([`Delivery`]), after the response
//! was made and without making it wait for the disk.
//!
//! Deliveries are per device: a receipt counts only for what its own device had been carried
//! ([`super::status`]). Each device's deliveries are stored in order, and a receipt first waits
//! for its device's deliveries that were under way when it arrived ([`Deliveries::settled`]), so
//! a reader who answers the moment a message appears is not told apart from one who waited.
//!
//! Only what was really carried counts: a limited `/sync` timeline leaves a gap before its
//! events, a filter or the history-visibility rule leaves out events, and each of those splits
//! the interval, so no event that was left out is ever claimed delivered.
//!
//! "Delivered" means a response carrying it was made for the device, not that the device took
//! it in: a `/sync` response lost on the way still counts as delivered (never as read, which
//! needs the device's own receipt). Holding a sync's runs until the device's next `/sync` with
//! `since` = that `next_batch` would prove receipt, at the cost of showing "Delivered" one poll
//! later, never for a device's last response before it goes quiet, and of a race with a receipt
//! sent before that next poll (which would then count nothing unless the receipt itself were
//! taken as proof); not done.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ruma::{DeviceId, OwnedDeviceId, OwnedRoomId, OwnedUserId, UserId};
use tokio::sync::watch;
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

/// When a request arrived: the clock's time, the store's position, and how many delivery writes
/// had been started. Taken before anything else is done for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// The clock then.
    pub ts: Timestamp,
    /// The store's committed position then.
    pub pos: StreamPos,
    /// Delivery writes started by then.
    writes: u64,
}

/// The last delivery writes to a device, oldest first: each resolves, once stored, to the highest
/// position any write to the device up to it took.
type DeviceWrites = VecDeque<(u64, watch::Receiver<Option<StreamPos>>)>;

/// Delivery writes kept per device once finished (a receipt that arrived while one was under
/// way still finds it).
const KEPT_WRITES: usize = 8;

/// Longest a receipt waits for its device's deliveries already under way.
const SETTLE_WAIT: Duration = Duration::from_secs(5);

/// How long a sender's long-poll waits for more deliveries of their messages before it is woken:
/// a message reaches the members of a ward one sync after the other, and each would otherwise
/// wake the sender's client for one more count.
pub const SENDER_WAKE_DELAY: Duration = Duration::from_millis(200);

#[derive(Debug, Default)]
struct Writes {
    started: u64,
    devices: HashMap<(OwnedUserId, OwnedDeviceId), DeviceWrites>,
}

/// Stores deliveries in the background and wakes the senders whose counts they change.
///
/// **Invariant:** the deliveries to one device are stored in the order their responses were
/// made (each write waits for the one before it to the same device), so "stored at a position
/// `<= p`" means "made before" for one device's deliveries.
#[derive(Clone)]
pub struct Deliveries {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    notifier: Notifier,
    writes: Arc<Mutex<Writes>>,
}

impl std::fmt::Debug for Deliveries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliveries").finish_non_exhaustive()
    }
}

impl Deliveries {
    /// A recorder over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, notifier: Notifier) -> Self {
        Self { store, clock, notifier, writes: Arc::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writes> {
        self.writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A request arrives now.
    #[must_use]
    pub fn arrival(&self) -> Arrival {
        let (ts, pos) = (self.clock.now(), self.store.current_pos());
        Arrival { ts, pos, writes: self.lock().started }
    }

    /// What `device` of `user` could have had when a request that `arrived` was sent: the
    /// position up to which deliveries to it are of responses made before the request arrived.
    /// Waits (a moment at most) for the device's deliveries that were under way then.
    pub async fn settled(&self, user: &UserId, device: &DeviceId, arrived: Arrival) -> StreamPos {
        let pending = self
            .lock()
            .devices
            .get(&(user.to_owned(), device.to_owned()))
            .and_then(|w| w.iter().rev().find(|(seq, _)| *seq < arrived.writes).map(|(_, rx)| rx.clone()));
        let Some(mut rx) = pending else { return arrived.pos };
        match tokio::time::timeout(SETTLE_WAIT, rx.wait_for(Option::is_some)).await {
            Ok(Ok(stored)) => stored.unwrap_or(arrived.pos).max(arrived.pos),
            _ => arrived.pos,
        }
    }

    /// A response just made for `user`'s `device` carried `carried` to it: stores it without
    /// waiting (the writer commits it with whatever else is waiting), after the device's
    /// earlier deliveries, then wakes the long-polls of the senders of messages delivered to
    /// the device for the first time, and only theirs. A delivery lost before it was stored (a
    /// crash) is simply not shown: a false "not delivered", never a false "delivered". Without
    /// a device (a tool, not a client) nothing is recorded.
    pub fn record(&self, user: &UserId, device: Option<&DeviceId>, carried: Vec<Carried>) {
        let at = self.clock.now();
        let carried: Vec<Carried> = carried.into_iter().filter(|c| !c.runs.is_empty()).collect();
        let Some(device) = device else { return };
        if carried.is_empty() {
            return;
        }
        let key = (user.to_owned(), device.to_owned());
        let (tx, rx) = watch::channel(None);
        let (seq, before) = {
            let mut writes = self.lock();
            let seq = writes.started;
            writes.started += 1;
            if writes.devices.len() > 100_000 {
                // Forget devices with nothing under way, so the map cannot grow without bound.
                writes.devices.retain(|_, w| w.iter().any(|(_, rx)| rx.borrow().is_none()));
            }
            let list = writes.devices.entry(key.clone()).or_default();
            let before = list.back().map(|(_, rx)| rx.clone());
            list.push_back((seq, rx));
            while list.len() > KEPT_WRITES && list.front().is_some_and(|(_, rx)| rx.borrow().is_some()) {
                list.pop_front();
            }
            (seq, before)
        };
        let this = self.clone();
        tokio::spawn(async move {
            let mut highest = StreamPos::ZERO;
            if let Some(mut before) = before
                && let Ok(p) = before.wait_for(Option::is_some).await
            {
                highest = p.unwrap_or(StreamPos::ZERO);
            }
            match store_and_wake(this.store.as_ref(), &this.notifier, &key.0, &key.1, carried, at).await {
                Ok(stored) => highest = highest.max(stored),
                Err(e) => tracing::warn!(error = %e, seq, "a delivery was not recorded"),
            }
            tx.send_replace(Some(highest));
        });
    }
}

/// Stores what was carried to `device`; returns the highest position taken.
async fn store_and_wake(
    store: &dyn Store,
    notifier: &Notifier,
    user: &UserId,
    device: &DeviceId,
    carried: Vec<Carried>,
    at: Timestamp,
) -> Result<StreamPos, wardline_store::StoreError> {
    let deliveries = carried
        .iter()
        .flat_map(|c| {
            c.runs.iter().map(|&(first, last)| Delivery {
                room_id: c.room_id.clone(),
                user_id: user.to_owned(),
                device_id: Some(device.to_owned()),
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
    notifier.wake_soon(senders, SENDER_WAKE_DELAY);
    Ok(recorded.iter().map(|d| d.stream).max().unwrap_or(StreamPos::ZERO))
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
