//! An acceptance's consequences survive what can go wrong: deleted (withdrawn), the escalation
//! resumes; a crash between ending the escalation and saying so, the notice is still posted,
//! once.

use serde_json::json;
use wardline_store::EscalationEnd;

use super::Night;
use crate::roles::tests::actor;
use crate::rooms::SendEvent;
use crate::{Config, Services};
use wardline_types::kinds;

#[tokio::test]
async fn an_acceptance_deleted_leaving_nobody_accepting_resumes_the_escalation_at_once() {
    let n = Night::open().await;
    n.renotifying_policy(&[2, 4], 30).await;
    let room = n.ward(&["reg", "raj"]).await;
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    let thumbs = n
        .send(
            "reg",
            &room,
            "m.reaction",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": msg, "key": "👍"}}),
        )
        .await;
    n.s.escalation.tick().await.unwrap();
    assert_eq!(n.store.escalation(&msg).await.unwrap().unwrap().ended.map(|(e, _)| e), Some(EscalationEnd::Accepted));

    // Reg takes the 👍 back: nobody accepts any more, so it escalates again, now.
    n.delete("reg", &room, &thumbs).await;
    n.s.escalation.tick().await.unwrap();
    let notices: Vec<String> = n.notices(&room).await.into_iter().map(|(b, _)| b).collect();
    assert_eq!(
        notices[1..],
        [
            "Nobody has accepted any more (Dr reg withdrew their answer): escalation resumes.",
            "No answer after 0 min — notifying again: Dr raj, Dr reg",
        ],
        "told, and the step that was due ran at once"
    );
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert!(esc.ended.is_none() && esc.step == 1, "open again, at its next step: {esc:?}");

    // Deleting something that is not an acceptance changes nothing.
    let chat = n.send("raj", &room, kinds::MESSAGE, json!({"msgtype": "m.text", "body": "on my way"})).await;
    let before = n.notices(&room).await.len();
    n.delete("raj", &room, &chat).await;
    n.s.escalation.tick().await.unwrap();
    assert_eq!(n.notices(&room).await.len(), before);
}

#[tokio::test]
async fn a_crash_between_ending_an_escalation_and_telling_everyone_still_tells_them_once() {
    let n = Night::open().await;
    n.renotifying_policy(&[2], 30).await;
    let room = n.ward(&["reg"]).await;
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    let cursor = n.store.cursor(super::super::CURSOR).await.unwrap().unwrap();
    let req = SendEvent {
        room_id: room.clone(),
        kind: "m.reaction".into(),
        state_key: None,
        content: json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": msg, "key": "👍"}}),
        redacts: None,
        txn: None,
    };
    let thumbs = n.s.rooms.send(&actor("reg"), req).await.unwrap();
    // A runner read the 👍, ended the escalation, and died before posting or moving its cursor.
    let at = n.store.event(&thumbs).await.unwrap().unwrap().event.origin_server_ts;
    assert!(n.store.end_escalation(&msg, EscalationEnd::Accepted, at).await.unwrap());
    assert!(n.notices(&room).await.is_empty());
    assert_eq!(n.store.cursor(super::super::CURSOR).await.unwrap(), Some(cursor));

    // The next server reads the 👍 again: the notice is posted now, and only once.
    let config = Config { data_dir: std::env::temp_dir(), ..Config::default() };
    let second = Services::new(config, std::sync::Arc::clone(&n.store), n.clock.clone()).unwrap();
    tokio::spawn(second.audit.clone().run_writer());
    second.escalation.tick().await.unwrap();
    second.escalation.tick().await.unwrap();
    let notices = n.notices(&room).await;
    assert_eq!(
        notices.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>(),
        ["✓ Dr reg accepted (Acknowledge). Escalation stopped."]
    );
}
