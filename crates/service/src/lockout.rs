//! Account lockout after repeated failed sign-ins. Time comes from the [`Clock`].
//!
//! After `threshold` failures in a row an account is locked for `duration`; a success resets
//! the count. So at most `threshold × (1 h / duration)` guesses an hour reach one account,
//! whatever the number of source addresses.
//!
//! The bound holds for concurrent guesses too: whoever checks a lock, verifies a secret and
//! counts the failure holds the account's [`Lockouts::gate`] throughout, so no guess passes the
//! lock check while another guess for the same account is still being verified.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use ruma::{OwnedUserId, UserId};
use wardline_types::{Clock, Timestamp};

use crate::settings::SettingsHandle;

#[derive(Debug, Clone, Copy, Default)]
struct State {
    failures: u32,
    locked_until: Option<Timestamp>,
}

/// A locked account, for administrators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// The account.
    pub user_id: OwnedUserId,
    /// Until when.
    pub until: Timestamp,
    /// Failed attempts that caused it.
    pub failures: u32,
}

/// The lockout table.
#[derive(Debug, Clone)]
pub struct Lockouts {
    settings: SettingsHandle,
    clock: Arc<dyn Clock>,
    state: Arc<Mutex<HashMap<OwnedUserId, State>>>,
    /// One async mutex per account with a guess in progress; entries go when no one holds them.
    gates: Arc<Mutex<HashMap<OwnedUserId, Weak<tokio::sync::Mutex<()>>>>>,
}

impl Lockouts {
    /// Locks as the live settings say.
    pub fn new(settings: SettingsHandle, clock: Arc<dyn Clock>) -> Self {
        Self { settings, clock, state: Arc::default(), gates: Arc::default() }
    }

    /// Waits for, and holds, the account's gate: check the lock, verify the password or code,
    /// and count the outcome while holding it, so concurrent guesses at one account are
    /// checked one after another and each sees the failures counted before it.
    pub async fn gate(&self, user: &UserId) -> tokio::sync::OwnedMutexGuard<()> {
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(g) = gates.get(user).and_then(Weak::upgrade) {
                g
            } else {
                gates.retain(|_, g| g.strong_count() > 0);
                let g = Arc::new(tokio::sync::Mutex::new(()));
                gates.insert(user.to_owned(), Arc::downgrade(&g));
                g
            }
        };
        gate.lock_owned().await
    }

    fn policy(&self) -> (u32, Duration) {
        let s = self.settings.get().security;
        (s.lockout_threshold.max(1), Duration::from_secs(s.lockout_minutes * 60))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OwnedUserId, State>> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// If the account is locked now, until when.
    #[must_use]
    pub fn locked_until(&self, user: &UserId) -> Option<Timestamp> {
        let now = self.clock.now();
        self.lock().get(user).and_then(|s| s.locked_until).filter(|t| *t > now)
    }

    /// Records a failure; returns `Some(until)` if this failure locked the account.
    pub fn failure(&self, user: &UserId) -> Option<Timestamp> {
        let now = self.clock.now();
        let (threshold, duration) = self.policy();
        let mut map = self.lock();
        let s = map.entry(user.to_owned()).or_default();
        if s.locked_until.is_some_and(|t| t <= now) {
            *s = State::default();
        }
        s.failures += 1;
        if s.failures >= threshold && s.locked_until.is_none() {
            let until = now.plus(duration);
            s.locked_until = Some(until);
            return Some(until);
        }
        None
    }

    /// Records a success.
    pub fn success(&self, user: &UserId) {
        self.lock().remove(user);
    }

    /// Unlocks an account; returns whether it was locked (a lock that had already run out was
    /// not).
    pub fn unlock(&self, user: &UserId) -> bool {
        let now = self.clock.now();
        self.lock().remove(user).is_some_and(|s| s.locked_until.is_some_and(|t| t > now))
    }

    /// Accounts locked now.
    #[must_use]
    pub fn locked(&self) -> Vec<Lock> {
        let now = self.clock.now();
        let mut out: Vec<Lock> = self
            .lock()
            .iter()
            .filter_map(|(u, s)| {
                let until = s.locked_until.filter(|t| *t > now)?;
                Some(Lock { user_id: u.clone(), until, failures: s.failures })
            })
            .collect();
        out.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::user_id;
    use wardline_types::ManualClock;

    use crate::config::{RateLimits, Security};
    use crate::settings::OrgSettings;

    fn lockouts(threshold: u32, duration: Duration, clock: Arc<ManualClock>) -> Lockouts {
        let security =
            Security { lockout_threshold: threshold, lockout_minutes: duration.as_secs() / 60, ..Security::default() };
        Lockouts::new(
            SettingsHandle::new(OrgSettings {
                security,
                rate_limits: RateLimits::default(),
                media: crate::config::MediaSettings::default(),
            }),
            clock,
        )
    }

    #[test]
    fn locks_after_threshold_and_unlocks_after_duration() {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let l = lockouts(3, Duration::from_secs(900), clock.clone());
        let u = user_id!("@a:x");
        assert_eq!(l.failure(u), None);
        assert_eq!(l.failure(u), None);
        assert_eq!(l.failure(u), Some(Timestamp(900_000)));
        assert_eq!(l.locked_until(u), Some(Timestamp(900_000)));
        assert_eq!(l.locked().len(), 1);
        assert_eq!(l.failure(u), None, "already locked: no second lock event");
        clock.advance(Duration::from_secs(901));
        assert_eq!(l.locked_until(u), None);
        assert_eq!(l.failure(u), None, "counting starts again");
    }

    #[test]
    fn unlocking_says_whether_a_lock_was_still_running() {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let l = lockouts(1, Duration::from_secs(900), clock.clone());
        let (a, b) = (user_id!("@a:x"), user_id!("@b:x"));
        assert!(l.failure(a).is_some() && l.failure(b).is_some());
        assert!(l.unlock(a), "locked now");
        assert!(!l.unlock(a), "no longer");
        clock.advance(Duration::from_secs(901));
        assert!(!l.unlock(b), "its lock had run out");
    }

    #[test]
    fn at_most_forty_guesses_an_hour_with_the_defaults() {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let l = lockouts(10, Duration::from_secs(15 * 60), clock.clone());
        let u = user_id!("@a:x");
        let mut guesses = 0;
        for _ in 0..3600 {
            if l.locked_until(u).is_none() {
                guesses += 1;
                l.failure(u);
            }
            clock.advance(Duration::from_secs(1));
        }
        assert!(guesses <= 40, "{guesses}");
    }

    #[test]
    fn success_and_unlock_reset() {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let l = lockouts(2, Duration::from_secs(60), clock);
        let u = user_id!("@a:x");
        l.failure(u);
        l.success(u);
        assert_eq!(l.failure(u), None, "the count restarted");
        l.failure(u);
        assert!(l.locked_until(u).is_some());
        assert!(l.unlock(u));
        assert!(l.locked_until(u).is_none());
    }
}
