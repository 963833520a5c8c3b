//! Who holds a role: swipe in, swipe out, handover, and holders set by an administrator.
//!
//! The person rules are checked here (an eligible, active account), against the version of the
//! role they were read with; the rules about the holders together are the store's, checked in
//! the write ([`wardline_store::RoleStore::change_holders`]). Each change of hands is one
//! `role.holders` audit record, whose place is taken before the write.
//!
//! A successor named at a handover is told: the store keeps a notice for them in the write that
//! made them holder ([`wardline_store::RoleStore::pending_role_notices`]); sending it (a server
//! notice in their direct conversation with the role's user id, and a push) is the later slice
//! that makes roles reachable by message.

use ruma::{OwnedUserId, UserId};
use wardline_store::{HolderChange, HolderOp, HolderRefusal};
use wardline_types::audit::{AuditAction, NewAuditRecord, Outcome};
use wardline_types::{Role, RoleChange, RoleId};

use super::{RoleService, admits};
use crate::audit::{Actor, AuditSlot, By};
use crate::{ServiceError, ServiceResult};

/// How often a change is decided again when the role's definition changed under it.
const ATTEMPTS: usize = 3;

/// Longest note kept with a change.
const MAX_NOTE: usize = 200;

impl RoleService {
    /// Records one change of hands in the place taken for it.
    pub(super) fn holder_audit(&self, slot: AuditSlot, by: By<'_>, change: &RoleChange) {
        slot.record(self.holder_record(by, change));
    }

    /// The `role.holders` audit record of one change of hands.
    pub(super) fn holder_record(&self, by: By<'_>, change: &RoleChange) -> NewAuditRecord {
        let mut r = self.audit.entry_by(by, AuditAction::RoleHolders, Outcome::Success);
        r.target_user = change.to.as_ref().or(change.from.as_ref()).map(ToString::to_string);
        let mut what = format!("role={} reason={}", change.role_id, change.reason);
        if let Some(from) = &change.from {
            what.push_str(&format!(" from={from}"));
        }
        if let Some(to) = &change.to {
            what.push_str(&format!(" to={to}"));
        }
        r.detail = Some(by.detail(&what));
        r
    }

    /// Checks that `user` has an active account the role admits.
    async fn require_eligible(&self, role: &Role, user: &UserId, who: &str) -> ServiceResult<()> {
        let account = self.store.account(user).await?;
        match account {
            Some(a) if admits(&role.definition.eligibility, &a) => Ok(()),
            Some(a) if !a.deactivated => Err(ServiceError::NotEligible(format!(
                "{who} may not hold {}: ask an administrator to add them, their job title or department",
                role.definition.name
            ))),
            _ => Err(ServiceError::NotEligible(format!("{user} is not an active member of staff"))),
        }
    }

    /// Decides `op` against the role as it is (everyone in `joining` must be eligible), has the
    /// store write it, and audits each change; decides again if the definition changed meanwhile.
    async fn change(
        &self,
        by: By<'_>,
        id: &RoleId,
        op: HolderOp,
        joining: &[(OwnedUserId, String)],
        note: Option<String>,
    ) -> ServiceResult<Role> {
        let note = super::definitions::tidy(note);
        if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
            return Err(ServiceError::invalid(format!("a note has at most {MAX_NOTE} characters")));
        }
        for _ in 0..ATTEMPTS {
            let role = self.get(id).await?;
            if role.retired {
                return Err(ServiceError::RoleConflict(format!("{} is retired", role.definition.name)));
            }
            for (user, who) in joining {
                if !role.holders.iter().any(|h| &h.user_id == user) {
                    self.require_eligible(&role, user, who).await?;
                }
            }
            let bound = role.holders.len() + joining.len().max(1);
            let slots = (0..bound).map(|_| self.audit.reserve()).collect::<ServiceResult<Vec<_>>>()?;
            let change = HolderChange {
                role_id: id.clone(),
                expected_version: role.version,
                op: op.clone(),
                by: by.actor().map(|a| a.user_id.clone()),
                note: note.clone(),
                at: self.clock.now(),
                max_changes: slots.len(),
            };
            match self.store.change_holders(change).await? {
                Ok(changes) => {
                    for (c, slot) in changes.iter().zip(slots) {
                        self.holder_audit(slot, by, c);
                    }
                    self.holders_changed.notify_one();
                    return self.get(id).await;
                }
                Err(HolderRefusal::DefinitionChanged | HolderRefusal::HoldersChanged) => {}
                Err(refusal) => return Err(refused(&role, &refusal, by)),
            }
        }
        Err(ServiceError::RoleConflict("the role kept changing while this was decided; try again".into()))
    }

    /// Ends every holding of `user`, whose account was deactivated: recorded in each role's
    /// history and the audit trail. A role that must not be empty and is left with nobody is
    /// reported as uncovered (returned, and logged as an error for the administrators).
    pub(crate) async fn release_deactivated(&self, by: By<'_>, user: &UserId) -> ServiceResult<Vec<Role>> {
        let held = self.held_by(&[user.to_owned()]).await?.into_iter().flat_map(|(_, roles)| roles);
        let mut uncovered = Vec::new();
        for role in held {
            let op = HolderOp::Release { user: user.to_owned() };
            let after = match self.change(by, &role.definition.id, op, &[], None).await {
                Ok(after) => after,
                // Gone meanwhile (it handed over, the role was retired): nothing to release.
                Err(ServiceError::RoleConflict(_)) if !self.still_holds(&role.definition.id, user).await? => continue,
                Err(e) => return Err(e),
            };
            if after.holders.is_empty() && !after.definition.may_be_empty {
                tracing::error!(
                    role = %after.definition.id,
                    "a role that must not be empty has nobody holding it: its only holder's account was deactivated"
                );
                uncovered.push(after);
            }
        }
        Ok(uncovered)
    }

    async fn still_holds(&self, id: &RoleId, user: &UserId) -> ServiceResult<bool> {
        Ok(self.get(id).await?.holders.iter().any(|h| h.user_id == user))
    }

    /// `actor` takes the role (beside anyone holding it now), if it admits them.
    pub async fn swipe_in(&self, actor: &Actor, id: &RoleId, note: Option<String>) -> ServiceResult<Role> {
        let me = actor.user_id.clone();
        let op = HolderOp::SwipeIn { user: me.clone() };
        self.change(By::Staff(actor), id, op, &[(me, "you".into())], note).await
    }

    /// `actor` leaves the role. With a successor, the role is handed to them in the same write
    /// (they must be eligible, and are told); without one, only if someone else still holds it
    /// or it may be left empty.
    pub async fn swipe_out(
        &self,
        actor: &Actor,
        id: &RoleId,
        successor: Option<OwnedUserId>,
        note: Option<String>,
    ) -> ServiceResult<Role> {
        match successor {
            Some(to) => self.handover(actor, id, to, note).await,
            None => {
                let op = HolderOp::SwipeOut { user: actor.user_id.clone() };
                self.change(By::Staff(actor), id, op, &[], note).await
            }
        }
    }

    /// `actor`, a holder, hands the role to `to`, who must be eligible and is told.
    pub async fn handover(
        &self,
        actor: &Actor,
        id: &RoleId,
        to: OwnedUserId,
        note: Option<String>,
    ) -> ServiceResult<Role> {
        if to == actor.user_id {
            return Err(ServiceError::invalid("name a colleague to hand the role to, not yourself"));
        }
        let label = to.to_string();
        let op = HolderOp::Handover { from: actor.user_id.clone(), to: to.clone() };
        self.change(By::Staff(actor), id, op, &[(to, label)], note).await
    }

    /// An administrator or operator sets who holds the role. Everyone newly named must be
    /// eligible, and a role that must not be empty cannot be emptied this way either (retire it,
    /// or let it be empty first).
    pub async fn set_holders(
        &self,
        by: By<'_>,
        id: &RoleId,
        holders: Vec<OwnedUserId>,
        note: Option<String>,
    ) -> ServiceResult<Role> {
        if holders.len() > 200 {
            return Err(ServiceError::invalid("at most 200 holders"));
        }
        let joining: Vec<(OwnedUserId, String)> = holders.iter().map(|u| (u.clone(), u.to_string())).collect();
        self.change(by, id, HolderOp::Set { holders }, &joining, note).await
    }
}

/// The error for a change the store refused.
fn refused(role: &Role, refusal: &HolderRefusal, by: By<'_>) -> ServiceError {
    let name = &role.definition.name;
    let me = by.actor().map(|a| a.user_id.clone());
    match refusal {
        HolderRefusal::NoSuchRole => ServiceError::not_found(format!("there is no role {}", role.definition.id)),
        HolderRefusal::Retired => ServiceError::RoleConflict(format!("{name} is retired")),
        HolderRefusal::DefinitionChanged | HolderRefusal::HoldersChanged => {
            ServiceError::RoleConflict(format!("{name} changed; try again"))
        }
        HolderRefusal::NotActive(u) => ServiceError::NotEligible(format!("{u} is not an active member of staff")),
        HolderRefusal::NotHolder(u) if Some(u) == me.as_ref() => {
            ServiceError::forbidden(format!("you do not hold {name}"))
        }
        HolderRefusal::NotHolder(u) => ServiceError::RoleConflict(format!("{u} does not hold {name}")),
        HolderRefusal::AlreadyHolder(u) if Some(u) == me.as_ref() => {
            ServiceError::RoleConflict(format!("you already hold {name}"))
        }
        HolderRefusal::AlreadyHolder(u) => ServiceError::RoleConflict(format!("{u} already holds {name}")),
        HolderRefusal::WouldBeEmpty => ServiceError::SuccessorRequired(format!(
            "{name} must not be left empty: hand it over to a named colleague who may hold it"
        )),
    }
}
