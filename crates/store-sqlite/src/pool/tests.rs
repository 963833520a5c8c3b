//! The writer thread under faults: a panicking write, a writer that dies.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

use wardline_store::{MetaStore, Store, StoreError};

use crate::{Durability, SqliteStore, backend_err};

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("t.db"), Durability::Normal).unwrap()
}

/// Polls a write once, which hands its job to the writer thread, and returns it to be awaited.
fn queued<F: Future>(write: F) -> Pin<Box<F>> {
    let mut write = Box::pin(write);
    assert!(
        write.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending(),
        "the write waits for its commit"
    );
    write
}

/// A write storing `key`, at a stream position of its own.
fn put(store: &SqliteStore, key: &'static str) -> impl Future<Output = Result<(), StoreError>> + use<> {
    let writer = store.writer.clone();
    async move {
        writer
            .write(move |w| {
                w.next_pos();
                w.tx.execute("INSERT INTO server_meta (key, value) VALUES (?1, 'x')", [key])
                    .map(|_| ())
                    .map_err(backend_err)
            })
            .await
    }
}

#[tokio::test]
async fn a_panicking_write_fails_alone_and_the_writer_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    // Holds the writer thread inside a first write while the next ones queue up behind it.
    let first = queued(store.writer.write(move |_| {
        entered_tx.send(()).map_err(backend_err)?;
        gate.recv().map_err(backend_err)
    }));
    entered.recv().unwrap();
    let (pos, serial) = (store.current_pos(), store.commit_serial());
    let before = queued(put(&store, "before"));
    let panics = queued(store.writer.write(|w| -> Result<(), StoreError> {
        w.next_pos();
        w.tx.execute("INSERT INTO server_meta (key, value) VALUES ('panicked', 'x')", []).map_err(backend_err)?;
        panic!("a bug in one write");
    }));
    let after = queued(put(&store, "after"));
    release.send(()).unwrap();

    first.await.unwrap();
    before.await.unwrap();
    let failed = panics.await;
    assert!(matches!(&failed, Err(StoreError::Backend(m)) if m.contains("rolled back")), "{failed:?}");
    after.await.unwrap();
    // The three were committed as one group (plus the first write's): the panic cost the
    // others nothing, and its own changes and stream position were rolled back.
    assert_eq!(store.commit_serial(), serial + 2);
    assert_eq!(store.meta("before").await.unwrap().as_deref(), Some("x"));
    assert_eq!(store.meta("after").await.unwrap().as_deref(), Some("x"));
    assert_eq!(store.meta("panicked").await.unwrap(), None);
    assert_eq!(store.current_pos().0, pos.0 + 2);
    // The writer goes on.
    assert!(store.health().writer_running);
    put(&store, "next").await.unwrap();
    store.probe_write().await.unwrap();
    assert_eq!(store.meta("next").await.unwrap().as_deref(), Some("x"));
}

#[tokio::test]
async fn a_writer_that_dies_says_so_and_every_write_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    put(&store, "kept").await.unwrap();
    let stopped = queued(store.writer_stopped());
    store.break_writer_for_tests();
    stopped.await;
    assert!(!store.health().writer_running);
    let refused = put(&store, "lost").await;
    assert!(matches!(&refused, Err(StoreError::Backend(m)) if m.contains("stopped")), "{refused:?}");
    assert!(store.probe_write().await.is_err());
    // Reads still answer: it is the server's supervisor that must restart it.
    assert_eq!(store.meta("kept").await.unwrap().as_deref(), Some("x"));
    // What was committed survives the restart.
    drop(store);
    assert_eq!(open(&dir).meta("kept").await.unwrap().as_deref(), Some("x"));
}
