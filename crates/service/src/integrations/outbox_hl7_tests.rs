//! The outbox's HL7 reports (IHE PCD-05) to an in-test MLLP listener on the manual clock: `AD`
//! until one of the alarm's reports has been sent (a failed first leaves the next to add it),
//! `UP` after; `MSH-11` `T` to a test binding; a reporter's `AR` with `ERR-3` 207 is tried again,
//! a `CR` with 204 fails for good with the code only; a status address struck from
//! `hl7.status_addresses` since it was set gets nothing more.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wardline_store::{NewIntegration, NewReport, ReportChannel, ReportOutcome, ReportQuery, Store};
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::alarm::{AlarmId, AlarmKind};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::hl7::Message;
use wardline_types::hl7_binding::{Hl7Binding, R40Ack};
use wardline_types::integration::{IntegrationId, IntegrationScope};
use wardline_types::{Clock as _, ManualClock, Timestamp};

use crate::alarms::hl7::pcd05::Pcd05Status;
use crate::audit::By;
use crate::config::Hl7Settings;
use crate::{Config, Services};

const T0: Timestamp = Timestamp(1_800_000_000_000);

/// A reporter's MLLP listener: each connection's message kept, answered with the next
/// `(MSA-1, ERR)` queued (`CA` when none is).
#[derive(Clone, Default)]
struct Reporter {
    got: Arc<Mutex<Vec<String>>>,
    answers: Arc<Mutex<VecDeque<(&'static str, &'static str)>>>,
}

impl Reporter {
    async fn listen(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap().to_string();
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut c, _)) = listener.accept().await else { return };
                let mut bytes = Vec::new();
                let mut buf = [0u8; 4096];
                while !bytes.ends_with(&[0x1c, 0x0d]) {
                    match c.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => bytes.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8(bytes).unwrap();
                let text = text.trim_start_matches('\u{b}').trim_end_matches(['\u{1c}', '\r']).to_owned();
                let m = Message::parse(&text).unwrap();
                let control = m.text(m.msh().unwrap(), 10, 0);
                let (code, err) = me.answers.lock().unwrap().pop_front().unwrap_or(("CA", ""));
                let ack = format!(
                    "MSH|^~\\&|MON|ICU|WARDLINE|x|20261201101500||ACK^R41^ACK|R1|P|2.6\rMSA|{code}|{control}\r{err}"
                );
                me.got.lock().unwrap().push(text);
                let _ = c.write_all(&[&[0x0b][..], ack.as_bytes(), &[0x1c, 0x0d]].concat()).await;
            }
        });
        at
    }

    /// `(MSH-11, PRT-2, PRT-3's status)` of each message received.
    fn got(&self) -> Vec<(String, String, String)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|t| {
                let m = Message::parse(t).unwrap();
                let prt = m.segment("PRT").unwrap();
                (m.text(m.msh().unwrap(), 11, 0), m.text(prt, 2, 0), m.text(prt, 3, 2))
            })
            .collect()
    }
}

fn services(store: &Arc<dyn Store>, clock: &Arc<ManualClock>, dir: &std::path::Path, allowed: &[&str]) -> Services {
    let hl7 =
        Hl7Settings { status_addresses: allowed.iter().map(|a| (*a).to_owned()).collect(), ..Hl7Settings::default() };
    let config = Config { data_dir: dir.to_owned(), hl7, ..Config::default() };
    let s = Services::new(config, Arc::clone(store), clock.clone()).unwrap();
    tokio::spawn(s.audit.clone().run_writer());
    s
}

/// The integration `monitors`, bound to `MON|ICU` from loopback, asking for status at `at`;
/// and an alarm of its, raised over PCD-04.
async fn bound_with_alarm(s: &Services, store: &Arc<dyn Store>, at: &str, test: bool) -> (IntegrationId, AlarmId) {
    let id = IntegrationId::parse("monitors").unwrap();
    let new = NewIntegration {
        id: id.clone(),
        name: "Monitors".into(),
        kind: "monitoring".into(),
        scopes: vec![IntegrationScope::Hl7Alarms],
        allowed_kinds: vec![],
    };
    s.integrations.create(By::Server, new).await.unwrap();
    let binding = Hl7Binding {
        sending_application: "MON".into(),
        sending_facility: "ICU".into(),
        allowed_addresses: vec!["127.0.0.0/8".parse().unwrap()],
        test,
        default_kind: AlarmKind::Monitor,
        r40_ack: R40Ack::Ack,
        status_address: Some(at.to_owned()),
        report_status: true,
        client_cert_sha256: None,
    };
    s.integrations.set_hl7(By::Server, &id, Some(binding)).await.unwrap();
    let r40 = "MSH|^~\\&|MON|ICU|WARDLINE|HOSP|20261201101500||ORU^R40^ORU_R40|C1|P|2.6|||AL|NE\r\
PID|||H1^^^HOSP^MR||Doe^Jane\rPV1||I|ICU^Bay 2^4^Main\r\
OBR|1||A1^MON|196616^MDC_EVT_ALARM^MDC\r\
OBX|1|ST|196670^MDC_EVT_HI^MDC|1.0.0.0.1|SECRET alarm text||||||F\r\
OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.0.3|start||||||F\r";
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    s.alarms.receive_hl7(ip, None, r40.as_bytes(), "WARDLINE").await.unwrap();
    let alarm = store.alarm_by_source(&id, "A1").await.unwrap().unwrap().id;
    (id, alarm)
}

fn status(alarm: &AlarmId, status: &str, at: Timestamp) -> Pcd05Status {
    Pcd05Status {
        kind: "alarm.pcd05".into(),
        alarm_id: alarm.as_str().to_owned(),
        status: status.into(),
        fact: status.to_lowercase(),
        person: None,
        at: at.0,
    }
}

fn hl7_report(to: &IntegrationId, alarm: &AlarmId, s: &str, at: Timestamp) -> NewReport {
    NewReport {
        integration: to.clone(),
        alarm: Some(alarm.clone()),
        channel: ReportChannel::Hl7,
        payload: serde_json::to_string(&status(alarm, s, at)).unwrap(),
        created: at,
    }
}

async fn hl7_outcomes(store: &Arc<dyn Store>) -> Vec<(Option<ReportOutcome>, u32, Option<String>)> {
    let mut all = store.reports(ReportQuery { limit: 100, ..ReportQuery::default() }).await.unwrap();
    all.reverse();
    all.into_iter().filter(|r| r.channel == ReportChannel::Hl7).map(|r| (r.outcome, r.attempts, r.reason)).collect()
}

async fn failures(s: &Services, store: &Arc<dyn Store>) -> Vec<String> {
    s.audit.flush().await.unwrap();
    let all = store.audit_records(1, 10_000).await.unwrap();
    all.iter()
        .filter(|r| r.record.action == AuditAction::IntegrationReport && r.record.outcome == Outcome::Failure)
        .map(|r| r.record.detail.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn the_first_status_sent_adds_the_dissemination_a_207_is_tried_again_and_a_test_binding_gets_t() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let reporter = Reporter::default();
    let at = reporter.listen().await;
    let s = services(&store, &clock, dir.path(), &[&at]);
    let (id, alarm) = bound_with_alarm(&s, &store, &at, true).await;
    let now = clock.now();
    let queued = store
        .queue_reports(vec![
            hl7_report(&id, &alarm, "Delivered", now),
            hl7_report(&id, &alarm, "Read", now),
            hl7_report(&id, &alarm, "Accepted", now),
        ])
        .await
        .unwrap();
    assert_eq!(queued, 3);
    // The first is refused for good (204: no such alert); the second is asked for again (207:
    // the reporter could not store it), then taken; the third too.
    reporter.answers.lock().unwrap().extend([
        ("CR", "ERR||OBR^1^29|204^Unknown key identifier^HL70357|E||||No such alert for Mr X\r"),
        ("AR", "ERR||MSH^1^10|207^Application internal error^HL70357|E||||disk full\r"),
    ]);
    for _ in 0..3 {
        s.outbox.tick().await.unwrap();
    }
    assert_eq!(reporter.got().len(), 2, "the third waits behind the second's retry: {:?}", reporter.got());
    clock.advance(std::time::Duration::from_secs(5));
    for _ in 0..3 {
        s.outbox.tick().await.unwrap();
    }
    let t = |action: &str, status: &str| ("T".to_owned(), action.to_owned(), status.to_owned());
    assert_eq!(
        reporter.got(),
        [t("AD", "Delivered"), t("AD", "Read"), t("AD", "Read"), t("UP", "Accepted")],
        "AD until one was sent (the refused first added nothing), UP after; MSH-11 T to a test binding"
    );
    let outcomes = hl7_outcomes(&store).await;
    assert_eq!(
        outcomes,
        [
            (Some(ReportOutcome::Failed), 1, Some("the reporter refused it: CR (ERR-3 204)".into())),
            (Some(ReportOutcome::Sent), 2, None),
            (Some(ReportOutcome::Sent), 1, None),
        ]
    );
    let failed = failures(&s, &store).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("ERR-3 204"), "{failed:?}");
    assert!(!failed[0].contains("Mr X") && !failed[0].contains("No such alert"), "never ERR-8's text: {failed:?}");
}

#[tokio::test]
async fn a_status_address_struck_from_the_list_since_it_was_set_gets_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let reporter = Reporter::default();
    let at = reporter.listen().await;
    let before = services(&store, &clock, dir.path(), &[&at]);
    let (id, alarm) = bound_with_alarm(&before, &store, &at, false).await;
    // The server restarts with a configuration that no longer lists the address.
    let s = services(&store, &clock, dir.path(), &["reporter.example:2575"]);
    assert_eq!(store.queue_reports(vec![hl7_report(&id, &alarm, "Delivered", clock.now())]).await.unwrap(), 1);
    s.outbox.tick().await.unwrap();
    assert!(reporter.got().is_empty(), "nothing sent: {:?}", reporter.got());
    let outcomes = hl7_outcomes(&store).await;
    assert_eq!(outcomes.len(), 1);
    let (outcome, attempts, reason) = outcomes[0].clone();
    assert_eq!((outcome, attempts), (Some(ReportOutcome::Failed), 1), "failed for good at once: {reason:?}");
    assert!(reason.as_deref().unwrap_or_default().contains("no longer allowed"), "{reason:?}");
    let failed = failures(&s, &store).await;
    assert!(failed.len() == 1 && failed[0].contains("no longer allowed"), "{failed:?}");
}
