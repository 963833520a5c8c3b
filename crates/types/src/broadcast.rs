//! Broadcasts: one message from an authorised sender to a department, a group of roles' holders
//! or the whole organisation, optionally asking each recipient to acknowledge it.
//!
//! A broadcast lives in a conversation of its own whose members are its recipients (seated at
//! once, no invitation to accept). The conversation carries the state event
//! [`BROADCAST`] (state key `""`): `{"sender", "audience", "title", "level", "acknowledge"}`,
//! and the broadcast message is an ordinary `m.room.message` (stock clients show it) with the
//! same block under [`BROADCAST`]; when it asks for acknowledgement it also carries
//! `org.wardline.ask` with the one option *Acknowledge*, so the priority rules and the status
//! rule count answers as for any message that asks (a 👍 reaction acknowledges).
//!
//! Pure rules only: the audience, the title, and who may post in such a conversation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The state event type of a broadcast conversation, and the block of its message.
pub const BROADCAST: &str = "org.wardline.broadcast";

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 80;
/// Most roles in one role-group audience.
pub const MAX_ROLES: usize = 20;

/// Who a broadcast goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Audience {
    /// Every active account.
    Organisation,
    /// The active accounts of one department (as the directory names it, case-insensitively).
    Department {
        /// The department.
        department: String,
    },
    /// The holders now of one or more roles.
    Role {
        /// The roles' ids.
        roles: Vec<String>,
    },
}

/// Why an audience or title is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BroadcastError {
    /// The audience names nothing, or too much.
    #[error("audience: {0}")]
    BadAudience(String),
    /// The title is empty, too long or not one line.
    #[error("the title is 1 to 80 characters on one line")]
    BadTitle,
}

impl Audience {
    /// Checks the audience's own shape (not whether anyone is in it).
    ///
    /// # Errors
    /// An empty department, no roles or too many.
    pub fn check(&self) -> Result<(), BroadcastError> {
        match self {
            Self::Organisation => Ok(()),
            Self::Department { department } if department.trim().is_empty() => {
                Err(BroadcastError::BadAudience("name a department".into()))
            }
            Self::Department { .. } => Ok(()),
            Self::Role { roles } if roles.is_empty() => {
                Err(BroadcastError::BadAudience("name at least one role".into()))
            }
            Self::Role { roles } if roles.len() > MAX_ROLES => {
                Err(BroadcastError::BadAudience(format!("at most {MAX_ROLES} roles")))
            }
            Self::Role { .. } => Ok(()),
        }
    }

    /// A short description for people ("the whole organisation", "Cardiology").
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Organisation => "the whole organisation".into(),
            Self::Department { department } => department.trim().to_owned(),
            Self::Role { roles } => roles.join(", "),
        }
    }

    /// How the audit trail names it (`organisation`, `department:Cardiology`, `role:a,b`).
    #[must_use]
    pub fn audit_name(&self) -> String {
        match self {
            Self::Organisation => "organisation".into(),
            Self::Department { department } => format!("department:{}", department.trim()),
            Self::Role { roles } => format!("role:{}", roles.join(",")),
        }
    }
}

/// Checks a title: 1 to [`MAX_TITLE_CHARS`] characters, no control characters.
///
/// # Errors
/// [`BroadcastError::BadTitle`].
pub fn check_title(title: &str) -> Result<(), BroadcastError> {
    let n = title.trim().chars().count();
    if n == 0 || n > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(BroadcastError::BadTitle);
    }
    Ok(())
}

/// The sender named by a broadcast conversation's state event content, if it is one.
#[must_use]
pub fn sender_of(state_content: &Value) -> Option<&str> {
    state_content.get("sender").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audiences_parse_and_check() {
        let a: Audience = serde_json::from_value(json!({"kind": "department", "department": "Cardiology"})).unwrap();
        assert_eq!(a, Audience::Department { department: "Cardiology".into() });
        assert!(a.check().is_ok());
        let o: Audience = serde_json::from_value(json!({"kind": "organisation"})).unwrap();
        assert_eq!(o.audit_name(), "organisation");
        assert!(serde_json::from_value::<Audience>(json!({"kind": "everyone"})).is_err());
        assert!(Audience::Department { department: " ".into() }.check().is_err());
        assert!(Audience::Role { roles: vec![] }.check().is_err());
        assert!(Audience::Role { roles: vec!["x".into(); 21] }.check().is_err());
        assert!(check_title("Fire drill at 14:00").is_ok());
        assert!(check_title("").is_err() && check_title("a\nb").is_err() && check_title(&"x".repeat(81)).is_err());
    }
}
