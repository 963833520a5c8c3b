//! `/sync`: long-polls woken by every kind of change, filters, limits, unread counts, and
//! sessions ended under an open long-poll.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Client, Server, cli, enc, timeline_bodies};

/// Starts a 30 s long-poll, runs `act`, and returns the response and how long it took. A
/// response well before 30 s shows the long-poll was woken.
async fn woken_by<F, Fut>(c: &Client, since: &str, act: F) -> (Value, Duration)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let poller = c.clone();
    let since = since.to_owned();
    let start = Instant::now();
    let handle = tokio::spawn(async move { poller.sync(Some(&since), 30_000, None).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    act().await;
    let body = handle.await.unwrap();
    (body, start.elapsed())
}

fn next(sync: &Value) -> String {
    sync["next_batch"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn long_polls_wake_for_every_kind_of_change() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.create_room(json!({"invite": [b.user_id]})).await;
    b.join(&room).await;
    let mut since = next(&b.sync(None, 0, None).await);

    // A message.
    let (body, took) = woken_by(&b, &since, || async {
        a.send_text(&room, "t1", "bed 4 needs review").await;
    })
    .await;
    assert!(took < Duration::from_secs(20));
    assert_eq!(timeline_bodies(&body, &room), vec!["bed 4 needs review"]);
    let event_id = body["rooms"]["join"][&room]["timeline"]["events"][0]["event_id"].as_str().unwrap().to_owned();
    assert_eq!(body["rooms"]["join"][&room]["unread_notifications"]["notification_count"], 1);
    since = next(&body);

    // A receipt.
    let (body, took) = woken_by(&a, &next(&a.sync(None, 0, None).await), || async {
        let (st, _) = b
            .post(&format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", enc(&room), enc(&event_id)), json!({}))
            .await;
        assert_eq!(st, 200);
    })
    .await;
    assert!(took < Duration::from_secs(20));
    let has_receipt = |body: &Value| {
        body["rooms"]["join"][&room]["ephemeral"]["events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|e| e["type"] == "m.receipt"))
    };
    // Ada's poll may first be woken by her message's delivery to Ben (a status change of her
    // own message, announced up to 200 ms later): then the receipt comes in the next answer.
    let body = if has_receipt(&body) { body } else { a.sync(Some(&next(&body)), 10_000, None).await };
    let eph = &body["rooms"]["join"][&room]["ephemeral"]["events"];
    let receipt = eph.as_array().unwrap().iter().find(|e| e["type"] == "m.receipt").expect("receipt event");
    assert!(receipt["content"][&event_id]["m.read"]["@ben:localhost"]["ts"].is_u64(), "{receipt}");
    let b_sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(
        b_sync["rooms"]["join"][&room]["unread_notifications"]["notification_count"], 0,
        "read after the receipt"
    );
    since = next(&b_sync);

    // Typing.
    let (body, took) = woken_by(&b, &since, || async {
        let (st, _) = a
            .put(
                &format!("/_matrix/client/v3/rooms/{}/typing/{}", enc(&room), enc(&a.user_id)),
                json!({"typing": true, "timeout": 10000}),
            )
            .await;
        assert_eq!(st, 200);
    })
    .await;
    assert!(took < Duration::from_secs(20));
    let typing = body["rooms"]["join"][&room]["ephemeral"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "m.typing")
        .cloned()
        .expect("typing");
    assert_eq!(typing["content"]["user_ids"], json!(["@ada:localhost"]));
    since = next(&body);

    // Account data.
    let (body, took) = woken_by(&b, &since, || async {
        let (st, _) = b
            .put(
                &format!("/_matrix/client/v3/user/{}/account_data/org.wardline.test", enc(&b.user_id)),
                json!({"x": 1}),
            )
            .await;
        assert_eq!(st, 200);
    })
    .await;
    assert!(took < Duration::from_secs(20));
    assert!(
        body["account_data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "org.wardline.test" && e["content"]["x"] == 1)
    );
    since = next(&body);

    // An invite.
    let (body, took) = woken_by(&b, &since, || async {
        a.create_room(json!({"name": "Handover", "invite": ["@ben:localhost"]})).await;
    })
    .await;
    assert!(took < Duration::from_secs(20));
    let invites = body["rooms"]["invite"].as_object().unwrap();
    assert_eq!(invites.len(), 1);
    let state = invites.values().next().unwrap()["invite_state"]["events"].as_array().unwrap().clone();
    assert!(state.iter().any(|e| e["type"] == "m.room.name" && e["content"]["name"] == "Handover"));
    assert!(state.iter().any(|e| e["type"] == "m.room.member"
        && e["state_key"] == "@ben:localhost"
        && e["content"]["membership"] == "invite"));

    // Nothing new: the long-poll waits for its timeout.
    let start = Instant::now();
    let quiet = b.sync(Some(&next(&body)), 700, None).await;
    assert!(start.elapsed() >= Duration::from_millis(650), "returned early with {quiet}");
    assert_eq!(quiet["rooms"]["join"].as_object().map(serde_json::Map::len), Some(0));
}

#[tokio::test]
async fn filters_stored_unchanged_and_inline() {
    let s = Server::start();
    let a = s.user("ada").await;
    let room = a.create_room(json!({"name": "Ward 7"})).await;
    for i in 0..12 {
        a.send_text(&room, &format!("t{i}"), &format!("m{i}")).await;
    }
    let text = r#"{"room":{"timeline":{"limit":5}},"presence":{"types":[]},"event_format":"client"}"#;
    let resp = a
        .http
        .post(format!("{}/_matrix/client/v3/user/{}/filter", s.base, enc(&a.user_id)))
        .bearer_auth(a.token.as_ref().unwrap())
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let id = resp.json::<Value>().await.unwrap()["filter_id"].as_str().unwrap().to_owned();
    let stored = a
        .http
        .get(format!("{}/_matrix/client/v3/user/{}/filter/{}", s.base, enc(&a.user_id), id))
        .bearer_auth(a.token.as_ref().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(stored, text, "the stored filter comes back unchanged");
    let sync = a.sync(None, 0, Some(&id)).await;
    let t = &sync["rooms"]["join"][&room]["timeline"];
    assert_eq!(t["events"].as_array().unwrap().len(), 5);
    assert_eq!(t["limited"], true);
    assert!(t["prev_batch"].is_string());
    assert_eq!(timeline_bodies(&sync, &room), vec!["m7", "m8", "m9", "m10", "m11"]);
    // With a limited timeline the state before it comes in `state`.
    let state = sync["rooms"]["join"][&room]["state"]["events"].as_array().unwrap();
    assert!(state.iter().any(|e| e["type"] == "m.room.name"));
    // Paginate from prev_batch to get the rest.
    let (_, page) = a
        .get(&format!(
            "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=3&from={}",
            enc(&room),
            enc(t["prev_batch"].as_str().unwrap())
        ))
        .await;
    let bodies: Vec<&str> =
        page["chunk"].as_array().unwrap().iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    assert_eq!(bodies, vec!["m6", "m5", "m4"]);
    // Inline filter: only state events in the timeline.
    let sync = a.sync(None, 0, Some(r#"{"room":{"timeline":{"types":["m.room.name"]}}}"#)).await;
    let events = sync["rooms"]["join"][&room]["timeline"]["events"].as_array().unwrap();
    assert!(events.iter().all(|e| e["type"] == "m.room.name"));
    // An unknown filter id is an error, not an empty filter.
    let (st, _) = a.get("/_matrix/client/v3/sync?filter=999").await;
    assert_eq!(st, 404);
    // Someone else's filter is not readable.
    let b = s.user("ben").await;
    let (st, _) = b.get(&format!("/_matrix/client/v3/user/{}/filter/{}", enc(&a.user_id), id)).await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn deactivation_from_the_cli_ends_an_open_long_poll() {
    let s = Server::start();
    let a = s.user("ada").await;
    let since = next(&a.sync(None, 0, None).await);
    let poller = a.clone();
    let start = Instant::now();
    let handle = tokio::spawn(async move {
        poller.get(&format!("/_matrix/client/v3/sync?timeout=30000&since={}", enc(&since))).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (ok, out, err) = cli(&s.data_dir, &["user", "deactivate", "ada"], None);
    assert!(ok, "{out} {err}");
    let (st, body) = handle.await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(20), "the long-poll was ended, not timed out");
    assert_eq!((st, body["errcode"].as_str()), (401, Some("M_UNKNOWN_TOKEN")));
    let c = s.client();
    let (st, _) = c
        .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ada"}, "password": "correct horse battery staple"}))
        .await;
    assert_eq!(st, 403, "a deactivated account cannot sign in");
}

#[tokio::test]
async fn logout_all_and_graceful_shutdown_answer_long_polls() {
    let mut s = Server::start();
    let a = s.user("ada").await;
    let a2 = s.login("ada", "correct horse battery staple").await;
    let since = next(&a.sync(None, 0, None).await);
    let poller = a.clone();
    let since2 = since.clone();
    let handle = tokio::spawn(async move {
        poller.get(&format!("/_matrix/client/v3/sync?timeout=30000&since={}", enc(&since2))).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (st, _) = a2.post("/_matrix/client/v3/logout/all", json!({})).await;
    assert_eq!(st, 200);
    let (st, _) = handle.await.unwrap();
    assert_eq!(st, 401);

    let b = s.user("ben").await;
    let since = next(&b.sync(None, 0, None).await);
    let poller = b.clone();
    let start = Instant::now();
    let handle = tokio::spawn(async move {
        poller.get(&format!("/_matrix/client/v3/sync?timeout=30000&since={}", enc(&since))).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(s.terminate(), "server exits cleanly on SIGTERM");
    let (st, _) = handle.await.unwrap();
    assert_eq!(st, 200, "the in-flight long-poll was answered");
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn leaving_shows_in_the_leave_section_and_full_state_resends_state() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.create_room(json!({"name": "Ward 7", "invite": [b.user_id]})).await;
    b.join(&room).await;
    let since = next(&b.sync(None, 0, None).await);
    a.send_text(&room, "t1", "before leaving").await;
    b.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
    a.send_text(&room, "t2", "after leaving").await;
    let sync = b.sync(Some(&since), 0, None).await;
    let left = &sync["rooms"]["leave"][&room]["timeline"]["events"];
    let bodies: Vec<&str> = left.as_array().unwrap().iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    assert_eq!(bodies, vec!["before leaving"]);
    assert!(left.as_array().unwrap().iter().any(|e| e["type"] == "m.room.member"
        && e["state_key"] == "@ben:localhost"
        && e["content"]["membership"] == "leave"));
    assert!(sync["rooms"]["join"].get(&room).is_none());
    // A later sync no longer mentions the room; an initial sync only with include_leave.
    let later = b.sync(Some(&next(&sync)), 0, None).await;
    assert!(later["rooms"]["leave"].get(&room).is_none());
    let initial = b.sync(None, 0, None).await;
    assert!(initial["rooms"]["leave"].get(&room).is_none());
    let with_leave = b.sync(None, 0, Some(r#"{"room":{"include_leave":true}}"#)).await;
    assert!(with_leave["rooms"]["leave"].get(&room).is_some());

    // full_state: the whole state again although nothing changed.
    let a_since = next(&a.sync(None, 0, None).await);
    let (st, full) = a.get(&format!("/_matrix/client/v3/sync?since={}&full_state=true&timeout=0", enc(&a_since))).await;
    assert_eq!(st, 200);
    let state = full["rooms"]["join"][&room]["state"]["events"].as_array().unwrap();
    assert!(state.iter().any(|e| e["type"] == "m.room.name"), "{full}");
    assert!(state.iter().any(|e| e["type"] == "m.room.create"));
}

#[tokio::test]
async fn room_account_data_tags_and_presence() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.create_room(json!({"invite": [b.user_id]})).await;
    b.join(&room).await;
    let since = next(&a.sync(None, 0, None).await);
    let base = format!("/_matrix/client/v3/user/{}/rooms/{}", enc(&a.user_id), enc(&room));
    let (st, _) = a.put(&format!("{base}/tags/m.favourite"), json!({"order": 0.5})).await;
    assert_eq!(st, 200);
    let (_, tags) = a.get(&format!("{base}/tags")).await;
    assert_eq!(tags["tags"]["m.favourite"]["order"], 0.5);
    let (st, _) = a.put(&format!("{base}/account_data/org.wardline.draft"), json!({"text": "bed 4"})).await;
    assert_eq!(st, 200);
    let (_, data) = a.get(&format!("{base}/account_data/org.wardline.draft")).await;
    assert_eq!(data["text"], "bed 4");
    let sync = a.sync(Some(&since), 0, None).await;
    let kinds: Vec<&str> = sync["rooms"]["join"][&room]["account_data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(kinds.contains(&"m.tag") && kinds.contains(&"org.wardline.draft"), "{kinds:?}");
    let (st, _) = a.delete_path(&format!("{base}/tags/m.favourite")).await;
    assert_eq!(st, 200);
    let (_, tags) = a.get(&format!("{base}/tags")).await;
    assert_eq!(tags["tags"], json!({}));
    let (st, _) = b.get(&format!("{base}/tags")).await;
    assert_eq!(st, 403, "someone else's tags are private");
    // Presence with a status message, visible to a colleague in a shared room.
    let b_since = next(&b.sync(None, 0, None).await);
    let (st, _) = a
        .put(
            &format!("/_matrix/client/v3/presence/{}/status", enc(&a.user_id)),
            json!({"presence": "unavailable", "status_msg": "In theatre"}),
        )
        .await;
    assert_eq!(st, 200);
    let (_, p) = b.get(&format!("/_matrix/client/v3/presence/{}/status", enc(&a.user_id))).await;
    assert_eq!(p["presence"], "unavailable");
    assert_eq!(p["status_msg"], "In theatre");
    let sync = b.sync(Some(&b_since), 0, Some(r#"{"presence":{"types":["m.presence"]}}"#)).await;
    assert!(
        sync["presence"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["sender"] == "@ada:localhost" && e["content"]["status_msg"] == "In theatre")
    );
}

/// Unread counts are carried from sync to sync; each way they can drop must still show.
#[tokio::test]
async fn unread_counts_follow_messages_reads_own_posts_and_deletions() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.create_room(json!({"invite": [b.user_id]})).await;
    b.join(&room).await;
    let count = |sync: &Value| sync["rooms"]["join"][&room]["unread_notifications"]["notification_count"].clone();
    let mut since = next(&b.sync(None, 0, None).await);
    let mut ids = Vec::new();
    for (i, expected) in [(1, 1), (2, 2), (3, 3)] {
        let (st, body) = a.send_text(&room, &format!("t{i}"), &format!("obs round {i}")).await;
        assert_eq!(st, 200);
        ids.push(body["event_id"].as_str().unwrap().to_owned());
        let sync = b.sync(Some(&since), 0, None).await;
        assert_eq!(count(&sync), expected, "after message {i}: {sync}");
        since = next(&sync);
    }
    // Ben reads up to the second message: one left.
    let (st, _) =
        b.post(&format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", enc(&room), enc(&ids[1])), json!({})).await;
    assert_eq!(st, 200);
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(count(&sync), 1, "{sync}");
    since = next(&sync);
    // Ada sends two more: three.
    a.send_text(&room, "t4", "obs round 4").await;
    let (_, last) = a.send_text(&room, "t5", "obs round 5").await;
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(count(&sync), 3, "{sync}");
    since = next(&sync);
    // Ada deletes her last message: two.
    let (st, _) = a
        .put(
            &format!("/_matrix/client/v3/rooms/{}/redact/{}/r1", enc(&room), enc(last["event_id"].as_str().unwrap())),
            json!({"reason": "wrong patient"}),
        )
        .await;
    assert_eq!(st, 200);
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(count(&sync), 2, "{sync}");
    since = next(&sync);
    // Ben replies: nothing unread before his own message.
    b.send_text(&room, "b1", "reviewed").await;
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(count(&sync), 0, "{sync}");
    // A fresh sync agrees with the carried count.
    a.send_text(&room, "t6", "obs round 6").await;
    let carried = count(&b.sync(Some(&next(&sync)), 0, None).await);
    let fresh = count(&b.sync(None, 0, None).await);
    assert_eq!((carried, fresh), (json!(1), json!(1)));
}

/// The same linear matching and limits for `/sync` filters: timeline `not_types`, account data,
/// stored filters.
#[tokio::test]
async fn pathological_filter_patterns_through_sync() {
    let s = Server::start();
    let a = s.user("ada").await;
    let room = a.create_room(json!({})).await;
    let long_type = "a".repeat(255);
    let (st, _) = a.put(&format!("/_matrix/client/v3/rooms/{}/send/{long_type}/t1", enc(&room)), json!({})).await;
    assert_eq!(st, 200);
    let (st, _) =
        a.put(&format!("/_matrix/client/v3/user/{}/account_data/{long_type}", enc(&a.user_id)), json!({})).await;
    assert_eq!(st, 200);
    let pattern = format!("{}*b", "*a".repeat(30));
    let filter = json!({
        "room": {"timeline": {"not_types": [pattern], "limit": 50}, "state": {"not_types": [pattern]}},
        "account_data": {"not_types": [pattern]},
        "presence": {"not_types": [pattern]},
    })
    .to_string();
    let sync = a.sync(None, 0, Some(&filter)).await;
    let timeline = sync["rooms"]["join"][&room]["timeline"]["events"].as_array().unwrap();
    assert!(timeline.iter().any(|e| e["type"] == long_type.as_str()), "not excluded: the pattern needs a b");
    assert!(sync["account_data"]["events"].as_array().unwrap().iter().any(|e| e["type"] == long_type.as_str()));
    // Stored, then used by id.
    let (st, created) = a
        .post(&format!("/_matrix/client/v3/user/{}/filter", enc(&a.user_id)), serde_json::from_str(&filter).unwrap())
        .await;
    assert_eq!(st, 200, "{created}");
    let sync = a.sync(None, 0, Some(created["filter_id"].as_str().unwrap())).await;
    assert!(sync["rooms"]["join"][&room]["timeline"]["events"].is_array());
    // Over the limits, inline or stored; and something that is not a filter.
    let too_long = json!({"room": {"timeline": {"not_types": ["a".repeat(256)]}}});
    let (st, body) = a.get(&format!("/_matrix/client/v3/sync?filter={}", enc(&too_long.to_string()))).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");
    let path = format!("/_matrix/client/v3/user/{}/filter", enc(&a.user_id));
    let (st, body) = a.post(&path, too_long).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");
    let too_many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let (st, body) = a.post(&path, json!({"account_data": {"types": too_many}})).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");
    let (st, body) = a.post(&path, json!({"room": {"timeline": {"types": "m.room.message"}}})).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{body}");
}

/// Presence and status messages are for colleagues who share a conversation (and
/// administrators); a deactivated account answers like an unknown one.
#[tokio::test]
async fn presence_only_for_colleagues_and_not_for_deactivated_accounts() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let c = s.user("cat").await;
    let (ok, out, err) =
        cli(&s.data_dir, &["user", "add", "boss", "--admin"], Some(&format!("{}\n", crate::harness::PASSWORD)));
    assert!(ok, "{out}{err}");
    let boss = s.login("boss", crate::harness::PASSWORD).await;
    boss.enrol_totp().await;
    let room = a.create_room(json!({"invite": [b.user_id]})).await;
    b.join(&room).await;
    let c_since = next(&c.sync(None, 0, None).await);
    let status = format!("/_matrix/client/v3/presence/{}/status", enc(&a.user_id));
    let (st, _) =
        a.put(&status, json!({"presence": "online", "status_msg": "In theatre 3 with Mr Smith (bed 12)"})).await;
    assert_eq!(st, 200);
    for (who, expected) in [(&a, 200), (&b, 200), (&boss, 200), (&c, 403)] {
        let (st, body) = who.get(&status).await;
        assert_eq!(st, expected, "{}: {body}", who.user_id);
        if expected == 403 {
            assert!(body.get("status_msg").is_none() && body.get("presence").is_none(), "{body}");
        }
    }
    let sync = c.sync(Some(&c_since), 0, None).await;
    assert!(!sync["presence"]["events"].as_array().unwrap().iter().any(|e| e["sender"] == "@ada:localhost"), "{sync}");
    // Deactivated: the same answer as for someone who never existed, for everyone.
    let (ok, out, err) = cli(&s.data_dir, &["user", "deactivate", "ada"], None);
    assert!(ok, "{out} {err}");
    let (unknown_st, unknown) = b.get("/_matrix/client/v3/presence/@nobody:localhost/status").await;
    assert_eq!(unknown_st, 404);
    for who in [&b, &boss, &c] {
        let (st, body) = who.get(&status).await;
        assert_eq!((st, &body["errcode"]), (unknown_st, &unknown["errcode"]), "{}: {body}", who.user_id);
    }
}
