//! Where reports to hospital systems may go: the one check every webhook URL passes, when a
//! system sets it and again before each send (the configuration may have changed since).
//!
//! A webhook's URL is chosen by whoever holds the system's key, so without this a leaked key
//! could make the server post into any address it can reach (server-side request forgery into
//! the hospital's network). A webhook must be `https://` on a host of
//! `integrations.webhook_hosts` (exactly, or under a `*.domain`), on port 443 unless the entry
//! names another (`host:8443`), with no user name or password in it; with
//! `integrations.allow_loopback_http`, for tests, also `http://` on a listed loopback address,
//! any port. Hosts are matched by the rule push services are (`push/address.rs`), and
//! redirects are never followed (`push/transport.rs`), so a listed host cannot bounce a report
//! elsewhere.

use std::net::IpAddr;

use reqwest::Url;

use crate::ServiceError;
use crate::config::IntegrationSettings;
use crate::push::address::host_matches;

/// Longest webhook URL accepted.
pub const MAX_URL_BYTES: usize = 2048;

/// The webhook hosts allowed by the configuration.
#[derive(Debug, Clone)]
pub struct WebhookHosts {
    /// Each entry's host pattern, and the port it names (`None`: 443 only).
    hosts: Vec<(String, Option<u16>)>,
    loopback_http: bool,
}

/// An entry of `integrations.webhook_hosts`: `host`, `*.domain`, `1.2.3.4`, `[::1]`, each
/// optionally with `:port`.
fn entry(raw: &str) -> (String, Option<u16>) {
    let e = raw.trim().to_ascii_lowercase();
    if let Some((host, port)) = e.rsplit_once(':')
        && (!host.contains(':') || host.ends_with(']'))
        && let Ok(p) = port.parse::<u16>()
    {
        return (host.to_owned(), Some(p));
    }
    (e, None)
}

impl WebhookHosts {
    /// The hosts listed in `integrations.webhook_hosts`.
    #[must_use]
    pub fn new(settings: &IntegrationSettings) -> Self {
        Self {
            hosts: settings.webhook_hosts.iter().map(|h| entry(h)).collect(),
            loopback_http: settings.allow_loopback_http,
        }
    }

    /// May reports go to this URL?
    ///
    /// # Errors
    /// [`ServiceError::InvalidParam`] for what is not an `http(s)` URL or carries a user name or
    /// password; [`ServiceError::HostNotAllowed`] for a host not listed (naming the setting),
    /// plain `http://`, or a loopback address without the test setting.
    pub fn check(&self, url: &str) -> Result<Url, ServiceError> {
        if url.len() > MAX_URL_BYTES {
            return Err(ServiceError::invalid(format!("url: at most {MAX_URL_BYTES} bytes")));
        }
        let parsed = Url::parse(url).map_err(|_| ServiceError::invalid("url is not a URL"))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(ServiceError::invalid("url must be an https:// URL"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ServiceError::invalid("url must not carry a user name or password"));
        }
        let Some(host) = parsed.host_str().map(str::to_ascii_lowercase) else {
            return Err(ServiceError::invalid("url has no host"));
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback_test = self.loopback_http && bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if parsed.scheme() == "http" && !loopback_test {
            return Err(ServiceError::HostNotAllowed("a webhook must be an https:// URL".into()));
        }
        if self.hosts.is_empty() {
            return Err(ServiceError::HostNotAllowed(
                "this server sends no webhooks: its administrator has listed no hosts in the setting \
                 integrations.webhook_hosts"
                    .into(),
            ));
        }
        let port = parsed.port_or_known_default().unwrap_or(443);
        let listed = |(h, p): &(String, Option<u16>)| {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            (host_matches(h, &host) || host_matches(h, bare))
                && match p {
                    Some(p) => *p == port,
                    // (Tests' loopback receivers listen on any port.)
                    None => port == 443 || loopback_test,
                }
        };
        if !self.hosts.iter().any(listed) {
            return Err(ServiceError::HostNotAllowed(format!(
                "this server sends no webhooks to {host} on port {port} (the setting integrations.webhook_hosts \
                 lists the hosts it does, on port 443 unless an entry names another)"
            )));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hosts(list: &[&str], loopback: bool) -> WebhookHosts {
        WebhookHosts::new(&IntegrationSettings {
            webhook_hosts: list.iter().map(|s| (*s).to_owned()).collect(),
            allow_loopback_http: loopback,
            ..IntegrationSettings::default()
        })
    }

    fn refused(h: &WebhookHosts, url: &str) -> bool {
        matches!(h.check(url), Err(ServiceError::HostNotAllowed(_)))
    }

    #[test]
    fn only_https_to_listed_hosts_any_port() {
        let h = hosts(&["nursecall.stmarys.example", "*.trust.example"], false);
        assert!(h.check("https://nursecall.stmarys.example/hooks/wardline").is_ok());
        assert!(h.check("https://NurseCall.StMarys.example:443/hooks?tenant=7").is_ok(), "case, port, query");
        assert!(refused(&h, "https://nursecall.stmarys.example:8443/hooks"), "another port only if listed");
        assert!(refused(&h, "https://admin.ward7.trust.example:8080/"), "not any port under the domain");
        let ported = hosts(&["pager.example:8443", "[::1]:9443"], false);
        assert!(ported.check("https://pager.example:8443/in").is_ok());
        assert!(refused(&ported, "https://pager.example/in"), "the port it names only");
        assert!(ported.check("https://[::1]:9443/in").is_ok());
        assert!(h.check("https://pager.ward7.trust.example/in").is_ok(), "under the domain");
        for bad in [
            "https://trust.example/in",
            "https://eviltrust.example/in",
            "https://nursecall.stmarys.example.evil.example/hooks",
            "https://10.0.0.5/hooks",
            "https://169.254.169.254/latest/meta-data",
            "http://nursecall.stmarys.example/hooks",
            "http://127.0.0.1:9000/hooks",
        ] {
            assert!(refused(&h, bad), "{bad}");
        }
        for malformed in [
            "not a url",
            "ftp://nursecall.stmarys.example/x",
            "file:///etc/passwd",
            "https://user:pw@nursecall.stmarys.example/hooks",
        ] {
            assert!(matches!(h.check(malformed), Err(ServiceError::InvalidParam(_))), "{malformed}");
        }
        let long = format!("https://nursecall.stmarys.example/{}", "a".repeat(MAX_URL_BYTES));
        assert!(matches!(h.check(&long), Err(ServiceError::InvalidParam(_))));
    }

    #[test]
    fn none_listed_none_allowed_and_the_refusal_names_the_setting() {
        let err = hosts(&[], false).check("https://nursecall.stmarys.example/hooks").unwrap_err().to_string();
        assert!(err.contains("integrations.webhook_hosts"), "{err}");
    }

    #[test]
    fn plain_http_only_on_a_listed_loopback_address_with_the_test_setting() {
        let test = hosts(&["127.0.0.1", "::1"], true);
        assert!(test.check("http://127.0.0.1:9000/hooks").is_ok());
        assert!(test.check("http://[::1]:9000/hooks").is_ok());
        assert!(refused(&test, "http://127.0.0.2:9000/hooks"), "listed exactly");
        assert!(refused(&test, "http://10.0.0.5/hooks"), "http only on loopback");
        let listed_but_no_setting = hosts(&["127.0.0.1"], false);
        assert!(refused(&listed_but_no_setting, "http://127.0.0.1:9000/hooks"));
        assert!(listed_but_no_setting.check("https://127.0.0.1/hooks").is_ok(), "https to a listed address");
        assert!(refused(&listed_but_no_setting, "https://127.0.0.1:9443/hooks"), "on 443 unless listed");
    }
}
