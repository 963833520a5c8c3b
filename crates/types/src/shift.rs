//! Rota shifts: who is scheduled to hold a role, from when to when, as imported from a
//! rostering system. The rota is one-way: the server applies each shift's start and end at its
//! boundary by itself.

use ruma::OwnedUserId;

use crate::{RoleId, Timestamp};

/// A shift as imported: `user` holds `role` from `starts_at` (inclusive) to `ends_at`
/// (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShift {
    /// The role.
    pub role_id: RoleId,
    /// Who holds it.
    pub user_id: OwnedUserId,
    /// When the shift starts.
    pub starts_at: Timestamp,
    /// When it ends (later than the start).
    pub ends_at: Timestamp,
    /// A note from the rota ("covering for Dr Shah").
    pub note: Option<String>,
}

/// A shift as stored, with what the server has applied of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// Its id.
    pub id: u64,
    /// The shift.
    pub shift: NewShift,
    /// Which import it came from (`csv`, `ical`, with who imported it).
    pub source: String,
    /// When it was imported.
    pub imported_at: Timestamp,
    /// When its start was applied.
    pub started_at: Option<Timestamp>,
    /// When its end was applied.
    pub ended_at: Option<Timestamp>,
    /// When its end fell due but its holder was kept, because the role must not be empty and
    /// nobody else held it.
    pub uncovered_at: Option<Timestamp>,
}
