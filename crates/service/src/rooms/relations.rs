//! The rules for an event that relates to another (a reply, a reaction, an edit, a message in a
//! thread, a reference), checked when it is sent, under the room's lock.
//!
//! The spec says servers should ignore an invalid relation; a clinical record is better served
//! by refusing it, so the sender learns at once and the log never holds an edit that clients
//! would silently drop. What is refused, and how:
//!
//! - a parent that is unknown, in another room, or that the sender may not see: `400
//!   M_INVALID_PARAM`, the same answer for all three, so it tells nothing about other rooms;
//! - a reaction (`m.annotation`) with the same sender, event type and key as one already on
//!   the event and not redacted: `400 M_DUPLICATE_ANNOTATION` (the spec's rule); one without a
//!   key, or to an edit or a reaction (the spec says to annotate the original): `400
//!   M_INVALID_PARAM`;
//! - an edit (`m.replace`) of someone else's message, changing the event type, of or as a state
//!   event, of an edit, of a deleted message, or without `m.new_content` (unless encrypted):
//!   `400 M_INVALID_PARAM` (the spec's "Validity of replacement events", which has no error
//!   code of its own);
//! - a thread (`m.thread`) rooted at an event that itself relates to another: `400 M_UNKNOWN`,
//!   as the spec's threading module says;
//! - a malformed `m.relates_to` (a `rel_type` without a parent event id, an `m.in_reply_to`
//!   without an event id): `400 M_BAD_JSON`.
//!
//! Every refusal is recorded in the audit trail as denied, with its reason.

use ruma::{EventId, UserId};
use serde_json::Value;
use wardline_types::audit::Outcome;
use wardline_types::priority;
use wardline_types::relation::{self, MAX_ANNOTATION_KEY_BYTES, Relates, rel_types};
use wardline_types::{Membership, NewEvent, StoredEvent, kinds};

use super::{RoomService, RoomState};
use crate::audit::Actor;
use crate::visibility::Visibility;
use crate::{ServiceError, ServiceResult};

/// Why `parent` cannot be edited by an event of `kind` from `sender` (a state event if
/// `is_state`), if it cannot: an edit is its sender's own message, of the same type, of a
/// message that is neither state nor itself an edit. Checked when an edit is sent, and applied
/// to stored edits wherever they are shown (the transcript), so that one sent before the rule
/// (or brought in from elsewhere) never passes for a valid one.
pub(crate) fn edit_refusal(parent: &StoredEvent, sender: &UserId, kind: &str, is_state: bool) -> Option<&'static str> {
    if parent.event.sender != sender {
        return Some("you can only edit your own messages");
    }
    if parent.event.kind != kind {
        return Some("an edit cannot change the event type");
    }
    if parent.is_state() || is_state {
        return Some("state events cannot be edited");
    }
    if relation::relation(&parent.event.content).is_some_and(|r| r.rel_type == rel_types::REPLACE) {
        return Some("edit the original message, not an edit of it");
    }
    None
}

fn invalid(msg: &str) -> ServiceError {
    ServiceError::invalid(msg)
}

impl RoomService {
    /// Refuses `event` if it breaks a relation rule (see the module documentation), recording
    /// the refusal. Events from someone not joined are left to the authorization rules.
    pub(super) async fn check_relation(&self, by: &Actor, state: &RoomState, event: &NewEvent) -> ServiceResult<()> {
        if state.membership(&event.sender) != Some(Membership::Join) {
            return Ok(());
        }
        match self.relation_rules(state, event).await {
            Err(
                err @ (ServiceError::InvalidParam(_)
                | ServiceError::DuplicateAnnotation(_)
                | ServiceError::InvalidThreadRoot(_)
                | ServiceError::BadJson(_)),
            ) => {
                let mut denied = self.audit_for(by, event, Outcome::Denied);
                denied.event_id = None;
                denied.detail = Some(format!("{}; {err}", denied.detail.unwrap_or_default()));
                self.audit.record(denied)?;
                Err(err)
            }
            other => other,
        }
    }

    async fn relation_rules(&self, state: &RoomState, event: &NewEvent) -> ServiceResult<()> {
        let content = &event.content;
        // An answer to a priority message or a question (`priority.rs`).
        let answer = priority::answer_of(&event.kind, content).map_err(|e| invalid(&e.to_string()))?;
        let relates = relation::relates(content);
        let reply = relation::reply_to(content);
        if relates.is_none() && reply.is_none() {
            return Ok(());
        }
        let vis = self.sender_visibility(&event.sender, state).await?;
        if let Some(target) = reply {
            let target =
                target.ok_or_else(|| ServiceError::BadJson("m.in_reply_to needs the event_id it answers".into()))?;
            self.parent(state, &vis, &target).await?;
        }
        let rel = match relates {
            None => return Ok(()),
            Some(Relates::Malformed) => {
                return Err(ServiceError::BadJson("m.relates_to needs the event_id of the event it relates to".into()));
            }
            Some(Relates::To(rel)) => rel,
        };
        let parent = self.parent(state, &vis, &rel.event_id).await?;
        if let Some((_, given)) = &answer {
            Self::check_answer(&parent, &event.sender, given)?;
        }
        let parent_rel = relation::relation(&parent.event.content).map(|r| r.rel_type);
        match rel.rel_type.as_str() {
            rel_types::ANNOTATION => {
                let key =
                    rel.key.as_deref().filter(|k| !k.is_empty()).ok_or_else(|| invalid("a reaction needs a key"))?;
                if key.len() > MAX_ANNOTATION_KEY_BYTES {
                    return Err(invalid("a reaction's key may be at most 500 bytes"));
                }
                if matches!(parent_rel.as_deref(), Some(rel_types::ANNOTATION | rel_types::REPLACE)) {
                    return Err(invalid("react to the original message, not to an edit or a reaction"));
                }
                if self.store.has_annotation(&rel.event_id, &event.sender, &event.kind, key).await? {
                    return Err(ServiceError::DuplicateAnnotation(
                        "you have already reacted to this message with this key".into(),
                    ));
                }
            }
            rel_types::REPLACE => {
                if let Some(why) = edit_refusal(&parent, &event.sender, &event.kind, event.state_key.is_some()) {
                    return Err(invalid(why));
                }
                if parent.redacted_because.is_some() {
                    return Err(invalid("a deleted message cannot be edited"));
                }
                if event.kind != kinds::ENCRYPTED && !content.get("m.new_content").is_some_and(Value::is_object) {
                    return Err(invalid("an edit needs m.new_content, the new content of the message"));
                }
            }
            rel_types::THREAD if parent_rel.is_some() => {
                return Err(ServiceError::InvalidThreadRoot(
                    "a thread cannot start from an event that relates to another event".into(),
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// What the sender may see of the room.
    async fn sender_visibility(&self, sender: &UserId, state: &RoomState) -> ServiceResult<Visibility> {
        let memberships = self
            .store
            .membership_history(sender, &state.room_id)
            .await?
            .into_iter()
            .map(|m| (m.stream, m.membership))
            .collect();
        let history = self.store.state_history(&state.room_id, kinds::HISTORY_VISIBILITY).await?;
        Ok(Visibility::new(memberships, &history))
    }

    /// The event a relation points at, if it is in this room and the sender may see it.
    async fn parent(&self, state: &RoomState, vis: &Visibility, id: &EventId) -> ServiceResult<StoredEvent> {
        match self.store.event(id).await? {
            Some(e) if e.event.room_id == state.room_id && vis.can_see(e.stream) => Ok(e),
            _ => Err(invalid("the event this relates to is not in this room, or you cannot see it")),
        }
    }
}
