//! Sending and reading: idempotence, ordering under concurrency, pagination, visibility,
//! redaction.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::{Client, Server, enc, timeline_bodies};

async fn room_with(a: &Client, others: &[&Client]) -> String {
    let invite: Vec<&str> = others.iter().map(|c| c.user_id.as_str()).collect();
    let room = a.create_room(json!({"name": "Ward 7", "invite": invite})).await;
    for c in others {
        c.join(&room).await;
    }
    room
}

#[tokio::test]
async fn send_is_idempotent_per_device_and_txn() {
    let s = Server::start();
    let a = s.user("ada").await;
    let room = room_with(&a, &[]).await;
    let (_, first) = a.send_text(&room, "txn-1", "obs due bed 4").await;
    let (_, again) = a.send_text(&room, "txn-1", "obs due bed 4").await;
    assert_eq!(first["event_id"], again["event_id"]);
    // The same txn id from another device is another message.
    let other = s.login("ada", "correct horse battery staple").await;
    let (_, third) = other.send_text(&room, "txn-1", "obs due bed 4").await;
    assert_ne!(first["event_id"], third["event_id"]);
    let sync = a.sync(None, 0, None).await;
    let bodies = timeline_bodies(&sync, &room);
    assert_eq!(bodies, vec!["obs due bed 4", "obs due bed 4"], "exactly two messages");
    let mine = sync["rooms"]["join"][&room]["timeline"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_id"] == first["event_id"])
        .unwrap();
    assert_eq!(mine["unsigned"]["transaction_id"], "txn-1", "the sending device sees its txn id");
    // Bad content is refused and nothing is stored.
    let (st, _) =
        a.put(&format!("/_matrix/client/v3/rooms/{}/send/m.room.message/t9", enc(&room)), json!([1, 2])).await;
    assert_eq!(st, 400);
}

/// Many senders at once: every member's sync sees every acknowledged message exactly once, and
/// all members see the same order.
#[tokio::test]
async fn concurrent_sends_arrive_exactly_once_in_one_order() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let c = s.user("cat").await;
    let room = room_with(&a, &[&b, &c]).await;
    let since_a = a.sync(None, 0, None).await["next_batch"].as_str().unwrap().to_owned();
    let since_b = b.sync(None, 0, None).await["next_batch"].as_str().unwrap().to_owned();
    let senders = [a.clone(), b.clone(), c.clone()];
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        for j in 0..30 {
            let sender = sender.clone();
            let room = room.clone();
            tasks.push(tokio::spawn(async move {
                let body = format!("m-{i}-{j}");
                let (st, r) = sender.send_text(&room, &format!("t{j}"), &body).await;
                assert_eq!(st, 200, "{r}");
                body
            }));
        }
    }
    let mut sent = HashSet::new();
    for t in tasks {
        sent.insert(t.await.unwrap());
    }
    async fn collect(c: &Client, room: &str, mut since: String, want: usize) -> Vec<String> {
        let mut got = Vec::new();
        for _ in 0..200 {
            if got.len() >= want {
                break;
            }
            let sync = c.sync(Some(&since), 1000, Some(r#"{"room":{"timeline":{"limit":500}}}"#)).await;
            got.extend(timeline_bodies(&sync, room));
            since = sync["next_batch"].as_str().unwrap().to_owned();
        }
        got
    }
    let seen_a = collect(&a, &room, since_a, sent.len()).await;
    let seen_b = collect(&b, &room, since_b, sent.len()).await;
    assert_eq!(seen_a.len(), 90, "no loss, no duplicates");
    assert_eq!(seen_a.iter().collect::<HashSet<_>>(), sent.iter().collect::<HashSet<_>>());
    assert_eq!(seen_a, seen_b, "one order for everyone");
}

#[tokio::test]
async fn pagination_both_ways_and_history_after_leaving() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = room_with(&a, &[&b]).await;
    for i in 0..25 {
        a.send_text(&room, &format!("t{i}"), &format!("msg {i}")).await;
    }
    // Backwards from the end, in pages of 10.
    let mut from: Option<String> = None;
    let mut back = Vec::new();
    for _ in 0..20 {
        let mut path = format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=10", enc(&room));
        if let Some(f) = &from {
            path.push_str(&format!("&from={}", enc(f)));
        }
        let (st, page) = b.get(&path).await;
        assert_eq!(st, 200, "{page}");
        for e in page["chunk"].as_array().unwrap() {
            if e["type"] == "m.room.message" {
                back.push(e["content"]["body"].as_str().unwrap().to_owned());
            }
        }
        match page["end"].as_str() {
            Some(end) => from = Some(end.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("msg {i}")).collect();
    assert_eq!(back, expected);
    // Forwards from the start with a filter on type.
    let filter = enc(r#"{"types":["m.room.message"]}"#);
    let (_, page) =
        b.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=f&limit=5&filter={filter}", enc(&room))).await;
    let bodies: Vec<&str> =
        page["chunk"].as_array().unwrap().iter().map(|e| e["content"]["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec!["msg 0", "msg 1", "msg 2", "msg 3", "msg 4"]);
    let (_, page2) = b
        .get(&format!(
            "/_matrix/client/v3/rooms/{}/messages?dir=f&limit=5&filter={filter}&from={}",
            enc(&room),
            enc(page["end"].as_str().unwrap())
        ))
        .await;
    assert_eq!(page2["chunk"][0]["content"]["body"], "msg 5");
    // Ben leaves; what is said afterwards is not his to read.
    let (_, last_seen) = a.send_text(&room, "before", "before ben left").await;
    b.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
    let (_, secret) = a.send_text(&room, "after", "after ben left").await;
    let (st, page) = b.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50", enc(&room))).await;
    assert_eq!(st, 200);
    let bodies: Vec<&str> =
        page["chunk"].as_array().unwrap().iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    assert!(bodies.contains(&"before ben left"));
    assert!(!bodies.contains(&"after ben left"), "{bodies:?}");
    let (st, _) = b
        .get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(secret["event_id"].as_str().unwrap())))
        .await;
    assert_eq!(st, 404);
    let (st, _) = b
        .get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(last_seen["event_id"].as_str().unwrap())))
        .await;
    assert_eq!(st, 200);
    let (st, _) = b
        .get(&format!("/_matrix/client/v3/rooms/{}/context/{}", enc(&room), enc(secret["event_id"].as_str().unwrap())))
        .await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn joined_history_visibility_hides_the_past() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a
        .create_room(json!({"initial_state": [{"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "joined"}}]}))
        .await;
    a.send_text(&room, "t0", "before ben").await;
    a.invite(&room, &b.user_id).await;
    b.join(&room).await;
    a.send_text(&room, "t1", "after ben").await;
    let sync = b.sync(None, 0, None).await;
    assert_eq!(timeline_bodies(&sync, &room), vec!["after ben"]);
    let (_, page) = b.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b", enc(&room))).await;
    let bodies: Vec<&str> =
        page["chunk"].as_array().unwrap().iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    assert_eq!(bodies, vec!["after ben"]);
}

#[tokio::test]
async fn event_context_and_redaction() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = room_with(&a, &[&b]).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (_, r) = a.send_text(&room, &format!("t{i}"), &format!("m{i}")).await;
        ids.push(r["event_id"].as_str().unwrap().to_owned());
    }
    let (st, ev) = b.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(&ids[2]))).await;
    assert_eq!(st, 200);
    assert_eq!(ev["content"]["body"], "m2");
    assert_eq!(ev["room_id"], room.as_str());
    let (st, ctx) = b.get(&format!("/_matrix/client/v3/rooms/{}/context/{}?limit=2", enc(&room), enc(&ids[2]))).await;
    assert_eq!(st, 200, "{ctx}");
    assert_eq!(ctx["event"]["event_id"], ids[2].as_str());
    assert_eq!(ctx["events_before"][0]["event_id"], ids[1].as_str());
    assert_eq!(ctx["events_after"][0]["event_id"], ids[3].as_str());
    assert!(ctx["state"].as_array().unwrap().iter().any(|e| e["type"] == "m.room.create"));
    // Ben cannot redact Ada's message; Ada can.
    let (st, _) =
        b.put(&format!("/_matrix/client/v3/rooms/{}/redact/{}/r1", enc(&room), enc(&ids[0])), json!({})).await;
    assert_eq!(st, 403);
    let (st, red) = a
        .put(
            &format!("/_matrix/client/v3/rooms/{}/redact/{}/r1", enc(&room), enc(&ids[0])),
            json!({"reason": "wrong patient"}),
        )
        .await;
    assert_eq!(st, 200, "{red}");
    let (_, ev) = b.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(&ids[0]))).await;
    assert_eq!(ev["content"], json!({}), "redacted content is gone");
    assert_eq!(ev["unsigned"]["redacted_because"]["event_id"], red["event_id"]);
    let (st, _) = b.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc("$doesnotexist"))).await;
    assert_eq!(st, 404);
    let _: Value = ev;
}
