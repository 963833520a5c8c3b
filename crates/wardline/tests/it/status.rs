//! "Delivered" and "Read": one rule, answered alike by the status endpoint, the counts `/sync`
//! sends the sender, and `wardline room transcript`; deliveries survive a restart; the sender's
//! long-poll wakes when their message is delivered and when it is read.

use std::path::PathBuf;

use serde_json::{Value, json};
use wardline_types::Timestamp;

use crate::harness::{Client, PASSWORD, Server, cli, enc};

fn next(sync: &Value) -> String {
    sync["next_batch"].as_str().unwrap().to_owned()
}

/// The counts a sync lists for `event` in `org.wardline.message_status`, if it lists it.
fn listed(sync: &Value, room: &str, event: &str) -> Option<Value> {
    let events = sync["rooms"]["join"][room]["ephemeral"]["events"].as_array()?;
    let status = events.iter().find(|e| e["type"] == "org.wardline.message_status")?;
    status["content"].get(event).cloned()
}

fn counts(recipients: u64, delivered: u64, read: u64) -> Value {
    json!({"recipients": recipients, "delivered": delivered, "read": read})
}

/// Long-polls as `c` from `since` until a sync lists `event` with `want`; returns where it got to.
/// (Deliveries are stored after the response that made them, and the sender is woken then.)
pub async fn until_counts(c: &Client, since: &str, room: &str, event: &str, want: &Value) -> String {
    let mut since = since.to_owned();
    let mut seen = Vec::new();
    for _ in 0..20 {
        let sync = c.sync(Some(&since), 10_000, None).await;
        since = next(&sync);
        match listed(&sync, room, event) {
            Some(got) if &got == want => return since,
            Some(got) => seen.push(got),
            None => {}
        }
    }
    panic!("{event} never listed with {want}; listed: {seen:?}");
}

fn status_path(room: &str, event: &str) -> String {
    format!("/_wardline/client/v1/rooms/{}/status/{}", enc(room), enc(event))
}

async fn receipt(c: &Client, room: &str, event: &str) {
    let (st, body) =
        c.post(&format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", enc(room), enc(event)), json!({})).await;
    assert_eq!(st, 200, "{body}");
}

fn rfc3339(ms: &Value) -> String {
    Timestamp(ms.as_u64().unwrap()).to_rfc3339()
}

/// The scripted ward: a late joiner, a leaver, a reader, a device that got the message without a
/// receipt, a receipt made before the message reached its sender's device, an invitee who never
/// joins, a reader whose sync skipped the message and who scrolls back to it before reading,
/// and a reader who opens the room but never scrolls down to it.
#[tokio::test]
async fn endpoint_sync_and_transcript_agree() {
    let mut s = Server::start();
    let _keep = s.keep_dir();
    let ada = s.user("ada").await;
    let ben = s.user("ben").await; // reads it
    let cat = s.user("cat").await; // her device gets it; she never sends a receipt
    let dan = s.user("dan").await; // sends a receipt before his device has it
    let eve = s.user("eve").await; // gets it, then leaves
    let fay = s.user("fay").await; // joins after it
    let gus = s.user("gus").await; // never in the room
    let hal = s.user("hal").await; // his limited sync skips it; he scrolls back, then reads
    let ivy = s.user("ivy").await; // opens the room, never scrolls down: a receipt for an earlier event
    let kim = s.user("kim").await; // invited, never joins
    let ids: Vec<&str> = [&ben, &cat, &dan, &eve, &hal, &ivy, &kim].iter().map(|c| c.user_id.as_str()).collect();
    let room = ada.create_room(json!({"name": "Ward 7 handover", "invite": ids})).await;
    let mut since = std::collections::HashMap::new();
    for c in [&ben, &cat, &dan, &eve, &hal, &ivy] {
        c.join(&room).await;
    }
    let (_, earlier) = ada.send_text(&room, "t0", "Handover starts 07:30").await;
    let earlier = earlier["event_id"].as_str().unwrap().to_owned();
    for c in [&ada, &ben, &cat, &dan, &eve, &fay, &hal, &ivy] {
        since.insert(c.user_id.clone(), next(&c.sync(None, 0, None).await));
    }
    let (_, sent) = ada.send_text(&room, "t1", "Bed 12: NEWS 7, please review").await;
    let m = sent["event_id"].as_str().unwrap().to_owned();
    let mut ada_since = next(&ada.sync(Some(&since[&ada.user_id]), 0, None).await);
    let (st, fresh) = ada.get(&status_path(&room, &m)).await;
    assert_eq!((st, &fresh["counts"]), (200, &counts(7, 0, 0)), "{fresh}");
    assert_eq!(fresh["delivery_recorded"], true, "{fresh}");

    receipt(&dan, &room, &m).await;
    for (c, delivered) in [(&ben, 1), (&cat, 2), (&dan, 3), (&eve, 4)] {
        c.sync(Some(&since[&c.user_id]), 0, None).await;
        ada_since = until_counts(&ada, &ada_since, &room, &m, &counts(7, delivered, 0)).await;
    }
    let (st, _) = eve.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
    assert_eq!(st, 200);
    ada.invite(&room, &fay.user_id).await;
    fay.join(&room).await;
    fay.sync(Some(&since[&fay.user_id]), 0, None).await;
    receipt(&fay, &room, &m).await;
    receipt(&ben, &room, &m).await;
    ada_since = until_counts(&ada, &ada_since, &room, &m, &counts(7, 4, 1)).await;

    // Two more messages. Hal's phone syncs with room for one event: it skips the message, and
    // his receipt for the latest reads nothing. He scrolls back (a page of history), and his
    // client sends its receipt again: now he has read it.
    let (_, b) = ada.send_text(&room, "t2", "Bed 14 for discharge").await;
    let after = b["event_id"].as_str().unwrap().to_owned();
    let (_, b) = ada.send_text(&room, "t3", "Pharmacy round at 10").await;
    let latest = b["event_id"].as_str().unwrap().to_owned();
    let hal_sync = hal.sync(Some(&since[&hal.user_id]), 0, Some(r#"{"room":{"timeline":{"limit":1}}}"#)).await;
    assert_eq!(hal_sync["rooms"]["join"][&room]["timeline"]["limited"], true, "{hal_sync}");
    receipt(&hal, &room, &latest).await;
    ada_since = until_counts(&ada, &ada_since, &room, &latest, &counts(7, 1, 1)).await;
    let (st, hal_status) = ada.get(&status_path(&room, &m)).await;
    assert_eq!((st, &hal_status["counts"]), (200, &counts(7, 4, 1)), "Hal's phone never showed it: {hal_status}");
    let (st, page) = hal.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=20", enc(&room))).await;
    assert_eq!(st, 200, "{page}");
    receipt(&hal, &room, &latest).await;
    ada_since = until_counts(&ada, &ada_since, &room, &m, &counts(7, 5, 2)).await;
    // Ivy opens the room (her device gets all of it) but her client only ever showed the top:
    // its receipt names an earlier event. The message, and the two after it, stay unread.
    ivy.sync(Some(&since[&ivy.user_id]), 0, None).await;
    receipt(&ivy, &room, &earlier).await;
    until_counts(&ada, &ada_since, &room, &m, &counts(7, 6, 2)).await;
    for event in [&after, &latest] {
        let (_, b) = ada.get(&status_path(&room, event)).await;
        assert_eq!(b["counts"], counts(7, 2, 1), "Fay is a recipient of these, not Eve; Ivy read neither: {b}");
    }

    // The endpoint: the same counts, and who and when.
    let (st, status) = ada.get(&status_path(&room, &m)).await;
    assert_eq!(st, 200, "{status}");
    assert_eq!((&status["event_id"], &status["sender"]), (&json!(m), &json!(ada.user_id)));
    assert_eq!(status["counts"], counts(7, 6, 2), "{status}");
    let recipients = status["recipients"].as_array().unwrap();
    let who: Vec<&str> = recipients.iter().map(|r| r["user_id"].as_str().unwrap()).collect();
    assert_eq!(
        who,
        [
            "@ben:localhost",
            "@cat:localhost",
            "@dan:localhost",
            "@eve:localhost",
            "@hal:localhost",
            "@ivy:localhost",
            "@kim:localhost"
        ],
        "not Fay, not Ada; Kim though she never joined"
    );
    let by = |u: &str| recipients.iter().find(|r| r["user_id"] == format!("@{u}:localhost")).unwrap();
    assert!(recipients.iter().all(|r| r["delivered_ts"].is_u64() == (r["user_id"] != "@kim:localhost")), "{status}");
    for reader in ["ben", "hal"] {
        assert!(by(reader)["read_ts"].as_u64() >= by(reader)["delivered_ts"].as_u64(), "{status}");
    }
    for unread in ["cat", "dan", "eve", "ivy", "kim"] {
        assert!(by(unread)["read_ts"].is_null(), "{unread}: no receipt, too early, left, earlier event: {status}");
    }
    // A current member who may see the message is answered alike; anyone else (Eve, who left;
    // Gus, never in the room) as for no such event.
    let (st, for_fay) = fay.get(&status_path(&room, &m)).await;
    assert_eq!((st, &for_fay), (200, &status));
    let (unknown_st, unknown) = ada.get(&status_path(&room, "$nosuchevent")).await;
    for outsider in [&eve, &gus] {
        let (st, body) = outsider.get(&status_path(&room, &m)).await;
        assert_eq!((st, &body["errcode"]), (unknown_st, &unknown["errcode"]));
        assert_eq!((st, body["errcode"].as_str()), (404, Some("M_NOT_FOUND")), "{}", outsider.user_id);
    }

    // A first sync of Ada's lists the same counts.
    let first = ada.sync(None, 0, None).await;
    assert_eq!(listed(&first, &room, &m), Some(counts(7, 6, 2)), "{first}");
    // Unless the ephemeral filter leaves it out, as it can receipts.
    for filter in
        [r#"{"room":{"ephemeral":{"not_types":["org.wardline.*"]}}}"#, r#"{"room":{"ephemeral":{"types":[]}}}"#]
    {
        let filtered = ada.sync(None, 0, Some(filter)).await;
        assert_eq!(listed(&filtered, &room, &m), None, "{filter}: {filtered}");
    }

    // The transcript says the same.
    assert!(s.terminate());
    let (ok, text, err) = cli(&s.data_dir, &["room", "transcript", &room], None);
    assert!(ok, "{err}");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.ends_with("Bed 12: NEWS 7, please review")).expect("the message");
    let line = |label: &str| {
        lines[at + 1..].iter().take(3).find(|l| l.trim_start().starts_with(label)).copied().unwrap_or_default()
    };
    let entry = |l: &str, user: &str, ts: &Value| {
        let ts = rfc3339(ts);
        l.contains(&format!("{user}) at {ts}")) || l.contains(&format!("{user} at {ts}"))
    };
    let delivered = line("delivered to:");
    for r in recipients.iter().filter(|r| r["delivered_ts"].is_u64()) {
        assert!(entry(delivered, r["user_id"].as_str().unwrap(), &r["delivered_ts"]), "{r}: {text}");
    }
    let read = line("read by:");
    for reader in ["ben", "hal"] {
        assert!(entry(read, &format!("@{reader}:localhost"), &by(reader)["read_ts"]), "{text}");
    }
    assert!(["@cat", "@dan", "@eve", "@fay", "@ivy", "@kim"].iter().all(|u| !read.contains(u)), "{text}");
    assert!(!delivered.contains("@fay") && !delivered.contains("@kim"), "{text}");
    let undelivered = line("not delivered to:");
    assert!(undelivered.contains("@kim:localhost") && !undelivered.contains("@fay"), "{text}");
}

/// Per device: Ben's ward PC gets the message; his phone's limited sync skips it, and the
/// phone's receipt for a later message reads only what the phone showed. The PC's receipt
/// reads it.
#[tokio::test]
async fn a_receipt_reads_only_what_its_own_device_was_sent() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let pc = s.user("ben").await;
    let phone = s.login("ben", PASSWORD).await;
    assert_ne!(pc.device_id, phone.device_id);
    let room = ada.create_room(json!({"invite": [pc.user_id]})).await;
    pc.join(&room).await;
    let pc_since = next(&pc.sync(None, 0, None).await);
    let phone_since = next(&phone.sync(None, 0, None).await);
    let mut ada_since = next(&ada.sync(None, 0, None).await);
    let mut sent = Vec::new();
    for (i, body) in ["Bed 9: hold the 18:00 gentamicin", "Pharmacy aware", "Level back at 17:30"].iter().enumerate() {
        let (_, b) = ada.send_text(&room, &format!("t{i}"), body).await;
        sent.push(b["event_id"].as_str().unwrap().to_owned());
    }
    pc.sync(Some(&pc_since), 0, None).await;
    let limited = phone.sync(Some(&phone_since), 0, Some(r#"{"room":{"timeline":{"limit":1}}}"#)).await;
    assert_eq!(limited["rooms"]["join"][&room]["timeline"]["limited"], true, "{limited}");
    receipt(&phone, &room, &sent[2]).await;
    ada_since = until_counts(&ada, &ada_since, &room, &sent[2], &counts(1, 1, 1)).await;
    for event in &sent[..2] {
        let (_, b) = ada.get(&status_path(&room, event)).await;
        assert_eq!(b["counts"], counts(1, 1, 0), "delivered to the PC, never shown on the phone: {b}");
    }
    receipt(&pc, &room, &sent[2]).await;
    until_counts(&ada, &ada_since, &room, &sent[0], &counts(1, 1, 1)).await;
}

/// Whom a message was delivered to is stored: a restarted server still knows.
#[tokio::test]
async fn delivered_survives_a_restart() {
    let mut s = Server::start();
    let _keep = s.keep_dir();
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let room = ada.create_room(json!({"invite": [ben.user_id]})).await;
    ben.join(&room).await;
    let ben_since = next(&ben.sync(None, 0, None).await);
    let ada_since = next(&ada.sync(None, 0, None).await);
    let (_, sent) = ada.send_text(&room, "t1", "Sats 88% on air, bed 3").await;
    let m = sent["event_id"].as_str().unwrap().to_owned();
    ben.sync(Some(&ben_since), 0, None).await;
    until_counts(&ada, &ada_since, &room, &m, &counts(1, 1, 0)).await;
    let (_, before) = ada.get(&status_path(&room, &m)).await;
    assert!(before["recipients"][0]["delivered_ts"].is_u64(), "{before}");

    assert!(s.terminate());
    let data_dir: PathBuf = s.data_dir.clone();
    let restarted = Server::start_in(&data_dir, &[]);
    let ada = Client { base: restarted.base.clone(), ..ada };
    let (st, after) = ada.get(&status_path(&room, &m)).await;
    assert_eq!((st, &after), (200, &before));
    assert_eq!(listed(&ada.sync(None, 0, None).await, &room, &m), Some(counts(1, 1, 0)));
}

/// The sender's waiting long-poll (shown waiting by the server's log first) wakes with the new
/// counts when the recipient's device gets the message, and again when they read it.
#[tokio::test]
async fn the_senders_long_poll_wakes_when_delivered_and_when_read() {
    let (s, log) = Server::start_with_log(&[("WARDLINE_LOG", "warn,wardline_service::sync=debug")]);
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let room = ada.create_room(json!({"invite": [ben.user_id]})).await;
    ben.join(&room).await;
    let ben_since = next(&ben.sync(None, 0, None).await);
    next(&ada.sync(None, 0, None).await);
    let (_, sent) = ada.send_text(&room, "t1", "Can someone cover bay 2 at 3?").await;
    let m = sent["event_id"].as_str().unwrap().to_owned();
    let mut ada_since = next(&ada.sync(None, 0, None).await);

    // Only Ada's long-polls wait (every other sync here has no timeout).
    let waits = || std::fs::read_to_string(&log).unwrap_or_default().matches("sync long-poll waiting").count();
    for (act, want) in [("sync", counts(1, 1, 0)), ("read", counts(1, 1, 1))] {
        let before = waits();
        let poller = ada.clone();
        let from = ada_since.clone();
        let poll = tokio::spawn(async move { poller.sync(Some(&from), 30_000, None).await });
        let mut tries = 0;
        while waits() == before {
            tries += 1;
            assert!(tries < 600 && !poll.is_finished(), "the long-poll never waited");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(!poll.is_finished());
        match act {
            "sync" => {
                ben.sync(Some(&ben_since), 0, None).await;
            }
            _ => receipt(&ben, &room, &m).await,
        }
        let woken = poll.await.unwrap();
        assert_eq!(listed(&woken, &room, &m), Some(want.clone()), "{act}: {woken}");
        ada_since = next(&woken);
    }
}

/// Only what a response carried counts as delivered: not the gap before a limited timeline, not
/// what a filter left out; a page of history or an event's context delivers what it shows.
#[tokio::test]
async fn only_what_a_response_carried_is_delivered() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let room = ada.create_room(json!({"invite": [ben.user_id]})).await;
    ben.join(&room).await;
    let ben_since = next(&ben.sync(None, 0, None).await);
    let mut ada_since = next(&ada.sync(None, 0, None).await);
    let mut sent = Vec::new();
    for i in 1..=4 {
        let (_, b) = ada.send_text(&room, &format!("t{i}"), &format!("obs round {i}")).await;
        sent.push(b["event_id"].as_str().unwrap().to_owned());
    }
    let delivered = |event: String| {
        let ada = ada.clone();
        let room = room.clone();
        async move {
            let (st, b) = ada.get(&status_path(&room, &event)).await;
            assert_eq!(st, 200, "{b}");
            b["recipients"][0]["delivered_ts"].is_u64()
        }
    };
    // A limited timeline: the two newest; the two before them were not delivered.
    let limited = ben.sync(Some(&ben_since), 0, Some(r#"{"room":{"timeline":{"limit":2}}}"#)).await;
    assert_eq!(limited["rooms"]["join"][&room]["timeline"]["limited"], true);
    ada_since = until_counts(&ada, &ada_since, &room, &sent[3], &counts(1, 1, 0)).await;
    let got = [delivered(sent[0].clone()).await, delivered(sent[1].clone()).await, delivered(sent[2].clone()).await];
    assert_eq!(got, [false, false, true]);

    // A filter that leaves messages out: the sticker after the message was delivered, not it.
    let (_, b) = ada.send_text(&room, "t5", "obs round 5").await;
    let fifth = b["event_id"].as_str().unwrap().to_owned();
    let (st, b) = ada
        .put(&format!("/_matrix/client/v3/rooms/{}/send/m.sticker/s1", enc(&room)), json!({"body": "thumbs up"}))
        .await;
    assert_eq!(st, 200, "{b}");
    let sticker = b["event_id"].as_str().unwrap().to_owned();
    let no_messages = r#"{"room":{"timeline":{"not_types":["m.room.message"]}}}"#;
    let filtered = ben.sync(Some(&next(&limited)), 0, Some(no_messages)).await;
    let shown = filtered["rooms"]["join"][&room]["timeline"]["events"].as_array().unwrap();
    assert!(shown.iter().all(|e| e["type"] != "m.room.message"), "{filtered}");
    ada_since = until_counts(&ada, &ada_since, &room, &sticker, &counts(1, 1, 0)).await;
    assert!(!delivered(fifth.clone()).await);

    // A page of history delivers what it shows.
    let (st, page) = ben.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=20", enc(&room))).await;
    assert_eq!(st, 200, "{page}");
    ada_since = until_counts(&ada, &ada_since, &room, &sent[0], &counts(1, 1, 0)).await;
    assert!(delivered(sent[1].clone()).await && delivered(fifth).await);

    // So does an event's context, even with nothing around it; and nothing more: the next
    // message, which the context looked at and left out, was not delivered.
    let (_, b) = ada.send_text(&room, "t6", "obs round 6").await;
    let sixth = b["event_id"].as_str().unwrap().to_owned();
    let (_, b) = ada.send_text(&room, "t7", "obs round 7").await;
    let seventh = b["event_id"].as_str().unwrap().to_owned();
    let (st, ctx) = ben.get(&format!("/_matrix/client/v3/rooms/{}/context/{}?limit=0", enc(&room), enc(&sixth))).await;
    assert_eq!(st, 200, "{ctx}");
    assert_eq!(ctx["events_after"], json!([]), "{ctx}");
    until_counts(&ada, &ada_since, &room, &sixth, &counts(1, 1, 0)).await;
    assert!(!delivered(seventh).await, "over-delivered by /context");
}
