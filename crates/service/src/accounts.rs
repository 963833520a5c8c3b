//! Staff accounts: creation, bulk import, deactivation, profiles and the directory.
//! The command line and the HTTP API both come through here.

use std::sync::Arc;

use ruma::{OwnedServerName, OwnedUserId, UserId};
use wardline_store::{Store, StoreError};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::{Account, AccountUpdate, Clock, NewAccount, Username};

use crate::audit::{Actor, AuditService, AuditSlot, By};
use crate::core::Core;
use crate::rooms::RoomService;
use crate::sessions::SessionService;
use crate::{ServiceError, ServiceResult, password};

/// A member of staff to add.
#[derive(Debug, Clone, Default)]
pub struct NewStaff {
    /// Username.
    pub username: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Password; `None` generates a one-time password that must be changed at first login.
    pub password: Option<String>,
    /// Administrator?
    pub is_admin: bool,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// The account service.
pub struct AccountService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    server_name: OwnedServerName,
    sessions: Arc<SessionService>,
    rooms: Arc<RoomService>,
    audit: AuditService,
}

impl std::fmt::Debug for AccountService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountService").finish_non_exhaustive()
    }
}

impl AccountService {
    /// An account service.
    pub fn new(core: &Core, sessions: Arc<SessionService>, rooms: Arc<RoomService>) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            server_name: core.server_name.clone(),
            sessions,
            rooms,
            audit: core.audit.clone(),
        }
    }

    /// The user id for a username on this server.
    pub fn user_id(&self, username: &str) -> ServiceResult<OwnedUserId> {
        let name = Username::parse(username).map_err(|e| ServiceError::InvalidUsername(e.to_string()))?;
        OwnedUserId::try_from(format!("@{name}:{}", self.server_name))
            .map_err(|e| ServiceError::InvalidUsername(e.to_string()))
    }

    /// Turns a username or full id given by an operator into a user id of this server.
    pub fn resolve(&self, user: &str) -> ServiceResult<OwnedUserId> {
        self.sessions
            .parse_user(user)
            .ok_or_else(|| ServiceError::not_found(format!("{user} is not a user of this server")))
    }

    /// Validates and hashes a new member of staff (CPU-heavy: hashing).
    pub fn prepare(&self, staff: NewStaff) -> ServiceResult<(NewAccount, Option<String>)> {
        let user_id = self.user_id(&staff.username)?;
        let (pw, one_time) = match staff.password {
            Some(p) => {
                self.sessions.check_password_policy(&p, &staff.username)?;
                (p, None)
            }
            None => {
                let p = password::generate_one_time();
                (p.clone(), Some(p))
            }
        };
        let account = NewAccount {
            user_id,
            password_hash: password::hash(&pw)?,
            display_name: staff.display_name,
            is_admin: staff.is_admin,
            must_change_password: one_time.is_some(),
            job_title: staff.job_title,
            department: staff.department,
            email: staff.email,
            phone: staff.phone,
        };
        Ok((account, one_time))
    }

    /// Adds one member of staff on the server's own authority (the first administrator; test
    /// and benchmark seeding).
    pub async fn create(&self, staff: NewStaff) -> ServiceResult<(Account, Option<String>)> {
        self.create_by(By::Server, staff).await
    }

    /// Adds one member of staff; returns the account and the one-time password, if generated.
    pub async fn create_by(&self, by: By<'_>, staff: NewStaff) -> ServiceResult<(Account, Option<String>)> {
        let (account, one_time) = tokio::task::block_in_place(|| self.prepare(staff))?;
        let slot = self.audit.reserve()?;
        let created = self.store.create_account(account, self.clock.now()).await.map_err(|e| match e {
            StoreError::Conflict(_) => ServiceError::UserInUse,
            other => other.into(),
        })?;
        self.admin_audit(slot, by, &created.user_id, if created.is_admin { "create admin" } else { "create" });
        Ok((created, one_time))
    }

    /// Creates the first administrator if there are no accounts yet; returns its one-time
    /// password.
    pub async fn ensure_first_admin(&self) -> ServiceResult<Option<(OwnedUserId, String)>> {
        if self.store.count_accounts().await? > 0 {
            return Ok(None);
        }
        let (account, one_time) = self
            .create(NewStaff {
                username: "admin".into(),
                display_name: Some("Administrator".into()),
                is_admin: true,
                ..NewStaff::default()
            })
            .await?;
        Ok(one_time.map(|p| (account.user_id, p)))
    }

    /// Stores an import that was validated and hashed: all or nothing.
    pub async fn apply_import(
        &self,
        by: By<'_>,
        creates: Vec<NewAccount>,
        updates: Vec<(OwnedUserId, AccountUpdate)>,
    ) -> ServiceResult<wardline_store::ImportOutcome> {
        let created: Vec<OwnedUserId> = creates.iter().map(|a| a.user_id.clone()).collect();
        let updated: Vec<OwnedUserId> = updates.iter().map(|(u, _)| u.clone()).collect();
        let outcome = self.store.import_accounts(creates, updates, self.clock.now()).await?;
        let mut records = Vec::with_capacity(created.len() + updated.len());
        for (users, what) in [(created, "import create"), (updated, "import update")] {
            for u in users {
                let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
                r.target_user = Some(u.to_string());
                r.detail = Some(by.detail(what));
                records.push(r);
            }
        }
        self.audit.record_batch_now(records).await?;
        Ok(outcome)
    }

    /// Checks a new password against the policy, with the organisation's minimum strength.
    pub fn check_password_policy(&self, password: &str, username: &str) -> ServiceResult<()> {
        self.sessions.check_password_policy(password, username)
    }

    /// Every account.
    pub async fn list(&self) -> ServiceResult<Vec<Account>> {
        Ok(self.store.list_accounts().await?)
    }

    /// One account.
    pub async fn get(&self, user: &UserId) -> ServiceResult<Account> {
        self.store.account(user).await?.ok_or_else(|| ServiceError::not_found("no such user"))
    }

    /// Deactivates an account: it can no longer sign in, every session ends at once (open
    /// long-polls included) and it leaves every room.
    /// (Through [`crate::Services::deactivate_account`], which also ends the account's roles.)
    pub(crate) async fn deactivate(&self, by: By<'_>, user: &UserId) -> ServiceResult<()> {
        self.get(user).await?;
        let slot = self.audit.reserve()?;
        self.store.set_deactivated(user, true).await?;
        self.admin_audit(slot, by, user, "deactivate");
        self.sessions.end_sessions_of_deactivated(by, user).await?;
        self.rooms.leave_all(&Actor::system(user.to_owned())).await?;
        Ok(())
    }

    /// Records an administrator's action on an account, in the place taken for it before the
    /// action ([`AuditService::reserve`]).
    pub fn admin_audit(&self, slot: AuditSlot, by: By<'_>, user: &UserId, what: &str) {
        let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
        r.target_user = Some(user.to_string());
        r.detail = Some(by.detail(what));
        slot.record(r);
    }

    /// Lifts the lockout that failed sign-ins put on an account; returns whether it was locked.
    pub async fn unlock(&self, by: By<'_>, user: &UserId) -> ServiceResult<bool> {
        self.get(user).await?;
        let slot = self.audit.reserve()?;
        let was_locked = self.sessions.unlock(user);
        self.admin_audit(slot, by, user, if was_locked { "unlock" } else { "unlock not-locked" });
        Ok(was_locked)
    }

    /// Lets a deactivated account sign in again (its rooms are not given back).
    pub async fn reactivate(&self, by: By<'_>, user: &UserId) -> ServiceResult<()> {
        self.get(user).await?;
        let slot = self.audit.reserve()?;
        self.store.set_deactivated(user, false).await?;
        self.admin_audit(slot, by, user, "reactivate");
        Ok(())
    }

    /// Changes an account's directory entry or rights. A new display name also updates the
    /// user's member events.
    pub async fn update(&self, by: By<'_>, user: &UserId, update: AccountUpdate) -> ServiceResult<()> {
        if update.password.is_some() {
            return Err(ServiceError::invalid("use the password reset to change a password"));
        }
        let renamed = update.display_name.is_some();
        let what = format!(
            "update{}{}",
            if update.is_admin == Some(true) {
                " grant-admin"
            } else if update.is_admin == Some(false) {
                " revoke-admin"
            } else {
                ""
            },
            if renamed { " display-name" } else { "" }
        );
        let what = match update.may_broadcast {
            Some(true) => format!("{what} grant-broadcast"),
            Some(false) => format!("{what} revoke-broadcast"),
            None => what,
        };
        let slot = self.audit.reserve()?;
        self.store.update_account(user, update).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found("no such user"),
            other => other.into(),
        })?;
        self.admin_audit(slot, by, user, &what);
        if renamed {
            self.rooms.refresh_profile(&Actor::system(user.to_owned())).await?;
        }
        Ok(())
    }

    /// Gives an account a new one-time password (to be changed at next sign-in) and ends its
    /// sessions; returns the password.
    pub async fn reset_password(&self, by: By<'_>, user: &UserId) -> ServiceResult<String> {
        self.get(user).await?;
        let one_time = password::generate_one_time();
        let pw = one_time.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let slot = self.audit.reserve()?;
        self.store.set_password(user, &hash, true).await?;
        self.admin_audit(slot, by, user, "reset-password");
        self.sessions.logout_all(by, user, None).await?;
        Ok(one_time)
    }

    /// Changes the caller's display name and/or avatar, and their member events.
    pub async fn set_profile(
        &self,
        by: &Actor,
        display_name: Option<Option<String>>,
        avatar_url: Option<Option<String>>,
    ) -> ServiceResult<()> {
        if let Some(Some(name)) = &display_name
            && name.chars().count() > 256
        {
            return Err(ServiceError::invalid("display name too long"));
        }
        if let Some(Some(name)) = &display_name {
            // One line: a name is quoted in the server's own notices ("✓ {name} accepted").
            if name.chars().any(char::is_control) {
                return Err(ServiceError::invalid("a display name is one line of text"));
            }
            // Nobody passes for a role in the directory ("Medical Registrar On-call"), nor for
            // the server's own member.
            let wanted = name.trim().to_lowercase();
            if wanted == wardline_types::account::SERVER_USERNAME {
                return Err(ServiceError::invalid("\"Wardline\" is the server's own name: choose your own name"));
            }
            let roles = self.store.roles().await?;
            if let Some(role) = roles.iter().find(|r| !r.retired && r.definition.name.trim().to_lowercase() == wanted) {
                return Err(ServiceError::invalid(format!(
                    "{:?} is the name of a role: choose your own name",
                    role.definition.name
                )));
            }
        }
        self.store.set_profile(&by.user_id, display_name, avatar_url).await?;
        self.rooms.refresh_profile(by).await
    }

    /// Searches the organisation directory.
    pub async fn search_directory(&self, term: &str, limit: usize) -> ServiceResult<Vec<Account>> {
        Ok(self.store.search_directory(term.trim(), limit.clamp(1, 100)).await?)
    }
}
