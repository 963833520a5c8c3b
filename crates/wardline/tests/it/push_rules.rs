//! Push rules over HTTP: counts in `/sync`, the rule endpoints, `/notifications`, and
//! Wardline's protected rules for urgent messages.

use serde_json::{Value, json};

use crate::harness::{Client, Server, enc};

fn next(sync: &Value) -> String {
    sync["next_batch"].as_str().unwrap().to_owned()
}

fn counts(sync: &Value, room: &str) -> (Value, Value) {
    let n = &sync["rooms"]["join"][room]["unread_notifications"];
    (n["notification_count"].clone(), n["highlight_count"].clone())
}

fn push_rules_data(sync: &Value) -> Option<Value> {
    sync["account_data"]["events"]
        .as_array()?
        .iter()
        .find(|e| e["type"] == "m.push_rules")
        .map(|e| e["content"].clone())
}

const RULES: &str = "/_matrix/client/v3/pushrules/global";

/// Ada, Ben and Cy in "Ward 7"; Ben's sync token after joining.
async fn ward(s: &Server) -> (Client, Client, Client, String, String) {
    let (a, b, c) = (s.user("ada").await, s.user("ben").await, s.user("cy").await);
    let room = a.room_with(&[&b, &c]).await;
    let since = next(&b.sync(None, 0, None).await);
    (a, b, c, room, since)
}

async fn mention(a: &Client, room: &str, txn: &str, who: &str) -> String {
    a.sent_event(
        room,
        "m.room.message",
        txn,
        json!({"msgtype": "m.text", "body": format!("{who}: can you review bed 4?"), "m.mentions": {"user_ids": [who]}}),
    )
    .await
}

async fn urgent(a: &Client, room: &str, txn: &str) -> String {
    a.sent_event(
        room,
        "m.room.message",
        txn,
        json!({"msgtype": "m.text", "body": "K+ 6.9 bed 4", "org.wardline.priority": {"level": "urgent"}}),
    )
    .await
}

#[tokio::test]
async fn a_mention_highlights_and_counts_drop_on_read_receipt() {
    let s = Server::start();
    let (a, b, _c, room, since) = ward(&s).await;
    a.send_text(&room, "t1", "obs stable").await;
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(1), json!(0)), "{sync}");
    let since = next(&sync);
    let id = mention(&a, &room, "t2", &b.user_id).await;
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(2), json!(1)), "{sync}");
    let since = next(&sync);
    // Someone else's mention does not highlight for Ben.
    mention(&a, &room, "t3", "@cy:localhost").await;
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(3), json!(1)), "{sync}");
    let since = next(&sync);
    // Ben reads up to the mention: only Cy's mention is left, which does not highlight.
    let (st, body) =
        b.post(&format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", enc(&room), enc(&id)), json!({})).await;
    assert_eq!(st, 200, "{body}");
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(1), json!(0)), "{sync}");
    // A fresh sync agrees.
    assert_eq!(counts(&b.sync(None, 0, None).await, &room), (json!(1), json!(0)));
}

#[tokio::test]
async fn a_muted_room_counts_nothing_but_an_urgent_message_still_rings() {
    let s = Server::start();
    let (a, b, _c, room, since) = ward(&s).await;
    let (st, body) = b.put(&format!("{RULES}/room/{}", enc(&room)), json!({"actions": []})).await;
    assert_eq!(st, 200, "{body}");
    a.send_text(&room, "t1", "obs stable").await;
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(0), json!(0)), "muted: {sync}");
    let since = next(&sync);
    urgent(&a, &room, "u1").await;
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(1), json!(1)), "urgent in a muted room: {sync}");
    let since = next(&sync);
    // Even with every notification turned off by the master rule.
    let (st, _) = b.put(&format!("{RULES}/override/.m.rule.master/enabled"), json!({"enabled": true})).await;
    assert_eq!(st, 200);
    mention(&a, &room, "t2", &b.user_id).await;
    urgent(&a, &room, "u2").await;
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(2), json!(2)), "master on: only the urgent messages: {sync}");
    // The protected rules cannot be muted, changed, moved or deleted.
    let protected = ".org.wardline.rule.urgent";
    for (method, path, body) in [
        (reqwest::Method::PUT, format!("{RULES}/override/{protected}/enabled"), json!({"enabled": false})),
        (reqwest::Method::PUT, format!("{RULES}/override/{protected}/actions"), json!({"actions": []})),
        (reqwest::Method::DELETE, format!("{RULES}/override/{protected}"), json!({})),
        (
            reqwest::Method::PUT,
            format!("{RULES}/override/{protected}"),
            json!({"actions": [], "conditions": [{"kind": "event_match", "key": "type", "pattern": "x"}]}),
        ),
        (
            reqwest::Method::PUT,
            format!("{RULES}/override/mine?before={protected}"),
            json!({"actions": [], "conditions": []}),
        ),
    ] {
        let (st, body) = b.send_json(method, &path, body).await;
        assert_eq!((st, body["errcode"].as_str()), (400, Some("ORG.WARDLINE.PROTECTED_RULE")), "{path}: {body}");
        assert!(body["error"].as_str().unwrap().contains("patient safety"), "{body}");
    }
    let (st, rule) = b.get(&format!("{RULES}/override/{protected}")).await;
    assert_eq!(st, 200);
    assert_eq!(rule["enabled"], true, "{rule}");
    let (_, enabled) = b.get(&format!("{RULES}/override/{protected}/enabled")).await;
    assert_eq!(enabled, json!({"enabled": true}));
}

#[tokio::test]
async fn a_keyword_rule_highlights() {
    let s = Server::start();
    let (a, b, _c, room, since) = ward(&s).await;
    let (st, body) = b
        .put(
            &format!("{RULES}/content/potassium"),
            json!({"pattern": "potassium", "actions": ["notify", {"set_tweak": "highlight"}]}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    a.send_text(&room, "t1", "Potassium 6.9 in bed 4").await;
    a.send_text(&room, "t2", "sodium fine").await;
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(2), json!(1)), "{sync}");
}

#[tokio::test]
async fn changing_rules_recounts_and_sync_delivers_the_rules() {
    let s = Server::start();
    let (a, b, _c, room, _) = ward(&s).await;
    let first = b.sync(None, 0, None).await;
    let rules = push_rules_data(&first).expect("a first sync carries the push rules");
    assert_eq!(rules["global"]["override"][0]["rule_id"], ".org.wardline.rule.emergency", "{rules}");
    let since = next(&first);
    for i in 0..3 {
        a.send_text(&room, &format!("t{i}"), "obs").await;
    }
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(3), json!(0)));
    let since = next(&sync);
    // Ben turns off notifications for ordinary group messages: the counts drop at once, and the
    // room is in the next sync for it, with the new rules.
    let (st, body) = b.put(&format!("{RULES}/underride/.m.rule.message/enabled"), json!({"enabled": false})).await;
    assert_eq!(st, 200, "{body}");
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(0), json!(0)), "{sync}");
    let rules = push_rules_data(&sync).expect("the changed rules are in the sync");
    let message = rules["global"]["underride"].as_array().unwrap().iter().find(|r| r["rule_id"] == ".m.rule.message");
    assert_eq!(message.unwrap()["enabled"], false, "{rules}");
    // Setting it back brings the count back.
    let since = next(&sync);
    b.put(&format!("{RULES}/underride/.m.rule.message/enabled"), json!({"enabled": true})).await;
    let sync = b.sync(Some(&since), 0, None).await;
    assert_eq!(counts(&sync, &room), (json!(3), json!(0)), "{sync}");
    // The account data endpoint still refuses a direct write.
    let (st, _) =
        b.put(&format!("/_matrix/client/v3/user/{}/account_data/m.push_rules", enc(&b.user_id)), json!({})).await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn rule_endpoints_follow_the_spec() {
    let s = Server::start();
    let b = s.user("ben").await;
    let (st, all) = b.get("/_matrix/client/v3/pushrules/").await;
    assert_eq!(st, 200);
    let (st, global) = b.get("/_matrix/client/v3/pushrules/global/").await;
    assert_eq!(st, 200);
    assert_eq!(all["global"], global);
    // Three room rules placed with before / after.
    for (id, query) in
        [("!a:localhost", ""), ("!b:localhost", "?after=!a:localhost"), ("!c:localhost", "?before=!a:localhost")]
    {
        let (st, body) = b.put(&format!("{RULES}/room/{}{query}", enc(id)), json!({"actions": []})).await;
        assert_eq!(st, 200, "{id}: {body}");
    }
    let (_, global) = b.get("/_matrix/client/v3/pushrules/global/").await;
    let order: Vec<&str> = global["room"].as_array().unwrap().iter().map(|r| r["rule_id"].as_str().unwrap()).collect();
    assert_eq!(order, ["!c:localhost", "!a:localhost", "!b:localhost"]);
    let rule = format!("{RULES}/room/{}", enc("!a:localhost"));
    let (st, body) = b.get(&rule).await;
    assert_eq!((st, body["default"].clone(), body["enabled"].clone()), (200, json!(false), json!(true)), "{body}");
    let (st, _) = b.put(&format!("{rule}/enabled"), json!({"enabled": false})).await;
    assert_eq!(st, 200);
    let (_, enabled) = b.get(&format!("{rule}/enabled")).await;
    assert_eq!(enabled, json!({"enabled": false}));
    let (st, _) = b.put(&format!("{rule}/actions"), json!({"actions": ["notify"]})).await;
    assert_eq!(st, 200);
    let (_, actions) = b.get(&format!("{rule}/actions")).await;
    assert_eq!(actions, json!({"actions": ["notify"]}));
    let (st, _) = b.delete_path(&rule).await;
    assert_eq!(st, 200);
    let (st, body) = b.get(&rule).await;
    assert_eq!((st, body["errcode"].as_str()), (404, Some("M_NOT_FOUND")));
    let (st, body) = b.delete_path(&rule).await;
    assert_eq!((st, body["errcode"].as_str()), (404, Some("M_NOT_FOUND")));
    let (st, body) = b.put(&format!("{rule}/enabled"), json!({"enabled": true})).await;
    assert_eq!((st, body["errcode"].as_str()), (404, Some("M_NOT_FOUND")));
    // Server defaults: may be disabled, never deleted; user ids may not start with '.'.
    let (st, body) = b.delete_path(&format!("{RULES}/override/.m.rule.master")).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_UNKNOWN")), "{body}");
    let (st, body) =
        b.put(&format!("{RULES}/room/{}", enc("!x:localhost")).replace("%21x", ".x"), json!({"actions": []})).await;
    assert_eq!(st, 400, "{body}");
    let (st, body) =
        b.put(&format!("{RULES}/room/{}?before=nothing", enc("!d:localhost")), json!({"actions": []})).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_UNKNOWN")), "{body}");
    let (st, body) = b.get(&format!("{RULES}/sideways/x")).await;
    assert_eq!(st / 100, 4, "{body}");
}

#[tokio::test]
async fn notifications_lists_what_notified_with_paging_highlights_and_read() {
    let s = Server::start();
    let (a, b, _c, room, _) = ward(&s).await;
    let plain: Vec<String> = {
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(
                a.sent_event(
                    &room,
                    "m.room.message",
                    &format!("p{i}"),
                    json!({"msgtype": "m.text", "body": format!("obs {i}")}),
                )
                .await,
            );
        }
        ids
    };
    let m = mention(&a, &room, "m1", &b.user_id).await;
    b.send_text(&room, "own", "on my way").await;
    let (st, page) = b.get("/_matrix/client/v3/notifications?limit=2").await;
    assert_eq!(st, 200, "{page}");
    let ids: Vec<&str> =
        page["notifications"].as_array().unwrap().iter().map(|n| n["event"]["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [m.as_str(), plain[2].as_str()], "newest first, not Ben's own: {page}");
    let first = &page["notifications"][0];
    assert_eq!(first["room_id"], room);
    assert_eq!(first["read"], true, "Ben posted after it: {page}");
    assert!(first["actions"].as_array().unwrap().iter().any(|a| a["set_tweak"] == "highlight"), "{first}");
    let token = page["next_token"].as_str().expect("more to come");
    let (_, page2) = b.get(&format!("/_matrix/client/v3/notifications?limit=2&from={}", enc(token))).await;
    let ids2: Vec<&str> =
        page2["notifications"].as_array().unwrap().iter().map(|n| n["event"]["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids2, [plain[1].as_str(), plain[0].as_str()], "{page2}");
    let (_, high) = b.get("/_matrix/client/v3/notifications?only=highlight").await;
    let ids: Vec<&str> =
        high["notifications"].as_array().unwrap().iter().map(|n| n["event"]["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [m.as_str()], "{high}");
    // Unread ones are flagged so.
    let later = a.sent_event(&room, "m.room.message", "p9", json!({"msgtype": "m.text", "body": "obs 9"})).await;
    let (_, page) = b.get("/_matrix/client/v3/notifications?limit=1").await;
    assert_eq!(
        (page["notifications"][0]["event"]["event_id"].as_str(), page["notifications"][0]["read"].clone()),
        (Some(later.as_str()), json!(false))
    );
    // Someone outside the room sees none of it.
    let dan = s.user("dan").await;
    let (st, page) = dan.get("/_matrix/client/v3/notifications").await;
    assert_eq!((st, page["notifications"].as_array().map(Vec::len)), (200, Some(0)), "{page}");
    let (st, body) = b.get("/_matrix/client/v3/notifications?only=everything").await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")));
}

#[tokio::test]
async fn own_rules_are_capped_and_notifications_are_rate_limited() {
    let s = Server::start_with_env(&[
        ("WARDLINE_RATE_LIMITS__ENABLED", "true"),
        ("WARDLINE_RATE_LIMITS__NOTIFICATIONS__PER_SECOND", "0.001"),
        ("WARDLINE_RATE_LIMITS__NOTIFICATIONS__BURST", "2"),
    ]);
    let b = s.user("ben").await;
    // A hundred rules of one's own, then no more (a cap, not a wait: no retry_after_ms).
    for i in 0..100 {
        let (st, body) =
            b.put(&format!("{RULES}/room/{}", enc(&format!("!r{i}:localhost"))), json!({"actions": []})).await;
        assert_eq!(st, 200, "{i}: {body}");
    }
    let (st, body) = b.put(&format!("{RULES}/room/{}", enc("!one-more:localhost")), json!({"actions": []})).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_LIMIT_EXCEEDED")), "{body}");
    assert!(body.get("retry_after_ms").is_none(), "{body}");
    // Rules too large are malformed.
    let c = s.user("cat").await;
    let (st, body) = c.put(&format!("{RULES}/content/kw"), json!({"pattern": "x".repeat(300), "actions": []})).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");
    let conditions: Vec<Value> =
        (0..21).map(|i| json!({"kind": "event_match", "key": "content.body", "pattern": format!("p{i}")})).collect();
    let (st, body) = c.put(&format!("{RULES}/override/many"), json!({"conditions": conditions, "actions": []})).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");

    // /notifications: the burst (here 2 pages), then a wait.
    for _ in 0..2 {
        let (st, body) = c.get("/_matrix/client/v3/notifications").await;
        assert_eq!(st, 200, "{body}");
    }
    let (st, body) = c.get("/_matrix/client/v3/notifications").await;
    assert_eq!((st, body["errcode"].as_str()), (429, Some("M_LIMIT_EXCEEDED")), "{body}");
}
