//! Where the server may send pushes: the one check every pusher's address passes, when it is
//! set and again before each send (the configuration may have changed since).
//!
//! A pusher's URL is chosen by whoever signs in, so without this a member of staff could make
//! the server post to any address it can reach (server-side request forgery into the hospital's
//! network). Gateways must be listed exactly in `push.gateway_urls` (port included: an odd port
//! on a listed host is allowed only if the listed URL names it); Web Push endpoints must be
//! `https://` on port 443 of a host of `push.webpush_hosts` (with `push.allow_loopback_http`,
//! for tests, also `http://` or another port on a loopback address). Redirects are never
//! followed (see `transport.rs`), so a listed host cannot bounce a push elsewhere.

use std::net::IpAddr;

use reqwest::Url;

use crate::ServiceError;
use crate::config::PushSettings;

/// The path every push gateway URL ends in (the Push Gateway API).
pub const NOTIFY_PATH: &str = "/_matrix/push/v1/notify";

/// The addresses allowed by the configuration.
#[derive(Debug, Clone)]
pub struct Allowed {
    gateways: Vec<String>,
    webpush_hosts: Vec<String>,
    loopback_http: bool,
}

impl Allowed {
    /// The allowed addresses; a listed gateway that is not a push gateway URL is refused.
    ///
    /// # Errors
    /// [`ServiceError::InvalidParam`] naming the setting and the entry.
    pub fn new(push: &PushSettings) -> Result<Self, ServiceError> {
        for g in &push.gateway_urls {
            let ok = Url::parse(g).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !ok || !g.ends_with(NOTIFY_PATH) {
                return Err(ServiceError::invalid(format!(
                    "push.gateway_urls: {g:?} is not an http(s) URL ending in {NOTIFY_PATH}"
                )));
            }
        }
        Ok(Self {
            gateways: push.gateway_urls.clone(),
            webpush_hosts: push.webpush_hosts.iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
            loopback_http: push.allow_loopback_http,
        })
    }

    /// May pushers use this push gateway?
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] saying which setting lists the allowed gateways.
    pub fn gateway(&self, url: &str) -> Result<(), ServiceError> {
        if self.gateways.is_empty() {
            return Err(ServiceError::forbidden(
                "this server sends no pushes to push gateways: its administrator has listed none in the setting \
                 push.gateway_urls",
            ));
        }
        if !url.ends_with(NOTIFY_PATH) {
            return Err(ServiceError::invalid(format!("a push gateway URL ends in {NOTIFY_PATH}")));
        }
        if !self.gateways.iter().any(|g| g == url) {
            return Err(ServiceError::forbidden(
                "that push gateway is not one this server sends to (the setting push.gateway_urls lists them)",
            ));
        }
        Ok(())
    }

    /// May pushes go to this Web Push endpoint?
    ///
    /// # Errors
    /// [`ServiceError::InvalidParam`] for what is not a URL, [`ServiceError::Forbidden`] for a
    /// push service not listed in `push.webpush_hosts`.
    pub fn webpush_endpoint(&self, endpoint: &str) -> Result<Url, ServiceError> {
        let url = Url::parse(endpoint).map_err(|_| ServiceError::invalid("data.url is not a URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ServiceError::invalid("data.url must not carry a user name or password"));
        }
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return Err(ServiceError::invalid("data.url has no host"));
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback_test = self.loopback_http && bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let scheme_ok = match url.scheme() {
            "https" => true,
            "http" => loopback_test,
            _ => false,
        };
        if !scheme_ok {
            return Err(ServiceError::forbidden("a Web Push endpoint must be an https:// URL"));
        }
        // Push services listen on 443; another port on their host is not the push service.
        if url.port_or_known_default() != Some(443) && !loopback_test {
            return Err(ServiceError::forbidden("a Web Push endpoint must be on port 443 (https://host/..., no port)"));
        }
        if !self.webpush_hosts.iter().any(|h| host_matches(h, &host)) {
            return Err(ServiceError::forbidden(
                "that Web Push service is not one this server sends to (the setting push.webpush_hosts lists them)",
            ));
        }
        Ok(url)
    }

    /// Is Web Push offered at all?
    #[must_use]
    pub fn webpush_enabled(&self) -> bool {
        !self.webpush_hosts.is_empty()
    }
}

/// `pattern` is a host, or `*.domain` for any host under the domain (not the domain itself).
/// The one rule for every list of outbound hosts (push services here, webhooks in
/// `integrations/address.rs`).
pub(crate) fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(domain) => host.strip_suffix(domain).is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn allowed(gateways: &[&str], loopback: bool) -> Allowed {
        let push = PushSettings {
            gateway_urls: gateways.iter().map(|s| (*s).to_owned()).collect(),
            allow_loopback_http: loopback,
            ..PushSettings::default()
        };
        Allowed::new(&push).unwrap()
    }

    #[test]
    fn gateways_only_when_listed_exactly() {
        let none = allowed(&[], false);
        let err = none.gateway("https://push.example/_matrix/push/v1/notify").unwrap_err().to_string();
        assert!(err.contains("push.gateway_urls"), "{err}");
        let one = allowed(&["https://push.example/_matrix/push/v1/notify"], false);
        assert!(one.gateway("https://push.example/_matrix/push/v1/notify").is_ok());
        for bad in [
            "https://push.example/_matrix/push/v1/notify?x=1",
            "https://push.example:8443/_matrix/push/v1/notify",
            "http://10.0.0.5/_matrix/push/v1/notify",
            "http://169.254.169.254/latest/meta-data",
            "https://push.example/_matrix/push/v1/notify/../../admin",
        ] {
            assert!(one.gateway(bad).is_err(), "{bad}");
        }
        let push = PushSettings { gateway_urls: vec!["https://push.example/notify".into()], ..PushSettings::default() };
        assert!(Allowed::new(&push).is_err(), "a listed gateway must be a push gateway URL");
    }

    #[test]
    fn webpush_only_to_listed_push_services_over_https() {
        let a = allowed(&[], false);
        assert!(a.webpush_endpoint("https://fcm.googleapis.com/fcm/send/abc").is_ok());
        assert!(a.webpush_endpoint("https://wns2-par02p.notify.windows.com/w/?token=x").is_ok());
        for bad in [
            "http://fcm.googleapis.com/fcm/send/abc",
            "https://notify.windows.com/w",
            "https://evilnotify.windows.com/w",
            "https://fcm.googleapis.com.evil.example/x",
            "https://user:pw@fcm.googleapis.com/x",
            "https://10.0.0.5/x",
            "http://127.0.0.1:9000/x",
            "https://fcm.googleapis.com:8443/fcm/send/abc",
            "https://fcm.googleapis.com:80/fcm/send/abc",
            "https://fcm.googleapis.com:22/fcm/send/abc",
            "https://a.notify.windows.com:6379/w",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(a.webpush_endpoint(bad).is_err(), "{bad}");
        }
        assert!(a.webpush_endpoint("https://fcm.googleapis.com:443/fcm/send/abc").is_ok(), "443 named is 443");
        let mut push = PushSettings { allow_loopback_http: true, ..PushSettings::default() };
        push.webpush_hosts.push("127.0.0.1".into());
        let test = Allowed::new(&push).unwrap();
        assert!(test.webpush_endpoint("http://127.0.0.1:9000/x").is_ok());
        assert!(test.webpush_endpoint("https://127.0.0.1:9443/x").is_ok(), "any port on loopback, for tests");
        assert!(test.webpush_endpoint("http://10.0.0.5/x").is_err(), "http only on loopback");
        assert!(
            test.webpush_endpoint("https://fcm.googleapis.com:8443/x").is_err(),
            "the test setting opens no other port elsewhere"
        );
    }

    #[test]
    fn a_gateways_port_is_the_one_listed() {
        let listed = allowed(&["https://push.example/_matrix/push/v1/notify"], false);
        for odd in [
            "https://push.example:8443/_matrix/push/v1/notify",
            "https://push.example:443/_matrix/push/v1/notify",
            "http://push.example/_matrix/push/v1/notify",
            "https://PUSH.example/_matrix/push/v1/notify",
        ] {
            assert!(listed.gateway(odd).is_err(), "{odd}");
        }
        let with_port = allowed(&["https://push.example:8443/_matrix/push/v1/notify"], false);
        assert!(with_port.gateway("https://push.example:8443/_matrix/push/v1/notify").is_ok(), "named: allowed");
        assert!(with_port.gateway("https://push.example/_matrix/push/v1/notify").is_err());
        assert!(with_port.gateway("https://push.example:9443/_matrix/push/v1/notify").is_err());
    }
}
