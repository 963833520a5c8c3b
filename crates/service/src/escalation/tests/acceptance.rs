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

    // Raj accepts now: this acceptance is told too (its own notice, not the first one's).
    n.react("raj", &room, &msg, "👍").await;
    n.s.escalation.tick().await.unwrap();
    let last = n.notices(&room).await.pop().unwrap().0;
    assert_eq!(last, "✓ Dr raj accepted (Acknowledge). Escalation stopped.");
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.ended.map(|(e, _)| e), Some(EscalationEnd::Accepted));
}

#[tokio::test]
async fn an_acceptance_deleted_by_someone_else_is_told_as_theirs_not_the_accepters() {
    let n = Night::open().await;
    n.renotifying_policy(&[2], 30).await;
    let room = n.ward(&["reg"]).await;
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
    // Nia created the conversation (power 100) and deletes Reg's 👍.
    n.delete("nia", &room, &thumbs).await;
    n.s.escalation.tick().await.unwrap();
    let notices: Vec<String> = n.notices(&room).await.into_iter().map(|(b, _)| b).collect();
    assert!(
        notices.contains(
            &"Nobody has accepted any more (Dr nia deleted Dr reg's acceptance): escalation resumes.".to_owned()
        ),
        "{notices:?}"
    );
    let records = n.escalation_records().await;
    assert!(records.iter().any(|(d, _)| d == "resumed: acceptance by @reg:localhost deleted"), "{records:?}");
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
    assert!(n.store.accept_escalation(&msg, &thumbs, at).await.unwrap());
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

#[tokio::test]
async fn an_answer_that_neither_accepts_nor_declines_after_an_acceptance_leaves_it_accepted() {
    let n = Night::open().await;
    n.renotifying_policy(&[2], 30).await;
    let room = n.ward(&["reg", "raj"]).await;
    let ask = json!({"org.wardline.ask": {"options": [
        {"id": "ack", "label": "Acknowledge", "means": "accept"},
        {"id": "call", "label": "Call me", "means": "info"},
        {"id": "no", "label": "Decline", "means": "decline"},
    ]}});
    let msg = n.urgent(&room, "urgent", ask).await;
    n.s.escalation.tick().await.unwrap();
    n.react("reg", &room, &msg, "1️⃣").await;
    n.s.escalation.tick().await.unwrap();
    // Reg then asks to be called; Raj declines: Reg still stands accepting.
    n.react("reg", &room, &msg, "2️⃣").await;
    n.react("raj", &room, &msg, "3️⃣").await;
    n.s.escalation.tick().await.unwrap();
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.ended.map(|(e, _)| e), Some(EscalationEnd::Accepted), "{esc:?}");
    let message = n.store.event(&msg).await.unwrap().unwrap();
    let status = n.s.status.status_for_server(&message).await.unwrap();
    assert_eq!(status.answer_counts(), (1, 1));
    let reg = status.recipients.iter().find(|r| r.user_id == crate::roles::tests::user("reg")).unwrap();
    let answer = reg.answer.as_ref().unwrap();
    assert_eq!((answer.label.as_str(), answer.stands), ("Call me", Some(wardline_types::priority::Means::Accept)));
    assert!(!n.notices(&room).await.iter().any(|(b, _)| b.contains("resumes")));
}
