//! IHE PCD-05 Report Alert Status through the whole server: a reporter that raised an alarm
//! over HL7 (PCD-04) and whose binding asks for status gets one `ORA^R41^ORA_R41` per status of
//! it at its own MLLP listener (an in-test one on 127.0.0.1), in order, the first added (`AD`)
//! and the rest updates (`UP`), `Accepted` naming the responder; a refusal (`CR` 204) fails the
//! report for good with the reason; a reporter that closes without answering, then asks for it
//! again (`AR` 207), is tried again (on the test clock) until it takes it. Where status may go is the configuration's to say (`hl7.status_addresses`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::admin::admin;
use crate::alarms::role;
use crate::alarms_hl7::{alarm_view, alarms_of, answer, connect, framed, hl7_addr, r40};
use crate::harness::{Client, Server};

const A: &str = "/_wardline/admin/v1";

/// A reporter's MLLP listener: the one message of each connection recorded and answered with
/// the next `(MSA-1, ERR-3)` queued (`CA` when none is); while `silent`, each connection is
/// closed as soon as it is taken, unread and unanswered.
#[derive(Clone, Default)]
struct Reporter {
    got: Arc<Mutex<Vec<String>>>,
    codes: Arc<Mutex<VecDeque<(&'static str, &'static str)>>>,
    silent: Arc<AtomicBool>,
}

impl Reporter {
    fn serve(&self, listener: TcpListener) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut c, _)) = listener.accept().await else { return };
                if me.silent.load(Ordering::SeqCst) {
                    drop(c);
                    continue;
                }
                let me = me.clone();
                tokio::spawn(async move {
                    let mut bytes = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !bytes.ends_with(&[0x1c, 0x0d]) {
                        match c.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => bytes.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8(bytes).unwrap();
                    let text = text.trim_start_matches('\u{b}').trim_end_matches(['\u{1c}', '\r']).to_owned();
                    let control = field(&text, "MSH", 10);
                    let (code, err_3) = me.codes.lock().unwrap().pop_front().unwrap_or(("CA", ""));
                    let err = if code == "CA" {
                        String::new()
                    } else {
                        format!("ERR||OBR^1^29|{err_3}^Refused^HL70357|E||||No such alert for Mr X\r")
                    };
                    let ack = format!(
                        "MSH|^~\\&|MON|ICU|WARDLINE|x|20261201101500||ACK^R41^ACK|R{control}|P|2.6\rMSA|{code}|{control}\r{err}"
                    );
                    me.got.lock().unwrap().push(text);
                    let _ = c.write_all(&framed(&ack)).await;
                });
            }
        });
    }

    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..600 {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the reporter never got {n} messages: {:?}", self.got.lock().unwrap());
    }
}

/// Field `n` of the first `segment` of `message` (MSH counted as HL7 does: MSH-1 is `|`).
fn field(message: &str, segment: &str, n: usize) -> String {
    let seg = message.split('\r').find(|s| s.starts_with(segment)).unwrap_or_default();
    let n = if segment == "MSH" { n - 1 } else { n };
    seg.split('|').nth(n).unwrap_or_default().to_owned()
}

/// Component `c` (from 1) of a field.
fn component(field: &str, c: usize) -> String {
    field.split('^').nth(c - 1).unwrap_or_default().to_owned()
}

/// An integration bound to `app|ICU` from loopback that asks for status at `status_address`.
async fn reporter_bound(boss: &Client, id: &str, app: &str, kind: &str, status_address: &str) {
    let (st, b) = boss
        .post(
            &format!("{A}/integrations"),
            json!({"integration_id": id, "name": "Reporter", "kind": "monitoring", "scopes": ["hl7.alarms"]}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let binding = json!({"sending_application": app, "sending_facility": "ICU",
        "allowed_addresses": ["127.0.0.0/8"], "default_kind": kind,
        "status_address": status_address, "report_status": true});
    let (st, b) = boss.put(&format!("{A}/integrations/{id}/hl7"), binding).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["hl7"]["status_address"].as_str(), &b["hl7"]["report_status"]), (Some(status_address), &json!(true)));
}

/// The PCD-05 words of an alarm's statuses, as the server lists them.
fn pcd05_statuses(alarm: &Value) -> Vec<String> {
    alarm["status"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let s = f["status"].as_str().unwrap();
            Some(
                match s.split('.').next().unwrap() {
                    "recorded" => "Received",
                    "delivered" => "Delivered",
                    "read" => "Read",
                    "accepted" => "Accepted",
                    "declined" => "Rejected",
                    "failsafe" | "undeliverable" => "Undeliverable",
                    "reset" | "cancelled" => "CancelledOther",
                    "closed" => "Cancelled",
                    _ => return None,
                }
                .to_owned(),
            )
        })
        .collect()
}

/// The reports of an integration in the administrators' view, oldest first.
async fn outbox(boss: &Client, integration: &str) -> Vec<Value> {
    let (st, b) = boss.get(&format!("{A}/integration_outbox?integration={integration}&limit=100")).await;
    assert_eq!(st, 200, "{b}");
    let mut reports = b["reports"].as_array().unwrap().clone();
    reports.reverse();
    reports
}

#[tokio::test]
async fn a_reporter_hears_each_status_of_its_alarm_in_order_and_a_refusal_fails_the_report() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap().to_string();
    let reporter = Reporter::default();
    reporter.serve(listener);
    let s = Server::start_with_env(&[("WARDLINE_HL7__LISTEN", "127.0.0.1:0"), ("WARDLINE_HL7__STATUS_ADDRESSES", &at)]);
    let boss = admin(&s).await;
    let ada = s.user("ada").await;
    role(&boss, "arrest-team", "Arrest team", &[&ada]).await;
    let rule = json!({"name": "Cardiac arrests", "match": {"kinds": ["cardiac_arrest"]},
        "action": {"mode": "incident", "targets": [{"kind": "role", "role": "arrest-team"}], "level": "emergency"}});
    assert_eq!(boss.put(&format!("{A}/alarm_rules/arrests"), rule).await.0, 200);
    reporter_bound(&boss, "arrests", "ARREST", "cardiac_arrest", &at).await;

    // Only an address the configuration lists: not any host or port an administrator types.
    for elsewhere in ["127.0.0.1:22", "10.0.0.5:2575", "169.254.169.254:80"] {
        let binding = json!({"sending_application": "ARREST", "sending_facility": "ICU",
            "allowed_addresses": ["127.0.0.0/8"], "status_address": elsewhere, "report_status": true});
        let (st, b) = boss.put(&format!("{A}/integrations/arrests/hl7"), binding).await;
        assert_eq!((st, b["errcode"].as_str()), (400, Some("ORG.WARDLINE.HOST_NOT_ALLOWED")), "{elsewhere}: {b}");
    }
    let no_address = json!({"sending_application": "ARREST", "sending_facility": "ICU",
        "allowed_addresses": ["127.0.0.0/8"], "report_status": true});
    let (st, b) = boss.put(&format!("{A}/integrations/arrests/hl7"), no_address).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{b}");

    // An arrest over PCD-04; the team's responder accepts it.
    let arrest =
        |control: &str, source: &str| r40(control, source, "start", "|||AL|NE").replace("|MON|ICU|", "|ARREST|ICU|");
    let mut c = connect(&hl7_addr(&s)).await;
    c.write_all(&framed(&arrest("R1", "ARREST-1"))).await.unwrap();
    assert_eq!(answer(&mut c).await.map(|x| x.0), Some("CA".into()));
    let id = alarms_of(&boss, "arrests").await[0]["alarm_id"].as_str().unwrap().to_owned();
    let a = alarm_view(&boss, &id, "was delivered", |a| a["outcome"] == "notified").await;
    let (room, event) = (a["room_id"].as_str().unwrap().to_owned(), a["event_id"].as_str().unwrap().to_owned());
    crate::alarms::answer(&ada, &room, &event, "accept", "a1").await;

    // Every status PCD-05 has a word for reaches the reporter, in the order they happened.
    let mut last = (Vec::new(), Vec::new());
    for _ in 0..600 {
        let (_, a) = boss.get(&format!("{A}/alarms/{id}")).await;
        let expected = pcd05_statuses(&a);
        let got: Vec<String> = reporter.got.lock().unwrap().iter().map(|m| component(&field(m, "PRT", 3), 2)).collect();
        if expected.contains(&"Accepted".to_owned()) && got == expected {
            last = (expected, got);
            break;
        }
        last = (expected, got);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(last.1.contains(&"Accepted".to_owned()) && last.0 == last.1, "expected, got: {last:?}");
    let got = reporter.got.lock().unwrap().clone();
    let mut controls: Vec<String> = got.iter().map(|m| field(m, "MSH", 10)).collect();
    for (i, m) in got.iter().enumerate() {
        assert_eq!(field(m, "MSH", 9), "ORA^R41^ORA_R41", "{m}");
        assert_eq!((field(m, "MSH", 15).as_str(), field(m, "MSH", 16).as_str()), ("AL", "NE"));
        assert_eq!(component(&field(m, "MSH", 21), 3), "1.3.6.1.4.1.19376.1.6.1.5.1");
        assert_eq!((field(m, "MSH", 5).as_str(), field(m, "MSH", 6).as_str()), ("ARREST", "ICU"), "to the reporter");
        assert_eq!(component(&field(m, "OBR", 29), 2), "ARREST-1", "OBR-29: the reporter's own id");
        assert_eq!(component(&field(m, "PID", 3), 1), "H1");
        assert_eq!(component(&field(m, "PRT", 1), 1), id, "one dissemination");
        assert_eq!(field(m, "PRT", 2), if i == 0 { "AD" } else { "UP" }, "{m}");
        assert!(!m.contains("Heart rate high"), "never the alarm's text");
    }
    let accepted = got.iter().find(|m| field(m, "PRT", 3).contains("^Accepted^IHE_PCD_ACM")).unwrap();
    assert_eq!(component(&field(accepted, "PRT", 5), 1), ada.user_id, "who accepted: {accepted}");
    controls.sort();
    controls.dedup();
    assert_eq!(controls.len(), got.len(), "each report its own control id");
    let reports = outbox(&boss, "arrests").await;
    let hl7: Vec<&Value> = reports.iter().filter(|r| r["channel"] == "hl7").collect();
    assert_eq!(hl7.len(), got.len(), "{reports:?}");
    assert!(hl7.iter().all(|r| r["outcome"] == "sent" && r["attempts"] == 1), "{hl7:?}");
    assert!(!json!(hl7).to_string().contains("H1"), "the outbox keeps no patient: {hl7:?}");

    // The reporter refuses the next alarm's first status (CR): failed for good, with the reason.
    reporter.codes.lock().unwrap().push_back(("CR", "204"));
    let before = reporter.got.lock().unwrap().len();
    c.write_all(&framed(&arrest("R2", "ARREST-2"))).await.unwrap();
    assert_eq!(answer(&mut c).await.map(|x| x.0), Some("CA".into()));
    let second = alarms_of(&boss, "arrests").await.iter().find(|a| a["source_id"] == "ARREST-2").unwrap()["alarm_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = alarm_view(&boss, &second, "was delivered", |a| a["outcome"] == "notified").await;
    let (room, event) = (a["room_id"].as_str().unwrap().to_owned(), a["event_id"].as_str().unwrap().to_owned());
    crate::alarms::answer(&ada, &room, &event, "decline", "d2").await;
    let got = reporter.wait_for(before + 1).await;
    assert_eq!(component(&field(&got[before], "PRT", 3), 2), "Rejected", "a decline: {got:?}");
    let mut failed = Vec::new();
    for _ in 0..600 {
        failed = outbox(&boss, "arrests").await.into_iter().filter(|r| r["outcome"] == "failed").collect();
        if !failed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!((failed[0]["channel"].as_str(), failed[0]["attempts"].as_u64()), (Some("hl7"), Some(1)));
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(reason.contains("CR") && reason.contains("204"), "{reason}");
    assert!(!reason.contains("Mr X"), "never the reporter's free text (ERR-8): {reason}");
}

#[tokio::test]
async fn a_reporter_not_answering_or_asking_again_is_tried_again_until_it_takes_it() {
    // The reporter's listener stays bound throughout; at first it closes each connection
    // unanswered.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at_text = listener.local_addr().unwrap().to_string();
    let reporter = Reporter::default();
    reporter.silent.store(true, Ordering::SeqCst);
    reporter.serve(listener);
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let s = Server::start_with_env(&[
        ("WARDLINE_HL7__LISTEN", "127.0.0.1:0"),
        ("WARDLINE_HL7__STATUS_ADDRESSES", &at_text),
        ("WARDLINE_TEST_CLOCK_FILE", clock.to_str().unwrap()),
    ]);
    let boss = admin(&s).await;
    // No rule covers it: the failsafe gets it, and the reporter is told it is undeliverable.
    reporter_bound(&boss, "monitors", "MON", "monitor", &at_text).await;
    let mut c = connect(&hl7_addr(&s)).await;
    c.write_all(&framed(&r40("N1", "A1", "start", "|||AL|NE"))).await.unwrap();
    assert_eq!(answer(&mut c).await.map(|x| x.0), Some("CA".into()));
    let retried = |attempts: u64| {
        move |r: &Value| r["attempts"] == attempts && r["claimed_ts"].is_null() && r["outcome"] == "pending"
    };
    let first_hl7 = |want: Box<dyn Fn(&Value) -> bool>| {
        let boss = &boss;
        async move {
            let mut tried = Vec::new();
            for _ in 0..600 {
                tried = outbox(boss, "monitors").await.into_iter().filter(|r| r["channel"] == "hl7").collect();
                if tried.first().is_some_and(&want) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tried
        }
    };
    let tried = first_hl7(Box::new(retried(1))).await;
    let first = tried.first().cloned().unwrap_or_default();
    assert_eq!((first["attempts"].as_u64(), first["outcome"].as_str()), (Some(1), Some("pending")), "{tried:?}");
    let wait = first["due_ts"].as_u64().unwrap() - first["created_ts"].as_u64().unwrap();
    assert!(wait >= 5_000, "due again after integrations.first_retry_secs: {first}");
    assert!(reporter.got.lock().unwrap().is_empty(), "closed unanswered: nothing taken");

    // It answers now, first asking for it again (AR, ERR-3 207: it could not store it).
    reporter.codes.lock().unwrap().push_back(("AR", "207"));
    reporter.silent.store(false, Ordering::SeqCst);
    std::fs::write(&clock, "6000").unwrap();
    reporter.wait_for(1).await;
    let tried = first_hl7(Box::new(retried(2))).await;
    let first = tried.first().cloned().unwrap_or_default();
    assert_eq!((first["attempts"].as_u64(), first["outcome"].as_str()), (Some(2), Some("pending")), "{tried:?}");
    assert!(first["due_ts"].as_u64().unwrap() > 6_000, "tried again later, not failed: {first}");

    // On the clock the retry is due: taken, and every status goes, in order.
    std::fs::write(&clock, "60000").unwrap();
    let got = reporter.wait_for(2).await;
    assert_eq!(field(&got[1], "MSH", 10), field(&got[0], "MSH", 10), "the same report again");
    for m in &got[..2] {
        assert_eq!(field(m, "PRT", 2), "AD", "nothing was taken before: still the first");
        assert_eq!(component(&field(m, "PRT", 3), 2), "Undeliverable", "{got:?}");
    }
    let mut sent = Vec::new();
    for _ in 0..600 {
        sent = outbox(&boss, "monitors").await.into_iter().filter(|r| r["channel"] == "hl7").collect();
        if sent.iter().all(|r| r["outcome"] == "sent") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent.iter().all(|r| r["outcome"] == "sent"), "{sent:?}");
    assert_eq!(sent[0]["attempts"], 3, "the first after two retries: {sent:?}");
    let got = reporter.wait_for(sent.len() + 1).await;
    assert!(got[2..].iter().all(|m| field(m, "PRT", 2) == "UP"), "the rest update it: {got:?}");
}
