//! The server's own member of a conversation, `@wardline:<server>` ("Wardline"): it posts, as
//! `m.notice`, what the server does there (each step of an escalation), so everyone in the
//! conversation, and its transcript, sees what happened and when.
//!
//! It has no account and reads nothing ([`wardline_types::account::is_service_user`]: never a
//! recipient); nobody can invite it (the organisation check finds no account). It is brought
//! in by the person whose action needs it (the sender of an urgent message), as a role's user
//! is, the first time it has something to say. Each notice has a transaction id the caller
//! derives from what it reports, so a notice repeated after a crash is stored once.

use ruma::{OwnedDeviceId, OwnedEventId, OwnedTransactionId, OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use wardline_types::account::SERVER_USERNAME;
use wardline_types::{Membership, TxnRef, kinds};

use super::{RoomService, SendEvent};
use crate::audit::Actor;
use crate::{ServiceError, ServiceResult};

/// The device the server's notices are sent from.
const DEVICE: &str = "WARDLINE";

/// Who invites on the server's behalf in a conversation: `preferred` if they are in it and may
/// invite, else the joined person (never a role's user or the server's own member) with the
/// highest power who may, so a step still runs after the sender has left.
pub(crate) fn inviter(state: &super::RoomState, preferred: &UserId) -> Option<OwnedUserId> {
    let power = state.power();
    let may = |u: &UserId| state.membership(u) == Some(Membership::Join) && power.user(u) >= power.invite;
    if may(preferred) {
        return Some(preferred.to_owned());
    }
    state
        .members_with(Membership::Join)
        .filter(|u| !wardline_types::account::is_service_user(u) && may(u))
        .max_by_key(|u| (power.user(u), std::cmp::Reverse((*u).clone())))
        .cloned()
}

impl RoomService {
    /// `@wardline:<server>`.
    pub fn server_member(&self) -> ServiceResult<OwnedUserId> {
        OwnedUserId::try_from(format!("@{SERVER_USERNAME}:{}", self.server_name))
            .map_err(|e| ServiceError::Internal(format!("server member id: {e}")))
    }

    /// Posts `content` in `room` as the server, bringing it in (invited by `brought_by`, who
    /// must be able to invite) if it is not there; once per `txn`: a repeat returns the first
    /// notice's id.
    pub async fn post_server_notice(
        &self,
        room: &RoomId,
        brought_by: &UserId,
        txn: &str,
        content: Value,
    ) -> ServiceResult<OwnedEventId> {
        let me = self.server_member()?;
        let txn = TxnRef { device_id: OwnedDeviceId::from(DEVICE), txn_id: OwnedTransactionId::from(txn) };
        if let Some(id) = self.store.event_for_txn(&me, &txn.device_id, txn.txn_id.as_str()).await? {
            return Ok(id);
        }
        {
            let mut slot = self.lock(room).await?;
            if !slot.state.exists() {
                return Err(ServiceError::not_found("no such room"));
            }
            if slot.state.membership(&me) != Some(Membership::Join) {
                let inviter = inviter(&slot.state, brought_by)
                    .ok_or_else(|| ServiceError::forbidden("nobody left in the conversation can bring Wardline in"))?;
                let mut events = Vec::new();
                if slot.state.membership(&me) != Some(Membership::Invite) {
                    let invite = json!({ "membership": "invite", "displayname": "Wardline" });
                    events.push(self.new_event(room, &inviter, kinds::MEMBER, Some(me.to_string()), invite));
                }
                let join = json!({ "membership": "join", "displayname": "Wardline" });
                events.push(self.new_event(room, &me, kinds::MEMBER, Some(me.to_string()), join));
                self.append(&Actor::system(inviter), &mut slot, events).await?;
            }
        }
        let actor = Actor { user_id: me, device_id: Some(txn.device_id.clone()), ip: None };
        let req = SendEvent {
            room_id: room.to_owned(),
            kind: kinds::MESSAGE.into(),
            state_key: None,
            content,
            redacts: None,
            txn: Some(txn),
        };
        self.send(&actor, req).await
    }
}
