//! Replies, reactions, edits, deletions and threads over real HTTP: `/relations` and its
//! pagination, bundled aggregations on `/event`, `/messages`, `/context` and `/sync`, the rules
//! on sending, visibility, and how edits and deletions appear in the transcript.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::{Client, Server, cli, enc};

async fn text(c: &Client, room: &str, txn: &str, body: &str) -> String {
    c.sent_event(room, "m.room.message", txn, json!({"msgtype": "m.text", "body": body})).await
}

fn reaction(parent: &str, key: &str) -> Value {
    json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": parent, "key": key}})
}

fn edit(parent: &str, body: &str) -> Value {
    json!({
        "msgtype": "m.text",
        "body": format!("* {body}"),
        "m.new_content": {"msgtype": "m.text", "body": body},
        "m.relates_to": {"rel_type": "m.replace", "event_id": parent},
    })
}

fn in_thread(root: &str, body: &str) -> Value {
    json!({"msgtype": "m.text", "body": body, "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
}

async fn redact(c: &Client, room: &str, id: &str, txn: &str) {
    let (st, body) =
        c.put(&format!("/_matrix/client/v3/rooms/{}/redact/{}/{}", enc(room), enc(id), enc(txn)), json!({})).await;
    assert_eq!(st, 200, "redact: {body}");
}

fn relations_path(room: &str, parent: &str, rest: &str) -> String {
    format!("/_matrix/client/v1/rooms/{}/relations/{}{rest}", enc(room), enc(parent))
}

fn ids(body: &Value) -> Vec<String> {
    body["chunk"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap().to_owned()).collect()
}

async fn event(c: &Client, room: &str, id: &str) -> Value {
    let (st, body) = c.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(room), enc(id))).await;
    assert_eq!(st, 200, "{body}");
    body
}

#[tokio::test]
async fn relations_are_paginated_and_filtered_as_the_spec_says() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.room_with(&[&b]).await;
    let root = text(&a, &room, "root", "Bed 4: BP 120/80").await;
    let mut children = vec![
        b.sent_event(&room, "m.reaction", "r1", reaction(&root, "👍")).await,
        a.sent_event(&room, "m.reaction", "r2", reaction(&root, "👀")).await,
    ];
    for i in 0..5 {
        children.push(
            b.sent_event(&room, "m.room.message", &format!("th{i}"), in_thread(&root, &format!("obs {i}"))).await,
        );
    }
    children.push(a.sent_event(&room, "m.room.message", "e1", edit(&root, "Bed 4: BP 125/80")).await);
    text(&a, &room, "unrelated", "Bed 5 is free").await;
    // A reaction to a thread message: a child of a child.
    let grandchild = a.sent_event(&room, "m.reaction", "r3", reaction(&children[2], "✅")).await;

    // Backwards (the default), newest first, three at a time, until next_batch is absent.
    let mut pages = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let q = match &from {
            Some(f) => format!("?limit=3&from={}", enc(f)),
            None => "?limit=3".to_owned(),
        };
        let (st, body) = a.get(&relations_path(&room, &root, &q)).await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body.get("prev_batch").and_then(Value::as_str), from.as_deref(), "prev_batch is the page's from");
        assert!(body.get("recursion_depth").is_none(), "no recursion_depth without recurse");
        pages.push(ids(&body));
        match body.get("next_batch").and_then(Value::as_str) {
            Some(next) => from = Some(next.to_owned()),
            None => break,
        }
        assert!(pages.len() < 10, "pagination ends");
    }
    let all: Vec<String> = pages.concat();
    let mut expected = children.clone();
    expected.reverse();
    assert_eq!(all, expected, "every direct child once, newest first, across {} pages", pages.len());
    assert!(pages.iter().take(pages.len() - 1).all(|p| p.len() == 3), "full pages before the last: {pages:?}");

    // Forwards: oldest first.
    let (_, fwd) = a.get(&relations_path(&room, &root, "?dir=f&limit=4")).await;
    assert_eq!(ids(&fwd), children[..4].to_vec());
    let next = fwd["next_batch"].as_str().unwrap();
    let (_, fwd2) = a.get(&relations_path(&room, &root, &format!("?dir=f&limit=4&from={}", enc(next)))).await;
    assert_eq!(ids(&fwd2), children[4..8].to_vec());

    // `to`: from the first page's `from` down to the next page's start covers exactly page one.
    let (_, first) = a.get(&relations_path(&room, &root, "?limit=3")).await;
    let page_two_from = first["next_batch"].as_str().unwrap();
    let (_, second) = a.get(&relations_path(&room, &root, &format!("?limit=3&from={}", enc(page_two_from)))).await;
    let page_three_from = second["next_batch"].as_str().unwrap();
    let (_, bounded) = a
        .get(&relations_path(&room, &root, &format!("?from={}&to={}", enc(page_two_from), enc(page_three_from))))
        .await;
    assert_eq!(ids(&bounded), ids(&second), "from page two's start to page three's start is page two");
    assert!(bounded.get("next_batch").is_none(), "nothing more before `to`");
    let (_, empty) = a
        .get(&relations_path(&room, &root, &format!("?from={}&to={}", enc(page_three_from), enc(page_two_from))))
        .await;
    assert!(ids(&empty).is_empty(), "a `from` before `to` is the empty set, as the spec's example says");

    // By relation type, and by relation and event type.
    let (_, reactions) = a.get(&relations_path(&room, &root, "/m.annotation")).await;
    assert_eq!(ids(&reactions), vec![children[1].clone(), children[0].clone()]);
    let (_, typed) = a.get(&relations_path(&room, &root, "/m.annotation/m.reaction")).await;
    assert_eq!(ids(&typed), ids(&reactions));
    let (_, none) = a.get(&relations_path(&room, &root, "/m.annotation/m.room.message")).await;
    assert!(ids(&none).is_empty());
    let (_, thread) = a.get(&relations_path(&room, &root, "/m.thread?limit=2")).await;
    assert_eq!(ids(&thread), vec![children[6].clone(), children[5].clone()]);
    assert!(thread["next_batch"].is_string());

    // Recursion reaches the reaction to a thread message, and says how deep it looked.
    let (_, deep) = a.get(&relations_path(&room, &root, "?recurse=true&limit=50")).await;
    assert_eq!(deep["recursion_depth"], 3);
    assert!(ids(&deep).contains(&grandchild), "{deep}");
    assert_eq!(ids(&deep).len(), children.len() + 1);
    let (_, shallow) = a.get(&relations_path(&room, &root, "?limit=50")).await;
    assert!(!ids(&shallow).contains(&grandchild));
    // A filter applies at every level: the reaction hangs off a thread message, not a reaction.
    let (_, filtered) = a.get(&relations_path(&room, &root, "/m.annotation?recurse=true")).await;
    assert!(!ids(&filtered).contains(&grandchild));

    // A bad token is a 400.
    let (st, _) = a.get(&relations_path(&room, &root, "?from=nonsense")).await;
    assert_eq!(st, 400);
    // Each event a page showed is audited by its own id (a page can skip hidden children, so a
    // first..last range would name events never shown): who read which event of which room.
    let shown = ids(&deep);
    let named = |r: &Value, id: &str| {
        r["action"] == "room.read"
            && r["actor"] == a.user_id.as_str()
            && r["room_id"] == room.as_str()
            && r["detail"] == "via=relations count=1"
            && r["event_id"] == id
    };
    let mut reads = Vec::new();
    for _ in 0..200 {
        reads = audit_records(&s, |_| true);
        if shown.iter().all(|id| reads.iter().any(|r| named(r, id))) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for id in &shown {
        assert!(reads.iter().any(|r| named(r, id)), "{id} is named in the audit trail");
    }
    assert!(
        !reads.iter().any(|r| r["detail"].as_str().is_some_and(|d| d.starts_with("via=relations"))
            && r["event_id"].as_str().is_some_and(|e| e.contains(".."))),
        "no relations record names a range"
    );
}

/// The bundle of `id` in a list of events.
fn bundle_in<'a>(events: &'a Value, id: &str) -> &'a Value {
    let e =
        events.as_array().unwrap().iter().find(|e| e["event_id"] == id).unwrap_or_else(|| panic!("{id} in {events}"));
    &e["unsigned"]["m.relations"]
}

#[tokio::test]
async fn aggregations_are_bundled_on_every_endpoint() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let c = s.user("cat").await;
    let room = a.room_with(&[&b, &c]).await;
    let root = text(&a, &room, "root", "Bed 4: BP 120/80").await;
    let first_edit = a.sent_event(&room, "m.room.message", "e1", edit(&root, "Bed 4: BP 125/80")).await;
    let latest_edit = a.sent_event(&room, "m.room.message", "e2", edit(&root, "Bed 4: BP 130/80")).await;
    b.sent_event(&room, "m.reaction", "r1", reaction(&root, "👍")).await;
    let t1 = b.sent_event(&room, "m.room.message", "t1", in_thread(&root, "repeat in 1h")).await;
    let t2 = b.sent_event(&room, "m.room.message", "t2", in_thread(&root, "done, 128/82")).await;
    // The thread's latest message is edited too: its own bundle.
    let t2_edit = b.sent_event(&room, "m.room.message", "t2e", edit(&t2, "done, 128/84")).await;
    let reference = a
        .sent_event(
            &room,
            "org.wardline.task",
            "ref",
            json!({"m.relates_to": {"rel_type": "m.reference", "event_id": root}}),
        )
        .await;
    for i in 0..6 {
        text(&c, &room, &format!("later{i}"), &format!("later {i}")).await;
    }

    let check = |relations: &Value, who: &str, participated: bool| {
        assert_eq!(
            relations["m.replace"]["event_id"],
            latest_edit.as_str(),
            "{who}: the latest edit, whole: {relations}"
        );
        assert_eq!(relations["m.replace"]["content"]["m.new_content"]["body"], "Bed 4: BP 130/80", "{who}");
        assert_eq!(relations["m.replace"]["sender"], a.user_id.as_str(), "{who}");
        assert_eq!(relations["m.thread"]["count"], 2, "{who}");
        assert_eq!(relations["m.thread"]["latest_event"]["event_id"], t2.as_str(), "{who}");
        assert_eq!(relations["m.thread"]["current_user_participated"], participated, "{who}");
        assert_eq!(
            relations["m.thread"]["latest_event"]["unsigned"]["m.relations"]["m.replace"]["event_id"],
            t2_edit.as_str(),
            "{who}: the latest thread event carries its own edit"
        );
        assert_eq!(relations["m.reference"]["chunk"], json!([{"event_id": reference}]), "{who}");
        assert!(relations.get("m.annotation").is_none(), "{who}: reactions are not bundled");
    };

    // /event: the original content is left as sent; the edit is bundled.
    let ev = event(&b, &room, &root).await;
    assert_eq!(ev["content"]["body"], "Bed 4: BP 120/80", "the server does not apply edits");
    check(&ev["unsigned"]["m.relations"], "/event as ben", true);
    check(&event(&c, &room, &root).await["unsigned"]["m.relations"], "/event as cat", false);
    check(&event(&a, &room, &root).await["unsigned"]["m.relations"], "/event as the root's sender", true);
    assert!(event(&a, &room, &t1).await["unsigned"].get("m.relations").is_none(), "no children, no bundle");

    // /messages.
    let (_, msgs) = c.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50", enc(&room))).await;
    check(bundle_in(&msgs["chunk"], &root), "/messages", false);

    // /context, on the root and around a later event.
    let (_, ctx) = c.get(&format!("/_matrix/client/v3/rooms/{}/context/{}?limit=2", enc(&room), enc(&root))).await;
    check(&ctx["event"]["unsigned"]["m.relations"], "/context event", false);
    let (_, around) =
        c.get(&format!("/_matrix/client/v3/rooms/{}/context/{}?limit=4", enc(&room), enc(&first_edit))).await;
    check(bundle_in(&around["events_before"], &root), "/context events_before", false);

    // /relations bundles the children's own aggregations (t2 has an edit).
    let (_, rels) = c.get(&relations_path(&room, &root, "/m.thread")).await;
    assert_eq!(bundle_in(&rels["chunk"], &t2)["m.replace"]["event_id"], t2_edit.as_str());

    // /sync bundles when the timeline is limited.
    // The root and the thirteen events after it, with the room's creation before: limited.
    let filter = json!({"room": {"timeline": {"limit": 14}}}).to_string();
    let sync = b.sync(None, 0, Some(&filter)).await;
    let timeline = &sync["rooms"]["join"][&room]["timeline"];
    assert_eq!(timeline["limited"], true, "{timeline}");
    check(bundle_in(&timeline["events"], &root), "/sync", true);
    assert!(bundle_in(&timeline["events"], &root)["m.replace"].get("room_id").is_none(), "sync format inside sync");

    // Redactions: the latest edit goes, the one before takes its place; a redacted reaction
    // leaves /relations; a redacted root loses its edits but keeps its thread.
    redact(&a, &room, &latest_edit, "x1").await;
    let relations = &event(&c, &room, &root).await["unsigned"]["m.relations"];
    assert_eq!(relations["m.replace"]["event_id"], first_edit.as_str(), "{relations}");
    redact(&a, &room, &root, "x2").await;
    let gone = event(&c, &room, &root).await;
    assert_eq!(gone["content"], json!({}));
    let relations = &gone["unsigned"]["m.relations"];
    assert!(relations.get("m.replace").is_none(), "a deleted message bundles no edit: {relations}");
    assert_eq!(relations["m.thread"]["count"], 2, "a deleted root keeps its thread");
    let (st, kept) = c.get(&relations_path(&room, &root, "/m.annotation")).await;
    assert_eq!((st, ids(&kept).len()), (200, 1), "a deleted message keeps its reactions");
}

#[tokio::test]
async fn the_same_reaction_twice_is_refused() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.room_with(&[&b]).await;
    let root = text(&a, &room, "root", "Bed 4 needs a porter").await;
    let first = b.sent_event(&room, "m.reaction", "r1", reaction(&root, "👍")).await;
    // Retrying the same transaction is idempotent, not a duplicate.
    let (st, again) = b.send_event(&room, "m.reaction", "r1", reaction(&root, "👍")).await;
    assert_eq!((st, again["event_id"].as_str()), (200, Some(first.as_str())));
    let (st, dup) = b.send_event(&room, "m.reaction", "r2", reaction(&root, "👍")).await;
    assert_eq!((st, dup["errcode"].as_str()), (400, Some("M_DUPLICATE_ANNOTATION")), "{dup}");
    // Another key, another sender, another event type are all fine.
    let tick = b.sent_event(&room, "m.reaction", "r3", reaction(&root, "✅")).await;
    a.sent_event(&room, "m.reaction", "r4", reaction(&root, "👍")).await;
    b.sent_event(&room, "org.example.vote", "r5", reaction(&root, "👍")).await;
    // Once the first is redacted, the reaction may be given again.
    redact(&b, &room, &first, "x1").await;
    b.sent_event(&room, "m.reaction", "r6", reaction(&root, "👍")).await;
    let (_, reactions) = b.get(&relations_path(&room, &root, "/m.annotation/m.reaction")).await;
    assert_eq!(ids(&reactions).len(), 3, "{reactions}");
    // A reaction needs a key, and goes on the original, not on a reaction.
    let (st, nokey) = b
        .send_event(&room, "m.reaction", "r7", json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": root}}))
        .await;
    assert_eq!((st, nokey["errcode"].as_str()), (400, Some("M_INVALID_PARAM")));
    let (st, meta) = a.send_event(&room, "m.reaction", "r8", reaction(&tick, "🙂")).await;
    assert_eq!((st, meta["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "a reaction to a reaction: {meta}");
}

#[tokio::test]
async fn edits_follow_the_spec_rules() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.room_with(&[&b]).await;
    let root = text(&a, &room, "root", "Start IV fluids").await;
    let refused = |(st, body): (u16, Value), why: &str| {
        assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{why}: {body}");
    };
    refused(b.send_event(&room, "m.room.message", "b1", edit(&root, "Stop IV fluids")).await, "edit by another");
    refused(
        a.send_event(&room, "org.wardline.note", "a1", edit(&root, "x")).await,
        "an edit that changes the event type",
    );
    let mut no_new = edit(&root, "x");
    no_new.as_object_mut().unwrap().remove("m.new_content");
    refused(a.send_event(&room, "m.room.message", "a2", no_new).await, "an edit without m.new_content");
    let ok = a.sent_event(&room, "m.room.message", "a3", edit(&root, "Start IV fluids 1L")).await;
    refused(a.send_event(&room, "m.room.message", "a4", edit(&ok, "again")).await, "an edit of an edit");
    // State: neither the edited event nor the edit may be one.
    let (st, topic) = a
        .put(&format!("/_matrix/client/v3/rooms/{}/state/m.room.topic", enc(&room)), json!({"topic": "Sepsis bay"}))
        .await;
    assert_eq!(st, 200);
    let topic_id = topic["event_id"].as_str().unwrap();
    refused(a.send_event(&room, "m.room.topic", "a5", json!({"topic": "x", "m.new_content": {"topic": "x"}, "m.relates_to": {"rel_type": "m.replace", "event_id": topic_id}})).await, "an edit of a state event");
    let (st, body) = a
        .put(
            &format!("/_matrix/client/v3/rooms/{}/state/m.room.topic", enc(&room)),
            json!({"topic": "y", "m.new_content": {"topic": "y"}, "m.relates_to": {"rel_type": "m.replace", "event_id": topic_id}}),
        )
        .await;
    refused((st, body), "an edit sent as state");
    // A thread cannot start from an event that relates to another: 400 M_UNKNOWN, as the spec says.
    let (st, body) = b.send_event(&room, "m.room.message", "b2", in_thread(&ok, "hm")).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_UNKNOWN")), "{body}");
    // A malformed relation.
    let (st, body) = a
        .send_event(
            &room,
            "m.room.message",
            "a6",
            json!({"msgtype": "m.text", "body": "x", "m.relates_to": {"rel_type": "m.thread"}}),
        )
        .await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{body}");
    // A deleted message cannot be edited.
    redact(&a, &room, &root, "x1").await;
    refused(a.send_event(&room, "m.room.message", "a7", edit(&root, "z")).await, "an edit of a deleted message");
    // The refusals are in the audit trail, with their reason.
    let records = audit_records(&s, |r| r["outcome"] == "denied" && r["action"] == "message.send");
    let denied: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "message.send" && r["outcome"] == "denied" && r["actor"] == b.user_id.as_str())
        .collect();
    assert!(
        denied.iter().any(|r| r["detail"].as_str().unwrap().contains("you can only edit your own messages")),
        "{denied:?}"
    );
}

/// The audit trail, read with the command line once the server's queued records include one
/// that `want` accepts (reads are queued and stored in batches).
fn audit_records(s: &Server, want: impl Fn(&Value) -> bool) -> Vec<Value> {
    for _ in 0..200 {
        let (ok, out, err) = cli(&s.data_dir, &["audit", "export"], None);
        assert!(ok, "{err}");
        let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        if records.iter().any(&want) {
            return records;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the awaited record never reached the audit trail");
}

#[tokio::test]
async fn relations_across_rooms_or_to_unseen_events_are_refused() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let ward = a.room_with(&[&b]).await;
    let private = a.create_room(json!({"name": "Consultants"})).await;
    let secret = text(&a, &private, "s1", "Discussing the audit").await;
    let unknown = "$doesnotexist";
    let refused = |(st, body): (u16, Value)| {
        assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");
        body["error"].as_str().unwrap().to_owned()
    };
    // Ada can see the other room's message, but a relation stays within its room.
    let cross = refused(a.send_event(&ward, "m.reaction", "a1", reaction(&secret, "👍")).await);
    let reply = json!({"msgtype": "m.text", "body": "re", "m.relates_to": {"m.in_reply_to": {"event_id": secret}}});
    refused(a.send_event(&ward, "m.room.message", "a2", reply).await);
    // Ben gets the same answer for an event in a room he is not in as for no event at all.
    let hidden = refused(b.send_event(&ward, "m.room.message", "b1", in_thread(&secret, "?")).await);
    let missing = refused(b.send_event(&ward, "m.room.message", "b2", in_thread(unknown, "?")).await);
    assert_eq!(hidden, missing);
    assert_eq!(cross, missing);
    // Nothing was stored.
    let sync = b.sync(None, 0, None).await;
    assert!(
        sync["rooms"]["join"][&ward]["timeline"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "m.reaction"),
        "{sync}"
    );
}

#[tokio::test]
async fn relations_follow_history_visibility() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let c = s.user("cat").await;
    let d = s.user("dan").await;
    let room = a
        .create_room(json!({"name": "Ward 7", "invite": [b.user_id], "initial_state": [
            {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "joined"}}]}))
        .await;
    b.join(&room).await;
    let root = text(&a, &room, "root", "Bed 4: chest pain").await;
    let early = b.sent_event(&room, "m.room.message", "t1", in_thread(&root, "ECG done")).await;
    // A non-member: the same 404 as for an event that does not exist.
    let (st, body) = c.get(&relations_path(&room, &root, "")).await;
    assert_eq!((st, body["errcode"].as_str()), (404, Some("M_NOT_FOUND")), "{body}");
    let (st2, body2) = c.get(&relations_path(&room, "$nosuchevent", "")).await;
    assert_eq!((st2, &body2["errcode"]), (st, &body["errcode"]));
    assert_eq!(body2["error"], body["error"], "an outsider cannot tell the two apart");
    // Someone who joined after the root under `joined` history cannot see it either.
    a.invite(&room, &d.user_id).await;
    d.join(&room).await;
    let (st, _) = d.get(&relations_path(&room, &root, "")).await;
    assert_eq!(st, 404);
    // Ben leaves; what is said in the thread afterwards is neither listed nor counted for him.
    let (st, _) = b.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
    assert_eq!(st, 200);
    let late = a.sent_event(&room, "m.room.message", "t2", in_thread(&root, "troponin raised")).await;
    let (st, seen) = b.get(&relations_path(&room, &root, "")).await;
    assert_eq!(st, 200, "{seen}");
    assert_eq!(ids(&seen), vec![early.clone()]);
    let thread = &event(&b, &room, &root).await["unsigned"]["m.relations"]["m.thread"];
    assert_eq!(
        (thread["count"].as_u64(), thread["latest_event"]["event_id"].as_str()),
        (Some(1), Some(early.as_str()))
    );
    let (_, all) = a.get(&relations_path(&room, &root, "")).await;
    assert_eq!(ids(&all).into_iter().collect::<HashSet<_>>(), HashSet::from([early, late]));
}

#[tokio::test]
async fn transcript_shows_each_edit_and_each_deletion_with_the_original() {
    let mut s = Server::start();
    let _keep = s.keep_dir();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.room_with(&[&b]).await;
    let root = text(&a, &room, "root", "Give 5mg morphine").await;
    a.sent_event(&room, "m.room.message", "e1", edit(&root, "Give 2.5mg morphine")).await;
    a.sent_event(&room, "m.room.message", "e2", edit(&root, "Give 2.5mg morphine IV")).await;
    b.sent_event(&room, "m.reaction", "r1", reaction(&root, "👍")).await;
    let wrong = text(&b, &room, "w", "Bed 9 discharged").await;
    redact(&b, &room, &wrong, "x1").await;
    assert!(s.terminate());
    let out_file = s.data_dir.parent().unwrap().join("transcript.txt");
    let (ok, _, err) = cli(&s.data_dir, &["room", "transcript", &room, "--output", out_file.to_str().unwrap()], None);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    let original = text.find("Dr ada (@ada:localhost): Give 5mg morphine").unwrap_or_else(|| panic!("{text}"));
    let first = text.find("    edited by Dr ada (@ada:localhost) at ").unwrap_or_else(|| panic!("{text}"));
    let first_text = text.find(": \"Give 2.5mg morphine\"\n").unwrap_or_else(|| panic!("{text}"));
    let second_text = text.find(": \"Give 2.5mg morphine IV\"\n").unwrap_or_else(|| panic!("{text}"));
    assert!(
        original < first && first < first_text && first_text < second_text,
        "original, then each edit in order: {text}"
    );
    assert!(!text.contains("* Give 2.5mg"), "the edit events are not repeated as messages: {text}");
    assert!(text.contains("Dr ben (@ben:localhost) reacted 👍"), "{text}");
    assert!(
        text.contains("Dr ben (@ben:localhost): [message deleted by Dr ben (@ben:localhost) at ")
            && text.contains("Original, kept for investigations: \"Bed 9 discharged\"]"),
        "{text}"
    );
}

/// Deleting an edited message deletes its text everywhere: its sender's edits go with it (by
/// the same redaction), so neither `/relations`, `/event` on an edit nor `/messages` shows
/// what it said.
#[tokio::test]
async fn deleting_an_edited_message_deletes_its_edits_too() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.room_with(&[&b]).await;
    let root = text(&a, &room, "root", "K+ 6.8 bed 4").await;
    let first = a.sent_event(&room, "m.room.message", "e1", edit(&root, "K+ 6.9 bed 4 recheck")).await;
    let second = a.sent_event(&room, "m.room.message", "e2", edit(&root, "K+ 7.1 bed 4 urgent")).await;
    let reply = b.sent_event(&room, "m.reaction", "r1", reaction(&root, "👀")).await;
    redact(&a, &room, &root, "x1").await;
    let (st, rel) = b.get(&relations_path(&room, &root, "/m.replace")).await;
    assert_eq!(st, 200, "{rel}");
    assert!(ids(&rel).is_empty(), "no edits of a deleted message: {rel}");
    let (st, all) = b.get(&relations_path(&room, &root, "")).await;
    assert_eq!(st, 200, "{all}");
    assert_eq!(ids(&all), [reply], "other relations stay: {all}");
    for edit_id in [&first, &second] {
        let e = event(&b, &room, edit_id).await;
        assert!(!e.to_string().contains("bed 4"), "the edit's text is gone: {e}");
        assert!(e["unsigned"]["redacted_because"].is_object(), "deleted by the same redaction: {e}");
    }
    let (st, msgs) = b.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50", enc(&room))).await;
    assert_eq!(st, 200);
    assert!(!msgs.to_string().contains("bed 4"), "nothing of the message in /messages: {msgs}");
}

/// `/relations` is limited per user like the other costly reads (`rate_limits.relations`).
#[tokio::test]
async fn relations_are_rate_limited_per_user() {
    let s = Server::start_with_env(&[
        ("WARDLINE_RATE_LIMITS__ENABLED", "true"),
        ("WARDLINE_RATE_LIMITS__RELATIONS__PER_SECOND", "0.001"),
        ("WARDLINE_RATE_LIMITS__RELATIONS__BURST", "2"),
    ]);
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.room_with(&[&b]).await;
    let root = text(&a, &room, "root", "Start IV fluids").await;
    for _ in 0..2 {
        let (st, body) = a.get(&relations_path(&room, &root, "")).await;
        assert_eq!(st, 200, "{body}");
    }
    let (st, body) = a.get(&relations_path(&room, &root, "?recurse=true")).await;
    assert_eq!((st, body["errcode"].as_str()), (429, Some("M_LIMIT_EXCEEDED")), "{body}");
    assert!(body["retry_after_ms"].is_u64(), "{body}");
    let (st, body) = b.get(&relations_path(&room, &root, "")).await;
    assert_eq!(st, 200, "another user is not held up: {body}");
}

fn threads_path(room: &str, query: &str) -> String {
    format!("/_matrix/client/v1/rooms/{}/threads{query}", enc(room))
}

#[tokio::test]
async fn threads_are_listed_most_recently_active_first_by_what_the_reader_may_see() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let c = s.user("cat").await;
    let room = a.room_with(&[&b, &c]).await;
    let bed4 = text(&a, &room, "bed4", "Bed 4: review").await;
    let bed5 = text(&b, &room, "bed5", "Bed 5: review").await;
    let bed6 = text(&c, &room, "bed6", "Bed 6: review").await;
    text(&a, &room, "plain", "no thread here").await;
    b.sent_event(&room, "m.room.message", "t4a", in_thread(&bed4, "seen")).await;
    c.sent_event(&room, "m.room.message", "t5a", in_thread(&bed5, "on my way")).await;
    c.sent_event(&room, "m.room.message", "t6a", in_thread(&bed6, "done")).await;

    let (st, all) = a.get(&threads_path(&room, "")).await;
    assert_eq!(st, 200, "{all}");
    assert_eq!(ids(&all), vec![bed6.clone(), bed5.clone(), bed4.clone()], "most recently active first");
    assert!(all.get("next_batch").is_none(), "one page holds them all: {all}");
    let summary = &all["chunk"][0]["unsigned"]["m.relations"]["m.thread"];
    assert_eq!(summary["count"], 1, "{all}");
    assert_eq!(summary["latest_event"]["content"]["body"], "done", "{all}");
    assert_eq!(summary["current_user_participated"], false, "{all}");

    // Pages: two, then the rest from next_batch.
    let (_, first) = a.get(&threads_path(&room, "?limit=2")).await;
    assert_eq!(ids(&first), vec![bed6.clone(), bed5.clone()]);
    let next = first["next_batch"].as_str().expect("a next page").to_owned();
    let (_, rest) = a.get(&threads_path(&room, &format!("?limit=2&from={next}"))).await;
    assert_eq!(ids(&rest), vec![bed4.clone()]);
    assert!(rest.get("next_batch").is_none(), "{rest}");

    // Participated: Ada started bed 4 only; Ben started bed 5 and wrote in bed 4.
    let (_, mine) = a.get(&threads_path(&room, "?include=participated")).await;
    assert_eq!(ids(&mine), vec![bed4.clone()]);
    let (_, bens) = b.get(&threads_path(&room, "?include=participated")).await;
    assert_eq!(ids(&bens), vec![bed5.clone(), bed4.clone()]);

    // Ben leaves; later activity in bed 4 moves it up for Ada, not for Ben, and its summary
    // for Ben still ends at what he saw.
    let (st, _) = b.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
    assert_eq!(st, 200);
    a.sent_event(&room, "m.room.message", "t4b", in_thread(&bed4, "after ben left")).await;
    let (_, for_ada) = a.get(&threads_path(&room, "")).await;
    assert_eq!(ids(&for_ada), vec![bed4.clone(), bed6.clone(), bed5.clone()]);
    let (st, for_ben) = b.get(&threads_path(&room, "")).await;
    assert_eq!(st, 200, "{for_ben}");
    assert_eq!(ids(&for_ben), vec![bed6.clone(), bed5.clone(), bed4.clone()], "ordered by what Ben saw");
    let ben_bed4 = &for_ben["chunk"][2]["unsigned"]["m.relations"]["m.thread"];
    assert_eq!(ben_bed4["count"], 1, "{for_ben}");
    assert_eq!(ben_bed4["latest_event"]["content"]["body"], "seen", "{for_ben}");

    // Never a member: forbidden. A bad token or include: a clear error.
    let d = s.user("dan").await;
    let (st, body) = d.get(&threads_path(&room, "")).await;
    assert_eq!((st, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{body}");
    let (st, body) = a.get(&threads_path(&room, "?from=nonsense")).await;
    assert_eq!((st, body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{body}");
    let (st, body) = a.get(&threads_path(&room, "?include=everything")).await;
    assert_eq!(st, 400, "{body}");

    // Each root shown is a read of clinical content, in the audit trail.
    let named = |r: &Value| {
        r["action"] == "room.read"
            && r["actor"] == a.user_id.as_str()
            && r["detail"] == "via=threads count=1"
            && r["event_id"] == bed4.as_str()
    };
    let reads = audit_records(&s, named);
    assert!(reads.iter().any(named), "each root shown is audited by its id");
}
