//! Telling a colleague that a role was handed to them: the role's user writes to them in a
//! conversation of its own ("Medical Registrar On-call — handovers"), made on first use and
//! found again by its `org.wardline.handover_notices` state (keyed by the role id).
//!
//! The notices wait in the store's outbox, written in the same write as the handover
//! ([`wardline_store::RoleStore::pending_role_notices`]); each is sent once: its event carries a
//! transaction id made from its place in the history, so a notice sent just before a crash is
//! found, not sent again, and only then marked sent.

use ruma::{OwnedDeviceId, OwnedRoomId, OwnedUserId};
use serde_json::json;
use wardline_types::{Membership, Role, TxnRef, kinds};

use super::{CreateRoom, RoomService, SendEvent};
use crate::ServiceResult;
use crate::audit::Actor;

/// The state event that marks a role's handover notices conversation with one person.
pub const HANDOVER_NOTICES: &str = "org.wardline.handover_notices";

/// Most notices sent per round.
const BATCH: usize = 50;

impl RoomService {
    /// Sends the notices waiting in the outbox; returns how many were sent.
    pub async fn send_role_notices(&self) -> ServiceResult<usize> {
        let mut sent = 0;
        for notice in self.store.pending_role_notices(BATCH).await? {
            match self.send_role_notice(&notice).await {
                Ok(()) => sent += 1,
                // One that cannot be sent now (its holder deactivated meanwhile…) waits, logged.
                Err(e) => tracing::error!(error = %e, seq = notice.seq, "could not tell a new holder of a role"),
            }
        }
        Ok(sent)
    }

    /// Sends one notice (unless it was sent before a crash) and marks it sent.
    async fn send_role_notice(&self, notice: &wardline_store::RoleNotice) -> ServiceResult<()> {
        let Some(role) = self.store.role(&notice.role_id).await? else { return Ok(()) };
        let role_user = self.role_user(&notice.role_id)?;
        let actor = Actor { user_id: role_user.clone(), device_id: Some(OwnedDeviceId::from("ROLE")), ip: None };
        let txn = TxnRef {
            device_id: OwnedDeviceId::from("ROLE"),
            txn_id: ruma::OwnedTransactionId::from(format!("handover-{}", notice.seq)),
        };
        if self.store.event_for_txn(&role_user, &txn.device_id, txn.txn_id.as_str()).await?.is_none() {
            let room = self.notices_room(&actor, &role, &notice.user_id).await?;
            let from = match &notice.from {
                Some(from) => self.person(from).await?,
                None => "An administrator".into(),
            };
            let body = format!(
                "{from} handed {} to you at {} UTC. You now receive its conversations, with their history.",
                role.definition.name,
                notice.at.to_rfc3339().get(11..16).unwrap_or_default()
            );
            let content = json!({
                "msgtype": "m.notice",
                "body": body,
                wardline_types::role::fields::ROLE_NOTICE: {
                    "kind": "handover", "role": role.definition.id, "from": notice.from, "ts": notice.at.0,
                },
            });
            let req = SendEvent {
                room_id: room,
                kind: kinds::MESSAGE.into(),
                state_key: None,
                content,
                redacts: None,
                txn: Some(txn),
            };
            self.send(&actor, req).await?;
        }
        self.store.role_notice_sent(notice.seq, self.clock.now()).await?;
        Ok(())
    }

    /// A person's display name, or their username.
    async fn person(&self, user: &ruma::UserId) -> ServiceResult<String> {
        let account = self.store.account(user).await?;
        Ok(account.and_then(|a| a.display_name).unwrap_or_else(|| user.localpart().to_owned()))
    }

    /// The role's notices conversation with `user`: the one they are in (or invited to), else a
    /// new one with them invited.
    async fn notices_room(&self, role_actor: &Actor, role: &Role, user: &OwnedUserId) -> ServiceResult<OwnedRoomId> {
        let id = role.definition.id.as_str();
        for m in self.store.rooms_of_user(user).await? {
            if !matches!(m.membership, Membership::Join | Membership::Invite) {
                continue;
            }
            let ours = self
                .with_state(&m.room_id, |s| {
                    // Only the room the role's user made itself: anyone could copy the marker.
                    s.get(HANDOVER_NOTICES, id).is_some_and(|e| e.event.sender == role_actor.user_id)
                        && s.creator() == Some(role_actor.user_id.as_ref())
                        && s.membership(&role_actor.user_id) == Some(Membership::Join)
                })
                .await?;
            if ours {
                return Ok(m.room_id);
            }
        }
        let req = CreateRoom {
            name: Some(format!("{} — handovers", role.definition.name)),
            invite: vec![user.clone()],
            is_direct: true,
            initial_state: vec![(HANDOVER_NOTICES.into(), id.to_owned(), json!({ "role": id, "user": user }))],
            ..CreateRoom::default()
        };
        self.create_room(role_actor, req).await
    }
}
