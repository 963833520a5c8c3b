//! Reports to hospital systems over real HTTP (issue 15, "status back"): a system sets its
//! webhook (only on a listed host, with the scope `webhook.manage`) and gets a secret once; a
//! receiver on 127.0.0.1 gets every report signed as Standard Webhooks say, one alarm's in
//! order, retried on the test clock after failures, and resent by a server restarted (after
//! `kill -9`) in the middle of the retries; administrators queue tests and read the outbox.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wardline_service::integrations::webhook;
use wardline_store::{IntegrationOutboxStore, NewReport, ReportChannel};
use wardline_types::Timestamp;
use wardline_types::alarm::AlarmId;
use wardline_types::integration::IntegrationId;

use crate::admin::admin;
use crate::harness::{Client, Server, cli};

const A: &str = "/_wardline/admin/v1";
const I: &str = "/_wardline/integration/v1";

/// One delivery as received: its headers (names in lowercase) and body.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) id: String,
    pub(crate) timestamp: u64,
    pub(crate) signature: String,
    pub(crate) body: String,
}

/// A webhook receiver on 127.0.0.1 that answers `500` to the first `failures` deliveries and
/// `204` to the rest, recording each.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    pub(crate) received: Arc<Mutex<Vec<Delivery>>>,
    failures: Arc<Mutex<usize>>,
}

impl Receiver {
    /// Serves on a new port; returns the webhook URL.
    pub(crate) async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let local = listener.local_addr().unwrap();
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hooks/wardline",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let me = me.clone();
                async move {
                    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    me.received.lock().unwrap().push(Delivery {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp").parse().unwrap_or(0),
                        signature: h("webhook-signature"),
                        body,
                    });
                    let mut failures = me.failures.lock().unwrap();
                    if *failures > 0 {
                        *failures -= 1;
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{local}/hooks/wardline")
    }

    /// Waits until `n` deliveries came (at most 20 s).
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        for _ in 0..400 {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver got {:?}, not {n} deliveries", self.received.lock().unwrap());
    }
}

fn system(s: &Server, key: &str) -> Client {
    s.system(key)
}

/// Creates an integration with `scopes` and a key for it; returns the key.
async fn integration(boss: &Client, id: &str, scopes: &[&str]) -> String {
    let (st, made) = boss
        .post(
            &format!("{A}/integrations"),
            json!({"integration_id": id, "name": "Nurse call", "kind": "nurse call", "scopes": scopes}),
        )
        .await;
    assert_eq!(st, 201, "{made}");
    let (st, k) = boss.post(&format!("{A}/integrations/{id}/keys"), json!({})).await;
    assert_eq!(st, 201, "{k}");
    k["key"].as_str().unwrap().to_owned()
}

/// The outbox's rows as (report id, attempts, due, claimed) read from the database directly.
fn outbox_rows(data: &Path) -> Vec<(String, i64, i64, Option<i64>)> {
    let Ok(c) =
        rusqlite::Connection::open_with_flags(data.join("wardline.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return Vec::new();
    };
    let Ok(mut stmt) =
        c.prepare("SELECT id, attempts, due_ts, claimed_ts FROM integration_outbox WHERE outcome IS NULL ORDER BY seq")
    else {
        return Vec::new();
    };
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_alarms_reports_arrive_signed_in_order_retried_on_the_test_clock_and_resent_after_a_crash() {
    let receiver = Receiver::default();
    let url = receiver.serve().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let env = [
        ("WARDLINE_TEST_CLOCK_FILE", clock.to_str().unwrap()),
        ("WARDLINE_INTEGRATIONS__WEBHOOK_HOSTS", "127.0.0.1"),
        ("WARDLINE_INTEGRATIONS__ALLOW_LOOPBACK_HTTP", "true"),
    ];
    let data = dir.path().join("data");
    let mut s = Server::start_in(&data, &env);
    let boss = admin(&s).await;
    let key = integration(&boss, "nursecall", &["alarms.write", "webhook.manage"]).await;
    let nc = system(&s, &key);
    let (st, raised) = nc
        .post(
            &format!("{I}/alarms"),
            json!({"source_id": "bed-12", "kind": "nurse_call", "location": {"ward": "Ward 7"}, "text": "Call"}),
        )
        .await;
    assert_eq!(st, 202, "{raised}");
    let alarm = AlarmId::parse(raised["alarm_id"].as_str().unwrap()).unwrap();
    // Dispatched (to the failsafe: no rule) before the webhook is set, so what dispatch reports
    // goes nowhere: the reports this test follows are the three it queues below.
    let mut dispatched = false;
    for _ in 0..400 {
        let (_, a) = boss.get(&format!("{A}/alarms/{alarm}")).await;
        if a["outcome"] == "notified" {
            dispatched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dispatched, "the alarm was dispatched");
    let (st, set) = nc.put(&format!("{I}/webhook"), json!({"url": url})).await;
    assert_eq!(st, 200, "{set}");
    let secret = set["secret"].as_str().unwrap().to_owned();
    assert!(s.terminate(), "stopped cleanly");

    // Three statuses of the alarm, queued as the alarm-status write queues them (through the
    // store, in one write), while the server is stopped.
    {
        let store = wardline_store_sqlite::SqliteStore::open(
            &data.join("wardline.db"),
            wardline_store_sqlite::Durability::Full,
        )
        .unwrap();
        let now = Timestamp(
            u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis())
                .unwrap(),
        );
        let status = |kind: &str| NewReport {
            integration: IntegrationId::parse("nursecall").unwrap(),
            alarm: Some(alarm.clone()),
            channel: ReportChannel::Webhook,
            payload: json!({"type": "alarm.status", "alarm_id": alarm.as_str(), "status": kind}).to_string(),
            created: now,
        };
        let reports = vec![status("delivered"), status("read"), status("accepted")];
        assert_eq!(store.queue_reports(reports).await.unwrap(), 3);
    }

    // The receiver refuses the first two deliveries: the first report is tried, refused, and
    // due again in 5 s (integrations.first_retry_secs). Then the server dies.
    *receiver.failures.lock().unwrap() = 2;
    let mut s = Server::start_in(&data, &env);
    receiver.wait_for(1).await;
    let mut tries = 0;
    while !outbox_rows(&data).first().is_some_and(|(_, attempts, _, claimed)| *attempts == 1 && claimed.is_none()) {
        tries += 1;
        assert!(tries < 400, "the first attempt was never recorded: {:?}", outbox_rows(&data));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.kill9();
    assert_eq!(receiver.received.lock().unwrap().len(), 1, "nothing else meanwhile: the others wait their turn");

    // Restarted: the retry is due 5 s on (the test clock), refused again; 10 s later it goes,
    // and the alarm's other reports follow in order.
    let s = Server::start_in(&data, &env);
    // The administrator's session outlives the restart; the server is at a new address.
    let mut boss = boss;
    boss.base.clone_from(&s.base);
    std::fs::write(&clock, "6000").unwrap();
    receiver.wait_for(2).await;
    std::fs::write(&clock, "17000").unwrap();
    let got = receiver.wait_for(5).await;
    let statuses: Vec<String> = got
        .iter()
        .map(|d| serde_json::from_str::<Value>(&d.body).unwrap()["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["delivered", "delivered", "delivered", "read", "accepted"]);
    let first_id = &got[0].id;
    assert!(first_id.starts_with("msg_"), "{first_id}");
    assert!(got[..3].iter().all(|d| &d.id == first_id), "one id for every attempt of a report");
    let mut ids: Vec<&String> = got[2..].iter().map(|d| &d.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each report its own id");
    for d in &got {
        let expected = webhook::signature(&secret, &d.id, d.timestamp, d.body.as_bytes()).unwrap();
        assert_eq!(d.signature, expected, "signed with the secret given: {d:?}");
    }
    assert!(got[1].timestamp >= got[0].timestamp + 5, "signed at each attempt's time: {got:?}");

    // The administrators' view: every report sent, the first after three attempts.
    let mut listed = Value::Null;
    for _ in 0..200 {
        let (st, body) = boss.get(&format!("{A}/integration_outbox?integration=nursecall")).await;
        assert_eq!(st, 200, "{body}");
        listed = body;
        if listed["reports"].as_array().unwrap().iter().all(|r| r["outcome"] == "sent") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reports = listed["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 3, "{listed}");
    assert!(reports.iter().all(|r| r["outcome"] == "sent" && r["alarm_id"] == alarm.as_str()), "{listed}");
    assert_eq!(reports[2]["report_id"], first_id.as_str(), "newest first");
    assert_eq!(reports[2]["attempts"], 3);
    assert_eq!(reports[0]["payload"]["status"], "accepted");
    assert!(!listed.to_string().contains(&secret), "never the secret");

    // An administrator's test goes out at once, signed the same way.
    let (st, body) = boss.post(&format!("{A}/integrations/nursecall/test_webhook"), json!({})).await;
    assert_eq!(st, 202, "{body}");
    let got = receiver.wait_for(6).await;
    let test: Value = serde_json::from_str(&got[5].body).unwrap();
    assert_eq!((test["type"].as_str(), test["integration"].as_str()), (Some("webhook.test"), Some("nursecall")));
    assert!(test["at"].is_u64(), "{test}");
    assert_eq!(
        got[5].signature,
        webhook::signature(&secret, &got[5].id, got[5].timestamp, got[5].body.as_bytes()).unwrap()
    );
}

#[tokio::test]
async fn a_webhook_needs_its_scope_and_a_listed_host_and_its_secret_is_shown_once() {
    let s = Server::start_with_env(&[("WARDLINE_INTEGRATIONS__WEBHOOK_HOSTS", "[\"hooks.stmarys.example\"]")]);
    let boss = admin(&s).await;
    let alarms_only = system(&s, &integration(&boss, "fire", &["alarms.write"]).await);
    let nc = system(&s, &integration(&boss, "nursecall", &["webhook.manage"]).await);
    let good = "https://hooks.stmarys.example/in/wardline?tenant=7";

    // Without the scope: 403 for all three.
    let (st, e) = alarms_only.put(&format!("{I}/webhook"), json!({"url": good})).await;
    assert_eq!((st, e["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{e}");
    assert!(e["error"].as_str().unwrap().contains("webhook.manage"), "{e}");
    assert_eq!(alarms_only.get(&format!("{I}/webhook")).await.0, 403);
    assert_eq!(alarms_only.delete_path(&format!("{I}/webhook")).await.0, 403);

    // Only https:// on a listed host; nothing is set by a refusal.
    for bad in ["http://127.0.0.1:9/x", "https://10.0.0.5/in", "https://hooks.stmarys.example.evil.example/in"] {
        let (st, e) = nc.put(&format!("{I}/webhook"), json!({"url": bad})).await;
        assert_eq!((st, e["errcode"].as_str()), (400, Some("ORG.WARDLINE.HOST_NOT_ALLOWED")), "{bad}: {e}");
    }
    let (st, e) = nc.put(&format!("{I}/webhook"), json!({"url": "not a url"})).await;
    assert_eq!((st, e["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{e}");
    let (st, e) = nc.put(&format!("{I}/webhook"), json!({"address": good})).await;
    assert_eq!((st, e["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{e}");
    let (st, got) = nc.get(&format!("{I}/webhook")).await;
    assert_eq!((st, &got), (200, &json!({"url": null})));
    let (st, e) = boss.post(&format!("{A}/integrations/nursecall/test_webhook"), json!({})).await;
    assert_eq!((st, e["errcode"].as_str()), (409, Some("ORG.WARDLINE.INTEGRATION_CONFLICT")), "no webhook: {e}");

    // Set: the secret in this answer only; a new one each time.
    let (st, set) = nc.put(&format!("{I}/webhook"), json!({"url": good})).await;
    assert_eq!(st, 200, "{set}");
    assert_eq!(set["url"], good);
    let secret = set["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    let (_, again) = nc.put(&format!("{I}/webhook"), json!({"url": good})).await;
    let secret2 = again["secret"].as_str().unwrap().to_owned();
    assert_ne!(secret, secret2, "a new secret each time");
    let (st, got) = nc.get(&format!("{I}/webhook")).await;
    assert_eq!((st, &got), (200, &json!({"url": good})), "never the secret");
    let (_, shown) = boss.get(&format!("{A}/integrations/nursecall")).await;
    assert!(!shown.to_string().contains(&secret2), "{shown}");

    // A test is queued (it will not reach this made-up host: it waits, pending, to be retried).
    let (st, body) = boss.post(&format!("{A}/integrations/nursecall/test_webhook"), json!({})).await;
    assert_eq!(st, 202, "{body}");
    let (st, listed) = boss.get(&format!("{A}/integration_outbox?outcome=pending&limit=10")).await;
    assert_eq!(st, 200, "{listed}");
    let reports = listed["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1, "{listed}");
    assert_eq!(
        (reports[0]["integration_id"].as_str(), reports[0]["outcome"].as_str()),
        (Some("nursecall"), Some("pending"))
    );
    assert_eq!(reports[0]["payload"]["type"], "webhook.test");
    let (st, e) = boss.get(&format!("{A}/integration_outbox?outcome=lost")).await;
    assert_eq!((st, e["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{e}");
    let (st, e) = boss.get(&format!("{A}/integration_outbox?integration=Not%20An%20Id")).await;
    assert_eq!(st, 400, "{e}");
    let (st, _) = nc.get(&format!("{A}/integration_outbox")).await;
    assert_eq!(st, 401, "a key is no administrator");

    // Removed: once; then nothing is set.
    let (st, removed) = nc.delete_path(&format!("{I}/webhook")).await;
    assert_eq!((st, removed["removed"].as_bool()), (200, Some(true)), "{removed}");
    let (_, removed) = nc.delete_path(&format!("{I}/webhook")).await;
    assert_eq!(removed["removed"].as_bool(), Some(false));
    assert_eq!(nc.get(&format!("{I}/webhook")).await.1, json!({"url": null}));

    // The trail: each change with the host, the test with who asked; never a secret or the URL.
    let trail = trail_with(&s.data_dir, "integration.report", 4);
    let all: Vec<&str> =
        trail.iter().filter(|r| r["action"] == "integration.report").filter_map(|r| r["detail"].as_str()).collect();
    // The test report, queued while the webhook was set, may already have failed for good (its
    // host does not answer, and then the webhook was removed): recorded, with that reason.
    let (failed, details): (Vec<&str>, Vec<&str>) = all.into_iter().partition(|d| d.starts_with("report-failed "));
    assert!(failed.iter().all(|d| d.contains("alarm=-") && d.contains("reason=")), "{failed:?}");
    assert_eq!(
        details,
        [
            "webhook-set integration=nursecall host=hooks.stmarys.example replaced=false",
            "webhook-set integration=nursecall host=hooks.stmarys.example replaced=true",
            "webhook-test integration=nursecall",
            "webhook-remove integration=nursecall",
        ]
    );
    let everything = trail.iter().map(Value::to_string).collect::<String>();
    assert!(!everything.contains(&secret) && !everything.contains(&secret2) && !everything.contains("tenant=7"));
}

/// The audit trail, once it holds at least `n` records of `action`.
fn trail_with(data_dir: &Path, action: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, out, err) = cli(data_dir, &["audit", "export"], None);
        assert!(ok, "{err}");
        let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        if records.iter().filter(|r| r["action"] == action).count() >= n || std::time::Instant::now() > deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
