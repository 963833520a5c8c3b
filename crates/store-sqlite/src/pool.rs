//! The group-committing writer thread and the pool of read connections.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, Transaction};
use tokio::sync::{Semaphore, oneshot, watch};
use wardline_store::{ChangeMark, ChangeTopic, StoreError, WriteObserver};
use wardline_types::StreamPos;

use crate::{Durability, backend_err};

/// Most writes committed together.
const MAX_BATCH: usize = 512;

/// Parsed statements kept per connection.
const STATEMENT_CACHE: usize = 128;

/// Opens a connection with Wardline's pragmas.
/// What a connection may do to the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read only.
    Read,
    /// Read and write an existing database.
    Write,
    /// Read and write, creating the database if it is missing.
    Create,
}

pub(crate) fn open_connection(path: &Path, durability: Durability, access: Access) -> Result<Connection, StoreError> {
    let read_only = access == Access::Read;
    let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX
        | match access {
            Access::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
            Access::Write => OpenFlags::SQLITE_OPEN_READ_WRITE,
            Access::Create => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        };
    let conn = Connection::open_with_flags(path, flags).map_err(backend_err)?;
    conn.busy_timeout(Duration::from_secs(30)).map_err(backend_err)?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(backend_err)?;
    }
    conn.pragma_update(None, "synchronous", sync).map_err(backend_err)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(backend_err)?;
    // Each connection keeps its parsed statements (a busy server runs a few dozen distinct ones).
    // (A memory map, `mmap_size`, was slower: the file grows under load and is remapped.)
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The committed stream position, the commit serial and when each [`ChangeTopic`] last changed.
///
/// **Invariant:** the writer records a group's topics before it publishes the group's position
/// and serial, so a reader that loaded `position()` first sees every change up to it.
#[derive(Debug)]
pub(crate) struct Positions {
    pos: AtomicI64,
    serial: AtomicU64,
    opened_at: StreamPos,
    topics: Mutex<HashMap<ChangeTopic, ChangeMark>>,
}

impl Positions {
    pub fn new(pos: StreamPos) -> Self {
        Self { pos: AtomicI64::new(pos.0), serial: AtomicU64::new(0), opened_at: pos, topics: Mutex::default() }
    }

    pub fn position(&self) -> StreamPos {
        StreamPos(self.pos.load(Ordering::Acquire))
    }

    pub fn serial(&self) -> u64 {
        self.serial.load(Ordering::Acquire)
    }

    pub fn last_change(&self, topic: &ChangeTopic) -> ChangeMark {
        let topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        topics.get(topic).copied().unwrap_or(ChangeMark { pos: self.opened_at, serial: 0, count: 0 })
    }

    fn publish(&self, pos: i64, changed: Vec<(ChangeTopic, StreamPos)>) {
        let serial = self.serial.load(Ordering::Relaxed) + 1;
        if !changed.is_empty() {
            let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
            for (topic, at) in changed {
                let mark = topics.entry(topic).or_default();
                *mark = ChangeMark { pos: mark.pos.max(at), serial, count: mark.count + 1 };
            }
        }
        self.serial.store(serial, Ordering::Release);
        self.pos.store(pos, Ordering::Release);
    }
}

/// The transaction a write runs in, with the stream positions it may hand out.
pub(crate) struct WriteTx<'a> {
    pub tx: &'a Transaction<'a>,
    next: &'a Cell<i64>,
    changed: &'a RefCell<Vec<(ChangeTopic, StreamPos)>>,
}

impl WriteTx<'_> {
    /// Takes the next stream position.
    pub fn next_pos(&self) -> StreamPos {
        let p = self.next.get() + 1;
        self.next.set(p);
        StreamPos(p)
    }

    /// Notes that this write changes `topic` at the position last taken (forgotten if the write
    /// rolls back). Call it after [`WriteTx::next_pos`] for the change, if it takes one.
    pub fn changed(&self, topic: ChangeTopic) {
        self.changed.borrow_mut().push((topic, StreamPos(self.next.get())));
    }
}

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A write waiting for the writer thread.
trait Job: Send {
    /// Runs the write; returns whether it succeeded and what to do once the group committed.
    fn run(self: Box<Self>, wtx: &WriteTx<'_>) -> (bool, Completion);
    /// Reports that the write could not run at all.
    fn fail(self: Box<Self>, error: StoreError);
    /// Does this job stand for a fault of the writer itself (tests only)?
    #[cfg(any(test, feature = "test-hooks"))]
    fn breaks_writer(&self) -> bool {
        false
    }
}

struct TypedJob<T, F> {
    f: F,
    done: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&WriteTx<'_>) -> Result<T, StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, wtx: &WriteTx<'_>) -> (bool, Completion) {
        let TypedJob { f, done } = *self;
        let result = f(wtx);
        let ok = result.is_ok();
        (
            ok,
            Box::new(move |commit| {
                let _ = done.send(commit.and(result));
            }),
        )
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.done.send(Err(error));
    }
}

/// Handle to the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: std::sync::mpsc::Sender<Box<dyn Job>>,
    observer: Arc<dyn WriteObserver>,
    /// `true` while the writer thread runs.
    running: watch::Receiver<bool>,
}

/// Held by the writer thread: when the thread ends, however it ends (a panic outside any one
/// write unwinds through it), the writer is marked stopped.
struct RunningFlag(watch::Sender<bool>);

impl Drop for RunningFlag {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(
                "the database writer stopped after a panic: no write can succeed until the server restarts"
            );
        }
        self.0.send_replace(false);
    }
}

impl Writer {
    pub fn start(conn: Connection, pos: Arc<Positions>, observer: Arc<dyn WriteObserver>) -> Result<Self, StoreError> {
        let (jobs, rx) = std::sync::mpsc::channel::<Box<dyn Job>>();
        let (flag, running) = watch::channel(true);
        let watching = Arc::clone(&observer);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let _flag = RunningFlag(flag);
                // Dropped before the flag: once the writer is marked stopped, no write is accepted.
                let rx = rx;
                writer_loop(conn, &rx, &pos, &*watching);
            })
            .map_err(backend_err)?;
        Ok(Self { jobs, observer, running })
    }

    /// Is the writer thread running?
    pub fn running(&self) -> bool {
        *self.running.borrow()
    }

    /// Resolves once the writer thread has stopped.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut running = self.running.clone();
        async move {
            // An error means the flag itself is gone, which happens only once the thread ended.
            let _ = running.wait_for(|r| !*r).await;
        }
    }

    /// Makes the writer thread fail outside any one write, as a bug in the writer itself would:
    /// for tests of what follows the writer's death.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn break_for_tests(&self) {
        struct Breaks;
        impl Job for Breaks {
            fn run(self: Box<Self>, _: &WriteTx<'_>) -> (bool, Completion) {
                (false, Box::new(|_| ()))
            }
            fn fail(self: Box<Self>, _: StoreError) {}
            fn breaks_writer(&self) -> bool {
                true
            }
        }
        let _ = self.jobs.send(Box::new(Breaks));
    }

    /// Runs `f` in the next group transaction; resolves once that transaction has committed.
    /// If `f` fails, its changes are rolled back and the rest of the group is unaffected.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, wait) = oneshot::channel::<Result<T, StoreError>>();
        self.observer.write_queued();
        self.jobs.send(Box::new(TypedJob { f, done })).map_err(|_| {
            self.observer.writes_taken(1);
            StoreError::Backend("the database writer has stopped".into())
        })?;
        // The job was dropped unanswered: it panicked (and was rolled back), or the writer died.
        wait.await.map_err(|_| {
            StoreError::Backend("the write failed inside the database writer and was rolled back".into())
        })?
    }
}

fn writer_loop(
    mut conn: Connection,
    rx: &std::sync::mpsc::Receiver<Box<dyn Job>>,
    pos: &Positions,
    observer: &dyn WriteObserver,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (writes, started) = (batch.len(), Instant::now());
        observer.writes_taken(writes);
        run_batch(&mut conn, batch, pos);
        observer.group_committed(writes, started.elapsed());
    }
}

/// Runs one group of writes in one transaction and commits it.
///
/// **Invariant:** a write that fails or panics is rolled back to its savepoint and fails alone;
/// the others of its group commit. A panic anywhere else (the group's own steps) is not caught:
/// it could come between a commit and the publication of its positions, after which the writer
/// could hand out positions twice. It ends the writer thread, which marks the writer stopped,
/// and the server stops so its supervisor restarts it (SQLite rolls back what did not commit).
fn run_batch(conn: &mut Connection, batch: Vec<Box<dyn Job>>, pos: &Positions) {
    #[cfg(any(test, feature = "test-hooks"))]
    #[allow(clippy::panic)]
    if batch.iter().any(|j| j.breaks_writer()) {
        panic!("the writer was broken on purpose (test hook)");
    }
    let next = Cell::new(pos.position().0);
    let mut changed = Vec::new();
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            for job in batch {
                job.fail(backend_err(&e));
            }
            return;
        }
    };
    let mut completions = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    while let Some(job) = jobs.next() {
        if let Err(e) = tx.execute_batch("SAVEPOINT job") {
            job.fail(backend_err(e));
            continue;
        }
        let job_changed = RefCell::new(Vec::new());
        let before = next.get();
        let wtx = WriteTx { tx: &tx, next: &next, changed: &job_changed };
        // A panicking write is contained to its own request: it unwinds out of its job (whose
        // caller is answered with an error when the job is dropped), is rolled back to its
        // savepoint like any failed write, and the group goes on.
        let (ok, completion) = match catch_unwind(AssertUnwindSafe(|| job.run(&wtx))) {
            Ok((ok, completion)) => (ok, Some(completion)),
            Err(_) => {
                tracing::error!("a write panicked in the database writer: it was rolled back and failed alone");
                (false, None)
            }
        };
        if !ok {
            // A rolled-back job hands its positions back: the published position must never
            // exceed what the database holds, or a restart would hand them out a second time,
            // behind tokens clients already have.
            next.set(before);
        }
        let finish = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        if let Err(e) = tx.execute_batch(finish) {
            // The transaction may hold a failed write's changes: none of the group may commit.
            tracing::error!(error = %e, "savepoint failed: the whole group is rolled back");
            drop(tx);
            let error = || StoreError::Backend(format!("the group's transaction failed: {e}"));
            for c in completions.into_iter().chain(completion) {
                c(Err(error()));
            }
            for job in jobs {
                job.fail(error());
            }
            return;
        }
        match completion {
            Some(c) if ok => {
                changed.extend(job_changed.into_inner());
                completions.push(c);
            }
            Some(c) => c(Ok(())),
            None => {}
        }
    }
    match tx.commit() {
        Ok(()) => {
            pos.publish(next.get(), changed);
            for c in completions {
                c(Ok(()));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed");
            for c in completions {
                c(Err(backend_err(&e)));
            }
        }
    }
}

/// Read-only connections used on blocking threads.
#[derive(Clone)]
pub(crate) struct ReaderPool {
    conns: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    /// Reads run so far (for tests that count what a request costs).
    reads: Arc<AtomicU64>,
}

impl ReaderPool {
    pub fn open(path: &Path, durability: Durability, size: usize) -> Result<Self, StoreError> {
        let mut conns = Vec::with_capacity(size);
        for _ in 0..size {
            conns.push(open_connection(path, durability, Access::Read)?);
        }
        Ok(Self { conns: Arc::new(Mutex::new(conns)), permits: Arc::new(Semaphore::new(size)), reads: Arc::default() })
    }

    /// Reads run so far.
    pub fn count(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Runs a short, indexed read on a read connection, on the calling thread: cheaper than a
    /// hand-off to a blocking thread, which costs two context switches per query.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError>,
    {
        let _permit = self.permits.acquire().await.map_err(|_| StoreError::Backend("reader pool closed".into()))?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        let conn = self.take()?;
        let result = f(&conn);
        self.give_back(conn);
        result
    }

    /// Runs a read that may scan many rows (listings, exports) on a blocking thread, so it
    /// never holds up the threads that answer requests.
    pub async fn read_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("reader pool closed".into()))?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = f(&conn);
            pool.give_back(conn);
            drop(permit);
            result
        })
        .await
        .map_err(backend_err)?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        self.conns
            .lock()
            .map_err(|_| StoreError::Backend("reader pool poisoned".into()))?
            .pop()
            .ok_or_else(|| StoreError::Backend("reader pool empty".into()))
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut pool) = self.conns.lock() {
            pool.push(conn);
        }
    }
}

#[cfg(test)]
mod tests;
