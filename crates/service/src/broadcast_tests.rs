//! A broadcast to a thousand people, with the manual clock: the report's figures are exact
//! (delivered, read, acknowledged by response and by reaction), the reminder names exactly
//! those who have not, and the report's time is measured. Then who may post in a broadcast:
//! its sender only while an administrator lets them broadcast, its recipients only answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ruma::{OwnedDeviceId, OwnedUserId};
use serde_json::json;
use wardline_store::{Delivery, Store};
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::broadcast::Audience;
use wardline_types::priority::Level;
use wardline_types::{AccountUpdate, Clock, ManualClock, NewAccount, StreamPos, Timestamp};

use super::NewBroadcast;
use crate::audit::Actor;
use crate::rooms::SendEvent;
use crate::{Config, ServiceError, Services};

const T0: Timestamp = Timestamp(1_800_000_000_000);
const N: usize = 1000;

fn user(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{name}:localhost")).unwrap()
}

fn actor(name: &str) -> Actor {
    Actor { user_id: user(name), device_id: Some(OwnedDeviceId::from("PC")), ip: None }
}

fn staff(i: usize) -> String {
    format!("s{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_recipients_report_exactly_and_reminders_name_exactly_who_has_not() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    let s = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
    tokio::spawn(s.audit.clone().run_writer());
    let names: Vec<String> = std::iter::once("ada".to_owned()).chain((0..N).map(staff)).collect();
    for name in &names {
        let account = NewAccount {
            user_id: user(name),
            password_hash: "not a password".into(),
            display_name: Some(format!("Dr {name}")),
            is_admin: false,
            must_change_password: false,
            job_title: None,
            department: Some("Wards".into()),
            email: None,
            phone: None,
        };
        store.create_account(account, T0).await.unwrap();
    }
    let new = || NewBroadcast {
        audience: Audience::Department { department: "wards".into() },
        title: "Sepsis screening".into(),
        body: "New sepsis screening tool from Monday.".into(),
        level: Level::Routine,
        acknowledge: true,
        txn_id: "t1".into(),
    };
    // Not without the permission.
    assert!(matches!(s.broadcasts.send(&actor("ada"), new()).await, Err(ServiceError::Forbidden(_))));
    let grant = AccountUpdate { may_broadcast: Some(true), ..AccountUpdate::default() };
    store.update_account(&user("ada"), grant).await.unwrap();

    let started = Instant::now();
    let (b, repeated) = s.broadcasts.send(&actor("ada"), new()).await.unwrap();
    let send_time = started.elapsed();
    assert!(!repeated);
    assert_eq!(b.recipients, N as u64);
    let message = store.event(&b.event_id).await.unwrap().unwrap();

    // The first 600 got it on their PC; the first 400 of them read it; the first 300
    // acknowledged (even ones by response, odd ones by 👍); s0999 acknowledged without a
    // receipt (answering is not reading).
    for i in 0..600 {
        let d = Delivery {
            room_id: b.room_id.clone(),
            user_id: user(&staff(i)),
            device_id: Some(OwnedDeviceId::from("PC")),
            first: message.stream,
            last: message.stream,
            ts: clock.now(),
            stream: StreamPos::ZERO,
        };
        store.put_deliveries(vec![d]).await.unwrap();
    }
    clock.advance(Duration::from_secs(60));
    for i in 0..400 {
        let arrived = s.arrival();
        s.userdata.receipt(&actor(&staff(i)), &b.room_id, "m.read", &b.event_id, None, arrived).await.unwrap();
    }
    for i in (0..300).chain([N - 1]) {
        let content = if i % 2 == 0 {
            json!({"msgtype": "m.text", "body": "Acknowledge", "org.wardline.response": {"option": "acknowledge"},
                "m.relates_to": {"rel_type": "m.reference", "event_id": b.event_id}})
        } else {
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": b.event_id, "key": "👍"}})
        };
        let kind = if i % 2 == 0 { "m.room.message" } else { "m.reaction" };
        let req = SendEvent {
            room_id: b.room_id.clone(),
            kind: kind.into(),
            state_key: None,
            content,
            redacts: None,
            txn: None,
        };
        s.rooms.send(&actor(&staff(i)), req).await.unwrap();
    }

    let started = Instant::now();
    let r = s.broadcasts.report(&actor("ada"), &b.room_id).await.unwrap();
    let report_time = started.elapsed();
    eprintln!("broadcast to {N}: sent in {send_time:?}, report in {report_time:?}");
    assert_eq!((r.recipients, r.delivered, r.read, r.acknowledged), (N as u64, 600, 400, 301));
    assert_eq!((r.not_read_total, r.not_acknowledged_total), (600, 699));
    assert_eq!(r.not_read.len(), super::REPORT_LIST_CAP, "capped; the total is exact");
    assert_eq!(r.not_read[0].user_id, user(&staff(400)));
    assert_eq!(r.not_acknowledged[0].display_name.as_deref(), Some("Dr s0300"));

    // The reminder names exactly the 699 who have not acknowledged; a second one must wait.
    let reminded = s.broadcasts.remind(&actor("ada"), &b.room_id).await.unwrap();
    let expected: Vec<OwnedUserId> = (300..N - 1).map(|i| user(&staff(i))).collect();
    assert_eq!(reminded.users, expected);
    let mut mentioned = Vec::new();
    for id in &reminded.notices {
        let notice = store.event(id).await.unwrap().unwrap();
        assert_eq!(notice.event.sender, user("wardline"));
        let ids = notice.event.content["m.mentions"]["user_ids"].as_array().unwrap().clone();
        mentioned.extend(
            ids.into_iter().map(|v| user(v.as_str().unwrap().trim_start_matches('@').split(':').next().unwrap())),
        );
    }
    assert_eq!(mentioned, expected);
    match s.broadcasts.remind(&actor("ada"), &b.room_id).await {
        Err(ServiceError::RateLimited { retry_after_ms }) => assert_eq!(retry_after_ms, super::REMIND_INTERVAL_MS),
        other => panic!("{other:?}"),
    }
    clock.advance(Duration::from_millis(super::REMIND_INTERVAL_MS));
    assert_eq!(s.broadcasts.remind(&actor("ada"), &b.room_id).await.unwrap().users.len(), 699);

    // The same transaction again sends nothing.
    let (again, repeated) = s.broadcasts.send(&actor("ada"), new()).await.unwrap();
    assert!(repeated);
    assert_eq!(again.room_id, b.room_id);
}

/// Services over a fresh store with these accounts (department "Wards"), Ada allowed to
/// broadcast, and her broadcast to the ward sent, asking to acknowledge.
struct Sent {
    s: Services,
    store: Arc<dyn Store>,
    b: wardline_store::Broadcast,
    _dir: tempfile::TempDir,
}

async fn sent(names: &[&str]) -> Sent {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    let s = Services::new(config, Arc::clone(&store), clock).unwrap();
    tokio::spawn(s.audit.clone().run_writer());
    for name in std::iter::once(&"ada").chain(names) {
        let account = NewAccount {
            user_id: user(name),
            password_hash: "not a password".into(),
            display_name: Some(format!("Dr {name}")),
            is_admin: false,
            must_change_password: false,
            job_title: None,
            department: Some("Wards".into()),
            email: None,
            phone: None,
        };
        store.create_account(account, T0).await.unwrap();
    }
    may_broadcast(&store, true).await;
    let new = NewBroadcast {
        audience: Audience::Department { department: "Wards".into() },
        title: "Fire drill".into(),
        body: "Fire drill at 14:00.".into(),
        level: Level::Routine,
        acknowledge: true,
        txn_id: "t1".into(),
    };
    let (b, _) = s.broadcasts.send(&actor("ada"), new).await.unwrap();
    Sent { s, store, b, _dir: dir }
}

async fn may_broadcast(store: &Arc<dyn Store>, may: bool) {
    let update = AccountUpdate { may_broadcast: Some(may), ..AccountUpdate::default() };
    store.update_account(&user("ada"), update).await.unwrap();
}

impl Sent {
    async fn post(
        &self,
        who: &str,
        kind: &str,
        state_key: Option<&str>,
        content: serde_json::Value,
    ) -> Result<ruma::OwnedEventId, ServiceError> {
        let req = SendEvent {
            room_id: self.b.room_id.clone(),
            kind: kind.into(),
            state_key: state_key.map(Into::into),
            content,
            redacts: None,
            txn: None,
        };
        self.s.rooms.send(&actor(who), req).await
    }

    async fn text(&self, who: &str, body: &str) -> Result<ruma::OwnedEventId, ServiceError> {
        self.post(who, "m.room.message", None, json!({"msgtype": "m.text", "body": body})).await
    }

    async fn content(&self, id: &ruma::EventId) -> serde_json::Value {
        self.store.event(id).await.unwrap().unwrap().event.content
    }

    /// The audit records of `action` with `outcome`, as (actor, room, detail).
    async fn records(&self, action: AuditAction, outcome: Outcome) -> Vec<(String, String, String)> {
        self.s.audit.flush().await.unwrap();
        self.store
            .audit_records(1, 100_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.record.action == action && r.record.outcome == outcome)
            .map(|r| {
                let r = r.record;
                (r.actor.unwrap_or_default(), r.room_id.unwrap_or_default(), r.detail.unwrap_or_default())
            })
            .collect()
    }
}

#[tokio::test]
async fn a_sender_whose_permission_is_withdrawn_posts_nothing_more_in_the_broadcasts_they_made() {
    let t = sent(&["ben"]).await;
    let room = t.b.room_id.to_string();
    t.text("ada", "Update: the drill starts at 14:15.").await.unwrap();
    let follow_up = t.text("ada", "Assemble in car park B.").await.unwrap();

    // The administrator withdraws it: she still holds power 100 in the conversation.
    may_broadcast(&t.store, false).await;
    let refused = t.text("ada", "Ignore the administrator, read this").await;
    match &refused {
        Err(ServiceError::Forbidden(why)) => assert!(why.contains("no longer broadcast"), "{why}"),
        other => panic!("{other:?}"),
    }
    let edit = json!({"msgtype": "m.text", "body": "* changed", "m.new_content": {"msgtype": "m.text", "body": "changed"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": t.b.event_id}});
    assert!(matches!(t.post("ada", "m.room.message", None, edit).await, Err(ServiceError::Forbidden(_))), "no edit");
    let name = t.post("ada", "m.room.name", Some(""), json!({"name": "Broadcast: all staff read this"})).await;
    assert!(matches!(name, Err(ServiceError::Forbidden(_))), "no state: {name:?}");
    let sticker = t.post("ada", "m.sticker", None, json!({"body": "look", "url": "mxc://x/y"})).await;
    assert!(matches!(sticker, Err(ServiceError::Forbidden(_))), "no other kind of event: {sticker:?}");
    // The reminder is a broadcast too.
    assert!(matches!(t.s.broadcasts.remind(&actor("ada"), &t.b.room_id).await, Err(ServiceError::Forbidden(_))));
    // What she may still do: react, take back her own message, see the report.
    let react = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": t.b.event_id, "key": "👍"}});
    t.post("ada", "m.reaction", None, react).await.unwrap();
    let redact = SendEvent {
        room_id: t.b.room_id.clone(),
        kind: "m.room.redaction".into(),
        state_key: None,
        content: json!({}),
        redacts: Some(follow_up),
        txn: None,
    };
    t.s.rooms.send(&actor("ada"), redact).await.unwrap();
    t.s.broadcasts.report(&actor("ada"), &t.b.room_id).await.unwrap();
    // Recipients still answer.
    let ack = json!({"msgtype": "m.text", "body": "Acknowledge", "org.wardline.response": {"option": "acknowledge"},
        "m.relates_to": {"rel_type": "m.reference", "event_id": t.b.event_id}});
    let answer = t.post("ben", "m.room.message", None, ack).await.unwrap();
    // Nor may she delete their answers any more (her own events only).
    let theirs = SendEvent {
        room_id: t.b.room_id.clone(),
        kind: "m.room.redaction".into(),
        state_key: None,
        content: json!({}),
        redacts: Some(answer),
        txn: None,
    };
    assert!(matches!(t.s.rooms.send(&actor("ada"), theirs).await, Err(ServiceError::Forbidden(_))));

    // Audited as denied, naming the conversation.
    let denied = t.records(AuditAction::MessageSend, Outcome::Denied).await;
    assert!(
        denied.iter().any(|(who, r, d)| who == "@ada:localhost" && *r == room && d.contains("no longer broadcast")),
        "{denied:?}"
    );
    let denied = t.records(AuditAction::Broadcast, Outcome::Denied).await;
    assert!(
        denied.iter().any(|(who, r, d)| who == "@ada:localhost" && *r == room && d.starts_with("remind")),
        "{denied:?}"
    );

    // Given back, she posts again; deactivated, not even with the permission.
    may_broadcast(&t.store, true).await;
    t.text("ada", "The drill is over.").await.unwrap();
    t.store.set_deactivated(&user("ada"), true).await.unwrap();
    assert!(matches!(t.text("ada", "still here").await, Err(ServiceError::Forbidden(_))));
}

#[tokio::test]
async fn a_recipient_answers_with_the_option_and_a_reason_only_and_reacts_only_to_answer() {
    let t = sent(&["ben", "cat"]).await;
    let message = t.b.event_id.clone();
    // Ben's client puts free text, formatting and a mass mention in his "answer".
    let loud = json!({
        "msgtype": "m.text",
        "body": "@room EVERYONE READ THIS: the drill is cancelled",
        "format": "org.matrix.custom.html",
        "formatted_body": "<h1>EVERYONE READ THIS</h1>",
        "m.mentions": {"user_ids": ["@cat:localhost"], "room": true},
        "m.relates_to": {"rel_type": "m.reference", "event_id": message},
        "org.wardline.response": {"option": "acknowledge", "reason": "  on my way\nsecond line  "},
        "org.wardline.priority": null,
    });
    let id = t.post("ben", "m.room.message", None, loud).await.unwrap();
    let mut expected = json!({
        "msgtype": "m.text",
        "body": "Acknowledge — on my way second line",
        "m.relates_to": {"rel_type": "m.reference", "event_id": message},
        "org.wardline.response": {"option": "acknowledge", "reason": "on my way second line"},
    });
    expected["m.mentions"] = json!({});
    assert_eq!(t.content(&id).await, expected, "rebuilt from the option chosen");
    // The answer counts as before.
    let r = t.s.broadcasts.report(&actor("ada"), &t.b.room_id).await.unwrap();
    assert_eq!(r.acknowledged, 1);
    // An option the broadcast does not offer is refused, not rebuilt into something else.
    let other = json!({"msgtype": "m.text", "body": "x", "org.wardline.response": {"option": "decline"},
        "m.relates_to": {"rel_type": "m.reference", "event_id": message}});
    assert!(matches!(t.post("cat", "m.room.message", None, other).await, Err(ServiceError::InvalidParam(_))));

    // Reactions: only those that answer, with nothing but their relation.
    let party = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": message, "key": "🎉 free text"}});
    assert!(matches!(t.post("cat", "m.reaction", None, party).await, Err(ServiceError::Forbidden(_))));
    let thumbs = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": message, "key": "👍", "extra": 1},
        "body": "see me", "m.mentions": {"user_ids": ["@ben:localhost"]}});
    let id = t.post("cat", "m.reaction", None, thumbs).await.unwrap();
    assert_eq!(
        t.content(&id).await,
        json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": message, "key": "👍"}})
    );
    assert_eq!(t.s.broadcasts.report(&actor("ada"), &t.b.room_id).await.unwrap().acknowledged, 2);
    // Taking a reaction back carries no text either.
    let redact = SendEvent {
        room_id: t.b.room_id.clone(),
        kind: "m.room.redaction".into(),
        state_key: None,
        content: json!({"reason": "@room everyone look at this"}),
        redacts: Some(id),
        txn: None,
    };
    let redaction = t.s.rooms.send(&actor("cat"), redact).await.unwrap();
    assert!(t.content(&redaction).await.get("reason").is_none());
    // The sender's own messages are hers to write.
    let mine = t.text("ada", "Car park B, @room").await.unwrap();
    assert_eq!(t.content(&mine).await["body"], "Car park B, @room");
}

#[test]
fn the_rules_refuse_a_recipients_answer_that_was_not_rebuilt() {
    use crate::rooms::broadcast_room::may_post;
    let ev = |kind: &str, content: serde_json::Value| wardline_types::NewEvent {
        event_id: ruma::owned_event_id!("$e"),
        room_id: ruma::owned_room_id!("!r:localhost"),
        sender: user("ben"),
        kind: kind.into(),
        state_key: None,
        content,
        origin_server_ts: T0,
        redacts: None,
        txn: None,
    };
    let answer = json!({"msgtype": "m.text", "body": "Acknowledge", "m.mentions": {},
        "m.relates_to": {"rel_type": "m.reference", "event_id": "$m"}, "org.wardline.response": {"option": "acknowledge"}});
    assert!(may_post("@ada:localhost", &ev("m.room.message", answer.clone())));
    for (field, value) in [
        ("m.mentions", json!({"room": true})),
        ("formatted_body", json!("<b>x</b>")),
        ("body", json!("Acknowledge\nand more")),
        ("msgtype", json!("m.notice")),
    ] {
        let mut bad = answer.clone();
        bad[field] = value;
        assert!(!may_post("@ada:localhost", &ev("m.room.message", bad)), "{field}");
    }
    let mut unmentioned = answer.clone();
    unmentioned.as_object_mut().unwrap().remove("m.mentions");
    assert!(!may_post("@ada:localhost", &ev("m.room.message", unmentioned)), "mentions must be empty, not left out");
    let reaction = |key: &str| json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$m", "key": key}});
    assert!(may_post("@ada:localhost", &ev("m.reaction", reaction("👍🏽"))));
    assert!(may_post("@ada:localhost", &ev("m.reaction", reaction("2️⃣"))));
    assert!(!may_post("@ada:localhost", &ev("m.reaction", reaction("🎉"))));
    assert!(!may_post("@ada:localhost", &ev("m.reaction", reaction(&format!("👍{}", "\u{1F3FB}".repeat(20))))));
    assert!(!may_post("@ada:localhost", &ev("m.room.encrypted", json!({"algorithm": "m.megolm.v1.aes-sha2"}))));
    assert!(may_post("@ada:localhost", &ev("m.room.redaction", json!({"redacts": "$m"}))));
    assert!(!may_post("@ada:localhost", &ev("m.room.redaction", json!({"redacts": "$m", "reason": "look"}))));
}

#[tokio::test]
async fn a_retry_after_a_crash_between_sending_and_recording_sends_nothing_twice() {
    let t = sent(&["ben", "cat"]).await;
    let new = |txn: &str| NewBroadcast {
        audience: Audience::Department { department: "Wards".into() },
        title: "Lift out of order".into(),
        body: "Lift B is out of order until Friday.".into(),
        level: Level::Urgent,
        acknowledge: true,
        txn_id: txn.into(),
    };
    // The first attempt creates the conversation and sends the message, then dies before the
    // broadcast is recorded.
    t.s.broadcasts.crash_before_recording.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(t.s.broadcasts.send(&actor("ada"), new("t2")).await.is_err());
    let rooms_after_crash = t.store.rooms_of_user(&user("ben")).await.unwrap().len();

    // The client retries the same transaction, from another device.
    let other = Actor { device_id: Some(OwnedDeviceId::from("PHONE")), ..actor("ada") };
    let (b, repeated) = t.s.broadcasts.send(&other, new("t2")).await.unwrap();
    assert!(!repeated, "it was never recorded: this attempt records it");
    assert_eq!(t.store.rooms_of_user(&user("ben")).await.unwrap().len(), rooms_after_crash, "no second conversation");
    let messages: Vec<_> = t
        .store
        .room_events(
            &b.room_id,
            wardline_store::PosRange::upto(t.store.current_pos()),
            wardline_store::Direction::Forward,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == "m.room.message" && e.event.sender == user("ada"))
        .collect();
    assert_eq!(messages.len(), 1, "the message once: {messages:?}");
    assert_eq!(messages[0].event.event_id, b.event_id);
    assert_eq!(b.sent, messages[0].event.origin_server_ts, "sent when it was sent, not when it was recorded");
    let mine = t.s.broadcasts.mine(&user("ada")).await.unwrap();
    assert_eq!(mine.iter().filter(|m| m.txn_id == "t2").count(), 1);
    let sent_records = t.records(AuditAction::Broadcast, Outcome::Success).await;
    assert_eq!(
        sent_records
            .iter()
            .filter(|(_, room, d)| room.as_str() == b.room_id.as_str() && d.starts_with("sent "))
            .count(),
        1
    );

    // A different transaction is a different broadcast, in its own conversation.
    let (other_b, _) = t.s.broadcasts.send(&actor("ada"), new("t3")).await.unwrap();
    assert_ne!(other_b.room_id, b.room_id);
}

#[tokio::test]
async fn a_transaction_id_used_for_one_broadcast_never_sends_a_different_one_to_its_audience() {
    let t = sent(&["ben"]).await;
    let new = |title: &str, body: &str, audience: Audience| NewBroadcast {
        audience,
        title: title.into(),
        body: body.into(),
        level: Level::Routine,
        acknowledge: true,
        txn_id: "t4".into(),
    };
    let wards = || Audience::Department { department: "Wards".into() };
    // The first attempt dies after creating its conversation, before the message.
    t.s.broadcasts.crash_before_recording.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(t.s.broadcasts.send(&actor("ada"), new("Parking", "Car park A closed.", wards())).await.is_err());
    let rooms_of_ben = t.store.rooms_of_user(&user("ben")).await.unwrap().len();
    // The sender changes the broadcast and the client (wrongly) keeps the transaction id.
    for changed in [
        new("Parking", "Car park A closed.", Audience::Organisation),
        new("Parking today", "Car park A closed.", wards()),
    ] {
        let refused = t.s.broadcasts.send(&actor("ada"), changed).await;
        assert!(matches!(refused, Err(ServiceError::InvalidParam(_))), "{refused:?}");
        assert_eq!(
            t.store.rooms_of_user(&user("ben")).await.unwrap().len(),
            rooms_of_ben,
            "nobody seated anywhere new"
        );
    }
    // The same broadcast again goes out; then a different text under the same id is refused.
    let (b, _) = t.s.broadcasts.send(&actor("ada"), new("Parking", "Car park A closed.", wards())).await.unwrap();
    assert_eq!(b.audience, wards());
    let other_text = NewBroadcast { txn_id: "t5".into(), ..new("Lifts", "Lift B is fine.", wards()) };
    t.s.broadcasts.crash_before_recording.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(t.s.broadcasts.send(&actor("ada"), other_text.clone()).await.is_err());
    let changed_text = NewBroadcast { body: "Lift B is out of order.".into(), ..other_text };
    assert!(matches!(t.s.broadcasts.send(&actor("ada"), changed_text).await, Err(ServiceError::InvalidParam(_))));
}
