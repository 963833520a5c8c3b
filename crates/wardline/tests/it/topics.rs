//! Clinical alert topics through the whole server: an `ORU^R01` result over MLLP whose NEWS2
//! fits a topic rule reaches, in a conversation of its own, the subscribers whose ward or "all"
//! (or specialty, by its code) covers it and who may still subscribe to that scope; what no rule
//! wants raises nothing; the first Take takes it; nobody can invite others in; someone who
//! subscribes later, or was never open to the topic, never reads it; a value that leaves the
//! threshold possible reaches a person through the failsafe; and a topic alert nobody
//! subscribes to reaches the failsafe.

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::admin::admin;
use crate::alarms::{answer, messages, role};
use crate::alarms_hl7::{alarm_view, alarms_of, answer as ack, bound, connect, framed, hl7_addr, hl7_env};
use crate::harness::{Client, Server, enc};

const A: &str = "/_wardline/admin/v1";
const T: &str = "/_wardline/client/v1/alert_topics";

/// A result for Jane Doe on Ward 7 (bed 12): two orders, with a NEWS2 each and a heart rate.
fn result(control: &str, first: &str, second: &str) -> String {
    format!(
        "MSH|^~\\&|EPR|ICU|WARDLINE|HOSP|20261201101500||ORU^R01^ORU_R01|{control}|P|2.6\r\
PID|||H1^^^HOSP^MR||Doe^Jane||19500203|F\r\
PV1||I|Ward 7^3^12^Main|||||||REN^Renal medicine\r\
OBR|1||F1|OBS^Observations\r\
OBX|1|NM|NEWS2^NEWS2 score^L||{first}|score||HH|||F\r\
OBX|2|NM|HR^Heart rate^L||131|/min||H|||F\r\
OBR|2||F2|OBS^Observations\r\
OBX|1|NM|NEWS2^NEWS2 score^L||{second}|score||N|||F\r"
    )
}

async fn subscribe(c: &Client, topic: &str, scopes: &[&str]) -> (u16, Value) {
    c.put(&format!("{T}/{topic}/subscription"), json!({ "scopes": scopes })).await
}

async fn topic_rule(boss: &Client, open_to: Value) {
    let topic = json!({"name": "NEWS2 ≥ 7", "description": "Deteriorating patients", "open_to": open_to});
    let (st, b) = boss.put(&format!("{A}/alert_topics/news2-high"), topic).await;
    assert_eq!((st, b["version"].as_u64()), (200, Some(1)), "{b}");
    let rule = json!({"name": "NEWS2 of 7 or more", "match": {"observation": {"code": "NEWS2", "op": "ge", "value": 7}},
        "action": {"mode": "topic", "topic": "news2-high", "level": "urgent"}});
    let (st, b) = boss.put(&format!("{A}/alarm_rules/news2"), rule).await;
    assert_eq!(st, 200, "{b}");
}

async fn send(s: &Server, message: &str) -> String {
    let mut c = connect(&hl7_addr(s)).await;
    c.write_all(&framed(message)).await.unwrap();
    ack(&mut c).await.expect("an answer").0
}

async fn can_read(c: &Client, room: &str) -> bool {
    let (st, _) = c.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b", enc(room))).await;
    st == 200
}

#[tokio::test]
async fn a_news2_result_reaches_the_topics_subscribers_alone_in_its_own_conversation_and_is_taken_once() {
    let s = Server::start_with_env(&hl7_env(&[]));
    let boss = admin(&s).await;
    let (ann, bob, cat, dan, eve, rob) = (
        s.user("ann").await,
        s.user("bob").await,
        s.user("cat").await,
        s.user("dan").await,
        s.user("eve").await,
        s.user("rob").await,
    );
    role(&boss, "w7-nurses", "Ward 7 nurses", &[&ann, &dan, &eve]).await;
    role(&boss, "med-reg", "Medical registrar", &[&bob, &rob]).await;
    // The ward's nurses may subscribe to their ward alone; the registrars to any scope.
    let open_to = json!([{"kind": "role", "role": "w7-nurses", "scopes": ["ward:Ward 7", "ward:Ward 8"]},
        {"kind": "role", "role": "med-reg"}]);
    topic_rule(&boss, open_to).await;
    bound(&boss, "epr", "EPR", &["hl7.observations"], "clinical_alert").await;

    // Who may subscribe is the topic's to say; scopes are checked.
    let (st, b) = subscribe(&cat, "news2-high", &["all"]).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "not open to her: {b}");
    let (st, b) = subscribe(&ann, "news2-high", &["bed:12"]).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{b}");
    assert_eq!(subscribe(&ann, "nope", &["all"]).await.0, 404);
    let (st, b) = subscribe(&ann, "news2-high", &["ward:Ward 7", "ward:Ward 7"]).await;
    assert_eq!((st, &b["scopes"]), (200, &json!(["ward:Ward 7"])), "{b}");
    let (st, b) = subscribe(&ann, "news2-high", &["all"]).await;
    assert_eq!(
        (st, b["errcode"].as_str()),
        (403, Some("M_FORBIDDEN")),
        "a ward's nurse may not take every ward's: {b}"
    );
    assert_eq!(subscribe(&bob, "news2-high", &["all"]).await.0, 200);
    assert_eq!(subscribe(&rob, "news2-high", &["specialty:REN"]).await.0, 200, "by the specialty's code");
    assert_eq!(subscribe(&dan, "news2-high", &["ward:Ward 7"]).await.0, 200);
    assert_eq!(subscribe(&eve, "news2-high", &["ward:Ward 8"]).await.0, 200);
    let (st, b) = cat.get(T).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["topics"][0]["may_subscribe"].as_bool(), &b["topics"][0]["scopes"]), (Some(false), &json!([])));
    let (_, b) = ann.get(T).await;
    assert_eq!(
        (b["topics"][0]["may_subscribe"].as_bool(), &b["topics"][0]["scopes"]),
        (Some(true), &json!(["ward:Ward 7"]))
    );
    assert_eq!(b["topics"][0]["allowed_scopes"], json!(["ward:Ward 7", "ward:Ward 8"]), "{b}");
    let (_, b) = bob.get(T).await;
    assert_eq!(b["topics"][0]["allowed_scopes"], Value::Null, "any scope: {b}");
    // Dan leaves the ward's nurses: his subscription stays, but he is no longer sent alerts.
    let (st, b) = boss.put(&format!("{A}/roles/w7-nurses/holders"), json!({"holders": ["ann", "eve"]})).await;
    assert_eq!(st, 200, "{b}");

    // One NEWS2 of 9 and one of 5: one alert; the heart rate no rule wants raises nothing.
    assert_eq!(send(&s, &result("R1", "9", "5")).await, "AA");
    let listed = alarms_of(&boss, "epr").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let id = listed[0]["alarm_id"].as_str().unwrap().to_owned();
    let a = alarm_view(&boss, &id, "was delivered", |a| a["outcome"] == "notified").await;
    assert_eq!((a["kind"].as_str(), a["rule_id"].as_str()), (Some("clinical_alert"), Some("news2")), "{a}");
    let (room, event) = (a["room_id"].as_str().unwrap().to_owned(), a["event_id"].as_str().unwrap().to_owned());
    let posted = messages(&ann, &room).await;
    let alert = posted.iter().find(|e| e["event_id"] == event.as_str()).expect("the nurse has the alert").clone();
    let block = &alert["content"]["org.wardline.alarm"];
    assert_eq!(block["topic"], json!({"id": "news2-high", "name": "NEWS2 ≥ 7"}), "{alert}");
    assert_eq!(
        (block["observation"]["code"].as_str(), block["observation"]["value"].as_str()),
        (Some("NEWS2"), Some("9"))
    );
    assert_eq!(block["specialty"], "Renal medicine");
    assert_eq!(block["patient"]["name"], "Jane Doe");
    let options: Vec<&str> = alert["content"]["org.wardline.ask"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap())
        .collect();
    assert_eq!(options, ["Take"], "{alert}");
    assert_eq!(alert["content"]["org.wardline.ask"]["first_accept"], true);
    assert!(can_read(&bob, &room).await, "the registrar subscribed to all");
    assert!(can_read(&rob, &room).await, "the renal registrar, by the patient's specialty");
    // Nobody brings anyone else in: the alert is for those the topic is open to.
    let (st, b) = bob.invite(&room, cat.user_id.as_str()).await;
    assert_eq!(st, 403, "{b}");
    assert!(!can_read(&dan, &room).await, "no longer open to him");
    assert!(!can_read(&eve, &room).await, "her ward is not this one");
    assert!(!can_read(&cat, &room).await, "never open to her");

    // The registrar takes it: the alert is accepted, by him.
    answer(&bob, &room, &event, "accept", "t1").await;
    let a = alarm_view(&boss, &id, "was taken", |a| a["outcome"] == "accepted").await;
    assert!(
        a["status"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["status"] == "accepted" && f["user_id"] == bob.user_id.as_str()),
        "{a}"
    );

    // Eve subscribes to Ward 7 now: the next alert reaches her, the earlier one never does.
    assert_eq!(subscribe(&eve, "news2-high", &["ward:Ward 7"]).await.0, 200);
    assert_eq!(send(&s, &result("R2", "9", "8")).await, "AA");
    let listed = alarms_of(&boss, "epr").await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let second = listed.iter().find(|x| x["alarm_id"] != id.as_str()).unwrap()["alarm_id"].as_str().unwrap().to_owned();
    let b2 = alarm_view(&boss, &second, "was delivered", |a| a["outcome"] == "notified").await;
    let room2 = b2["room_id"].as_str().unwrap();
    assert_ne!(room2, room, "each alert has its own conversation");
    assert!(can_read(&eve, room2).await, "the new subscriber has the new alert");
    assert!(!can_read(&eve, &room).await, "and never the earlier one");

    // The same result again is the same message: nothing new.
    assert_eq!(send(&s, &result("R2", "9", "8")).await, "AA");
    assert_eq!(alarms_of(&boss, "epr").await.len(), 2);

    // A corrected result of the first order (its filler F1), NEWS2 now 10: the same alert, its
    // message edited, still naming its topic.
    assert_eq!(send(&s, &result("R3", "10", "5")).await, "AA");
    assert_eq!(alarms_of(&boss, "epr").await.len(), 2, "no new alert for the same order");
    // Its second order's NEWS2 is 5 now, which no rule wants: that alert ends.
    alarm_view(&boss, &second, "ended by the lower value", |a| a["state"] == "cancelled").await;
    let path = format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50", enc(&room));
    let page = crate::harness::get_until(&ann, &path, "the alert edited", |p| {
        p["chunk"].as_array().is_some_and(|c| c.iter().any(|e| e["content"]["m.relates_to"]["rel_type"] == "m.replace"))
    })
    .await;
    let edit = page["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["content"]["m.relates_to"]["rel_type"] == "m.replace")
        .unwrap()
        .clone();
    assert_eq!(edit["content"]["m.relates_to"]["event_id"], event.as_str());
    let new = &edit["content"]["m.new_content"];
    assert_eq!(new["org.wardline.alarm"]["topic"]["name"], "NEWS2 ≥ 7", "{edit}");
    assert_eq!(new["org.wardline.alarm"]["observation"]["value"], "10", "{edit}");

    // A topic a rule names cannot be removed; unsubscribing is always allowed.
    let (st, b) = boss.delete_path(&format!("{A}/alert_topics/news2-high")).await;
    assert_eq!(st, 409, "{b}");
    let (st, b) = cat.delete_path(&format!("{T}/news2-high/subscription")).await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test]
async fn a_topic_alert_nobody_subscribes_to_reaches_the_failsafe_and_the_source_is_told() {
    let s = Server::start_with_env(&hl7_env(&[]));
    let boss = admin(&s).await;
    let ann = s.user("ann").await;
    topic_rule(&boss, json!([{"kind": "user", "user_id": ann.user_id}])).await;
    bound(&boss, "epr", "EPR", &["hl7.observations"], "clinical_alert").await;
    // A system without the scope is refused the result.
    bound(&boss, "monitors", "MON", &["hl7.alarms"], "monitor").await;
    assert_eq!(send(&s, &result("M1", "9", "9").replace("|EPR|ICU|", "|MON|ICU|")).await, "AR");

    assert_eq!(send(&s, &result("R1", "7", "3")).await, "AA");
    let listed = alarms_of(&boss, "epr").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let id = listed[0]["alarm_id"].as_str().unwrap().to_owned();
    let id = id.as_str();
    let a = alarm_view(&boss, id, "reached the failsafe", |a| {
        a["status"].as_array().is_some_and(|f| f.iter().any(|f| f["status"] == "undeliverable"))
    })
    .await;
    let fact = a["status"].as_array().unwrap().iter().find(|f| f["status"] == "undeliverable").unwrap().clone();
    assert_eq!(fact["detail"]["reason"], "nobody_reached", "{fact}");
    let failsafe = fact["detail"]["failsafe_room_id"].as_str().unwrap();
    assert!(
        messages(&boss, failsafe).await.iter().any(|e| e["content"]["org.wardline.alarm"]["alarm_id"] == id),
        "the administrators have it"
    );
    // The alert is the failsafe conversation's now: its record names it, and an administrator's
    // Take there is followed (the empty topic conversation holds no message of it).
    let a = alarm_view(&boss, id, "routed to the failsafe", |a| a["room_id"] == failsafe).await;
    assert_eq!(a["rule_id"], "failsafe", "{a}");
    let event = a["event_id"].as_str().unwrap().to_owned();
    answer(&boss, failsafe, &event, "accept", "t1").await;
    alarm_view(&boss, id, "was taken at the failsafe", |a| a["outcome"] == "accepted").await;
}

#[tokio::test]
async fn a_value_that_leaves_the_threshold_possible_reaches_a_person_through_the_failsafe() {
    let s = Server::start_with_env(&hl7_env(&[]));
    let boss = admin(&s).await;
    let ann = s.user("ann").await;
    topic_rule(&boss, json!([{"kind": "user", "user_id": ann.user_id}])).await;
    assert_eq!(subscribe(&ann, "news2-high", &["all"]).await.0, 200);
    bound(&boss, "epr", "EPR", &["hl7.observations"], "clinical_alert").await;
    // ">6" may be 7 or may be 6.5; "<7" is below for certain.
    assert_eq!(send(&s, &result("R1", ">6", "<7").replace("|NM|NEWS2", "|SN|NEWS2")).await, "AA");
    let listed = alarms_of(&boss, "epr").await;
    assert_eq!(listed.len(), 1, "only the one that may be 7 or more: {listed:?}");
    let id = listed[0]["alarm_id"].as_str().unwrap();
    let a = alarm_view(&boss, id, "was delivered", |a| a["outcome"] == "notified").await;
    assert_eq!(a["rule_id"], "failsafe", "the topic's rule does not fit it for certain: a person must look: {a}");
    let room = a["room_id"].as_str().unwrap();
    let posted = messages(&boss, room).await;
    let alert =
        posted.iter().find(|e| e["content"]["org.wardline.alarm"]["alarm_id"] == id).expect("the failsafe has it");
    assert_eq!(alert["content"]["org.wardline.alarm"]["observation"]["value"], ">6");
    assert!(!can_read(&ann, room).await, "not to the topic's subscriber, whom the rule's threshold is for");

    // The final result of the same order says 9: the rule fits it now, so its subscriber gets
    // it in a conversation of its own; the alert is that conversation's from now on.
    assert_eq!(
        send(&s, &result("R2", "9", "<7").replace("|NM|NEWS2^NEWS2 score^L||<7", "|SN|NEWS2^NEWS2 score^L||<7")).await,
        "AA"
    );
    assert_eq!(alarms_of(&boss, "epr").await.len(), 1, "the same alert, not a new one");
    let moved = alarm_view(&boss, id, "moved to the rule", |a| a["rule_id"] == "news2").await;
    let to = moved["room_id"].as_str().unwrap().to_owned();
    assert_ne!(to, room);
    assert!(can_read(&ann, &to).await, "the subscriber has it now");
    let posted = messages(&ann, &to).await;
    let alert = posted.iter().find(|e| e["event_id"] == moved["event_id"]).expect("the alert").clone();
    assert_eq!(alert["content"]["org.wardline.alarm"]["observation"]["value"], "9", "{alert}");
    assert_eq!(alert["content"]["org.wardline.alarm"]["topic"]["id"], "news2-high");
    // The failsafe's people are told, their message says 9, and their escalation has ended.
    let posted = messages(&boss, room).await;
    assert!(
        posted.iter().any(|e| e["content"]["body"].as_str().is_some_and(|b| b.contains("now fits the rule"))),
        "the failsafe conversation is told"
    );
    assert!(
        posted.iter().any(|e| e["content"]["m.new_content"]["org.wardline.alarm"]["observation"]["value"] == "9"),
        "the failsafe's message says the new value"
    );
    let first = alert_event(&posted, id);
    let (st, status) = boss.get(&format!("/_wardline/client/v1/rooms/{}/status/{}", enc(room), enc(&first))).await;
    assert_eq!(st, 200, "{status}");
    assert_eq!(status["escalation"]["state"], "cancelled", "the failsafe's escalation ended: {status}");
    answer(&ann, &to, moved["event_id"].as_str().unwrap(), "accept", "t1").await;
    alarm_view(&boss, id, "taken by the subscriber", |a| a["outcome"] == "accepted").await;

    // Another order: `>6` at the failsafe, accepted there by an administrator; its final 9 stays
    // with the administrator who is seeing to it (nobody else is paged), its message says 9.
    let second = result("R3", ">6", "<7").replace("OBR|1||F1|", "OBR|1||F9|");
    assert_eq!(send(&s, &second.replace("|NM|NEWS2", "|SN|NEWS2")).await, "AA");
    let listed = alarms_of(&boss, "epr").await;
    let other =
        listed.iter().find(|x| x["alarm_id"] != id).expect("a second alert")["alarm_id"].as_str().unwrap().to_owned();
    let at = alarm_view(&boss, &other, "at the failsafe", |a| a["outcome"] == "notified").await;
    let (fs_room, fs_event) = (at["room_id"].as_str().unwrap().to_owned(), at["event_id"].as_str().unwrap().to_owned());
    answer(&boss, &fs_room, &fs_event, "accept", "t2").await;
    alarm_view(&boss, &other, "taken at the failsafe", |a| a["outcome"] == "accepted").await;
    let final9 = result("R4", "9", "<7")
        .replace("OBR|1||F1|", "OBR|1||F9|")
        .replace("|NM|NEWS2^NEWS2 score^L||<7", "|SN|NEWS2^NEWS2 score^L||<7");
    assert_eq!(send(&s, &final9).await, "AA");
    let path = format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50", enc(&fs_room));
    crate::harness::get_until(&boss, &path, "the accepted alert edited", |p| {
        p["chunk"].as_array().is_some_and(|c| {
            c.iter().any(|e| {
                e["content"]["m.relates_to"]["event_id"] == fs_event.as_str()
                    && e["content"]["m.new_content"]["org.wardline.alarm"]["observation"]["value"] == "9"
            })
        })
    })
    .await;
    let stays = alarm_view(&boss, &other, "still the failsafe's", |a| a["revision"].as_u64() >= Some(2)).await;
    assert_eq!(
        (stays["rule_id"].as_str(), stays["room_id"].as_str()),
        (Some("failsafe"), Some(fs_room.as_str())),
        "{stays}"
    );
    assert_eq!(stays["outcome"], "accepted");
}

/// The event id of `alarm`'s message among `posted`.
fn alert_event(posted: &[Value], alarm: &str) -> String {
    posted
        .iter()
        .find(|e| e["content"]["org.wardline.alarm"]["alarm_id"] == alarm && e["content"]["m.relates_to"].is_null())
        .and_then(|e| e["event_id"].as_str())
        .expect("the alarm's message")
        .to_owned()
}

/// A result for `patient` on `ward` whose one NEWS2 (order `filler`) has `value` and status.
fn one_news2(control: &str, patient: &str, ward: &str, filler: &str, value: &str, status: &str) -> String {
    format!(
        "MSH|^~\\&|EPR|ICU|WARDLINE|HOSP|20261201101500||ORU^R01^ORU_R01|{control}|P|2.6\r\
PID|||{patient}^^^HOSP^MR||Doe^Jane||19500203|F\r\
PV1||I|{ward}^3^12^Main\r\
OBR|1||{filler}|OBS^Observations|||20261201100000\r\
OBX|1|NM|NEWS2^NEWS2 score^L||{value}|score||HH|||{status}\r"
    )
}

#[tokio::test]
async fn results_struck_out_or_corrected_end_their_alerts_and_a_rule_keeps_to_its_ward_and_scopes_narrow() {
    let s = Server::start_with_env(&hl7_env(&[]));
    let boss = admin(&s).await;
    let ann = s.user("ann").await;
    let topic = json!({"name": "NEWS2 ≥ 7", "description": "", "open_to": [{"kind": "user", "user_id": ann.user_id}]});
    assert_eq!(boss.put(&format!("{A}/alert_topics/news2-high"), topic).await.0, 200);
    let rule = json!({"name": "Ward 7 NEWS2", "match": {"location": {"ward": "Ward 7"},
            "observation": {"code": "NEWS2", "op": "ge", "value": 7}},
        "action": {"mode": "topic", "topic": "news2-high", "level": "urgent"}});
    let (st, b) = boss.put(&format!("{A}/alarm_rules/news2"), rule).await;
    assert_eq!(st, 200, "{b}");
    bound(&boss, "epr", "EPR", &["hl7.observations"], "clinical_alert").await;
    assert_eq!(subscribe(&ann, "news2-high", &["all"]).await.0, 200);

    // Another ward's NEWS2: the rule is Ward 7's, so nothing is raised (not the failsafe's either).
    assert_eq!(send(&s, &one_news2("R1", "H1", "Ward 9", "F1", "9", "F")).await, "AA");
    assert!(alarms_of(&boss, "epr").await.is_empty(), "nothing for Ward 9");

    // The topic is narrowed to Ward 7 for Ann, who chose "all": she is shown Ward 7, and gets it.
    let narrowed = json!({"name": "NEWS2 ≥ 7", "description": "",
        "open_to": [{"kind": "user", "user_id": ann.user_id, "scopes": ["ward:Ward 7"]}], "version": 1});
    let (st, b) = boss.put(&format!("{A}/alert_topics/news2-high"), narrowed).await;
    assert_eq!(st, 200, "{b}");
    let (_, b) = ann.get(T).await;
    assert_eq!(b["topics"][0]["scopes"], json!(["ward:Ward 7"]), "what she receives: {b}");

    // Ward 7: raised, to Ann.
    assert_eq!(send(&s, &one_news2("R2", "H2", "Ward 7", "F2", "9", "F")).await, "AA");
    let listed = alarms_of(&boss, "epr").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let id = listed[0]["alarm_id"].as_str().unwrap().to_owned();
    let a = alarm_view(&boss, &id, "was delivered", |a| a["outcome"] == "notified").await;
    let room = a["room_id"].as_str().unwrap().to_owned();
    assert!(can_read(&ann, &room).await);

    // The lab withdraws it (it was another patient's): the alert ends, and its conversation says why.
    assert_eq!(send(&s, &one_news2("R3", "H2", "Ward 7", "F2", "9", "W")).await, "AA");
    let a = alarm_view(&boss, &id, "was withdrawn", |a| a["state"] == "cancelled").await;
    assert_eq!(alarms_of(&boss, "epr").await.len(), 1, "nothing raised by the withdrawal");
    let why = a["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "cancelled").expect("cancelled")["detail"]
        ["reason"]
        .clone();
    assert_eq!(why, "withdrawn by the sender: the result was for the wrong patient", "{a}");
    let path = format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50", enc(&room));
    crate::harness::get_until(&ann, &path, "the withdrawal told", |p| {
        p["chunk"].as_array().is_some_and(|c| {
            c.iter().any(|e| e["content"]["body"].as_str().is_some_and(|b| b.contains("wrong patient")))
        })
    })
    .await;

    // Another order: 9, then corrected to 3 (no rule wants 3): that alert ends too.
    assert_eq!(send(&s, &one_news2("R4", "H3", "Ward 7", "F3", "9", "F")).await, "AA");
    let listed = alarms_of(&boss, "epr").await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let second = listed.iter().find(|x| x["alarm_id"] != id.as_str()).unwrap()["alarm_id"].as_str().unwrap().to_owned();
    alarm_view(&boss, &second, "was delivered", |a| a["outcome"] == "notified").await;
    assert_eq!(send(&s, &one_news2("R5", "H3", "Ward 7", "F3", "3", "C")).await, "AA");
    alarm_view(&boss, &second, "was corrected away", |a| a["state"] == "cancelled").await;

    // The same order number a day later is another observation: a new alert, not a repeat.
    let later = one_news2("R6", "H3", "Ward 7", "F3", "8", "F").replace("|||20261201100000", "|||20261202100000");
    assert_eq!(send(&s, &later).await, "AA");
    assert_eq!(alarms_of(&boss, "epr").await.len(), 3);

    // One result for two patients: the first one's details Wardline could not show whole (a
    // very long name, an invisible character in the ward) refuse nothing; the second's alert is raised.
    let long = "Featherstonehaugh-Cholmondeley".repeat(4);
    let zw = '\u{200b}';
    let two = format!(
        "MSH|^~\\&|EPR|ICU|WARDLINE|HOSP|20261201101500||ORU^R01^ORU_R01|R7|P|2.6\r\
PID|||H4^^^HOSP^MR||{long}^Alexandra\rPV1||I|Ward{zw} 7^1^1^Main\r\
OBR|1||F4|OBS|||20261201100000\rOBX|1|NM|NEWS2^NEWS2 score^L||11|score||HH|||F\r\
PID|||H5^^^HOSP^MR||Roe^Rick\rPV1||I|Ward 7^2^2^Main\r\
OBR|1||F5|OBS|||20261201100000\rOBX|1|NM|NEWS2^NEWS2 score^L||10|score||HH|||F\r"
    );
    assert_eq!(send(&s, &two).await, "AA");
    let listed = alarms_of(&boss, "epr").await;
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert!(listed.iter().any(|a| a["patient"]["id"] == "H5"), "{listed:?}");
    // The first patient's ward, once its invisible character is gone, is the rule's Ward 7: Ann has it.
    let h4 = listed.iter().find(|a| a["patient"]["id"] == "H4").expect("H4's alert");
    assert_eq!(h4["location"]["ward"], "Ward 7", "{h4}");
    let name = h4["patient"]["name"].as_str().unwrap();
    assert!(name.starts_with("Alexandra Feather") && name.chars().count() <= 64, "{name}");
    let a = alarm_view(&boss, h4["alarm_id"].as_str().unwrap(), "was delivered", |a| a["outcome"] == "notified").await;
    assert_eq!(a["rule_id"], "news2", "{a}");

    // A patient the result places nowhere (no PV1, and ADT has no bed for them): raised, and the
    // failsafe has it (no ward rule fits an unknown place).
    let nowhere = one_news2("R8", "H6", "Ward 7", "F6", "12", "F").replace("PV1||I|Ward 7^3^12^Main\r", "");
    assert_eq!(send(&s, &nowhere).await, "AA");
    let listed = alarms_of(&boss, "epr").await;
    let h6 = listed.iter().find(|a| a["patient"]["id"] == "H6").expect("H6's alert");
    let a =
        alarm_view(&boss, h6["alarm_id"].as_str().unwrap(), "at the failsafe", |a| a["outcome"] == "notified").await;
    assert_eq!(a["rule_id"], "failsafe", "{a}");

    // One patient with 22 NEWS2 observations: 20 alerts and one more saying 2 were not raised.
    let mut many = one_news2("R9", "H7", "Ward 7", "F7", "9", "F");
    for i in 2..=22 {
        many.push_str(&format!("OBX|{i}|NM|NEWS2^NEWS2 score^L|{i}|9|score||HH|||F\r"));
    }
    let before = alarms_of(&boss, "epr").await.len();
    assert_eq!(send(&s, &many).await, "AA");
    let listed = alarms_of(&boss, "epr").await;
    let h7: Vec<&Value> = listed.iter().filter(|a| a["patient"]["id"] == "H7").collect();
    assert_eq!((listed.len() - before, h7.len()), (21, 21));
    assert!(h7.iter().any(|a| a["text"].as_str().is_some_and(|t| t.starts_with("2 more observations"))), "{h7:?}");
}
