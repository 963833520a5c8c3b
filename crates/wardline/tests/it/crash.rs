//! `kill -9` in the middle of a burst of concurrent sends: after a restart every acknowledged
//! message is there exactly once, in the order the server acknowledged it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::harness::{Server, enc};

#[tokio::test]
async fn acknowledged_messages_survive_kill_9() {
    let mut s = Server::start_with_env(&[("WARDLINE_FSYNC", "true")]);
    let keep = s.keep_dir();
    let a = s.user("ada").await;
    let room = a.create_room(json!({"name": "Resus"})).await;
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let client = a.clone();
        let room = room.clone();
        let acked = Arc::clone(&acked);
        tasks.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let body = format!("w{w}-{i}");
                let url = format!(
                    "{}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
                    client.base,
                    enc(&room),
                    enc(&body)
                );
                let resp = client
                    .http
                    .put(url)
                    .bearer_auth(client.token.as_ref().unwrap())
                    .json(&json!({"msgtype": "m.text", "body": body}))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let v: serde_json::Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => return,
                        };
                        acked.lock().unwrap().push((body, v["event_id"].as_str().unwrap().to_owned()));
                    }
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.kill9();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "the burst got going ({} acknowledged)", acked.len());

    let s2 = Server::start_in(&s.data_dir, &[]);
    let a2 = s2.login("ada", "correct horse battery staple").await;
    let mut bodies = Vec::new();
    let mut ids = HashSet::new();
    let mut from: Option<String> = None;
    loop {
        let mut path = format!("/_matrix/client/v3/rooms/{}/messages?dir=f&limit=1000", enc(&room));
        if let Some(f) = &from {
            path.push_str(&format!("&from={}", enc(f)));
        }
        let (st, page) = a2.get(&path).await;
        assert_eq!(st, 200);
        for e in page["chunk"].as_array().unwrap() {
            if e["type"] == "m.room.message" {
                bodies.push(e["content"]["body"].as_str().unwrap().to_owned());
                assert!(ids.insert(e["event_id"].as_str().unwrap().to_owned()), "duplicate event");
            }
        }
        match page["end"].as_str() {
            Some(e) => from = Some(e.to_owned()),
            None => break,
        }
    }
    let stored: HashSet<&String> = bodies.iter().collect();
    assert_eq!(stored.len(), bodies.len(), "no message stored twice");
    for (body, id) in &acked {
        assert!(stored.contains(body), "acknowledged {body} was lost");
        assert!(ids.contains(id), "acknowledged event {id} was lost");
    }
    // Each sender's acknowledged messages are in the order it sent them.
    for w in 0..8 {
        let prefix = format!("w{w}-");
        let seq: Vec<u32> = bodies.iter().filter_map(|b| b.strip_prefix(&prefix)).map(|n| n.parse().unwrap()).collect();
        assert!(seq.windows(2).all(|p| p[0] < p[1]), "sender {w} out of order");
    }
    drop(keep);
}
