//! Where PCD-05 alarm status (`ORA^R41^ORA_R41`, HL7 over MLLP) may be sent: the one check
//! every integration's `status_address` passes, when an administrator sets it and again before
//! each send (the configuration may have changed since).
//!
//! An HL7 binding's status address is typed by an administrator; without this an admin
//! account (or a mistake) could make the server open TCP connections to any host and port it
//! can reach inside the hospital's network. So a status address must be `host:port` listed in
//! `hl7.status_addresses` (exactly, or a `*.domain:port` entry covering the host), in the
//! spirit of `integrations.webhook_hosts` (`address.rs`): the operator who writes the
//! configuration decides where the server may connect, not whoever sets a binding.

use wardline_types::hl7_binding::host_port;

use crate::ServiceError;
use crate::config::Hl7Settings;
use crate::push::address::host_matches;

/// The status addresses allowed by the configuration.
#[derive(Debug, Clone, Default)]
pub struct StatusAddresses {
    /// Each entry's host pattern and port.
    entries: Vec<(String, u16)>,
}

impl StatusAddresses {
    /// The addresses listed in `hl7.status_addresses` (entries that are not `host:port` are
    /// left out, with a warning).
    #[must_use]
    pub fn new(settings: &Hl7Settings) -> Self {
        let mut entries = Vec::new();
        for raw in &settings.status_addresses {
            let raw = raw.trim();
            let (wild, rest) = match raw.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, raw),
            };
            match host_port(rest) {
                Some((host, port)) if wild => entries.push((format!("*.{host}"), port)),
                Some(entry) => entries.push(entry),
                None => tracing::warn!(entry = raw, "hl7.status_addresses: not host:port; left out"),
            }
        }
        Self { entries }
    }

    /// May status be sent to `address` (`host:port`)? Returns the host and port to connect to.
    ///
    /// # Errors
    /// [`ServiceError::InvalidParam`] for what is not `host:port`; [`ServiceError::HostNotAllowed`]
    /// for an address not listed (naming the setting).
    pub fn check(&self, address: &str) -> Result<(String, u16), ServiceError> {
        let Some((host, port)) = host_port(address) else {
            return Err(ServiceError::invalid("status_address is host:port"));
        };
        if self.entries.is_empty() {
            return Err(ServiceError::HostNotAllowed(
                "this server sends no HL7 status: its administrator has listed no addresses in the setting \
                 hl7.status_addresses"
                    .into(),
            ));
        }
        if !self.entries.iter().any(|(h, p)| *p == port && host_matches(h, &host)) {
            return Err(ServiceError::HostNotAllowed(format!(
                "this server sends no HL7 status to {host} on port {port} (the setting hl7.status_addresses lists \
                 the host:port addresses it does)"
            )));
        }
        Ok((host.trim_start_matches('[').trim_end_matches(']').to_owned(), port))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn listed(list: &[&str]) -> StatusAddresses {
        StatusAddresses::new(&Hl7Settings {
            status_addresses: list.iter().map(|s| (*s).to_owned()).collect(),
            ..Hl7Settings::default()
        })
    }

    fn refused(a: &StatusAddresses, address: &str) -> bool {
        matches!(a.check(address), Err(ServiceError::HostNotAllowed(_)))
    }

    #[test]
    fn only_listed_hosts_on_their_ports() {
        let a = listed(&["reporter.icu.example:2576", "*.trust.example:2575", "10.0.0.7:2575", "[::1]:2577", "junk"]);
        assert_eq!(a.check("Reporter.ICU.example:2576").unwrap(), ("reporter.icu.example".into(), 2576));
        assert_eq!(a.check("gw.ward7.trust.example:2575").unwrap(), ("gw.ward7.trust.example".into(), 2575));
        assert_eq!(a.check("[::1]:2577").unwrap(), ("::1".into(), 2577));
        assert!(a.check("10.0.0.7:2575").is_ok());
        for bad in [
            "reporter.icu.example:2575",
            "trust.example:2575",
            "eviltrust.example:2575",
            "gw.trust.example:22",
            "10.0.0.8:2575",
            "169.254.169.254:80",
            "127.0.0.1:2576",
        ] {
            assert!(refused(&a, bad), "{bad}");
        }
        assert!(matches!(a.check("no-port"), Err(ServiceError::InvalidParam(_))));
        let err = listed(&[]).check("reporter.icu.example:2576").unwrap_err().to_string();
        assert!(err.contains("hl7.status_addresses"), "{err}");
    }
}
