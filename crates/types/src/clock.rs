//! Time as a parameter: every rule that depends on "now" asks a [`Clock`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, the unit Matrix uses on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// This timestamp moved forward by `d` (saturating).
    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
    }

    /// RFC 3339 in UTC with milliseconds (`2026-11-25T12:00:00.000Z`), as FHIR `instant` wants.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|t| {
                let f = time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
                );
                t.format(&f).ok()
            })
            .unwrap_or_default()
    }

    /// Parses RFC 3339 (`2026-11-25T12:00:00Z`, any offset) or a bare date (`2026-11-25`, UTC
    /// midnight).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok().or_else(|| {
            let f = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(s, &f).ok().map(|d| d.midnight().assume_utc())
        })?;
        u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok().map(Self)
    }

    /// Parses RFC 3339 only (`2026-11-25T12:00:00Z`, any offset): a time a file or record
    /// states, where a bare date would be a loss of precision someone chose.
    pub fn parse_rfc3339_strict(s: &str) -> Option<Self> {
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok().map(Self)
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    #[must_use]
    pub fn millis_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Timestamp(ms)
    }
}

/// A clock that only moves when told to: for tests of expiry and escalation.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock standing at `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicU64::new(start.0))
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// The real clock moved forward by an offset that only grows: for tests that drive a whole
/// server (its escalations, rotas, expiries) through time without waiting. The binary uses it
/// only when started with `WARDLINE_TEST_CLOCK_FILE` (see `crates/wardline/src/test_clock.rs`).
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset_ms: AtomicU64,
}

impl ShiftedClock {
    /// Moves the clock forward to `offset_ms` ahead of the real one; never back (time that went
    /// backwards would undo what was stored as due).
    pub fn shift_to(&self, offset_ms: u64) {
        self.offset_ms.fetch_max(offset_ms, Ordering::SeqCst);
    }

    /// How far ahead of the real clock this one is.
    pub fn offset_ms(&self) -> u64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        SystemClock.now().plus(Duration::from_millis(self.offset_ms()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp(1_795_608_593_711);
        assert_eq!(t.to_rfc3339(), "2026-11-25T12:09:53.711Z");
        assert_eq!(Timestamp::parse_rfc3339("2026-11-25T12:09:53.711Z"), Some(t));
        assert_eq!(Timestamp::parse_rfc3339("1970-01-02"), Some(Timestamp(86_400_000)));
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
        assert_eq!(Timestamp::parse_rfc3339_strict("2026-11-25T12:09:53.711Z"), Some(t));
        assert_eq!(Timestamp::parse_rfc3339_strict("1970-01-02"), None);
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(Timestamp(1_000));
        assert_eq!(clock.now(), Timestamp(1_000));
        clock.advance(Duration::from_millis(250));
        assert_eq!(clock.now(), Timestamp(1_250));
        assert_eq!(clock.now().millis_since(Timestamp(1_000)), 250);
        assert_eq!(Timestamp(5).millis_since(Timestamp(9)), 0);
    }

    #[test]
    fn a_shifted_clock_runs_ahead_and_never_back() {
        let clock = ShiftedClock::default();
        let before = SystemClock.now();
        clock.shift_to(3_600_000);
        assert!(clock.now().millis_since(before) >= 3_600_000);
        clock.shift_to(60_000);
        assert_eq!(clock.offset_ms(), 3_600_000, "an earlier offset is ignored");
    }
}
