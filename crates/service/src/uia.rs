//! User-interactive authentication: re-entering the password before sensitive actions
//! (changing it, removing devices).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rand::Rng;
use rand::distributions::Alphanumeric;

/// The password stage.
pub const PASSWORD_STAGE: &str = "m.login.password";
/// The second-factor stage at sign-in: a code from an authenticator app.
pub const TOTP_STAGE: &str = "org.wardline.login.totp";
/// The fallback second factor: a single-use recovery code.
pub const RECOVERY_STAGE: &str = "org.wardline.login.recovery_code";

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

/// Outstanding UIA sessions (so a client can't invent one).
#[derive(Debug, Default, Clone)]
pub struct UiaSessions {
    open: Arc<Mutex<HashSet<String>>>,
}

impl UiaSessions {
    /// A fresh challenge with a new session.
    #[must_use]
    pub fn challenge(&self, error: Option<String>) -> UiaChallenge {
        let session: String = rand::thread_rng().sample_iter(&Alphanumeric).take(24).map(char::from).collect();
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.len() > 10_000 {
            open.clear();
        }
        open.insert(session.clone());
        UiaChallenge { session, completed: vec![], error }
    }

    /// Ends a session once its action is done.
    pub fn finish(&self, session: Option<&str>) {
        if let Some(s) = session {
            self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(s);
        }
    }
}
