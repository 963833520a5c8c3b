//! Priority messages and answers as they are sent (the blocks are described in
//! [`wardline_types::priority`]):
//!
//! - a message that is urgent or emergency, or that asks for answers, is completed before it is
//!   stored: its question is written out in full (an urgent message with no options asks to
//!   Acknowledge or Decline), its body starts with the level's tag and lists the options with
//!   the reactions that answer them, and it mentions every recipient (so their clients highlight
//!   and ring). A malformed block is refused, `400 M_INVALID_PARAM`;
//! - an `org.wardline.response` must refer to a message in the conversation that asks, choose
//!   one of its options, and come from someone else than its sender; otherwise `400
//!   M_INVALID_PARAM`. Reactions are never refused: one that answers (👍, 👎, 1️⃣ …) counts
//!   only where the message's status reads it.

use std::collections::BTreeSet;

use ruma::UserId;
use serde_json::{Value, json};
use wardline_types::account::is_service_user;
use wardline_types::priority::{self, ASK, Given, Level, PRIORITY};
use wardline_types::relation::{self, rel_types};
use wardline_types::{Membership, StoredEvent};

use super::{RoomService, RoomState};
use crate::{ServiceError, ServiceResult};

fn invalid(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::invalid(e.to_string())
}

/// The recipients of a message `sender` sends now: everyone joined or invited but the sender
/// and roles' own users (their holders are seated), as the status rule counts them.
fn recipients(state: &RoomState, sender: &UserId) -> BTreeSet<String> {
    state
        .members_with(Membership::Join)
        .chain(state.members_with(Membership::Invite))
        .filter(|u| u.as_str() != sender.as_str() && !is_service_user(u))
        .map(ToString::to_string)
        .collect()
}

impl RoomService {
    /// Completes a priority message or a question before it is stored (module documentation).
    pub(super) fn complete_request(
        &self,
        state: &RoomState,
        sender: &UserId,
        content: &mut Value,
    ) -> ServiceResult<()> {
        // An edit carries no question of its own: the original's stands.
        if relation::relation(content).is_some_and(|r| r.rel_type == rel_types::REPLACE) {
            return Ok(());
        }
        let Some(request) = priority::request_of(content).map_err(invalid)? else { return Ok(()) };
        if content.get(priority::RESPONSE).is_some() {
            return Err(invalid("a message cannot both ask and answer"));
        }
        content[ASK] = serde_json::to_value(&request.ask).map_err(invalid)?;
        if request.level == Level::Routine {
            if let Some(map) = content.as_object_mut() {
                map.remove(PRIORITY);
            }
        } else {
            content[PRIORITY] = json!({ "level": request.level.as_str() });
        }
        if let Some(body) = content.get("body").and_then(Value::as_str) {
            content["body"] = json!(priority::fallback_body(body, &request));
        }
        if let (Some(tag), Some(html)) = (request.level.tag(), content.get("formatted_body").and_then(Value::as_str))
            && !html.starts_with("<strong>[")
        {
            content["formatted_body"] = json!(format!("<strong>{tag}</strong> {html}"));
        }
        let mut mentioned: BTreeSet<String> = content
            .pointer("/m.mentions/user_ids")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).map(ToOwned::to_owned).collect())
            .unwrap_or_default();
        // A broadcast reaches hundreds: its conversation is the mention (the message itself
        // would outgrow the event size limit naming each of them).
        if super::broadcast_room::broadcaster(state).is_none() {
            mentioned.extend(recipients(state, sender));
        }
        if !content.get("m.mentions").is_some_and(Value::is_object) {
            content["m.mentions"] = json!({});
        }
        content["m.mentions"]["user_ids"] = json!(mentioned);
        Ok(())
    }

    /// Refuses an `org.wardline.response` that answers nothing `message` asks, or that its own
    /// sender gives (module documentation). Reactions pass.
    pub(super) fn check_answer(message: &StoredEvent, responder: &UserId, given: &Given) -> ServiceResult<()> {
        if !matches!(given, Given::Option { .. }) {
            return Ok(());
        }
        if message.redacted_because.is_some() {
            return Err(invalid("the message was deleted"));
        }
        let Ok(Some(request)) = priority::request_of(&message.event.content) else {
            return Err(invalid("the message asks for no answer"));
        };
        if given.choice(&request.ask).is_none() {
            return Err(invalid("the message offers no such option"));
        }
        if message.event.sender == responder {
            return Err(invalid("you cannot answer your own message"));
        }
        Ok(())
    }
}
