//! The rule for presence: what a user's presence is, from stored facts and the time.
//!
//! The stored facts are when the user was last active, when one of their clients last synced,
//! and whether they are held away (by their own choice, or by their client's word). Presence is
//! a function of those facts and "now" ([`derive`]):
//!
//! - `offline` when no client has synced for `offline_after` (or the user chose offline and no
//!   client synced since);
//! - otherwise `unavailable` when held away, or when not active for `idle_after`;
//! - otherwise `online`.
//!
//! So any node, before or after a restart, computes the same presence from the same row. What
//! changes the facts ([`Happening`]): a sync (`set_presence=online`, the default, or
//! `unavailable`; `offline` changes nothing), activity (a message, a receipt, typing), and the
//! user's explicit choice (`PUT /presence/{userId}/status`). Syncing is not activity: a client
//! left open keeps its user from going offline, not from going idle. Coming back (a sync after
//! being offline, or a client that said "idle" saying "online" again) is.

use std::time::Duration;

use ruma::UserId;
use wardline_store::{Away, Presence};
use wardline_types::{StreamPos, Timestamp};

/// A user's presence, as the Matrix spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceState {
    /// Using a client, and active recently.
    Online,
    /// Away: idle, or chosen (`do not disturb`).
    Unavailable,
    /// No client connected.
    Offline,
}

impl PresenceState {
    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Unavailable => "unavailable",
            Self::Offline => "offline",
        }
    }

    /// From the wire name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "online" => Some(Self::Online),
            "unavailable" => Some(Self::Unavailable),
            "offline" => Some(Self::Offline),
            _ => None,
        }
    }
}

/// When presence expires, and how far a stored fact may lag behind the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Online becomes unavailable after this long without activity.
    pub idle_after: Duration,
    /// Anything becomes offline after this long without a sync.
    pub offline_after: Duration,
    /// The longest long-poll: a client that syncs without pause starts a sync at least this
    /// often. Must be below `offline_after`.
    pub longest_poll: Duration,
}

impl Thresholds {
    /// A sync writes its time only when the stored last sync is at least this old. A client
    /// syncing without pause is then never found offline: between its last stored sync and now
    /// there is at most this plus one long-poll, which is below `offline_after`.
    #[must_use]
    pub fn sync_granularity(&self) -> Duration {
        self.offline_after.saturating_sub(self.longest_poll) / 2
    }

    /// Activity writes its time only when the stored one is at least this old (so
    /// `last_active_ago` is this precise).
    #[must_use]
    pub fn active_granularity(&self) -> Duration {
        self.idle_after / 10
    }

    /// How often to look for presence that expired (the delay with which peers hear of it).
    #[must_use]
    pub fn sweep_interval(&self) -> Duration {
        (self.idle_after.min(self.offline_after) / 10).clamp(Duration::from_millis(100), Duration::from_secs(10))
    }
}

/// Something that changes the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// A client synced, saying the user is online or unavailable (idle).
    Synced(PresenceState),
    /// The user did something: sent a message, a receipt, typed.
    Active,
    /// The user chose a presence and status message.
    Chose(PresenceState, Option<String>),
}

/// What to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Nothing.
    Nothing,
    /// Move the stored last sync and last activity forward, without telling anyone: nothing
    /// anyone sees changed.
    Note {
        /// New last sync.
        last_sync: Option<Timestamp>,
        /// New last activity.
        last_active: Option<Timestamp>,
    },
    /// Store this presence at a new position, telling everyone who may see it.
    Publish(Presence),
}

fn elapsed(now: Timestamp, since: Timestamp) -> Duration {
    Duration::from_millis(now.millis_since(since))
}

/// The user's presence at `now`.
#[must_use]
pub fn derive(p: &Presence, now: Timestamp, t: &Thresholds) -> PresenceState {
    match p.last_sync {
        Some(s) if elapsed(now, s) < t.offline_after => {}
        _ => return PresenceState::Offline,
    }
    if p.away.is_some() || elapsed(now, p.last_active) >= t.idle_after {
        PresenceState::Unavailable
    } else {
        PresenceState::Online
    }
}

/// Nothing stored yet: never seen.
#[must_use]
pub fn never_seen(user: &UserId) -> Presence {
    Presence {
        user_id: user.to_owned(),
        state: PresenceState::Offline.as_str().to_owned(),
        status_msg: None,
        last_active: Timestamp(0),
        last_sync: None,
        away: None,
        stream: StreamPos::ZERO,
    }
}

/// The facts after `h`, with the presence they give at `now`.
#[must_use]
pub fn apply(p: &Presence, h: &Happening, now: Timestamp, t: &Thresholds) -> Presence {
    let mut next = p.clone();
    let synced_now = |n: &mut Presence| n.last_sync = Some(n.last_sync.map_or(now, |s| s.max(now)));
    match h {
        Happening::Synced(PresenceState::Online) => {
            if derive(p, now, t) == PresenceState::Offline || p.away == Some(Away::Client) {
                // Coming back is activity.
                next.last_active = next.last_active.max(now);
            }
            if p.away == Some(Away::Client) {
                next.away = None;
            }
            synced_now(&mut next);
        }
        Happening::Synced(PresenceState::Unavailable) => {
            if p.away.is_none() {
                next.away = Some(Away::Client);
            }
            synced_now(&mut next);
        }
        Happening::Synced(PresenceState::Offline) => {}
        Happening::Active => {
            next.last_active = next.last_active.max(now);
            if p.away == Some(Away::Client) {
                next.away = None;
            }
        }
        Happening::Chose(state, msg) => {
            next.status_msg.clone_from(msg);
            match state {
                PresenceState::Online => {
                    next.away = None;
                    next.last_active = next.last_active.max(now);
                    synced_now(&mut next);
                }
                PresenceState::Unavailable => {
                    next.away = Some(Away::User);
                    synced_now(&mut next);
                }
                PresenceState::Offline => {
                    next.away = None;
                    next.last_sync = None;
                }
            }
        }
    }
    next.state = derive(&next, now, t).as_str().to_owned();
    next
}

/// What to store when `h` happens (or, with `None`, when time passes) to a user whose stored
/// presence is `stored` (`None`: nothing stored).
#[must_use]
pub fn decide(
    user: &UserId,
    stored: Option<&Presence>,
    h: Option<&Happening>,
    now: Timestamp,
    t: &Thresholds,
) -> Write {
    let before = stored.cloned().unwrap_or_else(|| never_seen(user));
    let after = match h {
        Some(h) => apply(&before, h, now, t),
        None => Presence { state: derive(&before, now, t).as_str().to_owned(), ..before.clone() },
    };
    let chose = matches!(h, Some(Happening::Chose(..)));
    if stored.is_none() {
        // The first row: worth writing once the user shows up, or chooses something.
        return if chose || after.state != PresenceState::Offline.as_str() {
            Write::Publish(after)
        } else {
            Write::Nothing
        };
    }
    let forgot_sync = before.last_sync.is_some() && after.last_sync.is_none();
    if after.state != before.state || after.status_msg != before.status_msg || after.away != before.away || forgot_sync
    {
        return Write::Publish(after);
    }
    let sync_moved = match (before.last_sync, after.last_sync) {
        (Some(b), Some(a)) => elapsed(a, b) >= t.sync_granularity(),
        (None, Some(_)) => true,
        _ => false,
    };
    let active_moved = elapsed(after.last_active, before.last_active) >= t.active_granularity();
    if sync_moved || active_moved {
        Write::Note {
            last_sync: after.last_sync.filter(|_| sync_moved),
            last_active: active_moved.then_some(after.last_active),
        }
    } else {
        Write::Nothing
    }
}

#[cfg(test)]
mod tests {
    use ruma::{OwnedUserId, owned_user_id};

    use super::*;

    const T: Thresholds = Thresholds {
        idle_after: Duration::from_secs(300),
        offline_after: Duration::from_secs(120),
        longest_poll: Duration::from_secs(60),
    };

    fn ada() -> OwnedUserId {
        owned_user_id!("@ada:localhost")
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp(1_000_000 + secs * 1000)
    }

    /// Applies what `decide` says to a stored row, as the store would.
    fn run(stored: Option<Presence>, h: Option<Happening>, now: Timestamp) -> (Option<Presence>, Write) {
        let w = decide(&ada(), stored.as_ref(), h.as_ref(), now, &T);
        let next = match &w {
            Write::Nothing => stored,
            Write::Note { last_sync, last_active } => stored.map(|mut p| {
                p.last_sync = p.last_sync.max(*last_sync);
                p.last_active = p.last_active.max(last_active.unwrap_or(p.last_active));
                p
            }),
            Write::Publish(p) => Some(p.clone()),
        };
        (next, w)
    }

    fn state(p: &Option<Presence>) -> &str {
        p.as_ref().map_or("none", |p| p.state.as_str())
    }

    #[test]
    fn granularity_keeps_a_syncing_client_online() {
        assert_eq!(T.sync_granularity(), Duration::from_secs(30));
        assert!(T.sync_granularity() + T.longest_poll < T.offline_after);
        assert_eq!(T.sweep_interval(), Duration::from_secs(10));
    }

    #[test]
    fn a_sync_brings_a_user_online_and_offline_sync_does_not() {
        let (p, w) = run(None, Some(Happening::Synced(PresenceState::Offline)), at(0));
        assert_eq!((state(&p), w), ("none", Write::Nothing), "set_presence=offline marks nobody online");
        let (p, w) = run(None, Some(Happening::Synced(PresenceState::Online)), at(0));
        assert!(matches!(w, Write::Publish(_)));
        assert_eq!(state(&p), "online");
        let p = p.map(|p| Presence { last_active: at(0), ..p });
        assert_eq!(p.as_ref().map(|p| p.last_sync), Some(Some(at(0))));
        // Set offline by choice: a set_presence=offline sync leaves it so.
        let (p, _) = run(p, Some(Happening::Chose(PresenceState::Offline, None)), at(1));
        assert_eq!(state(&p), "offline");
        let (p, w) = run(p, Some(Happening::Synced(PresenceState::Offline)), at(2));
        assert_eq!((state(&p), w), ("offline", Write::Nothing));
        // A sync that does not say offline comes back online, which is activity.
        let (p, _) = run(p, Some(Happening::Synced(PresenceState::Online)), at(3));
        assert_eq!(state(&p), "online");
        assert_eq!(p.map(|p| p.last_active), Some(at(3)));
    }

    #[test]
    fn idle_then_offline_as_time_passes_and_activity_brings_back() {
        let (p, _) = run(None, Some(Happening::Synced(PresenceState::Online)), at(0));
        // Syncing keeps the user connected, not active.
        let mut p = p;
        for s in [50, 100, 150, 200, 250, 290] {
            let (next, w) = run(p.clone(), Some(Happening::Synced(PresenceState::Online)), at(s));
            assert!(matches!(w, Write::Note { last_active: None, .. }), "{s}: {w:?}");
            p = next;
        }
        assert_eq!(state(&p), "online");
        let (p, w) = run(p, None, at(299));
        assert_eq!(w, Write::Nothing, "not idle yet");
        let (p, w) = run(p, None, at(300));
        assert!(matches!(w, Write::Publish(_)), "idle: {w:?}");
        assert_eq!(state(&p), "unavailable");
        // Still syncing: stays unavailable.
        let (p, _) = run(p, Some(Happening::Synced(PresenceState::Online)), at(301));
        assert_eq!(state(&p), "unavailable");
        // A message: online again.
        let (p, w) = run(p, Some(Happening::Active), at(302));
        assert!(matches!(w, Write::Publish(_)));
        assert_eq!(state(&p), "online");
        // The client stops syncing. The sync at 301 was not written (the one at 290 was, less
        // than `sync_granularity` before): offline counts from 290.
        let (p, w) = run(p, None, at(409));
        assert_eq!((state(&p), w), ("online", Write::Nothing));
        let (p, w) = run(p, None, at(410));
        assert!(matches!(w, Write::Publish(_)));
        assert_eq!(state(&p), "offline");
        // Activity without a client connected does not bring them online.
        let (p, _) = run(p, Some(Happening::Active), at(422));
        assert_eq!(state(&p), "offline");
    }

    #[test]
    fn a_chosen_away_outlasts_syncs_activity_and_being_offline() {
        let (p, _) = run(None, Some(Happening::Synced(PresenceState::Online)), at(0));
        let dnd = Some("Do not disturb".to_owned());
        let (p, w) = run(p, Some(Happening::Chose(PresenceState::Unavailable, dnd.clone())), at(1));
        assert!(matches!(w, Write::Publish(_)));
        for h in [Happening::Synced(PresenceState::Online), Happening::Active] {
            let (q, _) = run(p.clone(), Some(h), at(2));
            assert_eq!(state(&q), "unavailable");
            assert_eq!(q.and_then(|q| q.status_msg), dnd);
        }
        let (p, _) = run(p, None, at(500));
        assert_eq!(state(&p), "offline");
        let (p, _) = run(p, Some(Happening::Synced(PresenceState::Online)), at(600));
        assert_eq!(state(&p), "unavailable", "back, still not to be disturbed");
        let (p, _) = run(p, Some(Happening::Chose(PresenceState::Online, None)), at(601));
        assert_eq!(state(&p), "online");
        assert_eq!(p.and_then(|p| p.status_msg), None);
    }

    #[test]
    fn a_client_saying_idle_holds_until_it_says_back_or_the_user_acts() {
        let (p, _) = run(None, Some(Happening::Synced(PresenceState::Online)), at(0));
        let (p, w) = run(p, Some(Happening::Synced(PresenceState::Unavailable)), at(1));
        assert!(matches!(w, Write::Publish(_)));
        assert_eq!(state(&p), "unavailable");
        let (q, _) = run(p.clone(), Some(Happening::Synced(PresenceState::Online)), at(2));
        assert_eq!(state(&q), "online");
        let (q, _) = run(p, Some(Happening::Active), at(2));
        assert_eq!(state(&q), "online");
    }
}
