//! Sending messages, state and redactions, idempotently per device and transaction id.

use ruma::{EventId, OwnedEventId, RoomId, UserId};
use serde_json::Value;
use wardline_store::StoreError;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::role::fields;
use wardline_types::{TxnRef, kinds};

use super::RoomService;
use super::role_seats::{SendOutcome, seat_of};
use crate::audit::Actor;
use crate::media::MediaService;
use crate::ratelimit::LimitKind;
use crate::{ServiceError, ServiceResult};

/// An event a client wants to send.
#[derive(Debug, Clone)]
pub struct SendEvent {
    /// The room.
    pub room_id: ruma::OwnedRoomId,
    /// Type.
    pub kind: String,
    /// For state events.
    pub state_key: Option<String>,
    /// Content (must be an object).
    pub content: Value,
    /// For a redaction: its target.
    pub redacts: Option<OwnedEventId>,
    /// The client's transaction, for idempotence.
    pub txn: Option<TxnRef>,
}

/// The block of the server's escalation notices (see `escalation/steps.rs`).
const ESCALATION_NOTICE: &str = "org.wardline.escalation";

impl RoomService {
    /// Sends an event; returns its id. Repeating a transaction returns the first event's id.
    pub async fn send(&self, by: &Actor, req: SendEvent) -> ServiceResult<OwnedEventId> {
        Ok(self.send_message(by, req).await?.0)
    }

    /// Sends an event; returns its id and, for a message to roles nobody held, where it went
    /// ([`SendOutcome`]; nothing more for a repeated transaction, whose notices are already in
    /// the conversation).
    pub async fn send_message(&self, by: &Actor, mut req: SendEvent) -> ServiceResult<(OwnedEventId, SendOutcome)> {
        let sender: &UserId = &by.user_id;
        if !req.content.is_object() {
            return Err(ServiceError::BadJson("event content must be a JSON object".into()));
        }
        if matches!(req.kind.as_str(), kinds::CREATE | kinds::MEMBER) {
            return Err(ServiceError::forbidden(format!(
                "{} cannot be sent directly; use the membership endpoints",
                req.kind
            )));
        }
        if req.kind == kinds::REDACTION {
            // However it arrives (`/redact`, or `/send` and `/state` with this type), a
            // redaction names its target and goes through the redaction rule below.
            if req.state_key.is_some() {
                return Err(ServiceError::forbidden("m.room.redaction cannot be a state event"));
            }
            if req.redacts.is_none() {
                let target = req.content.get("redacts").and_then(Value::as_str).map(OwnedEventId::try_from);
                req.redacts = Some(
                    target
                        .and_then(Result::ok)
                        .ok_or_else(|| ServiceError::BadJson("a redaction needs the event id it redacts".into()))?,
                );
            }
        }
        if let Some(txn) = &req.txn
            && let Some(id) = self.store.event_for_txn(sender, &txn.device_id, txn.txn_id.as_str()).await?
        {
            // A transaction is one request to one conversation: the same id for another
            // conversation is a different message, refused (never answered with the first one's
            // id, which would leave this one unsent without a word).
            if self.store.event(&id).await?.is_some_and(|e| e.event.room_id != req.room_id) {
                return Err(ServiceError::invalid(
                    "this transaction id was already used in another conversation: use a new one",
                ));
            }
            return Ok((id, SendOutcome::default()));
        }
        // The server's own notices and roles' notices are not a person typing: never limited
        // (an escalation step must not wait for a rate limit).
        if !wardline_types::account::is_service_user(sender) {
            self.limiter.check(LimitKind::Message, sender.as_str())?;
        }
        if req.kind == kinds::MESSAGE {
            MediaService::validate_message(&req.content)?;
        }
        let mut slot = self.lock(&req.room_id).await?;
        if !slot.state.exists() {
            return Err(ServiceError::forbidden("you are not a member of this room"));
        }
        if let Some(target) = &req.redacts
            && let Err(refused) = self.check_redaction(&slot.state, sender, target).await
        {
            // A refused deletion is an attempt on the record: audited as denied.
            if matches!(refused, ServiceError::Forbidden(_)) {
                let mut r = self.audit.entry(Some(by), AuditAction::Redact, Outcome::Denied);
                r.room_id = Some(req.room_id.to_string());
                r.detail = Some(format!("redacts={target}; {refused}"));
                self.audit.record(r)?;
            }
            return Err(refused);
        }
        // Conversations with roles: exactly the holders now are seated before a message, and a
        // role nobody holds hands it to its fallback (`role_seats.rs`).
        let mut outcome = SendOutcome::default();
        // (A sender who is not a member is refused, and audited, by the authorization rules.)
        if req.kind == kinds::MESSAGE
            && req.state_key.is_none()
            && slot.state.membership(sender) == Some(wardline_types::Membership::Join)
        {
            // The message goes whatever: a seating the room's rules refuse is logged, not fatal.
            match self.before_message(&mut slot, sender).await {
                Ok(unheld) => outcome.unheld = unheld,
                Err(e) => {
                    tracing::error!(error = %e, room = %req.room_id, "could not seat roles' holders before a message")
                }
            }
            stamp_role(&slot.state, sender, &mut req.content);
            // Urgent, emergency and questions: completed as `priority.rs` says.
            self.complete_request(&slot.state, sender, &mut req.content)?;
        }
        // Only the server's own member (or a role) writes escalation notices; never a person, nor
        // a hospital system.
        if !wardline_types::account::is_server_or_role(sender) {
            strip(&mut req.content, ESCALATION_NOTICE);
        }
        // Only the server tells a conversation that its patient changed: nobody forges that.
        if sender.localpart() != wardline_types::account::SERVER_USERNAME {
            strip(&mut req.content, wardline_types::patient::PATIENT_CONTEXT);
        }
        // Only a hospital system raises alarms: a person's message never carries an alarm's block.
        if !wardline_types::integration::is_integration_user(sender) {
            strip(&mut req.content, wardline_types::alarm::ALARM);
        }
        // Only a broadcast's sender, in its own conversation, marks a message as a broadcast.
        if super::broadcast_room::broadcaster(&slot.state) != Some(sender.as_str()) {
            strip(&mut req.content, wardline_types::broadcast::BROADCAST);
        }
        // A broadcast's recipients answer and acknowledge, nothing more: what they send is
        // rebuilt from what they chose (`broadcast_room.rs`).
        if req.state_key.is_none()
            && let Some(broadcaster) = super::broadcast_room::broadcaster(&slot.state)
            && broadcaster != sender.as_str()
            && !wardline_types::account::is_service_user(sender)
        {
            req.content = self.recipient_content(&slot.state, &req.kind, req.content).await?;
        }
        let mut event = self.new_event(&req.room_id, sender, &req.kind, req.state_key, req.content);
        event.redacts = req.redacts;
        event.txn = req.txn.clone();
        // Replies, reactions, edits, threads: the rules of `relations.rs`.
        self.check_relation(by, &slot.state, &event).await?;
        let id = event.event_id.clone();
        let redaction = event.redacts.is_some();
        match self.append(by, &mut slot, vec![event]).await {
            Ok(_) => {
                if !outcome.unheld.is_empty() {
                    // The message is stored: a notice that cannot be written is logged, not an error.
                    if let Err(e) = self.after_message(by, &mut slot, &id, &outcome.unheld).await {
                        tracing::error!(error = %e, "could not tell the sender that a role nobody holds got the message");
                    }
                }
                drop(slot);
                // A file whose last message was just deleted goes with it.
                if redaction && let Err(e) = self.media.purge(false).await {
                    tracing::warn!(error = %e, "could not delete released files");
                }
                Ok((id, outcome))
            }
            // The same transaction raced in from another request and won: answer with its event.
            Err(ServiceError::Store(StoreError::Conflict(_))) if req.txn.is_some() => {
                let txn = req.txn.as_ref().ok_or_else(|| ServiceError::Internal("txn vanished".into()))?;
                let id = self
                    .store
                    .event_for_txn(sender, &txn.device_id, txn.txn_id.as_str())
                    .await?
                    .ok_or_else(|| ServiceError::Internal("transaction conflict without an event".into()))?;
                Ok((id, SendOutcome::default()))
            }
            Err(e) => Err(e),
        }
    }

    async fn check_redaction(&self, state: &super::RoomState, sender: &UserId, target: &EventId) -> ServiceResult<()> {
        let Some(original) = self.store.event(target).await? else {
            return Err(ServiceError::not_found("no such event"));
        };
        if original.event.room_id != state.room_id {
            return Err(ServiceError::not_found("no such event"));
        }
        // A seat or a role's membership is the server's record of why someone is in the
        // conversation: redacting it would strip that (and let a former holder stay).
        if original.event.kind == kinds::MEMBER
            && (original.event.content.get(fields::SEAT).is_some()
                || original.event.content.get(fields::ROLE).is_some())
        {
            return Err(ServiceError::forbidden("a role's or a role holder's membership cannot be redacted"));
        }
        // The server's own member's notices (escalation steps, deadlines) are the record of
        // what escalation did: no room's moderators may take them back.
        if original.event.sender.localpart() == wardline_types::account::SERVER_USERNAME {
            return Err(ServiceError::forbidden(
                "Wardline's notices cannot be deleted: they record what escalation did",
            ));
        }
        // Nor what a hospital system wrote (its alarms, an incident's state): the record of
        // what the alarm was and what became of it.
        if wardline_types::integration::is_integration_user(&original.event.sender) {
            return Err(ServiceError::forbidden("a hospital system's alarms and incident records cannot be deleted"));
        }
        let power = state.power();
        if original.event.sender != sender && power.user(sender) < power.redact {
            return Err(ServiceError::forbidden("you may only redact your own messages"));
        }
        Ok(())
    }

    /// Sets a piece of room state; returns the event id.
    pub async fn set_state(
        &self,
        room_id: &RoomId,
        by: &Actor,
        kind: &str,
        state_key: &str,
        content: Value,
    ) -> ServiceResult<OwnedEventId> {
        self.send(
            by,
            SendEvent {
                room_id: room_id.to_owned(),
                kind: kind.to_owned(),
                state_key: Some(state_key.to_owned()),
                content,
                redacts: None,
                txn: None,
            },
        )
        .await
    }
}

/// Stamps a message with the role its sender writes as: the one that seated them in the
/// conversation. Whatever a client put there is replaced: nobody writes as a role they are not
/// seated by.
/// Removes a block only Wardline (or a hospital system) writes from what a sender sent: at the
/// top, and in an edit's new content (which clients show in place of the original).
fn strip(content: &mut Value, block: &str) {
    let Some(obj) = content.as_object_mut() else { return };
    obj.remove(block);
    if let Some(Value::Object(new)) = obj.get_mut("m.new_content") {
        new.remove(block);
    }
}

fn stamp_role(state: &super::RoomState, sender: &UserId, content: &mut Value) {
    strip(content, fields::AS_ROLE);
    let Some(obj) = content.as_object_mut() else { return };
    if let Some(role) = seat_of(state, sender)
        && let Some(seat) = state.get(kinds::MEMBER, sender.as_str()).and_then(|m| m.event.content.get(fields::SEAT))
    {
        let name = seat.get("name").cloned().unwrap_or(Value::Null);
        obj.insert(fields::AS_ROLE.to_owned(), serde_json::json!({ "id": role, "name": name }));
    }
}
