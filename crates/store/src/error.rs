use thiserror::Error;

/// A storage failure.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The thing asked for doesn't exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (username taken, duplicate event id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed or is unreachable.
    #[error("storage backend failure: {0}")]
    Backend(String),
    /// Stored data could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database was written by a newer Wardline.
    #[error("database schema version {found} is newer than this Wardline understands ({known})")]
    SchemaTooNew {
        /// Version in the database.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// The database was written by an older Wardline and has not been upgraded yet (only the
    /// server upgrades it, when it starts).
    #[error("database schema version {found} is older than this Wardline's ({known}): start the server to upgrade it")]
    SchemaTooOld {
        /// Version in the database.
        found: i64,
        /// The version this build writes.
        known: i64,
    },
    /// A query was stopped before it finished: it ran past its time budget, or whoever asked
    /// for it has gone (a search whose client left).
    #[error("query stopped: {0}")]
    Interrupted(String),
    /// An audit record's stored values cannot be read back (changed outside Wardline).
    #[error("audit record {seq} cannot be read: {reason}")]
    UnreadableAuditRecord {
        /// Its position in the chain.
        seq: u64,
        /// What is wrong with it.
        reason: String,
    },
}
