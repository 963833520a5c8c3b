//! Joining, leaving, inviting, kicking, banning.

use ruma::{RoomId, UserId};
use serde_json::{Value, json};
use wardline_types::{Membership, kinds};

use super::RoomService;
use crate::audit::Actor;
use crate::ratelimit::LimitKind;
use crate::{ServiceError, ServiceResult};
use wardline_types::audit::{AuditAction, Outcome};

impl RoomService {
    async fn change_membership(
        &self,
        room_id: &RoomId,
        by: &Actor,
        target: &UserId,
        membership: Membership,
        reason: Option<String>,
    ) -> ServiceResult<()> {
        let mut content = json!({ "membership": membership.as_str() });
        if let Some(r) = reason {
            content["reason"] = json!(r);
        }
        if matches!(membership, Membership::Join | Membership::Invite)
            && let Some(a) = self.store.account(target).await?
        {
            content["displayname"] = json!(a.display_name);
            if a.avatar_url.is_some() {
                content["avatar_url"] = json!(a.avatar_url);
            }
        }
        let mut slot = self.lock(room_id).await?;
        if !slot.state.exists() {
            return Err(ServiceError::not_found("no such room"));
        }
        let event = self.new_event(room_id, &by.user_id, kinds::MEMBER, Some(target.to_string()), content);
        self.append(by, &mut slot, vec![event]).await?;
        Ok(())
    }

    /// Invites a colleague.
    pub async fn invite(
        &self,
        room_id: &RoomId,
        by: &Actor,
        target: &UserId,
        reason: Option<String>,
    ) -> ServiceResult<()> {
        self.invite_as(room_id, by, target, reason, true).await
    }

    /// Invites someone on behalf of `by` because the server must (an escalation step brings
    /// them in): the same rules and audit as [`Self::invite`], without `by`'s rate limit, which
    /// must never hold an escalation back.
    /// `by` is who the invitation is made for (the message's sender); if they can no longer
    /// invite there (they left), the joined person with the most power who can makes it.
    pub async fn invite_for_escalation(&self, room_id: &RoomId, by: &Actor, target: &UserId) -> ServiceResult<()> {
        let inviter = self.with_state(room_id, |s| super::server_member::inviter(s, &by.user_id)).await?;
        let inviter = inviter.ok_or_else(|| ServiceError::forbidden("nobody left in the conversation can invite"))?;
        let by = Actor::system(inviter);
        self.invite_as(room_id, &by, target, Some("escalation".into()), false).await
    }

    async fn invite_as(
        &self,
        room_id: &RoomId,
        by: &Actor,
        target: &UserId,
        reason: Option<String>,
        limited: bool,
    ) -> ServiceResult<()> {
        if let Err(e) = self.check_in_organisation(target).await {
            let mut r = self.audit.entry(Some(by), AuditAction::RoomInvite, Outcome::Denied);
            r.room_id = Some(room_id.to_string());
            r.target_user = Some(target.to_string());
            r.detail = Some("not in the organisation".into());
            self.audit.record(r)?;
            return Err(e);
        }
        if limited {
            self.limiter.check(LimitKind::Invite, by.user_id.as_str())?;
        }
        if let Some(role) = self.role_of(target) {
            // A role has no device to accept: it joins at once, and its holders are seated.
            return self.invite_role(room_id, by, &role).await;
        }
        self.change_membership(room_id, by, target, Membership::Invite, reason).await
    }

    /// Joins a room the user was invited to (or is already in).
    pub async fn join(&self, room_id: &RoomId, by: &Actor) -> ServiceResult<()> {
        let user = &by.user_id;
        if self.with_state(room_id, |s| s.membership(user)).await? == Some(Membership::Join) {
            return Ok(());
        }
        self.change_membership(room_id, by, user, Membership::Join, None).await
    }

    /// Leaves a room, or rejects an invite.
    pub async fn leave(&self, room_id: &RoomId, by: &Actor, reason: Option<String>) -> ServiceResult<()> {
        let user = &by.user_id;
        let current = self.with_state(room_id, |s| (s.exists(), s.membership(user))).await?;
        match current {
            (false, _) => Err(ServiceError::not_found("no such room")),
            (true, Some(Membership::Leave | Membership::Ban) | None) => Ok(()),
            _ => self.change_membership(room_id, by, user, Membership::Leave, reason).await,
        }
    }

    /// Removes someone from a room.
    pub async fn kick(
        &self,
        room_id: &RoomId,
        by: &Actor,
        target: &UserId,
        reason: Option<String>,
    ) -> ServiceResult<()> {
        self.change_membership(room_id, by, target, Membership::Leave, reason).await
    }

    /// Bans someone from a room.
    pub async fn ban(
        &self,
        room_id: &RoomId,
        by: &Actor,
        target: &UserId,
        reason: Option<String>,
    ) -> ServiceResult<()> {
        self.check_in_organisation(target).await?;
        self.change_membership(room_id, by, target, Membership::Ban, reason).await
    }

    /// Lifts a ban.
    pub async fn unban(
        &self,
        room_id: &RoomId,
        by: &Actor,
        target: &UserId,
        reason: Option<String>,
    ) -> ServiceResult<()> {
        if self.with_state(room_id, |s| s.membership(target)).await? != Some(Membership::Ban) {
            return Err(ServiceError::forbidden("that user is not banned"));
        }
        self.change_membership(room_id, by, target, Membership::Leave, reason).await
    }

    /// Forgets a room the user has left.
    pub async fn forget(&self, room_id: &RoomId, user: &UserId) -> ServiceResult<()> {
        match self.with_state(room_id, |s| s.membership(user)).await? {
            Some(Membership::Join | Membership::Invite) => {
                Err(ServiceError::forbidden("leave the room before forgetting it"))
            }
            None => Err(ServiceError::not_found("you have never been in this room")),
            _ => Ok(self.store.forget_room(user, room_id).await?),
        }
    }

    /// Rooms the user is joined to.
    pub async fn joined_rooms(&self, user: &UserId) -> ServiceResult<Vec<ruma::OwnedRoomId>> {
        Ok(self
            .store
            .rooms_of_user(user)
            .await?
            .into_iter()
            .filter(|m| m.membership == Membership::Join)
            .map(|m| m.room_id)
            .collect())
    }

    /// Leaves every room (used when an account is deactivated).
    pub async fn leave_all(&self, by: &Actor) -> ServiceResult<()> {
        let user = &by.user_id;
        for m in self.store.rooms_of_user(user).await? {
            if matches!(m.membership, Membership::Join | Membership::Invite) {
                self.change_membership(&m.room_id, by, user, Membership::Leave, Some("account deactivated".into()))
                    .await?;
            }
        }
        Ok(())
    }

    /// Updates the user's member event in every joined room after a profile change.
    pub async fn refresh_profile(&self, by: &Actor) -> ServiceResult<()> {
        let user = &by.user_id;
        for room_id in self.joined_rooms(user).await? {
            let mut slot = self.lock(&room_id).await?;
            let Some(member) = slot.state.get(kinds::MEMBER, user.as_str()) else { continue };
            let mut content = member.event.content.clone();
            if let Some(a) = self.store.account(user).await?
                && let Value::Object(obj) = &mut content
            {
                {
                    // Seated by a role: the per-room name keeps the role beside the person's.
                    let seat =
                        obj.get(wardline_types::role::fields::SEAT).and_then(|s| s.get("name")).and_then(Value::as_str);
                    let name = match (seat, &a.display_name) {
                        (Some(role), Some(n)) => Some(format!("{n} ({role})")),
                        (Some(role), None) => Some(format!("{} ({role})", user.localpart())),
                        (None, n) => n.clone(),
                    };
                    obj.insert("displayname".into(), json!(name));
                    match a.avatar_url {
                        Some(url) => obj.insert("avatar_url".into(), json!(url)),
                        None => obj.remove("avatar_url"),
                    };
                }
            }
            let event = self.new_event(&room_id, user, kinds::MEMBER, Some(user.to_string()), content);
            self.append(by, &mut slot, vec![event]).await?;
        }
        Ok(())
    }
}
