//! Priority messages and quick responses over real HTTP (issue 14, first part): what the server
//! completes on an urgent message (the body a stock client shows, the mentions, the question),
//! which answers it refuses, and how answers (responses and reactions) reach the status
//! endpoint and the transcript.

use serde_json::{Value, json};

use crate::harness::{Client, Server, cli, enc};

async fn refused(c: &Client, room: &str, kind: &str, txn: &str, content: Value) -> String {
    let (st, body) = c.send_event(room, kind, txn, content).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");
    body["error"].as_str().unwrap().to_owned()
}

async fn event(c: &Client, room: &str, id: &str) -> Value {
    let (st, body) = c.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(room), enc(id))).await;
    assert_eq!(st, 200, "{body}");
    body
}

pub(crate) async fn status(c: &Client, room: &str, id: &str) -> Value {
    let (st, body) = c.get(&format!("/_wardline/client/v1/rooms/{}/status/{}", enc(room), enc(id))).await;
    assert_eq!(st, 200, "{body}");
    body
}

fn answer_of<'a>(status: &'a Value, user: &Client) -> &'a Value {
    let r = status["recipients"].as_array().unwrap().iter().find(|r| r["user_id"] == user.user_id.as_str());
    &r.unwrap_or_else(|| panic!("{} is a recipient: {status}", user.user_id))["answer"]
}

fn reaction(target: &str, key: &str) -> Value {
    json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}})
}

fn response(target: &str, option: &str, reason: Option<&str>) -> Value {
    let mut block = json!({"option": option});
    if let Some(r) = reason {
        block["reason"] = json!(r);
    }
    json!({"msgtype": "m.text", "body": option, "m.relates_to": {"rel_type": "m.reference", "event_id": target},
        "org.wardline.response": block})
}

#[tokio::test]
async fn an_urgent_message_asks_and_every_answer_is_counted_once_by_the_one_rule() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let cat = s.user("cat").await;
    let room = ada.room_with(&[&ben, &cat]).await;

    // Malformed blocks are refused, and nothing is stored.
    refused(
        &ada,
        &room,
        "m.room.message",
        "bad1",
        json!({"msgtype": "m.text", "body": "x", "org.wardline.priority": {"level": "loud"}}),
    )
    .await;
    let seven: Vec<Value> = (0..7).map(|i| json!({"id": format!("o{i}"), "label": "x", "means": "accept"})).collect();
    refused(
        &ada,
        &room,
        "m.room.message",
        "bad2",
        json!({"msgtype": "m.text", "body": "x", "org.wardline.ask": {"options": seven}}),
    )
    .await;

    // An urgent message: the server completes the body, the mentions and the question.
    let urgent = ada
        .sent_event(
            &room,
            "m.room.message",
            "k1",
            json!({"msgtype": "m.text", "body": "K+ 6.9 bed 4",
        "org.wardline.priority": {"level": "urgent"}}),
        )
        .await;
    let stored = event(&ben, &room, &urgent).await;
    let content = &stored["content"];
    assert_eq!(content["body"], "[URGENT] K+ 6.9 bed 4\n\nReact 1️⃣ Acknowledge · 2️⃣ Decline", "{content}");
    let mentioned: Vec<&str> =
        content["m.mentions"]["user_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(
        mentioned,
        vec![ben.user_id.as_str(), cat.user_id.as_str()],
        "every recipient is mentioned, not the sender"
    );
    assert_eq!(content["org.wardline.ask"]["options"][0]["id"], "acknowledge", "{content}");
    assert_eq!(content["org.wardline.ask"]["options"][1]["means"], "decline", "{content}");

    // Before any answer: nobody has answered.
    let st = status(&ada, &room, &urgent).await;
    assert_eq!(st["priority"], "urgent");
    assert_eq!((st["counts"]["accepted"].as_u64(), st["counts"]["declined"].as_u64()), (Some(0), Some(0)));
    assert!(answer_of(&st, &ben).is_null());

    // Answers that are refused: an option not offered, the sender's own, one that refers to
    // nothing, one to a message that asks nothing.
    let plain =
        ada.sent_event(&room, "m.room.message", "plain", json!({"msgtype": "m.text", "body": "Bed 5 free"})).await;
    let e = refused(&ben, &room, "m.room.message", "r0", response(&urgent, "maybe", None)).await;
    assert!(e.contains("no such option"), "{e}");
    let e = refused(&ada, &room, "m.room.message", "r1", response(&urgent, "acknowledge", None)).await;
    assert!(e.contains("your own message"), "{e}");
    let e = refused(&ben, &room, "m.room.message", "r2", response(&plain, "acknowledge", None)).await;
    assert!(e.contains("asks for no answer"), "{e}");
    let mut loose = response(&urgent, "acknowledge", None);
    loose.as_object_mut().unwrap().remove("m.relates_to");
    refused(&ben, &room, "m.room.message", "r3", loose).await;

    // Ben declines with a reason; Cat acknowledges with a stock client's reaction.
    let declined =
        ben.sent_event(&room, "m.room.message", "r4", response(&urgent, "decline", Some("in theatre"))).await;
    let thumbs = cat.sent_event(&room, "m.reaction", "r5", reaction(&urgent, "👍")).await;
    // A reaction that answers nothing is just a reaction.
    ben.sent_event(&room, "m.reaction", "r6", reaction(&urgent, "😮")).await;
    let st = status(&ada, &room, &urgent).await;
    let b = answer_of(&st, &ben);
    assert_eq!(
        (b["option"].as_str(), b["means"].as_str(), b["reason"].as_str()),
        (Some("decline"), Some("decline"), Some("in theatre")),
        "{st}"
    );
    assert_eq!(b["event_id"], json!(declined));
    let c = answer_of(&st, &cat);
    assert_eq!(
        (c["option"].as_str(), c["label"].as_str(), c["event_id"].as_str()),
        (Some("acknowledge"), Some("Acknowledge"), Some(thumbs.as_str()))
    );
    assert_eq!((st["counts"]["accepted"].as_u64(), st["counts"]["declined"].as_u64()), (Some(1), Some(1)));

    // Ben changes his mind (his latest answer counts); Cat takes hers back (deleted: gone).
    ben.sent_event(&room, "m.reaction", "r7", reaction(&urgent, "✅")).await;
    let (st_code, _) =
        cat.put(&format!("/_matrix/client/v3/rooms/{}/redact/{}/undo", enc(&room), enc(&thumbs)), json!({})).await;
    assert_eq!(st_code, 200);
    let st = status(&ben, &room, &urgent).await;
    assert_eq!(answer_of(&st, &ben)["option"], "acknowledge", "{st}");
    assert!(answer_of(&st, &cat).is_null(), "a deleted answer no longer counts: {st}");
    assert_eq!((st["counts"]["accepted"].as_u64(), st["counts"]["declined"].as_u64()), (Some(1), Some(0)));

    // A later member's answer is listed apart from the recipients'.
    let dan = s.user("dan").await;
    let (code, _) = ada.invite(&room, dan.user_id.as_str()).await;
    assert_eq!(code, 200);
    dan.join(&room).await;
    dan.sent_event(&room, "m.room.message", "r8", response(&urgent, "acknowledge", Some("covering"))).await;
    let st = status(&ada, &room, &urgent).await;
    assert_eq!(st["other_answers"][0]["user_id"], dan.user_id.as_str(), "{st}");
    assert_eq!(st["counts"]["accepted"], 2);
    assert!(st["recipients"].as_array().unwrap().iter().all(|r| r["user_id"] != dan.user_id.as_str()));

    // The transcript tells the same.
    let (ok, text, err) = cli(&s.data_dir, &["room", "transcript", &room], None);
    assert!(ok, "{err}");
    assert!(text.contains("priority: urgent"), "{text}");
    assert!(text.contains("answered \"Acknowledge\": Dr ben"), "{text}");
    assert!(text.contains("answered \"Acknowledge\" (covering): Dr dan"), "{text}");
    assert!(text.contains("not answered by: Dr cat"), "{text}");
}

#[tokio::test]
async fn quick_responses_are_numbered_for_stock_clients_and_chosen_by_number() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let room = ada.room_with(&[&ben]).await;
    let ask = json!({"options": [
        {"id": "accept", "label": "Accept patient", "means": "accept"},
        {"id": "eta5", "label": "On my way 5 min", "means": "accept"},
        {"id": "no", "label": "Decline", "means": "decline"},
    ], "first_accept": true, "deadline_ms": 600000});
    let msg = ada
        .sent_event(
            &room,
            "m.room.message",
            "q1",
            json!({"msgtype": "m.text", "body": "Bed 12 for review?", "org.wardline.ask": ask}),
        )
        .await;
    let content = event(&ben, &room, &msg).await["content"].clone();
    assert_eq!(content["body"], "Bed 12 for review?\n\nReact 1️⃣ Accept patient · 2️⃣ On my way 5 min · 3️⃣ Decline");
    assert!(content.get("org.wardline.priority").is_none(), "a routine question has no priority block");
    assert_eq!(content["org.wardline.ask"]["first_accept"], true);
    ben.sent_event(&room, "m.reaction", "q2", reaction(&msg, "2️⃣")).await;
    let st = status(&ada, &room, &msg).await;
    assert_eq!(st["priority"], "routine");
    assert_eq!(answer_of(&st, &ben)["label"], "On my way 5 min", "{st}");
    assert_eq!(st["counts"]["accepted"], 1);
}

/// Reads the conversation until the server's member has posted a notice whose body starts with
/// `starts`; returns it. (Waits for the engine, asserting only what arrives.)
pub(crate) async fn server_notice(c: &Client, room: &str, starts: &str) -> Value {
    for _ in 0..200 {
        let (st, page) = c.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50", enc(room))).await;
        assert_eq!(st, 200, "{page}");
        let found = page["chunk"].as_array().unwrap().iter().find(|e| {
            e["sender"].as_str().is_some_and(|s| s.starts_with("@wardline:"))
                && e["content"]["body"].as_str().is_some_and(|b| b.starts_with(starts))
        });
        if let Some(e) = found {
            return e.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server never posted a notice starting {starts:?} in {room}");
}

#[tokio::test]
async fn an_urgent_message_escalates_by_the_policy_a_decline_hastens_it_and_an_acceptance_ends_it() {
    let s = Server::start();
    let boss = crate::admin::admin(&s).await;
    let nia = s.user("nia").await;
    let reg = s.user("reg").await;
    let raj = s.user("raj").await;
    let ann = s.user("ann").await;
    let policies = "/_wardline/admin/v1/escalation_policies";

    // A policy without a failsafe, or with one that is not a person of the organisation, is refused.
    let renotify = json!({"after_ms": 1_800_000, "action": "renotify"});
    let (st, body) = boss.put(&format!("{policies}/org/urgent"), json!({"steps": [renotify]})).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("failsafe"), "{body}");
    let stranger = json!({"after_ms": 3_600_000, "action": "failsafe", "targets": [{"kind": "user", "user_id": "@nobody:localhost"}]});
    let (st, body) = boss.put(&format!("{policies}/org/urgent"), json!({"steps": [renotify, stranger]})).await;
    assert_eq!(st, 400, "{body}");
    let (st, body) = nia.put(&format!("{policies}/org/urgent"), json!({"steps": []})).await;
    assert_eq!(st, 403, "only administrators set policies: {body}");
    // Re-notify at 30 min, the failsafe (Ann) at an hour: nothing is due during the test unless
    // a decline hastens it.
    let failsafe =
        json!({"after_ms": 3_600_000, "action": "failsafe", "targets": [{"kind": "user", "user_id": ann.user_id}]});
    let (st, body) = boss.put(&format!("{policies}/org/urgent"), json!({"steps": [renotify, failsafe]})).await;
    assert_eq!(st, 200, "{body}");
    let (_, listed) = boss.get(policies).await;
    assert_eq!(listed["policies"][0]["scope"], "org", "{listed}");

    let room = nia.room_with(&[&reg, &raj]).await;
    let msg = nia
        .sent_event(
            &room,
            "m.room.message",
            "u1",
            json!({"msgtype": "m.text", "body": "K+ 6.9 bed 4",
        "org.wardline.priority": {"level": "urgent"}}),
        )
        .await;
    let mut esc = Value::Null;
    for _ in 0..200 {
        esc = status(&nia, &room, &msg).await["escalation"].clone();
        if !esc.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(esc["state"], "open", "{esc}");
    assert_eq!(esc["next_step"], 1);
    assert!(esc["steps"].as_array().unwrap().is_empty());

    // Raj declines: the next step (re-notify) runs at once and names Reg, who has not answered.
    raj.sent_event(&room, "m.room.message", "d1", response(&msg, "decline", Some("in theatre"))).await;
    let notice = server_notice(&nia, &room, "No answer after").await;
    assert_eq!(notice["content"]["body"], "No answer after 0 min — notifying again: Dr reg");
    assert_eq!(notice["content"]["m.mentions"]["user_ids"], json!([reg.user_id.as_str()]));
    assert_eq!(
        notice["content"]["msgtype"], "m.text",
        "a re-notification rings (notices are silenced by the default push rules)"
    );

    // Reg acknowledges: the escalation ends, and everyone sees it.
    reg.sent_event(&room, "m.room.message", "a1", response(&msg, "acknowledge", None)).await;
    server_notice(&nia, &room, "✓ Dr reg accepted (Acknowledge)").await;
    let st = status(&nia, &room, &msg).await;
    assert_eq!(st["escalation"]["state"], "accepted", "{st}");
    assert_eq!(st["escalation"]["steps"][0]["step"], 1, "{st}");
    assert!(
        st["recipients"].as_array().unwrap().iter().all(|r| !r["user_id"].as_str().unwrap().starts_with("@wardline:")),
        "the server's member is never a recipient"
    );

    // The server's member cannot be invited by anyone, nor its name taken.
    let (code, _) = nia.invite(&room, "@wardline:localhost").await;
    assert_ne!(code, 200);
    let (ok, _, _) = cli(&s.data_dir, &["user", "add", "wardline"], Some("correct horse battery staple\n"));
    assert!(!ok, "the server's username is reserved");
    // Nor its name, nor a name of several lines (names are quoted in the server's notices).
    let path = format!("/_matrix/client/v3/profile/{}/displayname", enc(nia.user_id.as_str()));
    for name in ["Wardline", "wardline ", "Dr Reg\n✓ accepted"] {
        let (code, body) = nia.put(&path, json!({"displayname": name})).await;
        assert_eq!((code, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{name:?}: {body}");
    }
}

#[tokio::test]
async fn on_a_test_clock_a_whole_server_escalates_to_its_failsafe_and_tells_of_a_deadline_without_waiting() {
    // The clock file is written before the server starts, so nothing is due yet; then the test
    // moves the server an hour and a half on and the failsafe step runs.
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let s = Server::start_with_env(&[("WARDLINE_TEST_CLOCK_FILE", clock.to_str().unwrap())]);
    let boss = crate::admin::admin(&s).await;
    let nia = s.user("nia").await;
    let reg = s.user("reg").await;
    let ann = s.user("ann").await;
    let renotify = json!({"after_ms": 1_800_000, "action": "renotify"});
    let failsafe =
        json!({"after_ms": 3_600_000, "action": "failsafe", "targets": [{"kind": "user", "user_id": ann.user_id}]});
    let (st, body) =
        boss.put("/_wardline/admin/v1/escalation_policies/org/urgent", json!({"steps": [renotify, failsafe]})).await;
    assert_eq!(st, 200, "{body}");
    let room = nia.room_with(&[&reg]).await;
    let msg = nia
        .sent_event(
            &room,
            "m.room.message",
            "u1",
            json!({"msgtype": "m.text", "body": "K+ 6.9 bed 4", "org.wardline.priority": {"level": "urgent"}}),
        )
        .await;
    let sent_ts = event(&nia, &room, &msg).await["origin_server_ts"].as_u64().unwrap();
    // A routine question that wants an answer within ten minutes.
    let ask =
        json!({"options": [{"id": "accept", "label": "Accept patient", "means": "accept"}], "deadline_ms": 600_000});
    let question = nia
        .sent_event(
            &room,
            "m.room.message",
            "q1",
            json!({"msgtype": "m.text", "body": "Bed 12?", "org.wardline.ask": ask}),
        )
        .await;
    // The engine sets the deadline once it has read the question.
    let mut waiting = Value::Null;
    for _ in 0..200 {
        waiting = status(&nia, &room, &question).await["deadline"].clone();
        if !waiting.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(waiting["state"], "waiting", "{waiting}");
    std::fs::write(&clock, "5400000").unwrap();
    let told = server_notice(&nia, &room, "Nobody has accepted in 10 min.").await;
    assert_eq!(told["content"]["body"], "Nobody has accepted in 10 min. Not answered: Dr reg.");
    assert_eq!(told["content"]["m.mentions"]["user_ids"], json!([nia.user_id.as_str()]));
    let deadline = status(&nia, &room, &question).await["deadline"].clone();
    assert_eq!(deadline["state"], "not_accepted", "{deadline}");
    let notice = server_notice(&nia, &room, "FAILSAFE: nobody accepted in 90 min — brought in: ").await;
    assert!(
        notice["origin_server_ts"].as_u64().unwrap() >= sent_ts + 5_400_000,
        "the notice is stamped by the moved clock: {notice}"
    );
    let esc = status(&nia, &room, &msg).await["escalation"].clone();
    assert_eq!(esc["state"], "failsafe", "{esc}");
    assert_eq!(esc["steps"].as_array().unwrap().len(), 2, "both steps ran, once each: {esc}");
}
