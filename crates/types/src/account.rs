//! Staff accounts and their devices.

use std::fmt;

use ruma::{OwnedDeviceId, OwnedUserId};
use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// A validated username: the localpart of a Matrix user id on this server.
///
/// Lowercase letters, digits and `._=-/`, 1 to 64 characters, as the Matrix spec allows for
/// user localparts (we are stricter on length so ids stay readable on a pager-sized screen).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

/// Why a username was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUsername {
    /// Empty, or over 64 characters.
    #[error("a username must have 1 to 64 characters")]
    Length,
    /// A character outside `a-z 0-9 . _ = - /`.
    #[error("a username may contain only lowercase letters, digits and . _ = - /")]
    Character,
    /// Starts with `role.` (those user ids belong to roles, [`crate::role::RoleId::localpart`])
    /// or `integration.` (hospital systems' user ids, [`crate::integration::IntegrationId::localpart`]),
    /// or is [`SERVER_USERNAME`].
    #[error(
        "usernames starting \"role.\" are reserved for roles, \"integration.\" for hospital systems, and \"wardline\" for the server"
    )]
    Reserved,
}

/// The username of the server's own member of conversations, `@wardline:<server>`, who posts
/// what the server does there (escalation steps). Nobody may take it.
pub const SERVER_USERNAME: &str = "wardline";

/// Is this user id one that reads nothing for itself: a role's (its holders read), an
/// integration's (a hospital system that raises alarms) or the server's own? Such ids are never
/// a message's recipients.
#[must_use]
pub fn is_service_user(user: &ruma::UserId) -> bool {
    user.localpart() == SERVER_USERNAME
        || crate::RoleId::of_user(user).is_some()
        || crate::integration::is_integration_user(user)
}

/// Is this the server's own user id or a role's: the ids whose messages are the server's own
/// doing (escalation notices, roles' notices)? An integration's is not: a hospital system's
/// messages are alarms it raised, to be escalated and never taken for the server's notices.
#[must_use]
pub fn is_server_or_role(user: &ruma::UserId) -> bool {
    user.localpart() == SERVER_USERNAME || crate::RoleId::of_user(user).is_some()
}

impl Username {
    /// Validates `s` as a username (the one check account creation and import use). Usernames
    /// starting `role.` are reserved for roles' user ids. Upper case is refused rather than folded, so that an import
    /// file and the directory never disagree about who someone is.
    pub fn parse(s: &str) -> Result<Self, InvalidUsername> {
        if s.is_empty() || s.len() > 64 {
            return Err(InvalidUsername::Length);
        }
        if !s.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b'-' | b'/')) {
            return Err(InvalidUsername::Character);
        }
        if s.starts_with(crate::role::ROLE_USERNAME_PREFIX)
            || s.starts_with(crate::integration::INTEGRATION_USERNAME_PREFIX)
            || s == SERVER_USERNAME
        {
            return Err(InvalidUsername::Reserved);
        }
        Ok(Self(s.to_owned()))
    }

    /// The username as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = InvalidUsername;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> Self {
        u.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A member of staff with an account on this server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// `@username:server`.
    pub user_id: OwnedUserId,
    /// The name shown to colleagues.
    pub display_name: Option<String>,
    /// `mxc://` URI of the profile picture.
    pub avatar_url: Option<String>,
    /// May use the administration API and tools.
    pub is_admin: bool,
    /// Signed in with a one-time password: must set their own before doing anything else.
    pub must_change_password: bool,
    /// Deactivated accounts cannot sign in and have no sessions.
    pub deactivated: bool,
    /// Job title, shown in the directory ("Staff Nurse").
    pub job_title: Option<String>,
    /// Department or ward, shown in the directory.
    pub department: Option<String>,
    /// Work e-mail: visible to administrators only.
    pub email: Option<String>,
    /// Phone number: visible to administrators only.
    pub phone: Option<String>,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When it last signed in with its password (none: never).
    #[serde(default)]
    pub last_sign_in: Option<Timestamp>,
    /// May send broadcasts to a department, a role group or the whole organisation: a
    /// permission an administrator grants (administrators do not have it by being one).
    #[serde(default)]
    pub may_broadcast: bool,
}

/// An account to be created.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// `@username:server`, built from a validated [`Username`].
    pub user_id: OwnedUserId,
    /// The argon2id PHC string of the password.
    pub password_hash: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Administrator?
    pub is_admin: bool,
    /// Must change the password at first sign-in.
    pub must_change_password: bool,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// Changes to an existing account's directory entry; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct AccountUpdate {
    /// New display name.
    pub display_name: Option<String>,
    /// New job title.
    pub job_title: Option<String>,
    /// New department.
    pub department: Option<String>,
    /// New e-mail.
    pub email: Option<String>,
    /// New phone.
    pub phone: Option<String>,
    /// New password hash, with whether it must be changed at next sign-in.
    pub password: Option<(String, bool)>,
    /// Grant or withdraw administration rights.
    pub is_admin: Option<bool>,
    /// Grant or withdraw the permission to broadcast.
    pub may_broadcast: Option<bool>,
}

/// A signed-in device (one per session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Owner.
    pub user_id: OwnedUserId,
    /// Device id.
    pub device_id: OwnedDeviceId,
    /// Name the user gave it.
    pub display_name: Option<String>,
    /// Last request seen from it.
    pub last_seen_ts: Option<Timestamp>,
    /// Address of that request.
    pub last_seen_ip: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_validated() {
        assert!(Username::parse("nurse.jones").is_ok());
        assert!(Username::parse("a-b_c=d/e9").is_ok());
        assert_eq!(Username::parse(""), Err(InvalidUsername::Length));
        assert_eq!(Username::parse(&"a".repeat(65)), Err(InvalidUsername::Length));
        assert_eq!(Username::parse("Alice"), Err(InvalidUsername::Character));
        assert_eq!(Username::parse("al ice"), Err(InvalidUsername::Character));
        assert_eq!(Username::parse("al@ice"), Err(InvalidUsername::Character));
        assert_eq!(Username::parse("role.med-reg"), Err(InvalidUsername::Reserved));
        assert_eq!(Username::parse("role."), Err(InvalidUsername::Reserved));
        assert_eq!(Username::parse("wardline"), Err(InvalidUsername::Reserved));
        assert_eq!(Username::parse("integration.nursecall"), Err(InvalidUsername::Reserved));
        assert_eq!(Username::parse("integration."), Err(InvalidUsername::Reserved));
        assert!(Username::parse("integrations").is_ok(), "only the prefix with its dot is reserved");
        assert!(Username::parse("wardline.admin").is_ok());
        let system = ruma::user_id!("@integration.nursecall:h");
        assert!(is_service_user(system) && !is_server_or_role(system), "a system reads nothing, but is no server");
        assert!(is_server_or_role(ruma::user_id!("@wardline:h")) && is_server_or_role(ruma::user_id!("@role.reg:h")));
        assert!(!is_service_user(ruma::user_id!("@ann:h")) && !is_server_or_role(ruma::user_id!("@ann:h")));
        assert!(Username::parse("roles").is_ok() && Username::parse("rolex.y").is_ok());
    }
}
