//! The seating rule, on conversations built by hand.

use std::collections::HashMap;

use ruma::{OwnedUserId, owned_room_id};
use serde_json::{Value, json};
use wardline_types::role::fields;
use wardline_types::{
    Eligibility, HolderReason, NewEvent, Role, RoleDefinition, RoleHolder, RoleId, StoredEvent, StreamPos, Timestamp,
    kinds,
};

use super::{RoomState, SeatChange, plan, roles_in_room, seat_of};

fn u(s: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{s}:h.example")).unwrap()
}

fn rid(s: &str) -> RoleId {
    RoleId::parse(s).unwrap()
}

fn role(id: &str, holders: &[&str], fallback: Option<&str>) -> Role {
    Role {
        definition: RoleDefinition {
            id: rid(id),
            name: format!("Role {id}"),
            department: None,
            site: None,
            bleep: None,
            eligibility: Eligibility::default(),
            may_be_empty: true,
            fallback: fallback.map(rid),
        },
        retired: false,
        version: 1,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        holders: holders
            .iter()
            .map(|h| RoleHolder { user_id: u(h), since: Timestamp(0), reason: HolderReason::SwipeIn, from: None })
            .collect(),
    }
}

fn roles(list: Vec<Role>) -> HashMap<RoleId, Role> {
    list.into_iter().map(|r| (r.definition.id.clone(), r)).collect()
}

/// A conversation whose members have these member contents, in order.
fn room(members: &[(&str, Value)]) -> RoomState {
    let room_id = owned_room_id!("!r:h.example");
    let mut events = vec![StoredEvent {
        stream: StreamPos(1),
        event: NewEvent {
            event_id: ruma::owned_event_id!("$create"),
            room_id: room_id.clone(),
            sender: u("nurse"),
            kind: kinds::CREATE.into(),
            state_key: Some(String::new()),
            content: json!({"room_version": "11"}),
            origin_server_ts: Timestamp(0),
            redacts: None,
            txn: None,
        },
        redacted_because: None,
    }];
    for (i, (user, content)) in members.iter().enumerate() {
        let mut e = events[0].clone();
        e.stream = StreamPos(i as i64 + 2);
        e.event.event_id = ruma::OwnedEventId::try_from(format!("$m{i}")).unwrap();
        e.event.kind = kinds::MEMBER.into();
        e.event.state_key = Some(u(user).to_string());
        e.event.content = content.clone();
        events.push(e);
    }
    RoomState::from_events(room_id, events)
}

fn joined() -> Value {
    json!({"membership": "join"})
}

fn role_member(id: &str) -> Value {
    json!({"membership": "join", fields::ROLE: {"id": id, "name": id}})
}

fn seated(role: &str) -> Value {
    json!({"membership": "join", fields::SEAT: {"role": role, "name": role}})
}

#[test]
fn holders_are_seated_and_the_former_holder_leaves() {
    let state = room(&[("nurse", joined()), ("role.reg", role_member("reg")), ("shah", seated("reg"))]);
    assert_eq!(roles_in_room(&state).len(), 1);
    assert_eq!(seat_of(&state, &u("shah")), Some(rid("reg")));
    assert_eq!(seat_of(&state, &u("nurse")), None);
    // Nothing to do while Dr Shah holds it.
    assert!(plan(&state, &roles(vec![role("reg", &["shah"], None)])).is_empty());
    // Handed to Dr Jones: Shah leaves, Jones is seated.
    assert_eq!(
        plan(&state, &roles(vec![role("reg", &["jones"], None)])),
        vec![
            SeatChange::Unseat { user: u("shah"), role: rid("reg") },
            SeatChange::Seat { user: u("jones"), role: rid("reg") }
        ]
    );
}

#[test]
fn people_in_their_own_right_are_never_moved() {
    // The nurse is a member herself and also holds the role: she is not seated nor removed.
    let state = room(&[("nurse", joined()), ("role.reg", role_member("reg"))]);
    assert!(plan(&state, &roles(vec![role("reg", &["nurse"], None)])).is_empty());
    assert!(plan(&state, &roles(vec![role("reg", &[], None)])).is_empty());
}

#[test]
fn a_holder_of_two_roles_of_the_conversation_stays_while_holding_either() {
    let state =
        room(&[("role.a", role_member("a")), ("role.b", role_member("b")), ("shah", seated("a")), ("nurse", joined())]);
    assert_eq!(
        plan(&state, &roles(vec![role("a", &[], None), role("b", &["shah"], None)])),
        vec![SeatChange::Reseat { user: u("shah"), role: rid("b") }]
    );
}

#[test]
fn a_role_that_left_unseats_its_holders() {
    let mut state = room(&[("nurse", joined()), ("role.reg", role_member("reg")), ("shah", seated("reg"))]);
    state = room_with(&state, &[("role.reg", json!({"membership": "leave"}))]);
    assert_eq!(
        plan(&state, &roles(vec![role("reg", &["shah"], None)])),
        vec![SeatChange::Unseat { user: u("shah"), role: rid("reg") }]
    );
}

#[test]
fn a_fallback_withdraws_once_the_role_is_held_again() {
    let fallback = json!({"membership": "join", fields::ROLE: {"id": "sb"}, fields::FALLBACK_FOR: "reg"});
    let state =
        room(&[("nurse", joined()), ("role.reg", role_member("reg")), ("role.sb", fallback), ("op", seated("sb"))]);
    // Still nobody on reg: switchboard's operator stays.
    assert!(plan(&state, &roles(vec![role("reg", &[], Some("sb")), role("sb", &["op"], None)])).is_empty());
    // Reg is held again: switchboard withdraws and its operator leaves; the registrar arrives.
    assert_eq!(
        plan(&state, &roles(vec![role("reg", &["shah"], Some("sb")), role("sb", &["op"], None)])),
        vec![
            SeatChange::Withdraw { role: rid("sb"), stood_in_for: rid("reg") },
            SeatChange::Unseat { user: u("op"), role: rid("sb") },
            SeatChange::Seat { user: u("shah"), role: rid("reg") }
        ]
    );
}

#[test]
fn a_retired_or_unknown_role_seats_nobody_and_banned_people_stay_out() {
    let state =
        room(&[("role.reg", role_member("reg")), ("shah", seated("reg")), ("jones", json!({"membership": "ban"}))]);
    let mut retired = role("reg", &["shah", "jones"], None);
    retired.retired = true;
    assert_eq!(plan(&state, &roles(vec![retired])), vec![SeatChange::Unseat { user: u("shah"), role: rid("reg") }]);
    assert_eq!(plan(&state, &HashMap::new()), vec![SeatChange::Unseat { user: u("shah"), role: rid("reg") }]);
    assert!(
        plan(&state, &roles(vec![role("reg", &["shah", "jones"], None)])).is_empty(),
        "jones is banned: not seated"
    );
}

/// `state` with more member events after it.
fn room_with(state: &RoomState, more: &[(&str, Value)]) -> RoomState {
    let mut s = state.clone();
    for (i, (user, content)) in more.iter().enumerate() {
        let mut e = s.get(kinds::CREATE, "").unwrap().clone();
        e.stream = StreamPos(100 + i as i64);
        e.event.event_id = ruma::OwnedEventId::try_from(format!("$x{i}")).unwrap();
        e.event.kind = kinds::MEMBER.into();
        e.event.state_key = Some(u(user).to_string());
        e.event.content = content.clone();
        s.apply(&e);
    }
    s
}
