//! `device_lists` in `/sync`: a colleague's new or removed device, someone who newly shares a
//! room, and someone who no longer shares any, each waking a waiting long-poll.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, Server, enc, long_poll_around};

fn next(sync: &Value) -> String {
    sync["next_batch"].as_str().unwrap().to_owned()
}

fn listed(sync: &Value, list: &str) -> Vec<String> {
    sync["device_lists"][list].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn colleagues_devices_joins_and_leaves_reach_a_waiting_long_poll() {
    let (s, log) = Server::start_with_log(&[("WARDLINE_LOG", "warn,wardline_service::sync=debug")]);
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let cat = s.user("cat").await;
    let room = ada.create_room(json!({"invite": [ben.user_id]})).await;
    ben.join(&room).await;
    let first = ben.sync(None, 0, None).await;
    assert_eq!(first["device_lists"], json!({"changed": [], "left": []}), "nothing on a first sync");

    // Ada signs in on a second device.
    let woken = long_poll_around(&log, &ben, &next(&first), || async {
        s.login("ada", PASSWORD).await;
    })
    .await;
    assert_eq!(listed(&woken, "changed"), [ada.user_id.as_str()], "{woken}");
    assert!(listed(&woken, "left").is_empty());

    // Cat shares no room with Ben: her new device is none of his business.
    let since = next(&woken);
    let cat_again = s.login("cat", PASSWORD).await;
    let quiet = ben.sync(Some(&since), 0, None).await;
    assert!(listed(&quiet, "changed").is_empty(), "{quiet}");

    // Ada ends her second device.
    let ada_phone = s.login("ada", PASSWORD).await;
    let since = next(&ben.sync(Some(&next(&quiet)), 0, None).await);
    let woken = long_poll_around(&log, &ben, &since, || async {
        let (st, _) = ada_phone.post("/_matrix/client/v3/logout", json!({})).await;
        assert_eq!(st, 200);
    })
    .await;
    assert_eq!(listed(&woken, "changed"), [ada.user_id.as_str()], "{woken}");

    // Cat joins the room: Ben now shares it with her.
    let (st, _) = ada.invite(&room, &cat.user_id).await;
    assert_eq!(st, 200);
    let since = next(&ben.sync(Some(&next(&woken)), 0, None).await);
    let woken = long_poll_around(&log, &ben, &since, || async {
        cat_again.join(&room).await;
    })
    .await;
    assert_eq!(listed(&woken, "changed"), [cat.user_id.as_str()], "{woken}");

    // Ada leaves the only room she shared with Ben.
    let woken = long_poll_around(&log, &ben, &next(&woken), || async {
        let (st, _) = ada.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
        assert_eq!(st, 200);
    })
    .await;
    assert_eq!(listed(&woken, "left"), [ada.user_id.as_str()], "{woken}");
    assert!(!listed(&woken, "changed").contains(&ada.user_id));

    // Ben's own new device is listed for him; Ada's, no longer.
    let since = next(&woken);
    s.login("ada", PASSWORD).await;
    s.login("ben", PASSWORD).await;
    let mine = ben.sync(Some(&since), 0, None).await;
    assert_eq!(listed(&mine, "changed"), [ben.user_id.as_str()], "{mine}");
}
