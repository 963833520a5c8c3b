//! Creating, changing and retiring roles: for administrators and operators, each audited as an
//! `admin` record naming the role.

use std::collections::HashMap;

use wardline_store::StoreError;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::{Role, RoleDefinition, RoleId};

use super::RoleService;
use crate::audit::{AuditSlot, By};
use crate::{ServiceError, ServiceResult};

/// Longest role name.
const MAX_NAME: usize = 128;
/// Longest department, site or job title.
const MAX_FIELD: usize = 128;
/// Longest bleep or extension number.
const MAX_BLEEP: usize = 32;
/// Most entries in each eligibility list.
const MAX_ENTRIES: usize = 200;

/// Trims optional text: empty becomes `None`.
pub(super) fn tidy(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The definition tidied (trimmed, eligibility sorted), or what is wrong with it on its own
/// (whether named people and the fallback exist is checked against the store).
pub(super) fn checked(d: RoleDefinition) -> Result<RoleDefinition, String> {
    let d = RoleDefinition {
        name: d.name.trim().to_owned(),
        department: tidy(d.department),
        site: tidy(d.site),
        bleep: tidy(d.bleep),
        eligibility: d.eligibility.normalised(),
        ..d
    };
    if d.name.is_empty() || d.name.chars().count() > MAX_NAME {
        return Err(format!("a role's name has 1 to {MAX_NAME} characters"));
    }
    for (what, v) in [("department", &d.department), ("site", &d.site)] {
        if v.as_ref().is_some_and(|v| v.chars().count() > MAX_FIELD) {
            return Err(format!("{what} is longer than {MAX_FIELD} characters"));
        }
    }
    if let Some(b) = &d.bleep
        && (b.len() > MAX_BLEEP || !b.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '+' | '-' | '#')))
    {
        return Err(format!("bleep {b:?}: up to {MAX_BLEEP} letters, digits, spaces and + - #"));
    }
    let e = &d.eligibility;
    if e.users.len() > MAX_ENTRIES || e.job_titles.len() > MAX_ENTRIES || e.departments.len() > MAX_ENTRIES {
        return Err(format!("at most {MAX_ENTRIES} people, job titles and departments each may be eligible"));
    }
    if e.job_titles.iter().chain(&e.departments).any(|v| v.chars().count() > MAX_FIELD) {
        return Err(format!("an eligible job title or department is longer than {MAX_FIELD} characters"));
    }
    if d.fallback.as_ref() == Some(&d.id) {
        return Err("a role cannot be its own fallback".into());
    }
    Ok(d)
}

/// Whether following fallbacks from `start` with `defs` (the roles as they would be) comes back
/// to it.
pub(super) fn fallback_loops(start: &RoleId, defs: &HashMap<RoleId, Option<RoleId>>) -> bool {
    let mut at = defs.get(start).cloned().flatten();
    for _ in 0..=defs.len() {
        match at {
            None => return false,
            Some(ref r) if r == start => return true,
            Some(r) => at = defs.get(&r).cloned().flatten(),
        }
    }
    true
}

impl RoleService {
    /// What is wrong with `d` against the organisation as it is (plus `also`, roles about to be
    /// written with it): named people must be accounts of this server, the fallback a role that
    /// is not retired, and fallbacks must not go round in a circle. (The outer error: the store
    /// failed.)
    pub(super) async fn check_against_store(
        &self,
        d: &RoleDefinition,
        existing: &[Role],
        also: &[RoleDefinition],
    ) -> ServiceResult<Result<(), String>> {
        for u in &d.eligibility.users {
            if u.server_name() != self.server_name {
                return Ok(Err(format!("{u} is not a user of this server")));
            }
            match self.store.account(u).await {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(Err(format!("{u} has no account"))),
                // A store failure is the server's, not the request's: mapped once, as such.
                Err(e) => return Err(e.into()),
            }
        }
        let mut fallbacks: HashMap<RoleId, Option<RoleId>> =
            existing.iter().map(|r| (r.definition.id.clone(), r.definition.fallback.clone())).collect();
        for a in also {
            fallbacks.insert(a.id.clone(), a.fallback.clone());
        }
        fallbacks.insert(d.id.clone(), d.fallback.clone());
        if let Some(f) = &d.fallback {
            let known = existing.iter().find(|r| &r.definition.id == f);
            if known.is_some_and(|r| r.retired) {
                return Ok(Err(format!("the fallback role {f} is retired")));
            }
            if known.is_none() && !also.iter().any(|a| &a.id == f) {
                return Ok(Err(format!("the fallback role {f} does not exist")));
            }
            if fallback_loops(&d.id, &fallbacks) {
                return Ok(Err(format!("fallbacks would go round in a circle through {f}")));
            }
        }
        Ok(Ok(()))
    }

    /// Records an administrator's change of a role's definition in the place taken for it.
    fn definition_audit(&self, slot: AuditSlot, by: By<'_>, role: &RoleId, what: &str) {
        let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
        r.detail = Some(by.detail(&format!("{what} role={role}")));
        slot.record(r);
    }

    /// Creates a role.
    pub async fn create(&self, by: By<'_>, definition: RoleDefinition) -> ServiceResult<Role> {
        let d = checked(definition).map_err(ServiceError::InvalidParam)?;
        let existing = self.store.roles().await?;
        if existing.iter().any(|r| r.definition.id == d.id) {
            return Err(ServiceError::RoleConflict(format!("the role id {} is taken", d.id)));
        }
        self.check_against_store(&d, &existing, &[]).await?.map_err(ServiceError::InvalidParam)?;
        let slot = self.audit.reserve()?;
        let id = d.id.clone();
        let role = self.store.create_role(d, self.clock.now()).await.map_err(|e| match e {
            StoreError::Conflict(m) => ServiceError::RoleConflict(m),
            other => other.into(),
        })?;
        self.definition_audit(slot, by, &id, "role-create");
        Ok(role)
    }

    /// Replaces a role's definition (holders stay; a change of eligibility does not remove
    /// anyone holding it now).
    pub async fn update(&self, by: By<'_>, definition: RoleDefinition) -> ServiceResult<Role> {
        let d = checked(definition).map_err(ServiceError::InvalidParam)?;
        let existing = self.store.roles().await?;
        let current = existing
            .iter()
            .find(|r| r.definition.id == d.id)
            .ok_or_else(|| ServiceError::not_found(format!("there is no role {}", d.id)))?;
        if current.retired {
            return Err(ServiceError::RoleConflict(format!("the role {} is retired", d.id)));
        }
        if current.definition == d {
            return Ok(current.clone());
        }
        self.check_against_store(&d, &existing, &[]).await?.map_err(ServiceError::InvalidParam)?;
        let slot = self.audit.reserve()?;
        let id = d.id.clone();
        let role = self.store.update_role(d, self.clock.now()).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found(format!("there is no role {id}")),
            StoreError::Conflict(m) => ServiceError::RoleConflict(m),
            other => other.into(),
        })?;
        self.definition_audit(slot, by, &id, "role-update");
        Ok(role)
    }

    /// Retires a role: whoever holds it stops (each in the history and the audit trail), it can
    /// no longer be held, and its history and id are kept. Roles are never deleted, so what
    /// happened under one stays readable. A role that is another's fallback cannot be retired.
    pub async fn retire(&self, by: By<'_>, id: &RoleId) -> ServiceResult<()> {
        let roles = self.store.roles().await?;
        let role = roles
            .iter()
            .find(|r| &r.definition.id == id)
            .ok_or_else(|| ServiceError::not_found(format!("there is no role {id}")))?;
        if role.retired {
            return Ok(());
        }
        if let Some(other) = roles.iter().find(|r| !r.retired && r.definition.fallback.as_ref() == Some(id)) {
            return Err(ServiceError::RoleConflict(format!(
                "{id} is the fallback of {}: change that role first",
                other.definition.id
            )));
        }
        let slots = (0..=role.holders.len()).map(|_| self.audit.reserve()).collect::<ServiceResult<Vec<_>>>()?;
        let mut slots = slots.into_iter();
        let ended = self.store.retire_role(id, by.actor().map(|a| a.user_id.clone()), self.clock.now()).await?;
        if let Some(slot) = slots.next() {
            self.definition_audit(slot, by, id, "role-retire");
        }
        for (change, slot) in ended.iter().zip(slots) {
            self.holder_audit(slot, by, change);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> RoleId {
        RoleId::parse(s).unwrap()
    }

    #[test]
    fn fallbacks_must_not_loop() {
        let defs: HashMap<RoleId, Option<RoleId>> =
            [(id("a"), Some(id("b"))), (id("b"), Some(id("c"))), (id("c"), None)].into_iter().collect();
        assert!(!fallback_loops(&id("a"), &defs));
        let mut looped = defs.clone();
        looped.insert(id("c"), Some(id("a")));
        assert!(fallback_loops(&id("a"), &looped));
    }

    #[test]
    fn definitions_are_tidied_and_checked() {
        let d = RoleDefinition {
            id: id("med-reg"),
            name: "  Medical Registrar On-call ".into(),
            department: Some("  ".into()),
            site: None,
            bleep: Some(" 2345 ".into()),
            eligibility: wardline_types::Eligibility::default(),
            may_be_empty: false,
            fallback: None,
        };
        let ok = checked(d.clone()).unwrap();
        assert_eq!(
            (ok.name.as_str(), ok.department, ok.bleep.as_deref()),
            ("Medical Registrar On-call", None, Some("2345"))
        );
        assert!(checked(RoleDefinition { name: " ".into(), ..d.clone() }).is_err());
        assert!(checked(RoleDefinition { bleep: Some("12;DROP".into()), ..d.clone() }).is_err());
        assert!(checked(RoleDefinition { fallback: Some(id("med-reg")), ..d }).is_err());
    }
}
