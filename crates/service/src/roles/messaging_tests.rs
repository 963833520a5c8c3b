//! Messaging a role, over the real store with the manual clock: the holder now receives and
//! answers as the role; after a handover (or a rota boundary) only the new holder receives, and
//! reads the history, while the former holder keeps what they saw; a role nobody holds hands
//! the message to its fallback and tells the sender, or says nobody received it; nobody writes
//! as a role they were not seated by.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Duration;

use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use serde_json::{Value, json};
use wardline_types::audit::AuditAction;
use wardline_types::role::fields;
use wardline_types::{Eligibility, Membership, kinds};

use super::rota::RotaFormat;
use super::tests::{Night, T0, actor, id, user};
use crate::ServiceError;
use crate::audit::{By, Operator};
use crate::rooms::{CreateRoom, SendEvent, SendOutcome};

fn op() -> Operator {
    Operator { os_user: "root".into(), os_uid: None }
}

fn role_user(role: &str) -> OwnedUserId {
    user(&format!("role.{role}"))
}

impl Night {
    /// `med-reg` for registrars (may be empty, falls back to `switchboard`), and `switchboard`
    /// for Ann.
    async fn with_messaging_roles(self) -> Self {
        let mut switchboard = Self::definition("switchboard", true);
        switchboard.name = "Switchboard".into();
        switchboard.eligibility = Eligibility { users: vec![user("ann")], ..Eligibility::default() };
        self.s.roles.create(By::Operator(&op()), switchboard).await.unwrap();
        let mut reg = Self::definition("med-reg", true);
        reg.fallback = Some(id("switchboard"));
        self.s.roles.create(By::Operator(&op()), reg).await.unwrap();
        self
    }

    /// Nia (a nurse) opens a direct conversation with the role.
    async fn conversation_with(&self, role: &str) -> OwnedRoomId {
        let req = CreateRoom { invite: vec![role_user(role)], is_direct: true, ..CreateRoom::default() };
        self.s.rooms.create_room(&actor("nia"), req).await.unwrap()
    }

    async fn say(&self, who: &str, room: &OwnedRoomId, body: &str) -> (OwnedEventId, SendOutcome) {
        self.say_with(who, room, json!({"msgtype": "m.text", "body": body})).await
    }

    async fn say_with(&self, who: &str, room: &OwnedRoomId, content: Value) -> (OwnedEventId, SendOutcome) {
        let req = SendEvent {
            room_id: room.clone(),
            kind: kinds::MESSAGE.into(),
            state_key: None,
            content,
            redacts: None,
            txn: None,
        };
        self.s.rooms.send_message(&actor(who), req).await.unwrap()
    }

    async fn membership(&self, room: &OwnedRoomId, who: &str) -> Option<Membership> {
        self.s.rooms.with_state(room, |s| s.membership(&user(who))).await.unwrap()
    }

    async fn recipients(&self, room: &OwnedRoomId, event: &OwnedEventId) -> Vec<(String, Option<String>)> {
        let status = self.s.status.status(&user("nia"), room, event).await.unwrap();
        status
            .recipients
            .into_iter()
            .map(|r| (r.user_id.localpart().to_owned(), r.as_role.map(|(id, _)| id.to_string())))
            .collect()
    }

    async fn sees(&self, who: &str, room: &OwnedRoomId, event: &OwnedEventId) -> bool {
        self.s.timeline.visible_event(&user(who), room, event).await.is_ok()
    }

    /// What the background task does when a role changes hands.
    async fn settle(&self) -> usize {
        self.s.rooms.settle_changed_roles(&mut HashMap::new()).await.unwrap()
    }
}

#[tokio::test]
async fn the_holder_receives_and_answers_as_the_role_and_a_handover_moves_the_conversation() {
    let n = Night::open().await.with_messaging_roles().await;
    n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), None).await.unwrap();
    let room = n.conversation_with("med-reg").await;
    assert_eq!(n.membership(&room, "role.med-reg").await, Some(Membership::Join), "a role joins at once");
    assert_eq!(n.membership(&room, "reg").await, Some(Membership::Join), "its holder is seated");

    let (first, outcome) = n.say("nia", &room, "Bed 4: BP 80/40, please review").await;
    assert!(outcome.unheld.is_empty());
    assert_eq!(n.recipients(&room, &first).await, vec![("reg".into(), Some("med-reg".into()))]);

    // Reg answers as the role: the server stamps it, whatever the client claimed.
    let forged = json!({"msgtype": "m.text", "body": "Coming", fields::AS_ROLE: {"id": "switchboard", "name": "X"}});
    let (answer, _) = n.say_with("reg", &room, forged).await;
    let stored = n.s.timeline.visible_event(&user("nia"), &room, &answer).await.unwrap();
    assert_eq!(stored.event.content[fields::AS_ROLE], json!({"id": "med-reg", "name": "Medical Registrar On-call"}));
    // Nia, a member in her own right, cannot write as any role.
    let (mine, _) =
        n.say_with("nia", &room, json!({"msgtype": "m.text", "body": "ok", fields::AS_ROLE: {"id": "med-reg"}})).await;
    let stored = n.s.timeline.visible_event(&user("nia"), &room, &mine).await.unwrap();
    assert!(stored.event.content.get(fields::AS_ROLE).is_none(), "{}", stored.event.content);
    // Nor can anyone dress a message up as a hospital system's alarm.
    let alarm = wardline_types::alarm::ALARM;
    let (faked, _) = n
        .say_with("nia", &room, json!({"msgtype": "m.text", "body": "ARREST", alarm: {"kind": "cardiac_arrest"}}))
        .await;
    let stored = n.s.timeline.visible_event(&user("nia"), &room, &faked).await.unwrap();
    assert!(stored.event.content.get(alarm).is_none(), "{}", stored.event.content);
    // Nor by an edit, whose new content clients show in place of the original.
    let edit = json!({"msgtype": "m.text", "body": "* ARREST",
        "m.new_content": {"msgtype": "m.text", "body": "ARREST", alarm: {"kind": "cardiac_arrest"}},
        "m.relates_to": {"rel_type": "m.replace", "event_id": faked}});
    let (edited, _) = n.say_with("nia", &room, edit).await;
    let stored = n.s.timeline.visible_event(&user("nia"), &room, &edited).await.unwrap();
    assert!(stored.event.content["m.new_content"].get(alarm).is_none(), "{}", stored.event.content);
    assert_eq!(stored.event.content["m.new_content"]["body"], "ARREST");

    // Reg hands over to Raj at the end of the shift; the background task moves the conversation.
    n.clock.advance(Duration::from_secs(12 * 3600));
    n.s.roles.handover(&actor("reg"), &id("med-reg"), user("raj"), None).await.unwrap();
    assert!(n.settle().await > 0);
    assert_eq!(n.membership(&room, "raj").await, Some(Membership::Join));
    assert_eq!(n.membership(&room, "reg").await, Some(Membership::Leave));
    assert!(n.sees("raj", &room, &first).await, "the new holder reads the history");

    let (next, _) = n.say("nia", &room, "Bed 4 now 75/40").await;
    assert_eq!(n.recipients(&room, &next).await, vec![("raj".into(), Some("med-reg".into()))], "the new holder only");
    assert!(!n.sees("reg", &room, &next).await, "the former holder stops receiving");
    assert!(n.sees("reg", &room, &first).await, "but keeps what they saw");
    // Settling again changes nothing.
    assert_eq!(n.settle().await, 0);
}

#[tokio::test]
async fn a_message_right_after_a_handover_reaches_the_new_holder_without_waiting_for_the_task() {
    let n = Night::open().await.with_messaging_roles().await;
    n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), None).await.unwrap();
    let room = n.conversation_with("med-reg").await;
    n.s.roles.handover(&actor("reg"), &id("med-reg"), user("raj"), None).await.unwrap();
    let (m, _) = n.say("nia", &room, "K+ 6.8").await;
    assert_eq!(n.recipients(&room, &m).await, vec![("raj".into(), Some("med-reg".into()))]);
    assert!(!n.sees("reg", &room, &m).await);
}

#[tokio::test]
async fn a_rota_boundary_moves_the_conversation_to_the_next_shift() {
    let n = Night::open().await.with_messaging_roles().await;
    let at = |h: u32| T0.plus(Duration::from_secs(3600 * u64::from(h))).to_rfc3339();
    let csv = format!("role,username,start,end\nmed-reg,reg,{},{}\nmed-reg,raj,{},{}\n", at(0), at(8), at(8), at(16));
    n.s.roles.import_rota(By::Operator(&op()), RotaFormat::Csv, csv.as_bytes()).await.unwrap();
    n.s.roles.apply_rota().await.unwrap();
    let room = n.conversation_with("med-reg").await;
    let (day, _) = n.say("nia", &room, "day shift question").await;
    assert_eq!(n.recipients(&room, &day).await, vec![("reg".into(), Some("med-reg".into()))]);

    n.clock.advance(Duration::from_secs(8 * 3600));
    n.s.roles.apply_rota().await.unwrap();
    n.settle().await;
    let (night, _) = n.say("nia", &room, "night shift question").await;
    assert_eq!(n.recipients(&room, &night).await, vec![("raj".into(), Some("med-reg".into()))]);
    assert!(n.sees("raj", &room, &day).await);
}

#[tokio::test]
async fn a_role_nobody_holds_hands_the_message_to_its_fallback_and_tells_the_sender() {
    let n = Night::open().await.with_messaging_roles().await;
    n.s.roles.swipe_in(&actor("ann"), &id("switchboard"), None).await.unwrap();
    let room = n.conversation_with("med-reg").await;
    let (m, outcome) = n.say("nia", &room, "Need a registrar for bed 9").await;
    assert_eq!(outcome.unheld.len(), 1);
    let unheld = &outcome.unheld[0];
    assert_eq!((unheld.role.as_str(), unheld.reached()), ("med-reg", true));
    assert_eq!(unheld.fallback.as_ref().map(|(f, _)| f.as_str()), Some("switchboard"));
    assert_eq!(n.membership(&room, "role.switchboard").await, Some(Membership::Join));
    assert_eq!(n.recipients(&room, &m).await, vec![("ann".into(), Some("switchboard".into()))], "switchboard got it");

    // The role's user says so in the conversation, right after the message.
    let notice = last_message(&n, &room).await;
    assert_eq!(notice.event.sender, role_user("med-reg"));
    assert_eq!(notice.event.content[fields::ROLE_NOTICE]["fallback"], json!("switchboard"));
    assert!(notice.event.content["body"].as_str().unwrap().contains("Switchboard"), "{}", notice.event.content);
    let audited = n.audit_of(AuditAction::RoleUnheld).await;
    assert_eq!(audited, vec!["role=med-reg fallback=switchboard reached=true".to_owned()]);

    // Reg comes on shift: switchboard withdraws, Reg gets the conversation with its history.
    n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), None).await.unwrap();
    n.settle().await;
    assert_eq!(n.membership(&room, "role.switchboard").await, Some(Membership::Leave));
    assert_eq!(n.membership(&room, "ann").await, Some(Membership::Leave));
    assert!(n.sees("reg", &room, &m).await);
    let (next, outcome) = n.say("nia", &room, "thanks").await;
    assert!(outcome.unheld.is_empty());
    assert_eq!(n.recipients(&room, &next).await, vec![("reg".into(), Some("med-reg".into()))]);
}

#[tokio::test]
async fn a_role_without_anyone_to_fall_back_on_says_nobody_received_it() {
    let n = Night::open().await.with_messaging_roles().await;
    let room = n.conversation_with("med-reg").await;
    let (m, outcome) = n.say("nia", &room, "anyone?").await;
    assert_eq!(outcome.unheld.len(), 1);
    assert!(!outcome.unheld[0].reached(), "switchboard has nobody either");
    assert!(n.recipients(&room, &m).await.is_empty());
    let notice = last_message(&n, &room).await;
    let body = notice.event.content["body"].as_str().unwrap().to_owned();
    assert!(body.contains("nobody has received your message") && body.contains("Bleep 2345"), "{body}");
    // The next registrar on shift gets it.
    n.s.roles.swipe_in(&actor("raj"), &id("med-reg"), None).await.unwrap();
    n.settle().await;
    assert!(n.sees("raj", &room, &m).await);
}

#[tokio::test]
async fn only_roles_in_use_can_be_brought_into_a_conversation() {
    let n = Night::open().await.with_messaging_roles().await;
    let req = CreateRoom { invite: vec![role_user("no-such-role")], ..CreateRoom::default() };
    let refused = n.s.rooms.create_room(&actor("nia"), req).await;
    assert!(matches!(refused, Err(ServiceError::NotFound(_))), "{refused:?}");
    n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), None).await.unwrap();
    let room = n.s.rooms.create_room(&actor("nia"), CreateRoom::default()).await.unwrap();
    n.s.rooms.invite(&room, &actor("nia"), &role_user("med-reg"), None).await.unwrap();
    assert_eq!(n.membership(&room, "reg").await, Some(Membership::Join));
    let again = n.s.rooms.invite(&room, &actor("nia"), &role_user("med-reg"), None).await;
    assert!(again.is_err(), "already there: {again:?}");
    // A member who removes the role removes its holders with it.
    n.s.rooms.kick(&room, &actor("nia"), &role_user("med-reg"), None).await.unwrap();
    let (_, _) = n.say("nia", &room, "note to self").await;
    assert_eq!(n.membership(&room, "reg").await, Some(Membership::Leave));
}

async fn last_message(n: &Night, room: &OwnedRoomId) -> wardline_types::StoredEvent {
    let all = wardline_store::PosRange::new(wardline_types::StreamPos::ZERO, n.store.current_pos());
    let events = n.store.room_events(room, all, wardline_store::Direction::Backward, 20).await.unwrap();
    events.into_iter().find(|e| e.event.kind == kinds::MESSAGE).unwrap()
}

impl Night {
    async fn audit_of(&self, action: AuditAction) -> Vec<String> {
        self.s.audit.flush().await.unwrap();
        let records = self.store.audit_records(1, 1000).await.unwrap();
        records.into_iter().filter(|r| r.record.action == action).filter_map(|r| r.record.detail).collect()
    }
}

#[tokio::test]
async fn the_successor_named_at_a_handover_is_told_once() {
    let n = Night::open().await.with_messaging_roles().await;
    n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), None).await.unwrap();
    n.s.roles.handover(&actor("reg"), &id("med-reg"), user("raj"), Some("bed 4 sick".into())).await.unwrap();
    assert_eq!(n.s.rooms.send_role_notices().await.unwrap(), 1);
    assert_eq!(n.s.rooms.send_role_notices().await.unwrap(), 0, "sent once");
    let rooms = n.store.rooms_of_user(&user("raj")).await.unwrap();
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!(rooms[0].membership, Membership::Invite, "an invitation to the role's notices");
    let notice = last_message(&n, &rooms[0].room_id).await;
    assert_eq!(notice.event.sender, role_user("med-reg"));
    let body = notice.event.content["body"].as_str().unwrap();
    assert!(body.starts_with("Dr reg handed Medical Registrar On-call to you"), "{body}");
    // The next handover to Raj lands in the same conversation.
    n.s.roles.handover(&actor("raj"), &id("med-reg"), user("reg"), None).await.unwrap();
    n.s.roles.handover(&actor("reg"), &id("med-reg"), user("raj"), None).await.unwrap();
    assert_eq!(n.s.rooms.send_role_notices().await.unwrap(), 2);
    assert_eq!(n.store.rooms_of_user(&user("raj")).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_holder_cannot_redact_the_seat_that_would_remove_them() {
    let n = Night::open().await.with_messaging_roles().await;
    n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), None).await.unwrap();
    let room = n.conversation_with("med-reg").await;
    let seat =
        n.s.rooms
            .with_state(&room, |s| s.get(kinds::MEMBER, user("reg").as_str()).unwrap().event.event_id.clone())
            .await
            .unwrap();
    let req = SendEvent {
        room_id: room.clone(),
        kind: kinds::REDACTION.into(),
        state_key: None,
        content: json!({}),
        redacts: Some(seat),
        txn: None,
    };
    let refused = n.s.rooms.send(&actor("reg"), req).await;
    assert!(matches!(refused, Err(ServiceError::Forbidden(_))), "{refused:?}");
    n.s.roles.handover(&actor("reg"), &id("med-reg"), user("raj"), None).await.unwrap();
    n.say("nia", &room, "still there?").await;
    assert_eq!(n.membership(&room, "reg").await, Some(Membership::Leave));
}

#[tokio::test]
async fn a_holder_writing_to_another_role_nobody_holds_is_told_too() {
    let n = Night::open().await.with_messaging_roles().await;
    n.s.roles.swipe_in(&actor("ann"), &id("switchboard"), None).await.unwrap();
    // Switchboard (Ann, seated by her role) writes to the registrar, whom nobody holds.
    let room = n.conversation_with("switchboard").await;
    n.s.rooms.invite(&room, &actor("nia"), &role_user("med-reg"), None).await.unwrap();
    let (_, outcome) = n.say("ann", &room, "Registrar please call ED").await;
    assert_eq!(outcome.unheld.iter().map(|u| u.role.as_str()).collect::<Vec<_>>(), ["med-reg"]);
}

#[tokio::test]
async fn a_look_alike_notices_room_does_not_capture_a_handover_notice() {
    let n = Night::open().await.with_messaging_roles().await;
    n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), None).await.unwrap();
    let marker = (crate::rooms::HANDOVER_NOTICES.to_owned(), "med-reg".to_owned(), json!({"role": "med-reg"}));
    let req = CreateRoom {
        invite: vec![user("raj"), role_user("med-reg")],
        initial_state: vec![marker],
        ..CreateRoom::default()
    };
    let trap = n.s.rooms.create_room(&actor("nia"), req).await.unwrap();
    n.s.roles.handover(&actor("reg"), &id("med-reg"), user("raj"), None).await.unwrap();
    assert_eq!(n.s.rooms.send_role_notices().await.unwrap(), 1);
    let all = wardline_store::PosRange::new(wardline_types::StreamPos::ZERO, n.store.current_pos());
    let events = n.store.room_events(&trap, all, wardline_store::Direction::Backward, 50).await.unwrap();
    assert!(
        !events.iter().any(|e| e.event.kind == kinds::MESSAGE && e.event.sender == role_user("med-reg")),
        "the notice went to the role's own conversation, not the look-alike"
    );
}

#[tokio::test]
async fn a_role_whose_only_holder_is_banned_from_the_conversation_counts_as_unheld() {
    let n = Night::open().await.with_messaging_roles().await;
    n.s.roles.swipe_in(&actor("reg"), &id("med-reg"), None).await.unwrap();
    let room = n.conversation_with("med-reg").await;
    n.s.rooms.ban(&room, &actor("nia"), &user("reg"), None).await.unwrap();
    let (_, outcome) = n.say("nia", &room, "who is there?").await;
    assert_eq!(outcome.unheld.len(), 1, "the only holder cannot read it: the sender is told");
    assert!(!outcome.unheld[0].reached());
}
