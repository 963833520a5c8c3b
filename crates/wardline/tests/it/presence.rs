//! Presence through the real server: online while a client syncs, `set_presence=offline`
//! honoured, and expiry (short thresholds, set in the configuration) reaching a colleague's
//! `/sync`; a chosen status kept through the syncing loop.

use serde_json::{Value, json};

use crate::harness::{Client, Server, enc, long_poll_around};

fn next(sync: &Value) -> String {
    sync["next_batch"].as_str().unwrap().to_owned()
}

/// The presence events about `user` in a sync response.
fn presence_of(sync: &Value, user: &str) -> Vec<Value> {
    sync["presence"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["sender"] == user)
        .map(|e| e["content"].clone())
        .collect()
}

/// `c` syncs (each time a long-poll, ended by the server's `sync.max_timeout_ms`) until a
/// presence event about `user` says `state`; returns it and the next token.
async fn until_presence(c: &Client, since: String, user: &str, state: &str) -> (Value, String) {
    let mut since = since;
    for _ in 0..40 {
        let sync = c.sync(Some(&since), 30_000, None).await;
        since = next(&sync);
        if let Some(p) = presence_of(&sync, user).into_iter().find(|p| p["presence"] == state) {
            return (p, since);
        }
    }
    panic!("{user} never became {state}");
}

#[tokio::test]
async fn colleagues_see_online_while_syncing_then_away_then_offline() {
    // Idle after 3 s, offline after 6 s without a sync; long-polls end after at most 4 s.
    let (s, log) = Server::start_with_log(&[
        ("WARDLINE_LOG", "warn,wardline_service::sync=debug"),
        ("WARDLINE_PRESENCE__IDLE_AFTER_SECS", "3"),
        ("WARDLINE_PRESENCE__OFFLINE_AFTER_SECS", "6"),
        ("WARDLINE_SYNC__MAX_TIMEOUT_MS", "4000"),
    ]);
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let room = ada.create_room(json!({"invite": [ben.user_id]})).await;
    ben.join(&room).await;
    let status = format!("/_matrix/client/v3/presence/{}/status", enc(&ada.user_id));
    let since = next(&ben.sync(None, 0, None).await);

    // A sync that says offline does not make Ada online.
    let (st, _) = ada.get("/_matrix/client/v3/sync?timeout=0&set_presence=offline").await;
    assert_eq!(st, 200);
    let (_, p) = ben.get(&status).await;
    assert_eq!(p["presence"], "offline", "{p}");
    let quiet = ben.sync(Some(&since), 0, None).await;
    assert!(presence_of(&quiet, &ada.user_id).is_empty(), "{quiet}");
    let since = next(&quiet);

    // Ada's client syncs: Ben's waiting long-poll hears she is online.
    let woken = long_poll_around(&log, &ben, &since, || async {
        ada.sync(None, 0, None).await;
    })
    .await;
    let online = presence_of(&woken, &ada.user_id);
    assert_eq!(online.len(), 1, "{woken}");
    assert_eq!((&online[0]["presence"], &online[0]["currently_active"]), (&json!("online"), &json!(true)));
    let (_, p) = ben.get(&status).await;
    assert_eq!(p["presence"], "online");

    // She does nothing and her client stops: away, then offline, each told to Ben's /sync.
    let (away, since) = until_presence(&ben, next(&woken), &ada.user_id, "unavailable").await;
    assert_eq!(away["currently_active"], false, "{away}");
    assert!(away["last_active_ago"].as_u64().unwrap() >= 3000, "idle at least idle_after: {away}");
    let (gone, since) = until_presence(&ben, since, &ada.user_id, "offline").await;
    assert_eq!(gone["currently_active"], false, "{gone}");
    let (_, p) = ben.get(&status).await;
    assert_eq!(p["presence"], "offline");

    // Her chosen status outlasts her client's syncing (which says online).
    let (st, _) = ada.put(&status, json!({"presence": "unavailable", "status_msg": "In theatre"})).await;
    assert_eq!(st, 200);
    ada.sync(None, 0, None).await;
    let (chosen, _) = until_presence(&ben, since, &ada.user_id, "unavailable").await;
    assert_eq!(chosen["status_msg"], "In theatre");
    ada.sync(None, 0, None).await;
    let (_, p) = ben.get(&status).await;
    assert_eq!((&p["presence"], &p["status_msg"]), (&json!("unavailable"), &json!("In theatre")));
}

#[tokio::test]
async fn offline_must_outlast_the_longest_long_poll() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::harness::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("WARDLINE_PRESENCE__OFFLINE_AFTER_SECS", "30")
        .env("WARDLINE_SYNC__MAX_TIMEOUT_MS", "60000")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("presence.offline_after_secs"), "{err}");
}
