//! The embedded SQLite implementation of Wardline's storage traits.
//!
//! One writer thread owns the only writable connection and commits in groups: every write
//! waiting when a transaction starts goes into it, each in its own savepoint, and all of them are
//! acknowledged after one `COMMIT` (one fsync). Reads use a small pool of read-only connections
//! on blocking threads. WAL mode lets readers run beside the writer.
//!
//! **Invariant:** a write is acknowledged only after its transaction committed with
//! `synchronous=FULL`, so an acknowledged event survives `kill -9` and power loss.

mod accounts;
mod audit;
mod deliveries;
mod media;
mod mfa;
mod migrations;
mod pool;
mod receipts;
mod relations;
mod rooms;
mod rows;
mod search;
mod sessions;
mod userdata;

use std::path::Path;
use std::sync::Arc;

use wardline_store::{ChangeMark, ChangeTopic, Store, StoreError};
use wardline_types::StreamPos;

pub use migrations::LATEST as SCHEMA_VERSION;
use pool::{Positions, ReaderPool, Writer};

/// Turns any displayable backend error into a [`StoreError::Backend`].
pub(crate) fn backend_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// How durable a commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync on every commit (`synchronous=FULL`): survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints only (`synchronous=NORMAL`): survives a crash of the process,
    /// not of the machine. Only for throw-away test servers.
    Normal,
}

/// Wardline's store on an SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: ReaderPool,
    pos: Arc<Positions>,
    /// Turns to run a search (see [`search::MAX_CONCURRENT_SEARCHES`]).
    searches: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("pos", &self.pos.position()).finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let mut conn = pool::open_connection(path, durability, false)?;
        migrations::migrate(&mut conn)?;
        let max: i64 = conn
            .query_row(
                "SELECT MAX(
                    (SELECT COALESCE(MAX(stream), 0) FROM events),
                    (SELECT COALESCE(MAX(stream), 0) FROM receipts),
                    (SELECT COALESCE(MAX(stream), 0) FROM account_data),
                    (SELECT COALESCE(MAX(stream), 0) FROM presence),
                    (SELECT COALESCE(MAX(stream), 0) FROM receipt_log),
                    (SELECT COALESCE(MAX(stream), 0) FROM deliveries),
                    (SELECT COALESCE(MAX(stream), 0) FROM device_changes))",
                [],
                |r| r.get(0),
            )
            .map_err(backend_err)?;
        let pos = Arc::new(Positions::new(StreamPos(max)));
        let writer = Writer::start(conn, Arc::clone(&pos))?;
        let readers = ReaderPool::open(path, durability, 4)?;
        let searches = Arc::new(tokio::sync::Semaphore::new(search::MAX_CONCURRENT_SEARCHES));
        Ok(Self { writer, readers, pos, searches })
    }

    /// How many reads (each one query, or a few run together) the store has run: for tests
    /// that count what answering a request costs.
    #[must_use]
    pub fn reads(&self) -> u64 {
        self.readers.count()
    }
}

impl Store for SqliteStore {
    fn current_pos(&self) -> StreamPos {
        self.pos.position()
    }

    fn last_change(&self, topic: &ChangeTopic) -> ChangeMark {
        self.pos.last_change(topic)
    }

    fn commit_serial(&self) -> u64 {
        self.pos.serial()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(backend_err)?;
        let path = dir.path().join("test.db");
        wardline_store::conformance::run_all(|| SqliteStore::open(&path, Durability::Normal)).await
    }
}
