//! Do not disturb with cover on the real binary, over HTTP: a doctor sets do-not-disturb naming
//! a cover, a nurse sees it (Wardline's endpoint and Matrix presence, as a stock client would),
//! her direct message reaches the doctor and a labelled copy reaches the cover in a conversation
//! the server made, exactly once, also across a restart. The real server's clock cannot be
//! moved: the end by the clock is tested in the service's tests (`cover::tests`).

use std::time::Duration;

use serde_json::{Value, json};
use wardline_types::{Clock, SystemClock};

use crate::harness::{Client, Server, enc, timeline_bodies};

const DND: &str = "/_wardline/client/v1/dnd";
const HOUR: u64 = 3_600_000;

/// The cover conversations `c` is joined to, with their messages' bodies (oldest first).
async fn cover_rooms(c: &Client) -> Vec<(String, Value, Vec<Value>)> {
    let (st, joined) = c.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(st, 200, "{joined}");
    let mut out = Vec::new();
    for room in joined["joined_rooms"].as_array().unwrap() {
        let room = room.as_str().unwrap();
        let (st, marker) = c.get(&format!("/_matrix/client/v3/rooms/{}/state/org.wardline.cover/", enc(room))).await;
        if st != 200 {
            continue;
        }
        let (st, page) = c.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=f&limit=100", enc(room))).await;
        assert_eq!(st, 200, "{page}");
        let messages = page["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .map(|e| e["content"].clone())
            .collect();
        out.push((room.to_owned(), marker, messages));
    }
    out
}

/// Waits (at most 15 s) until `c` has a cover conversation holding `n` messages.
async fn copies(c: &Client, n: usize) -> (String, Value, Vec<Value>) {
    for _ in 0..150 {
        let rooms = cover_rooms(c).await;
        if let Some(found) = rooms.into_iter().find(|(_, _, m)| m.len() >= n) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no cover conversation with {n} messages: {:?}", cover_rooms(c).await);
}

/// The `m.presence` content for `user` in a sync response.
fn presence_of(sync: &Value, user: &str) -> Option<Value> {
    sync["presence"]["events"].as_array()?.iter().rev().find(|e| e["sender"] == user).map(|e| e["content"].clone())
}

#[tokio::test]
async fn a_message_to_a_doctor_on_do_not_disturb_reaches_him_and_his_cover_once() {
    let mut s = Server::start();
    let _keep = s.keep_dir();
    let doc = s.user("doc").await;
    let cal = s.user("cal").await;
    let nia = s.user("nia").await;
    let dm = nia.create_room(json!({"is_direct": true, "invite": [doc.user_id]})).await;
    doc.join(&dm).await;
    let nia_since = nia.sync(None, 0, None).await["next_batch"].as_str().unwrap().to_owned();

    // Refused: a time gone by, an unknown cover, oneself.
    let now = SystemClock.now().0;
    let (st, e) = doc.put(DND, json!({"until_ts": now - 1000})).await;
    assert_eq!((st, e["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{e}");
    let (st, e) = doc.put(DND, json!({"until_ts": now + 9 * 24 * HOUR})).await;
    assert_eq!((st, e["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "more than 7 days: {e}");
    let (st, e) = doc.put(DND, json!({"until_ts": now + HOUR, "cover": "@nobody:localhost"})).await;
    assert_eq!((st, e["errcode"].as_str()), (404, Some("M_NOT_FOUND")), "{e}");
    let (st, e) = doc.put(DND, json!({"until_ts": now + HOUR, "cover": doc.user_id})).await;
    assert_eq!((st, e["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{e}");

    // Set, with Cal covering.
    let until = now + 2 * HOUR;
    let (st, set) = doc.put(DND, json!({"until_ts": until, "cover": cal.user_id})).await;
    assert_eq!(st, 200, "{set}");
    assert_eq!(
        set,
        json!({"user_id": doc.user_id, "active": true, "until_ts": until,
               "cover": {"user_id": cal.user_id, "displayname": "Dr cal"}})
    );
    // Cal cannot now name Doc, who is on do-not-disturb.
    let (st, e) = cal.put(DND, json!({"until_ts": until, "cover": doc.user_id})).await;
    assert_eq!((st, e["errcode"].as_str()), (409, Some("ORG.WARDLINE.COVER_ON_DND")), "{e}");

    // The nurse sees it: Wardline's endpoint, and presence as any Matrix client sees it.
    let (st, seen) = nia.get(&format!("{DND}/{}", enc(&doc.user_id))).await;
    assert_eq!((st, &seen), (200, &set));
    let (st, off) = nia.get(&format!("{DND}/{}", enc(&cal.user_id))).await;
    assert_eq!((st, off["active"].as_bool(), &off["cover"]), (200, Some(false), &Value::Null), "{off}");
    let (st, p) = nia.get(&format!("/_matrix/client/v3/presence/{}/status", enc(&doc.user_id))).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["presence"], "unavailable");
    let msg = p["status_msg"].as_str().unwrap();
    assert!(msg.starts_with("Do not disturb until ") && msg.ends_with(" UTC — cover: Dr cal"), "{msg}");
    assert_eq!(p["org.wardline.dnd"], json!({"until_ts": until, "cover": cal.user_id}));
    let synced = nia.sync(Some(&nia_since), 0, None).await;
    let told = presence_of(&synced, &doc.user_id).expect("Nia's sync hears of it");
    assert_eq!((told["presence"].as_str(), told["status_msg"].as_str()), (Some("unavailable"), Some(msg)));
    assert_eq!(told["org.wardline.dnd"]["cover"], json!(cal.user_id));
    // Doc's own clients are told to keep quiet.
    let own = doc.sync(None, 0, None).await;
    let data = own["account_data"]["events"].as_array().unwrap();
    let mine = data.iter().find(|e| e["type"] == "org.wardline.dnd").expect("own account data");
    assert_eq!((mine["content"]["active"].as_bool(), mine["content"]["until_ts"].as_u64()), (Some(true), Some(until)));

    // A direct message: Doc has it, and Cal a labelled copy in a conversation with Nia.
    let (st, sent) = nia.send_text(&dm, "t1", "Bed 4 obs due").await;
    assert_eq!(st, 200, "{sent}");
    let (room, marker, messages) = copies(&cal, 1).await;
    assert_eq!(marker, json!({"absent": doc.user_id, "sender": nia.user_id, "cover": cal.user_id}));
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["body"], "[Forwarded: Dr doc is on do-not-disturb; Dr cal covers]\nBed 4 obs due");
    assert_eq!(
        messages[0]["org.wardline.forwarded"],
        json!({"for": doc.user_id, "cover": cal.user_id, "room_id": dm, "event_id": sent["event_id"]})
    );
    let docs = doc.sync(None, 0, None).await;
    assert_eq!(timeline_bodies(&docs, &dm), ["Bed 4 obs due"], "the absent person keeps his copy");
    // Nia sees the conversation and Cal's answer there.
    let (st, _) = cal.send_text(&room, "a1", "I'll see bed 4").await;
    assert_eq!(st, 200);
    let nias = nia.sync(None, 0, None).await;
    let bodies = timeline_bodies(&nias, &room);
    assert!(bodies.iter().any(|b| b == "I'll see bed 4"), "{bodies:?}");

    // A restart copies nothing again; a message sent after it is copied, once.
    assert!(s.terminate());
    let again = Server::start_in(&s.data_dir, &[]);
    let [nia, cal, doc] = [nia, cal, doc].map(|c| Client { base: again.base.clone(), ..c });
    let (st, _) = nia.send_text(&dm, "t2", "Bed 5 too").await;
    assert_eq!(st, 200);
    let (same, _, messages) = copies(&cal, 3).await;
    assert_eq!(same, room, "the same conversation");
    let bodies: Vec<&str> = messages.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert_eq!(bodies.iter().filter(|b| b.ends_with("Bed 4 obs due")).count(), 1, "never twice: {bodies:?}");
    assert!(bodies[2].ends_with("Bed 5 too"), "{bodies:?}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(copies(&cal, 3).await.2.len(), 3, "nothing more came");

    // It persists across the restart, and ends when he ends it.
    let (st, still) = nia.get(&format!("{DND}/{}", enc(&doc.user_id))).await;
    assert_eq!((st, still["active"].as_bool()), (200, Some(true)));
    let (st, ended) = doc.send_json(reqwest::Method::DELETE, DND, json!({})).await;
    assert_eq!((st, ended["active"].as_bool()), (200, Some(false)), "{ended}");
    let (_, p) = nia.get(&format!("/_matrix/client/v3/presence/{}/status", enc(&doc.user_id))).await;
    assert!(p.get("org.wardline.dnd").is_none() && p["status_msg"].is_null(), "{p}");
    let (st, _) = nia.send_text(&dm, "t3", "Back now?").await;
    assert_eq!(st, 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(copies(&cal, 3).await.2.len(), 3, "nothing copied once it ended");
}
