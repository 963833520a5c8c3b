//! The server's own member of a conversation, `@wardline:<server>` ("Wardline"): it posts, as
//! `m.notice`, what the server does there (each step of an escalation), so everyone in the
//! conversation, and its transcript, sees what happened and when.
//!
//! It has no account and reads nothing ([`wardline_types::account::is_service_user`]: never a
//! recipient); nobody can invite it (the organisation check finds no account). It joins a
//! conversation the first time it has something to say there, by the server's rule rather
//! than the room's (`auth_rules::server_member_rule`: it may join and post whatever the room's
//! power levels, and nobody may remove it), so no room's settings can silence an escalation. Each notice has a transaction id the caller
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

    /// Posts `content` in `room` as the server, joining it first if it is not there (recorded as
    /// done on behalf of `brought_by`, whose action needs the notice); once per `txn`: a repeat
    /// returns the first notice's id.
    pub async fn post_server_notice(
        &self,
        room: &RoomId,
        brought_by: &UserId,
        txn: &str,
        content: Value,
    ) -> ServiceResult<OwnedEventId> {
        #[cfg(test)]
        if self.refuse_notices.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(room) {
            return Err(ServiceError::forbidden("(test) this conversation refuses the server's notices"));
        }
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
                // It joins by the server's rule (`auth_rules::server_member_rule`): no invite,
                // whatever the room's settings. Recorded as done on behalf of `brought_by`.
                let join = json!({ "membership": "join", "displayname": "Wardline" });
                let events = vec![self.new_event(room, &me, kinds::MEMBER, Some(me.to_string()), join)];
                self.append(&Actor::system(brought_by.to_owned()), &mut slot, events).await?;
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
