//! Wakes long-polling `/sync` requests when something arrives for their user.
//!
//! Each user has a version counter in a `watch` channel. A sync that finds nothing subscribes
//! *before* computing its response, so a change committed while it computes is never missed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ruma::{OwnedUserId, UserId};
use tokio::sync::watch;

/// Per-user wake-ups.
#[derive(Debug, Clone)]
pub struct Notifier {
    users: Arc<Mutex<HashMap<OwnedUserId, watch::Sender<u64>>>>,
    /// Users with a [`Notifier::wake_soon`] under way.
    soon: Arc<Mutex<HashSet<OwnedUserId>>>,
    closing: Arc<watch::Sender<bool>>,
}

impl Default for Notifier {
    fn default() -> Self {
        Self { users: Arc::default(), soon: Arc::default(), closing: Arc::new(watch::channel(false).0) }
    }
}

impl Notifier {
    /// Tells every long-poll to answer now: the server is shutting down.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A receiver that changes when the server starts shutting down.
    #[must_use]
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// A receiver that sees every wake-up for `user` from now on.
    #[must_use]
    pub fn subscribe(&self, user: &UserId) -> watch::Receiver<u64> {
        let mut users = self.users.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        users.entry(user.to_owned()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Wakes every long-poll of these users.
    pub fn wake<'a>(&self, users: impl IntoIterator<Item = &'a UserId>) {
        let users_map = self.users.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for user in users {
            if let Some(tx) = users_map.get(user) {
                tx.send_modify(|v| *v = v.wrapping_add(1));
            }
        }
    }

    /// Wakes every long-poll of these users `after` from now, once however many times this is
    /// asked for one of them meanwhile: for news that comes in bursts and need not be instant,
    /// like a message's delivery to each member's devices one after the other, which would
    /// otherwise make its sender's client sync once per member.
    pub fn wake_soon<'a>(&self, users: impl IntoIterator<Item = &'a UserId>, after: Duration) {
        let due: Vec<OwnedUserId> = {
            let mut soon = self.soon.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            users.into_iter().filter(|u| soon.insert((*u).to_owned())).map(ToOwned::to_owned).collect()
        };
        if due.is_empty() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            {
                let mut soon = this.soon.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                for u in &due {
                    soon.remove(u);
                }
            }
            this.wake(due.iter().map(AsRef::as_ref));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::user_id;

    #[tokio::test]
    async fn a_wake_after_subscribing_is_seen() {
        let n = Notifier::default();
        let mut rx = n.subscribe(user_id!("@a:localhost"));
        n.wake([user_id!("@b:localhost")]);
        assert!(!rx.has_changed().unwrap_or(true));
        n.wake([user_id!("@a:localhost")]);
        assert!(rx.has_changed().unwrap_or(false));
        assert!(rx.changed().await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn wakes_soon_once_for_a_burst() {
        let n = Notifier::default();
        let (a, b) = (user_id!("@a:localhost"), user_id!("@b:localhost"));
        let mut rx = n.subscribe(a);
        let delay = Duration::from_millis(200);
        n.wake_soon([a], delay);
        tokio::time::sleep(Duration::from_millis(100)).await;
        n.wake_soon([a, b], delay);
        assert!(!rx.has_changed().unwrap_or(true), "not yet");
        tokio::time::sleep(Duration::from_millis(101)).await;
        assert_eq!(*rx.borrow_and_update(), 1, "one wake for both asks, at the first one's time");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!rx.has_changed().unwrap_or(true), "the second ask woke nobody again");
        n.wake_soon([a], delay);
        tokio::time::sleep(Duration::from_millis(201)).await;
        assert_eq!(*rx.borrow_and_update(), 2, "a later burst wakes again");
    }
}
