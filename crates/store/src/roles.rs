//! Roles, who holds them, and the append-only history of their changes of hands.

use async_trait::async_trait;
use ruma::OwnedUserId;
use wardline_types::{NewShift, Role, RoleChange, RoleDefinition, RoleId, Shift, Timestamp};

use crate::{ImportOutcome, StoreResult};

/// A change of a role's holders, checked by the store inside its write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderOp {
    /// `user` starts holding the role, beside anyone holding it already.
    SwipeIn {
        /// Who.
        user: OwnedUserId,
    },
    /// `user` stops holding the role.
    SwipeOut {
        /// Who.
        user: OwnedUserId,
    },
    /// `from` hands the role to `to`, who is told ([`RoleStore::pending_role_notices`]).
    Handover {
        /// The holder leaving.
        from: OwnedUserId,
        /// The successor.
        to: OwnedUserId,
    },
    /// `user`'s account was deactivated: they stop holding the role, even one that must not be
    /// empty (nobody who cannot act holds a role; the caller raises the alarm for a role left
    /// uncovered).
    Release {
        /// Who.
        user: OwnedUserId,
    },
    /// The holders become exactly these.
    Set {
        /// Who holds the role afterwards.
        holders: Vec<OwnedUserId>,
    },
}

/// A change of holders with what the caller decided it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderChange {
    /// The role.
    pub role_id: RoleId,
    /// The definition version ([`Role::version`]) the caller checked the rules against: the
    /// change is refused with [`HolderRefusal::DefinitionChanged`] if it is no longer current.
    pub expected_version: u64,
    /// What changes.
    pub op: HolderOp,
    /// The member of staff making the change (`None`: an operator or the server).
    pub by: Option<OwnedUserId>,
    /// A short note kept with the change.
    pub note: Option<String>,
    /// When.
    pub at: Timestamp,
    /// The most changes of hands the caller has taken audit places for ([`RoleChange`]s): a
    /// change that needs more, because the holders changed since they were read, is refused
    /// with [`HolderRefusal::HoldersChanged`], so no change of hands goes unrecorded.
    pub max_changes: usize,
}

/// Why the store refused a change of holders (nothing was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderRefusal {
    /// There is no such role.
    NoSuchRole,
    /// The role is retired.
    Retired,
    /// The definition changed since the caller read it: read again and decide again.
    DefinitionChanged,
    /// The holders changed since the caller read them, so the change needs more changes of
    /// hands than it allowed for ([`HolderChange::max_changes`]): read again and decide again.
    HoldersChanged,
    /// The change names someone as taking the role whose account is deactivated (or gone).
    NotActive(OwnedUserId),
    /// The change names someone as leaving the role who does not hold it.
    NotHolder(OwnedUserId),
    /// The change names someone as taking the role who holds it already.
    AlreadyHolder(OwnedUserId),
    /// The change would leave nobody holding a role that must not be empty.
    WouldBeEmpty,
}

/// A new holder to be told they now hold a role (written with the change that made them one;
/// sent by the notification that a later change adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleNotice {
    /// The history entry ([`RoleChange::seq`]) that made them a holder.
    pub seq: u64,
    /// The role.
    pub role_id: RoleId,
    /// Who is to be told.
    pub user_id: OwnedUserId,
    /// Who handed it to them.
    pub from: Option<OwnedUserId>,
    /// When they became holder.
    pub at: Timestamp,
}

/// What importing a rota did ([`RoleStore::import_shifts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotaImportOutcome {
    /// Shifts added.
    pub created: usize,
    /// Shifts that had not started and were replaced by the import.
    pub removed: usize,
    /// Shifts of the import that were stored already.
    pub unchanged: usize,
}

/// A role the rota left with nobody scheduled: a shift ended, nobody else held the role, and it
/// must not be empty, so the shift's holder was kept ([`RoleStore::apply_rota`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncovered {
    /// The role.
    pub role_id: RoleId,
    /// The holder kept past the end of their shift.
    pub kept: OwnedUserId,
    /// The shift that ended.
    pub shift_id: u64,
}

/// What applying the rota's due boundaries did ([`RoleStore::apply_rota`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotaApplied {
    /// The changes of hands written (reason [`wardline_types::HolderReason::Rota`]), in order.
    pub changes: Vec<RoleChange>,
    /// Roles newly left uncovered by this application (each reported once).
    pub uncovered: Vec<Uncovered>,
    /// The next boundary after `now` (a shift to start or to end), if any.
    pub next_boundary: Option<Timestamp>,
}

/// Roles as organisation objects: definitions, current holders, the history of changes.
///
/// **Invariant:** a change of holders is checked and written in one write: a role that must not
/// be empty is never left empty, only a holder can leave, and nobody holds a role twice, however
/// changes interleave. Every change of holders appends to the history (never changed or deleted)
/// and marks [`crate::ChangeTopic::RoleHolders`]; every change of definition marks
/// [`crate::ChangeTopic::Roles`].
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Creates a role (version 1, no holders); [`crate::StoreError::Conflict`] if the id was
    /// ever used.
    async fn create_role(&self, definition: RoleDefinition, now: Timestamp) -> StoreResult<Role>;
    /// Replaces a role's definition and raises its version; [`crate::StoreError::NotFound`]
    /// if there is no such role.
    async fn update_role(&self, definition: RoleDefinition, now: Timestamp) -> StoreResult<Role>;
    /// Creates and replaces many definitions in one transaction: all or nothing.
    async fn import_roles(
        &self,
        creates: Vec<RoleDefinition>,
        updates: Vec<RoleDefinition>,
        now: Timestamp,
    ) -> StoreResult<ImportOutcome>;
    /// Retires a role: nobody holds it afterwards (each holder's leaving is in the history,
    /// as an administrator's change by `by`) and it can no longer be held. Its id stays taken.
    async fn retire_role(
        &self,
        role_id: &RoleId,
        by: Option<OwnedUserId>,
        now: Timestamp,
    ) -> StoreResult<Vec<RoleChange>>;
    /// One role with its holders.
    async fn role(&self, role_id: &RoleId) -> StoreResult<Option<Role>>;
    /// Every role (retired ones too) with its holders, ordered by id.
    async fn roles(&self) -> StoreResult<Vec<Role>>;
    /// Changes a role's holders if the rules above allow it; returns the history entries
    /// written, in order (none if the holders were already as asked).
    async fn change_holders(&self, change: HolderChange) -> StoreResult<Result<Vec<RoleChange>, HolderRefusal>>;
    /// A role's history, newest first, at most `limit` entries.
    async fn role_history(&self, role_id: &RoleId, limit: usize) -> StoreResult<Vec<RoleChange>>;
    /// Notices to new holders not yet sent, oldest first.
    async fn pending_role_notices(&self, limit: usize) -> StoreResult<Vec<RoleNotice>>;
    /// Marks a notice sent.
    async fn role_notice_sent(&self, seq: u64, at: Timestamp) -> StoreResult<()>;
    /// Imports a rota from `source`, in one write. For each role the import names, its span is
    /// [earliest start, latest end) of that role's shifts in the import; every stored shift of
    /// that role that has not started (its start is after `now`) and starts within the span is
    /// removed, unless the import has it too (same person, start and end: counted unchanged and
    /// kept as it is). Shifts under way or past are never removed. The import's other shifts are
    /// added, including ones under way (applied by the next [`RoleStore::apply_rota`]) and past
    /// ones (kept as the record of the rota, never applied). Importing the same rota twice changes
    /// nothing the second time. Roles the import does not name are untouched.
    async fn import_shifts(
        &self,
        source: String,
        shifts: Vec<NewShift>,
        now: Timestamp,
    ) -> StoreResult<RotaImportOutcome>;
    /// A role's shifts that overlap [`from`, `to`), by start.
    async fn shifts(&self, role_id: &RoleId, from: Timestamp, to: Timestamp) -> StoreResult<Vec<Shift>>;
    /// Applies every boundary due at `now`, in one write, so that applying twice (or from two
    /// nodes at once) changes nothing the second time:
    ///
    /// 1. every shift not yet started with start ≤ `now` < end starts: its person is added as a
    ///    holder with reason `rota` (a history entry, by nobody) unless they hold the role
    ///    already (then nothing changes, and the rota will not remove them: they took it
    ///    themselves). Shifts of retired roles, and of people whose account is deactivated,
    ///    start without a change.
    /// 2. then every started shift with end ≤ `now` ends: its person stops holding the role if
    ///    they hold it with reason `rota` (the rota added them; someone who swiped in or was
    ///    handed the role is never removed) and no other started shift of theirs in that role
    ///    is under way. If that would leave a role that must not be empty with nobody, they are
    ///    kept and the role is reported [`Uncovered`] once; the end is tried again by every later
    ///    application, and done as soon as someone else holds the role.
    ///
    /// Starts come before ends, so a handover at a boundary (one shift ends as the next starts)
    /// never leaves the role empty.
    async fn apply_rota(&self, now: Timestamp) -> StoreResult<RotaApplied>;
}
