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
mod alarm_dispatch;
mod alarms;
mod audit;
pub mod backup;
mod broadcast;
mod deadlines;
mod deliveries;
mod dnd;
mod escalation;
mod filings;
mod integrations;
mod media;
mod mfa;
mod migrations;
mod outbox;
mod patient_context;
mod patients;
mod pool;
mod push;
mod receipts;
mod relations;
mod roles;
mod rooms;
mod rota;
mod rows;
mod search;
mod sessions;
mod topics;
mod userdata;
mod wctp;

use std::path::Path;
use std::sync::Arc;

use wardline_store::{ChangeMark, ChangeTopic, NoObserver, Store, StoreError, StoreHealth, StoreResult, WriteObserver};
use wardline_types::StreamPos;

pub use migrations::LATEST as SCHEMA_VERSION;
use pool::{Positions, ReaderPool, Writer};

/// Turns any displayable backend error into a [`StoreError::Backend`].
pub(crate) fn backend_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The server-wide stream position of the last change a database holds.
pub(crate) fn stream_position(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    conn.query_row(
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
    .map_err(backend_err)
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

/// How a database is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Opening {
    /// Create the database if it is missing and bring its schema up to date: only the server
    /// does this, when it starts.
    #[default]
    CreateAndUpgrade,
    /// An existing database whose schema is exactly this build's: the administration commands,
    /// which may run beside a server and must never create or upgrade the database under it.
    /// A missing database is [`StoreError::NotFound`]; another schema is
    /// [`StoreError::SchemaTooNew`] or [`StoreError::SchemaTooOld`].
    Existing,
    /// An existing database of this build's schema or an earlier one, left as it is: for
    /// commands that only read it (and append audit records, whose table is the same in every
    /// schema since version 6). Queries that need a later schema fail.
    ExistingNotNewer,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        Self::open_observed(path, durability, Arc::new(NoObserver))
    }

    /// Like [`SqliteStore::open`], reporting the writer's queue and group commits to `observer`.
    pub fn open_observed(
        path: &Path,
        durability: Durability,
        observer: Arc<dyn WriteObserver>,
    ) -> Result<Self, StoreError> {
        Self::open_as(path, durability, observer, Opening::CreateAndUpgrade)
    }

    /// Opens the database at `path` as `opening` says, reporting the writer's queue and group
    /// commits to `observer`.
    pub fn open_as(
        path: &Path,
        durability: Durability,
        observer: Arc<dyn WriteObserver>,
        opening: Opening,
    ) -> Result<Self, StoreError> {
        let conn = match opening {
            Opening::CreateAndUpgrade => {
                let mut conn = pool::open_connection(path, durability, pool::Access::Create)?;
                migrations::migrate(&mut conn)?;
                conn
            }
            Opening::Existing | Opening::ExistingNotNewer => {
                if !path.is_file() {
                    return Err(StoreError::NotFound);
                }
                let conn = pool::open_connection(path, durability, pool::Access::Write)?;
                match (migrations::require_latest(&conn), opening) {
                    (Err(StoreError::SchemaTooOld { .. }), Opening::ExistingNotNewer) | (Ok(()), _) => {}
                    (Err(e), _) => return Err(e),
                }
                conn
            }
        };
        let max = stream_position(&conn)?;
        let pos = Arc::new(Positions::new(StreamPos(max)));
        let writer = Writer::start(conn, Arc::clone(&pos), observer)?;
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

    /// Makes the writer thread fail outside any one write, as a bug in the writer itself would,
    /// so tests can see what follows: [`Store::health`] reports it, every write fails, and
    /// [`Store::writer_stopped`] resolves. Only in tests (and builds with `test-hooks`).
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn break_writer_for_tests(&self) {
        self.writer.break_for_tests();
    }
}

#[async_trait::async_trait]
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

    fn health(&self) -> StoreHealth {
        StoreHealth { writer_running: self.writer.running() }
    }

    async fn probe_write(&self) -> StoreResult<()> {
        self.writer
            .write(|w| {
                // A counter, so that every probe really writes a page and syncs it.
                w.tx.execute(
                    "INSERT INTO server_meta (key, value) VALUES ('write_probes', '1')
                     ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
                    [],
                )
                .map(|_| ())
                .map_err(backend_err)
            })
            .await
    }

    async fn writer_stopped(&self) {
        self.writer.stopped().await;
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

    /// Counts what the writer reports.
    #[derive(Debug, Default)]
    struct Counting {
        queued: std::sync::atomic::AtomicUsize,
        taken: std::sync::atomic::AtomicUsize,
        committed: std::sync::atomic::AtomicUsize,
        groups: std::sync::atomic::AtomicUsize,
    }

    impl WriteObserver for Counting {
        fn write_queued(&self) {
            self.queued.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        fn writes_taken(&self, writes: usize) {
            self.taken.fetch_add(writes, std::sync::atomic::Ordering::SeqCst);
        }
        fn group_committed(&self, writes: usize, _: std::time::Duration) {
            self.committed.fetch_add(writes, std::sync::atomic::Ordering::SeqCst);
            self.groups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn the_writer_reports_every_write_it_queues_and_commits() -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        use wardline_store::FilterStore;
        let dir = tempfile::tempdir().map_err(backend_err)?;
        let counting = Arc::new(Counting::default());
        let observer: Arc<dyn WriteObserver> = Arc::clone(&counting) as Arc<dyn WriteObserver>;
        let store = SqliteStore::open_observed(&dir.path().join("t.db"), Durability::Normal, observer)?;
        let user = ruma::owned_user_id!("@a:localhost");
        let writes: Vec<_> = (0..20)
            .map(|i| {
                let (store, user) = (store.clone(), user.clone());
                tokio::spawn(async move { store.put_filter(&user, &format!("{{\"n\":{i}}}")).await })
            })
            .collect();
        for write in writes {
            write.await.map_err(backend_err)??;
        }
        assert_eq!(counting.queued.load(SeqCst), 20);
        assert_eq!(counting.taken.load(SeqCst), 20, "the queue is empty once every write is answered");
        // The writer answers a group's writes, then reports its commit: wait for the report.
        for _ in 0..1000 {
            if counting.committed.load(SeqCst) == 20 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(counting.committed.load(SeqCst), 20);
        assert!((1..=20).contains(&counting.groups.load(SeqCst)));
        Ok(())
    }
}
