//! What the audit trail and the log say about a name typed at sign-in that matches no account.
//!
//! People type passwords into the username field. Such a name is never recorded as typed:
//! it becomes `unknown:` and 16 hex digits of HMAC-SHA-256 under a key kept in the data
//! directory (`sign-in-names.key`, created `0600` on first use). The same name always gives
//! the same digest on one server, so investigators can still see that one name was tried
//! many times, and can test a suspected name with the key; without the key the digest says
//! nothing.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "sign-in-names.key";

/// Digests unknown names with the server's key.
#[derive(Clone)]
pub struct NameDigester {
    key: [u8; 32],
}

impl std::fmt::Debug for NameDigester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameDigester").finish_non_exhaustive()
    }
}

impl NameDigester {
    /// The key in `data_dir`, created if missing. A data directory that does not exist (a
    /// test, a command that opens no database) gets a key of its own for this process.
    #[must_use]
    pub fn open(data_dir: &Path) -> Self {
        if !data_dir.is_dir() {
            return Self::ephemeral();
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => match <[u8; 32]>::try_from(bytes.as_slice()) {
                Ok(key) => return Self { key },
                Err(_) => tracing::error!(path = %path.display(), "sign-in name key has the wrong length"),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match Self::create(&path) {
                Ok(me) => return me,
                // Another process may have created it in the meantime.
                Err(_) => {
                    if let Ok(Ok(key)) = std::fs::read(&path).map(|b| <[u8; 32]>::try_from(b.as_slice())) {
                        return Self { key };
                    }
                }
            },
            Err(e) => tracing::error!(path = %path.display(), error = %e, "cannot read the sign-in name key"),
        }
        tracing::warn!("unknown sign-in names are digested with a key for this run only");
        Self::ephemeral()
    }

    fn create(path: &Path) -> std::io::Result<Self> {
        let me = Self::ephemeral();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        file.write_all(&me.key)?;
        file.sync_all()?;
        Ok(me)
    }

    /// A random key for this process only.
    #[must_use]
    pub fn ephemeral() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Self { key }
    }

    /// `unknown:` and the first 16 hex digits of the name's HMAC.
    #[must_use]
    pub fn digest(&self, name: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return "unknown:-".into();
        };
        mac.update(name.as_bytes());
        let out = mac.finalize().into_bytes();
        let hex: String = out.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("unknown:{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_kept_and_names_never_show() {
        let dir = tempfile::tempdir().unwrap_or_else(|_| unreachable!());
        let a = NameDigester::open(dir.path());
        let b = NameDigester::open(dir.path());
        let d = a.digest("Hunter2IsMyPassword");
        assert_eq!(d, b.digest("Hunter2IsMyPassword"), "the same key after a restart");
        assert_ne!(d, a.digest("hunter2ismypassword2"));
        assert!(d.starts_with("unknown:") && !d.to_lowercase().contains("hunter"));
        assert_ne!(d, NameDigester::ephemeral().digest("Hunter2IsMyPassword"), "keyed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).map(|m| m.permissions().mode()).unwrap_or(0);
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
