//! Wakes long-polling `/sync` requests when something arrives for their user.
//!
//! Each user has a version counter in a `watch` channel. A sync that finds nothing subscribes
//! *before* computing its response, so a change committed while it computes is never missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ruma::{OwnedUserId, UserId};
use tokio::sync::watch;

/// Per-user wake-ups.
#[derive(Debug, Clone)]
pub struct Notifier {
    users: Arc<Mutex<HashMap<OwnedUserId, watch::Sender<u64>>>>,
    closing: Arc<watch::Sender<bool>>,
}

impl Default for Notifier {
    fn default() -> Self {
        Self { users: Arc::default(), closing: Arc::new(watch::channel(false).0) }
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
}
