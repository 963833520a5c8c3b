//! Broadcast conversations ([`wardline_types::broadcast`]): created with every recipient seated
//! at once (an invitation and its acceptance in one write, as role seats are), the server's own
//! member in, and power levels under which only the sender and the server post; recipients
//! answer and acknowledge. What a recipient sends is rebuilt by the server from what they chose
//! ([`RoomService::recipient_content`]: no free text, formatting or mentions in a conversation
//! of hundreds), and whether it is something the conversation admits is decided by the
//! authorization rules ([`super::auth_rules`], [`may_post`]), which every event passes.
//!
//! The sender holds power 100 in their conversations for good, but may go on broadcasting only
//! while their account, as stored now, may broadcast (`may_broadcast`, not deactivated): an
//! administrator who withdraws the permission silences every broadcast they already made.
//! [`needs_permission`] names the events that need it; the room service reads the account for
//! those, and whose event a redaction takes back ([`RoomService::sender_facts`]), and the
//! authorization rules refuse them without it.

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use wardline_types::account::SERVER_USERNAME;
use wardline_types::broadcast::{BROADCAST, sender_of};
use wardline_types::priority::{self, Given};
use wardline_types::relation::REACTION;
use wardline_types::{Account, NewEvent, kinds};

use super::create::ROOM_VERSION;
use super::{RoomService, RoomState};
use crate::audit::Actor;
use crate::{ServiceError, ServiceResult};

/// Was the conversation created by Wardline as a broadcast? Marked in its create event, which
/// never changes (and which clients' `creation_content` cannot mark).
#[must_use]
pub fn created_as_broadcast(state: &RoomState) -> bool {
    state.get(kinds::CREATE, "").is_some_and(|e| e.event.content.get(BROADCAST) == Some(&Value::Bool(true)))
}

/// The sender of the broadcast conversation in `state`, if it is one.
#[must_use]
pub fn broadcaster(state: &RoomState) -> Option<&str> {
    if !created_as_broadcast(state) {
        return None;
    }
    state.get(BROADCAST, "").and_then(|e| sender_of(&e.event.content))
}

/// What the authorization rules are told of a broadcast's sender and their event, beyond the
/// room's state: read from the store by the room service ([`RoomService::sender_facts`]) for
/// the broadcast's sender's events in it (all `false` for anyone else's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderFacts {
    /// Their account, as stored now, may broadcast (`may_broadcast`, not deactivated).
    pub may_broadcast: bool,
    /// The event is a redaction of someone else's event (a recipient's answer).
    pub redacts_others: bool,
}

/// Does `ev` need its sender's permission to broadcast, as stored now? Everything a broadcast's
/// sender does in its conversation but react, answer, take back their own events or change
/// their own membership (leaving it): posting, editing, changing its state, inviting or
/// removing people, deleting others' answers. `redacts_others`: [`SenderFacts::redacts_others`].
#[must_use]
pub fn needs_permission(state: &RoomState, ev: &NewEvent, redacts_others: bool) -> bool {
    if broadcaster(state) != Some(ev.sender.as_str()) {
        return false;
    }
    let own_membership = ev.kind == kinds::MEMBER && ev.state_key.as_deref() == Some(ev.sender.as_str());
    let answers = matches!(priority::answer_of(&ev.kind, &ev.content), Ok(Some((_, Given::Option { .. }))));
    let own_redaction = ev.kind == kinds::REDACTION && !redacts_others;
    !(own_membership || answers || ev.kind == REACTION || own_redaction)
}

/// Longest reaction key a recipient may use (the answering keys are a few characters, a skin
/// tone and a presentation selector at most).
const MAX_RECIPIENT_KEY_BYTES: usize = 16;

/// May `ev` (an event that is not state) be posted in the broadcast conversation whose sender
/// is `sender`, whatever the power levels? Its sender and the server's own member post anything
/// (the sender while they may broadcast: [`needs_permission`]). A recipient answers and
/// acknowledges, nothing more, in the form [`RoomService::recipient_content`] gives it: an
/// answer with only its reference, option and reason, mentioning nobody; a reaction that answers
/// (👍, 👎, 1️⃣ …: [`priority::reaction_answer`]) with only its relation; a redaction without a
/// reason.
#[must_use]
pub fn may_post(sender: &str, ev: &NewEvent) -> bool {
    if ev.sender.as_str() == sender || ev.sender.localpart() == SERVER_USERNAME {
        return true;
    }
    match ev.kind.as_str() {
        kinds::MESSAGE => is_recipient_answer(&ev.content),
        REACTION => is_recipient_reaction(&ev.content),
        kinds::REDACTION => ev.content.as_object().is_some_and(|m| m.keys().all(|k| k == "redacts")),
        _ => false,
    }
}

/// Is `content` an answer as the server rebuilds a recipient's: the answer's own fields and
/// nothing else, no mention, one line?
fn is_recipient_answer(content: &Value) -> bool {
    let Ok(Some((target, Given::Option { id, reason }))) = priority::answer_of(kinds::MESSAGE, content) else {
        return false;
    };
    let Some(map) = content.as_object() else { return false };
    let body = map.get("body").and_then(Value::as_str).unwrap_or_default();
    let one_line = |s: &str| !s.chars().any(char::is_control);
    let mut block = json!({ "option": id });
    if let Some(r) = &reason {
        block["reason"] = json!(r);
    }
    map.keys().all(|k| ["msgtype", "body", "m.relates_to", "m.mentions", priority::RESPONSE].contains(&k.as_str()))
        && map.get("msgtype").and_then(Value::as_str) == Some("m.text")
        && map.get("m.mentions") == Some(&json!({}))
        && map.get("m.relates_to") == Some(&json!({ "rel_type": "m.reference", "event_id": target }))
        && map.get(priority::RESPONSE) == Some(&block)
        && !body.is_empty()
        && one_line(body)
        && reason.as_deref().is_none_or(|r| one_line(r) && body.ends_with(r))
        && body.chars().count() <= priority::MAX_LABEL_CHARS + 3 + priority::MAX_REASON_CHARS
}

/// Is `content` a reaction that answers, with nothing but its relation?
fn is_recipient_reaction(content: &Value) -> bool {
    let Some(map) = content.as_object() else { return false };
    let Some(rel) = map.get("m.relates_to").and_then(Value::as_object) else { return false };
    let key = rel.get("key").and_then(Value::as_str).unwrap_or_default();
    map.len() == 1
        && rel.len() == 3
        && rel.get("rel_type").and_then(Value::as_str) == Some("m.annotation")
        && rel.get("event_id").is_some_and(Value::is_string)
        && key.len() <= MAX_RECIPIENT_KEY_BYTES
        && priority::reaction_answer(key).is_some()
}

/// The id of `sender`'s broadcast conversation for `key`: the same for a retry, unguessable
/// without the key, and never one a client can choose (created conversations get random ids).
fn broadcast_room_id(sender: &UserId, key: &str, server_name: &ruma::ServerName) -> ServiceResult<OwnedRoomId> {
    super::derived_room_id(b"wardline broadcast room", sender, key, server_name)
}

/// A broadcast conversation to create.
#[derive(Debug, Clone)]
pub struct NewBroadcastRoom {
    /// What makes a retry the same broadcast (its transaction id and what it says): the
    /// conversation's id is derived from it and the sender, so a retry after a crash finds the
    /// conversation the first attempt created instead of seating everyone in a second one.
    pub key: String,
    /// The name shown ("Broadcast: Fire drill").
    pub name: String,
    /// The content of its [`BROADCAST`] state event.
    pub state: Value,
    /// Its recipients (active accounts; the sender is left out if named).
    pub recipients: Vec<Account>,
}

impl RoomService {
    /// Creates a broadcast conversation: the sender (`by`) and the server's member at power
    /// 100, every recipient joined at once, in one write. Returns its id. Created once per
    /// sender and [`NewBroadcastRoom::key`]: asked again, it returns the conversation already made.
    pub async fn create_broadcast_room(&self, by: &Actor, new: NewBroadcastRoom) -> ServiceResult<OwnedRoomId> {
        let sender: &UserId = &by.user_id;
        let server = self.server_member()?;
        let room_id = broadcast_room_id(sender, &new.key, &self.server_name)?;
        let me = self.store.account(sender).await?;
        let name_of = |a: Option<&Account>, u: &UserId| {
            a.and_then(|a| a.display_name.clone()).unwrap_or_else(|| u.localpart().to_owned())
        };
        let power = json!({
            "users": { sender.as_str(): 100, server.as_str(): 100 },
            "users_default": 0, "events_default": 100, "state_default": 100,
            "ban": 100, "kick": 100, "redact": 100, "invite": 100,
            // Recipients react (👍 acknowledges), answer (the rule in `may_post`) and take
            // back their own reactions.
            "events": { kinds::MESSAGE: 0, "m.reaction": 0, kinds::REDACTION: 0 },
            "notifications": { "room": 100 }
        });
        let state_event =
            |kind: &str, content: Value| self.new_event(&room_id, sender, kind, Some(String::new()), content);
        let create = json!({ "room_version": ROOM_VERSION, "creator": sender, "m.federate": false, BROADCAST: true });
        let mut events: Vec<NewEvent> = vec![
            state_event(kinds::CREATE, create),
            self.new_event(
                &room_id,
                sender,
                kinds::MEMBER,
                Some(sender.to_string()),
                json!({ "membership": "join", "displayname": name_of(me.as_ref(), sender) }),
            ),
            state_event(kinds::POWER_LEVELS, power),
            state_event(kinds::JOIN_RULES, json!({ "join_rule": "invite" })),
            state_event(kinds::HISTORY_VISIBILITY, json!({ "history_visibility": "shared" })),
            state_event(kinds::GUEST_ACCESS, json!({ "guest_access": "forbidden" })),
            state_event(kinds::NAME, json!({ "name": new.name })),
            state_event(BROADCAST, new.state),
        ];
        let mut seat = |user: &UserId, display: String| {
            let invite = json!({ "membership": "invite", "displayname": display });
            events.push(self.new_event(&room_id, sender, kinds::MEMBER, Some(user.to_string()), invite));
            let join = json!({ "membership": "join", "displayname": display });
            events.push(self.new_event(&room_id, user, kinds::MEMBER, Some(user.to_string()), join));
        };
        seat(&server, "Wardline".to_owned());
        for a in new.recipients.iter().filter(|a| a.user_id != sender && !a.deactivated) {
            seat(&a.user_id, name_of(Some(a), &a.user_id));
        }
        let mut slot = self.lock(&room_id).await?;
        if slot.state.get(kinds::CREATE, "").is_some() {
            // Made by an earlier attempt of the same broadcast that did not get to finish.
            return match broadcaster(&slot.state) {
                Some(s) if s == sender.as_str() => Ok(room_id),
                _ => Err(ServiceError::Internal("a broadcast's conversation id is taken".into())),
            };
        }
        self.append(by, &mut slot, events).await?;
        Ok(room_id)
    }

    /// The [`SenderFacts`] of `ev` in the room in state `state`: for a broadcast's sender, whose
    /// event a redaction takes back and, if the event needs it ([`needs_permission`]), whether
    /// their account may broadcast now (`known`: what an earlier event of the same write read).
    pub(super) async fn sender_facts(
        &self,
        state: &RoomState,
        ev: &NewEvent,
        known: &mut Option<(OwnedUserId, bool)>,
    ) -> ServiceResult<SenderFacts> {
        let mut facts = SenderFacts::default();
        if broadcaster(state) != Some(ev.sender.as_str()) {
            return Ok(facts);
        }
        if ev.kind == kinds::REDACTION
            && let Some(target) = &ev.redacts
        {
            facts.redacts_others = self.store.event(target).await?.is_some_and(|t| t.event.sender != ev.sender);
        }
        if needs_permission(state, ev, facts.redacts_others) {
            facts.may_broadcast = match known {
                Some((u, may)) if *u == ev.sender => *may,
                _ => {
                    let account = self.store.account(&ev.sender).await?;
                    let may = account.is_some_and(|a| a.may_broadcast && !a.deactivated);
                    *known = Some((ev.sender.clone(), may));
                    may
                }
            };
        }
        Ok(facts)
    }

    /// What a broadcast's recipient sends, rebuilt by the server: in a conversation of hundreds,
    /// a recipient answers and acknowledges and nothing more, so no free text, formatting or
    /// mention rides along. An answer becomes [`priority::answer_content`] of the option they
    /// chose (its label as the body) with their reason on one line, mentioning nobody; a
    /// reaction keeps only its relation; a redaction only its target. Anything else, or what
    /// cannot be read (an option the message does not offer, a message elsewhere), is left as
    /// it came, for the relation and authorization rules to refuse.
    pub(super) async fn recipient_content(
        &self,
        state: &RoomState,
        kind: &str,
        content: Value,
    ) -> ServiceResult<Value> {
        match kind {
            kinds::MESSAGE => {
                let Ok(Some((target, Given::Option { id, reason }))) = priority::answer_of(kind, &content) else {
                    return Ok(content);
                };
                let Ok(target_id) = ruma::OwnedEventId::try_from(target.as_str()) else { return Ok(content) };
                let message = self.store.event(&target_id).await?.filter(|m| m.event.room_id == state.room_id);
                let ask = message.and_then(|m| priority::request_of(&m.event.content).ok().flatten()).map(|r| r.ask);
                let Some(choice) = ask.as_ref().and_then(|a| a.option(&id)) else { return Ok(content) };
                let reason = reason.map(|r| {
                    r.split(char::is_control).map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
                });
                let mut rebuilt =
                    priority::answer_content(&target, choice, reason.as_deref().filter(|r| !r.is_empty()));
                rebuilt["m.mentions"] = json!({});
                Ok(rebuilt)
            }
            REACTION => {
                let rel = content.get("m.relates_to");
                let field = |k: &str| rel.and_then(|r| r.get(k)).cloned().unwrap_or(Value::Null);
                let relation =
                    json!({ "rel_type": field("rel_type"), "event_id": field("event_id"), "key": field("key") });
                Ok(json!({ "m.relates_to": relation }))
            }
            kinds::REDACTION => Ok(match content.get("redacts") {
                Some(target) => json!({ "redacts": target }),
                None => json!({}),
            }),
            _ => Ok(content),
        }
    }

    /// The id `sender`'s broadcast conversation for `key` has (or will have).
    ///
    /// # Errors
    /// Never in practice (the id is always valid).
    pub fn broadcast_room_id(&self, sender: &UserId, key: &str) -> ServiceResult<OwnedRoomId> {
        broadcast_room_id(sender, key, &self.server_name)
    }

    /// The sender of the broadcast conversation `room`, if it is one.
    pub async fn broadcaster_of(&self, room: &RoomId) -> ServiceResult<Option<OwnedUserId>> {
        let state = self.snapshot(room).await?;
        Ok(broadcaster(&state).and_then(|s| OwnedUserId::try_from(s).ok()))
    }
}
