//! Integration accounts: the hospital systems that raise alarms (a nurse-call system, a fire
//! panel, a patient-monitoring gateway, the EPR), each with its own credentials and scopes.
//!
//! An integration has a stable id (a slug such as `nursecall-ascom`) and a Matrix user id
//! reserved for it, `@integration.<id>:<server>`, which its alarms will be sent as: no account may
//! ever take a username starting `integration.` ([`crate::Username::parse`] refuses it).
//!
//! An integration authenticates with an API key, `wlk_<key id>_<secret>`: the key id (12
//! base32 characters) names the key, the secret (32 random bytes, 43 characters of unpadded
//! base64url) proves it. Only the secret's SHA-256 is stored, as for access tokens, and the key
//! is shown once, when it is made.

use std::fmt;

use ruma::OwnedUserId;
use serde::{Deserialize, Serialize};

/// Usernames starting with this are reserved for integrations' Matrix user ids.
pub const INTEGRATION_USERNAME_PREFIX: &str = "integration.";

/// Longest integration id.
pub const MAX_INTEGRATION_ID: usize = 32;

/// What starts every API key.
pub const API_KEY_PREFIX: &str = "wlk_";
/// Characters in a key id.
pub const KEY_ID_CHARS: usize = 12;
/// Characters in a key's secret (32 bytes, unpadded base64url).
pub const SECRET_CHARS: usize = 43;

/// An integration's stable id: lowercase letters, digits and `-`, 1 to 32 characters, starting
/// and ending with a letter or digit (`nursecall-ascom`). Never reused for another system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IntegrationId(String);

/// Why an integration id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an integration id has 1 to 32 lowercase letters, digits and -, starting and ending with a letter or digit")]
pub struct InvalidIntegrationId;

impl IntegrationId {
    /// Validates `s` as an integration id.
    pub fn parse(s: &str) -> Result<Self, InvalidIntegrationId> {
        let ok = !s.is_empty()
            && s.len() <= MAX_INTEGRATION_ID
            && s.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidIntegrationId) }
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The localpart of the Matrix user id reserved for the integration: `integration.<id>`.
    #[must_use]
    pub fn localpart(&self) -> String {
        format!("{INTEGRATION_USERNAME_PREFIX}{}", self.0)
    }

    /// The integration's Matrix user id on `server`, if the server name makes a valid one.
    #[must_use]
    pub fn user_id(&self, server: &ruma::ServerName) -> Option<OwnedUserId> {
        OwnedUserId::try_from(format!("@{}:{server}", self.localpart())).ok()
    }

    /// The integration whose reserved Matrix user id `user` is (`@integration.<id>:…`).
    #[must_use]
    pub fn of_user(user: &ruma::UserId) -> Option<Self> {
        user.localpart().strip_prefix(INTEGRATION_USERNAME_PREFIX).and_then(|id| Self::parse(id).ok())
    }
}

impl TryFrom<String> for IntegrationId {
    type Error = InvalidIntegrationId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<IntegrationId> for String {
    fn from(id: IntegrationId) -> Self {
        id.0
    }
}

impl fmt::Display for IntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Is `user` an integration's reserved user id (whatever the rest of it)?
#[must_use]
pub fn is_integration_user(user: &ruma::UserId) -> bool {
    user.localpart().starts_with(INTEGRATION_USERNAME_PREFIX)
}

/// What an integration may do. Each endpoint of the integration API names the one it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IntegrationScope {
    /// Raise, update, cancel and reset alarms over HTTP.
    #[serde(rename = "alarms.write")]
    AlarmsWrite,
    /// Read its own alarms and their status.
    #[serde(rename = "alarms.read")]
    AlarmsRead,
    /// Register the webhook that status changes go back to.
    #[serde(rename = "webhook.manage")]
    WebhookManage,
    /// Report alarms over HL7 v2 (IHE PCD `ORU^R40`).
    #[serde(rename = "hl7.alarms")]
    Hl7Alarms,
    /// Keep patients' wards and beds current over HL7 v2 ADT.
    #[serde(rename = "hl7.adt")]
    Hl7Adt,
    /// Send observation results (`ORU^R01`, a NEWS2 score) that drive clinical alerts.
    #[serde(rename = "hl7.observations")]
    Hl7Observations,
    /// Page over WCTP 1.3.
    #[serde(rename = "wctp")]
    Wctp,
}

impl IntegrationScope {
    /// Every scope.
    pub const ALL: [Self; 7] = [
        Self::AlarmsWrite,
        Self::AlarmsRead,
        Self::WebhookManage,
        Self::Hl7Alarms,
        Self::Hl7Adt,
        Self::Hl7Observations,
        Self::Wctp,
    ];

    /// The stable name, as stored and as the API and command line spell it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::AlarmsWrite => "alarms.write",
            Self::AlarmsRead => "alarms.read",
            Self::WebhookManage => "webhook.manage",
            Self::Hl7Alarms => "hl7.alarms",
            Self::Hl7Adt => "hl7.adt",
            Self::Hl7Observations => "hl7.observations",
            Self::Wctp => "wctp",
        }
    }

    /// The scope with this name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for IntegrationScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An API key as presented: which key, and the secret that proves it. The secret never appears
/// in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id (12 characters of lowercase base32), stored as it is.
    pub key_id: String,
    /// The secret (43 characters of unpadded base64url), stored only as its SHA-256.
    pub secret: String,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// Is `s` a key id: [`KEY_ID_CHARS`] characters of lowercase base32 (`a-z`, `2-7`)?
#[must_use]
pub fn is_key_id(s: &str) -> bool {
    s.len() == KEY_ID_CHARS && s.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'))
}

impl ApiKey {
    /// Reads a key written as `wlk_<key id>_<secret>`; `None` for anything else (an access
    /// token among them).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix(API_KEY_PREFIX)?;
        let key_id = rest.get(..KEY_ID_CHARS)?;
        let secret = rest.get(KEY_ID_CHARS..)?.strip_prefix('_')?;
        let secret_ok =
            secret.len() == SECRET_CHARS && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (is_key_id(key_id) && secret_ok).then(|| Self { key_id: key_id.to_owned(), secret: secret.to_owned() })
    }

    /// The key as the integration presents it: `wlk_<key id>_<secret>`.
    #[must_use]
    pub fn expose(&self) -> String {
        format!("{API_KEY_PREFIX}{}_{}", self.key_id, self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_slugs_with_a_reserved_user_id() {
        let id = IntegrationId::parse("nursecall-ascom").unwrap();
        assert_eq!(id.localpart(), "integration.nursecall-ascom");
        let user = id.user_id(ruma::server_name!("localhost")).unwrap();
        assert_eq!(user.as_str(), "@integration.nursecall-ascom:localhost");
        assert_eq!(IntegrationId::of_user(&user), Some(id));
        assert!(is_integration_user(&user));
        assert!(!is_integration_user(ruma::user_id!("@ada:localhost")));
        for bad in ["", "-a", "a-", "Fire", "fire panel", "a.b", &"x".repeat(33)] {
            assert!(IntegrationId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(IntegrationId::parse(&"x".repeat(32)).is_ok());
    }

    #[test]
    fn scopes_have_stable_names() {
        for s in IntegrationScope::ALL {
            assert_eq!(IntegrationScope::parse(s.name()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.name()));
        }
        assert_eq!(IntegrationScope::parse("alarms"), None);
    }

    #[test]
    fn keys_parse_only_in_their_one_shape() {
        let secret = "A".repeat(42) + "_";
        let text = format!("wlk_abcdefgh2345_{secret}");
        let key = ApiKey::parse(&text).unwrap();
        assert_eq!(key.key_id, "abcdefgh2345");
        assert_eq!(key.secret, secret);
        assert_eq!(key.expose(), text);
        assert!(!format!("{key:?}").contains(&secret), "the secret is not in Debug output");
        let s43 = "b".repeat(43);
        for bad in [
            String::new(),
            "wl_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJK".to_owned(),
            format!("wlk_abcdefgh234_{s43}"),
            format!("wlk_abcdefgh2345{s43}"),
            format!("wlk_abcdefgh2345_{}", "b".repeat(42)),
            format!("wlk_abcdefgh2345_{}", "b".repeat(44)),
            format!("wlk_ABCDEFGH2345_{s43}"),
            format!("wlk_abcdefgh2349_{s43}"),
            format!("wlk_abcdefgh2345_{}+", "b".repeat(42)),
            format!("wlk_abcdé fgh2345_{s43}"),
        ] {
            assert!(ApiKey::parse(&bad).is_none(), "{bad:?}");
        }
    }
}
