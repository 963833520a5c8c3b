//! Recently checked access tokens, so that a request does not read its session and account from
//! the database each time.
//!
//! **Invariant:** an entry is used only while the store reports no change to the user's account,
//! sessions or devices since just before the entry was read ([`wardline_store::Store::last_change`]
//! with [`ChangeTopic::Account`]), so a logout, password change or deactivation takes effect on the
//! very next request. Entries also age out after [`MAX_AGE`], which bounds how long a change made by
//! another process (the `wardline user` command on the same data directory) can go unseen.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use wardline_store::{ChangeTopic, Session, Store};
use wardline_types::{Account, Timestamp};

/// How long an entry may be used without reading the database again.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// More entries than this and the cache starts afresh (about 1 KiB each).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone)]
struct Entry {
    session: Session,
    account: Account,
    serial: u64,
    read_at: Timestamp,
}

/// Token hash → the session and account it stood for when last read.
#[derive(Debug, Default)]
pub(crate) struct AuthCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl AuthCache {
    /// The session and account for `token_hash`, if an entry is still good.
    pub fn get(&self, store: &dyn Store, token_hash: &str, now: Timestamp) -> Option<(Session, Account)> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(token_hash)?;
        let changed = store.last_change(&ChangeTopic::Account(entry.session.user_id.clone())).serial > entry.serial;
        if changed || now.millis_since(entry.read_at) >= MAX_AGE.as_millis() as u64 {
            entries.remove(token_hash);
            return None;
        }
        Some((entry.session.clone(), entry.account.clone()))
    }

    /// Remembers what was read for `token_hash`; `serial` is the store's commit serial taken
    /// before the reads.
    pub fn put(&self, token_hash: &str, session: &Session, account: &Account, serial: u64, now: Timestamp) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            token_hash.to_owned(),
            Entry { session: session.clone(), account: account.clone(), serial, read_at: now },
        );
    }
}
