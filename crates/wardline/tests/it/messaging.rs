//! Sending and reading: idempotence, ordering under concurrency, pagination, visibility,
//! redaction.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::{Client, Server, cli, enc, timeline_bodies};

#[tokio::test]
async fn send_is_idempotent_per_device_and_txn() {
    let s = Server::start();
    let a = s.user("ada").await;
    let room = a.room_with(&[]).await;
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
    // The same txn id in another conversation is another request: refused with a reason, never
    // answered with the first conversation's event (which would leave this one unsent unseen).
    let second_room = a.room_with(&[]).await;
    let (st, body) = a.send_text(&second_room, "txn-1", "obs due bed 9").await;
    assert_eq!(st, 400, "{body}");
    assert_eq!(body["errcode"], "M_INVALID_PARAM", "{body}");
    assert_ne!(body["event_id"], first["event_id"]);
    let sync = a.sync(None, 0, None).await;
    assert!(timeline_bodies(&sync, &second_room).is_empty(), "nothing was sent there");
}

/// Many senders at once: every member's sync sees every acknowledged message exactly once, and
/// all members see the same order.
#[tokio::test]
async fn concurrent_sends_arrive_exactly_once_in_one_order() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let c = s.user("cat").await;
    let room = a.room_with(&[&b, &c]).await;
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
    let room = a.room_with(&[&b]).await;
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
    let room = a.room_with(&[&b]).await;
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

/// Filter type patterns are matched in linear time: a pattern with many stars against a long
/// type made a backtracking matcher run for longer than any test (minutes to centuries).
#[tokio::test]
async fn pathological_filter_patterns_through_messages() {
    let s = Server::start();
    let a = s.user("ada").await;
    let room = a.room_with(&[]).await;
    let long_type = "a".repeat(255);
    let (st, sent) =
        a.put(&format!("/_matrix/client/v3/rooms/{}/send/{long_type}/t1", enc(&room)), json!({"x": 1})).await;
    assert_eq!(st, 200, "{sent}");
    let pathological = format!("{}*b", "*a".repeat(30));
    for (pattern, found) in [(pathological.as_str(), false), ("*a*a*a*b", false), ("*a*a*a*a", true)] {
        let filter = enc(&json!({"types": [pattern]}).to_string());
        let (st, page) =
            a.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&filter={filter}", enc(&room))).await;
        assert_eq!(st, 200, "{page}");
        let hit = page["chunk"].as_array().unwrap().iter().any(|e| e["event_id"] == sent["event_id"]);
        assert_eq!(hit, found, "pattern {pattern}");
        let filter = enc(&json!({"not_types": [pattern]}).to_string());
        let (st, page) = a
            .get(&format!(
                "/_matrix/client/v3/rooms/{}/context/{}?filter={filter}",
                enc(&room),
                enc(sent["event_id"].as_str().unwrap())
            ))
            .await;
        assert_eq!(st, 200, "{page}");
    }
    // Over the limits: a pattern longer than any event type, or too many of them.
    let too_long = enc(&json!({"types": ["a".repeat(256)]}).to_string());
    let (st, body) = a.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&filter={too_long}", enc(&room))).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");
    let many: Vec<String> = (0..101).map(|i| format!("t{i}.*")).collect();
    let too_many = enc(&json!({"not_types": many}).to_string());
    let (st, body) = a.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&filter={too_many}", enc(&room))).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");
}

/// A sync filter with room for a whole test room's timeline.
const LONG: &str = r#"{"room":{"timeline":{"limit":100}}}"#;

/// What each history visibility shows a user who left and came back, through every way of
/// reading a room: incremental and initial `/sync`, `/messages`, `/event`, `/context`.
#[tokio::test]
async fn history_visibility_across_leaving_and_rejoining() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    // (history visibility, sees what was said while away, sees what was said while invited)
    for (hv, away_seen, invited_seen) in [("shared", true, true), ("invited", false, true), ("joined", false, false)] {
        let room = a
            .create_room(json!({
                "invite": [b.user_id],
                "initial_state": [{"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": hv}}],
            }))
            .await;
        b.join(&room).await;
        let (_, before) = a.send_text(&room, &format!("{hv}0"), "before").await;
        let token = b.sync(None, 0, Some(LONG)).await["next_batch"].as_str().unwrap().to_owned();
        b.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
        let (_, away) = a.send_text(&room, &format!("{hv}1"), "away").await;
        let (st, _) = a
            .put(
                &format!("/_matrix/client/v3/rooms/{}/state/m.room.topic/", enc(&room)),
                json!({"topic": "set while away"}),
            )
            .await;
        assert_eq!(st, 200);
        a.invite(&room, &b.user_id).await;
        let (_, invited) = a.send_text(&room, &format!("{hv}2"), "invited").await;
        b.join(&room).await;
        let (_, back) = a.send_text(&room, &format!("{hv}3"), "back").await;

        let mut want = vec!["before"];
        if away_seen {
            want.push("away");
        }
        if invited_seen {
            want.push("invited");
        }
        want.push("back");
        let incremental = b.sync(Some(&token), 0, Some(LONG)).await;
        let mut got = timeline_bodies(&incremental, &room);
        got.retain(|m| m != "before");
        let mut want_new = want.clone();
        want_new.retain(|m| *m != "before");
        assert_eq!(got, want_new, "{hv}: incremental sync after rejoining");
        let topic = &incremental["rooms"]["join"][&room]["state"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .chain(incremental["rooms"]["join"][&room]["timeline"]["events"].as_array().unwrap())
            .filter(|e| e["type"] == "m.room.topic")
            .map(|e| e["content"]["topic"].clone())
            .next_back();
        assert_eq!(topic, &Some(json!("set while away")), "{hv}: the state is current after rejoining");
        assert_eq!(
            incremental["rooms"]["join"][&room]["unread_notifications"]["notification_count"], 1,
            "{hv}: only what was said since rejoining counts as unread"
        );
        let initial = b.sync(None, 0, Some(LONG)).await;
        let after_gap = match hv {
            "shared" => want.clone(),
            "invited" => vec!["invited", "back"],
            _ => vec!["back"],
        };
        assert_eq!(timeline_bodies(&initial, &room), after_gap, "{hv}: initial sync, from the end of the gap");
        let (_, page) = b.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=f&limit=100", enc(&room))).await;
        let bodies: Vec<&str> =
            page["chunk"].as_array().unwrap().iter().filter_map(|e| e["content"]["body"].as_str()).collect();
        assert_eq!(bodies, want, "{hv}: /messages");
        for (sent, seen) in [(&before, true), (&away, away_seen), (&invited, invited_seen), (&back, true)] {
            let id = enc(sent["event_id"].as_str().unwrap());
            let expected = if seen { 200 } else { 404 };
            let (st, _) = b.get(&format!("/_matrix/client/v3/rooms/{}/event/{id}", enc(&room))).await;
            assert_eq!(st, expected, "{hv}: /event of {sent}");
            let (st, ctx) = b.get(&format!("/_matrix/client/v3/rooms/{}/context/{id}?limit=10", enc(&room))).await;
            assert_eq!(st, expected, "{hv}: /context of {sent}");
            if seen {
                let around: Vec<&str> = ["events_before", "events_after"]
                    .iter()
                    .flat_map(|k| ctx[*k].as_array().unwrap().iter())
                    .filter_map(|e| e["content"]["body"].as_str())
                    .collect();
                assert!(around.iter().all(|m| want.contains(m)), "{hv}: /context around {sent}: {around:?}");
            }
        }
    }
}

/// `m.room.redaction` goes through the redaction rule however it is sent, and the transcript
/// says "deleted" only of what was deleted.
#[tokio::test]
async fn redactions_only_through_the_redaction_rule() {
    let mut s = Server::start();
    let _keep = s.keep_dir();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.room_with(&[&b]).await;
    let (_, ada_msg) = a.send_text(&room, "t0", "Bed 12 for theatre").await;
    let (_, ben_msg) = b.send_text(&room, "t1", "Wrong bed").await;
    let target = |m: &Value| m["event_id"].as_str().unwrap().to_owned();
    // Ben (power 0) cannot remove Ada's message through /send, nor through /state.
    let (st, body) = b
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.redaction/r1", enc(&room)),
            json!({"redacts": target(&ada_msg)}),
        )
        .await;
    assert_eq!(st, 403, "{body}");
    let (st, _) = b
        .put(
            &format!("/_matrix/client/v3/rooms/{}/state/m.room.redaction/", enc(&room)),
            json!({"redacts": target(&ada_msg)}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, body) =
        b.put(&format!("/_matrix/client/v3/rooms/{}/send/m.room.redaction/r2", enc(&room)), json!({})).await;
    assert_eq!(st, 400, "a redaction without a target: {body}");
    let (_, ev) = a.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(&target(&ada_msg)))).await;
    assert_eq!(ev["content"]["body"], "Bed 12 for theatre");
    // Through /send, his own message is redacted as by /redact.
    let (st, _) = b
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.redaction/r3", enc(&room)),
            json!({"redacts": target(&ben_msg)}),
        )
        .await;
    assert_eq!(st, 200);
    let (_, ev) = a.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(&target(&ben_msg)))).await;
    assert_eq!(ev["content"], json!({}), "{ev}");
    assert!(s.terminate());
    let (ok, text, err) = cli(&s.data_dir, &["room", "transcript", &room], None);
    assert!(ok, "{err}");
    assert!(text.contains("Dr ada (@ada:localhost): Bed 12 for theatre"), "{text}");
    assert_eq!(text.matches("deleted a message").count(), 1, "{text}");
    assert!(text.contains("[message deleted by Dr ben (@ben:localhost)"), "{text}");
}
