//! Do not disturb, with cover: a person is not to be disturbed until a time, and may name a
//! colleague who covers for them meanwhile. Whether it is in force is a function of the stored
//! `until` and the [`crate::Clock`]: it ends by itself, with no timer needed for the truth.

use ruma::{OwnedDeviceId, OwnedUserId, UserId};
use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::role::ROLE_USERNAME_PREFIX;

/// The account data type (global) holding a user's own do-not-disturb, so their clients can
/// silence sounds and notifications; also the field of the presence content that carries it.
pub const DND_KIND: &str = "org.wardline.dnd";

/// The state event (state key `""`) marking a conversation the server made between a sender
/// and a cover, for one absent person: `{absent, sender, cover}`.
pub const COVER_STATE_KIND: &str = "org.wardline.cover";

/// The field of a forwarded copy naming what it copies:
/// `{for, cover, room_id, event_id}`.
pub const FORWARDED_FIELD: &str = "org.wardline.forwarded";

/// Longest do-not-disturb one can set, in milliseconds (7 days).
pub const MAX_DND_MILLIS: u64 = 7 * 24 * 3_600_000;

/// A user's do-not-disturb as set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoNotDisturb {
    /// Who is not to be disturbed.
    pub user_id: OwnedUserId,
    /// Until when (exclusive): in force while `now < until`.
    pub until: Timestamp,
    /// The colleague who covers meanwhile, if one was named.
    pub cover: Option<OwnedUserId>,
    /// When it was set.
    pub set_at: Timestamp,
    /// The device it was set from, if it came through a session.
    pub set_by_device: Option<OwnedDeviceId>,
}

impl DoNotDisturb {
    /// Is it in force at `now`?
    #[must_use]
    pub fn active_at(&self, now: Timestamp) -> bool {
        self.set_at <= now && now < self.until
    }
}

/// One period of do-not-disturb as the record keeps it: from when it was set until it ran out
/// or was ended (cleared, or replaced by a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DndPeriod {
    /// Who.
    pub user_id: OwnedUserId,
    /// Their cover during the period, if any.
    pub cover: Option<OwnedUserId>,
    /// When it was set.
    pub from: Timestamp,
    /// Until when it was set.
    pub until: Timestamp,
    /// When it was ended before `until`, if it was.
    pub ended: Option<Timestamp>,
}

impl DndPeriod {
    /// When the period stopped (or will stop) being in force.
    #[must_use]
    pub fn end(&self) -> Timestamp {
        self.ended.map_or(self.until, |e| e.min(self.until))
    }

    /// Was it in force at `t`?
    #[must_use]
    pub fn covers(&self, t: Timestamp) -> bool {
        self.from <= t && t < self.end()
    }
}

/// Is `user` the Matrix user id of a role (`@role.<id>:<server>`), not a person?
#[must_use]
pub fn is_role_user(user: &UserId) -> bool {
    user.localpart().starts_with(ROLE_USERNAME_PREFIX)
}

/// `HH:MM UTC` of a timestamp, and the date too (`ddd d Mon HH:MM UTC`) when `until` is not on
/// the same UTC day as `now`.
#[must_use]
pub fn until_text(until: Timestamp, now: Timestamp) -> String {
    let at = |t: Timestamp| {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    };
    let (u, n) = (at(until), at(now));
    let clock = format!("{:02}:{:02} UTC", u.hour(), u.minute());
    if u.date() == n.date() {
        clock
    } else {
        let (weekday, month) = (u.weekday().to_string(), u.month().to_string());
        let short = |s: &str| s.chars().take(3).collect::<String>();
        format!("{} {} {} {clock}", short(&weekday), u.day(), short(&month))
    }
}

/// The status message others see while a person is on do-not-disturb:
/// `Do not disturb until 14:00 UTC — cover: Dr C` (or without the cover).
#[must_use]
pub fn status_message(until: Timestamp, now: Timestamp, cover_name: Option<&str>) -> String {
    let mut msg = format!("Do not disturb until {}", until_text(until, now));
    if let Some(name) = cover_name {
        msg.push_str(" — cover: ");
        msg.push_str(name);
    }
    msg
}

/// The label a forwarded copy starts with: `[Forwarded: Dr B is on do-not-disturb; Dr C covers]`.
#[must_use]
pub fn forward_label(absent_name: &str, cover_name: &str) -> String {
    format!("[Forwarded: {absent_name} is on do-not-disturb; {cover_name} covers]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::{owned_user_id, user_id};

    const DAY: u64 = 24 * 3_600_000;

    #[test]
    fn in_force_from_setting_until_until() {
        let d = DoNotDisturb {
            user_id: owned_user_id!("@a:x"),
            until: Timestamp(2000),
            cover: None,
            set_at: Timestamp(1000),
            set_by_device: None,
        };
        assert!(!d.active_at(Timestamp(999)));
        assert!(d.active_at(Timestamp(1000)));
        assert!(d.active_at(Timestamp(1999)));
        assert!(!d.active_at(Timestamp(2000)), "it ends by itself at until");
    }

    #[test]
    fn a_period_ends_at_until_or_when_ended_earlier() {
        let mut p = DndPeriod {
            user_id: owned_user_id!("@a:x"),
            cover: None,
            from: Timestamp(10),
            until: Timestamp(100),
            ended: None,
        };
        assert!(p.covers(Timestamp(10)) && p.covers(Timestamp(99)) && !p.covers(Timestamp(100)));
        p.ended = Some(Timestamp(50));
        assert!(p.covers(Timestamp(49)) && !p.covers(Timestamp(50)));
    }

    #[test]
    fn role_users_are_told_apart() {
        assert!(is_role_user(user_id!("@role.med-reg:x")));
        assert!(!is_role_user(user_id!("@roland:x")));
    }

    #[test]
    fn status_message_says_until_when_and_who_covers() {
        // 2026-01-05 (a Monday) 09:00 UTC.
        let now = Timestamp(1_767_603_600_000);
        let until = Timestamp(now.0 + 5 * 3_600_000);
        assert_eq!(status_message(until, now, Some("Dr C")), "Do not disturb until 14:00 UTC — cover: Dr C");
        assert_eq!(status_message(until, now, None), "Do not disturb until 14:00 UTC");
        assert_eq!(until_text(Timestamp(now.0 + DAY), now), "Tue 6 Jan 09:00 UTC");
        assert_eq!(forward_label("Dr B", "Dr C"), "[Forwarded: Dr B is on do-not-disturb; Dr C covers]");
    }
}
