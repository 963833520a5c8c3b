//! The group-committing writer thread and the pool of read connections.

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction};
use tokio::sync::{Semaphore, oneshot};
use wardline_store::StoreError;
use wardline_types::StreamPos;

use crate::{Durability, backend_err};

/// Most writes committed together.
const MAX_BATCH: usize = 512;

/// Opens a connection with Wardline's pragmas.
pub(crate) fn open_connection(path: &Path, durability: Durability, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
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
    Ok(conn)
}

/// The transaction a write runs in, with the stream positions it may hand out.
pub(crate) struct WriteTx<'a> {
    pub tx: &'a Transaction<'a>,
    next: &'a Cell<i64>,
}

impl WriteTx<'_> {
    /// Takes the next stream position.
    pub fn next_pos(&self) -> StreamPos {
        let p = self.next.get() + 1;
        self.next.set(p);
        StreamPos(p)
    }
}

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A write waiting for the writer thread.
trait Job: Send {
    /// Runs the write; returns whether it succeeded and what to do once the group committed.
    fn run(self: Box<Self>, wtx: &WriteTx<'_>) -> (bool, Completion);
    /// Reports that the write could not run at all.
    fn fail(self: Box<Self>, error: StoreError);
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
}

impl Writer {
    pub fn start(conn: Connection, pos: Arc<AtomicI64>) -> Result<Self, StoreError> {
        let (jobs, rx) = std::sync::mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, &rx, &pos))
            .map_err(backend_err)?;
        Ok(Self { jobs })
    }

    /// Runs `f` in the next group transaction; resolves once that transaction has committed.
    /// If `f` fails, its changes are rolled back and the rest of the group is unaffected.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, wait) = oneshot::channel::<Result<T, StoreError>>();
        self.jobs
            .send(Box::new(TypedJob { f, done }))
            .map_err(|_| StoreError::Backend("writer thread has stopped".into()))?;
        wait.await.map_err(|_| StoreError::Backend("writer thread dropped a write".into()))?
    }
}

fn writer_loop(mut conn: Connection, rx: &std::sync::mpsc::Receiver<Box<dyn Job>>, pos: &AtomicI64) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, batch, pos);
    }
}

fn run_batch(conn: &mut Connection, batch: Vec<Box<dyn Job>>, pos: &AtomicI64) {
    let next = Cell::new(pos.load(Ordering::Acquire));
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
    for job in batch {
        if let Err(e) = tx.execute_batch("SAVEPOINT job") {
            job.fail(backend_err(e));
            continue;
        }
        let (ok, completion) = job.run(&WriteTx { tx: &tx, next: &next });
        let finish = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        if let Err(e) = tx.execute_batch(finish) {
            tracing::error!(error = %e, "savepoint failed");
        }
        if ok {
            completions.push(completion);
        } else {
            completion(Ok(()));
        }
    }
    match tx.commit() {
        Ok(()) => {
            pos.store(next.get(), Ordering::Release);
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
}

impl ReaderPool {
    pub fn open(path: &Path, durability: Durability, size: usize) -> Result<Self, StoreError> {
        let mut conns = Vec::with_capacity(size);
        for _ in 0..size {
            conns.push(open_connection(path, durability, true)?);
        }
        Ok(Self { conns: Arc::new(Mutex::new(conns)), permits: Arc::new(Semaphore::new(size)) })
    }

    /// Runs `f` on a read connection.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("reader pool closed".into()))?;
        let conns = Arc::clone(&self.conns);
        tokio::task::spawn_blocking(move || {
            let conn = conns
                .lock()
                .map_err(|_| StoreError::Backend("reader pool poisoned".into()))?
                .pop()
                .ok_or_else(|| StoreError::Backend("reader pool empty".into()))?;
            let result = f(&conn);
            if let Ok(mut pool) = conns.lock() {
                pool.push(conn);
            }
            drop(permit);
            result
        })
        .await
        .map_err(backend_err)?
    }
}
