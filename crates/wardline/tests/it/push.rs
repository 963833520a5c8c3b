//! Push notifications over real HTTP (issue 14, "a phone that rings"): a local push gateway
//! receives well-formed notifications per the Push Gateway API; a rejected push key removes its
//! pusher; signing out removes the device's pushers; a gateway that stays down moves an
//! escalation on; and notifications queued before a crash are delivered after the restart.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Client, Server, enc};

const NOTIFY: &str = "/_matrix/push/v1/notify";
const TEXT: &str = "K+ 6.9 bed 4 Mr Smith";

/// A push gateway on 127.0.0.1: records every notification and answers `{"rejected": [...]}`
/// with the push keys it is told to reject.
#[derive(Clone, Default)]
struct Gateway {
    received: Arc<Mutex<Vec<Value>>>,
    reject: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    /// Serves on `addr` (port 0: any); returns the notify URL.
    async fn serve(&self, addr: SocketAddr) -> String {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let local = listener.local_addr().unwrap();
        let me = self.clone();
        let app = axum::Router::new().route(
            NOTIFY,
            axum::routing::post(move |body: String| {
                let me = me.clone();
                async move {
                    let v: Value = serde_json::from_str(&body).unwrap_or(json!({"unparsable": body}));
                    me.received.lock().unwrap().push(v);
                    let rejected = me.reject.lock().unwrap().clone();
                    axum::Json(json!({ "rejected": rejected }))
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{local}{NOTIFY}")
    }

    /// Waits until `n` notifications came (at most 20 s).
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..400 {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the gateway got {:?}, not {n} notifications", self.received.lock().unwrap());
    }
}

fn pusher(url: &str, key: &str) -> Value {
    json!({
        "pushkey": key,
        "kind": "http",
        "app_id": "org.wardline.android",
        "app_display_name": "Wardline",
        "device_display_name": "Ward phone",
        "lang": "en-GB",
        "data": {"url": url, "format": "event_id_only"},
    })
}

async fn pushers(c: &Client) -> Vec<Value> {
    let (st, body) = c.get("/_matrix/client/v3/pushers").await;
    assert_eq!(st, 200, "{body}");
    body["pushers"].as_array().unwrap().clone()
}

async fn wait_until_no_pushers(c: &Client) {
    for _ in 0..400 {
        if pushers(c).await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the pusher was never removed");
}

#[tokio::test]
async fn a_push_gateway_gets_well_formed_notifications_without_text_and_rejected_keys_end_the_pusher() {
    let gw = Gateway::default();
    let url = gw.serve(SocketAddr::from(([127, 0, 0, 1], 0))).await;
    // One URL in the environment (not a TOML array) is a list of one.
    let s = Server::start_with_env(&[("WARDLINE_PUSH__GATEWAY_URLS", url.as_str())]);
    let nia = s.user("nia").await;
    let reg = s.user("reg").await;

    // Only the listed gateway: anything else in the hospital's network is refused.
    for elsewhere in ["http://10.1.2.3/_matrix/push/v1/notify", "http://127.0.0.1:1/_matrix/push/v1/notify"] {
        let (st, body) = reg.post("/_matrix/client/v3/pushers/set", pusher(elsewhere, "k")).await;
        assert_eq!((st, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{body}");
    }
    let (st, body) = reg.post("/_matrix/client/v3/pushers/set", json!({"pushkey": "k", "app_id": "a"})).await;
    assert_eq!(st, 400, "a pusher with no kind key at all is malformed: {body}");

    let (st, body) = reg.post("/_matrix/client/v3/pushers/set", pusher(&url, "reg-phone")).await;
    assert_eq!(st, 200, "{body}");
    let listed = pushers(&reg).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["kind"], "http");
    assert_eq!(listed[0]["data"], json!({"url": url, "format": "event_id_only"}));
    assert_eq!(listed[0]["device_display_name"], "Ward phone");
    let (st, _) = nia.post("/_matrix/client/v3/pushers/set", pusher(&url, "nia-phone")).await;
    assert_eq!(st, 200);

    let room = nia.room_with(&[&reg]).await;
    let routine = nia.sent_event(&room, "m.room.message", "r1", json!({"msgtype": "m.text", "body": TEXT})).await;
    let urgent = nia
        .sent_event(
            &room,
            "m.room.message",
            "u1",
            json!({"msgtype": "m.text", "body": TEXT, "org.wardline.priority": {"level": "urgent"}}),
        )
        .await;
    let got = gw.wait_for(2).await;
    let mut by_event: Vec<&Value> = got.iter().collect();
    by_event.sort_by_key(|v| v["notification"]["event_id"] != json!(routine));
    for (n, (id, prio, unread)) in by_event.iter().zip([(&routine, "low", 1), (&urgent, "high", 2)]) {
        let text = n.to_string();
        assert!(!text.contains("K+") && !text.contains("Smith") && !text.contains("Dr nia"), "{text}");
        let n = &n["notification"];
        let keys: Vec<&String> = n.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["counts", "devices", "event_id", "prio", "room_id"], "event_id_only: ids, counts, prio");
        assert_eq!(n["event_id"], json!(id));
        assert_eq!(n["room_id"], json!(room));
        assert_eq!(n["prio"], prio);
        assert_eq!(n["counts"], json!({"unread": unread}));
        let devices = n["devices"].as_array().unwrap();
        assert_eq!(devices.len(), 1);
        let d = &devices[0];
        assert_eq!(d["app_id"], "org.wardline.android");
        assert_eq!(d["pushkey"], "reg-phone", "to Reg only, never to Nia for her own messages");
        assert!(d["pushkey_ts"].as_u64().unwrap() > 1_600_000_000, "seconds since the epoch: {d}");
        assert_eq!(d["data"], json!({"format": "event_id_only"}), "data without the url");
        if prio == "high" {
            assert_eq!(d["tweaks"], json!({"highlight": true, "sound": "default"}));
        }
    }

    // The gateway rejects Reg's key: his pusher ends.
    gw.reject.lock().unwrap().push("reg-phone".into());
    nia.sent_event(&room, "m.room.message", "r2", json!({"msgtype": "m.text", "body": "again"})).await;
    gw.wait_for(3).await;
    wait_until_no_pushers(&reg).await;
    assert_eq!(pushers(&nia).await.len(), 1, "only the rejected key");

    // Signing out ends the session's pushers (every way a device ends).
    let (st, _) = nia.post("/_matrix/client/v3/logout", json!({})).await;
    assert_eq!(st, 200);
    let nia_again = s.login("nia", crate::harness::PASSWORD).await;
    assert!(pushers(&nia_again).await.is_empty(), "the signed-out device's pusher is gone");
}

#[tokio::test]
async fn a_shared_ward_phone_moves_its_pusher_to_the_next_person_and_says_whose_it_was() {
    let gw = Gateway::default();
    let url = gw.serve(SocketAddr::from(([127, 0, 0, 1], 0))).await;
    let s = Server::start_with_env(&[("WARDLINE_PUSH__GATEWAY_URLS", url.as_str())]);
    let nia = s.user("nia").await;
    let reg = s.user("reg").await;
    let raj = s.user("raj").await;
    // The night nurse's session on the ward phone registered it; the day nurse signs in on the
    // same phone, whose app sets the same push key.
    let (st, body) = nia.post("/_matrix/client/v3/pushers/set", pusher(&url, "ward-phone-7")).await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = reg.post("/_matrix/client/v3/pushers/set", pusher(&url, "ward-phone-7")).await;
    assert_eq!(st, 200, "{body}");
    assert!(pushers(&nia).await.is_empty(), "no longer listed as Nia's: the phone is Reg's now");
    let listed = pushers(&reg).await;
    assert_eq!((listed.len(), listed[0]["pushkey"].as_str()), (1, Some("ward-phone-7")));
    // With `append`, both keep it.
    let mut appended = pusher(&url, "ward-phone-7");
    appended["append"] = json!(true);
    let (st, body) = raj.post("/_matrix/client/v3/pushers/set", appended).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!((pushers(&reg).await.len(), pushers(&raj).await.len()), (1, 1));

    // A message to both now rings the phone once, as Reg's (Raj sent it).
    let room = raj.room_with(&[&nia, &reg]).await;
    raj.sent_event(&room, "m.room.message", "r1", json!({"msgtype": "m.text", "body": TEXT})).await;
    gw.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = gw.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "to Reg only (Raj sent it, Nia's pusher is gone): {got:?}");

    // The trail names whose pusher went, and who set the key.
    let (ok, out, err) = crate::harness::cli(&s.data_dir, &["audit", "export"], None);
    assert!(ok, "{err}");
    let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let removed: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "pusher" && r["detail"].as_str().is_some_and(|d| d.starts_with("removed")))
        .collect();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(
        (removed[0]["actor"].as_str(), removed[0]["target_user"].as_str()),
        (Some("@reg:localhost"), Some("@nia:localhost"))
    );
    assert!(!out.contains("ward-phone-7"), "never the push key");
}

#[tokio::test]
async fn without_gateways_configured_http_pushers_are_refused_and_web_push_is_offered() {
    let s = Server::start();
    let reg = s.user("reg").await;
    let (st, body) = reg
        .post("/_matrix/client/v3/pushers/set", pusher("https://push.example.org/_matrix/push/v1/notify", "k"))
        .await;
    assert_eq!((st, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("push.gateway_urls"), "names the setting: {body}");

    let (st, caps) = reg.get("/_matrix/client/v3/capabilities").await;
    assert_eq!(st, 200);
    let webpush = &caps["capabilities"]["m.webpush"];
    assert_eq!(webpush["enabled"], true, "{caps}");
    let (st, vapid) = reg.get("/_wardline/client/v1/push/vapid").await;
    assert_eq!(st, 200, "{vapid}");
    assert_eq!(vapid["public_key"], webpush["vapid"]);
    assert_eq!(vapid["public_key"].as_str().unwrap().len(), 87, "65 bytes, base64url without padding");
    let (st, _) = s.client().get("/_wardline/client/v1/push/vapid").await;
    assert_eq!(st, 401, "staff only");

    // A Web Push endpoint outside the push services is refused.
    let sub = json!({
        "pushkey": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        "kind": "webpush", "app_id": "org.wardline.web", "app_display_name": "Wardline",
        "device_display_name": "Firefox", "lang": "en",
        "data": {"url": "https://intranet.hospital.example/admin", "auth": "tBHItJI5svbpez7KI4CCXg"},
    });
    let (st, body) = reg.post("/_matrix/client/v3/pushers/set", sub).await;
    assert_eq!((st, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{body}");
}

async fn steps_of(c: &Client, room: &str, msg: &str) -> usize {
    let (st, body) = c.get(&format!("/_wardline/client/v1/rooms/{}/status/{}", enc(room), enc(msg))).await;
    assert_eq!(st, 200, "{body}");
    body["escalation"]["steps"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_gateway_that_stays_down_moves_the_escalation_on_at_once() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}{NOTIFY}");
    let s = Server::start_with_env(&[
        ("WARDLINE_PUSH__GATEWAY_URLS", &format!("[\"{url}\"]")),
        ("WARDLINE_PUSH__MAX_ATTEMPTS", "2"),
        ("WARDLINE_PUSH__FIRST_RETRY_SECS", "1"),
    ]);
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
    let (st, body) = reg.post("/_matrix/client/v3/pushers/set", pusher(&url, "reg-phone")).await;
    assert_eq!(st, 200, "{body}");
    let room = nia.room_with(&[&reg]).await;
    let msg = nia
        .sent_event(
            &room,
            "m.room.message",
            "u1",
            json!({"msgtype": "m.text", "body": TEXT, "org.wardline.priority": {"level": "urgent"}}),
        )
        .await;
    // Two attempts a second apart, then the step due in 30 minutes runs now.
    for _ in 0..400 {
        if steps_of(&nia, &room, &msg).await >= 1 {
            assert_eq!(pushers(&reg).await.len(), 1, "a gateway that is down does not end the pusher");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the escalation never moved on after every push to Reg failed");
}

#[tokio::test]
async fn notifications_queued_before_a_crash_are_delivered_after_the_restart() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let url = format!("http://{addr}{NOTIFY}");
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let env = [
        ("WARDLINE_PUSH__GATEWAY_URLS", url.as_str()),
        ("WARDLINE_PUSH__FIRST_RETRY_SECS", "60"),
        ("WARDLINE_TEST_CLOCK_FILE", clock.to_str().unwrap()),
    ];
    let data = dir.path().join("data");
    let mut s = Server::start_in(&data, &env);
    let nia = s.user("nia").await;
    let reg = s.user("reg").await;
    let (st, body) = reg.post("/_matrix/client/v3/pushers/set", pusher(&url, "reg-phone")).await;
    assert_eq!(st, 200, "{body}");
    let room = nia.room_with(&[&reg]).await;
    let msg = nia.sent_event(&room, "m.room.message", "r1", json!({"msgtype": "m.text", "body": TEXT})).await;
    // The gateway is down: the first attempt fails and the next is a minute away. Wait until the
    // attempt is recorded, then crash.
    let db = data.join("wardline.db");
    let attempted = || {
        let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
        c.query_row("SELECT attempts FROM push_queue WHERE event_id = ?1 AND due_ts > 0", [&msg], |r| {
            r.get::<_, i64>(0)
        })
        .ok()
    };
    let mut tries = 0;
    while attempted() != Some(1) {
        tries += 1;
        assert!(tries < 400, "the first attempt was never made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.kill9();

    let gw = Gateway::default();
    gw.serve(addr).await;
    let _s = Server::start_in(&data, &env);
    // Two minutes on: the retry is due (and any claim of the crashed server has run out).
    std::fs::write(&clock, "120000").unwrap();
    let got = gw.wait_for(1).await;
    assert_eq!(got[0]["notification"]["event_id"], json!(msg));
}
