//! How an integration sends HL7 v2 over MLLP: the sender it is known by in every message's
//! header (`MSH-3` sending application, `MSH-4` sending facility), the addresses it may connect
//! from, whether it is a test system, the kind of alarm its reports raise, and how its alarm
//! reports (`ORU^R40`) are answered.
//!
//! A message is taken from an integration only when its `MSH-3`/`MSH-4` name the integration's
//! binding **and** it arrives from one of the binding's addresses (any address when none are
//! listed): a header is the sender's own claim, the connection's address is not.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::alarm::AlarmKind;

/// Longest `MSH-3`/`MSH-4` value a binding names, in characters.
pub const MAX_SENDER_CHARS: usize = 64;
/// Most address ranges one binding lists.
pub const MAX_ADDRESSES: usize = 32;

/// What an `ORU^R40` (IHE PCD-04 Report Alert) is answered with on its connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum R40Ack {
    /// `ACK^R40^ACK`: what IHE PCD TF-2 specifies (the default).
    #[default]
    Ack,
    /// `ORA^R41^ORA_R41` (`MSH MSA [ERR]`), for reporters that expect it as the reply.
    OraR41,
}

impl R40Ack {
    /// The stable name, as the API and the command line spell it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::OraR41 => "ora_r41",
        }
    }

    /// The value with this name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Ack, Self::OraR41].into_iter().find(|a| a.as_str() == name)
    }
}

/// An integration's HL7 v2 binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hl7Binding {
    /// `MSH-3` (its first component, the namespace id) of what it sends.
    pub sending_application: String,
    /// `MSH-4` (its first component) of what it sends; empty for a sender that leaves MSH-4
    /// empty (as IHE PCD's examples do).
    #[serde(default)]
    pub sending_facility: String,
    /// The addresses it may connect from (`"10.20.0.0/16"`, `"192.0.2.7/32"`); empty: any.
    #[serde(default)]
    pub allowed_addresses: Vec<IpNet>,
    /// A test system: messages with processing id `T` (training) or `D` (debugging) are taken
    /// from it as well as `P`.
    #[serde(default)]
    pub test: bool,
    /// The kind of alarm its reports raise.
    #[serde(default = "default_kind")]
    pub default_kind: AlarmKind,
    /// What its `ORU^R40` reports are answered with.
    #[serde(default)]
    pub r40_ack: R40Ack,
}

fn default_kind() -> AlarmKind {
    AlarmKind::Monitor
}

/// Why a binding was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// `sending_application` is blank, or it or `sending_facility` is too long, has spaces
    /// around it, or holds a character HL7 uses as a separator or a control character.
    #[error(
        "{0} is 1 to {MAX_SENDER_CHARS} characters, without spaces around it, control characters or HL7 separators (| ^ ~ \\ &)"
    )]
    BadSender(&'static str),
    /// Too many address ranges.
    #[error("allowed_addresses lists at most {MAX_ADDRESSES} ranges")]
    TooManyAddresses,
    /// No address ranges: a header is only the sender's claim, so where it may connect from
    /// must be said.
    #[error(
        "allowed_addresses: list the address ranges (CIDR) the system sends from; 0.0.0.0/0 and ::/0 allow any host, knowingly"
    )]
    NoAddresses,
}

fn sender_ok(s: &str) -> bool {
    let n = s.chars().count();
    n > 0
        && n <= MAX_SENDER_CHARS
        && s.trim() == s
        && !s.chars().any(|c| c.is_control() || matches!(c, '|' | '^' | '~' | '\\' | '&'))
}

impl Hl7Binding {
    /// Checks the binding's shape.
    ///
    /// # Errors
    /// The first part refused.
    pub fn check(&self) -> Result<(), BindingError> {
        if !sender_ok(&self.sending_application) {
            return Err(BindingError::BadSender("sending_application"));
        }
        if !self.sending_facility.is_empty() && !sender_ok(&self.sending_facility) {
            return Err(BindingError::BadSender("sending_facility"));
        }
        if self.allowed_addresses.len() > MAX_ADDRESSES {
            return Err(BindingError::TooManyAddresses);
        }
        if self.allowed_addresses.is_empty() {
            return Err(BindingError::NoAddresses);
        }
        Ok(())
    }

    /// May a connection from `ip` send as this integration?
    #[must_use]
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 @ std::net::IpAddr::V4(_) => v4,
        };
        self.allowed_addresses.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(addresses: &[&str]) -> Hl7Binding {
        Hl7Binding {
            sending_application: "NC_GATEWAY".into(),
            sending_facility: "WARD7".into(),
            allowed_addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            test: false,
            default_kind: AlarmKind::NurseCall,
            r40_ack: R40Ack::Ack,
        }
    }

    #[test]
    fn a_binding_allows_its_addresses_only() {
        assert!(!binding(&[]).allows("203.0.113.9".parse().unwrap()), "none listed: nobody");
        assert!(binding(&["0.0.0.0/0"]).allows("203.0.113.9".parse().unwrap()), "any, said so");
        let b = binding(&["10.20.0.0/16", "::1/128"]);
        assert!(b.allows("10.20.3.4".parse().unwrap()));
        assert!(b.allows("::ffff:10.20.3.4".parse().unwrap()), "an IPv4-mapped address is its IPv4 one");
        assert!(b.allows("::1".parse().unwrap()));
        assert!(!b.allows("10.21.0.1".parse().unwrap()));
        assert!(!b.allows("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn a_binding_is_checked_and_read_with_its_defaults() {
        binding(&["10.0.0.0/8"]).check().unwrap();
        assert_eq!(binding(&[]).check(), Err(BindingError::NoAddresses));
        for bad in ["", " NC", "NC|X", "NC^1", &"x".repeat(65), "a\rb"] {
            let mut b = binding(&["10.0.0.0/8"]);
            b.sending_application = bad.to_owned();
            assert_eq!(b.check(), Err(BindingError::BadSender("sending_application")), "{bad:?}");
        }
        let read: Hl7Binding =
            serde_json::from_str(r#"{"sending_application":"MON","sending_facility":"ICU"}"#).unwrap();
        assert_eq!((read.default_kind, read.r40_ack, read.test), (AlarmKind::Monitor, R40Ack::Ack, false));
        let b: Hl7Binding = serde_json::from_value(serde_json::json!({"sending_application":"MON",
            "sending_facility":"ICU","r40_ack":"ora_r41","allowed_addresses":["10.0.0.0/8"]}))
        .unwrap();
        assert_eq!(b.r40_ack, R40Ack::OraR41);
        assert_eq!(R40Ack::parse("ora_r41"), Some(R40Ack::OraR41));
        assert!(
            serde_json::from_str::<Hl7Binding>(r#"{"sending_application":"a","sending_facility":"b","x":1}"#).is_err()
        );
    }
}
