//! User-interactive authentication: re-entering the password before sensitive actions
//! (changing it, removing devices).
//!
//! A UIA session is bound to the request it was started for: its method, path and body
//! (without `auth`). Quoting the session with any other request is refused, so a session begun
//! for removing one device can never remove another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};
use wardline_types::Timestamp;

/// The password stage.
pub const PASSWORD_STAGE: &str = "m.login.password";
/// The second-factor stage at sign-in: a code from an authenticator app.
pub const TOTP_STAGE: &str = "org.wardline.login.totp";
/// The fallback second factor: a single-use recovery code.
pub const RECOVERY_STAGE: &str = "org.wardline.login.recovery_code";

/// How long a UIA session stays open.
const OPEN_FOR: Duration = Duration::from_secs(15 * 60);
/// At most this many open sessions are kept (the oldest go first).
const MAX_OPEN: usize = 10_000;

/// A 401 response asking the client to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiaChallenge {
    /// The UIA session to quote back.
    pub session: String,
    /// Stages completed so far in this session.
    pub completed: Vec<String>,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
}

/// What a client sent in `auth`.
#[derive(Debug, Clone, Default)]
pub struct UiaAuth {
    /// The stage type.
    pub kind: String,
    /// The user named in the identifier (localpart or full id).
    pub user: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// The UIA session.
    pub session: Option<String>,
}

/// The request a UIA session is for: SHA-256 over its method, path and body without `auth`
/// (JSON objects with their keys sorted, so the same body in another key order is the same
/// request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiaOperation(String);

impl UiaOperation {
    /// The operation of a request.
    #[must_use]
    pub fn new(method: &str, path: &str, body: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"wardline uia v1\0");
        h.update(method.as_bytes());
        h.update(b"\0");
        h.update(path.as_bytes());
        h.update(b"\0");
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(mut value) => {
                if let Some(object) = value.as_object_mut() {
                    object.remove("auth");
                }
                let mut canonical = String::new();
                write_canonical(&value, &mut canonical);
                h.update(b"json\0");
                h.update(canonical.as_bytes());
            }
            Err(_) => {
                h.update(b"raw\0");
                h.update(body);
            }
        }
        Self(hex::encode(h.finalize()))
    }
}

/// JSON with object keys sorted, at every depth.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Why a quoted session cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionProblem {
    /// Never handed out, finished, or expired.
    Unknown,
    /// Started for another request.
    OtherRequest,
}

#[derive(Debug, Clone)]
struct Open {
    operation: UiaOperation,
    started: Timestamp,
}

/// Outstanding UIA sessions (so a client can't invent one), each with its request.
#[derive(Debug, Default, Clone)]
pub struct UiaSessions {
    open: Arc<Mutex<HashMap<String, Open>>>,
}

impl UiaSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Open>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A fresh challenge with a new session for `operation`.
    #[must_use]
    pub fn challenge(&self, operation: &UiaOperation, now: Timestamp, error: Option<String>) -> UiaChallenge {
        let session: String = rand::thread_rng().sample_iter(&Alphanumeric).take(24).map(char::from).collect();
        let mut open = self.lock();
        open.retain(|_, o| now.millis_since(o.started) < OPEN_FOR.as_millis() as u64);
        if open.len() >= MAX_OPEN {
            let oldest = open.iter().min_by_key(|(_, o)| o.started).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                open.remove(&k);
            }
        }
        open.insert(session.clone(), Open { operation: operation.clone(), started: now });
        UiaChallenge { session, completed: vec![], error }
    }

    /// Can `session` authenticate `operation` now?
    pub fn check(&self, session: &str, operation: &UiaOperation, now: Timestamp) -> Result<(), SessionProblem> {
        let open = self.lock();
        match open.get(session) {
            Some(o) if now.millis_since(o.started) >= OPEN_FOR.as_millis() as u64 => Err(SessionProblem::Unknown),
            Some(o) if o.operation != *operation => Err(SessionProblem::OtherRequest),
            Some(_) => Ok(()),
            None => Err(SessionProblem::Unknown),
        }
    }

    /// Ends a session once its action is done.
    pub fn finish(&self, session: Option<&str>) {
        if let Some(s) = session {
            self.lock().remove(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_serves_only_the_request_it_was_started_for() {
        let uia = UiaSessions::default();
        let now = Timestamp(1_000);
        let delete_a = UiaOperation::new("DELETE", "/_matrix/client/v3/devices/AAAA", b"{}");
        let delete_b = UiaOperation::new("DELETE", "/_matrix/client/v3/devices/BBBB", b"{}");
        let c = uia.challenge(&delete_a, now, None);
        assert_eq!(uia.check(&c.session, &delete_a, now), Ok(()));
        assert_eq!(uia.check(&c.session, &delete_b, now), Err(SessionProblem::OtherRequest));
        assert_eq!(uia.check("invented", &delete_a, now), Err(SessionProblem::Unknown));
        let later = Timestamp(1_000 + OPEN_FOR.as_millis() as u64);
        assert_eq!(uia.check(&c.session, &delete_a, later), Err(SessionProblem::Unknown), "expired");
        uia.finish(Some(&c.session));
        assert_eq!(uia.check(&c.session, &delete_a, now), Err(SessionProblem::Unknown), "used once");
    }

    #[test]
    fn the_body_counts_but_not_auth_nor_key_order() {
        let op = |body: &str| UiaOperation::new("POST", "/_matrix/client/v3/delete_devices", body.as_bytes());
        let base = op(r#"{"devices":["A"],"auth":{"type":"m.login.password","password":"x"}}"#);
        assert_eq!(base, op(r#"{"devices":["A"]}"#), "auth is not part of the request");
        assert_eq!(op(r#"{"a":1,"devices":["A"]}"#), op(r#"{"devices":["A"],"a":1}"#), "key order");
        assert_ne!(base, op(r#"{"devices":["B"]}"#));
        assert_ne!(base, op(r#"{"devices":["A","B"]}"#));
        assert_ne!(UiaOperation::new("POST", "/a", b"{}"), UiaOperation::new("PUT", "/a", b"{}"), "the method counts");
    }
}
