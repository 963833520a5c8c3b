//! Integration accounts and the HTTP alarm API: keys shown once and stored hashed, revocation,
//! scopes, `202` and duplicates, clear refusals, every use audited, and keys and staff sessions
//! each kept to their own API.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::admin::admin;
use crate::harness::{Client, Server, cli};

const A: &str = "/_wardline/admin/v1";
const I: &str = "/_wardline/integration/v1";

fn system(s: &Server, key: &str) -> Client {
    s.system(key)
}

fn arrest(source_id: &str) -> Value {
    json!({
        "source_id": source_id,
        "kind": "nurse_call",
        "priority": "high",
        "location": {"site": "Main", "ward": "Ward 7", "room": "3", "bed": "12"},
        "patient": {"id": "H123456", "system": "mrn"},
        "text": "Patient call: SECRET-ALARM-TEXT",
    })
}

/// The audit trail, once it holds at least `n` records of `action` (the server stores records
/// in the background).
fn trail_with(data_dir: &Path, action: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, out, err) = cli(data_dir, &["audit", "export"], None);
        assert!(ok, "{err}");
        let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let found = records.iter().filter(|r| r["action"] == action).count();
        if found >= n || Instant::now() > deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn details<'a>(records: &'a [Value], action: &str) -> Vec<&'a str> {
    records.iter().filter(|r| r["action"] == action).filter_map(|r| r["detail"].as_str()).collect()
}

#[tokio::test]
async fn keys_are_shown_once_stored_hashed_scoped_revocable_and_every_use_is_audited() {
    let s = Server::start();
    let boss = admin(&s).await;
    let (st, made) = boss
        .post(
            &format!("{A}/integrations"),
            json!({"integration_id": "nursecall", "name": "Nurse call", "kind": "nurse call",
                   "scopes": ["alarms.write"], "allowed_kinds": ["nurse_call", "staff_assist"]}),
        )
        .await;
    assert_eq!(st, 201, "{made}");
    assert_eq!(made["user_id"], "@integration.nursecall:localhost");
    assert_eq!((made["active"].as_bool(), made["keys"].as_array().map(Vec::len)), (Some(true), Some(0)), "{made}");
    let (st, again) = boss
        .post(
            &format!("{A}/integrations"),
            json!({"integration_id": "nursecall", "name": "x", "kind": "x", "scopes": ["alarms.write"]}),
        )
        .await;
    assert_eq!((st, again["errcode"].as_str()), (409, Some("ORG.WARDLINE.INTEGRATION_CONFLICT")), "{again}");
    let (st, bad) = boss
        .post(
            &format!("{A}/integrations"),
            json!({"integration_id": "fire", "name": "x", "kind": "x", "scopes": ["everything"]}),
        )
        .await;
    assert_eq!((st, bad["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{bad}");

    // The key: in the answer that makes it, and nowhere after.
    let (st, k) = boss.post(&format!("{A}/integrations/nursecall/keys"), json!({"label": "primary"})).await;
    assert_eq!(st, 201, "{k}");
    let key = k["key"].as_str().unwrap().to_owned();
    let key_id = k["key_id"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("wlk_{key_id}_")), "{key}");
    let (st, shown) = boss.get(&format!("{A}/integrations/nursecall")).await;
    assert_eq!(st, 200);
    assert_eq!(shown["keys"][0]["key_id"], key_id.as_str());
    assert_eq!(shown["keys"][0]["label"], "primary");
    // After `wlk_`, the 12-character key id and `_` (the secret may itself hold `_`).
    let secret = key[17..].to_owned();
    assert_eq!(secret.len(), 43);
    assert!(!shown.to_string().contains(&secret), "never shown again: {shown}");
    let (_, listed) = boss.get(&format!("{A}/integrations")).await;
    assert!(!listed.to_string().contains(&secret));
    // Stored as the SHA-256 of the secret, and the secret is nowhere in the database.
    let db = rusqlite::Connection::open(s.data_dir.join("wardline.db")).unwrap();
    let stored: Vec<u8> =
        db.query_row("SELECT secret_sha256 FROM integration_keys WHERE key_id = ?1", [&key_id], |r| r.get(0)).unwrap();
    assert_eq!(stored, wardline_service::integrations::keys::secret_hash(&secret));
    drop(db);
    for entry in std::fs::read_dir(&s.data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is in {path:?}");
        }
    }

    let nc = system(&s, &key);
    let (st, who) = nc.get(&format!("{I}/whoami")).await;
    assert_eq!(st, 200, "{who}");
    assert_eq!((who["integration_id"].as_str(), who["key_id"].as_str()), (Some("nursecall"), Some(key_id.as_str())));

    // Raised: 202 with the alarm's id; the same source id again is the same alarm.
    let (st, first) = nc.post(&format!("{I}/alarms"), arrest("bed-12-call-1")).await;
    assert_eq!(st, 202, "{first}");
    let alarm_id = first["alarm_id"].as_str().unwrap().to_owned();
    assert!(alarm_id.starts_with("al_"), "{first}");
    assert_eq!((first["state"].as_str(), first["duplicate"].as_bool()), (Some("active"), Some(false)));
    let (st, second) = nc.post(&format!("{I}/alarms"), arrest("bed-12-call-1")).await;
    assert_eq!(st, 202, "{second}");
    assert_eq!((second["alarm_id"].as_str(), second["duplicate"].as_bool()), (Some(alarm_id.as_str()), Some(true)));
    // The same source id for a different alarm: refused (409), never answered as the first.
    let mut changed = arrest("bed-12-call-1");
    changed["location"]["bed"] = json!("14");
    let (st, reused) = nc.post(&format!("{I}/alarms"), changed).await;
    assert_eq!((st, reused["errcode"].as_str()), (409, Some("ORG.WARDLINE.SOURCE_ID_REUSED")), "{reused}");
    let (st, other) = nc.post(&format!("{I}/alarms"), arrest("bed-14-call-1")).await;
    assert_eq!(st, 202);
    assert_ne!(other["alarm_id"], first["alarm_id"]);
    // Stored once: the database has two alarms (pending, or already dispatched).
    let db = rusqlite::Connection::open(s.data_dir.join("wardline.db")).unwrap();
    let rows: Vec<(String, String)> = db
        .prepare("SELECT id, outcome FROM alarms ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, alarm_id, "{rows:?}");
    assert!(matches!(rows[0].1.as_str(), "pending" | "notified"), "{rows:?}");
    drop(db);

    // Bad input: a clear error code naming what is wrong; nothing stored.
    let cases = [
        (
            json!({"source_id": "x", "kind": "toaster", "location": {"ward": "7"}, "text": "t"}),
            400,
            "M_BAD_JSON",
            "toaster",
        ),
        (
            json!({"source_id": "x", "kind": "nurse_call", "location": {"bed": "1"}, "text": "t"}),
            400,
            "M_INVALID_PARAM",
            "location.ward",
        ),
        (
            json!({"source_id": "x", "kind": "nurse_call", "location": {"ward": "7"}, "text": " "}),
            400,
            "M_INVALID_PARAM",
            "text",
        ),
        (
            json!({"source_id": "", "kind": "nurse_call", "location": {"ward": "7"}, "text": "t"}),
            400,
            "M_INVALID_PARAM",
            "source_id",
        ),
        (json!({"kind": "nurse_call", "location": {"ward": "7"}, "text": "t"}), 400, "M_BAD_JSON", "source_id"),
        (
            json!({"source_id": "x", "kind": "nurse_call", "location": {"ward": "7"}, "text": "t", "occurred_at": "yesterday"}),
            400,
            "M_INVALID_PARAM",
            "occurred_at",
        ),
        (json!({"source_id": "x", "kind": "fire", "location": {"ward": "7"}, "text": "t"}), 403, "M_FORBIDDEN", "fire"),
    ];
    for (body, status, errcode, names) in cases {
        let (st, e) = nc.post(&format!("{I}/alarms"), body.clone()).await;
        assert_eq!((st, e["errcode"].as_str()), (status, Some(errcode)), "{body}: {e}");
        assert!(e["error"].as_str().unwrap().contains(names), "{body}: {e}");
    }
    // A scope it was not given: reading alarms back, by id or by its own source id.
    let (st, e) = nc.get(&format!("{I}/alarms/{alarm_id}")).await;
    assert_eq!((st, e["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{e}");
    let (st, e) = nc.get(&format!("{I}/alarms?source_id=bed-12-call-1")).await;
    assert_eq!((st, e["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{e}");
    assert!(e["error"].as_str().unwrap().contains("alarms.read"), "{e}");

    // Keys and sessions each stay in their own API.
    let (st, e) = boss.post(&format!("{I}/alarms"), arrest("from-staff")).await;
    assert_eq!((st, e["errcode"].as_str()), (401, Some("M_UNKNOWN_TOKEN")), "a staff token is no key: {e}");
    let (st, e) = boss.get(&format!("{I}/whoami")).await;
    assert_eq!(st, 401, "{e}");
    let (st, e) = nc.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!((st, e["errcode"].as_str()), (401, Some("M_UNKNOWN_TOKEN")), "a key is no session: {e}");
    let (st, _) = nc.post("/_matrix/client/v3/createRoom", json!({})).await;
    assert_eq!(st, 401);
    let (st, _) = nc.get(&format!("{A}/integrations")).await;
    assert_eq!(st, 401, "nor an administrator");
    let (st, e) = s.client().post(&format!("{I}/alarms"), arrest("no-key")).await;
    assert_eq!((st, e["errcode"].as_str()), (401, Some("M_MISSING_TOKEN")), "{e}");
    // A key sent as a query parameter is not taken (it would be in proxies' logs).
    let (st, _) = s.client().get(&format!("{I}/whoami?access_token={key}")).await;
    assert_eq!(st, 401);

    // Revoked key: 401; another key of the same system still works; the system revoked: 403.
    let (_, k2) = boss.post(&format!("{A}/integrations/nursecall/keys"), json!({})).await;
    let nc2 = system(&s, k2["key"].as_str().unwrap());
    let (st, _) = boss.delete_path(&format!("{A}/integrations/nursecall/keys/{key_id}")).await;
    assert_eq!(st, 200);
    let (st, e) = nc.post(&format!("{I}/alarms"), arrest("after-revoke")).await;
    assert_eq!((st, e["errcode"].as_str()), (401, Some("M_UNKNOWN_TOKEN")), "{e}");
    let (st, _) = nc2.get(&format!("{I}/whoami")).await;
    assert_eq!(st, 200);
    let (st, gone) = boss.delete_path(&format!("{A}/integrations/nursecall")).await;
    assert_eq!((st, gone["active"].as_bool()), (200, Some(false)), "{gone}");
    assert!(gone["keys"].as_array().unwrap().iter().all(|k| k["revoked_ts"].is_u64()), "{gone}");
    let (st, e) = nc2.post(&format!("{I}/alarms"), arrest("after-revoke")).await;
    assert_eq!((st, e["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{e}");
    let (st, e) = boss.post(&format!("{A}/integrations/nursecall/keys"), json!({})).await;
    assert_eq!((st, e["errcode"].as_str()), (409, Some("ORG.WARDLINE.INTEGRATION_CONFLICT")), "{e}");

    // Every use in the trail (13 let through, 4 refused: counted below).
    let trail = trail_with(&s.data_dir, "integration.use", 17);
    let uses = details(&trail, "integration.use");
    let ok_uses = trail.iter().filter(|r| r["action"] == "integration.use" && r["outcome"] == "success").count();
    let denied = trail.iter().filter(|r| r["action"] == "integration.use" && r["outcome"] == "denied").count();
    // Let through: whoami, 4 alarms (one a reused source id), 7 bad bodies (refused after the
    // key was accepted), whoami with the second key. Refused: the two unscoped reads, the
    // revoked key, the revoked system.
    assert_eq!((ok_uses, denied), (13, 4), "{uses:#?}");
    // A refusal by the endpoint after the key was accepted (a kind it may not raise) is in the
    // trail as a refusal, by the system, not only as a use that was let through.
    let refused_kind = trail.iter().find(|r| {
        r["action"] == "request.refused"
            && r["detail"].as_str().is_some_and(|d| d.contains("endpoint=integration.alarms.create status=403"))
    });
    let refused_kind = refused_kind.unwrap_or_else(|| panic!("no refusal recorded: {trail:#?}"));
    assert_eq!(refused_kind["actor"], "@integration.nursecall:localhost", "{refused_kind}");
    assert_eq!(refused_kind["outcome"], "denied");
    assert!(uses.contains(&"endpoint=integration.alarms.create scope=alarms.write"), "{uses:#?}");
    assert!(uses.contains(&"endpoint=integration.whoami scope=-"), "{uses:#?}");
    assert!(uses.iter().any(|d| d.contains("reason=the key has been revoked")), "{uses:#?}");
    assert!(uses.iter().any(|d| d.contains("reason=the integration nursecall has been revoked")), "{uses:#?}");
    let used = trail.iter().find(|r| r["action"] == "integration.use").unwrap();
    assert_eq!(used["actor"], "@integration.nursecall:localhost");
    assert_eq!(used["device"], key_id.as_str());
    // What was received (dispatch's own records, "dispatched …", follow).
    let received: Vec<&str> = details(&trail, "alarm").into_iter().filter(|d| !d.starts_with("dispatched ")).collect();
    assert_eq!(
        received,
        [
            format!("received alarm={alarm_id} kind=nurse_call priority=high protocol=http duplicate=false").as_str(),
            format!("received alarm={alarm_id} kind=nurse_call priority=high protocol=http duplicate=true").as_str(),
            format!(
                "refused: source_id already names alarm={alarm_id} (kind=nurse_call priority=high), \
                 sent as kind=nurse_call priority=high"
            )
            .as_str(),
            format!(
                "received alarm={} kind=nurse_call priority=high protocol=http duplicate=false",
                other["alarm_id"].as_str().unwrap()
            )
            .as_str(),
        ]
    );
    let admin_details = details(&trail, "admin");
    for what in [
        "integration-create integration=nursecall",
        "integration-key-add integration=nursecall",
        "integration-key-revoke",
        "integration-revoke integration=nursecall",
    ] {
        assert!(admin_details.iter().any(|d| d.contains(what)), "{what}: {admin_details:#?}");
    }
    let everything = trail.iter().map(Value::to_string).collect::<String>();
    assert!(!everything.contains(&secret), "no key in the trail");
    assert!(!everything.contains("SECRET-ALARM-TEXT") && !everything.contains("H123456"), "no alarm content");
}

#[tokio::test]
async fn alarms_are_read_back_only_by_their_own_system_and_the_command_line_does_the_same() {
    let s = Server::start();
    // From the command line, as an operator would.
    let (ok, out, err) = cli(
        &s.data_dir,
        &[
            "integration",
            "add",
            "monitors",
            "--name",
            "Monitoring gateway",
            "--kind",
            "monitoring",
            "--scope",
            "alarms.write",
            "--scope",
            "alarms.read",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("@integration.monitors:localhost"), "{out}");
    let (ok, out, err) = cli(&s.data_dir, &["integration", "key", "add", "monitors", "--label", "gateway"], None);
    assert!(ok, "{out}{err}");
    let key = out.lines().find_map(|l| l.strip_prefix("key:")).map(str::trim).unwrap().to_owned();
    let (ok, out, err) = cli(
        &s.data_dir,
        &["integration", "add", "fire", "--name", "Fire panel", "--kind", "fire panel", "--scope", "alarms.read"],
        None,
    );
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(&s.data_dir, &["integration", "key", "add", "fire"], None);
    assert!(ok, "{out}{err}");
    let fire_key = out.lines().find_map(|l| l.strip_prefix("key:")).map(str::trim).unwrap().to_owned();
    let (ok, out, _) = cli(&s.data_dir, &["integration", "list"], None);
    assert!(
        ok && out.contains("monitors\tMonitoring gateway\tmonitoring\talarms.write,alarms.read\tany\tyes"),
        "{out}"
    );
    let (ok, _, err) =
        cli(&s.data_dir, &["integration", "add", "Bad Id", "--name", "x", "--kind", "x", "--scope", "wctp"], None);
    assert!(!ok && err.contains("integration id"), "{err}");

    let mon = system(&s, &key);
    let body = json!({"source_id": "spo2-bed-3", "kind": "monitor", "priority": "medium",
                      "location": {"ward": "ICU", "bed": "3"}, "text": "SpO2 low", "occurred_at": "2026-12-01T10:00:00Z"});
    let (st, raised) = mon.post(&format!("{I}/alarms"), body).await;
    assert_eq!(st, 202, "{raised}");
    let id = raised["alarm_id"].as_str().unwrap();
    let (st, got) = mon.get(&format!("{I}/alarms/{id}")).await;
    assert_eq!(st, 200, "{got}");
    assert_eq!((got["kind"].as_str(), got["priority"].as_str()), (Some("monitor"), Some("medium")), "{got}");
    assert!(matches!(got["outcome"].as_str(), Some("pending" | "notified")), "stored, then dispatched: {got}");
    assert_eq!(got["location"], json!({"ward": "ICU", "bed": "3"}));
    assert_eq!(got["occurred_ts"].as_u64(), Some(1_796_119_200_000));
    assert_eq!(got["timeline"][0]["kind"], "received");
    assert_eq!(got["timeline"][0]["detail"], json!({"protocol": "http"}));
    let (st, by_source) = mon.get(&format!("{I}/alarms?source_id=spo2-bed-3")).await;
    assert_eq!((st, by_source["alarm_id"].as_str()), (200, Some(id)), "{by_source}");
    let (st, e) = mon.get(&format!("{I}/alarms/al_aaaaaaaaaaaaaaaaaaaa")).await;
    assert_eq!((st, e["errcode"].as_str()), (404, Some("M_NOT_FOUND")), "{e}");
    let (st, e) = mon.get(&format!("{I}/alarms/not-an-id")).await;
    assert_eq!((st, e["errcode"].as_str()), (404, Some("M_NOT_FOUND")), "{e}");
    let (st, e) = mon.get(&format!("{I}/alarms/%FF")).await;
    assert_eq!((st, e["errcode"].as_str()), (404, Some("M_NOT_FOUND")), "a path that does not decode: {e}");
    // Another system cannot read it, nor raise alarms without the scope.
    let fire = system(&s, &fire_key);
    let (st, e) = fire.get(&format!("{I}/alarms/{id}")).await;
    assert_eq!((st, e["errcode"].as_str()), (404, Some("M_NOT_FOUND")), "{e}");
    let (st, e) = fire.get(&format!("{I}/alarms?source_id=spo2-bed-3")).await;
    assert_eq!((st, e["errcode"].as_str()), (404, Some("M_NOT_FOUND")), "{e}");
    let (st, e) = fire
        .post(
            &format!("{I}/alarms"),
            json!({"source_id": "f1", "kind": "fire", "location": {"ward": "A"}, "text": "Fire"}),
        )
        .await;
    assert_eq!((st, e["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{e}");

    // Revoked from the command line while the server runs: refused at once.
    let (ok, _, err) = cli(&s.data_dir, &["integration", "revoke", "monitors"], None);
    assert!(ok, "{err}");
    let (st, _) = mon.get(&format!("{I}/whoami")).await;
    assert_eq!(st, 403);
    let trail = trail_with(&s.data_dir, "admin", 5);
    // The fire panel's probes of the monitors' alarm are in the trail as refusals, by the fire panel.
    let probes = trail
        .iter()
        .filter(|r| {
            r["action"] == "request.refused"
                && r["actor"] == "@integration.fire:localhost"
                && r["detail"].as_str().is_some_and(|d| d.contains("status=404"))
        })
        .count();
    assert_eq!(probes, 2, "{trail:#?}");
    let by_cli: Vec<&str> = details(&trail, "admin").into_iter().filter(|d| d.contains("via=cli")).collect();
    assert!(by_cli.iter().any(|d| d.starts_with("integration-create integration=monitors")), "{by_cli:#?}");
    assert!(by_cli.iter().any(|d| d.starts_with("integration-revoke integration=monitors")), "{by_cli:#?}");
}

#[test]
fn the_integration_api_takes_keys_only_and_each_endpoint_names_its_scope() {
    use wardline_api::ruma_wrapper::Auth;
    use wardline_types::integration::IntegrationScope;
    let table = wardline_api::route_table();
    let mut scopes: Vec<(&str, Option<IntegrationScope>)> = Vec::new();
    for r in &table {
        assert_eq!(r.path.starts_with(I), r.endpoint.auth == Auth::Integration, "{} {}", r.method, r.path);
        if r.endpoint.auth == Auth::Integration {
            scopes.push((r.endpoint.name, r.endpoint.scope));
        } else {
            assert_eq!(r.endpoint.scope, None, "{}", r.path);
        }
    }
    scopes.sort();
    assert_eq!(
        scopes,
        [
            ("integration.alarms.by_source", Some(IntegrationScope::AlarmsRead)),
            ("integration.alarms.cancel", Some(IntegrationScope::AlarmsWrite)),
            ("integration.alarms.create", Some(IntegrationScope::AlarmsWrite)),
            ("integration.alarms.get", Some(IntegrationScope::AlarmsRead)),
            ("integration.alarms.reset", Some(IntegrationScope::AlarmsWrite)),
            ("integration.alarms.update", Some(IntegrationScope::AlarmsWrite)),
            ("integration.wctp", Some(IntegrationScope::Wctp)),
            ("integration.webhook.get", Some(IntegrationScope::WebhookManage)),
            ("integration.webhook.remove", Some(IntegrationScope::WebhookManage)),
            ("integration.webhook.set", Some(IntegrationScope::WebhookManage)),
            ("integration.whoami", None),
        ]
    );
}
