//! The integration outbox on the manual clock with a fake receiver: reports signed as Standard
//! Webhooks say, retried with doubling backoff, one alarm's in order, given up (and audited)
//! when too old; a webhook only on a listed host, checked again before each send.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use wardline_store::{NewReport, ReportChannel, ReportOutcome, ReportQuery, Store, Webhook};
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::alarm::AlarmId;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::integration::{IntegrationId, IntegrationScope};
use wardline_types::{Clock as _, ManualClock, Timestamp};

use super::IntegrationCaller;
use super::outbox::retry_wait_ms;
use super::webhook;
use crate::audit::By;
use crate::config::IntegrationSettings;
use crate::push::{Answer, PushTransport};
use crate::{Config, ServiceError, Services};

const T0: Timestamp = Timestamp(1_800_000_000_000);
const HOOK: &str = "https://nursecall.stmarys.example/hooks/wardline";

type Received = (String, Vec<(&'static str, String)>, Vec<u8>);

/// A receiver that fails the deliveries whose body holds a given text, as many times as it is
/// told (`0`: no answer at all), and acknowledges everything else.
#[derive(Debug, Default)]
struct Receiver {
    failing: Mutex<Vec<(String, u16, usize)>>,
    received: Mutex<Vec<Received>>,
}

#[async_trait]
impl PushTransport for Receiver {
    async fn post(&self, url: &str, headers: Vec<(&'static str, String)>, body: Vec<u8>) -> Result<Answer, String> {
        let text = String::from_utf8_lossy(&body).into_owned();
        self.received.lock().unwrap().push((url.to_owned(), headers, body));
        let mut failing = self.failing.lock().unwrap();
        let status = match failing.iter_mut().find(|(needle, _, left)| *left > 0 && text.contains(needle.as_str())) {
            Some((_, status, left)) => {
                *left -= 1;
                *status
            }
            None => 200,
        };
        if status == 0 {
            return Err("could not connect".into());
        }
        Ok(Answer { status, body: Vec::new() })
    }
}

impl Receiver {
    fn payloads(&self) -> Vec<String> {
        self.received.lock().unwrap().iter().map(|(_, _, b)| String::from_utf8(b.clone()).unwrap()).collect()
    }
}

fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> &'a str {
    headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {name}"))
}

struct Fixture {
    s: Services,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    receiver: Arc<Receiver>,
    caller: IntegrationCaller,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let integrations = IntegrationSettings {
        webhook_hosts: vec!["nursecall.stmarys.example".into()],
        ..IntegrationSettings::default()
    };
    let config = Config { data_dir: dir.path().to_owned(), integrations, ..Config::default() };
    let s = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
    tokio::spawn(s.audit.clone().run_writer());
    let receiver = Arc::new(Receiver::default());
    s.outbox.use_transport(receiver.clone());
    let mut new = super::tests::nurse_call();
    new.scopes = vec![IntegrationScope::AlarmsWrite, IntegrationScope::WebhookManage];
    let id = s.integrations.create(By::Server, new).await.unwrap().id;
    let key = s.integrations.add_key(By::Server, &id, None, None).await.unwrap();
    let caller = s
        .integrations
        .authenticate(&key.secret_key, Some(IntegrationScope::WebhookManage), None, "test")
        .await
        .unwrap();
    Fixture { s, store, clock, receiver, caller, _dir: dir }
}

fn alarm(n: u8) -> AlarmId {
    AlarmId::from_bytes(&[n; wardline_types::alarm::ALARM_ID_BYTES])
}

fn report(f: &Fixture, about: Option<AlarmId>, payload: &str) -> NewReport {
    NewReport {
        integration: f.caller.integration.id.clone(),
        alarm: about,
        channel: ReportChannel::Webhook,
        payload: payload.to_owned(),
        created: f.clock.now(),
    }
}

async fn audit_details(f: &Fixture) -> Vec<(Outcome, String)> {
    f.s.audit.flush().await.unwrap();
    let all = f.store.audit_records(1, 10_000).await.unwrap();
    all.iter()
        .filter(|r| r.record.action == AuditAction::IntegrationReport)
        .map(|r| (r.record.outcome, r.record.detail.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn retries_wait_twice_as_long_each_time_up_to_the_most() {
    let s = IntegrationSettings { first_retry_secs: 5, max_retry_secs: 300, ..IntegrationSettings::default() };
    let waits: Vec<u64> = (1..=8).map(|n| retry_wait_ms(&s, n) / 1000).collect();
    assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
    assert_eq!(retry_wait_ms(&s, u32::MAX), 300_000, "never overflows");
    assert_eq!(retry_wait_ms(&s, 0), 5_000);
}

#[tokio::test]
async fn reports_are_signed_retried_with_backoff_and_one_alarms_go_in_order() {
    let f = fixture().await;
    let made = f.s.outbox.set_webhook(&f.caller, HOOK).await.unwrap();
    assert_eq!(made.url, HOOK);
    assert!(made.secret.starts_with("whsec_"));
    assert_eq!(f.s.outbox.webhook_url(&f.caller).await.unwrap().as_deref(), Some(HOOK));
    let (a1, a2) = (alarm(1), alarm(2));
    let queued = f
        .store
        .queue_reports(vec![
            report(&f, Some(a1.clone()), r#"{"status":"delivered"}"#),
            report(&f, Some(a1.clone()), r#"{"status":"accepted"}"#),
            report(&f, Some(a2.clone()), r#"{"status":"read"}"#),
        ])
        .await
        .unwrap();
    assert_eq!(queued, 3);
    // The receiver fails alarm 1's first report twice (an error answer, then no answer).
    f.receiver.failing.lock().unwrap().extend([("delivered".to_owned(), 500, 1), ("delivered".to_owned(), 0, 1)]);

    f.s.outbox.tick().await.unwrap();
    // Alarm 1's first report failed; alarm 2's went (in the same pass), alarm 1's second waits.
    let got = f.receiver.payloads();
    assert_eq!(got.len(), 2, "{got:?}");
    let pending = f.store.reports(ReportQuery { pending_only: true, limit: 10, ..ReportQuery::default() }).await;
    let pending = pending.unwrap();
    let first = pending.iter().find(|r| r.payload.contains("delivered")).unwrap().clone();
    assert_eq!(first.due, T0.plus(Duration::from_secs(5)), "first retry after first_retry_secs");
    f.s.outbox.tick().await.unwrap();
    assert_eq!(f.receiver.payloads().len(), 2, "nothing more before the retry is due");

    f.clock.advance(Duration::from_secs(5));
    f.s.outbox.tick().await.unwrap();
    assert_eq!(f.receiver.payloads().len(), 3, "the retry, which fails again");
    let again = f.store.reports(ReportQuery { pending_only: true, limit: 10, ..ReportQuery::default() }).await;
    let again = again.unwrap().into_iter().find(|r| r.id == first.id).unwrap();
    assert_eq!(again.due, T0.plus(Duration::from_secs(15)), "then twice as long");
    f.clock.advance(Duration::from_secs(9));
    f.s.outbox.tick().await.unwrap();
    assert_eq!(f.receiver.payloads().len(), 3, "not a second early");
    f.clock.advance(Duration::from_secs(1));
    f.s.outbox.tick().await.unwrap();
    f.s.outbox.tick().await.unwrap();

    let received = f.receiver.received.lock().unwrap().clone();
    let a1_bodies: Vec<&str> =
        received.iter().map(|(_, _, b)| std::str::from_utf8(b).unwrap()).filter(|b| !b.contains("read")).collect();
    assert_eq!(
        a1_bodies,
        [
            r#"{"status":"delivered"}"#,
            r#"{"status":"delivered"}"#,
            r#"{"status":"delivered"}"#,
            r#"{"status":"accepted"}"#
        ],
        "alarm 1's second report only after its first was acknowledged"
    );
    // Every delivery is signed with the secret given, by the server's clock at that attempt, and
    // keeps its id across retries.
    let mut first_ids = Vec::new();
    for (url, headers, body) in &received {
        assert_eq!(url, HOOK);
        let id = header(headers, "webhook-id");
        let ts: u64 = header(headers, "webhook-timestamp").parse().unwrap();
        assert_eq!(header(headers, "webhook-signature"), webhook::signature(&made.secret, id, ts, body).unwrap());
        assert_eq!(header(headers, "content-type"), "application/json");
        assert!(id.starts_with("msg_"));
        if body.as_slice() == br#"{"status":"delivered"}"# {
            first_ids.push((id.to_owned(), ts));
        }
    }
    let t = T0.0 / 1000;
    assert_eq!(
        first_ids,
        [(first.id.clone(), t), (first.id.clone(), t + 5), (first.id.clone(), t + 15)],
        "the same id each time, each attempt signed at its time"
    );
    let ended = f.store.reports(ReportQuery { limit: 10, ..ReportQuery::default() }).await.unwrap();
    assert!(ended.iter().all(|r| r.outcome == Some(ReportOutcome::Sent)), "{ended:?}");
    assert_eq!(ended.iter().find(|r| r.id == first.id).unwrap().attempts, 3);
}

#[tokio::test]
async fn a_report_too_old_has_failed_for_good_and_the_trail_says_so_without_its_payload() {
    let f = fixture().await;
    f.s.outbox.set_webhook(&f.caller, HOOK).await.unwrap();
    f.store.queue_reports(vec![report(&f, Some(alarm(3)), r#"{"patient_secret":"x"}"#)]).await.unwrap();
    f.receiver.failing.lock().unwrap().push(("patient_secret".to_owned(), 503, usize::MAX));
    // Tried on and on, the waits capped at max_retry_secs, until it is 24 hours old.
    let mut passes = 0;
    loop {
        f.s.outbox.tick().await.unwrap();
        let pending = f.store.pending_reports().await.unwrap();
        if pending == 0 {
            break;
        }
        passes += 1;
        assert!(passes < 400, "never given up");
        f.clock.advance(Duration::from_secs(300));
    }
    let failed = f.store.reports(ReportQuery { limit: 1, ..ReportQuery::default() }).await.unwrap().remove(0);
    assert_eq!(failed.outcome, Some(ReportOutcome::Failed));
    assert!(failed.reason.as_deref().unwrap().starts_with("gave up after"), "{failed:?}");
    assert!(failed.done.unwrap().0 >= T0.0 + 24 * 3600 * 1000, "not before 24 hours");
    let details = audit_details(&f).await;
    let (outcome, detail) = details.last().unwrap();
    assert_eq!(*outcome, Outcome::Failure);
    assert!(detail.starts_with(&format!("report-failed report={} integration=nursecall", failed.id)), "{detail}");
    assert!(detail.contains("503") && detail.ends_with("via=server"), "{detail}");
    assert!(details.iter().all(|(_, d)| !d.contains("patient_secret") && !d.contains("whsec_")), "{details:?}");
}

#[tokio::test]
async fn webhooks_only_on_listed_hosts_checked_again_before_each_send() {
    let f = fixture().await;
    for bad in ["https://10.0.0.5/hooks", "http://nursecall.stmarys.example/hooks", "https://evil.example/x"] {
        let e = f.s.outbox.set_webhook(&f.caller, bad).await;
        assert!(matches!(e, Err(ServiceError::HostNotAllowed(_))), "{bad}: {e:?}");
    }
    assert!(f.s.outbox.webhook_url(&f.caller).await.unwrap().is_none(), "nothing set");
    // A webhook stored when another host was allowed (the configuration changed since): nothing
    // is sent there, and the report fails.
    let id = f.caller.integration.id.clone();
    let old = Webhook { url: "https://old-host.example/hooks".into(), secret: webhook::generate_secret() };
    f.store.set_integration_webhook(&id, Some(old)).await.unwrap();
    f.store.queue_reports(vec![report(&f, None, "{}")]).await.unwrap();
    f.s.outbox.tick().await.unwrap();
    assert!(f.receiver.payloads().is_empty(), "nothing sent");
    let r = f.store.reports(ReportQuery { limit: 1, ..ReportQuery::default() }).await.unwrap().remove(0);
    assert_eq!(r.outcome, Some(ReportOutcome::Failed));
    assert!(r.reason.as_deref().unwrap().contains("no longer allowed"), "{r:?}");

    // Removed webhook, revoked integration: what was queued fails, nothing is sent.
    f.s.outbox.set_webhook(&f.caller, HOOK).await.unwrap();
    f.store.queue_reports(vec![report(&f, None, "{}")]).await.unwrap();
    assert!(f.s.outbox.remove_webhook(&f.caller).await.unwrap());
    assert!(!f.s.outbox.remove_webhook(&f.caller).await.unwrap(), "once");
    f.s.outbox.tick().await.unwrap();
    f.s.outbox.set_webhook(&f.caller, HOOK).await.unwrap();
    f.store.queue_reports(vec![report(&f, None, "{}")]).await.unwrap();
    f.s.integrations.revoke(By::Server, &id).await.unwrap();
    f.s.outbox.tick().await.unwrap();
    assert!(f.receiver.payloads().is_empty(), "nothing sent");
    let reasons: Vec<String> = f
        .store
        .reports(ReportQuery { outcome: Some(ReportOutcome::Failed), limit: 10, ..ReportQuery::default() })
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.reason)
        .collect();
    assert_eq!(
        reasons[..2],
        ["the integration has been revoked".to_owned(), "the integration has no webhook".to_owned()]
    );
    let details = audit_details(&f).await;
    let sets = details.iter().filter(|(_, d)| d.starts_with("webhook-set integration=nursecall")).count();
    assert_eq!(sets, 2);
    assert!(details.iter().any(|(_, d)| d == "webhook-remove integration=nursecall"), "{details:?}");
    assert!(
        details.iter().all(|(_, d)| !d.contains("/hooks") && !d.contains("whsec_")),
        "the host only, never the URL or secret: {details:?}"
    );
}

#[tokio::test]
async fn an_administrators_test_is_queued_only_with_a_webhook_and_sent_at_once() {
    let f = fixture().await;
    let id = f.caller.integration.id.clone();
    let e = f.s.outbox.queue_test(By::Server, &id).await;
    assert!(matches!(e, Err(ServiceError::IntegrationConflict(ref m)) if m.contains("no webhook")), "{e:?}");
    let ghost = IntegrationId::parse("ghost").unwrap();
    assert!(matches!(f.s.outbox.queue_test(By::Server, &ghost).await, Err(ServiceError::NotFound(_))));
    f.s.outbox.set_webhook(&f.caller, HOOK).await.unwrap();
    f.s.outbox.queue_test(By::Server, &id).await.unwrap();
    f.s.outbox.tick().await.unwrap();
    let got = f.receiver.payloads();
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(body, serde_json::json!({"type": "webhook.test", "integration": "nursecall", "at": T0.0}));
    let details = audit_details(&f).await;
    assert!(details.iter().any(|(_, d)| d == "webhook-test integration=nursecall via=server"), "{details:?}");
}
