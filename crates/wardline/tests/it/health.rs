//! `/_wardline/health/live` and `/_wardline/health/ready`: answered without a token and
//! without an audit record; ready only while the database takes writes and the audit trail is
//! being written.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Client, PASSWORD, Server};

const LIVE: &str = "/_wardline/health/live";
const READY: &str = "/_wardline/health/ready";

fn audit_records(s: &Server) -> i64 {
    let db = rusqlite::Connection::open(s.data_dir.join("wardline.db")).unwrap();
    db.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0)).unwrap()
}

/// Asks until readiness answers `status` (what changes it happens in the background).
async fn ready_until(c: &Client, status: u16) -> Value {
    loop {
        let (st, body) = c.get(READY).await;
        if st == status {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn live_and_ready_answer_without_a_token_and_leave_no_audit_record() {
    // A first start records the first administrator; a clean stop stores every queued record.
    let mut first = Server::start();
    let dir = first.keep_dir().unwrap();
    assert!(first.terminate());
    let before = audit_records(&first);
    let mut s = Server::start_in(&first.data_dir, &[]);
    let c = s.client();
    for _ in 0..5 {
        assert_eq!(c.get(LIVE).await, (200, json!({"status": "ok"})));
        let (st, body) = c.get(READY).await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body, json!({"status": "ok", "checks": {"server": "ok", "store": "ok", "audit": "ok"}}));
    }
    assert!(s.terminate());
    assert_eq!(audit_records(&s), before, "the probes left no audit record");
    drop(dir);
}

#[tokio::test]
async fn ready_fails_while_another_process_holds_the_database() {
    let (s, log) = Server::start_with_log(&[]);
    let c = s.client();
    assert_eq!(c.get(READY).await.0, 200);
    // Another process (a `sqlite3` shell left in a transaction, say) takes the write lock.
    let other = rusqlite::Connection::open(s.data_dir.join("wardline.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (st, body) = c.get(READY).await;
    assert_eq!(st, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["store"], "a write did not commit in time");
    // The process is still up: only readiness says it cannot work.
    assert_eq!(c.get(LIVE).await.0, 200);
    // A load balancer asks again and again: each 503 is its answer, not an error in the log
    // (the change of readiness itself is logged once).
    for _ in 0..3 {
        assert_eq!(c.get(READY).await.0, 503);
    }
    other.execute_batch("ROLLBACK").unwrap();
    let body = ready_until(&c, 200).await;
    assert_eq!(body["checks"]["store"], "ok");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("response failed"), "{text}");
    assert_eq!(text.matches("the server is not ready").count(), 1, "{text}");
}

#[tokio::test]
async fn ready_fails_while_the_audit_trail_cannot_be_written() {
    let s = Server::start();
    let ada = s.user("ada").await;
    assert_eq!(ada.get(READY).await.0, 200);
    // The database refuses audit records (as a failing disk would refuse some writes).
    let db = rusqlite::Connection::open(s.data_dir.join("wardline.db")).unwrap();
    db.execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
        .unwrap();
    // An audited action whose record is queued (a sign-in): the audit writer is refused. (A
    // record still queued from before, the new account's or its first sign-in's, may meet the
    // refusal first: then this sign-in is itself refused, 503, as nothing audited may happen.)
    let (st, b) = s
        .client()
        .post(
            "/_matrix/client/v3/login",
            json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ada"}, "password": PASSWORD}),
        )
        .await;
    assert!(st == 200 || (st == 503 && b["error"].as_str().unwrap().contains("audit trail")), "{st} {b}");
    let body = ready_until(&ada, 503).await;
    assert_eq!(body["checks"]["audit"], "audit records cannot be stored", "{body}");
    db.execute_batch("DROP TRIGGER refuse").unwrap();
    let body = ready_until(&ada, 200).await;
    assert_eq!(body["checks"]["audit"], "ok");
}
