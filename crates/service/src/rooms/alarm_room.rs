//! Alarm conversations (`alarms/`): the standing conversation of a rule, where a ward's nurse
//! calls arrive, and an incident's own conversation ("Cardiac arrest — Ward 7, bed 12").
//!
//! Created by the integration's own user (`@integration.<id>`), with the server's member, both
//! at power 100; the people a rule names are seated at once (invited and joined in one write,
//! as a broadcast's recipients: an alarm must not wait for someone to accept an invitation),
//! and its roles brought in with their holders. Only Wardline changes the conversation's state;
//! responders write, answer and bring in colleagues (except in a clinical alert's conversation,
//! which is closed to invitations: its people are those the topic is open to). The id is derived from the integration
//! and a key (the rule, or the alarm), so a dispatch retried after a crash finds the
//! conversation the first attempt made.

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use wardline_types::Membership;
use wardline_types::alarm::INCIDENT;
use wardline_types::kinds;
use wardline_types::role::RoleId;

use super::RoomService;
use super::create::ROOM_VERSION;
use crate::audit::Actor;
use crate::{ServiceError, ServiceResult};

/// An alarm conversation to create (or, if it exists, to complete with its targets).
#[derive(Debug, Clone)]
pub struct NewAlarmRoom {
    /// The integration's name, as its member shows it ("Ascom nurse call").
    pub creator_name: String,
    /// The name shown.
    pub name: String,
    /// The content of its [`INCIDENT`] state event, for an incident.
    pub incident: Option<Value>,
    /// People to seat (active accounts of the organisation).
    pub people: Vec<OwnedUserId>,
    /// Roles to bring in.
    pub roles: Vec<RoleId>,
    /// Members may not invite anyone (a clinical alert's conversation: it holds a patient's
    /// result for those a topic is open to; only Wardline seats people).
    pub closed: bool,
}

/// A person's name as colleagues see it, for their member event.
async fn display_name(rooms: &RoomService, user: &UserId) -> ServiceResult<String> {
    let account = rooms.store.account(user).await?;
    Ok(account.and_then(|a| a.display_name).unwrap_or_else(|| user.localpart().to_owned()))
}

impl RoomService {
    /// The id of `integration`'s alarm conversation for `key`.
    ///
    /// # Errors
    /// Never in practice (the id is always valid).
    pub fn alarm_room_id(&self, integration: &UserId, key: &str) -> ServiceResult<OwnedRoomId> {
        super::derived_room_id(b"wardline alarm room", integration, key, &self.server_name)
    }

    /// Creates the alarm conversation `room_id` for `by` (the integration's user) if it does not
    /// exist, then makes sure each of its people and roles is in it (seating those who are not:
    /// the rule names them). Returns whether it was created now.
    pub async fn open_alarm_room(&self, by: &Actor, room_id: &RoomId, new: NewAlarmRoom) -> ServiceResult<bool> {
        let creator: &UserId = &by.user_id;
        let server = self.server_member()?;
        let mut people = Vec::new();
        for p in new.people.iter().filter(|p| **p != *creator) {
            match self.store.account(p).await? {
                Some(a) if !a.deactivated => people.push((p.clone(), display_name(self, p).await?)),
                _ => {}
            }
        }
        let mut slot = self.lock(room_id).await?;
        let created = !slot.state.exists();
        let mut events = Vec::new();
        if created {
            let power = json!({
                "users": { creator.as_str(): 100, server.as_str(): 100 },
                "users_default": 0, "events_default": 0, "state_default": 100,
                "ban": 100, "kick": 100, "redact": 100, "invite": if new.closed { 100 } else { 0 },
                "notifications": { "room": 100 }
            });
            let state =
                |kind: &str, content: Value| self.new_event(room_id, creator, kind, Some(String::new()), content);
            let create = json!({ "room_version": ROOM_VERSION, "creator": creator, "m.federate": false });
            events.push(state(kinds::CREATE, create));
            events.push(self.new_event(
                room_id,
                creator,
                kinds::MEMBER,
                Some(creator.to_string()),
                json!({ "membership": "join", "displayname": new.creator_name }),
            ));
            events.push(state(kinds::POWER_LEVELS, power));
            events.push(state(kinds::JOIN_RULES, json!({ "join_rule": "invite" })));
            events.push(state(kinds::HISTORY_VISIBILITY, json!({ "history_visibility": "shared" })));
            events.push(state(kinds::GUEST_ACCESS, json!({ "guest_access": "forbidden" })));
            events.push(state(kinds::NAME, json!({ "name": new.name })));
            if let Some(incident) = new.incident {
                events.push(state(INCIDENT, incident));
            }
        } else if slot.state.creator() != Some(creator) {
            return Err(ServiceError::Internal("an alarm conversation's id is taken".into()));
        }
        let mut seat = |user: &UserId, display: &str, joined: bool| {
            if joined {
                return;
            }
            let invite = json!({ "membership": "invite", "displayname": display });
            events.push(self.new_event(room_id, creator, kinds::MEMBER, Some(user.to_string()), invite));
            let join = json!({ "membership": "join", "displayname": display });
            events.push(self.new_event(room_id, user, kinds::MEMBER, Some(user.to_string()), join));
        };
        let joined = |u: &UserId| !created && slot.state.membership(u) == Some(Membership::Join);
        seat(&server, "Wardline", joined(&server));
        for (p, name) in &people {
            seat(p, name, joined(p));
        }
        if !events.is_empty() {
            self.append(by, &mut slot, events).await?;
        }
        for role in &new.roles {
            let Ok(r) = self.invitable_role(role).await else { continue };
            if slot.state.membership(&self.role_user(role)?) == Some(Membership::Join) {
                continue;
            }
            let events = self.bring_in(&slot.state, creator, &r, None)?;
            self.append(by, &mut slot, events).await?;
        }
        self.settle_locked(&mut slot).await?;
        Ok(created)
    }

    /// Sets the [`INCIDENT`] state of an alarm conversation, as its integration's user.
    pub async fn set_incident_state(&self, by: &Actor, room_id: &RoomId, content: Value) -> ServiceResult<()> {
        let mut slot = self.lock(room_id).await?;
        if slot.state.creator() != Some(&*by.user_id) {
            return Err(ServiceError::not_found("no such incident"));
        }
        let ev = self.new_event(room_id, &by.user_id, INCIDENT, Some(String::new()), content);
        self.append(by, &mut slot, vec![ev]).await?;
        Ok(())
    }
}
