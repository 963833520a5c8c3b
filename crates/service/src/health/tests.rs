//! Readiness follows the store's writer and the audit trail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use futures::FutureExt;
use wardline_store::Store;
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::SystemClock;
use wardline_types::audit::{AuditAction, NewAuditRecord, Outcome};

use super::{HealthService, Readiness, Trouble};
use crate::audit::AuditService;

struct Server {
    sqlite: Arc<SqliteStore>,
    audit: AuditService,
    health: HealthService,
    dir: tempfile::TempDir,
}

fn server(audit_capacity: usize) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(&dir.path().join("t.db"), Durability::Normal).unwrap());
    let store: Arc<dyn Store> = sqlite.clone();
    let audit = AuditService::with_capacity(Arc::clone(&store), Arc::new(SystemClock), audit_capacity);
    let health = HealthService::new(store, audit.clone());
    Server { sqlite, audit, health, dir }
}

fn record() -> NewAuditRecord {
    NewAuditRecord::new(wardline_types::Timestamp(1), AuditAction::RoomRead, Outcome::Success)
}

const READY: Readiness = Readiness { server: Ok(()), store: Ok(()), audit: Ok(()) };

#[tokio::test]
async fn a_working_server_is_ready_until_it_shuts_down() {
    let s = server(100);
    tokio::spawn(s.audit.clone().run_writer());
    assert_eq!(s.health.readiness().await, READY);
    // Every probe writes (the writer's path is proven each time).
    let serial = s.sqlite.commit_serial();
    assert_eq!(s.health.readiness().await, READY);
    assert!(s.sqlite.commit_serial() > serial);
    s.health.begin_shutdown();
    assert_eq!(s.health.readiness().await.server, Err(Trouble::ShuttingDown));
}

#[tokio::test]
async fn a_stopped_writer_makes_the_server_unready_and_says_so() {
    let s = server(100);
    tokio::spawn(s.audit.clone().run_writer());
    let stopped = s.health.writer_stopped();
    let mut stopped = Box::pin(stopped);
    assert!((&mut stopped).now_or_never().is_none(), "the writer runs");
    s.sqlite.break_writer_for_tests();
    stopped.await;
    let readiness = s.health.readiness().await;
    assert_eq!(readiness.store, Err(Trouble::WriterStopped));
    assert!(!readiness.ready());
}

#[tokio::test]
async fn a_refused_write_makes_the_server_unready_until_writes_work_again() {
    let s = server(100);
    tokio::spawn(s.audit.clone().run_writer());
    // The database refuses writes (as a full or failing disk would).
    let conn = rusqlite::Connection::open(s.dir.path().join("t.db")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse_insert BEFORE INSERT ON server_meta BEGIN SELECT RAISE(ABORT, 'disk full'); END;
         CREATE TRIGGER refuse_update BEFORE UPDATE ON server_meta BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    assert_eq!(s.health.readiness().await.store, Err(Trouble::WriteRefused));
    conn.execute_batch("DROP TRIGGER refuse_insert; DROP TRIGGER refuse_update;").unwrap();
    assert_eq!(s.health.readiness().await, READY);
}

#[tokio::test]
async fn an_audit_trail_that_cannot_be_written_makes_the_server_unready() {
    let s = server(100);
    tokio::spawn(s.audit.clone().run_writer());
    let conn = rusqlite::Connection::open(s.dir.path().join("t.db")).unwrap();
    conn.execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
        .unwrap();
    s.audit.record(record()).unwrap();
    // The flush fails once the writer has tried, and been refused.
    assert!(s.audit.flush().await.is_err());
    assert_eq!(s.health.readiness().await.audit, Err(Trouble::AuditRefused));
}

#[tokio::test]
async fn a_backlogged_audit_queue_makes_the_server_unready() {
    // No audit writer runs: records pile up.
    let s = server(10);
    for _ in 0..9 {
        s.audit.record(record()).unwrap();
    }
    assert_eq!(s.health.readiness().await.audit, Ok(()), "9 of 10 is not beyond the bound");
    s.audit.record(record()).unwrap();
    assert_eq!(s.health.readiness().await.audit, Err(Trouble::AuditBacklog));
    // Once the writer stores them, the trail is healthy again.
    tokio::spawn(s.audit.clone().run_writer());
    s.audit.flush().await.unwrap();
    assert_eq!(s.health.readiness().await, READY);
}

#[tokio::test]
async fn checks_that_arrive_during_a_probe_share_the_next_one() {
    let s = server(100);
    tokio::spawn(s.audit.clone().run_writer());
    let serial = s.sqlite.commit_serial();
    // A probe is under way (its lock is held) when twenty checks arrive.
    let under_way = s.health.last_probe.lock().await;
    let mut checks: Vec<_> = (0..20).map(|_| Box::pin(s.health.readiness())).collect();
    for check in &mut checks {
        assert!(check.now_or_never().is_none(), "the check waits for the probe under way");
    }
    drop(under_way);
    for r in futures::future::join_all(checks).await {
        assert_eq!(r, READY);
    }
    // None of them may trust the probe under way (it began before they asked): the first runs
    // a new one, whose outcome the others share.
    assert_eq!(s.sqlite.commit_serial(), serial + 1);
}
