//! Escalation through a whole server on the test clock (`WARDLINE_TEST_CLOCK_FILE`): a policy
//! whose every target is unavailable reaches its failsafe at once, and a server stopped in the
//! middle of an escalation runs what fell due while it was down when it starts again, each step
//! once.

use serde_json::{Value, json};

use crate::harness::{Client, Server};
use crate::priority::{server_notice, status};

const MIN: u64 = 60_000;

async fn urgent(from: &Client, room: &str, txn: &str) -> String {
    from.sent_event(
        room,
        "m.room.message",
        txn,
        json!({"msgtype": "m.text", "body": "K+ 6.9 bed 4",
        "org.wardline.priority": {"level": "urgent"}}),
    )
    .await
}

/// The escalation of `msg` once the engine has opened it.
async fn escalation(c: &Client, room: &str, msg: &str) -> Value {
    for _ in 0..200 {
        let esc = status(c, room, msg).await["escalation"].clone();
        if !esc.is_null() {
            return esc;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{msg} never escalated");
}

/// Reads the escalation of `msg` until it has `n` steps.
async fn steps(c: &Client, room: &str, msg: &str, n: usize) -> Value {
    let mut esc = Value::Null;
    for _ in 0..200 {
        esc = escalation(c, room, msg).await;
        if esc["steps"].as_array().is_some_and(|s| s.len() >= n) {
            return esc;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{msg} never reached {n} steps: {esc}");
}

#[tokio::test]
async fn nobody_available_reaches_the_failsafe_at_once_and_a_restart_mid_escalation_runs_each_step_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let env = [("WARDLINE_TEST_CLOCK_FILE", clock.to_str().unwrap())];
    let mut s = Server::start_with_env(&env);
    let _keep = s.keep_dir();
    let boss = crate::admin::admin(&s).await;
    let (nia, reg, raj, con, ann) =
        (s.user("nia").await, s.user("reg").await, s.user("raj").await, s.user("con").await, s.user("ann").await);
    let policy = json!({"steps": [
        {"after_ms": 2 * MIN, "action": "renotify"},
        {"after_ms": 5 * MIN, "action": "add", "targets": [{"kind": "user", "user_id": con.user_id}]},
        {"after_ms": 10 * MIN, "action": "failsafe", "targets": [{"kind": "user", "user_id": ann.user_id}]},
    ]});
    let (st, body) = boss.put("/_wardline/admin/v1/escalation_policies/org/urgent", policy).await;
    assert_eq!(st, 200, "{body}");
    // Reg and the consultant are on do-not-disturb (no cover): an urgent message spares them.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let until = json!({"until_ts": now + 24 * 60 * MIN});
    for c in [&reg, &con] {
        let (st, body) = c.put("/_wardline/client/v1/dnd", until.clone()).await;
        assert_eq!(st, 200, "{body}");
    }
    let quiet = nia.room_with(&[&reg]).await;
    let ward = nia.room_with(&[&raj]).await;
    let nobody = urgent(&nia, &quiet, "u1").await;
    let later = urgent(&nia, &ward, "u2").await;
    assert_eq!(escalation(&nia, &quiet, &nobody).await["state"], "open");
    assert_eq!(escalation(&nia, &ward, &later).await["state"], "open");

    // 2½ minutes on. Nobody to re-notify, nobody to bring in: each step says so and the next
    // runs at once, to the failsafe. In the other conversation Raj is re-notified.
    std::fs::write(&clock, (2 * MIN + 30_000).to_string()).unwrap();
    let esc = steps(&nia, &quiet, &nobody, 3).await;
    assert_eq!(esc["state"], "failsafe", "{esc}");
    let summaries: Vec<&str> =
        esc["steps"].as_array().unwrap().iter().map(|s| s["summary"].as_str().unwrap()).collect();
    assert_eq!(summaries.len(), 3, "{esc}");
    server_notice(&nia, &quiet, "Nobody left to notify again: next step.").await;
    server_notice(&nia, &quiet, "FAILSAFE: nobody accepted in 2 min — brought in: Dr ann").await;
    server_notice(&nia, &ward, "No answer after 2 min — notifying again: Dr raj").await;
    assert_eq!(steps(&nia, &ward, &later, 1).await["next_step"], 2);

    // The server stops; while it is down the next two steps fall due.
    assert!(s.terminate());
    std::fs::write(&clock, (10 * MIN + 30_000).to_string()).unwrap();
    let s2 = Server::start_in(&s.data_dir, &env);
    let nia = s2.login("nia", crate::harness::PASSWORD).await;
    let esc = steps(&nia, &ward, &later, 3).await;
    assert_eq!(esc["state"], "failsafe", "{esc}");
    let ran: Vec<u64> = esc["steps"].as_array().unwrap().iter().map(|s| s["step"].as_u64().unwrap()).collect();
    assert_eq!(ran, [1, 2, 3], "each step once, in order, none skipped: {esc}");
    let (st, page) =
        nia.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50", crate::harness::enc(&ward))).await;
    assert_eq!(st, 200);
    let renotified = page["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["content"]["body"].as_str().is_some_and(|b| b.starts_with("No answer after 2 min")))
        .count();
    assert_eq!(renotified, 1, "the step that ran before the stop is not run again");
    server_notice(&nia, &ward, "FAILSAFE: nobody accepted in 10 min — brought in: Dr ann").await;
}

async fn waiting(c: &Client) -> Vec<String> {
    let (st, body) = c.get("/_wardline/client/v1/escalations/waiting").await;
    assert_eq!(st, 200, "{body}");
    body["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| format!("{} {} {}", w["event_id"].as_str().unwrap(), w["level"].as_str().unwrap(), w["joined"]))
        .collect()
}

#[tokio::test]
async fn what_waits_for_my_answer_is_listed_until_i_answer_or_the_escalation_ends() {
    let s = Server::start();
    let boss = crate::admin::admin(&s).await;
    let (nia, reg, raj, con, ann) =
        (s.user("nia").await, s.user("reg").await, s.user("raj").await, s.user("con").await, s.user("ann").await);
    let policy = json!({"steps": [
        {"after_ms": 2 * MIN, "action": "add", "targets": [{"kind": "user", "user_id": con.user_id}]},
        {"after_ms": 10 * MIN, "action": "failsafe", "targets": [{"kind": "user", "user_id": ann.user_id}]},
    ]});
    let (st, body) = boss.put("/_wardline/admin/v1/escalation_policies/org/emergency", policy).await;
    assert_eq!(st, 200, "{body}");
    let room = nia.room_with(&[&reg, &raj]).await;
    let msg = nia
        .sent_event(
            &room,
            "m.room.message",
            "e1",
            json!({"msgtype": "m.text", "body": "Arrest bed 3",
            "org.wardline.priority": {"level": "emergency"}}),
        )
        .await;
    escalation(&nia, &room, &msg).await;
    let mine = format!("{msg} emergency true");
    assert_eq!(waiting(&reg).await, std::slice::from_ref(&mine));
    assert_eq!(waiting(&raj).await, std::slice::from_ref(&mine));
    assert!(waiting(&nia).await.is_empty(), "not what one sent oneself");
    assert!(waiting(&con).await.is_empty(), "not for someone outside the conversation");

    // Raj declines: answered, so no longer waiting for him; still for Reg.
    raj.sent_event(
        &room,
        "m.room.message",
        "d1",
        json!({"msgtype": "m.text", "body": "Decline",
        "m.relates_to": {"rel_type": "m.reference", "event_id": msg}, "org.wardline.response": {"option": "decline"}}),
    )
    .await;
    assert!(waiting(&raj).await.is_empty());
    assert_eq!(waiting(&reg).await, std::slice::from_ref(&mine));

    // His decline ran the next step at once: the consultant is brought in, and it waits for him
    // before he has even joined.
    server_notice(&nia, &room, "No answer after 0 min — brought in: Dr con").await;
    assert_eq!(waiting(&con).await, [format!("{msg} emergency false")]);

    // Reg acknowledges: the escalation ends, and nothing waits for anyone.
    reg.sent_event(
        &room,
        "m.reaction",
        "a1",
        json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": msg, "key": "👍"}}),
    )
    .await;
    server_notice(&nia, &room, "✓ Dr reg accepted").await;
    for c in [&reg, &raj, &con] {
        assert!(waiting(c).await.is_empty(), "{}", c.user_id);
    }
}
