//! Who may see whom a conversation is about: the one check, used by every path that reads or
//! changes a conversation's patient (the banner, tying and untying, the conversations about a
//! patient, a search made for a conversation).
//!
//! Only someone joined to the conversation now may: not someone invited who has not joined,
//! not someone who left or was removed, and never the server's own member, a role's or a
//! hospital system's user (they read nothing themselves). A refusal is audited and says the
//! same whether the conversation exists or not, so it tells nobody which conversations exist.

use ruma::{RoomId, UserId};
use wardline_types::Membership;
use wardline_types::account::is_service_user;
use wardline_types::audit::{AuditAction, Outcome};

use super::PatientService;
use crate::audit::Actor;
use crate::rooms::RoomState;
use crate::{ServiceError, ServiceResult};

/// What a refused caller is told, whether the conversation exists or not.
pub(super) const NOT_IN_CONVERSATION: &str = "you are not in this conversation";

/// Whether `user` may see the patient of the conversation whose state this is: they are
/// joined to it now, and are a person.
#[must_use]
pub fn may_see_patient(state: &RoomState, user: &UserId) -> bool {
    !is_service_user(user) && state.exists() && state.membership(user) == Some(Membership::Join)
}

/// Whether `user` may tie the conversation whose state this is to a patient, or untie it: they
/// may see its patient, and may post in it (a tie is told to everyone there: someone who may
/// only read, as a broadcast's recipients, may not), and it is not a broadcast (its recipients
/// must never be shown a patient through it).
#[must_use]
pub fn may_change_patient(state: &RoomState, user: &UserId) -> bool {
    let power = state.power();
    may_see_patient(state, user)
        && power.user(user) >= power.for_event(wardline_types::kinds::MESSAGE, false)
        && !crate::rooms::broadcast_room::created_as_broadcast(state)
}

/// What a caller who may see a conversation's patient but not change it is told.
const MAY_NOT_CHANGE: &str =
    "you cannot tie this conversation to a patient: you may not post in it, or it is a broadcast";

impl PatientService {
    /// Passes if `actor` may tie or untie `room` ([`may_change_patient`]); otherwise records the
    /// refusal and refuses with `403` (the same words as [`Self::require_member`] for someone
    /// not in it).
    pub(super) async fn require_changer(&self, actor: &Actor, room: &RoomId, what: &str) -> ServiceResult<()> {
        self.require_member(actor, room, what).await?;
        let user = &actor.user_id;
        if self.rooms.with_state(room, |s| may_change_patient(s, user)).await? {
            return Ok(());
        }
        let mut r = self.entry(actor, AuditAction::PatientContext, Outcome::Denied, Some(room));
        r.detail = Some(format!("refused {what}: may not post, or a broadcast"));
        self.audit.record(r)?;
        Err(ServiceError::forbidden(MAY_NOT_CHANGE))
    }

    /// Passes if `actor` may see `room`'s patient ([`may_see_patient`]); otherwise records the
    /// refusal (`patient.context`, denied, saying what was asked: `what`) and refuses with
    /// `403`.
    pub(super) async fn require_member(&self, actor: &Actor, room: &RoomId, what: &str) -> ServiceResult<()> {
        self.require_member_for(actor, room, AuditAction::PatientContext, what).await
    }

    /// [`Self::require_member`], a refusal recorded under `action` (`record.filing` for
    /// filing to the record).
    pub(super) async fn require_member_for(
        &self,
        actor: &Actor,
        room: &RoomId,
        action: AuditAction,
        what: &str,
    ) -> ServiceResult<()> {
        let user = &actor.user_id;
        if self.rooms.with_state(room, |s| may_see_patient(s, user)).await? {
            return Ok(());
        }
        let mut r = self.entry(actor, action, Outcome::Denied, Some(room));
        r.detail = Some(format!("refused {what}: not joined"));
        self.audit.record(r)?;
        Err(ServiceError::forbidden(NOT_IN_CONVERSATION))
    }
}

#[cfg(test)]
mod tests {
    use ruma::{OwnedRoomId, OwnedUserId, owned_event_id, owned_room_id, owned_user_id};
    use serde_json::{Value, json};
    use wardline_types::{NewEvent, StoredEvent, StreamPos, Timestamp, kinds};

    use super::*;

    fn room() -> OwnedRoomId {
        owned_room_id!("!ward7:x")
    }

    fn ev(sender: &OwnedUserId, kind: &str, state_key: &str, content: Value) -> StoredEvent {
        StoredEvent {
            stream: StreamPos(1),
            event: NewEvent {
                event_id: owned_event_id!("$e"),
                room_id: room(),
                sender: sender.clone(),
                kind: kind.into(),
                state_key: Some(state_key.into()),
                content,
                origin_server_ts: Timestamp(0),
                redacts: None,
                txn: None,
            },
            redacted_because: None,
        }
    }

    fn member(s: &mut RoomState, user: &str, membership: &str) {
        let ada = owned_user_id!("@ada:x");
        s.apply(&ev(&ada, kinds::MEMBER, user, json!({ "membership": membership })));
    }

    #[test]
    fn only_people_joined_now_see_the_patient() {
        let mut s = RoomState::empty(room());
        let ada = owned_user_id!("@ada:x");
        assert!(!may_see_patient(&s, &ada), "no conversation, nobody");
        s.apply(&ev(&ada, kinds::CREATE, "", json!({"room_version": "11"})));
        for (user, membership) in [
            ("@ada:x", "join"),
            ("@ivy:x", "invite"),
            ("@lou:x", "leave"),
            ("@bea:x", "ban"),
            ("@wardline:x", "join"),
            ("@role.med-reg:x", "join"),
            ("@integration.epr:x", "join"),
        ] {
            member(&mut s, user, membership);
        }
        let sees =
            |s: &RoomState, u: &str| may_see_patient(s, &OwnedUserId::try_from(u).unwrap_or_else(|e| panic!("{e}")));
        assert!(sees(&s, "@ada:x"), "joined");
        for not in ["@ivy:x", "@lou:x", "@bea:x", "@wardline:x", "@role.med-reg:x", "@integration.epr:x", "@eve:x"] {
            assert!(!sees(&s, not), "{not}");
        }
        // Leaving takes it away; joining (after an invitation) gives it.
        member(&mut s, "@ada:x", "leave");
        assert!(!sees(&s, "@ada:x"));
        member(&mut s, "@ivy:x", "join");
        assert!(sees(&s, "@ivy:x"));
    }
}
