//! Push delivery over the real store with the manual clock and a fake transport: what a
//! gateway receives (every field, `prio`, no text), rejected push keys, Web Push requests,
//! retries with backoff, and an escalation hastened when every push to a recipient failed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ruma::{OwnedDeviceId, OwnedEventId, OwnedRoomId};
use serde_json::{Map, Value, json};
use wardline_store::Store;
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::escalation::{Action, Policy, Scope, Step, Target};
use wardline_types::priority::Level;
use wardline_types::{Clock, ManualClock, NewAccount, Timestamp, kinds};

use super::{Answer, PushTransport, SetPusher};
use crate::audit::{By, Operator};
use crate::config::PushSettings;
use crate::roles::tests::{T0, actor, user};
use crate::rooms::{CreateRoom, SendEvent};
use crate::{Caller, Config, ServiceError, ServiceResult, Services};

const GATEWAY: &str = "https://push.example.org/_matrix/push/v1/notify";
const MIN: u64 = 60_000;
const TEXT: &str = "K+ 6.9 bed 4 Mr Smith";

/// What the fake push service answers.
#[derive(Debug, Clone)]
enum Mode {
    Accept,
    Reject,
    Down,
    Status(u16),
    /// Accepts the connection and never answers.
    Hang,
}

/// One request the fake received: URL, headers, body.
type Sent = (String, Vec<(&'static str, String)>, Vec<u8>);

#[derive(Debug)]
struct Fake {
    mode: Mutex<Mode>,
    sent: Mutex<Vec<Sent>>,
}

#[async_trait]
impl PushTransport for Fake {
    async fn post(&self, url: &str, headers: Vec<(&'static str, String)>, body: Vec<u8>) -> Result<Answer, String> {
        self.sent.lock().unwrap().push((url.to_owned(), headers, body.clone()));
        let mode = self.mode.lock().unwrap().clone();
        match mode {
            Mode::Hang => std::future::pending().await,
            Mode::Accept => Ok(Answer { status: 200, body: br#"{"rejected":[]}"#.to_vec() }),
            Mode::Reject => {
                let key = serde_json::from_slice::<Value>(&body)
                    .map_or(Value::Null, |v| v["notification"]["devices"][0]["pushkey"].clone());
                Ok(Answer { status: 200, body: json!({ "rejected": [key] }).to_string().into_bytes() })
            }
            Mode::Down => Err("could not connect".into()),
            Mode::Status(s) => Ok(Answer { status: s, body: Vec::new() }),
        }
    }
}

struct Ward {
    s: Services,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    fake: Arc<Fake>,
    _dir: tempfile::TempDir,
}

fn caller(name: &str) -> Caller {
    Caller {
        user_id: user(name),
        device_id: OwnedDeviceId::from("PHONE"),
        is_admin: false,
        must_change_password: false,
        token_hash: String::new(),
        ip: None,
        must_enrol_mfa: false,
        signed_in_at: T0,
    }
}

fn http_pusher(key: &str) -> SetPusher {
    let mut data = Map::new();
    data.insert("url".into(), json!(GATEWAY));
    data.insert("custom".into(), json!("kept"));
    SetPusher {
        pushkey: key.into(),
        app_id: "org.wardline.ios".into(),
        kind: Some("http".into()),
        app_display_name: "Wardline".into(),
        device_display_name: "Ward phone".into(),
        lang: "en-GB".into(),
        data,
        ..SetPusher::default()
    }
}

impl Ward {
    async fn open() -> Self {
        Self::open_with(crate::config::RateLimits::default()).await
    }

    async fn open_with(rate_limits: crate::config::RateLimits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
        let clock = Arc::new(ManualClock::new(T0));
        let push = PushSettings {
            gateway_urls: vec![GATEWAY.into()],
            max_attempts: 3,
            first_retry_secs: 10,
            ..PushSettings::default()
        };
        let config = Config { data_dir: dir.path().to_owned(), push, rate_limits, ..Config::default() };
        let s = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
        tokio::spawn(s.audit.clone().run_writer());
        for name in ["nia", "reg", "raj", "ann"] {
            let account = NewAccount {
                user_id: user(name),
                password_hash: "not a password".into(),
                display_name: Some(format!("Dr {name}")),
                is_admin: name == "ann",
                must_change_password: false,
                job_title: None,
                department: None,
                email: None,
                phone: None,
            };
            store.create_account(account, T0).await.unwrap();
        }
        let fake = Arc::new(Fake { mode: Mutex::new(Mode::Accept), sent: Mutex::new(Vec::new()) });
        s.pushers.use_transport(fake.clone());
        Self { s, clock, store, fake, _dir: dir }
    }

    fn mode(&self, m: Mode) {
        *self.fake.mode.lock().unwrap() = m;
    }

    fn sent(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.fake.sent.lock().unwrap())
    }

    async fn ward(&self, others: &[&str]) -> OwnedRoomId {
        let req = CreateRoom { invite: others.iter().map(|o| user(o)).collect(), ..CreateRoom::default() };
        let room = self.s.rooms.create_room(&actor("nia"), req).await.unwrap();
        for o in others {
            self.s.rooms.join(&room, &actor(o)).await.unwrap();
        }
        room
    }

    async fn send(&self, who: &str, room: &OwnedRoomId, content: Value) -> OwnedEventId {
        let req = SendEvent {
            room_id: room.clone(),
            kind: kinds::MESSAGE.into(),
            state_key: None,
            content,
            redacts: None,
            txn: None,
        };
        self.s.rooms.send(&actor(who), req).await.unwrap()
    }

    async fn urgent(&self, room: &OwnedRoomId) -> OwnedEventId {
        self.send("nia", room, json!({"msgtype": "m.text", "body": TEXT, "org.wardline.priority": {"level": "urgent"}}))
            .await
    }

    async fn after(&self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
        self.s.pushers.tick().await.unwrap();
    }

    async fn records(&self, action: AuditAction) -> Vec<(String, Outcome)> {
        self.s.audit.flush().await.unwrap();
        let records = self.store.audit_records(1, 10_000).await.unwrap();
        records
            .into_iter()
            .filter(|r| r.record.action == action)
            .map(|r| (r.record.detail.unwrap_or_default(), r.record.outcome))
            .collect()
    }
}

#[tokio::test]
async fn the_gateway_gets_ids_counts_and_priority_never_the_text() {
    let w = Ward::open().await;
    w.s.pushers.set_pusher(&caller("reg"), http_pusher("reg-phone")).await.unwrap();
    w.s.pushers.set_pusher(&caller("nia"), http_pusher("nia-phone")).await.unwrap();
    let room = w.ward(&["reg"]).await;
    let routine = w.send("nia", &room, json!({"msgtype": "m.text", "body": TEXT})).await;
    let urgent = w.urgent(&room).await;
    w.s.pushers.tick().await.unwrap();

    let mut sent = w.sent();
    assert_eq!(sent.len(), 2, "one push per message to Reg, none to Nia for her own");
    // (Claimed urgent first; sent at once, so in no set order.)
    sent.sort_by_key(|s| serde_json::from_slice::<Value>(&s.2).unwrap()["notification"]["event_id"] != json!(routine));
    for (i, (url, headers, body)) in sent.iter().enumerate() {
        assert_eq!(url, GATEWAY);
        assert!(headers.contains(&("content-type", "application/json".into())));
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(!text.contains("K+") && !text.contains("Smith") && !text.contains("Dr "), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let n = &v["notification"];
        let (id, prio) = if i == 0 { (&routine, "low") } else { (&urgent, "high") };
        assert_eq!(n["event_id"], json!(id));
        assert_eq!(n["room_id"], json!(room));
        assert_eq!(n["type"], "m.room.message");
        assert_eq!(n["prio"], prio);
        assert_eq!(n["counts"], json!({"unread": i + 1}));
        assert!(n.get("sender").is_none() && n.get("content").is_none() && n.get("room_name").is_none());
        let d = &n["devices"][0];
        assert_eq!(n["devices"].as_array().unwrap().len(), 1);
        assert_eq!(d["app_id"], "org.wardline.ios");
        assert_eq!(d["pushkey"], "reg-phone");
        assert_eq!(d["pushkey_ts"], T0.0 / 1000);
        assert_eq!(d["data"], json!({"custom": "kept"}), "data without its url");
        let tweaks = if i == 0 { json!({}) } else { json!({"highlight": true, "sound": "default"}) };
        assert_eq!(d["tweaks"], tweaks);
    }
    w.s.pushers.tick().await.unwrap();
    assert!(w.sent().is_empty(), "each sent once");
}

#[tokio::test]
async fn a_rejected_pushkey_removes_the_pusher_and_says_so() {
    let w = Ward::open().await;
    w.s.pushers.set_pusher(&caller("reg"), http_pusher("stale")).await.unwrap();
    let room = w.ward(&["reg"]).await;
    w.mode(Mode::Reject);
    w.send("nia", &room, json!({"msgtype": "m.text", "body": TEXT})).await;
    w.s.pushers.tick().await.unwrap();
    assert_eq!(w.sent().len(), 1);
    assert!(w.s.pushers.pushers(&caller("reg")).await.unwrap().is_empty(), "removed");
    let records = w.records(AuditAction::Pusher).await;
    assert!(records.iter().any(|(d, _)| d.contains("removed kind=http") && d.contains("rejected")), "{records:?}");
    w.mode(Mode::Accept);
    w.send("nia", &room, json!({"msgtype": "m.text", "body": "again"})).await;
    w.s.pushers.tick().await.unwrap();
    assert!(w.sent().is_empty(), "no pusher, no push");
}

#[tokio::test]
async fn a_gateway_that_is_down_is_retried_with_backoff_then_the_escalation_moves_on() {
    let w = Ward::open().await;
    let steps = vec![
        Step { after_ms: 10 * MIN, action: Action::Renotify },
        Step { after_ms: 20 * MIN, action: Action::Failsafe { targets: vec![Target::User { user_id: user("ann") }] } },
    ];
    let op = Operator { os_user: "root".into(), os_uid: None };
    w.s.escalation.set_policy(By::Operator(&op), &Scope::Organisation, Level::Urgent, &Policy { steps }).await.unwrap();
    w.s.pushers.set_pusher(&caller("reg"), http_pusher("reg-phone")).await.unwrap();
    let room = w.ward(&["reg"]).await;
    w.mode(Mode::Down);
    let msg = w.urgent(&room).await;
    w.s.escalation.tick().await.unwrap();
    w.s.pushers.tick().await.unwrap();
    assert_eq!(w.sent().len(), 1, "first attempt");
    w.after(9_000).await;
    assert!(w.sent().is_empty(), "not before the first retry (10 s)");
    w.after(1_000).await;
    assert_eq!(w.sent().len(), 1, "second attempt at 10 s");
    w.after(19_000).await;
    assert!(w.sent().is_empty(), "the next waits twice as long");
    let esc = w.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.due, Some(Timestamp(T0.0 + 10 * MIN)), "not hastened while attempts remain");
    w.after(1_000).await;
    assert_eq!(w.sent().len(), 1, "third and last attempt");

    let esc = w.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.due, Some(w.clock.now()), "every push to Reg failed: the next step is due now");
    let records = w.records(AuditAction::Escalation).await;
    assert!(
        records.iter().any(|(d, o)| d.contains("push to @reg:localhost's devices failed")
            && d.contains("gave up after 3 attempts")
            && *o == Outcome::Failure),
        "{records:?}"
    );
    w.s.escalation.tick().await.unwrap();
    assert_eq!(w.store.escalation(&msg).await.unwrap().unwrap().step, 1, "the step ran now, not at 10 minutes");
    assert_eq!(w.s.pushers.pushers(&caller("reg")).await.unwrap().len(), 1, "a pusher that is down is kept");
}

#[tokio::test]
async fn a_push_that_gets_through_does_not_hasten_anything() {
    let w = Ward::open().await;
    w.s.pushers.set_pusher(&caller("reg"), http_pusher("reg-phone")).await.unwrap();
    let mut other = http_pusher("reg-tablet");
    other.device_display_name = "Tablet".into();
    w.s.pushers.set_pusher(&caller("reg"), other).await.unwrap();
    let room = w.ward(&["reg"]).await;
    w.mode(Mode::Status(400));
    let msg = w.urgent(&room).await;
    w.s.escalation.tick().await.unwrap();
    w.s.pushers.tick().await.unwrap();
    assert_eq!(w.sent().len(), 2);
    let esc = w.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.due, Some(w.clock.now()), "both failed for good (400 is not retried): hastened");
    w.mode(Mode::Accept);
    let room2 = w.ward(&["reg"]).await;
    let msg2 = w.urgent(&room2).await;
    w.s.escalation.tick().await.unwrap();
    w.s.pushers.tick().await.unwrap();
    // (The first message's step ran meanwhile: its notice to Reg was pushed too.)
    let about_msg2 = w
        .sent()
        .iter()
        .filter(|(_, _, b)| serde_json::from_slice::<Value>(b).unwrap()["notification"]["event_id"] == json!(msg2))
        .count();
    assert_eq!(about_msg2, 2, "to both devices");
    let esc2 = w.store.escalation(&msg2).await.unwrap().unwrap();
    assert!(esc2.due.unwrap() > w.clock.now(), "delivered: the escalation keeps its time");
}

#[tokio::test]
async fn web_push_is_encrypted_signed_and_urgent_for_urgent_messages() {
    let w = Ward::open().await;
    let rng = ring::rand::SystemRandom::new();
    let ua = ring::agreement::EphemeralPrivateKey::generate(&ring::agreement::ECDH_P256, &rng).unwrap();
    let p256dh = URL_SAFE_NO_PAD.encode(ua.compute_public_key().unwrap().as_ref());
    let mut data = Map::new();
    data.insert("url".into(), json!("https://fcm.googleapis.com/fcm/send/abc"));
    data.insert("auth".into(), json!(URL_SAFE_NO_PAD.encode([9u8; 16])));
    let sub = SetPusher {
        pushkey: p256dh.clone(),
        app_id: "org.wardline.web".into(),
        kind: Some("webpush".into()),
        app_display_name: "Wardline".into(),
        device_display_name: "Firefox".into(),
        lang: "en".into(),
        data: data.clone(),
        ..SetPusher::default()
    };
    w.s.pushers.set_pusher(&caller("reg"), sub.clone()).await.unwrap();
    let room = w.ward(&["reg"]).await;
    let msg = w.urgent(&room).await;
    w.s.pushers.tick().await.unwrap();
    let sent = w.sent();
    assert_eq!(sent.len(), 1);
    let (url, headers, body) = &sent[0];
    assert_eq!(url, "https://fcm.googleapis.com/fcm/send/abc");
    let h = |n: &str| headers.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(h("content-encoding"), "aes128gcm");
    assert_eq!(h("urgency"), "high");
    assert_eq!(h("ttl"), "86400");
    let key = w.s.pushers.vapid_public_key().await.unwrap().unwrap();
    assert!(h("authorization").starts_with("vapid t=") && h("authorization").ends_with(&format!(", k={key}")));
    assert!(!String::from_utf8_lossy(body).contains("K+"), "encrypted");
    let payload = json!({"room_id": room, "event_id": msg, "prio": "high", "unread": 1, "level": "urgent"});
    let plain = serde_json::to_vec(&payload).unwrap().len();
    assert_eq!(body.len(), 16 + 4 + 1 + 65 + plain + 1 + 16, "salt, rs, key id, one record with its tag");

    // A subscription that has gone (410) is removed.
    w.mode(Mode::Status(410));
    w.send("nia", &room, json!({"msgtype": "m.text", "body": "later"})).await;
    w.s.pushers.tick().await.unwrap();
    assert_eq!(w.sent().len(), 1);
    assert!(w.s.pushers.pushers(&caller("reg")).await.unwrap().is_empty(), "removed on 410");

    // Bad keys and addresses are refused when set.
    let mut bad = sub.clone();
    bad.pushkey = "not-a-key".into();
    assert!(matches!(w.s.pushers.set_pusher(&caller("reg"), bad).await, Err(ServiceError::InvalidParam(_))));
    let mut bad = sub.clone();
    bad.data.insert("url".into(), json!("https://169.254.169.254/latest/meta-data"));
    assert!(matches!(w.s.pushers.set_pusher(&caller("reg"), bad).await, Err(ServiceError::Forbidden(_))));
}

#[tokio::test]
async fn setting_pushers_is_checked_and_audited() {
    let w = Ward::open().await;
    let reg = caller("reg");
    let mut elsewhere = http_pusher("k");
    elsewhere.data.insert("url".into(), json!("http://10.0.0.7/_matrix/push/v1/notify"));
    assert!(matches!(w.s.pushers.set_pusher(&reg, elsewhere).await, Err(ServiceError::Forbidden(_))));
    let mut email = http_pusher("k");
    email.kind = Some("email".into());
    assert!(matches!(w.s.pushers.set_pusher(&reg, email).await, Err(ServiceError::InvalidParam(_))));
    let mut format = http_pusher("k");
    format.data.insert("format".into(), json!("full"));
    assert!(matches!(w.s.pushers.set_pusher(&reg, format).await, Err(ServiceError::InvalidParam(_))));
    let mut long = http_pusher(&"k".repeat(513));
    long.app_id = "a".into();
    assert!(matches!(w.s.pushers.set_pusher(&reg, long).await, Err(ServiceError::InvalidParam(_))));

    // The same key set by another account replaces theirs unless appended, audited as such.
    w.s.pushers.set_pusher(&reg, http_pusher("shared")).await.unwrap();
    w.s.pushers.set_pusher(&caller("raj"), http_pusher("shared")).await.unwrap();
    assert!(w.s.pushers.pushers(&reg).await.unwrap().is_empty());
    w.s.audit.flush().await.unwrap();
    let taken: Vec<_> = w
        .store
        .audit_records(1, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.record)
        .filter(|r| r.action == AuditAction::Pusher && r.detail.as_deref().is_some_and(|d| d.starts_with("removed")))
        .collect();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(
        (taken[0].actor.as_deref(), taken[0].target_user.as_deref(), taken[0].detail.as_deref()),
        (
            Some("@raj:localhost"),
            Some("@reg:localhost"),
            Some("removed app_id=org.wardline.ios: its push key was set by @raj:localhost")
        )
    );
    let mut appended = http_pusher("shared");
    appended.append = true;
    w.s.pushers.set_pusher(&reg, appended).await.unwrap();
    assert_eq!(w.s.pushers.pushers(&caller("raj")).await.unwrap().len(), 1);
    assert_eq!(w.s.pushers.pushers(&reg).await.unwrap().len(), 1);

    // Deleting: kind null.
    let mut delete = http_pusher("shared");
    delete.kind = None;
    w.s.pushers.set_pusher(&reg, delete).await.unwrap();
    assert!(w.s.pushers.pushers(&reg).await.unwrap().is_empty());

    for i in 0..super::MAX_PUSHERS {
        w.s.pushers.set_pusher(&reg, http_pusher(&format!("k{i}"))).await.unwrap();
    }
    let too_many = w.s.pushers.set_pusher(&reg, http_pusher("one-more")).await;
    assert!(matches!(too_many, Err(ServiceError::Forbidden(_))), "{too_many:?}");
    w.s.pushers.set_pusher(&reg, http_pusher("k0")).await.unwrap();

    let records = w.records(AuditAction::Pusher).await;
    assert!(records.iter().any(|(d, _)| d == "set kind=http app_id=org.wardline.ios"), "{records:?}");
    assert!(records.iter().any(|(d, _)| d == "deleted app_id=org.wardline.ios"), "{records:?}");
    assert!(records.iter().all(|(d, _)| !d.contains("shared") && !d.contains(GATEWAY)), "no keys or URLs");
}

#[tokio::test]
async fn the_vapid_key_is_made_once_and_kept() {
    let w = Ward::open().await;
    let a = w.s.pushers.vapid_public_key().await.unwrap().unwrap();
    let again = w.store.vapid_key(b"another".to_vec(), T0).await.unwrap();
    let v = super::vapid::Vapid::from_pkcs8(&again, "mailto:x@y".into()).unwrap();
    assert_eq!(v.public_key(), a, "the stored key is kept, not replaced");
}

#[tokio::test]
async fn someone_invited_is_pushed_an_escalating_message_before_joining_but_not_routine_ones() {
    let w = Ward::open().await;
    w.s.pushers.set_pusher(&caller("reg"), http_pusher("reg-phone")).await.unwrap();
    // Reg is invited (as an escalation step brings people in) and has not joined yet.
    let req = CreateRoom { invite: vec![user("reg")], ..CreateRoom::default() };
    let room = w.s.rooms.create_room(&actor("nia"), req).await.unwrap();
    w.send("nia", &room, json!({"msgtype": "m.text", "body": TEXT})).await;
    w.s.pushers.tick().await.unwrap();
    assert!(w.sent().is_empty(), "a routine message waits until they join");
    let urgent = w.urgent(&room).await;
    w.s.escalation.tick().await.unwrap();
    w.s.pushers.tick().await.unwrap();
    let sent = w.sent();
    assert_eq!(sent.len(), 1, "the urgent one rings their phone");
    let v: Value = serde_json::from_slice(&sent[0].2).unwrap();
    assert_eq!(
        (v["notification"]["event_id"].clone(), v["notification"]["prio"].clone()),
        (json!(urgent), json!("high"))
    );
}

/// A room rule for room number `i` that mutes it.
fn mute(i: usize) -> ruma::push::NewPushRule {
    let room = OwnedRoomId::try_from(format!("!r{i}:localhost")).unwrap();
    ruma::push::NewPushRule::Room(ruma::push::NewSimplePushRule::new(room, vec![]))
}

#[tokio::test]
async fn a_persons_own_push_rules_are_limited_in_number_and_size() {
    use ruma::push::{NewConditionalPushRule, NewPatternedPushRule, NewPushRule, PushCondition, RuleKind};
    let w = Ward::open().await;
    let reg = actor("reg");
    for i in 0..super::rules::MAX_OWN_RULES {
        w.s.push.put_rule(&reg, mute(i), None, None).await.unwrap();
    }
    let one_more = w.s.push.put_rule(&reg, mute(1000), None, None).await;
    assert!(matches!(one_more, Err(ServiceError::LimitExceeded(_))), "{one_more:?}");
    w.s.push.put_rule(&reg, mute(7), None, None).await.expect("replacing one of them is not one more");
    w.s.push.delete_rule(&reg, &RuleKind::Room, "!r7:localhost").await.unwrap();
    w.s.push.put_rule(&reg, mute(1000), None, None).await.expect("room for one after deleting one");

    let nia = actor("nia");
    let keyword = |pattern: String| NewPushRule::Content(NewPatternedPushRule::new("kw".into(), pattern, vec![]));
    let invalid = |r: ServiceResult<()>| matches!(r, Err(ServiceError::InvalidParam(_)));
    assert!(invalid(w.s.push.put_rule(&nia, keyword("x".repeat(257)), None, None).await), "pattern");
    w.s.push.put_rule(&nia, keyword("x".repeat(256)), None, None).await.unwrap();
    let cond = |pattern: &str| {
        PushCondition::EventMatch(ruma::push::EventMatchConditionData::new("content.body".into(), pattern.into()))
    };
    let conditional = |conditions: Vec<PushCondition>, actions: Vec<ruma::push::Action>| {
        NewPushRule::Override(NewConditionalPushRule::new("c".into(), conditions, actions))
    };
    assert!(invalid(w.s.push.put_rule(&nia, conditional(vec![cond("a"); 21], vec![]), None, None).await), "conditions");
    assert!(invalid(w.s.push.put_rule(&nia, conditional(vec![cond(&"a".repeat(300))], vec![]), None, None).await));
    let notify = vec![ruma::push::Action::Notify; 11];
    assert!(
        invalid(w.s.push.put_rule(&nia, conditional(vec![cond("a")], notify.clone()), None, None).await),
        "actions"
    );
    w.s.push.put_rule(&nia, conditional(vec![cond("a"); 20], vec![]), None, None).await.unwrap();
    assert!(invalid(w.s.push.set_actions(&nia, &RuleKind::Override, "c", notify).await), "actions set later");
    let long_id = NewPushRule::Override(NewConditionalPushRule::new("i".repeat(300), vec![], vec![]));
    assert!(invalid(w.s.push.put_rule(&nia, long_id, None, None).await), "rule id");
}

#[tokio::test]
async fn a_page_of_notifications_reads_within_its_budget_and_the_next_goes_on_from_there() {
    let w = Ward::open().await;
    let rooms = [w.ward(&["reg"]).await, w.ward(&["reg"]).await, w.ward(&["reg"]).await];
    // Messages that notify Reg, spread over three rooms, with Reg's own (which notify nobody)
    // among them.
    let mut notified = Vec::new();
    for i in 0..30 {
        let room = &rooms[i % 3];
        notified.push(w.send("nia", room, json!({"msgtype": "m.text", "body": format!("obs {i}")})).await);
        if i % 4 == 0 {
            w.send("reg", room, json!({"msgtype": "m.text", "body": "seen"})).await;
        }
    }
    notified.reverse();
    let reg = actor("reg");
    let mut listed = Vec::new();
    let mut from: Option<String> = None;
    let mut pages = 0;
    loop {
        let q =
            super::notifications::NotificationQuery { from: from.as_deref(), limit: Some(7), only_highlight: false };
        let page = w.s.push.notifications_within(&reg, q, 10).await.unwrap();
        assert!(page.scanned <= 10, "read {} events for one page", page.scanned);
        listed.extend(page.notifications.iter().map(|n| n.event.event.event_id.clone()));
        pages += 1;
        match page.next_token {
            Some(t) => from = Some(t),
            None => break,
        }
        assert!(pages < 100, "every page goes on");
    }
    assert_eq!(listed, notified, "each once, newest first, across the rooms");

    // The endpoint reads within the default budget, and is rate limited.
    let page = w.s.push.notifications(&reg, super::notifications::NotificationQuery::default()).await.unwrap();
    assert_eq!(page.notifications.len(), 20);
    assert!(page.scanned <= super::notifications::SCAN_BUDGET);
    let limits = crate::config::RateLimits {
        notifications: crate::config::Bucket { per_second: 0.01, burst: 2 },
        ..crate::config::RateLimits::default()
    };
    let w = Ward::open_with(limits).await;
    for _ in 0..2 {
        w.s.push.notifications(&reg, super::notifications::NotificationQuery::default()).await.unwrap();
    }
    let third = w.s.push.notifications(&reg, super::notifications::NotificationQuery::default()).await;
    assert!(matches!(third, Err(ServiceError::RateLimited { .. })), "{third:?}");
}

#[tokio::test]
async fn a_gateway_that_never_answers_is_cut_off_and_retried_before_the_lease_runs_out() {
    let w = Ward::open().await;
    w.s.pushers.set_pusher(&caller("reg"), http_pusher("reg-phone")).await.unwrap();
    let room = w.ward(&["reg"]).await;
    w.mode(Mode::Hang);
    w.s.pushers.set_attempt_timeout(Duration::from_millis(200));
    w.send("nia", &room, json!({"msgtype": "m.text", "body": TEXT})).await;
    let pass = tokio::time::timeout(Duration::from_secs(10), w.s.pushers.tick()).await;
    assert!(pass.is_ok(), "the pass ends: the attempt was cut off");
    assert_eq!(w.sent().len(), 1);
    // Settled as a retry (10 s on), not left claimed for another node to send again.
    w.mode(Mode::Accept);
    w.after(9_000).await;
    assert!(w.sent().is_empty(), "not before the retry");
    w.after(1_000).await;
    assert_eq!(w.sent().len(), 1, "retried at 10 s, long before the 60 s lease would end");
}

#[tokio::test]
async fn urgent_pushes_go_before_a_backlog_of_routine_ones() {
    let w = Ward::open().await;
    w.s.pushers.set_pusher(&caller("reg"), http_pusher("reg-phone")).await.unwrap();
    let room = w.ward(&["reg"]).await;
    // The gateway is down while routine messages pile up, then an urgent one comes.
    w.mode(Mode::Down);
    for i in 0..40 {
        w.send("nia", &room, json!({"msgtype": "m.text", "body": format!("obs {i}")})).await;
    }
    w.s.pushers.tick().await.unwrap();
    assert_eq!(w.sent().len(), 40, "each tried once");
    let urgent = w.urgent(&room).await;
    w.s.pushers.tick().await.unwrap();
    assert_eq!(w.sent().len(), 1, "the urgent one at once");
    // At the retry all are due together, more than one claim holds: the urgent one is claimed first.
    w.mode(Mode::Hang);
    w.s.pushers.set_attempt_timeout(Duration::from_millis(50));
    w.clock.advance(Duration::from_secs(3600));
    w.s.pushers.tick().await.unwrap();
    let sent = w.sent();
    assert_eq!(sent.len(), 41);
    let at = sent
        .iter()
        .position(|(_, _, b)| serde_json::from_slice::<Value>(b).unwrap()["notification"]["event_id"] == json!(urgent))
        .unwrap();
    assert!(at < super::delivery::SEND_BATCH, "the urgent one is in the first claim, not behind the backlog: {at}");
}
