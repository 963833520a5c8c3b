//! HL7 v2 over MLLP through the whole server, with raw TCP frames: framing (junk before the
//! start byte, a message split over writes, two messages in one write, a frame too large, noise
//! on one connection while another works), original and enhanced acknowledgement modes,
//! duplicates answered from what was stored, an unknown sender refused, a PCD-04 cardiac arrest
//! opening an incident by its rule (with the patient's name from ADT), the connection cap and idle
//! timeout, and a `kill -9` between storing a message and acknowledging it.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::admin::admin;
use crate::alarms::{messages, role, state};
use crate::harness::{Client, Server};

const A: &str = "/_wardline/admin/v1";

/// The MLLP address the server printed.
pub(crate) fn hl7_addr(s: &Server) -> String {
    s.stdout_lines
        .iter()
        .find_map(|l| l.strip_prefix("wardline hl7 listening on "))
        .expect("the server prints its HL7 address")
        .to_owned()
}

pub(crate) fn hl7_env(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env = vec![("WARDLINE_HL7__LISTEN", "127.0.0.1:0")];
    env.extend_from_slice(extra);
    env
}

/// An integration bound to `MON|ICU` from loopback, with the given scopes and alarm kind.
pub(crate) async fn bound(boss: &Client, id: &str, app: &str, scopes: &[&str], kind: &str) {
    let (st, b) = boss
        .post(
            &format!("{A}/integrations"),
            json!({"integration_id": id, "name": "Monitors", "kind": "monitoring", "scopes": scopes}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let binding = json!({"sending_application": app, "sending_facility": "ICU",
        "allowed_addresses": ["127.0.0.0/8"], "default_kind": kind});
    let (st, b) = boss.put(&format!("{A}/integrations/{id}/hl7"), binding.clone()).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["hl7"]["sending_application"], app);
    let (st, b) = boss.get(&format!("{A}/integrations/{id}/hl7")).await;
    assert_eq!((st, &b["hl7"]["r40_ack"]), (200, &json!("ack")), "{b}");
}

pub(crate) fn r40(control: &str, source: &str, phase: &str, msh_15_16: &str) -> String {
    format!(
        "MSH|^~\\&|MON|ICU|WARDLINE|HOSP|20261201101500||ORU^R40^ORU_R40|{control}|P|2.6{msh_15_16}\r\
PID|||H1^^^HOSP^MR\r\
PV1||I|ICU^Bay 2^4^Main\r\
OBR|1||{source}^MON|196616^MDC_EVT_ALARM^MDC\r\
OBX|1|ST|196670^MDC_EVT_HI^MDC|1.0.0.0.1|Heart rate high||||||F\r\
OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.0.3|{phase}||||||F\r\
OBX|3|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.0.0.0.6|PH||||||F\r"
    )
}

pub(crate) fn framed(message: &str) -> Vec<u8> {
    [&[0x0b][..], message.as_bytes(), &[0x1c, 0x0d]].concat()
}

/// Reads one framed answer: `(MSA-1, MSA-2, ERR-3)`; `None` if the connection closed first.
pub(crate) async fn answer(c: &mut TcpStream) -> Option<(String, String, String)> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match tokio::time::timeout(Duration::from_secs(60), c.read(&mut byte)).await.expect("an answer or a close") {
            Ok(0) | Err(_) => return None,
            Ok(_) => got.push(byte[0]),
        }
        if got.ends_with(&[0x1c, 0x0d]) {
            break;
        }
    }
    let text = String::from_utf8(got).unwrap();
    let text = text.trim_start_matches('\u{b}').trim_end_matches(['\u{1c}', '\r']);
    let seg = |id: &str| -> Vec<String> {
        text.split('\r')
            .find(|s| s.starts_with(id))
            .map(|s| s.split('|').map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let msa = seg("MSA");
    let err = seg("ERR");
    let code = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
    Some((code(&msa, 1), code(&msa, 2), code(&err, 3).split('^').next().unwrap_or("").to_owned()))
}

async fn put(c: &mut TcpStream, message: String) {
    c.write_all(&framed(&message)).await.unwrap();
}

pub(crate) async fn connect(addr: &str) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect to the MLLP listener")
}

pub(crate) async fn alarms_of(boss: &Client, integration: &str) -> Vec<Value> {
    let (st, b) = boss.get(&format!("{A}/alarms?integration={integration}")).await;
    assert_eq!(st, 200, "{b}");
    b["alarms"].as_array().unwrap().clone()
}

#[tokio::test]
async fn frames_are_taken_however_they_arrive_and_a_bad_connection_harms_no_other() {
    let s = Server::start_with_env(&hl7_env(&[("WARDLINE_HL7__MAX_MESSAGE_BYTES", "2048")]));
    let addr = hl7_addr(&s);
    let boss = admin(&s).await;
    bound(&boss, "monitors", "MON", &["hl7.alarms"], "monitor").await;

    // Junk before the start byte, and a message split over two writes.
    let mut a = connect(&addr).await;
    let whole = framed(&r40("F1", "A1", "start", "|||AL|NE"));
    let (first, second) = whole.split_at(40);
    a.write_all(&[b"\x00\xffjunk".as_slice(), first].concat()).await.unwrap();
    a.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.write_all(second).await.unwrap();
    assert_eq!(answer(&mut a).await, Some(("CA".into(), "F1".into(), String::new())));
    // Two messages in one write: two answers, in order.
    let two = [framed(&r40("F2", "A2", "start", "")), framed(&r40("F3", "A3", "start", ""))].concat();
    a.write_all(&two).await.unwrap();
    assert_eq!(answer(&mut a).await.map(|x| (x.0, x.1)), Some(("AA".into(), "F2".into())));
    assert_eq!(answer(&mut a).await.map(|x| (x.0, x.1)), Some(("AA".into(), "F3".into())));

    // Noise on one connection (framed binary, then an endless unframed stream) while another
    // connection works.
    let mut noise = connect(&addr).await;
    noise.write_all(&[0x0b, 0xff, 0x00, 0x13, 0x37, 0x1c, 0x0d]).await.unwrap();
    let (code, _, _) = answer(&mut noise).await.expect("noise in a frame is answered");
    assert!(code == "AE" || code == "AR", "{code}");
    noise.write_all(&[0x42; 10_000]).await.unwrap();
    let mut b = connect(&addr).await;
    b.write_all(&framed(&r40("F4", "A4", "start", "|||AL|NE"))).await.unwrap();
    assert_eq!(answer(&mut b).await.map(|x| x.0), Some("CA".into()), "another connection works meanwhile");

    // A frame over the limit: AR (CR in enhanced mode) 207, then the connection is closed.
    let mut big = connect(&addr).await;
    let huge = r40("F5", "A5", "start", "|||AL|NE").replace("Heart rate high", &"x".repeat(4000));
    big.write_all(&framed(&huge)).await.unwrap();
    assert_eq!(answer(&mut big).await, Some(("CR".into(), "F5".into(), "207".into())));
    assert_eq!(answer(&mut big).await, None, "closed after");
    let sources: Vec<String> =
        alarms_of(&boss, "monitors").await.iter().map(|a| a["source_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(sources, ["A1", "A2", "A3", "A4"], "the one too large was not stored");
    // The first connection still works.
    a.write_all(&framed(&r40("F6", "A6", "start", ""))).await.unwrap();
    assert_eq!(answer(&mut a).await.map(|x| x.0), Some("AA".into()));
}

#[tokio::test]
async fn each_mode_is_answered_as_msh_15_asks_duplicates_are_replayed_and_strangers_refused() {
    let s = Server::start_with_env(&hl7_env(&[]));
    let addr = hl7_addr(&s);
    let boss = admin(&s).await;
    bound(&boss, "monitors", "MON", &["hl7.alarms"], "monitor").await;
    let mut c = connect(&addr).await;
    // NE: stored, never answered; ER: answered only when refused; SU: only when stored. Each
    // silence is shown by the next answer being for the next message.
    put(&mut c, r40("M1", "B1", "start", "|||NE|NE")).await;
    put(&mut c, r40("M2", "B2", "start", "|||ER|NE")).await;
    put(&mut c, r40("M3", "B3", "start", "|||ER|NE").replace("|P|2.6", "|P|2.1")).await;
    let got = answer(&mut c).await.unwrap();
    assert_eq!(got, ("CR".into(), "M3".into(), "203".into()), "ER: only the refusal (version 2.1)");
    put(&mut c, r40("M4", "B4", "start", "|||SU|NE")).await;
    put(&mut c, r40("M5", "B5", "start", "|||SU|NE").replace("ORU^R40^ORU_R40", "ORM^O01^ORM_O01")).await;
    put(&mut c, r40("M6", "B6", "start", "||||AL")).await;
    assert_eq!(answer(&mut c).await.map(|x| (x.0, x.1)), Some(("CA".into(), "M4".into())), "SU: success");
    assert_eq!(
        answer(&mut c).await.map(|x| (x.0, x.1)),
        Some(("CA".into(), "M6".into())),
        "SU refusing M5 says nothing; enhanced mode with MSH-15 empty answers"
    );
    let stored: Vec<String> =
        alarms_of(&boss, "monitors").await.iter().map(|a| a["source_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(stored, ["B1", "B2", "B4", "B6"]);
    // Original mode: AA; AE with 101 for a report without OBR; AR 200 for an unsupported type.
    let mut c = connect(&addr).await;
    let mut ask = async |m: String| {
        c.write_all(&framed(&m)).await.unwrap();
        answer(&mut c).await.unwrap()
    };
    assert_eq!(ask(r40("O1", "C1", "start", "")).await.0, "AA");
    let no_obr = r40("O2", "C2", "start", "").replace("OBR|1||C2^MON|", "NTE|1||");
    assert_eq!(ask(no_obr).await, ("AE".into(), "O2".into(), "101".into()));
    let orm = r40("O3", "C3", "start", "").replace("ORU^R40^ORU_R40", "ORM^O01^ORM_O01");
    assert_eq!(ask(orm).await, ("AR".into(), "O3".into(), "200".into()));
    // The same message again: the stored answer, nothing acted on twice.
    assert_eq!(ask(r40("O1", "C1", "start", "")).await.0, "AA");
    // A control id already used, for another message (here an end that would reset C1):
    // refused (AR 207), never taken for the first and dropped unseen.
    assert_eq!(ask(r40("O1", "C1", "end", "")).await, ("AR".into(), "O1".into(), "207".into()));
    let c1 = alarms_of(&boss, "monitors").await.into_iter().find(|a| a["source_id"] == "C1").unwrap();
    assert_eq!(c1["state"], "active", "the reused control id was not acted on");
    assert_eq!(ask(r40("O4", "C1", "end", "")).await.0, "AA");
    let c1 = alarms_of(&boss, "monitors").await.into_iter().find(|a| a["source_id"] == "C1").unwrap();
    assert_eq!(c1["state"], "reset", "a new control id is");
    // A sender no integration is bound to.
    let stranger = r40("S1", "D1", "start", "").replace("|MON|ICU|", "|OTHER|ICU|");
    assert_eq!(ask(stranger).await, ("AR".into(), "S1".into(), "207".into()));
    assert_eq!(alarms_of(&boss, "monitors").await.len(), 5, "nothing stored for it");
}

/// Admits Jane Doe to the bed the arrest reports.
fn a01() -> String {
    "MSH|^~\\&|ARREST|ICU|||20261201090000||ADT^A01^ADT_A01|ADT1|P|2.5\rEVN|A01|20261201090000\r\
PID|||H1^^^HOSP^MR||Doe^Jane||19500203|F\rPV1||I|ICU^Bay 2^4^Main\r"
        .to_owned()
}

/// The rule and team of an arrest, and a bound arrest system.
async fn arrest_setup(s: &Server) -> (Client, Client) {
    let boss = admin(s).await;
    let ada = s.user("ada").await;
    role(&boss, "arrest-team", "Arrest team", &[&ada]).await;
    let rule = json!({"name": "Cardiac arrests", "match": {"kinds": ["cardiac_arrest"]},
        "action": {"mode": "incident", "targets": [{"kind": "role", "role": "arrest-team"}], "level": "emergency"}});
    let (st, b) = boss.put(&format!("{A}/alarm_rules/arrests"), rule).await;
    assert_eq!(st, 200, "{b}");
    bound(&boss, "arrests", "ARREST", &["hl7.alarms", "hl7.adt"], "cardiac_arrest").await;
    (boss, ada)
}

fn arrest(control: &str) -> String {
    r40(control, "ARREST-1", "start", "|||AL|NE").replace("|MON|ICU|", "|ARREST|ICU|")
}

pub(crate) async fn alarm_view(boss: &Client, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    crate::harness::get_until(boss, &format!("{A}/alarms/{id}"), what, done).await
}

#[tokio::test]
async fn a_pcd04_arrest_opens_an_incident_by_its_rule_naming_the_patient_from_adt() {
    let s = Server::start_with_env(&hl7_env(&[]));
    let (boss, ada) = arrest_setup(&s).await;
    let mut c = connect(&hl7_addr(&s)).await;
    c.write_all(&framed(&a01())).await.unwrap();
    assert_eq!(answer(&mut c).await.map(|x| x.0), Some("AA".into()), "the admission");
    c.write_all(&framed(&arrest("R1"))).await.unwrap();
    assert_eq!(answer(&mut c).await.map(|x| x.0), Some("CA".into()), "the arrest");
    let listed = alarms_of(&boss, "arrests").await;
    let id = listed[0]["alarm_id"].as_str().unwrap().to_owned();
    let a = alarm_view(&boss, &id, "was delivered", |a| a["outcome"] == "notified").await;
    assert_eq!((a["kind"].as_str(), a["protocol"].as_str()), (Some("cardiac_arrest"), Some("hl7")));
    let room = a["room_id"].as_str().unwrap().to_owned();
    let (st, incident) = state(&ada, &room, "org.wardline.incident").await;
    assert_eq!(st, 200, "{incident}");
    assert_eq!(incident["title"], "Cardiac arrest — Main, ICU, room Bay 2, bed 4", "{incident}");
    assert_eq!(incident["patient"]["name"], "Jane Doe", "the patient's name from ADT: {incident}");
    let posted = messages(&ada, &room).await;
    assert!(posted.iter().any(|e| e["content"]["org.wardline.priority"]["level"] == "emergency"));
}

#[tokio::test]
async fn killed_between_storing_and_acknowledging_the_resend_is_answered_from_the_store_and_dispatched_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let clock = dir.path().join("clock");
    let mut s = Server::start_in(&data, &hl7_env(&[("WARDLINE_TEST_HL7_HOLD", "before_ack:600000")]));
    let (boss, ada) = arrest_setup(&s).await;
    let mut c = connect(&hl7_addr(&s)).await;
    c.write_all(&framed(&arrest("K1"))).await.unwrap();
    // Stored (the alarm log shows it) but not answered (held): the server is killed now.
    for _ in 0..600 {
        if !alarms_of(&boss, "arrests").await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(alarms_of(&boss, "arrests").await.len(), 1, "stored before the answer");
    s.kill9();
    assert_eq!(answer(&mut c).await, None, "no answer came before the kill");
    drop(c);

    // The kill may have landed while the alarm was claimed for dispatch (after `claim_alarm`,
    // before `finish_dispatch`): its claim holds for the dispatch lease (60 s) from the first
    // server's clock. The restarted server runs that far ahead (the test clock, an offset on the
    // real one), so a dispatch cut short is taken over at once rather than a minute later; one
    // that finished is not done again.
    std::fs::write(&clock, "61000").unwrap(); // service/src/alarms/dispatch.rs LEASE_MS, and a second
    let s = Server::start_in(
        &data,
        &[("WARDLINE_HL7__LISTEN", "127.0.0.1:0"), ("WARDLINE_TEST_CLOCK_FILE", clock.to_str().unwrap())],
    );
    // The same sessions, on the restarted server.
    let (mut boss, mut ada) = (boss, ada);
    boss.base.clone_from(&s.base);
    ada.base.clone_from(&s.base);
    let mut c = connect(&hl7_addr(&s)).await;
    c.write_all(&framed(&arrest("K1"))).await.unwrap();
    assert_eq!(answer(&mut c).await, Some(("CA".into(), "K1".into(), String::new())), "the stored answer");
    let listed = alarms_of(&boss, "arrests").await;
    assert_eq!(listed.len(), 1, "one alarm");
    let id = listed[0]["alarm_id"].as_str().unwrap().to_owned();
    let a = alarm_view(&boss, &id, "was delivered", |a| a["outcome"] == "notified").await;
    let room = a["room_id"].as_str().unwrap().to_owned();
    // Not delivered before the kill, it is more than 30 s old on the restarted server's clock,
    // so it goes to the failsafe rule (the administrators) rather than the arrest team: either
    // way it is posted once, where its rule says.
    let reader = if a["rule_id"] == "failsafe" { &boss } else { &ada };
    let posted: Vec<Value> =
        messages(reader, &room).await.into_iter().filter(|e| e["content"]["org.wardline.alarm"].is_object()).collect();
    assert_eq!(posted.len(), 1, "dispatched once: {posted:?}");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_and_an_idle_one_makes_room() {
    let s = Server::start_with_env(&hl7_env(&[
        ("WARDLINE_HL7__MAX_CONNECTIONS", "1"),
        ("WARDLINE_HL7__IDLE_TIMEOUT_SECS", "1"),
    ]));
    let addr = hl7_addr(&s);
    let boss = admin(&s).await;
    bound(&boss, "monitors", "MON", &["hl7.alarms"], "monitor").await;
    let mut first = connect(&addr).await;
    put(&mut first, r40("L1", "E1", "start", "")).await;
    assert_eq!(answer(&mut first).await.map(|x| x.0), Some("AA".into()));
    // A second connection while the first is open: closed unanswered.
    let mut second = connect(&addr).await;
    // (The server may have closed it already: a failed write is as good as no answer.)
    let _ = second.write_all(&framed(&r40("L2", "E2", "start", ""))).await;
    assert_eq!(answer(&mut second).await, None, "over hl7.max_connections");
    // The first, left idle, is closed; then there is room again.
    assert_eq!(answer(&mut first).await, None, "closed once idle");
    let mut third = None;
    for _ in 0..600 {
        let mut c = connect(&addr).await;
        let sent = c.write_all(&framed(&r40("L3", "E3", "start", ""))).await.is_ok();
        if let Some(a) = answer(&mut c).await.filter(|_| sent) {
            third = Some(a.0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(third.as_deref(), Some("AA"));
    let sources: Vec<String> =
        alarms_of(&boss, "monitors").await.iter().map(|a| a["source_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(sources, ["E1", "E3"], "what was refused at the door was not stored");
}

#[tokio::test]
async fn a_trickling_connection_is_closed_and_one_address_cannot_take_every_slot() {
    let s = Server::start_with_env(&hl7_env(&[
        ("WARDLINE_HL7__MAX_CONNECTIONS", "8"),
        ("WARDLINE_HL7__MAX_CONNECTIONS_PER_ADDRESS", "1"),
        ("WARDLINE_HL7__IDLE_TIMEOUT_SECS", "1"),
    ]));
    let addr = hl7_addr(&s);
    let boss = admin(&s).await;
    bound(&boss, "monitors", "MON", &["hl7.alarms"], "monitor").await;
    // One byte of a frame every fifth of a second, never finishing it: closed after the idle
    // time since it opened, however busy it keeps the line.
    let mut slow = connect(&addr).await;
    let _ = slow.write_all(&[0x0b]).await;
    let mut closed_while_trickling = false;
    for _ in 0..50 {
        if slow.write_all(b"M").await.is_err() {
            closed_while_trickling = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(closed_while_trickling || answer(&mut slow).await.is_none(), "a trickle keeps no slot");
    // One connection per address: a second from the same host is closed unanswered while the
    // first is open, and the first still works.
    let mut first = connect(&addr).await;
    put(&mut first, r40("P1", "F1", "start", "")).await;
    assert_eq!(answer(&mut first).await.map(|x| x.0), Some("AA".into()));
    let mut second = connect(&addr).await;
    let _ = second.write_all(&framed(&r40("P2", "F2", "start", ""))).await;
    assert_eq!(answer(&mut second).await, None, "over hl7.max_connections_per_address");
    put(&mut first, r40("P3", "F3", "start", "")).await;
    assert_eq!(answer(&mut first).await.map(|x| x.0), Some("AA".into()));
}
