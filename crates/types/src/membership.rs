//! Room membership states.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The `membership` of an `m.room.member` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Membership {
    /// Invited, not yet joined.
    Invite,
    /// A member of the room.
    Join,
    /// Left, was kicked, or rejected an invite.
    Leave,
    /// Banned.
    Ban,
    /// Asked to join (unused: knocking is not offered).
    Knock,
}

impl Membership {
    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Join => "join",
            Self::Leave => "leave",
            Self::Ban => "ban",
            Self::Knock => "knock",
        }
    }
}

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A membership name that is not one of the five.
#[derive(Debug, thiserror::Error)]
#[error("unknown membership {0:?}")]
pub struct UnknownMembership(pub String);

impl FromStr for Membership {
    type Err = UnknownMembership;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "invite" => Self::Invite,
            "join" => Self::Join,
            "leave" => Self::Leave,
            "ban" => Self::Ban,
            "knock" => Self::Knock,
            other => return Err(UnknownMembership(other.to_owned())),
        })
    }
}
