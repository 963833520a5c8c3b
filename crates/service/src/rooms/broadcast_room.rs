//! Broadcast conversations ([`wardline_types::broadcast`]): created with every recipient seated
//! at once (an invitation and its acceptance in one write, as role seats are), the server's own
//! member in, and power levels under which only the sender and the server post; recipients
//! may react. Whether a recipient's message is an answer the conversation admits is decided by
//! the authorization rules ([`super::auth_rules`]), which every event passes.

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use wardline_types::account::SERVER_USERNAME;
use wardline_types::broadcast::{BROADCAST, sender_of};
use wardline_types::priority::{self, Given};
use wardline_types::{Account, NewEvent, kinds};

use super::create::ROOM_VERSION;
use super::{RoomService, RoomState, random_id};
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

/// May `ev` (a message) be posted in the broadcast conversation whose sender is `sender`? Its
/// sender and the server's own member post anything; a recipient only an answer
/// (`org.wardline.response` referring to a message; reactions are not messages).
#[must_use]
pub fn may_post(sender: &str, ev: &NewEvent) -> bool {
    if ev.sender.as_str() == sender || ev.sender.localpart() == SERVER_USERNAME {
        return true;
    }
    matches!(priority::answer_of(&ev.kind, &ev.content), Ok(Some((_, Given::Option { .. }))))
}

/// A broadcast conversation to create.
#[derive(Debug, Clone)]
pub struct NewBroadcastRoom {
    /// The name shown ("Broadcast: Fire drill").
    pub name: String,
    /// The content of its [`BROADCAST`] state event.
    pub state: Value,
    /// Its recipients (active accounts; the sender is left out if named).
    pub recipients: Vec<Account>,
}

impl RoomService {
    /// Creates a broadcast conversation: the sender (`by`) and the server's member at power
    /// 100, every recipient joined at once, in one write. Returns its id.
    pub async fn create_broadcast_room(&self, by: &Actor, new: NewBroadcastRoom) -> ServiceResult<OwnedRoomId> {
        let sender: &UserId = &by.user_id;
        let server = self.server_member()?;
        let room_id = OwnedRoomId::try_from(format!("!{}:{}", &random_id()[..18], self.server_name))
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
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
        self.append(by, &mut slot, events).await?;
        Ok(room_id)
    }

    /// The sender of the broadcast conversation `room`, if it is one.
    pub async fn broadcaster_of(&self, room: &RoomId) -> ServiceResult<Option<OwnedUserId>> {
        let state = self.snapshot(room).await?;
        Ok(broadcaster(&state).and_then(|s| OwnedUserId::try_from(s).ok()))
    }
}
