//! The power levels of a room, read leniently from its `m.room.power_levels` content.

use std::collections::HashMap;

use ruma::UserId;
use serde_json::Value;

/// Parsed power levels with the spec's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerLevels {
    /// Per-user levels.
    pub users: HashMap<String, i64>,
    /// Level of users not listed.
    pub users_default: i64,
    /// Per-event-type levels.
    pub events: HashMap<String, i64>,
    /// Level to send message events not listed.
    pub events_default: i64,
    /// Level to send state events not listed.
    pub state_default: i64,
    /// Level to ban.
    pub ban: i64,
    /// Level to kick.
    pub kick: i64,
    /// Level to redact others' events.
    pub redact: i64,
    /// Level to invite.
    pub invite: i64,
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn int_map(v: Option<&Value>) -> HashMap<String, i64> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), int(Some(v))?))).collect())
        .unwrap_or_default()
}

impl PowerLevels {
    /// Levels in a room that has no power levels event yet: its creator has 100.
    #[must_use]
    pub fn before_power_levels(creator: Option<&UserId>) -> Self {
        let mut users = HashMap::new();
        if let Some(c) = creator {
            users.insert(c.as_str().to_owned(), 100);
        }
        Self {
            users,
            users_default: 0,
            events: HashMap::new(),
            events_default: 0,
            state_default: 0,
            ban: 50,
            kick: 50,
            redact: 50,
            invite: 0,
        }
    }

    /// Reads a power levels content.
    #[must_use]
    pub fn from_content(c: &Value) -> Self {
        Self {
            users: int_map(c.get("users")),
            users_default: int(c.get("users_default")).unwrap_or(0),
            events: int_map(c.get("events")),
            events_default: int(c.get("events_default")).unwrap_or(0),
            state_default: int(c.get("state_default")).unwrap_or(50),
            ban: int(c.get("ban")).unwrap_or(50),
            kick: int(c.get("kick")).unwrap_or(50),
            redact: int(c.get("redact")).unwrap_or(50),
            invite: int(c.get("invite")).unwrap_or(0),
        }
    }

    /// A user's level.
    #[must_use]
    pub fn user(&self, user: &UserId) -> i64 {
        self.users.get(user.as_str()).copied().unwrap_or(self.users_default)
    }

    /// The level needed to send an event of this type.
    #[must_use]
    pub fn for_event(&self, kind: &str, is_state: bool) -> i64 {
        self.events.get(kind).copied().unwrap_or(if is_state { self.state_default } else { self.events_default })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::user_id;
    use serde_json::json;

    #[test]
    fn defaults_and_lenient_numbers() {
        let pl = PowerLevels::from_content(&json!({
            "users": {"@a:x": 100, "@b:x": "50"},
            "events": {"m.room.name": 10}
        }));
        assert_eq!(pl.user(user_id!("@a:x")), 100);
        assert_eq!(pl.user(user_id!("@b:x")), 50);
        assert_eq!(pl.user(user_id!("@c:x")), 0);
        assert_eq!(pl.for_event("m.room.name", true), 10);
        assert_eq!(pl.for_event("m.room.topic", true), 50);
        assert_eq!(pl.for_event("m.room.message", false), 0);
        assert_eq!(pl.kick, 50);
    }
}
