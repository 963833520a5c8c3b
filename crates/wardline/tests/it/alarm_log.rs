//! The administrators' live alarm log and integration view, as the web client's screens read
//! them: the newest page first and the pages before it (`dir=b`, `before`), one kind only, bad
//! queries refused by name, nothing of it for anyone but an administrator; and where an
//! integration's webhook reports go shown by origin only (never the path or query, which may
//! carry the receiver's token).

use serde_json::{Value, json};

use crate::admin::admin;
use crate::harness::{Client, Server};

const A: &str = "/_wardline/admin/v1";
const I: &str = "/_wardline/integration/v1";

fn ids(log: &Value) -> Vec<String> {
    log["alarms"].as_array().unwrap().iter().map(|a| a["source_id"].as_str().unwrap().to_owned()).collect()
}

async fn log(boss: &Client, query: &str) -> Value {
    let (st, b) = boss.get(&format!("{A}/alarms?{query}")).await;
    assert_eq!(st, 200, "{query}: {b}");
    b
}

#[tokio::test]
async fn the_live_log_pages_back_from_the_newest_filters_by_kind_and_is_for_administrators_only() {
    let s = Server::start_with_env(&[
        ("WARDLINE_INTEGRATIONS__WEBHOOK_HOSTS", "127.0.0.1"),
        ("WARDLINE_INTEGRATIONS__ALLOW_LOOPBACK_HTTP", "true"),
    ]);
    let boss = admin(&s).await;
    let nurse = s.user("nora").await;
    let (st, made) = boss
        .post(
            &format!("{A}/integrations"),
            json!({"integration_id": "ward7", "name": "Ward 7 nurse call", "kind": "nurse call",
                   "scopes": ["alarms.write", "webhook.manage"]}),
        )
        .await;
    assert_eq!(st, 201, "{made}");
    let (st, k) = boss.post(&format!("{A}/integrations/ward7/keys"), json!({})).await;
    assert_eq!(st, 201, "{k}");
    let sys = s.system(k["key"].as_str().unwrap());
    for (source, kind) in [("call-1", "nurse_call"), ("fire-1", "fire"), ("call-2", "nurse_call")] {
        let (st, b) = sys
            .post(
                &format!("{I}/alarms"),
                json!({"source_id": source, "kind": kind, "location": {"ward": "Ward 7"}, "text": "Test"}),
            )
            .await;
        assert_eq!(st, 202, "{b}");
    }

    // Oldest first by default; the newest page with dir=b, and the page before it.
    assert_eq!(ids(&log(&boss, "").await), ["call-1", "fire-1", "call-2"]);
    let newest = log(&boss, "dir=b&limit=2").await;
    assert_eq!(ids(&newest), ["call-2", "fire-1"]);
    let oldest_shown = newest["alarms"][1]["seq"].as_u64().unwrap();
    assert_eq!(ids(&log(&boss, &format!("dir=b&before={oldest_shown}")).await), ["call-1"]);
    let first = log(&boss, "limit=1").await["alarms"][0]["seq"].as_u64().unwrap();
    assert_eq!(
        ids(&log(&boss, &format!("after={first}&dir=b")).await),
        ["call-2", "fire-1"],
        "new since, newest first"
    );
    // One kind.
    assert_eq!(ids(&log(&boss, "kind=fire").await), ["fire-1"]);
    assert_eq!(ids(&log(&boss, "kind=nurse_call&dir=b").await), ["call-2", "call-1"]);
    // Bad queries are refused, naming what is wrong.
    for (query, words) in [("dir=up", "dir is"), ("kind=meteor", "kind is"), ("before=x", "before")] {
        let (st, b) = boss.get(&format!("{A}/alarms?{query}")).await;
        assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{query}: {b}");
        assert!(b["error"].as_str().unwrap().contains(words), "{query}: {b}");
    }
    // Nobody else reads the log, an alarm, the rules, the integrations or the outbox.
    for path in ["alarms?dir=b", "alarm_rules", "integrations", "integrations/ward7", "integration_outbox"] {
        let (st, b) = nurse.get(&format!("{A}/{path}")).await;
        assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{path}: {b}");
    }
    let id = newest["alarms"][0]["alarm_id"].as_str().unwrap();
    let (st, b) = nurse.get(&format!("{A}/alarms/{id}")).await;
    assert_eq!(st, 403, "{b}");

    // The webhook: none yet; once the system sets one, its origin only.
    let (st, one) = boss.get(&format!("{A}/integrations/ward7")).await;
    assert_eq!(st, 200, "{one}");
    assert_eq!(one["webhook"], Value::Null, "{one}");
    let (st, set) = sys.put(&format!("{I}/webhook"), json!({"url": "http://127.0.0.1:9/hooks/in?token=sekrit"})).await;
    assert_eq!(st, 200, "{set}");
    let (st, one) = boss.get(&format!("{A}/integrations/ward7")).await;
    assert_eq!(st, 200, "{one}");
    assert_eq!(one["webhook"], json!({"origin": "http://127.0.0.1:9"}), "{one}");
    let text = one.to_string();
    assert!(!text.contains("sekrit") && !text.contains("/hooks/in") && !text.contains("whsec_"), "{text}");
}
