//! Token-bucket rate limits, keyed by kind and by who (user or address). Time comes from the
//! [`Clock`], so tests can run an attack without sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wardline_types::{Clock, Timestamp};

use crate::config::{Bucket, RateLimits};
use crate::settings::SettingsHandle;
use crate::{ServiceError, ServiceResult};

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// Login attempts.
    Login,
    /// Events sent.
    Message,
    /// Invitations.
    Invite,
    /// Failed sign-ins, across all accounts and addresses (key [`GLOBAL`]): the bucket is
    /// checked before a password is tried ([`RateLimiter::ensure`]) and drained by failures
    /// only ([`RateLimiter::drain`]).
    FailedLogin,
    /// Audit records of requests refused for an unknown access token, per source address.
    UnknownToken,
    /// Asks for a message's delivery and read status, per user.
    Status,
    /// Message searches, per user.
    Search,
    /// Asks for a message's relations (`/relations`, possibly recursive), per user.
    Relations,
    /// Pages of `/notifications`, per user (each evaluates the push rules over many messages).
    Notifications,
    /// Calls of the integration API, per integration.
    Integration,
    /// Requests to file messages to the patient's record, per user.
    Filing,
}

/// The key of limits that count everyone together.
pub const GLOBAL: &str = "*";

/// What a use does to a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Take a token or refuse.
    Take,
    /// Refuse if empty; take nothing.
    Look,
    /// Take a token if there is one.
    Drain,
}

#[derive(Debug, Clone, Copy)]
struct State {
    tokens: f64,
    at: Timestamp,
}

/// The limiter.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    settings: SettingsHandle,
    clock: Arc<dyn Clock>,
    buckets: Arc<Mutex<HashMap<(LimitKind, String), State>>>,
}

impl RateLimiter {
    /// A limiter with these settings.
    #[must_use]
    pub fn new(settings: SettingsHandle, clock: Arc<dyn Clock>) -> Self {
        Self { settings, clock, buckets: Arc::default() }
    }

    fn bucket(limits: &RateLimits, kind: LimitKind) -> Bucket {
        match kind {
            LimitKind::Login => limits.login,
            LimitKind::Message => limits.messages,
            LimitKind::Invite => limits.invites,
            LimitKind::FailedLogin => limits.failed_logins,
            LimitKind::UnknownToken => limits.unknown_tokens,
            LimitKind::Status => limits.statuses,
            LimitKind::Search => limits.searches,
            LimitKind::Relations => limits.relations,
            LimitKind::Notifications => limits.notifications,
            LimitKind::Integration => limits.integrations,
            LimitKind::Filing => limits.filings,
        }
    }

    /// Takes one token for `key`, or fails with the wait until one is available.
    pub fn check(&self, kind: LimitKind, key: &str) -> ServiceResult<()> {
        self.use_bucket(kind, key, Use::Take)
    }

    /// Fails, as [`RateLimiter::check`] would, if `key` has no token left; takes none.
    pub fn ensure(&self, kind: LimitKind, key: &str) -> ServiceResult<()> {
        self.use_bucket(kind, key, Use::Look)
    }

    /// Takes a token for `key` if there is one; never fails.
    pub fn drain(&self, kind: LimitKind, key: &str) {
        // `Use::Drain` never refuses.
        let _ = self.use_bucket(kind, key, Use::Drain);
    }

    fn use_bucket(&self, kind: LimitKind, key: &str, how: Use) -> ServiceResult<()> {
        let limits = self.settings.get().rate_limits;
        if !limits.enabled {
            return Ok(());
        }
        let bucket = Self::bucket(&limits, kind);
        let now = self.clock.now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Forget full buckets so the map cannot grow without bound.
            buckets.retain(|(k, _), s| {
                let b = Self::bucket(&limits, *k);
                let refill = now.millis_since(s.at) as f64 / 1000.0 * b.per_second;
                s.tokens + refill < f64::from(b.burst)
            });
        }
        let state = buckets.entry((kind, key.to_owned())).or_insert(State { tokens: f64::from(bucket.burst), at: now });
        let elapsed = now.millis_since(state.at) as f64 / 1000.0;
        state.tokens = (state.tokens + elapsed * bucket.per_second).min(f64::from(bucket.burst));
        state.at = now;
        if state.tokens >= 1.0 {
            if how != Use::Look {
                state.tokens -= 1.0;
            }
            Ok(())
        } else if how == Use::Drain {
            Ok(())
        } else {
            let wait = if bucket.per_second > 0.0 { (1.0 - state.tokens) / bucket.per_second } else { 3600.0 };
            Err(ServiceError::RateLimited { retry_after_ms: (wait * 1000.0).ceil() as u64 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use wardline_types::ManualClock;

    use crate::settings::OrgSettings;

    fn handle(rate_limits: RateLimits) -> SettingsHandle {
        SettingsHandle::new(OrgSettings {
            rate_limits,
            security: crate::config::Security::default(),
            media: crate::config::MediaSettings::default(),
        })
    }

    #[test]
    fn burst_then_refill() {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let settings = RateLimits { login: Bucket { per_second: 1.0, burst: 3 }, ..RateLimits::default() };
        let limiter = RateLimiter::new(handle(settings), clock.clone());
        for _ in 0..3 {
            assert!(limiter.check(LimitKind::Login, "1.2.3.4").is_ok());
        }
        match limiter.check(LimitKind::Login, "1.2.3.4") {
            Err(ServiceError::RateLimited { retry_after_ms }) => assert_eq!(retry_after_ms, 1000),
            other => panic!("expected a limit, got {other:?}"),
        }
        assert!(limiter.check(LimitKind::Login, "5.6.7.8").is_ok(), "keys are separate");
        clock.advance(Duration::from_millis(1000));
        assert!(limiter.check(LimitKind::Login, "1.2.3.4").is_ok());
    }

    #[test]
    fn failed_sign_ins_are_limited_across_all_accounts_and_addresses() {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let settings = RateLimits { failed_logins: Bucket { per_second: 0.5, burst: 300 }, ..RateLimits::default() };
        let limiter = RateLimiter::new(handle(settings), clock.clone());
        // A spray: one wrong password for each of 1,000 accounts, each from its own address.
        // The per-address and per-account buckets never see more than one attempt.
        let mut tried = 0;
        for i in 0..1000u32 {
            assert!(limiter.check(LimitKind::Login, &format!("10.0.{}.{}", i / 256, i % 256)).is_ok());
            assert!(limiter.check(LimitKind::Login, &format!("@user{i}:x")).is_ok());
            if limiter.ensure(LimitKind::FailedLogin, GLOBAL).is_err() {
                break;
            }
            tried += 1;
            limiter.drain(LimitKind::FailedLogin, GLOBAL);
        }
        assert_eq!(tried, 300, "the burst, then every sign-in waits");
        match limiter.ensure(LimitKind::FailedLogin, GLOBAL) {
            Err(ServiceError::RateLimited { retry_after_ms }) => assert_eq!(retry_after_ms, 2000),
            other => panic!("expected a limit, got {other:?}"),
        }
        // An hour later the bucket is full again (0.5 a second, up to the burst).
        clock.advance(Duration::from_secs(3600));
        let mut later = 0;
        while limiter.ensure(LimitKind::FailedLogin, GLOBAL).is_ok() {
            limiter.drain(LimitKind::FailedLogin, GLOBAL);
            later += 1;
        }
        assert_eq!(later, 300, "refilled up to the burst, no more");
        // Looking does not take: successful sign-ins never drain the bucket.
        clock.advance(Duration::from_secs(2));
        for _ in 0..10 {
            assert!(limiter.ensure(LimitKind::FailedLogin, GLOBAL).is_ok());
        }
    }

    #[test]
    fn disabled_limits_never_refuse() {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let settings = RateLimits { enabled: false, ..RateLimits::default() };
        let limiter = RateLimiter::new(handle(settings), clock);
        for _ in 0..10_000 {
            assert!(limiter.check(LimitKind::Message, "@a:x").is_ok());
        }
    }
}
