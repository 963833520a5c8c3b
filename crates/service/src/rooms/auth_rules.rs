//! Who may send what into a room: the Matrix authorization rules for a single, totally ordered
//! room log (no federation, so no state resolution), checked against the current state.

use ruma::UserId;
use serde_json::Value;
use wardline_types::account::SERVER_USERNAME;
use wardline_types::{Membership, NewEvent, kinds};

use super::broadcast_room::SenderFacts;
use super::power_levels::PowerLevels;
use super::state::RoomState;
use crate::{ServiceError, ServiceResult};

fn deny(msg: impl Into<String>) -> ServiceResult<()> {
    Err(ServiceError::Forbidden(msg.into()))
}

/// Checks that `ev` may be appended to the room in state `room`. Every event of every room
/// passes through here, whichever endpoint made it.
///
/// `facts`: what the store says of a broadcast's sender and their event in it (whether they may
/// broadcast now, whether a redaction takes back someone else's event), read by the room service
/// ([`super::RoomService::sender_facts`]); all `false` for anyone else's events, where they are
/// not looked at.
pub fn authorize(room: &RoomState, ev: &NewEvent, facts: SenderFacts) -> ServiceResult<()> {
    ev.check_limits().map_err(|e| ServiceError::invalid(e.to_string()))?;
    check_closed_organisation(ev)?;
    if ev.kind == kinds::REDACTION && (ev.state_key.is_some() || ev.redacts.is_none()) {
        // A redaction is only ever made by `RoomService::send` after its target and the
        // sender's power to redact it were checked; anything else named m.room.redaction
        // would look like a deletion that never happened.
        return deny("m.room.redaction can only be sent as a redaction of an event");
    }
    if ev.kind == kinds::CREATE {
        if room.exists() {
            return deny("the room already exists");
        }
        return Ok(());
    }
    if !room.exists() {
        return Err(ServiceError::not_found("no such room"));
    }
    if let Some(decided) = server_member_rule(room, ev) {
        return decided;
    }
    // A broadcast's sender keeps power 100 in its conversation, but posts there only while an
    // administrator lets them broadcast.
    if !facts.may_broadcast && super::broadcast_room::needs_permission(room, ev, facts.redacts_others) {
        return deny(
            "you may no longer broadcast (an administrator has withdrawn the permission), so you cannot post \
             in this broadcast",
        );
    }
    if ev.kind == kinds::MEMBER {
        return authorize_membership(room, ev);
    }
    if room.membership(&ev.sender) != Some(Membership::Join) {
        return deny("you are not a member of this room");
    }
    let power = room.power();
    let sender_level = power.user(&ev.sender);
    let needed = power.for_event(&ev.kind, ev.state_key.is_some());
    if sender_level < needed {
        return deny(format!("sending {} needs power level {needed}", ev.kind));
    }
    if let Some(sk) = &ev.state_key
        && sk.starts_with('@')
        && sk != ev.sender.as_str()
    {
        return deny("a state key that is a user id must be your own");
    }
    if ev.kind == kinds::POWER_LEVELS {
        return authorize_power_levels(power, &ev.sender, &ev.content);
    }
    // A conversation is a broadcast only if Wardline created it as one, and its broadcast state
    // is set once, at creation: no room admin can turn a ward's conversation into one (silencing
    // it), nor a broadcaster turn theirs back into an open room.
    if ev.kind == wardline_types::broadcast::BROADCAST
        && (!super::broadcast_room::created_as_broadcast(room) || room.get(&ev.kind, "").is_some())
    {
        return deny("a conversation's broadcast state is set by Wardline when it creates it, and never changes");
    }
    // An incident conversation's state is the alarm's: only a hospital system (the integration
    // that raised it) writes it, whatever the power levels, so nobody can forge or close one.
    if ev.kind == wardline_types::alarm::INCIDENT && !wardline_types::integration::is_integration_user(&ev.sender) {
        return deny("an incident's state is written only by the hospital system that raised its alarm");
    }
    // A broadcast conversation: recipients post nothing but answers, whatever the power levels.
    if ev.state_key.is_none()
        && let Some(sender) = super::broadcast_room::broadcaster(room)
        && !super::broadcast_room::may_post(sender, ev)
    {
        return deny("only the sender posts in a broadcast; you can acknowledge it or choose one of its answers");
    }
    Ok(())
}

/// What a closed organisation never allows, whatever the power levels: public rooms, and
/// history readable by people who were never in the room.
fn check_closed_organisation(ev: &NewEvent) -> ServiceResult<()> {
    if ev.state_key.is_none() {
        return Ok(());
    }
    let field = |name: &str| ev.content.get(name).and_then(Value::as_str);
    if ev.kind == kinds::JOIN_RULES && field("join_rule") == Some("public") {
        return deny("rooms cannot be public in a closed organisation");
    }
    if ev.kind == kinds::HISTORY_VISIBILITY && field("history_visibility") == Some("world_readable") {
        return deny("history cannot be world-readable in a closed organisation: use shared, invited or joined");
    }
    Ok(())
}

/// The server's own member (`@wardline`) follows the server's rule, not the room's: it may join
/// any conversation (invited or not, whatever the power levels, even if banned before this rule)
/// and post messages there, and nobody may remove or ban it. What it posts (escalation steps,
/// answer deadlines) must reach everyone: a conversation's moderators must not be able to
/// silence an escalation by their room's settings. It has no account and nobody signs in as it;
/// only the server's own code sends as it (`rooms/server_member.rs`), and anything else it might
/// send follows the room's rules. `None`: the room's rules decide.
fn server_member_rule(room: &RoomState, ev: &NewEvent) -> Option<ServiceResult<()>> {
    let is_server = |u: &UserId| u.localpart() == SERVER_USERNAME;
    let membership = ev.content.get("membership").and_then(Value::as_str);
    let target = ev.state_key.as_deref().filter(|_| ev.kind == kinds::MEMBER);
    if is_server(&ev.sender) {
        if target == Some(ev.sender.as_str()) && membership == Some("join") {
            return Some(Ok(()));
        }
        if ev.kind == kinds::MESSAGE && ev.state_key.is_none() && room.membership(&ev.sender) == Some(Membership::Join)
        {
            return Some(Ok(()));
        }
        return None;
    }
    let target = target.and_then(|t| <&UserId>::try_from(t).ok())?;
    if is_server(target) && matches!(membership, Some("leave" | "ban")) {
        return Some(deny("Wardline's own member cannot be removed: it posts the escalation steps everyone must see"));
    }
    None
}

fn authorize_membership(room: &RoomState, ev: &NewEvent) -> ServiceResult<()> {
    let Some(target) = ev.state_key.as_deref().and_then(|s| <&UserId>::try_from(s).ok()) else {
        return Err(ServiceError::invalid("a member event's state key must be a user id"));
    };
    let Some(membership) = ev.content.get("membership").and_then(Value::as_str) else {
        return Err(ServiceError::BadJson("membership is required".into()));
    };
    let membership: Membership = membership.parse().map_err(|_| ServiceError::BadJson("unknown membership".into()))?;
    let sender = &ev.sender;
    let sender_m = room.membership(sender);
    let target_m = room.membership(target);
    let power = room.power();
    let (sender_level, target_level) = (power.user(sender), power.user(target));
    match membership {
        Membership::Join => {
            if sender != target {
                return deny("you can only join as yourself");
            }
            // A ban holds whatever the power levels, for the creator too.
            if target_m == Some(Membership::Ban) {
                return deny("you are banned from this room");
            }
            if room.creator() == Some(sender.as_ref()) && target_m.is_none() && !room.has_members() {
                // The creator's own first join, right after the create event.
                return Ok(());
            }
            match target_m {
                Some(Membership::Join | Membership::Invite) => Ok(()),
                _ if room.join_rule() == "public" => Ok(()),
                _ => deny("you are not invited to this room"),
            }
        }
        Membership::Invite => {
            if sender_m != Some(Membership::Join) {
                return deny("you are not a member of this room");
            }
            match target_m {
                Some(Membership::Ban) => deny("that user is banned from this room"),
                Some(Membership::Join) => deny("that user is already in the room"),
                _ if sender_level < power.invite => deny("you may not invite people to this room"),
                _ => Ok(()),
            }
        }
        Membership::Leave if sender == target => match target_m {
            Some(Membership::Join | Membership::Invite | Membership::Knock) => Ok(()),
            _ => deny("you are not in this room"),
        },
        Membership::Leave => {
            if sender_m != Some(Membership::Join) {
                return deny("you are not a member of this room");
            }
            if target_m == Some(Membership::Ban) {
                return if sender_level >= power.ban { Ok(()) } else { deny("you may not unban people") };
            }
            if !matches!(target_m, Some(Membership::Join | Membership::Invite | Membership::Knock)) {
                return deny("that user is not in the room");
            }
            if sender_level >= power.kick && target_level < sender_level {
                Ok(())
            } else {
                deny("you may not remove that user")
            }
        }
        Membership::Ban => {
            if sender_m != Some(Membership::Join) {
                return deny("you are not a member of this room");
            }
            if sender_level >= power.ban && target_level < sender_level {
                Ok(())
            } else {
                deny("you may not ban that user")
            }
        }
        Membership::Knock => deny("knocking is not offered"),
    }
}

fn authorize_power_levels(current: &PowerLevels, sender: &UserId, content: &Value) -> ServiceResult<()> {
    for key in ["users", "events"] {
        if let Some(v) = content.get(key)
            && !v.is_object()
        {
            return Err(ServiceError::BadJson(format!("{key} must be an object")));
        }
    }
    let new = PowerLevels::from_content(content);
    let mine = current.user(sender);
    let check = |old: i64, new: i64, what: &str| -> ServiceResult<()> {
        if old != new && (old > mine || new > mine) {
            return deny(format!("you cannot change {what} beyond your own power level"));
        }
        Ok(())
    };
    check(current.users_default, new.users_default, "users_default")?;
    check(current.events_default, new.events_default, "events_default")?;
    check(current.state_default, new.state_default, "state_default")?;
    check(current.ban, new.ban, "ban")?;
    check(current.kick, new.kick, "kick")?;
    check(current.redact, new.redact, "redact")?;
    check(current.invite, new.invite, "invite")?;
    let event_keys = current.events.keys().chain(new.events.keys());
    for k in event_keys {
        let (o, n) = (current.events.get(k).copied(), new.events.get(k).copied());
        if o != n && (o.is_some_and(|o| o > mine) || n.is_some_and(|n| n > mine)) {
            return deny(format!("you cannot change the level of {k} beyond your own"));
        }
    }
    let user_keys = current.users.keys().chain(new.users.keys());
    for u in user_keys {
        let (o, n) = (current.users.get(u).copied(), new.users.get(u).copied());
        if o == n {
            continue;
        }
        if o.is_some_and(|o| o > mine) || n.is_some_and(|n| n > mine) {
            return deny("you cannot give or take power beyond your own");
        }
        if u != sender.as_str() && o.is_some_and(|o| o >= mine) {
            return deny("you cannot change the power of someone at your level or above");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
