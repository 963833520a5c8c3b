//! Answer deadlines on the manual clock: told on time with who declined and who has not
//! answered; nothing when someone accepted; nothing after a deletion; the timer survives a
//! restart and a crash between telling and recording tells once.

use std::time::Duration;

use serde_json::json;
use wardline_store::DeadlineEnd;
use wardline_types::Timestamp;

use super::{MIN, Night};
use crate::roles::tests::T0;
use crate::{Config, Services};

fn question(deadline_min: u64) -> serde_json::Value {
    json!({"msgtype": "m.text", "body": "Bed 12 for review?", "org.wardline.ask": {"options": [
        {"id": "accept", "label": "Accept patient", "means": "accept"},
        {"id": "decline", "label": "Decline", "means": "decline"},
    ], "deadline_ms": deadline_min * MIN}})
}

fn decline(target: &ruma::OwnedEventId, reason: &str) -> serde_json::Value {
    json!({"msgtype": "m.text", "body": "Decline", "m.relates_to": {"rel_type": "m.reference", "event_id": target},
        "org.wardline.response": {"option": "decline", "reason": reason}})
}

#[tokio::test]
async fn nobody_accepting_by_the_deadline_tells_the_sender_who_declined_and_who_has_not_answered() {
    let n = Night::open().await;
    let room = n.ward(&["reg", "raj"]).await;
    let msg = n.send("nia", &room, "m.room.message", question(10)).await;
    n.s.escalation.tick().await.unwrap();
    let d = n.store.deadline(&msg).await.unwrap().expect("set");
    assert_eq!((d.due, d.ended), (Timestamp(T0.0 + 10 * MIN), None));

    n.send("raj", &room, "m.room.message", decline(&msg, "in theatre\nall night")).await;
    n.after(9).await;
    assert!(n.notices(&room).await.is_empty(), "nothing before the deadline (a decline is not an acceptance)");
    n.after(1).await;
    let notices = n.notices(&room).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(
        notices[0].0,
        "Nobody has accepted in 10 min. Declined: Dr raj (in theatre all night). Not answered: Dr reg."
    );
    assert_eq!(notices[0].1, vec!["nia"], "only the sender is called");
    let d = n.store.deadline(&msg).await.unwrap().unwrap();
    assert_eq!(d.ended, Some((DeadlineEnd::NotAccepted, Timestamp(T0.0 + 10 * MIN))));
    n.after(60).await;
    assert_eq!(n.notices(&room).await.len(), 1, "told once");
    let records = n.escalation_records().await;
    assert!(records.iter().any(|(r, _)| r == "answer deadline set: 10 min"), "{records:?}");
    assert!(records.iter().any(|(r, _)| r == "answer deadline: not_accepted"), "{records:?}");
}

#[tokio::test]
async fn an_acceptance_in_time_or_a_deletion_ends_the_deadline_without_a_word() {
    let n = Night::open().await;
    let room = n.ward(&["reg"]).await;
    let accepted = n.send("nia", &room, "m.room.message", question(5)).await;
    let deleted = n.send("nia", &room, "m.room.message", question(5)).await;
    n.s.escalation.tick().await.unwrap();
    n.react("reg", &room, &accepted, "1️⃣").await;
    n.delete("nia", &room, &deleted).await;
    n.after(5).await;
    assert!(n.notices(&room).await.is_empty(), "{:?}", n.notices(&room).await);
    for (id, end) in [(&accepted, DeadlineEnd::Accepted), (&deleted, DeadlineEnd::Cancelled)] {
        assert_eq!(n.store.deadline(id).await.unwrap().unwrap().ended.map(|(e, _)| e), Some(end));
    }
}

#[tokio::test]
async fn a_deadline_survives_a_restart_and_a_crash_after_telling_tells_once() {
    let n = Night::open().await;
    let room = n.ward(&["reg"]).await;
    let msg = n.send("nia", &room, "m.room.message", question(3)).await;
    n.s.escalation.tick().await.unwrap();

    // A second server on the same store knows nothing in memory, and tells on time.
    let config = Config { data_dir: std::env::temp_dir(), ..Config::default() };
    let second = Services::new(config, std::sync::Arc::clone(&n.store), n.clock.clone()).unwrap();
    tokio::spawn(second.audit.clone().run_writer());
    n.clock.advance(Duration::from_millis(3 * MIN));
    // It dies after posting the notice and before recording the deadline ended…
    let d = n.store.deadline(&msg).await.unwrap().unwrap();
    assert_eq!(second.escalation.deadline_passed(&d).await.unwrap(), DeadlineEnd::NotAccepted);
    assert_eq!(n.notices(&room).await.len(), 1);
    // …and the next pass tells again by the same transaction: still one notice.
    second.escalation.tick().await.unwrap();
    assert_eq!(n.notices(&room).await.len(), 1, "the repeat is the same notice");
    assert_eq!(n.store.deadline(&msg).await.unwrap().unwrap().ended.map(|(e, _)| e), Some(DeadlineEnd::NotAccepted));
}

#[tokio::test]
async fn a_question_deleted_by_a_moderator_tells_its_sender_at_once() {
    let n = Night::open().await;
    let room = n.ward(&["reg"]).await;
    let levels = json!({"users": {crate::roles::tests::user("nia").as_str(): 100, crate::roles::tests::user("reg").as_str(): 50}, "redact": 50});
    n.s.rooms
        .set_state(&room, &crate::roles::tests::actor("nia"), wardline_types::kinds::POWER_LEVELS, "", levels)
        .await
        .unwrap();
    let msg = n.send("nia", &room, "m.room.message", question(10)).await;
    n.s.escalation.tick().await.unwrap();
    n.delete("reg", &room, &msg).await;
    n.s.escalation.tick().await.unwrap();
    let notices = n.notices(&room).await;
    assert_eq!(
        notices,
        [("Dr reg deleted your question: nobody can answer it now.".to_owned(), vec!["nia".to_owned()])]
    );
    assert_eq!(n.store.deadline(&msg).await.unwrap().unwrap().ended.map(|(e, _)| e), Some(DeadlineEnd::Cancelled));
    let records = n.escalation_records().await;
    assert!(records.iter().any(|(r, _)| r == "answer deadline: question deleted"), "{records:?}");
    n.after(20).await;
    assert_eq!(n.notices(&room).await.len(), 1, "nothing more at the deadline");
}

#[tokio::test]
async fn a_sender_who_left_is_not_told_where_they_cannot_read_and_it_is_recorded_as_failed() {
    let n = Night::open().await;
    let room = n.ward(&["reg"]).await;
    let msg = n.send("nia", &room, "m.room.message", question(5)).await;
    n.s.escalation.tick().await.unwrap();
    n.s.rooms.leave(&room, &crate::roles::tests::actor("nia"), None).await.unwrap();
    n.after(5).await;
    assert!(n.notices(&room).await.is_empty(), "{:?}", n.notices(&room).await);
    assert_eq!(n.store.deadline(&msg).await.unwrap().unwrap().ended.map(|(e, _)| e), Some(DeadlineEnd::Failed));
    let records = n.escalation_records().await;
    assert!(
        records.iter().any(|(r, o)| r == "answer deadline: failed" && *o == wardline_types::audit::Outcome::Failure),
        "{records:?}"
    );
}
