#![allow(clippy::unwrap_used)]

use ruma::push::{Action, NewPushRule, NewSimplePushRule, RuleKind, Ruleset};
use ruma::{OwnedRoomId, OwnedUserId, owned_event_id, owned_room_id, owned_user_id};
use serde_json::{Value, json};
use wardline_types::{NewEvent, StoredEvent, StreamPos, Timestamp, kinds};

use super::{Verdict, evaluate, room_context};
use crate::push::{protected, rules};
use crate::rooms::RoomState;

fn room() -> OwnedRoomId {
    owned_room_id!("!ward:x")
}

fn ev(sender: &OwnedUserId, kind: &str, state_key: Option<&str>, content: Value) -> StoredEvent {
    StoredEvent {
        stream: StreamPos(1),
        event: NewEvent {
            event_id: owned_event_id!("$e"),
            room_id: room(),
            sender: sender.clone(),
            kind: kind.into(),
            state_key: state_key.map(Into::into),
            content,
            origin_server_ts: Timestamp(0),
            redacts: None,
            txn: None,
        },
        redacted_because: None,
    }
}

/// Ada, Ben and Cy in a ward room; the server's own member too.
fn ward() -> RoomState {
    let ada = owned_user_id!("@ada:x");
    let mut s = RoomState::empty(room());
    s.apply(&ev(&ada, kinds::CREATE, Some(""), json!({"room_version": "11"})));
    for u in ["@ada:x", "@ben:x", "@cy:x", "@wardline:x"] {
        s.apply(&ev(&ada, kinds::MEMBER, Some(u), json!({"membership": "join", "displayname": u[1..4].to_owned()})));
    }
    s
}

fn text(body: &str) -> Value {
    json!({"msgtype": "m.text", "body": body})
}

async fn verdict_with(rules: &Ruleset, event: &StoredEvent) -> Verdict {
    let ben = owned_user_id!("@ben:x");
    let ctx = room_context(&ward(), &ben);
    evaluate(&protected::ruleset(&ben), rules, &ctx, event).await
}

async fn verdict(event: &StoredEvent) -> Verdict {
    verdict_with(&Ruleset::server_default(&owned_user_id!("@ben:x")), event).await
}

fn muted(mut rules: Ruleset) -> Ruleset {
    rules::insert(&mut rules, NewPushRule::Room(NewSimplePushRule::new(room(), vec![])), None, None).unwrap();
    rules.set_enabled(RuleKind::Override, ".m.rule.master", true).unwrap();
    rules
}

fn urgent(level: &str) -> Value {
    json!({"msgtype": "m.text", "body": "[URGENT] K+ 6.9", "org.wardline.priority": {"level": level}})
}

#[tokio::test]
async fn plain_messages_notify_mentions_highlight_own_never() {
    let ada = owned_user_id!("@ada:x");
    let plain = verdict(&ev(&ada, "m.room.message", None, text("obs stable"))).await;
    assert_eq!(plain, Verdict { notify: true, highlight: false, sound: None });
    let mention = json!({"msgtype": "m.text", "body": "ben?", "m.mentions": {"user_ids": ["@ben:x"]}});
    let v = verdict(&ev(&ada, "m.room.message", None, mention.clone())).await;
    assert!(v.notify && v.highlight, "{v:?}");
    let own = verdict(&ev(&owned_user_id!("@ben:x"), "m.room.message", None, mention)).await;
    assert_eq!(own, Verdict::default(), "one's own message never notifies");
    let notice = verdict(&ev(&ada, "m.room.message", None, json!({"msgtype": "m.notice", "body": "bot"}))).await;
    assert!(!notice.notify, "notices are silenced by the spec's defaults");
}

#[tokio::test]
async fn urgent_and_emergency_ring_through_a_muted_room_and_master() {
    let ada = owned_user_id!("@ada:x");
    let rules = muted(Ruleset::server_default(&owned_user_id!("@ben:x")));
    let plain = verdict_with(&rules, &ev(&ada, "m.room.message", None, text("obs stable"))).await;
    assert!(!plain.notify, "the room is muted: {plain:?}");
    for level in ["urgent", "emergency"] {
        let v = verdict_with(&rules, &ev(&ada, "m.room.message", None, urgent(level))).await;
        assert_eq!(v, Verdict { notify: true, highlight: true, sound: Some(level.to_owned()) });
    }
    let routine = verdict_with(&rules, &ev(&ada, "m.room.message", None, urgent("routine"))).await;
    assert!(!routine.notify);
    // An edit of an urgent message does not ring again.
    let mut edit = urgent("urgent");
    edit["m.relates_to"] = json!({"rel_type": "m.replace", "event_id": "$u"});
    edit["m.new_content"] = urgent("urgent");
    let v = verdict(&ev(&ada, "m.room.message", None, edit)).await;
    assert!(!v.notify, "{v:?}");
    // The sender of an urgent message is not rung by it.
    let own = verdict_with(&rules, &ev(&owned_user_id!("@ben:x"), "m.room.message", None, urgent("urgent"))).await;
    assert!(!own.notify);
}

#[tokio::test]
async fn escalation_notices_ring_the_mentioned_and_only_from_the_server() {
    let server = owned_user_id!("@wardline:x");
    let rules = muted(Ruleset::server_default(&owned_user_id!("@ben:x")));
    let notice = |mentions: Value| {
        json!({"msgtype": "m.text", "body": "Not yet accepted: escalating", "m.mentions": mentions,
               "org.wardline.escalation": {"kind": "step", "step": 1}})
    };
    let to_ben =
        verdict_with(&rules, &ev(&server, "m.room.message", None, notice(json!({"user_ids": ["@ben:x"]})))).await;
    assert_eq!(to_ben, Verdict { notify: true, highlight: true, sound: Some("urgent".into()) });
    let to_cy =
        verdict_with(&rules, &ev(&server, "m.room.message", None, notice(json!({"user_ids": ["@cy:x"]})))).await;
    assert!(!to_cy.notify, "a notice for Cy does not ring Ben in his muted room");
    let room_wide =
        verdict_with(&rules, &ev(&server, "m.room.message", None, notice(json!({"user_ids": [], "room": true})))).await;
    assert!(room_wide.notify && room_wide.highlight);
    let forged = verdict_with(
        &rules,
        &ev(&owned_user_id!("@ada:x"), "m.room.message", None, notice(json!({"user_ids": ["@ben:x"]}))),
    )
    .await;
    assert!(!forged.notify, "only the server's member sends escalations");
}

#[tokio::test]
async fn keyword_and_room_rules() {
    let ada = owned_user_id!("@ada:x");
    let mut rules = Ruleset::server_default(&owned_user_id!("@ben:x"));
    let keyword = ruma::push::NewPatternedPushRule::new(
        "potassium".into(),
        "potassium".into(),
        vec![Action::Notify, Action::SetTweak(ruma::push::Tweak::Highlight(ruma::push::HighlightTweakValue::Yes))],
    );
    rules::insert(&mut rules, NewPushRule::Content(keyword), None, None).unwrap();
    let v = verdict_with(&rules, &ev(&ada, "m.room.message", None, text("Potassium is 6.9"))).await;
    assert!(v.notify && v.highlight, "{v:?}");
    let v = verdict_with(&rules, &ev(&ada, "m.room.message", None, text("sodium fine"))).await;
    assert!(v.notify && !v.highlight);
}

#[test]
fn protected_rules_cannot_be_changed_and_are_shown_first() {
    let ben = owned_user_id!("@ben:x");
    let mut rules = Ruleset::server_default(&ben);
    for id in [protected::URGENT, protected::EMERGENCY, protected::ESCALATION, protected::ESCALATION_ROOM] {
        let e = rules::set_enabled(&mut rules, &RuleKind::Override, id, false).unwrap_err();
        assert!(matches!(e, crate::ServiceError::ProtectedPushRule(_)), "{e:?}");
        assert!(rules::set_actions(&mut rules, &RuleKind::Override, id, vec![]).is_err());
        assert!(rules::remove(&mut rules, &RuleKind::Override, id).is_err());
    }
    let stored = rules::to_stored(&ben, &rules);
    assert_eq!(stored["global"]["sender"], json!([]), "every kind is listed, empty or not");
    let overrides = stored["global"]["override"].as_array().unwrap();
    assert_eq!(overrides[0]["rule_id"], protected::EMERGENCY);
    assert_eq!(overrides[4]["rule_id"], ".m.rule.master");
    // Read back, the protected rules are not part of the user's own rules (and not doubled).
    let back = rules::from_stored(&ben, Some(&stored));
    assert!(back.override_.iter().all(|r| !protected::is_protected(&r.rule_id)));
    assert_eq!(rules::to_stored(&ben, &back), stored);
}

#[test]
fn spec_errors_for_server_defaults_and_unknown_rules() {
    let ben = owned_user_id!("@ben:x");
    let mut rules = Ruleset::server_default(&ben);
    let e = rules::remove(&mut rules, &RuleKind::Override, ".m.rule.master").unwrap_err();
    assert!(matches!(e, crate::ServiceError::PushRule(_)), "{e:?}");
    let e = rules::remove(&mut rules, &RuleKind::Room, "nothing").unwrap_err();
    assert!(matches!(e, crate::ServiceError::NotFound(_)), "{e:?}");
    let dotted = NewPushRule::Room(NewSimplePushRule::new(room(), vec![]));
    assert!(rules::insert(&mut rules, dotted, Some(".m.rule.master"), None).is_err(), "relative to a default");
    let e = rules::set_enabled(&mut rules, &RuleKind::Underride, "nope", false).unwrap_err();
    assert!(matches!(e, crate::ServiceError::NotFound(_)), "{e:?}");
}
