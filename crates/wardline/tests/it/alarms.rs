//! Alarms routed to the people who must act, through the whole server on the test clock
//! (`WARDLINE_TEST_CLOCK_FILE`): rules checked when saved; a nurse call escalating by its rule
//! to the nurse in charge, accepted, then reset by its source; a cardiac arrest opening an
//! incident with the arrest team, then cancelled; an alarm no rule covers reaching the failsafe
//! and reported undeliverable.

use std::time::Duration;

use serde_json::{Value, json};

use crate::admin::admin;
use crate::harness::{Client, Server, cli, enc};
use crate::priority::status;

const A: &str = "/_wardline/admin/v1";
const I: &str = "/_wardline/integration/v1";
const MIN: u64 = 60_000;

fn system(s: &Server, key: &str) -> Client {
    s.system(key)
}

/// Makes an integration with the scopes to raise and read alarms and set its webhook; returns
/// its key.
async fn integration(boss: &Client, id: &str) -> String {
    let (st, made) = boss
        .post(
            &format!("{A}/integrations"),
            json!({"integration_id": id, "name": format!("{id} system"), "kind": "nurse call",
                   "scopes": ["alarms.write", "alarms.read", "webhook.manage"]}),
        )
        .await;
    assert_eq!(st, 201, "{made}");
    let (st, k) = boss.post(&format!("{A}/integrations/{id}/keys"), json!({"label": "primary"})).await;
    assert_eq!(st, 201, "{k}");
    k["key"].as_str().unwrap().to_owned()
}

/// Makes a role held by `holders`.
pub(crate) async fn role(boss: &Client, id: &str, name: &str, holders: &[&Client]) {
    let users: Vec<&str> = holders.iter().map(|c| c.user_id.as_str()).collect();
    let (st, b) =
        boss.post(&format!("{A}/roles"), json!({"role_id": id, "name": name, "eligibility": {"users": users}})).await;
    assert_eq!(st, 201, "{b}");
    let names: Vec<&str> = holders.iter().map(|c| c.user_id[1..].split(':').next().unwrap()).collect();
    let (st, b) = boss.put(&format!("{A}/roles/{id}/holders"), json!({"holders": names})).await;
    assert_eq!(st, 200, "{b}");
}

fn alarm(source_id: &str, kind: &str, priority: &str) -> Value {
    json!({
        "source_id": source_id,
        "kind": kind,
        "priority": priority,
        "location": {"site": "Main", "ward": "Ward 7", "room": "3", "bed": "12"},
        "patient": {"id": "H123456", "system": "mrn"},
        "text": "Bed 12 calling",
    })
}

/// The alarm as its integration reads it, once `done` says it is as expected.
async fn alarm_until(sys: &Client, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    crate::harness::get_until(sys, &format!("{I}/alarms/{id}"), what, done).await
}

fn statuses(a: &Value) -> Vec<(String, String)> {
    a["status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["status"].as_str().unwrap().to_owned(), f["user_id"].as_str().unwrap_or("").to_owned()))
        .collect()
}

fn has(a: &Value, status: &str, user: &str) -> bool {
    statuses(a).iter().any(|(s, u)| s == status && u == user)
}

pub(crate) async fn messages(c: &Client, room: &str) -> Vec<Value> {
    let (st, page) = c.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=f&limit=100", enc(room))).await;
    assert_eq!(st, 200, "{page}");
    page["chunk"].as_array().unwrap().clone()
}

pub(crate) async fn state(c: &Client, room: &str, kind: &str) -> (u16, Value) {
    c.get(&format!("/_matrix/client/v3/rooms/{}/state/{kind}/", enc(room))).await
}

#[tokio::test]
async fn a_nurse_call_escalates_by_its_rule_to_the_nurse_in_charge_is_accepted_then_reset_by_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let env = [
        ("WARDLINE_TEST_CLOCK_FILE", clock.to_str().unwrap()),
        ("WARDLINE_INTEGRATIONS__WEBHOOK_HOSTS", "127.0.0.1"),
        ("WARDLINE_INTEGRATIONS__ALLOW_LOOPBACK_HTTP", "true"),
    ];
    let s = Server::start_with_env(&env);
    let boss = admin(&s).await;
    let (nia, nic, ann) = (s.user("nia").await, s.user("nic").await, s.user("ann").await);
    role(&boss, "w7-bay-nurse", "Ward 7 bay nurse", &[&nia]).await;
    role(&boss, "w7-nic", "Ward 7 nurse in charge", &[&nic]).await;
    let key = integration(&boss, "nursecall").await;
    let sys = system(&s, &key);
    // The nurse-call system hears back through its webhook.
    let receiver = crate::webhooks::Receiver::default();
    let url = receiver.serve().await;
    let (st, hook) = sys.put(&format!("{I}/webhook"), json!({"url": url})).await;
    assert_eq!(st, 200, "{hook}");

    // Rules are checked when saved.
    let policy = json!({"steps": [
        {"after_ms": 2 * MIN, "action": "renotify"},
        {"after_ms": 4 * MIN, "action": "add", "targets": [{"kind": "role", "role": "w7-nic"}]},
        {"after_ms": 8 * MIN, "action": "failsafe", "targets": [{"kind": "user", "user_id": ann.user_id}]},
    ]});
    let rule = json!({
        "name": "Ward 7 nurse calls",
        "match": {"kinds": ["nurse_call"], "location": {"ward": "ward 7"}},
        "action": {"mode": "conversation", "targets": [{"kind": "role", "role": "w7-bay-nurse"}],
                   "level": "urgent", "policy": policy},
    });
    let path = format!("{A}/alarm_rules/w7-nurse-calls");
    let mut bad = rule.clone();
    bad["action"]["targets"] = json!([{"kind": "role", "role": "nobody"}]);
    let (st, b) = boss.put(&path, bad).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{b}");
    assert!(b["error"].as_str().unwrap().contains("w7-nurse-calls"), "names the rule: {b}");
    let mut bad = rule.clone();
    bad["action"]["level"] = json!("routine");
    let (st, b) = boss.put(&path, bad).await;
    assert_eq!(st, 400, "{b}");
    let (st, b) = nia.put(&path, rule.clone()).await;
    assert_eq!(st, 403, "only administrators: {b}");
    let (st, b) = boss.put(&format!("{A}/alarm_rules/wctp-page"), rule.clone()).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "the pages' own rule id: {b}");
    let (st, b) = boss.put(&path, rule.clone()).await;
    assert_eq!((st, b["version"].as_u64()), (200, Some(1)), "{b}");
    let (st, b) = boss.put(&path, rule.clone()).await;
    assert_eq!((st, b["errcode"].as_str()), (409, Some("ORG.WARDLINE.RULE_CONFLICT")), "created once: {b}");
    let mut stale = rule.clone();
    stale["version"] = json!(7);
    let (st, b) = boss.put(&path, stale).await;
    assert_eq!((st, b["errcode"].as_str()), (409, Some("ORG.WARDLINE.RULE_CONFLICT")), "{b}");
    let (st, rules) = boss.get(&format!("{A}/alarm_rules")).await;
    assert_eq!(st, 200);
    assert_eq!(rules["rules"][0]["rule"]["id"], "w7-nurse-calls", "{rules}");
    let failsafe = rules["failsafe"]["action"]["targets"].as_array().unwrap();
    assert!(failsafe.iter().any(|t| t["user_id"] == boss.user_id.as_str()), "built in, the administrators: {rules}");

    // The call arrives: stored, answered, then posted to the bay nurse by the integration.
    let (st, made) = sys.post(&format!("{I}/alarms"), alarm("call-1", "nurse_call", "high")).await;
    assert_eq!(st, 202, "{made}");
    let id = made["alarm_id"].as_str().unwrap().to_owned();
    let a = alarm_until(&sys, &id, "was delivered", |a| a["outcome"] == "notified").await;
    assert_eq!((a["rule_id"].as_str(), a["level"].as_str()), (Some("w7-nurse-calls"), Some("urgent")), "{a}");
    let room = a["room_id"].as_str().unwrap().to_owned();
    let event = a["event_id"].as_str().unwrap().to_owned();
    let msgs = messages(&nia, &room).await;
    let posted = msgs.iter().find(|e| e["event_id"] == event.as_str()).expect("the bay nurse sees the call");
    assert_eq!(posted["sender"], "@integration.nursecall:localhost");
    assert!(
        posted["content"]["body"]
            .as_str()
            .unwrap()
            .contains("Nurse call — Main, Ward 7, room 3, bed 12: Bed 12 calling"),
        "{posted}"
    );
    assert_eq!(posted["content"]["org.wardline.alarm"]["alarm_id"], id.as_str());
    assert_eq!(posted["content"]["org.wardline.priority"]["level"], "urgent");
    let (_, name) = state(&nia, &room, "m.room.name").await;
    assert_eq!(name["name"], "Ward 7 nurse calls");
    // Nobody else: the nurse in charge is not in it yet.
    let (st, _) = nic.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b", enc(&room))).await;
    assert_eq!(st, 403);
    let esc = status(&nia, &room, &event).await["escalation"].clone();
    assert_eq!(esc["state"], "open", "{esc}");
    // The rule's policy, not the built-in one: its first step re-notifies at 2 minutes.
    assert_eq!(esc["next_step"], 1, "{esc}");

    // Four and a half minutes without an answer: the nurse in charge is brought in.
    std::fs::write(&clock, (4 * MIN + 30_000).to_string()).unwrap();
    let a = alarm_until(&sys, &id, "escalated twice", |a| has(a, "escalated.2", "")).await;
    assert!(has(&a, "escalated.1", ""), "{a}");
    assert!(has(&a, "delivered", nia.user_id.as_str()) || a["outcome"] == "notified", "{a}");
    let mut joined = false;
    for _ in 0..200 {
        let (st, _) = nic.post(&format!("/_matrix/client/v3/join/{}", enc(&room)), json!({})).await;
        if st == 200 {
            joined = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(joined, "the nurse in charge was brought in");
    let answer = json!({"msgtype": "m.text", "body": "Accept",
        "m.relates_to": {"rel_type": "m.reference", "event_id": event},
        "org.wardline.response": {"option": "accept"}});
    let accepted = nic.sent_event(&room, "m.room.message", "acc1", answer.clone()).await;
    let a = alarm_until(&sys, &id, "was accepted", |a| a["outcome"] == "accepted").await;
    assert!(has(&a, "accepted", nic.user_id.as_str()), "{a}");
    assert!(!has(&a, "accepted", nia.user_id.as_str()), "{a}");
    // She takes her acceptance back: the escalation resumes at once with its next step, the
    // failsafe, and the alarm shows that, not "accepted"; she accepts again.
    let (st, b) =
        nic.put(&format!("/_matrix/client/v3/rooms/{}/redact/{}/undo1", enc(&room), enc(&accepted)), json!({})).await;
    assert_eq!(st, 200, "{b}");
    let a = alarm_until(&sys, &id, "reached the failsafe", |a| a["outcome"] == "failsafe").await;
    assert!(has(&a, "withdrawn", nic.user_id.as_str()) && has(&a, "escalated.3", ""), "{a}");
    nic.sent_event(&room, "m.room.message", "acc2", answer).await;
    alarm_until(&sys, &id, "was accepted again", |a| a["outcome"] == "accepted").await;

    // The source resets it: the conversation is told; the outcome stands.
    let (st, r) = sys.post(&format!("{I}/alarms/{id}/reset"), json!({"reason": "answered at the bedside"})).await;
    assert_eq!((st, r["duplicate"].as_bool()), (202, Some(false)), "{r}");
    let a = alarm_until(&sys, &id, "ended", |a| a["ended_ts"].is_u64()).await;
    assert_eq!((a["state"].as_str(), a["outcome"].as_str()), (Some("reset"), Some("accepted")), "{a}");
    assert!(has(&a, "reset", ""), "{a}");
    let msgs = messages(&nia, &room).await;
    let notice = msgs
        .iter()
        .find(|e| e["content"]["body"].as_str().is_some_and(|b| b.contains("reset by the source")))
        .expect("the conversation is told");
    assert_eq!(notice["sender"], "@integration.nursecall:localhost");
    assert!(notice["content"]["body"].as_str().unwrap().ends_with(": answered at the bedside"), "{notice}");
    let (st, r) = sys.post(&format!("{I}/alarms/{id}/reset"), json!({})).await;
    assert_eq!((st, r["duplicate"].as_bool()), (202, Some(true)), "{r}");
    let (st, r) = sys.post(&format!("{I}/alarms/{id}/cancel"), json!({})).await;
    assert_eq!((st, r["errcode"].as_str()), (409, Some("ORG.WARDLINE.ALARM_ENDED")), "{r}");
    let (st, r) = sys.post(&format!("{I}/alarms/al_aaaaaaaaaaaaaaaaaaaa/reset"), json!({})).await;
    assert_eq!(st, 404, "{r}");

    // The source heard each status, in order, as its own timeline has it: the two steps, the
    // acceptance by the nurse in charge, the reset.
    let mut got = Vec::new();
    for _ in 0..400 {
        got = receiver
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|d| serde_json::from_str::<Value>(&d.body).unwrap())
            .collect::<Vec<_>>();
        if got.iter().any(|r| r["status"] == "reset") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mine: Vec<&Value> = got.iter().filter(|r| r["alarm_id"] == id.as_str()).collect();
    let seen: Vec<(String, Option<u64>, String)> = mine
        .iter()
        .filter(|r| r["status"] != "delivered" && r["status"] != "read")
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["escalation_step"].as_u64(),
                r["user"]["user_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("escalated".to_owned(), Some(1), String::new()),
            ("escalated".to_owned(), Some(2), String::new()),
            ("accepted".to_owned(), None, nic.user_id.clone()),
            ("withdrawn".to_owned(), None, nic.user_id.clone()),
            ("escalated".to_owned(), Some(3), String::new()),
            ("failsafe".to_owned(), None, String::new()),
            ("undeliverable".to_owned(), None, String::new()),
            ("accepted".to_owned(), None, nic.user_id.clone()),
            ("reset".to_owned(), None, String::new()),
        ],
        "{got:#?}"
    );
    assert!(mine.iter().all(|r| r["source_id"] == "call-1" && r["type"] == "alarm.status"));
    assert!(
        !format!("{got:?}").contains("Bed 12 calling") && !format!("{got:?}").contains("H123456"),
        "no text, no patient"
    );

    // The administrators' log shows it, with its timeline.
    let (st, log) = boss.get(&format!("{A}/alarms?integration=nursecall")).await;
    assert_eq!(st, 200, "{log}");
    assert_eq!(log["alarms"][0]["alarm_id"], id.as_str());
    let (st, one) = boss.get(&format!("{A}/alarms/{id}")).await;
    assert_eq!(st, 200, "{one}");
    let kinds: Vec<&str> = one["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"received"), "{kinds:?}");
    assert!(kinds.contains(&"dispatched") && kinds.contains(&"reset") && kinds.contains(&"ended"), "{kinds:?}");
}

#[tokio::test]
async fn an_arrest_opens_an_incident_with_its_team_and_an_alarm_no_rule_covers_reaches_the_failsafe() {
    let s = Server::start();
    let boss = admin(&s).await;
    let (ada, bo, eve) = (s.user("ada").await, s.user("bo").await, s.user("eve").await);
    role(&boss, "arrest-team", "Arrest team", &[&ada, &bo]).await;
    let key = integration(&boss, "arrests").await;
    let sys = system(&s, &key);
    let rule = json!({
        "name": "Cardiac arrests",
        "match": {"kinds": ["cardiac_arrest"]},
        "action": {"mode": "incident", "targets": [{"kind": "role", "role": "arrest-team"}], "level": "emergency"},
    });
    let (st, b) = boss.put(&format!("{A}/alarm_rules/arrests"), rule).await;
    assert_eq!(st, 200, "{b}");

    let (st, made) = sys.post(&format!("{I}/alarms"), alarm("arrest-1", "cardiac_arrest", "emergency")).await;
    assert_eq!(st, 202, "{made}");
    let id = made["alarm_id"].as_str().unwrap().to_owned();
    let a = alarm_until(&sys, &id, "was delivered", |a| a["outcome"] == "notified").await;
    let room = a["room_id"].as_str().unwrap().to_owned();
    let event = a["event_id"].as_str().unwrap().to_owned();
    for responder in [&ada, &bo] {
        let msgs = messages(responder, &room).await;
        let posted = msgs.iter().find(|e| e["event_id"] == event.as_str()).expect("each responder has it");
        assert_eq!(posted["content"]["org.wardline.priority"]["level"], "emergency");
        assert_eq!(posted["content"]["org.wardline.ask"]["options"][0]["label"], "Coming", "{posted}");
    }
    let (st, incident) = state(&ada, &room, "org.wardline.incident").await;
    assert_eq!(st, 200, "{incident}");
    assert_eq!(incident["title"], "Cardiac arrest — Main, Ward 7, room 3, bed 12", "{incident}");
    assert_eq!((incident["state"].as_str(), incident["alarm_id"].as_str()), (Some("open"), Some(id.as_str())));
    assert_eq!(incident["patient"]["id"], "H123456");
    let (_, name) = state(&ada, &room, "m.room.name").await;
    assert_eq!(name["name"], "Cardiac arrest — Main, Ward 7, room 3, bed 12");
    // A responder cannot close it by writing its state, nor anyone outside read it.
    let (st, b) = ada
        .put(
            &format!("/_matrix/client/v3/rooms/{}/state/org.wardline.incident/", enc(&room)),
            json!({"state": "closed"}),
        )
        .await;
    assert_eq!(st, 403, "{b}");
    let (st, _) = state(&eve, &room, "org.wardline.incident").await;
    assert_eq!(st, 403);
    // A second arrest opens an incident of its own.
    let (st, second) = sys.post(&format!("{I}/alarms"), alarm("arrest-2", "cardiac_arrest", "emergency")).await;
    assert_eq!(st, 202, "{second}");
    let b =
        alarm_until(&sys, second["alarm_id"].as_str().unwrap(), "was delivered", |a| a["outcome"] == "notified").await;
    assert_ne!(b["room_id"], a["room_id"]);

    // The source corrects the bed: the message is edited and the incident's title follows.
    let moved = json!({"location": {"site": "Main", "ward": "Ward 7", "room": "3", "bed": "14"}, "text": "Bed 14"});
    let (st, r) = sys.send_json(reqwest::Method::PATCH, &format!("{I}/alarms/{id}"), moved.clone()).await;
    assert_eq!((st, r["duplicate"].as_bool(), r["revision"].as_u64()), (202, Some(false), Some(2)), "{r}");
    let (st, r) = sys.send_json(reqwest::Method::PATCH, &format!("{I}/alarms/{id}"), moved).await;
    assert_eq!((st, r["duplicate"].as_bool()), (202, Some(true)), "saying it again changes nothing: {r}");
    let (st, r) = sys.send_json(reqwest::Method::PATCH, &format!("{I}/alarms/{id}"), json!({})).await;
    assert_eq!((st, r["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{r}");
    let _ = alarm_until(&sys, &id, "was edited", |a| {
        a["timeline"].as_array().unwrap().iter().any(|e| e["kind"] == "edited")
    })
    .await;
    let msgs = messages(&bo, &room).await;
    let edit = msgs
        .iter()
        .find(|e| e["content"]["m.relates_to"]["rel_type"] == "m.replace")
        .expect("the alarm's message is edited");
    assert_eq!(edit["content"]["m.relates_to"]["event_id"], event.as_str());
    assert!(
        edit["content"]["m.new_content"]["body"]
            .as_str()
            .unwrap()
            .contains("Cardiac arrest — Main, Ward 7, room 3, bed 14: Bed 14"),
        "{edit}"
    );
    assert_eq!(edit["content"]["m.new_content"]["org.wardline.alarm"]["location"]["bed"], "14");
    let (_, incident) = state(&ada, &room, "org.wardline.incident").await;
    assert_eq!(incident["title"], "Cardiac arrest — Main, Ward 7, room 3, bed 14", "{incident}");
    assert_eq!(incident["state"], "open");

    // Cancelled by the source before anyone came: the escalation ends, the incident closes.
    let (st, r) = sys.post(&format!("{I}/alarms/{id}/cancel"), json!({"reason": "false alarm"})).await;
    assert_eq!(st, 202, "{r}");
    let a = alarm_until(&sys, &id, "ended", |a| a["ended_ts"].is_u64()).await;
    assert_eq!((a["state"].as_str(), a["outcome"].as_str()), (Some("cancelled"), Some("closed")), "{a}");
    let (_, incident) = state(&ada, &room, "org.wardline.incident").await;
    assert_eq!((incident["state"].as_str(), incident["reason"].as_str()), (Some("closed"), Some("false alarm")));
    assert_eq!(incident["closed_by"], "@integration.arrests:localhost");
    let esc = status(&ada, &room, &event).await["escalation"].clone();
    assert_eq!(esc["state"], "cancelled", "{esc}");
    let (st, r) = sys.send_json(reqwest::Method::PATCH, &format!("{I}/alarms/{id}"), json!({"text": "x"})).await;
    assert_eq!((st, r["errcode"].as_str()), (409, Some("ORG.WARDLINE.ALARM_ENDED")), "{r}");

    // A fire alarm: no rule covers it. The failsafe (the administrators) gets it, and the
    // source is told it was undeliverable by its rules.
    let (st, fire) = sys.post(&format!("{I}/alarms"), alarm("fire-1", "fire", "emergency")).await;
    assert_eq!(st, 202, "{fire}");
    let f =
        alarm_until(&sys, fire["alarm_id"].as_str().unwrap(), "was delivered", |a| a["outcome"] == "notified").await;
    assert_eq!(f["rule_id"], "failsafe", "{f}");
    assert!(has(&f, "undeliverable", ""), "{f}");
    let detail = f["status"].as_array().unwrap().iter().find(|x| x["status"] == "undeliverable").unwrap().clone();
    assert_eq!(detail["detail"]["reason"], "no_rule", "{detail}");
    let msgs = messages(&boss, f["room_id"].as_str().unwrap()).await;
    assert!(
        msgs.iter().any(|e| e["content"]["body"].as_str().is_some_and(|b| b.contains("Fire alarm — Main, Ward 7"))),
        "the administrator has it"
    );
}

pub(crate) async fn answer(c: &Client, room: &str, event: &str, option: &str, txn: &str) {
    let content = json!({"msgtype": "m.text", "body": option,
        "m.relates_to": {"rel_type": "m.reference", "event_id": event},
        "org.wardline.response": {"option": option}});
    c.sent_event(room, "m.room.message", txn, content).await;
}

async fn incidents(c: &Client) -> Vec<Value> {
    let (st, b) = c.get("/_wardline/client/v1/incidents").await;
    assert_eq!(st, 200, "{b}");
    b["incidents"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_responder_closes_an_incident_and_alarms_reach_only_a_rules_targets_or_else_the_failsafe() {
    let s = Server::start();
    let boss = admin(&s).await;
    let (ada, bo, eve, nia, ann) =
        (s.user("ada").await, s.user("bo").await, s.user("eve").await, s.user("nia").await, s.user("ann").await);
    role(&boss, "arrest-team", "Arrest team", &[&ada, &bo]).await;
    let (st, b) = boss
        .post(&format!("{A}/roles"), json!({"role_id": "night-porter", "name": "Night porter", "may_be_empty": true}))
        .await;
    assert_eq!(st, 201, "{b}");
    let key = integration(&boss, "wards").await;
    let sys = system(&s, &key);
    let arrests = json!({"name": "Arrests", "match": {"kinds": ["cardiac_arrest"]},
        "action": {"mode": "incident", "targets": [{"kind": "role", "role": "arrest-team"}], "level": "emergency"}});
    assert_eq!(boss.put(&format!("{A}/alarm_rules/arrests"), arrests).await.0, 200);

    // The arrest team answers; the incident list shows who is coming.
    let (_, made) = sys.post(&format!("{I}/alarms"), alarm("arrest-9", "cardiac_arrest", "emergency")).await;
    let id = made["alarm_id"].as_str().unwrap().to_owned();
    let a = alarm_until(&sys, &id, "was delivered", |a| a["outcome"] == "notified").await;
    let (room, event) = (a["room_id"].as_str().unwrap().to_owned(), a["event_id"].as_str().unwrap().to_owned());
    let list = incidents(&ada).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!((list[0]["room_id"].as_str(), list[0]["state"].as_str()), (Some(room.as_str()), Some("open")));
    assert_eq!(list[0]["alerted"], 2, "{list:?}");
    assert!(incidents(&eve).await.is_empty(), "not hers");
    answer(&ada, &room, &event, "accept", "a1").await;
    answer(&bo, &room, &event, "decline", "b1").await;
    let list = incidents(&bo).await;
    let coming: Vec<&str> =
        list[0]["coming"].as_array().unwrap().iter().map(|c| c["user_id"].as_str().unwrap()).collect();
    let not: Vec<&str> =
        list[0]["not_coming"].as_array().unwrap().iter().map(|c| c["user_id"].as_str().unwrap()).collect();
    assert_eq!((coming, not), (vec![ada.user_id.as_str()], vec![bo.user_id.as_str()]), "{list:?}");

    // Someone outside cannot close it; a responder can, once.
    let close = format!("/_wardline/client/v1/incidents/{}/close", enc(&room));
    let (st, b) = eve.post(&close, json!({"reason": "x"})).await;
    assert_eq!(st, 404, "{b}");
    let (st, b) = bo.post(&close, json!({"reason": "ROSC achieved"})).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = ada.post(&close, json!({})).await;
    assert_eq!((st, b["errcode"].as_str()), (409, Some("ORG.WARDLINE.ALARM_ENDED")), "{b}");
    let (_, incident) = state(&ada, &room, "org.wardline.incident").await;
    assert_eq!(
        (incident["state"].as_str(), incident["closed_by"].as_str()),
        (Some("closed"), Some(bo.user_id.as_str()))
    );
    assert_eq!(incident["reason"], "ROSC achieved");
    assert_eq!(incidents(&ada).await[0]["state"], "closed");
    let a = alarm_until(&sys, &id, "was closed", |a| has(a, "closed", bo.user_id.as_str())).await;
    assert_eq!(a["outcome"], "accepted", "Ada accepted before it was closed: {a}");
    assert!(has(&a, "declined", bo.user_id.as_str()), "{a}");

    // A rule's standing conversation holds its targets now: once they change, the alarms go to
    // a conversation of the new targets, and the nurse no longer targeted does not get them.
    let calls = |who: &Client| {
        json!({"name": "Ward 7 calls", "match": {"kinds": ["nurse_call"]},
            "action": {"mode": "conversation", "targets": [{"kind": "user", "user_id": who.user_id}], "level": "urgent"}})
    };
    assert_eq!(boss.put(&format!("{A}/alarm_rules/calls"), calls(&nia)).await.0, 200);
    let (_, first) = sys.post(&format!("{I}/alarms"), alarm("call-a", "nurse_call", "high")).await;
    let first =
        alarm_until(&sys, first["alarm_id"].as_str().unwrap(), "was delivered", |a| a["outcome"] == "notified").await;
    let mut changed = calls(&ann);
    changed["version"] = json!(1);
    let (st, b) = boss.put(&format!("{A}/alarm_rules/calls"), changed).await;
    assert_eq!(st, 200, "{b}");
    let (_, second) = sys.post(&format!("{I}/alarms"), alarm("call-b", "nurse_call", "high")).await;
    let second =
        alarm_until(&sys, second["alarm_id"].as_str().unwrap(), "was delivered", |a| a["outcome"] == "notified").await;
    assert_ne!(first["room_id"], second["room_id"]);
    let (st, _) =
        nia.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b", enc(second["room_id"].as_str().unwrap()))).await;
    assert_eq!(st, 403, "the nurse no longer targeted does not get it");
    let msgs = messages(&ann, second["room_id"].as_str().unwrap()).await;
    assert!(msgs.iter().any(|e| e["event_id"] == second["event_id"]), "the new target does");

    // A rule whose targets reach nobody now (a role nobody holds): the failsafe gets it at once.
    let porters = json!({"name": "Porters", "match": {"kinds": ["staff_assist"]},
        "action": {"mode": "conversation", "targets": [{"kind": "role", "role": "night-porter"}], "level": "urgent"}});
    assert_eq!(boss.put(&format!("{A}/alarm_rules/porters"), porters).await.0, 200);
    let (_, assist) = sys.post(&format!("{I}/alarms"), alarm("assist-1", "staff_assist", "medium")).await;
    let assist_id = assist["alarm_id"].as_str().unwrap().to_owned();
    let a = alarm_until(&sys, &assist_id, "reached the failsafe", |a| has(a, "undeliverable", "")).await;
    let fact = a["status"].as_array().unwrap().iter().find(|f| f["status"] == "undeliverable").unwrap().clone();
    assert_eq!(fact["detail"]["reason"], "nobody_reached", "{fact}");
    assert_eq!(fact["detail"]["rule"], "porters", "the rule that reached nobody: {fact}");
    let failsafe_room = fact["detail"]["failsafe_room_id"].as_str().unwrap();
    // The alarm is the failsafe conversation's now: an acceptance there is the one followed.
    assert_eq!((a["rule_id"].as_str(), a["room_id"].as_str()), (Some("failsafe"), Some(failsafe_room)), "{a}");
    let msgs = messages(&boss, failsafe_room).await;
    assert!(
        msgs.iter().any(|e| e["content"]["org.wardline.alarm"]["alarm_id"] == assist_id.as_str()),
        "the administrators have it"
    );
}

#[tokio::test]
async fn the_command_line_sets_lists_and_removes_rules_with_the_same_checks_audited() {
    let s = Server::start();
    let boss = admin(&s).await;
    let nia = s.user("nia").await;
    let rule = json!({"id": "w7-calls", "name": "Ward 7 calls", "match": {"kinds": ["nurse_call"]},
        "action": {"mode": "conversation", "targets": [{"kind": "user", "user_id": nia.user_id}], "level": "urgent"}});
    let (ok, out, err) = cli(&s.data_dir, &["alarm-rule", "set", "-"], Some(&rule.to_string()));
    assert!(ok, "{out}{err}");
    assert!(out.contains("saved rule w7-calls (version 1)"), "{out}");
    // The same checks as the API: a routine level is refused, naming the rule.
    let mut bad = rule.clone();
    bad["action"]["level"] = json!("routine");
    bad["version"] = json!(1);
    let (ok, out, err) = cli(&s.data_dir, &["alarm-rule", "set", "-"], Some(&bad.to_string()));
    assert!(!ok && err.contains("w7-calls"), "{out}{err}");
    let (ok, out, err) = cli(&s.data_dir, &["alarm-rule", "list"], None);
    assert!(ok, "{err}");
    assert!(out.contains("w7-calls\tWard 7 calls\tconversation\turgent\t1\tyes\t1"), "{out}");
    assert!(out.contains("(built in: the administrators)"), "{out}");
    let (_, listed) = boss.get(&format!("{A}/alarm_rules")).await;
    assert_eq!(listed["rules"][0]["rule"]["id"], "w7-calls", "the API sees what the command line saved");
    let (ok, out, err) = cli(&s.data_dir, &["alarm-rule", "remove", "w7-calls"], None);
    assert!(ok && out.contains("removed rule w7-calls"), "{out}{err}");
    let (ok, _, err) = cli(&s.data_dir, &["alarm-rule", "remove", "w7-calls"], None);
    assert!(!ok && err.contains("no rule w7-calls"), "{err}");
    let (ok, out, err) = cli(&s.data_dir, &["audit", "export"], None);
    assert!(ok, "{err}");
    let rules: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["action"] == "alarm.rule")
        .collect();
    assert_eq!(rules.len(), 2, "saved and removed: {rules:?}");
    assert!(rules.iter().all(|r| r["detail"].as_str().unwrap().contains("via=cli")), "{rules:?}");
}

#[tokio::test]
async fn an_incident_that_needs_three_responders_escalates_until_three_are_coming() {
    let s = Server::start();
    let boss = admin(&s).await;
    let (ada, bo, cy) = (s.user("ada").await, s.user("bo").await, s.user("cy").await);
    role(&boss, "arrest-team", "Arrest team", &[&ada, &bo, &cy]).await;
    let key = integration(&boss, "arrests").await;
    let sys = system(&s, &key);
    let mut rule = json!({"name": "Arrests", "match": {"kinds": ["cardiac_arrest"]},
        "action": {"mode": "conversation", "targets": [{"kind": "role", "role": "arrest-team"}],
                   "level": "emergency", "needed": 3}});
    let (st, b) = boss.put(&format!("{A}/alarm_rules/arrests"), rule.clone()).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "needed is for incidents: {b}");
    rule["action"]["mode"] = json!("incident");
    assert_eq!(boss.put(&format!("{A}/alarm_rules/arrests"), rule).await.0, 200);

    let (_, made) = sys.post(&format!("{I}/alarms"), alarm("arrest-3", "cardiac_arrest", "emergency")).await;
    let id = made["alarm_id"].as_str().unwrap().to_owned();
    let a = alarm_until(&sys, &id, "was delivered", |a| a["outcome"] == "notified").await;
    let (room, event) = (a["room_id"].as_str().unwrap().to_owned(), a["event_id"].as_str().unwrap().to_owned());
    let msgs = messages(&ada, &room).await;
    let posted = msgs.iter().find(|e| e["event_id"] == event.as_str()).unwrap();
    assert_eq!(posted["content"]["org.wardline.ask"]["needed"], 3, "{posted}");
    let (_, incident) = state(&ada, &room, "org.wardline.incident").await;
    assert_eq!(incident["needed"], 3, "{incident}");

    // Two coming: each is told, the escalation goes on, and the alarm is still waiting.
    answer(&ada, &room, &event, "accept", "a1").await;
    answer(&bo, &room, &event, "accept", "b1").await;
    crate::priority::server_notice(&ada, &room, "✓ Dr bo (Coming): 2 of 3 needed. Escalation goes on.").await;
    assert_eq!(status(&ada, &room, &event).await["escalation"]["state"], "open");
    let a = alarm_until(&sys, &id, "had two acceptances", |a| has(a, "accepted", bo.user_id.as_str())).await;
    assert_eq!(a["outcome"], "notified", "two of three is not enough: {a}");
    let list = incidents(&cy).await;
    assert_eq!(list[0]["coming"].as_array().unwrap().len(), 2, "{list:?}");
    // The third: the escalation stops, the alarm is accepted.
    answer(&cy, &room, &event, "accept", "c1").await;
    let a = alarm_until(&sys, &id, "was accepted", |a| a["outcome"] == "accepted").await;
    assert!(has(&a, "accepted", cy.user_id.as_str()), "{a}");
    assert_eq!(status(&ada, &room, &event).await["escalation"]["state"], "accepted");
}
