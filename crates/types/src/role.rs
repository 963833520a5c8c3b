//! Roles: organisation objects that people hold ("Medical Registrar On-call", "Ward 7 Nurse in
//! Charge", "Cardiac Arrest Team"), who holds each now, and how holders changed.
//!
//! A role has a stable id (a slug such as `med-reg-oncall`) and a Matrix user id reserved for
//! it, `@role.<id>:<server>`: no account may ever take a username starting `role.`
//! ([`crate::Username::parse`] refuses it), so the id is free for messaging the role later.

use std::fmt;

use ruma::OwnedUserId;
use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Usernames starting with this are reserved for roles' Matrix user ids.
pub const ROLE_USERNAME_PREFIX: &str = "role.";

/// Longest role id.
pub const MAX_ROLE_ID: usize = 48;

/// A role's stable id: lowercase letters, digits and `-`, 1 to 48 characters, starting and
/// ending with a letter or digit (`med-reg-oncall`). Never reused for another role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleId(String);

/// Why a role id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a role id has 1 to 48 lowercase letters, digits and -, starting and ending with a letter or digit")]
pub struct InvalidRoleId;

impl RoleId {
    /// Validates `s` as a role id.
    pub fn parse(s: &str) -> Result<Self, InvalidRoleId> {
        let ok = !s.is_empty()
            && s.len() <= MAX_ROLE_ID
            && s.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidRoleId) }
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The localpart of the Matrix user id reserved for the role: `role.<id>`.
    #[must_use]
    pub fn localpart(&self) -> String {
        format!("{ROLE_USERNAME_PREFIX}{}", self.0)
    }

    /// The role whose reserved Matrix user id `user` is (`@role.<id>:…`), whatever the server.
    #[must_use]
    pub fn of_user(user: &ruma::UserId) -> Option<Self> {
        user.localpart().strip_prefix(ROLE_USERNAME_PREFIX).and_then(|id| Self::parse(id).ok())
    }
}

/// Keys of Wardline's fields in Matrix event content, for conversations with roles.
pub mod fields {
    /// In a role's own `m.room.member` content: `{"id", "name"}` of the role it is.
    pub const ROLE: &str = "org.wardline.role";
    /// In a role's own `m.room.member` content: the id of the role it stands in for, when it was
    /// brought in as that role's fallback.
    pub const FALLBACK_FOR: &str = "org.wardline.fallback_for";
    /// In a person's `m.room.member` content: `{"role", "name"}` of the role that seated them in
    /// the conversation (they are in it because they hold that role).
    pub const SEAT: &str = "org.wardline.seat";
    /// In a message's content, stamped by the server: `{"id", "name"}` of the role its sender
    /// wrote as.
    pub const AS_ROLE: &str = "org.wardline.as_role";
    /// In a notice from a role's user: what happened (`{"kind": "unheld", "role", "fallback"}`).
    pub const ROLE_NOTICE: &str = "org.wardline.role_notice";
}

impl TryFrom<String> for RoleId {
    type Error = InvalidRoleId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RoleId> for String {
    fn from(r: RoleId) -> Self {
        r.0
    }
}

impl fmt::Display for RoleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who may hold a role: a user is eligible if any entry matches (their user id, their job
/// title, their department; titles and departments compared without regard to case). Empty:
/// nobody may swipe in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Eligibility {
    /// Named people.
    #[serde(default)]
    pub users: Vec<OwnedUserId>,
    /// Job titles ("Specialty Registrar").
    #[serde(default)]
    pub job_titles: Vec<String>,
    /// Departments ("Cardiology").
    #[serde(default)]
    pub departments: Vec<String>,
}

impl Eligibility {
    /// The same entries, sorted and without duplicates (how they are stored and compared).
    #[must_use]
    pub fn normalised(mut self) -> Self {
        self.users.sort();
        self.users.dedup();
        for list in [&mut self.job_titles, &mut self.departments] {
            for v in list.iter_mut() {
                *v = v.trim().to_owned();
            }
            list.retain(|v| !v.is_empty());
            list.sort();
            list.dedup();
        }
        self
    }
}

/// What an administrator says a role is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    /// The stable id.
    pub id: RoleId,
    /// The name staff search for and see ("Medical Registrar On-call").
    pub name: String,
    /// Department.
    pub department: Option<String>,
    /// Site (hospital, building).
    pub site: Option<String>,
    /// Bleep or extension number, shown to all staff.
    pub bleep: Option<String>,
    /// Who may hold it.
    pub eligibility: Eligibility,
    /// May it be left with nobody holding it? If not, its last holder can leave only by
    /// handing it to a named successor.
    pub may_be_empty: bool,
    /// Where messages go while nobody holds it (for example switchboard).
    pub fallback: Option<RoleId>,
}

/// A role as stored: its definition, state and current holders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// What it is.
    pub definition: RoleDefinition,
    /// Retired roles keep their history but can no longer be held.
    pub retired: bool,
    /// Goes up with every change of the definition; a change of holders checked against one
    /// version is refused by the store if the definition changed meanwhile.
    pub version: u64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its definition last changed.
    pub updated_at: Timestamp,
    /// Who holds it now, longest-held first.
    pub holders: Vec<RoleHolder>,
}

/// Why a role changed hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolderReason {
    /// Someone eligible took the role.
    SwipeIn,
    /// A holder left a role that may be empty, or that others still hold.
    SwipeOut,
    /// A holder handed the role to a named successor.
    Handover,
    /// An administrator (or an operator at the command line) set the holders.
    Admin,
    /// The holder's account was deactivated: a role is never held by someone who cannot act.
    Deactivated,
    /// A shift of the imported rota started or ended.
    Rota,
}

impl HolderReason {
    /// The stable name, as stored and shown.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::SwipeIn => "swipe_in",
            Self::SwipeOut => "swipe_out",
            Self::Handover => "handover",
            Self::Admin => "admin",
            Self::Deactivated => "deactivated",
            Self::Rota => "rota",
        }
    }

    /// The reason with this name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::SwipeIn, Self::SwipeOut, Self::Handover, Self::Admin, Self::Deactivated, Self::Rota]
            .into_iter()
            .find(|r| r.name() == name)
    }
}

impl fmt::Display for HolderReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Someone holding a role now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleHolder {
    /// Who.
    pub user_id: OwnedUserId,
    /// Since when.
    pub since: Timestamp,
    /// How they came to hold it.
    pub reason: HolderReason,
    /// Who handed it to them, for a handover.
    pub from: Option<OwnedUserId>,
}

/// One change of a role's holders, as the append-only history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    /// Its place in the history of every role (increasing).
    pub seq: u64,
    /// The role.
    pub role_id: RoleId,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: HolderReason,
    /// The member of staff who made the change; `None` for an operator or the server.
    pub by: Option<OwnedUserId>,
    /// Who stopped holding the role.
    pub from: Option<OwnedUserId>,
    /// Who started holding it.
    pub to: Option<OwnedUserId>,
    /// A short note given with the change ("end of night shift").
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ids_are_slugs() {
        assert!(RoleId::parse("med-reg-oncall").is_ok());
        assert!(RoleId::parse("ward7-nic").is_ok());
        for bad in ["", "-a", "a-", "Med", "a_b", "a.b", "a b", &"x".repeat(49)] {
            assert!(RoleId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(RoleId::parse("switchboard").unwrap().localpart(), "role.switchboard");
        let user = ruma::owned_user_id!("@role.switchboard:h.example");
        assert_eq!(RoleId::of_user(&user).unwrap().as_str(), "switchboard");
        assert!(RoleId::of_user(&ruma::owned_user_id!("@ada:h.example")).is_none());
        assert!(RoleId::of_user(&ruma::owned_user_id!("@role.Bad_id:h.example")).is_none());
    }

    #[test]
    fn eligibility_is_normalised() {
        let e = Eligibility {
            users: vec![],
            job_titles: vec![" Registrar ".into(), "Registrar".into(), String::new()],
            departments: vec!["b".into(), "a".into()],
        }
        .normalised();
        assert_eq!(e.job_titles, ["Registrar"]);
        assert_eq!(e.departments, ["a", "b"]);
    }

    #[test]
    fn reasons_round_trip() {
        for r in [
            HolderReason::SwipeIn,
            HolderReason::SwipeOut,
            HolderReason::Handover,
            HolderReason::Admin,
            HolderReason::Rota,
        ] {
            assert_eq!(HolderReason::from_name(r.name()), Some(r));
        }
    }
}
