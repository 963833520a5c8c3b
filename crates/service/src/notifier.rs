//! Wakes long-polling `/sync` requests when something arrives for their user.
//!
//! Each user has a version counter in a `watch` channel. A sync that finds nothing subscribes
//! *before* computing its response, so a change committed while it computes is never missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ruma::{OwnedUserId, UserId};
use tokio::sync::watch;

/// Per-user wake-ups.
#[derive(Debug, Default, Clone)]
pub struct Notifier {
    users: Arc<Mutex<HashMap<OwnedUserId, watch::Sender<u64>>>>,
}

impl Notifier {
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
