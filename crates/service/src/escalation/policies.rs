//! Which policy applies to a message, and setting policies.
//!
//! The most specific policy set for the message's level applies: the conversation's, else that
//! of a role in the conversation (the first by role id that has one), else the organisation's,
//! else the built-in one ([`Policy::default_for`]) ending at the organisation's administrators.
//! A policy is saved only if its shape is valid and its failsafe can be reached: every target
//! exists (an active person, a role that is not retired), and at least one of them is a person
//! or a role that may never be left empty.

use ruma::RoomId;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::escalation::{Policy, Scope, Target};
use wardline_types::priority::Level;

use super::EscalationService;
use crate::audit::By;
use crate::rooms::role_seats::roles_in_room;
use crate::{ServiceError, ServiceResult};

/// A policy as listed: where it is set, for which level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyScope {
    /// Where.
    pub scope: Scope,
    /// For which level.
    pub level: Level,
    /// The policy.
    pub policy: Policy,
}

impl EscalationService {
    /// The policy that applies to a message of `level` in `room`.
    pub(super) async fn policy_for(&self, room: &RoomId, level: Level) -> ServiceResult<Policy> {
        if let Some(p) = self.store.escalation_policy(&Scope::Room(room.to_owned()).key(), level).await? {
            return Ok(p);
        }
        let mut roles: Vec<_> = self.rooms.with_state(room, roles_in_room).await?.into_iter().map(|r| r.role).collect();
        roles.sort();
        for role in roles {
            if let Some(p) = self.store.escalation_policy(&Scope::Role(role).key(), level).await? {
                return Ok(p);
            }
        }
        if let Some(p) = self.store.escalation_policy(&Scope::Organisation.key(), level).await? {
            return Ok(p);
        }
        Ok(Policy::default_for(level, self.administrators().await?))
    }

    /// The organisation's active administrators, as failsafe targets (the built-in policy's,
    /// and the built-in failsafe rule's for alarms).
    pub(crate) async fn administrators(&self) -> ServiceResult<Vec<Target>> {
        let mut admins: Vec<Target> = self
            .store
            .list_accounts()
            .await?
            .into_iter()
            .filter(|a| a.is_admin && !a.deactivated)
            .map(|a| Target::User { user_id: a.user_id })
            .collect();
        admins.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        Ok(admins)
    }

    /// Sets the policy of `scope` for `level` (urgent or emergency), after checking it: its
    /// shape, that each target exists, and that its failsafe can be reached. Audited.
    ///
    /// # Errors
    /// `400` for a policy that breaks a rule, naming it; `404` for an unknown conversation.
    pub async fn set_policy(&self, by: By<'_>, scope: &Scope, level: Level, policy: &Policy) -> ServiceResult<()> {
        if level == Level::Routine {
            return Err(ServiceError::invalid("routine messages do not escalate"));
        }
        policy.check().map_err(|e| ServiceError::invalid(e.to_string()))?;
        self.check_scope(scope).await?;
        self.check_policy(policy).await?;
        let actor = match by.actor() {
            Some(a) => a.user_id.clone(),
            None => self.rooms.server_member()?,
        };
        self.store.set_escalation_policy(&scope.key(), level, policy, &actor, self.clock.now()).await?;
        let mut r = self.audit.entry_by(by, AuditAction::EscalationPolicy, Outcome::Success);
        let steps = serde_json::to_string(policy).unwrap_or_default();
        r.detail = Some(by.detail(&format!("set {} {}: {steps}", scope.key(), level.as_str())));
        self.audit.record(r)
    }

    /// Checks a policy before it is saved (for a scope, or in an alarm rule): its shape, that
    /// each target exists, and that its failsafe can be reached.
    ///
    /// # Errors
    /// `400` naming the rule it breaks.
    pub async fn check_policy(&self, policy: &Policy) -> ServiceResult<()> {
        policy.check().map_err(|e| ServiceError::invalid(e.to_string()))?;
        let mut reachable = false;
        for step in &policy.steps {
            let targets = match &step.action {
                wardline_types::escalation::Action::Add { targets }
                | wardline_types::escalation::Action::Failsafe { targets } => targets,
                _ => continue,
            };
            for t in targets {
                let always_there = self.check_target(t).await?;
                if matches!(step.action, wardline_types::escalation::Action::Failsafe { .. }) {
                    reachable |= always_there;
                }
            }
        }
        if !reachable {
            return Err(ServiceError::invalid(
                "the failsafe cannot be reached: name a person, or a role that may never be left empty",
            ));
        }
        Ok(())
    }

    /// Removes the policy of `scope` for `level`; `false` if none was set. Audited.
    pub async fn remove_policy(&self, by: By<'_>, scope: &Scope, level: Level) -> ServiceResult<bool> {
        let removed = self.store.remove_escalation_policy(&scope.key(), level).await?;
        if removed {
            let mut r = self.audit.entry_by(by, AuditAction::EscalationPolicy, Outcome::Success);
            r.detail = Some(by.detail(&format!("removed {} {}", scope.key(), level.as_str())));
            self.audit.record(r)?;
        }
        Ok(removed)
    }

    /// Every policy set.
    pub async fn policies(&self) -> ServiceResult<Vec<PolicyScope>> {
        Ok(self
            .store
            .escalation_policies()
            .await?
            .into_iter()
            .filter_map(|(key, level, policy)| Some(PolicyScope { scope: Scope::parse(&key)?, level, policy }))
            .collect())
    }

    async fn check_scope(&self, scope: &Scope) -> ServiceResult<()> {
        match scope {
            Scope::Organisation => Ok(()),
            Scope::Role(r) => match self.store.role(r).await? {
                Some(role) if !role.retired => Ok(()),
                _ => Err(ServiceError::not_found(format!("there is no role {r}"))),
            },
            Scope::Room(r) if self.store.room_exists(r).await? => Ok(()),
            Scope::Room(_) => Err(ServiceError::not_found("no such conversation")),
        }
    }

    /// Checks that a target exists (`400` naming it if not); returns whether it can always be reached (a person, or a
    /// role that may never be left empty).
    pub async fn check_target(&self, t: &Target) -> ServiceResult<bool> {
        match t {
            Target::User { user_id } => match self.store.account(user_id).await? {
                Some(a) if !a.deactivated => Ok(true),
                _ => Err(ServiceError::invalid(format!("{user_id} is not an active user of this organisation"))),
            },
            Target::Role { role } => match self.store.role(role).await? {
                Some(r) if !r.retired => Ok(!r.definition.may_be_empty),
                _ => Err(ServiceError::invalid(format!("there is no role {role}"))),
            },
        }
    }
}
