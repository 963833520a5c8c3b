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
    /// Where its MLLP listener takes PCD-05 Report Alert Status (`ORA^R41^ORA_R41`):
    /// `host:port`, which must be listed in `hl7.status_addresses`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_address: Option<String>,
    /// Send it the status of the alarms it raised over HL7 (to [`Self::status_address`]).
    #[serde(default)]
    pub report_status: bool,
    /// The SHA-256 of the client certificate it must present over MLLP with TLS (64 hex
    /// digits): set, its messages are taken only over a TLS connection with exactly that
    /// certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_sha256: Option<String>,
}

/// Longest [`Hl7Binding::status_address`].
pub const MAX_STATUS_ADDRESS_CHARS: usize = 255;

/// A `host:port` address: its host (a name, an IPv4 address, or `[v6]`) and port, lowercased.
/// `None` for what is not one.
#[must_use]
pub fn host_port(address: &str) -> Option<(String, u16)> {
    if address.is_empty() || address.len() > MAX_STATUS_ADDRESS_CHARS {
        return None;
    }
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    let host = host.to_ascii_lowercase();
    let bracketed = host.starts_with('[') && host.ends_with(']');
    let ok = if bracketed {
        host.get(1..host.len() - 1).is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && !host.starts_with(['.', '-'])
    };
    ok.then_some((host, port))
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
    /// `status_address` is not `host:port`.
    #[error("status_address is host:port (a name, an IPv4 address or [IPv6], and a port)")]
    BadStatusAddress,
    /// `report_status` without a `status_address`.
    #[error("report_status needs a status_address to send to")]
    NoStatusAddress,
    /// `client_cert_sha256` is not 64 hex digits.
    #[error("client_cert_sha256 is the certificate's SHA-256 as 64 hex digits")]
    BadCertPin,
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
        if self.status_address.as_deref().is_some_and(|a| host_port(a).is_none()) {
            return Err(BindingError::BadStatusAddress);
        }
        if self.report_status && self.status_address.is_none() {
            return Err(BindingError::NoStatusAddress);
        }
        if self
            .client_cert_sha256
            .as_deref()
            .is_some_and(|p| p.len() != 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(BindingError::BadCertPin);
        }
        Ok(())
    }

    /// The binding as kept: its certificate pin in lower case, without `:` separators.
    #[must_use]
    pub fn normalised(mut self) -> Self {
        if let Some(p) = &mut self.client_cert_sha256 {
            *p = p.replace(':', "").to_ascii_lowercase();
        }
        self
    }

    /// Does a connection that presented a certificate with this SHA-256 (`None`: no TLS client
    /// certificate) meet the binding's pin? Without a pin, any connection does.
    #[must_use]
    pub fn cert_matches(&self, presented: Option<&[u8; 32]>) -> bool {
        match (&self.client_cert_sha256, presented) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(pin), Some(hash)) => {
                let want = pin.to_ascii_lowercase();
                let got: String = hash.iter().map(|b| format!("{b:02x}")).collect();
                // Not secret (a certificate is public): a plain comparison is fine.
                want == got
            }
        }
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
            status_address: None,
            report_status: false,
            client_cert_sha256: None,
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
    fn a_status_address_is_host_and_port_and_reporting_needs_one() {
        assert_eq!(host_port("Reporter.Ward7.example:2576"), Some(("reporter.ward7.example".into(), 2576)));
        assert_eq!(host_port("10.0.0.5:2575"), Some(("10.0.0.5".into(), 2575)));
        assert_eq!(host_port("[::1]:2575"), Some(("[::1]".into(), 2575)));
        for bad in [
            "",
            "host",
            "host:",
            "host:0",
            "host:70000",
            ":2575",
            "ho st:1",
            "a/b:1",
            "[zz]:1",
            "::1:2575",
            "user@host:1",
            ".x:1",
        ] {
            assert_eq!(host_port(bad), None, "{bad:?}");
        }
        let mut b = binding(&["10.0.0.0/8"]);
        b.report_status = true;
        assert_eq!(b.check(), Err(BindingError::NoStatusAddress));
        b.status_address = Some("no port".into());
        assert_eq!(b.check(), Err(BindingError::BadStatusAddress));
        b.status_address = Some("reporter.example:2576".into());
        b.check().unwrap();
    }

    #[test]
    fn a_pinned_binding_takes_only_the_certificate_it_names() {
        let hash = [0xabu8; 32];
        let mut b = binding(&["10.0.0.0/8"]);
        assert!(b.cert_matches(None) && b.cert_matches(Some(&hash)), "no pin: any connection");
        b.client_cert_sha256 = Some("AB:".repeat(32).trim_end_matches(':').to_owned());
        let b = b.normalised();
        b.check().unwrap();
        assert!(b.cert_matches(Some(&hash)));
        assert!(!b.cert_matches(Some(&[0xacu8; 32])), "another certificate");
        assert!(!b.cert_matches(None), "plain TCP, or TLS without a certificate");
        for bad in ["ab", &"g".repeat(64), &"a".repeat(65)] {
            let mut p = binding(&["10.0.0.0/8"]);
            p.client_cert_sha256 = Some(bad.to_owned());
            assert_eq!(p.check(), Err(BindingError::BadCertPin), "{bad}");
        }
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
