//! A room's current state, kept in memory while the room is in use.

use std::collections::HashMap;

use ruma::{OwnedRoomId, OwnedUserId, UserId};
use serde_json::Value;
use wardline_types::{Membership, StoredEvent, StreamPos, kinds};

use super::power_levels::PowerLevels;

/// The current state of one room.
#[derive(Debug, Clone)]
pub struct RoomState {
    /// The room.
    pub room_id: OwnedRoomId,
    state: HashMap<(String, String), StoredEvent>,
    members: HashMap<OwnedUserId, Membership>,
    power: PowerLevels,
    /// Position of the newest event applied.
    pub last: StreamPos,
}

impl RoomState {
    /// An empty room (before its create event).
    #[must_use]
    pub fn empty(room_id: OwnedRoomId) -> Self {
        Self {
            room_id,
            state: HashMap::new(),
            members: HashMap::new(),
            power: PowerLevels::before_power_levels(None),
            last: StreamPos::ZERO,
        }
    }

    /// Builds the state from its state events, in stream order.
    #[must_use]
    pub fn from_events(room_id: OwnedRoomId, events: impl IntoIterator<Item = StoredEvent>) -> Self {
        let mut s = Self::empty(room_id);
        for e in events {
            s.apply(&e);
        }
        s
    }

    /// Applies an event that was appended to the room.
    pub fn apply(&mut self, e: &StoredEvent) {
        self.last = self.last.max(e.stream);
        let Some(state_key) = &e.event.state_key else {
            return;
        };
        match e.event.kind.as_str() {
            kinds::MEMBER => {
                if let (Some(m), Ok(user)) = (e.membership(), OwnedUserId::try_from(state_key.as_str())) {
                    self.members.insert(user, m);
                }
            }
            kinds::CREATE if !self.state.contains_key(&(kinds::POWER_LEVELS.to_owned(), String::new())) => {
                self.power = PowerLevels::before_power_levels(Some(&e.event.sender));
            }
            kinds::POWER_LEVELS if state_key.is_empty() => self.power = PowerLevels::from_content(&e.event.content),
            _ => {}
        }
        self.state.insert((e.event.kind.clone(), state_key.clone()), e.clone());
    }

    /// Does the room exist (has a create event)?
    #[must_use]
    pub fn exists(&self) -> bool {
        self.state.contains_key(&(kinds::CREATE.to_owned(), String::new()))
    }

    /// A state event.
    #[must_use]
    pub fn get(&self, kind: &str, state_key: &str) -> Option<&StoredEvent> {
        self.state.get(&(kind.to_owned(), state_key.to_owned()))
    }

    /// A string field of a state event's content.
    #[must_use]
    pub fn content_str(&self, kind: &str, field: &str) -> Option<&str> {
        self.get(kind, "")?.event.content.get(field)?.as_str()
    }

    /// Every current state event.
    pub fn events(&self) -> impl Iterator<Item = &StoredEvent> {
        self.state.values()
    }

    /// A user's membership, if they have one.
    #[must_use]
    pub fn membership(&self, user: &UserId) -> Option<Membership> {
        self.members.get(user).copied()
    }

    /// Has anyone ever had a membership in the room (joined, been invited, left, ...)?
    #[must_use]
    pub fn has_members(&self) -> bool {
        !self.members.is_empty()
    }

    /// Users with this membership.
    pub fn members_with(&self, m: Membership) -> impl Iterator<Item = &OwnedUserId> {
        self.members.iter().filter(move |(_, x)| **x == m).map(|(u, _)| u)
    }

    /// Users who should hear about a new event: members and invitees.
    pub fn audience(&self) -> impl Iterator<Item = &OwnedUserId> {
        self.members.iter().filter(|(_, m)| matches!(m, Membership::Join | Membership::Invite)).map(|(u, _)| u)
    }

    /// The room's power levels.
    #[must_use]
    pub fn power(&self) -> &PowerLevels {
        &self.power
    }

    /// The join rule (`invite` when unset).
    #[must_use]
    pub fn join_rule(&self) -> &str {
        self.content_str(kinds::JOIN_RULES, "join_rule").unwrap_or("invite")
    }

    /// The creator (sender of the create event).
    #[must_use]
    pub fn creator(&self) -> Option<&UserId> {
        self.get(kinds::CREATE, "").map(|e| e.event.sender.as_ref())
    }

    /// The stripped state shown with an invite: name, avatar, join rules, encryption, create.
    #[must_use]
    pub fn stripped_for_invite(&self) -> Vec<Value> {
        [
            kinds::CREATE,
            kinds::NAME,
            kinds::AVATAR,
            kinds::JOIN_RULES,
            kinds::CANONICAL_ALIAS,
            kinds::ENCRYPTION,
            kinds::TOPIC,
        ]
        .iter()
        .filter_map(|k| self.get(k, ""))
        .map(|e| {
            serde_json::json!({
                "type": e.event.kind,
                "state_key": e.event.state_key,
                "content": e.event.content,
                "sender": e.event.sender,
            })
        })
        .collect()
    }
}
