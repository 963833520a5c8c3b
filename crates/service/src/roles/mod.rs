//! Roles, on call and cover: roles as organisation objects ("Medical Registrar On-call"), who
//! holds them now, swipe in and out, handover, and the directory's view of them.
//!
//! - `definitions.rs`: creating, changing and retiring roles (administrators, the command line);
//! - `eligibility.rs`: who may hold a role, the one rule;
//! - `holders.rs`: swipe in, swipe out, handover and holders set by an administrator;
//! - `import.rs`: roles from a CSV file, all or nothing;
//! - `directory.rs`: finding roles by the words of their name, department and site;
//! - `rota.rs`: importing a rota (CSV or iCalendar), all or nothing;
//! - `shifts.rs`: applying the rota at its boundaries (a background task) and the hours ahead.
//!
//! **Invariant:** the rules that concern holders together (a role that must not be empty is
//! never left empty, only a holder leaves, nobody holds a role twice) are checked by the store
//! inside the write that changes the holders ([`wardline_store::RoleStore::change_holders`]);
//! the rules about a person (eligibility, an active account) are checked here against a version
//! of the role's definition, and the store refuses the write if that version is no longer
//! current. Every change is audited: definitions as `admin`, holders as `role.holders`.

mod definitions;
mod directory;
mod eligibility;
mod holders;
pub mod import;
#[cfg(test)]
mod messaging_tests;
pub mod rota;
#[cfg(test)]
mod rota_tests;
mod shifts;
#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;

use ruma::{OwnedServerName, OwnedUserId};
use wardline_store::Store;
use wardline_types::{Clock, Role, RoleChange, RoleId};

use crate::accounts::AccountService;
use crate::audit::AuditService;
use crate::core::Core;
use crate::{ServiceError, ServiceResult};

pub use directory::{DirectoryEntry, matches as role_matches};
pub use eligibility::admits;
pub use shifts::{MAX_ROTA_HOURS, MAX_WAIT as MAX_ROTA_WAIT};

/// Most history entries answered at once.
pub const MAX_HISTORY: usize = 200;

/// The role service.
pub struct RoleService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    server_name: OwnedServerName,
    audit: AuditService,
    accounts: Arc<AccountService>,
    /// Woken by an import, so the rota task looks at the new boundaries at once.
    rota_changed: tokio::sync::Notify,
    /// Woken when a role changes hands here, so its holders are seated in its conversations at
    /// once ([`crate::rooms::RoomService::run_role_seats`]; it also polls, for other nodes).
    holders_changed: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for RoleService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleService").finish_non_exhaustive()
    }
}

impl RoleService {
    /// A role service.
    pub fn new(core: &Core, accounts: Arc<AccountService>, holders_changed: Arc<tokio::sync::Notify>) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            server_name: core.server_name.clone(),
            audit: core.audit.clone(),
            accounts,
            rota_changed: tokio::sync::Notify::new(),
            holders_changed,
        }
    }

    /// A role id given by a client or an operator.
    pub fn parse_id(raw: &str) -> ServiceResult<RoleId> {
        RoleId::parse(raw).map_err(|e| ServiceError::invalid(format!("{raw:?}: {e}")))
    }

    /// The Matrix user id reserved for a role: `@role.<id>:<server>`.
    pub fn user_id_of(&self, role: &RoleId) -> ServiceResult<OwnedUserId> {
        OwnedUserId::try_from(format!("@{}:{}", role.localpart(), self.server_name))
            .map_err(|e| ServiceError::Internal(format!("role user id: {e}")))
    }

    /// Every role, retired ones only if asked for.
    pub async fn list(&self, include_retired: bool) -> ServiceResult<Vec<Role>> {
        let mut roles = self.store.roles().await?;
        roles.retain(|r| include_retired || !r.retired);
        Ok(roles)
    }

    /// One role (retired or not).
    pub async fn get(&self, id: &RoleId) -> ServiceResult<Role> {
        self.store.role(id).await?.ok_or_else(|| ServiceError::not_found(format!("there is no role {id}")))
    }

    /// A role's changes of hands, newest first.
    pub async fn history(&self, id: &RoleId, limit: usize) -> ServiceResult<Vec<RoleChange>> {
        self.get(id).await?;
        Ok(self.store.role_history(id, limit.clamp(1, MAX_HISTORY)).await?)
    }

    /// The roles each of `users` holds now.
    pub async fn held_by(&self, users: &[OwnedUserId]) -> ServiceResult<Vec<(OwnedUserId, Vec<Role>)>> {
        let roles = self.list(false).await?;
        Ok(users
            .iter()
            .map(|u| {
                let held = roles.iter().filter(|r| r.holders.iter().any(|h| &h.user_id == u)).cloned().collect();
                (u.clone(), held)
            })
            .collect())
    }
}
