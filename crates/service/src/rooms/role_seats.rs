//! Conversations with roles: a role is a member of a conversation under the Matrix user id
//! reserved for it (`@role.<id>:<server>`), and whoever holds the role now is *seated* in the
//! conversation because of it.
//!
//! - Inviting a role's user id (from `createRoom`, `/invite`, any Matrix client) brings the role
//!   in: its user joins at once (a role has no device to accept invitations), with the role's
//!   name as its display name and `org.wardline.role` in its member event.
//! - **The seating rule** ([`plan`]), the one place that decides who is in a conversation because
//!   of a role: every holder of a role in the conversation is joined (invited by the role's user,
//!   then joined, with `org.wardline.seat` naming the role and a per-room display name such as
//!   "Dr Priya Shah (Medical Registrar On-call)"); a person seated by a role they no longer hold
//!   leaves (keeping what they saw until then: history is `shared`), unless another role of the
//!   conversation seats them; people who are members in their own right are never touched.
//! - The rule is applied under the room's write lock **before every message** is appended, so a
//!   message never goes to someone who handed the role over, nor misses who took it; and by a
//!   background task whenever a role changes hands, so a new holder gets the conversation (with
//!   its history) without waiting for the next message. Both are idempotent, from any node.
//! - A message to a role nobody holds is never silently parked: the role's fallback chain
//!   (for example switchboard) is brought in, seated by the same rule, and the role's user
//!   posts a notice saying where the message went, or that nobody received it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ruma::{OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use wardline_store::ChangeTopic;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::role::fields;
use wardline_types::{Membership, NewEvent, Role, RoleId, StreamPos, kinds};

use super::{RoomService, Slot, state::RoomState};
use crate::audit::Actor;
use crate::{ServiceError, ServiceResult};

/// How far a fallback chain is followed (a role, its fallback, that one's fallback, …).
const MAX_FALLBACKS: usize = 4;

/// How often the background task looks for roles that changed hands (other nodes' changes
/// included); a change on this node wakes it at once.
const POLL: Duration = Duration::from_millis(500);

/// A role's part in a conversation, as its member event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInRoom {
    /// The role.
    pub role: RoleId,
    /// The role's user id.
    pub user: OwnedUserId,
    /// The role it was brought in for, as that role's fallback.
    pub fallback_for: Option<RoleId>,
}

/// The roles joined to a conversation, by role id.
#[must_use]
pub fn roles_in_room(state: &RoomState) -> Vec<RoleInRoom> {
    let mut out: Vec<RoleInRoom> = state
        .members_with(Membership::Join)
        .filter_map(|user| {
            let role = RoleId::of_user(user)?;
            let content = &state.get(kinds::MEMBER, user.as_str())?.event.content;
            // Only a role brought in as one (a role's user also writes its handover notices).
            content.get(fields::ROLE)?;
            let fallback_for =
                content.get(fields::FALLBACK_FOR).and_then(Value::as_str).and_then(|r| RoleId::parse(r).ok());
            Some(RoleInRoom { role, user: user.clone(), fallback_for })
        })
        .collect();
    out.sort_by(|a, b| a.role.cmp(&b.role));
    out
}

/// The role that seated `user` in the conversation, if they are in it (joined or invited)
/// because of a role.
#[must_use]
pub fn seat_of(state: &RoomState, user: &UserId) -> Option<RoleId> {
    if !matches!(state.membership(user), Some(Membership::Join | Membership::Invite)) {
        return None;
    }
    let content = &state.get(kinds::MEMBER, user.as_str())?.event.content;
    content.get(fields::SEAT)?.get("role")?.as_str().and_then(|r| RoleId::parse(r).ok())
}

/// Has the conversation anything to do with roles now: a role in it, or someone seated by one?
#[must_use]
pub fn has_roles(state: &RoomState) -> bool {
    !roles_in_room(state).is_empty() || state.audience().any(|u| seat_of(state, u).is_some())
}

/// Was a role's user ever a member of the conversation (so someone may have been seated)?
#[must_use]
pub fn ever_had_roles(state: &RoomState) -> bool {
    [Membership::Join, Membership::Leave, Membership::Invite, Membership::Ban]
        .into_iter()
        .any(|m| state.members_with(m).any(|u| RoleId::of_user(u).is_some()))
}

/// One change the roles of a conversation call for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatChange {
    /// A holder joins, seated by the role.
    Seat {
        /// Who.
        user: OwnedUserId,
        /// Because of which role.
        role: RoleId,
    },
    /// A joined member stays, now seated by another role of the conversation they hold.
    Reseat {
        /// Who.
        user: OwnedUserId,
        /// The role that seats them now.
        role: RoleId,
    },
    /// Someone seated by a role they no longer hold leaves.
    Unseat {
        /// Who.
        user: OwnedUserId,
        /// The role that had seated them.
        role: RoleId,
    },
    /// A fallback role leaves: the role it stood in for is held again, or has left.
    Withdraw {
        /// The fallback.
        role: RoleId,
        /// The role it stood in for.
        stood_in_for: RoleId,
    },
}

/// **The seating rule**: what the conversation `state` needs so that exactly the holders now of
/// its roles (as `roles` has them) are seated. Roles missing from `roles` (no such role) seat
/// nobody. Ordered: withdrawals and departures first, then arrivals, each by user id.
#[must_use]
pub fn plan(state: &RoomState, roles: &HashMap<RoleId, Role>) -> Vec<SeatChange> {
    let held = |r: &RoleId| roles.get(r).is_some_and(|role| !role.retired && !role.holders.is_empty());
    let in_room = roles_in_room(state);
    let mut changes = Vec::new();
    let mut active: Vec<&RoleId> = Vec::new();
    for r in &in_room {
        match &r.fallback_for {
            Some(p) if held(p) || !in_room.iter().any(|x| &x.role == p) => {
                changes.push(SeatChange::Withdraw { role: r.role.clone(), stood_in_for: p.clone() });
            }
            _ => active.push(&r.role),
        }
    }
    // Who should be seated, and by which role (the first of the conversation's roles they hold).
    let mut wanted: HashMap<&UserId, Vec<&RoleId>> = HashMap::new();
    for role_id in &active {
        if let Some(role) = roles.get(*role_id).filter(|r| !r.retired) {
            for h in &role.holders {
                wanted.entry(&h.user_id).or_default().push(role_id);
            }
        }
    }
    // Seated people who no longer hold the role that seated them.
    let mut seated: Vec<(&OwnedUserId, RoleId)> = state
        .audience()
        .filter(|u| RoleId::of_user(u).is_none())
        .filter_map(|u| seat_of(state, u).map(|r| (u, r)))
        .collect();
    seated.sort();
    for (user, role) in &seated {
        match wanted.get(user.as_ref() as &UserId) {
            Some(by) if by.contains(&role) => {}
            Some(by) if state.membership(user) == Some(Membership::Join) => {
                changes.push(SeatChange::Reseat { user: (*user).clone(), role: by[0].clone() });
            }
            _ => changes.push(SeatChange::Unseat { user: (*user).clone(), role: role.clone() }),
        }
    }
    // Holders not in the conversation yet (an invitation of theirs is taken up: they are joined).
    let mut arriving: Vec<(&UserId, &RoleId)> = wanted
        .iter()
        .filter(|(u, _)| match state.membership(u) {
            Some(Membership::Join | Membership::Ban) => false,
            Some(Membership::Invite) => seat_of(state, u).is_some(),
            _ => true,
        })
        .map(|(u, by)| (*u, by[0]))
        .collect();
    arriving.sort();
    changes.extend(arriving.into_iter().map(|(u, r)| SeatChange::Seat { user: u.to_owned(), role: r.clone() }));
    changes
}

/// A role of the conversation that nobody held when a message was sent to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnheldRole {
    /// The role.
    pub role: RoleId,
    /// Its name.
    pub name: String,
    /// Its bleep, to call instead.
    pub bleep: Option<String>,
    /// The fallback that holds the conversation now (its id and name), if one of the chain has
    /// a holder.
    pub fallback: Option<(RoleId, String)>,
}

impl UnheldRole {
    /// Did someone receive the message (through the fallback)?
    #[must_use]
    pub fn reached(&self) -> bool {
        self.fallback.is_some()
    }

    /// The notice its role's user posts after the message.
    fn notice(&self, about: &ruma::EventId, holders: &[String]) -> Value {
        let body = match &self.fallback {
            Some((_, fallback)) => format!(
                "Nobody holds {} at the moment. Your message has gone to {fallback}{}, its fallback.",
                self.name,
                if holders.is_empty() { String::new() } else { format!(" ({})", holders.join(", ")) }
            ),
            None => format!(
                "Nobody holds {} at the moment and nobody has received your message. {} \
                 It will be shown to the next person who takes {}.",
                self.name,
                self.bleep.as_ref().map_or_else(|| "Call switchboard.".to_owned(), |b| format!("Bleep {b}.")),
                self.name
            ),
        };
        json!({
            "msgtype": "m.notice",
            "body": body,
            fields::ROLE_NOTICE: {
                "kind": "unheld",
                "role": self.role,
                "fallback": self.fallback.as_ref().map(|(id, _)| id),
                "reached": self.reached(),
                "event_id": about,
            },
        })
    }
}

/// What sending a message did besides appending it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOutcome {
    /// Roles of the conversation nobody held, and where the message went instead.
    pub unheld: Vec<UnheldRole>,
}

impl RoomService {
    /// The roles of the conversation, with the fallbacks of those nobody holds, as stored now.
    async fn roles_of(&self, state: &RoomState) -> ServiceResult<HashMap<RoleId, Role>> {
        let mut out = HashMap::new();
        let mut wanted: Vec<RoleId> = roles_in_room(state).into_iter().map(|r| r.role).collect();
        let mut seen = BTreeSet::new();
        while let Some(id) = wanted.pop() {
            if !seen.insert(id.clone()) || seen.len() > 64 {
                continue;
            }
            if let Some(role) = self.store.role(&id).await? {
                if let Some(f) = &role.definition.fallback {
                    wanted.push(f.clone());
                }
                out.insert(id, role);
            }
        }
        Ok(out)
    }

    /// A role's user brought into a conversation: invited by `by`, then joined.
    pub(super) fn bring_in(
        &self,
        state: &RoomState,
        by: &UserId,
        role: &Role,
        fallback_for: Option<&RoleId>,
    ) -> ServiceResult<Vec<NewEvent>> {
        let room_id = &state.room_id;
        let user = self.role_user(&role.definition.id)?;
        let mut content = json!({
            "displayname": role.definition.name,
            fields::ROLE: { "id": role.definition.id, "name": role.definition.name },
        });
        if let Some(p) = fallback_for {
            content[fields::FALLBACK_FOR] = json!(p);
        }
        let mut events = Vec::new();
        if state.membership(&user) != Some(Membership::Invite) {
            let mut invite = content.clone();
            invite["membership"] = json!("invite");
            events.push(self.new_event(room_id, by, kinds::MEMBER, Some(user.to_string()), invite));
        }
        content["membership"] = json!("join");
        events.push(self.new_event(room_id, &user, kinds::MEMBER, Some(user.to_string()), content));
        Ok(events)
    }

    /// The Matrix user id of a role on this server, `@role.<id>:<server>`.
    pub fn role_user_id(&self, role: &RoleId) -> ServiceResult<OwnedUserId> {
        self.role_user(role)
    }

    /// The Matrix user id of a role on this server.
    pub(super) fn role_user(&self, role: &RoleId) -> ServiceResult<OwnedUserId> {
        OwnedUserId::try_from(format!("@{}:{}", role.localpart(), self.server_name))
            .map_err(|e| ServiceError::Internal(format!("role user id: {e}")))
    }

    /// The role behind a user id of this server that names one, whether or not it exists.
    pub(super) fn role_of(&self, user: &UserId) -> Option<RoleId> {
        (user.server_name() == self.server_name).then(|| RoleId::of_user(user)).flatten()
    }

    /// A role that can be brought into a conversation: it exists and is not retired.
    pub(super) async fn invitable_role(&self, role: &RoleId) -> ServiceResult<Role> {
        match self.store.role(role).await? {
            Some(r) if !r.retired => Ok(r),
            Some(r) => Err(ServiceError::not_found(format!("{} is retired", r.definition.name))),
            None => Err(ServiceError::not_found(format!("there is no role {role}"))),
        }
    }

    /// The member events that carry out `changes` in a conversation whose state is `state`.
    async fn seat_events(
        &self,
        state: &RoomState,
        roles: &HashMap<RoleId, Role>,
        changes: &[SeatChange],
    ) -> ServiceResult<Vec<NewEvent>> {
        let room_id = &state.room_id;
        let name_of = |r: &RoleId| roles.get(r).map_or_else(|| r.to_string(), |role| role.definition.name.clone());
        let mut events = Vec::new();
        for change in changes {
            match change {
                SeatChange::Seat { user, role } | SeatChange::Reseat { user, role } => {
                    let name = name_of(role);
                    let account = self.store.account(user).await?;
                    let person = account
                        .as_ref()
                        .and_then(|a| a.display_name.clone())
                        .unwrap_or_else(|| user.localpart().to_owned());
                    let seat = json!({ "role": role, "name": name });
                    if matches!(change, SeatChange::Seat { .. }) && state.membership(user) != Some(Membership::Invite) {
                        let invite = json!({ "membership": "invite", "displayname": person, fields::SEAT: seat });
                        events.push(self.new_event(
                            room_id,
                            &self.role_user(role)?,
                            kinds::MEMBER,
                            Some(user.to_string()),
                            invite,
                        ));
                    }
                    let mut join = json!({ "membership": "join", "displayname": format!("{person} ({name})"), fields::SEAT: seat });
                    if let Some(url) = account.and_then(|a| a.avatar_url) {
                        join["avatar_url"] = json!(url);
                    }
                    events.push(self.new_event(room_id, user, kinds::MEMBER, Some(user.to_string()), join));
                }
                SeatChange::Unseat { user, role } => {
                    let reason = format!("No longer holds {}", name_of(role));
                    let leave = json!({ "membership": "leave", "reason": reason });
                    events.push(self.new_event(room_id, user, kinds::MEMBER, Some(user.to_string()), leave));
                }
                SeatChange::Withdraw { role, stood_in_for } => {
                    let reason = format!("{} is held again", name_of(stood_in_for));
                    let leave = json!({ "membership": "leave", "reason": reason });
                    let user = self.role_user(role)?;
                    events.push(self.new_event(room_id, &user, kinds::MEMBER, Some(user.to_string()), leave));
                }
            }
        }
        Ok(events)
    }

    /// Applies the seating rule to a locked conversation; returns how many changes it made.
    /// Each change is appended as done by the role's rule (the role's user as the actor).
    pub(super) async fn settle_locked(&self, slot: &mut Slot) -> ServiceResult<usize> {
        if !has_roles(&slot.state) {
            return Ok(0);
        }
        let roles = self.roles_of(&slot.state).await?;
        self.settle_with(slot, &roles).await
    }

    /// Applies the seating rule with the roles as already read (with their fallback chains).
    async fn settle_with(&self, slot: &mut Slot, roles: &HashMap<RoleId, Role>) -> ServiceResult<usize> {
        let changes = plan(&slot.state, roles);
        if changes.is_empty() {
            return Ok(0);
        }
        let events = self.seat_events(&slot.state, roles, &changes).await?;
        let actor = self.rule_actor(&changes)?;
        self.append(&actor, slot, events).await?;
        Ok(changes.len())
    }

    /// The actor recorded for seating changes: the user of the first role concerned.
    fn rule_actor(&self, changes: &[SeatChange]) -> ServiceResult<Actor> {
        let role = match changes.first() {
            Some(SeatChange::Seat { role, .. } | SeatChange::Reseat { role, .. } | SeatChange::Unseat { role, .. }) => {
                role
            }
            Some(SeatChange::Withdraw { stood_in_for, .. }) => stood_in_for,
            None => return Err(ServiceError::Internal("no seating change to record".into())),
        };
        Ok(Actor::system(self.role_user(role)?))
    }

    /// Applies the seating rule to one conversation now.
    pub async fn settle_role_seats(&self, room_id: &RoomId) -> ServiceResult<usize> {
        let mut slot = self.lock(room_id).await?;
        if !slot.state.exists() {
            return Err(ServiceError::not_found("no such room"));
        }
        self.settle_locked(&mut slot).await
    }

    /// Brings a role into a conversation for `by` (who invited its user id), and seats its
    /// holders.
    pub(super) async fn invite_role(&self, room_id: &RoomId, by: &Actor, role: &RoleId) -> ServiceResult<()> {
        let role = self.invitable_role(role).await?;
        let mut slot = self.lock(room_id).await?;
        if !slot.state.exists() {
            return Err(ServiceError::not_found("no such room"));
        }
        let user = self.role_user(&role.definition.id)?;
        if slot.state.membership(&user) == Some(Membership::Join) {
            return Err(ServiceError::forbidden(format!("{} is already in the conversation", role.definition.name)));
        }
        let events = self.bring_in(&slot.state, &by.user_id, &role, None)?;
        self.append(by, &mut slot, events).await?;
        self.settle_locked(&mut slot).await?;
        Ok(())
    }

    /// Before a message from `sender` is appended to a locked conversation with roles: seats
    /// exactly the holders now, and brings in the fallback of each role nobody holds. Returns
    /// the roles nobody held (for the notices after the message and the sender's answer).
    pub(super) async fn before_message(&self, slot: &mut Slot, sender: &UserId) -> ServiceResult<Vec<UnheldRole>> {
        if !has_roles(&slot.state) {
            return Ok(Vec::new());
        }
        // Read once: the roles of the conversation with their fallback chains.
        let roles = self.roles_of(&slot.state).await?;
        self.settle_with(slot, &roles).await?;
        // A role's own notices are not messages to the others.
        if RoleId::of_user(sender).is_some() {
            return Ok(Vec::new());
        }
        let mut unheld = Vec::new();
        for r in roles_in_room(&slot.state).into_iter().filter(|r| r.fallback_for.is_none()) {
            let Some(role) = roles.get(&r.role) else { continue };
            // Held in this conversation: a holder is in it (one banned from it is no reader).
            let reached = role.holders.iter().any(|h| slot.state.membership(&h.user_id) == Some(Membership::Join));
            if !role.retired && reached {
                continue;
            }
            let fallback = fallback_with_holders(role, &roles);
            if let Some(f) = fallback
                && slot.state.membership(&self.role_user(&f.definition.id)?) != Some(Membership::Join)
            {
                let events = self.bring_in(&slot.state, &r.user, f, Some(&r.role))?;
                self.append(&Actor::system(r.user.clone()), slot, events).await?;
            }
            unheld.push(UnheldRole {
                role: r.role.clone(),
                name: role.definition.name.clone(),
                bleep: role.definition.bleep.clone(),
                fallback: fallback.map(|f| (f.definition.id.clone(), f.definition.name.clone())),
            });
        }
        if !unheld.is_empty() {
            self.settle_with(slot, &roles).await?;
        }
        Ok(unheld)
    }

    /// After a message to roles nobody held: each role's user posts a notice saying where it
    /// went, and the audit trail records it.
    pub(super) async fn after_message(
        &self,
        by: &Actor,
        slot: &mut Slot,
        message: &ruma::EventId,
        unheld: &[UnheldRole],
    ) -> ServiceResult<()> {
        for u in unheld {
            let mut names = Vec::new();
            if let Some((f, _)) = &u.fallback
                && let Some(role) = self.store.role(f).await?
            {
                for h in &role.holders {
                    let account = self.store.account(&h.user_id).await?;
                    names
                        .push(account.and_then(|a| a.display_name).unwrap_or_else(|| h.user_id.localpart().to_owned()));
                }
            }
            let user = self.role_user(&u.role)?;
            let notice = self.new_event(&slot.state.room_id, &user, kinds::MESSAGE, None, u.notice(message, &names));
            self.append(&Actor::system(user), slot, vec![notice]).await?;
            let mut r = self.audit.entry(Some(by), AuditAction::RoleUnheld, Outcome::Success);
            r.room_id = Some(slot.state.room_id.to_string());
            r.event_id = Some(message.to_string());
            r.detail = Some(format!(
                "role={} fallback={} reached={}",
                u.role,
                u.fallback.as_ref().map_or("none", |(f, _)| f.as_str()),
                u.reached()
            ));
            self.audit.record(r)?;
            if !u.reached() {
                tracing::warn!(role = %u.role, room = %slot.state.room_id, "a message went to a role nobody holds, without a fallback that anyone holds");
            }
        }
        Ok(())
    }

    /// Applies the seating rule to every conversation of every role whose holders changed since
    /// the marks in `seen` (all of them the first time); returns how many changes it made.
    pub async fn settle_changed_roles(&self, seen: &mut HashMap<RoleId, StreamPos>) -> ServiceResult<usize> {
        let mut made = 0;
        for role in self.store.roles().await? {
            let id = role.definition.id.clone();
            let mark = self.store.last_change(&ChangeTopic::RoleHolders(id.clone())).pos;
            if seen.get(&id).is_some_and(|at| *at >= mark) {
                continue;
            }
            let user = self.role_user(&id)?;
            let mut all_settled = true;
            for m in self.store.rooms_of_user(&user).await? {
                if m.membership == Membership::Join {
                    // One conversation whose rules refuse a seat does not hold up the others.
                    match self.settle_role_seats(&m.room_id).await {
                        Ok(n) => made += n,
                        Err(e) => {
                            all_settled = false;
                            tracing::error!(error = %e, room = %m.room_id, role = %id, "could not seat a role's holders");
                        }
                    }
                }
            }
            if all_settled {
                seen.insert(id, mark);
            }
        }
        Ok(made)
    }

    /// The background task that seats new holders in their roles' conversations (and unseats
    /// the old) soon after a role changes hands, on this node or another. At start it looks at
    /// every role's conversations, so a change made just before a restart is not missed.
    pub async fn run_role_seats(self: Arc<Self>) {
        let mut seen = HashMap::new();
        let mut roles_mark = None;
        loop {
            // A new role, or a changed definition (a fallback), is looked at again too.
            let mark = self.store.last_change(&ChangeTopic::Roles).pos;
            if roles_mark.is_some_and(|m| m < mark) {
                seen.clear();
            }
            roles_mark = Some(mark);
            if let Err(e) = self.settle_changed_roles(&mut seen).await {
                tracing::error!(error = %e, "could not seat roles' holders in their conversations");
                seen.clear();
            }
            if let Err(e) = self.send_role_notices().await {
                tracing::error!(error = %e, "could not tell new holders of the roles handed to them");
            }
            tokio::select! {
                () = self.roles_changed.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// What wakes the background task: the role service notifies it when a role changes
    /// hands on this node.
    #[must_use]
    pub fn role_seats_waker(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.roles_changed)
    }
}

/// The first role of `role`'s fallback chain that someone holds (never `role` itself, nor a
/// retired one), as far as [`MAX_FALLBACKS`].
fn fallback_with_holders<'a>(role: &Role, roles: &'a HashMap<RoleId, Role>) -> Option<&'a Role> {
    let mut next = role.definition.fallback.as_ref();
    let mut seen = vec![&role.definition.id];
    for _ in 0..MAX_FALLBACKS {
        let f = roles.get(next?)?;
        if seen.contains(&&f.definition.id) {
            return None;
        }
        if !f.retired && !f.holders.is_empty() {
            return Some(f);
        }
        seen.push(&f.definition.id);
        next = f.definition.fallback.as_ref();
    }
    None
}

#[cfg(test)]
#[path = "role_seats_tests.rs"]
mod tests;
