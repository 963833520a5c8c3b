//! Typing notifications: ephemeral, in memory, with their own serial in the sync token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use tokio::sync::Notify;
use wardline_types::{Clock, Timestamp};

use crate::notifier::Notifier;

#[derive(Debug, Default)]
struct RoomTyping {
    serial: u64,
    users: HashMap<OwnedUserId, Timestamp>,
}

#[derive(Debug, Default)]
struct Inner {
    serial: u64,
    rooms: HashMap<OwnedRoomId, RoomTyping>,
}

/// Who is typing where.
#[derive(Debug, Clone)]
pub struct TypingService {
    inner: Arc<Mutex<Inner>>,
    clock: Arc<dyn Clock>,
    notifier: Notifier,
    changed: Arc<Notify>,
}

impl TypingService {
    /// A typing service.
    pub fn new(clock: Arc<dyn Clock>, notifier: Notifier) -> Self {
        Self { inner: Arc::default(), clock, notifier, changed: Arc::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The serial of the latest change.
    #[must_use]
    pub fn serial(&self) -> u64 {
        self.lock().serial
    }

    /// Records that `user` started (with a timeout) or stopped typing in `room`, and wakes
    /// `audience`.
    pub fn set(&self, room: &RoomId, user: &UserId, timeout: Option<Duration>, audience: &[OwnedUserId]) {
        let now = self.clock.now();
        {
            let mut inner = self.lock();
            inner.serial += 1;
            let serial = inner.serial;
            let entry = inner.rooms.entry(room.to_owned()).or_default();
            let changed = match timeout {
                Some(t) => entry.users.insert(user.to_owned(), now.plus(t)).is_none(),
                None => entry.users.remove(user).is_some(),
            };
            if changed || timeout.is_some() {
                entry.serial = serial;
            }
        }
        self.changed.notify_one();
        self.notifier.wake(audience.iter().map(AsRef::as_ref));
    }

    /// The users typing in `room`, if that changed after `since`.
    #[must_use]
    pub fn typing_since(&self, room: &RoomId, since: Option<u64>) -> Option<Vec<OwnedUserId>> {
        let now = self.clock.now();
        let inner = self.lock();
        let entry = inner.rooms.get(room)?;
        if since.is_some_and(|s| entry.serial <= s) {
            return None;
        }
        let mut users: Vec<_> = entry.users.iter().filter(|(_, exp)| **exp > now).map(|(u, _)| u.clone()).collect();
        users.sort();
        Some(users)
    }

    /// Removes expired notifications; returns the rooms that changed and the time until the
    /// next expiry.
    pub fn sweep(&self) -> (Vec<OwnedRoomId>, Option<Duration>) {
        let now = self.clock.now();
        let mut inner = self.lock();
        let mut changed = Vec::new();
        let mut next: Option<u64> = None;
        let mut serial = inner.serial;
        for (room, entry) in &mut inner.rooms {
            let before = entry.users.len();
            entry.users.retain(|_, exp| *exp > now);
            if entry.users.len() != before {
                serial += 1;
                entry.serial = serial;
                changed.push(room.clone());
            }
            for exp in entry.users.values() {
                let wait = exp.millis_since(now);
                next = Some(next.map_or(wait, |n| n.min(wait)));
            }
        }
        inner.serial = serial;
        inner.rooms.retain(|_, e| !e.users.is_empty() || e.serial + 1_000_000 > serial);
        (changed, next.map(Duration::from_millis))
    }

    /// Wakes the members of a room whose typing list changed by expiry.
    pub fn set_audience_changed(&self, audience: &[OwnedUserId]) {
        self.notifier.wake(audience.iter().map(AsRef::as_ref));
    }

    /// Waits until a typing notification was set or the given time passed.
    pub async fn wait_for_change(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.changed.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::{room_id, user_id};
    use wardline_types::ManualClock;

    #[test]
    fn typing_expires_and_counts_serials() {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let t = TypingService::new(clock.clone(), Notifier::default());
        let room = room_id!("!r:x");
        assert_eq!(t.typing_since(room, None), None);
        t.set(room, user_id!("@a:x"), Some(Duration::from_secs(5)), &[]);
        let s1 = t.serial();
        assert_eq!(t.typing_since(room, Some(0)), Some(vec![user_id!("@a:x").to_owned()]));
        assert_eq!(t.typing_since(room, Some(s1)), None, "nothing new since s1");
        clock.advance(Duration::from_secs(3));
        let (changed, next) = t.sweep();
        assert!(changed.is_empty());
        assert_eq!(next, Some(Duration::from_secs(2)));
        clock.advance(Duration::from_secs(3));
        let (changed, _) = t.sweep();
        assert_eq!(changed, vec![room.to_owned()]);
        assert_eq!(t.typing_since(room, Some(s1)), Some(vec![]), "the stop is reported");
    }
}
