use ruma::{OwnedUserId, owned_event_id, owned_room_id, owned_user_id};
use serde_json::{Value, json};
use wardline_types::{NewEvent, StoredEvent, StreamPos, Timestamp, kinds};

use super::{SenderFacts, authorize};
use crate::ServiceError;
use crate::rooms::state::RoomState;

fn ev(sender: &OwnedUserId, kind: &str, state_key: Option<&str>, content: Value) -> NewEvent {
    NewEvent {
        event_id: owned_event_id!("$e"),
        room_id: owned_room_id!("!r:x"),
        sender: sender.clone(),
        kind: kind.into(),
        state_key: state_key.map(Into::into),
        content,
        origin_server_ts: Timestamp(0),
        redacts: None,
        txn: None,
    }
}

struct Room(RoomState);

impl Room {
    fn new() -> (Self, OwnedUserId) {
        let admin = owned_user_id!("@admin:x");
        let mut r = Room(RoomState::empty(owned_room_id!("!r:x")));
        r.push(ev(&admin, kinds::CREATE, Some(""), json!({"room_version": "11"})));
        r.push(ev(&admin, kinds::MEMBER, Some("@admin:x"), json!({"membership": "join"})));
        r.push(ev(
            &admin,
            kinds::POWER_LEVELS,
            Some(""),
            json!({"users": {"@admin:x": 100, "@mod:x": 50}, "events": {"m.room.name": 50}}),
        ));
        (r, admin)
    }

    fn push(&mut self, e: NewEvent) {
        let pos = StreamPos(self.0.last.0 + 1);
        self.0.apply(&StoredEvent { stream: pos, event: e, redacted_because: None });
    }

    fn try_push(&mut self, e: NewEvent) -> Result<(), ServiceError> {
        authorize(&self.0, &e, SenderFacts::default())?;
        self.push(e);
        Ok(())
    }

    fn member(&mut self, sender: &OwnedUserId, target: &str, m: &str) -> Result<(), ServiceError> {
        self.try_push(ev(sender, kinds::MEMBER, Some(target), json!({"membership": m})))
    }
}

fn forbidden(r: Result<(), ServiceError>) -> bool {
    matches!(r, Err(ServiceError::Forbidden(_)))
}

#[test]
fn invite_then_join() {
    let (mut r, admin) = Room::new();
    let bob = owned_user_id!("@bob:x");
    assert!(forbidden(r.member(&bob, "@bob:x", "join")), "uninvited join refused");
    r.member(&admin, "@bob:x", "invite").unwrap();
    assert!(forbidden(r.member(&admin, "@bob:x", "join")), "cannot join for someone else");
    r.member(&bob, "@bob:x", "join").unwrap();
    assert!(forbidden(r.member(&admin, "@bob:x", "invite")), "already joined");
}

#[test]
fn non_members_cannot_send() {
    let (mut r, _) = Room::new();
    let eve = owned_user_id!("@eve:x");
    assert!(forbidden(r.try_push(ev(&eve, kinds::MESSAGE, None, json!({"body": "x"})))));
    assert!(forbidden(r.member(&eve, "@eve:x", "invite")));
}

#[test]
fn power_levels_gate_state_and_kicks() {
    let (mut r, admin) = Room::new();
    let bob = owned_user_id!("@bob:x");
    let md = owned_user_id!("@mod:x");
    for u in ["@bob:x", "@mod:x"] {
        r.member(&admin, u, "invite").unwrap();
    }
    r.member(&bob, "@bob:x", "join").unwrap();
    r.member(&md, "@mod:x", "join").unwrap();
    assert!(forbidden(r.try_push(ev(&bob, kinds::NAME, Some(""), json!({"name": "x"})))), "bob below 50");
    r.try_push(ev(&md, kinds::NAME, Some(""), json!({"name": "Ward 7"}))).unwrap();
    r.try_push(ev(&bob, kinds::MESSAGE, None, json!({"body": "hi"}))).unwrap();
    assert!(forbidden(r.member(&bob, "@mod:x", "leave")), "bob cannot kick");
    assert!(forbidden(r.member(&md, "@admin:x", "leave")), "cannot kick a higher level");
    r.member(&md, "@bob:x", "ban").unwrap();
    assert!(forbidden(r.member(&bob, "@bob:x", "join")), "banned");
    r.member(&md, "@bob:x", "leave").unwrap();
    assert!(forbidden(r.member(&bob, "@bob:x", "join")), "unbanned is not invited");
}

#[test]
fn cannot_raise_power_beyond_own() {
    let (mut r, admin) = Room::new();
    let md = owned_user_id!("@mod:x");
    r.member(&admin, "@mod:x", "invite").unwrap();
    r.member(&md, "@mod:x", "join").unwrap();
    r.try_push(ev(
        &admin,
        kinds::POWER_LEVELS,
        Some(""),
        json!({
            "users": {"@admin:x": 100, "@mod:x": 50}, "events": {"m.room.power_levels": 50}
        }),
    ))
    .unwrap();
    let raise_self = json!({"users": {"@admin:x": 100, "@mod:x": 100}, "events": {"m.room.power_levels": 50}});
    assert!(forbidden(r.try_push(ev(&md, kinds::POWER_LEVELS, Some(""), raise_self))));
    let demote_admin = json!({"users": {"@admin:x": 0, "@mod:x": 50}, "events": {"m.room.power_levels": 50}});
    assert!(forbidden(r.try_push(ev(&md, kinds::POWER_LEVELS, Some(""), demote_admin))));
    let give_bob =
        json!({"users": {"@admin:x": 100, "@mod:x": 50, "@bob:x": 50}, "events": {"m.room.power_levels": 50}});
    r.try_push(ev(&md, kinds::POWER_LEVELS, Some(""), give_bob)).unwrap();
}

#[test]
fn user_state_keys_are_owned() {
    let (mut r, admin) = Room::new();
    let e = ev(&admin, "org.wardline.shift", Some("@bob:x"), json!({}));
    assert!(forbidden(r.try_push(e)));
}

#[test]
fn a_ban_holds_for_the_creator_whatever_the_power_levels() {
    let (mut r, admin) = Room::new();
    let bob = owned_user_id!("@bob:x");
    r.member(&admin, "@bob:x", "invite").unwrap();
    r.member(&bob, "@bob:x", "join").unwrap();
    let pl = json!({"users": {"@admin:x": 0, "@bob:x": 100}});
    r.try_push(ev(&admin, kinds::POWER_LEVELS, Some(""), pl)).unwrap();
    r.member(&bob, "@admin:x", "ban").unwrap();
    assert!(forbidden(r.member(&admin, "@admin:x", "join")), "banned, others still in the room");
    r.member(&bob, "@bob:x", "leave").unwrap();
    assert!(forbidden(r.member(&admin, "@admin:x", "join")), "banned, in an empty room");
}

#[test]
fn the_creator_joins_without_an_invite_only_first() {
    let (mut r, admin) = Room::new();
    r.member(&admin, "@admin:x", "leave").unwrap();
    assert!(forbidden(r.member(&admin, "@admin:x", "join")), "leaving an empty room is final");
}

#[test]
fn redactions_are_never_ordinary_events() {
    let (mut r, admin) = Room::new();
    let plain = ev(&admin, kinds::REDACTION, None, json!({"redacts": "$e"}));
    assert!(forbidden(r.try_push(plain)), "without a target checked by the redaction rule");
    let mut as_state = ev(&admin, kinds::REDACTION, Some(""), json!({"redacts": "$e"}));
    as_state.redacts = Some(owned_event_id!("$e"));
    assert!(forbidden(r.try_push(as_state)), "as state");
    let mut real = ev(&admin, kinds::REDACTION, None, json!({"redacts": "$e"}));
    real.redacts = Some(owned_event_id!("$e"));
    r.try_push(real).unwrap();
}

#[test]
fn closed_organisation_refusals() {
    let (mut r, admin) = Room::new();
    let hv = |v: &str| ev(&admin, kinds::HISTORY_VISIBILITY, Some(""), json!({"history_visibility": v}));
    assert!(forbidden(r.try_push(hv("world_readable"))));
    r.try_push(hv("joined")).unwrap();
    let public = ev(&admin, kinds::JOIN_RULES, Some(""), json!({"join_rule": "public"}));
    assert!(forbidden(r.try_push(public)));
}

#[test]
fn size_limits() {
    let (mut r, admin) = Room::new();
    let long = "t".repeat(256);
    let invalid = |res: Result<(), ServiceError>| matches!(res, Err(ServiceError::InvalidParam(_)));
    assert!(invalid(r.try_push(ev(&admin, &long, None, json!({})))));
    assert!(invalid(r.try_push(ev(&admin, "org.wardline.note", Some(&long), json!({})))));
    let big = json!({"body": "x".repeat(65_536)});
    assert!(invalid(r.try_push(ev(&admin, kinds::MESSAGE, None, big))));
    r.try_push(ev(&admin, &"t".repeat(255), None, json!({}))).unwrap();
}

#[test]
fn only_a_hospital_system_writes_an_incidents_state() {
    let (mut r, admin) = Room::new();
    let incident =
        |sender: &OwnedUserId| ev(sender, wardline_types::alarm::INCIDENT, Some(""), json!({"state": "closed"}));
    assert!(forbidden(r.try_push(incident(&admin))), "not even the room's administrator");
    let system = owned_user_id!("@integration.arrest:x");
    r.member(&admin, "@integration.arrest:x", "invite").unwrap();
    r.member(&system, "@integration.arrest:x", "join").unwrap();
    r.push(ev(
        &admin,
        kinds::POWER_LEVELS,
        Some(""),
        json!({"users": {"@admin:x": 100, "@integration.arrest:x": 100}}),
    ));
    r.try_push(incident(&system)).unwrap();
}
