//! `POST /search` through real HTTP: only what the searcher may read, order, pages, highlights,
//! edits and redactions, terms that look like query syntax, context and the audit trail.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::{Client, Server, cli, enc};

const SEARCH: &str = "/_matrix/client/v3/search";

/// A search body: `term`, with `extra` merged into `room_events`.
fn body(term: &str, extra: Value) -> Value {
    let mut criteria = json!({ "search_term": term });
    if let (Some(c), Some(e)) = (criteria.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    json!({ "search_categories": { "room_events": criteria } })
}

async fn search(c: &Client, term: &str, extra: Value) -> Value {
    let (status, b) = c.post(SEARCH, body(term, extra)).await;
    assert_eq!(status, 200, "search {term:?}: {b}");
    b["search_categories"]["room_events"].clone()
}

fn bodies(events: &Value) -> Vec<String> {
    events["results"]
        .as_array()
        .map(|r| r.iter().map(|x| x["result"]["content"]["body"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

fn ids(events: &Value) -> Vec<String> {
    events["results"]
        .as_array()
        .map(|r| r.iter().map(|x| x["result"]["event_id"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

async fn send(c: &Client, room: &str, txn: &str, text: &str) -> String {
    let (s, b) = c.send_text(room, txn, text).await;
    assert_eq!(s, 200, "{b}");
    b["event_id"].as_str().unwrap().to_owned()
}

async fn leave(c: &Client, room: &str) {
    let (s, b) = c.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(room)), json!({})).await;
    assert_eq!(s, 200, "{b}");
}

fn joined_history() -> Value {
    json!([{ "type": "m.room.history_visibility", "state_key": "", "content": { "history_visibility": "joined" } }])
}

/// History before joining, another ward's room, and a room left behind are never searched
/// beyond what the searcher may read; and counts say nothing about what they cannot.
#[tokio::test]
async fn only_what_the_searcher_may_read_is_found_or_counted() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let cat = s.user("cat").await;
    // Ward 7, history `joined`: what was said before Ben joined stays hidden from him.
    let ward = ada.create_room(json!({"name": "Ward 7", "initial_state": joined_history()})).await;
    send(&ada, &ward, "w1", "Bed 4 lactate 3.1 before Ben joined").await;
    ada.invite(&ward, &ben.user_id).await;
    ben.join(&ward).await;
    send(&ada, &ward, "w2", "Bed 4 lactate 4.0 after Ben joined").await;
    // Another ward, Ben never in it.
    let other = cat.create_room(json!({"name": "Ward 9"})).await;
    for i in 0..3 {
        send(&cat, &other, &format!("o{i}"), &format!("lactate {i} on ward 9")).await;
    }
    let found = search(&ben, "lactate", json!({})).await;
    assert_eq!(bodies(&found), ["Bed 4 lactate 4.0 after Ben joined"]);
    assert_eq!(found["count"], 1, "the count covers only what Ben may read: {found}");
    // Naming the other ward's room finds nothing, without saying whether it exists.
    let named = search(&ben, "lactate", json!({"filter": {"rooms": [other]}})).await;
    assert_eq!(named["count"], 0);
    assert!(bodies(&named).is_empty());
    // Ada sees both of hers and none of Cat's.
    assert_eq!(search(&ada, "lactate", json!({})).await["count"], 2);

    // A room Ben left: not searched any more, and even when named, nothing said after he left.
    let handover = ada.create_room(json!({"name": "Handover", "invite": [ben.user_id]})).await;
    ben.join(&handover).await;
    send(&ada, &handover, "h1", "sodium 130 while Ben was there").await;
    assert_eq!(search(&ben, "sodium", json!({})).await["count"], 1);
    leave(&ben, &handover).await;
    send(&ada, &handover, "h2", "sodium 120 after Ben left").await;
    let after = search(&ben, "sodium", json!({})).await;
    assert_eq!(after["count"], 0, "a room left is not searched: {after}");
    let named = search(&ben, "sodium", json!({"filter": {"rooms": [handover]}})).await;
    assert_eq!(bodies(&named), ["sodium 130 while Ben was there"], "named: only what he could read");
    assert_eq!(named["count"], 1);
    assert_eq!(search(&ada, "sodium", json!({})).await["count"], 2);
}

/// Every hit exactly once across pages, in either order; new messages do not shift the pages;
/// rank puts the closest match first; highlights name the words that matched.
#[tokio::test]
async fn pages_order_and_highlights() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let room = ada.create_room(json!({"name": "Ward 7"})).await;
    let mut want = Vec::new();
    for i in 0..23 {
        want.push(send(&ada, &room, &format!("m{i}"), &format!("Bed {i}: lactate {i}.0, review")).await);
        send(&ada, &room, &format!("n{i}"), &format!("Bed {i}: observations stable")).await;
    }
    let best = send(&ada, &room, "best", "Lactate lactate lactate").await;
    want.push(best.clone());
    for order in ["recent", "rank"] {
        let newest_first: Vec<String> = want.iter().rev().cloned().collect();
        let mut seen = Vec::new();
        let mut next: Option<String> = None;
        let mut late = None;
        loop {
            let path = match &next {
                Some(t) => format!("{SEARCH}?next_batch={}", enc(t)),
                None => SEARCH.to_owned(),
            };
            let (status, b) =
                ada.post(&path, body("lactate", json!({"order_by": order, "filter": {"limit": 5}}))).await;
            assert_eq!(status, 200, "{b}");
            let page = &b["search_categories"]["room_events"];
            assert_eq!(page["count"], want.len(), "{order}: the whole count on every page");
            seen.extend(ids(page));
            if late.is_none() {
                // Sent after the first page: not part of this search.
                late = Some(send(&ada, &room, &format!("late-{order}"), "lactate sent while paging").await);
            }
            match page["next_batch"].as_str() {
                Some(t) => next = Some(t.to_owned()),
                None => break,
            }
            assert!(seen.len() <= want.len(), "pagination ends");
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{order}: no hit twice");
        assert_eq!(seen.len(), want.len(), "{order}: every hit");
        if order == "recent" {
            assert_eq!(seen, newest_first, "newest first");
        } else {
            assert_eq!(seen[0], best, "the closest match first");
            assert_eq!(unique, want.iter().collect::<HashSet<_>>());
        }
        want.extend(late);
    }
    let first = search(&ada, "lactate", json!({"order_by": "rank", "filter": {"limit": 3}})).await;
    let ranks: Vec<f64> = first["results"].as_array().unwrap().iter().map(|r| r["rank"].as_f64().unwrap()).collect();
    assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "higher rank first: {ranks:?}");
    // The last word is a prefix; highlights are the words found, as written.
    let lact = search(&ada, "LACT", json!({"filter": {"limit": 30}})).await;
    assert_eq!(lact["count"], 26);
    let highlights: Vec<&str> = lact["highlights"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    assert!(highlights.contains(&"lactate") && highlights.contains(&"Lactate"), "{highlights:?}");
    assert!(!highlights.contains(&"Bed"));
    // Only whole words before the last.
    assert_eq!(search(&ada, "lact review", json!({})).await["count"], 0);
    assert_eq!(search(&ada, "lactate rev", json!({})).await["count"], 23);
    // A token from nowhere.
    let (status, b) = ada.post(&format!("{SEARCH}?next_batch=garbage"), body("lactate", json!({}))).await;
    assert_eq!((status, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{b}");
}

/// An edited message is found by its new text (as the original event) and no longer by the
/// old; a redacted one is not found at all.
#[tokio::test]
async fn edits_and_redactions() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let room = ada.create_room(json!({"name": "Ward 7"})).await;
    let original = send(&ada, &room, "o", "Bed 4 potassium 5.9, repeat bloods").await;
    let (st, b) = ada
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/e1", enc(&room)),
            json!({
                "msgtype": "m.text", "body": "* Bed 4 potassium 4.1, rechecked",
                "m.new_content": {"msgtype": "m.text", "body": "Bed 4 potassium 4.1, rechecked"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": original},
            }),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let found = search(&ada, "rechecked", json!({})).await;
    assert_eq!(ids(&found), std::slice::from_ref(&original), "found by the new text, named by the original");
    assert_eq!(found["count"], 1);
    let edit = &found["results"][0]["result"]["unsigned"]["m.relations"]["m.replace"];
    assert_eq!(
        edit["content"]["m.new_content"]["body"], "Bed 4 potassium 4.1, rechecked",
        "the edit is bundled, so clients show the new text: {found}"
    );
    assert_eq!(search(&ada, "bloods", json!({})).await["count"], 0, "not by the replaced text");
    assert_eq!(search(&ada, "potassium", json!({})).await["count"], 1, "once, not once per version");
    let other = send(&ada, &room, "x", "potassium on bed 9 too").await;
    assert_eq!(search(&ada, "potassium", json!({})).await["count"], 2);
    for (txn, target) in [("r1", &original), ("r2", &other)] {
        let (st, b) =
            ada.put(&format!("/_matrix/client/v3/rooms/{}/redact/{}/{txn}", enc(&room), enc(target)), json!({})).await;
        assert_eq!(st, 200, "{b}");
    }
    let gone = search(&ada, "potassium", json!({})).await;
    assert_eq!(gone["count"], 0, "redacted messages are not found: {gone}");
    assert_eq!(search(&ada, "rechecked", json!({})).await["count"], 0);
}

/// Quotes, stars, brackets and operators are words or separators: never a server error, never
/// query syntax. An empty term is refused.
#[tokio::test]
async fn terms_that_look_like_query_syntax_are_just_words() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let room = ada.create_room(json!({"name": "Ward 7"})).await;
    send(&ada, &room, "a", "Sats 91% on air OR 95% on 2L: escalate?").await;
    send(&ada, &room, "b", "NEAR the nurses' station, bed 3").await;
    for term in
        [r#"""#, "*", "NEAR(", "OR", r#"lactate""#, "a AND b", "body:sats", ")", "(", "^", "-sats", "sats*", "{body}"]
    {
        let (status, b) = ada.post(SEARCH, body(term, json!({}))).await;
        assert_eq!(status, 200, "{term:?}: {b}");
    }
    assert_eq!(search(&ada, "OR", json!({})).await["count"], 1, "OR is the word 'or'");
    assert_eq!(search(&ada, "NEAR(", json!({})).await["count"], 1, "NEAR is a word");
    assert_eq!(search(&ada, r#"""#, json!({})).await["count"], 0, "no words: nothing");
    assert_eq!(search(&ada, "sats OR bed", json!({})).await["count"], 0, "every word must occur");
    assert_eq!(search(&ada, "body:sats", json!({})).await["count"], 0, "no column syntax");
    for empty in ["", "   "] {
        let (status, b) = ada.post(SEARCH, body(empty, json!({}))).await;
        assert_eq!((status, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{empty:?}: {b}");
    }
    let (status, b) = ada.post(SEARCH, body("sats", json!({"order_by": "sideways"}))).await;
    assert_eq!(status, 400, "{b}");
}

/// Context (by the code of `/context`), room state, groups, and the audit trail: the searcher,
/// the rooms shown, never the term.
#[tokio::test]
async fn context_state_groups_and_audit() {
    let mut s = Server::start();
    let keep = s.keep_dir();
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let room = ada.create_room(json!({"name": "Ward 7", "topic": "Bay 3 handover", "invite": [ben.user_id]})).await;
    ben.join(&room).await;
    let before = send(&ada, &room, "1", "Mr Smithson in bed 2 is comfortable").await;
    let hit = send(&ben, &room, "2", "Mr Smithson needs a cannula").await;
    let after = send(&ada, &room, "3", "ok, on my way").await;
    let found = search(
        &ada,
        "smithson cannula",
        json!({
            "event_context": {"before_limit": 1, "after_limit": 1, "include_profile": true},
            "include_state": true,
            "groupings": {"group_by": [{"key": "room_id"}, {"key": "sender"}]},
        }),
    )
    .await;
    assert_eq!(ids(&found), std::slice::from_ref(&hit));
    let context = &found["results"][0]["context"];
    assert_eq!(context["events_before"][0]["content"]["body"], "Mr Smithson in bed 2 is comfortable");
    assert_eq!(context["events_after"][0]["content"]["body"], "ok, on my way");
    assert_eq!(context["profile_info"][&ben.user_id]["displayname"], "Dr ben", "{context}");
    assert!(context["start"].is_string() && context["end"].is_string());
    let state = found["state"][&room].as_array().expect("state of the room");
    assert!(state.iter().any(|e| e["type"] == "m.room.topic"));
    assert_eq!(found["groups"]["room_id"][&room]["results"], json!([hit]));
    assert_eq!(found["groups"]["sender"][&ben.user_id]["order"], 1);
    // Without event_context, no context.
    let plain = search(&ada, "cannula", json!({})).await;
    assert!(plain["results"][0].get("context").is_none(), "{plain}");
    // Topics and names are found too, or only bodies if asked.
    assert_eq!(search(&ada, "handover", json!({})).await["count"], 1);
    assert_eq!(search(&ada, "handover", json!({"keys": ["content.body"]})).await["count"], 0);
    // The filter's types, senders and rooms.
    assert_eq!(search(&ada, "handover", json!({"filter": {"not_types": ["m.room.topic"]}})).await["count"], 0);
    assert_eq!(search(&ada, "handover", json!({"filter": {"types": ["m.room.*"]}})).await["count"], 1);
    let from_ben = search(&ada, "smithson", json!({"filter": {"senders": [ben.user_id]}})).await;
    assert_eq!(ids(&from_ben), std::slice::from_ref(&hit));
    assert_eq!(search(&ada, "smithson", json!({"filter": {"not_senders": [ben.user_id]}})).await["count"], 1);
    assert_eq!(search(&ada, "smithson", json!({"filter": {"not_rooms": [room]}})).await["count"], 0);
    // A search that finds nothing is recorded too.
    search(&ben, "Smithsonian", json!({})).await;
    // A later page whose token claims a count: the server does not record it as its own.
    let forged = base64url(br#"{"v":1,"o":"k","u":1000000,"n":1,"c":987}"#);
    let (status, b) = ada.post(&format!("{SEARCH}?next_batch={forged}"), body("smithson", json!({}))).await;
    assert_eq!(status, 200, "{b}");
    assert!(s.terminate());
    let (ok, out, err) = cli(&s.data_dir, &["audit", "export"], None);
    assert!(ok, "{err}");
    let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let searches: Vec<&Value> = records.iter().filter(|r| r["action"] == "room.search").collect();
    assert_eq!(searches.len(), 11, "one record per search");
    assert!(searches.iter().all(|r| r["outcome"] == "success" && r["ip"] == "127.0.0.1"));
    assert!(searches.iter().any(|r| r["actor"] == ben.user_id.as_str()
        && r["detail"].as_str().unwrap().contains("results=0")
        && r["detail"].as_str().unwrap().contains("term_chars=11")));
    // The first search showed the result and one event either side: one record for each,
    // naming it (not a first..last range, which would name events never shown).
    let reads: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "room.read" && r["detail"].as_str().unwrap().starts_with("via=search"))
        .collect();
    let shown: Vec<&str> = reads.iter().take(3).map(|r| r["event_id"].as_str().unwrap()).collect();
    assert_eq!(shown, [before.as_str(), hit.as_str(), after.as_str()], "{reads:?}");
    assert!(reads.iter().all(|r| !r["event_id"].as_str().unwrap().contains("..")), "{reads:?}");
    let read = reads[0];
    assert_eq!((read["actor"].as_str(), read["room_id"].as_str()), (Some(ada.user_id.as_str()), Some(room.as_str())));
    // A count the client's token claimed is never recorded as the server's.
    assert!(searches.iter().any(|r| r["detail"].as_str().unwrap().contains("page=next")
        && r["detail"].as_str().unwrap().contains("count=not_counted")));
    assert!(!all_details(&records).contains("count=987"), "the forged count is not in the audit trail");
    let all = serde_json::to_string(&records).unwrap().to_lowercase();
    assert!(!all.contains("smithson") && !all.contains("cannula"), "no search term in the audit trail");
    drop(keep);
}

/// Every audit record's detail, joined.
fn all_details(records: &[Value]) -> String {
    records.iter().filter_map(|r| r["detail"].as_str()).collect::<Vec<_>>().join("\n")
}

/// URL-safe base64 without padding (the search token's encoding), to forge a token.
fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// `include_state` leaves out the state of a room whose messages the searcher may read but
/// whose state they may not (only invited, with history visible to invitees), instead of
/// failing the whole search.
#[tokio::test]
async fn include_state_skips_rooms_whose_state_the_searcher_may_not_read() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let room = ada
        .create_room(json!({
            "name": "Ward 7",
            "initial_state": [{"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "invited"}}],
            "invite": [ben.user_id],
        }))
        .await;
    let hit = send(&ada, &room, "1", "Bed 3 needs a phlebotomy review").await;
    let found = search(&ben, "phlebotomy", json!({"filter": {"rooms": [room]}, "include_state": true})).await;
    assert_eq!(ids(&found), std::slice::from_ref(&hit), "{found}");
    assert!(found["state"].get(&room).is_none(), "no state of a room only invited to: {found}");
}
