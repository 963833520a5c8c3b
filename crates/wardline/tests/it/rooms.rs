//! Rooms: creation presets, membership, power levels, the closed user group, state.

use serde_json::json;

use crate::harness::{Server, enc};

#[tokio::test]
async fn closed_user_group() {
    let s = Server::start();
    let a = s.user("ada").await;
    let room = a.create_room(json!({"name": "Ward 7"})).await;
    let (st, b) = a.invite(&room, "@mallory:example.org").await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    assert!(b["error"].as_str().unwrap().contains("not a member of this organisation"), "{b}");
    let (st, _) = a.invite(&room, "@ghost:localhost").await;
    assert_eq!(st, 404, "a local user without an account cannot be invited");
    let (st, _) = a.post("/_matrix/client/v3/createRoom", json!({"invite": ["@eve:evil.example"]})).await;
    assert_eq!(st, 403);
    let (st, _) = a.post("/_matrix/client/v3/createRoom", json!({"preset": "public_chat"})).await;
    assert_eq!(st, 403, "no public rooms");
    let (st, _) = a.post("/_matrix/client/v3/createRoom", json!({"visibility": "public"})).await;
    assert_eq!(st, 403, "no public directory");
    let (st, _) = a
        .put(
            &format!("/_matrix/client/v3/rooms/{}/state/m.room.join_rules/", enc(&room)),
            json!({"join_rule": "public"}),
        )
        .await;
    assert_eq!(st, 403, "a room cannot be made public later");
    // No public directory: the list is empty, and needs a token.
    let (st, list) = a.get("/_matrix/client/v3/publicRooms").await;
    assert_eq!(st, 200);
    assert_eq!(list["chunk"], json!([]));
    let (st, _) = s.client().get("/_matrix/client/v3/publicRooms").await;
    assert_eq!(st, 401);
    // Federation endpoints do not exist.
    let (st, _) = a.get("/_matrix/federation/v1/version").await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn membership_and_power_levels() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let c = s.user("cat").await;
    let room = a.create_room(json!({"name": "Ward 7", "topic": "Cardiology", "invite": ["@ben:localhost"]})).await;
    // Not invited: cannot join or read.
    let (st, _) = c.post(&format!("/_matrix/client/v3/rooms/{}/join", enc(&room)), json!({})).await;
    assert_eq!(st, 403);
    let (st, _) = c.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b", enc(&room))).await;
    assert_eq!(st, 403);
    b.join(&room).await;
    let (st, body) = b.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(st, 200);
    assert_eq!(body["joined_rooms"], json!([room]));
    // Ben (power 0) may talk but not rename the room, invite is allowed (invite level 0).
    let (st, _) = b.send_text(&room, "t1", "hello").await;
    assert_eq!(st, 200);
    let (st, body) =
        b.put(&format!("/_matrix/client/v3/rooms/{}/state/m.room.name/", enc(&room)), json!({"name": "x"})).await;
    assert_eq!((st, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    let (st, _) = b.invite(&room, "@cat:localhost").await;
    assert_eq!(st, 200);
    c.join(&room).await;
    // Ben cannot kick Cat; Ada can.
    let (st, _) =
        b.post(&format!("/_matrix/client/v3/rooms/{}/kick", enc(&room)), json!({"user_id": "@cat:localhost"})).await;
    assert_eq!(st, 403);
    let (st, _) = a
        .post(
            &format!("/_matrix/client/v3/rooms/{}/kick", enc(&room)),
            json!({"user_id": "@cat:localhost", "reason": "wrong ward"}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = c.send_text(&room, "t1", "still here?").await;
    assert_eq!(st, 403, "kicked users cannot send");
    // Ban, then unban: banned users cannot be re-invited until unbanned.
    let (st, _) =
        a.post(&format!("/_matrix/client/v3/rooms/{}/ban", enc(&room)), json!({"user_id": "@cat:localhost"})).await;
    assert_eq!(st, 200);
    let (st, _) = a.invite(&room, "@cat:localhost").await;
    assert_eq!(st, 403);
    let (st, _) =
        a.post(&format!("/_matrix/client/v3/rooms/{}/unban", enc(&room)), json!({"user_id": "@cat:localhost"})).await;
    assert_eq!(st, 200);
    let (st, _) = a.invite(&room, "@cat:localhost").await;
    assert_eq!(st, 200);
    // Ada raises Ben to moderator through the power levels.
    let (st, mut pl) = a.get(&format!("/_matrix/client/v3/rooms/{}/state/m.room.power_levels/", enc(&room))).await;
    assert_eq!(st, 200);
    pl["users"]["@ben:localhost"] = json!(50);
    let (st, _) =
        a.put(&format!("/_matrix/client/v3/rooms/{}/state/m.room.power_levels", enc(&room)), pl.clone()).await;
    assert_eq!(st, 200);
    let (st, _) = b
        .put(&format!("/_matrix/client/v3/rooms/{}/state/m.room.name/", enc(&room)), json!({"name": "Ward 7 North"}))
        .await;
    assert_eq!(st, 200);
    pl["users"]["@ben:localhost"] = json!(100);
    let (st, _) = b.put(&format!("/_matrix/client/v3/rooms/{}/state/m.room.power_levels/", enc(&room)), pl).await;
    assert_eq!(st, 403, "cannot raise yourself above your level");
    let (_, name) = c.get(&format!("/_matrix/client/v3/rooms/{}/state/m.room.name/", enc(&room))).await;
    assert_eq!(name["errcode"], "M_FORBIDDEN", "an invitee cannot read state yet");
    // Members and joined members.
    let (st, members) = a.get(&format!("/_matrix/client/v3/rooms/{}/joined_members", enc(&room))).await;
    assert_eq!(st, 200);
    let joined = members["joined"].as_object().unwrap();
    assert_eq!(joined.len(), 2);
    assert_eq!(joined["@ada:localhost"]["display_name"], "Dr ada");
    let (_, all) = a.get(&format!("/_matrix/client/v3/rooms/{}/members?membership=invite", enc(&room))).await;
    assert_eq!(all["chunk"].as_array().unwrap().len(), 1);
    let (_, state) = a.get(&format!("/_matrix/client/v3/rooms/{}/state", enc(&room))).await;
    let kinds: Vec<&str> = state.as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    for k in [
        "m.room.create",
        "m.room.power_levels",
        "m.room.join_rules",
        "m.room.history_visibility",
        "m.room.name",
        "m.room.topic",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    // Someone who rejects an invite never sees the room's state or members.
    let dan = s.user("dan").await;
    a.invite(&room, &dan.user_id).await;
    let (st, _) = dan.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
    assert_eq!(st, 200);
    for path in ["state", "members"] {
        let (st, _) = dan.get(&format!("/_matrix/client/v3/rooms/{}/{path}", enc(&room))).await;
        assert_eq!(st, 403, "{path} after rejecting an invite");
    }
    // Leave and forget.
    let (st, _) = b.post(&format!("/_matrix/client/v3/rooms/{}/forget", enc(&room)), json!({})).await;
    assert_eq!(st, 403, "cannot forget a room you are in");
    let (st, _) = b.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
    assert_eq!(st, 200);
    let (st, _) = b.post(&format!("/_matrix/client/v3/rooms/{}/forget", enc(&room)), json!({})).await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn trusted_private_chat_and_direct_chats() {
    let s = Server::start();
    let a = s.user("ada").await;
    let _b = s.user("ben").await;
    let room = a
        .create_room(json!({"preset": "trusted_private_chat", "is_direct": true, "invite": ["@ben:localhost"],
            "initial_state": [{"type": "m.room.topic", "state_key": "", "content": {"topic": "handover"}}],
            "power_level_content_override": {"events_default": 0}}))
        .await;
    let (_, pl) = a.get(&format!("/_matrix/client/v3/rooms/{}/state/m.room.power_levels/", enc(&room))).await;
    assert_eq!(pl["users"]["@ben:localhost"], 100, "trusted invitees get the creator's level");
    let (_, members) = a.get(&format!("/_matrix/client/v3/rooms/{}/members", enc(&room))).await;
    let invite = members["chunk"].as_array().unwrap().iter().find(|e| e["state_key"] == "@ben:localhost").unwrap();
    assert_eq!(invite["content"]["is_direct"], true);
    let (_, topic) = a.get(&format!("/_matrix/client/v3/rooms/{}/state/m.room.topic/", enc(&room))).await;
    assert_eq!(topic["topic"], "handover");
    let (st, b) = a.post("/_matrix/client/v3/createRoom", json!({"room_version": "1"})).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_UNSUPPORTED_ROOM_VERSION")));
}

/// A ban holds whatever the power levels: a creator who gave their power away and was banned
/// cannot come back through `/join`, even to a room nobody is in any more.
#[tokio::test]
async fn a_banned_creator_stays_banned() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.create_room(json!({"invite": [b.user_id]})).await;
    b.join(&room).await;
    let pl_path = format!("/_matrix/client/v3/rooms/{}/state/m.room.power_levels/", enc(&room));
    let (_, mut pl) = a.get(&pl_path).await;
    pl["users"] = json!({"@ada:localhost": 0, "@ben:localhost": 100});
    let (st, body) = a.put(&pl_path, pl).await;
    assert_eq!(st, 200, "{body}");
    let (st, _) = b.post(&format!("/_matrix/client/v3/rooms/{}/ban", enc(&room)), json!({"user_id": a.user_id})).await;
    assert_eq!(st, 200);
    b.send_text(&room, "t1", "said while ada was banned").await;
    for path in
        [format!("/_matrix/client/v3/rooms/{}/join", enc(&room)), format!("/_matrix/client/v3/join/{}", enc(&room))]
    {
        let (st, body) = a.post(&path, json!({})).await;
        assert_eq!((st, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{path}: {body}");
    }
    // Ben leaves: the room is empty, and still the ban holds.
    b.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
    for path in
        [format!("/_matrix/client/v3/rooms/{}/join", enc(&room)), format!("/_matrix/client/v3/join/{}", enc(&room))]
    {
        let (st, body) = a.post(&path, json!({})).await;
        assert_eq!((st, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{path}: {body}");
    }
    let (_, page) = a.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b", enc(&room))).await;
    let bodies: Vec<&str> =
        page["chunk"].as_array().unwrap().iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    assert!(!bodies.contains(&"said while ada was banned"), "{bodies:?}");
}

/// `world_readable` would let someone who was never in a room read it: refused at creation and
/// later.
#[tokio::test]
async fn world_readable_history_is_refused() {
    let s = Server::start();
    let a = s.user("ada").await;
    let (st, body) = a
        .post(
            "/_matrix/client/v3/createRoom",
            json!({"initial_state": [{"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "world_readable"}}]}),
        )
        .await;
    assert_eq!((st, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{body}");
    let room = a.create_room(json!({})).await;
    let path = format!("/_matrix/client/v3/rooms/{}/state/m.room.history_visibility/", enc(&room));
    let (st, body) = a.put(&path, json!({"history_visibility": "world_readable"})).await;
    assert_eq!((st, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{body}");
    for allowed in ["joined", "invited", "shared"] {
        let (st, body) = a.put(&path, json!({"history_visibility": allowed})).await;
        assert_eq!(st, 200, "{allowed}: {body}");
    }
}

/// The spec's limits: types and state keys of at most 255 bytes, events of at most 65,536
/// bytes, on every way of sending.
#[tokio::test]
async fn event_types_state_keys_and_sizes_are_limited() {
    let s = Server::start();
    let a = s.user("ada").await;
    let room = a.create_room(json!({})).await;
    let r = enc(&room);
    let long = "t".repeat(256);
    let big = "x".repeat(65_536);
    let refused = [
        a.put(&format!("/_matrix/client/v3/rooms/{r}/send/{long}/t1"), json!({})).await,
        a.put(&format!("/_matrix/client/v3/rooms/{r}/state/{long}/"), json!({})).await,
        a.put(&format!("/_matrix/client/v3/rooms/{r}/state/org.wardline.note/{long}"), json!({})).await,
        a.put(&format!("/_matrix/client/v3/rooms/{r}/state/m.room.topic/"), json!({"topic": big})).await,
        a.put(
            &format!("/_matrix/client/v3/rooms/{r}/send/m.room.message/t2"),
            json!({"msgtype": "m.text", "body": big}),
        )
        .await,
        a.post(
            "/_matrix/client/v3/createRoom",
            json!({"initial_state": [{"type": long, "state_key": "", "content": {}}]}),
        )
        .await,
        a.post(
            "/_matrix/client/v3/createRoom",
            json!({"initial_state": [{"type": "org.wardline.note", "state_key": long, "content": {}}]}),
        )
        .await,
        a.post("/_matrix/client/v3/createRoom", json!({"topic": big})).await,
    ];
    for (i, (st, body)) in refused.iter().enumerate() {
        assert_eq!(*st, 400, "case {i}: {body}");
    }
    let just = "t".repeat(255);
    let (st, body) = a.put(&format!("/_matrix/client/v3/rooms/{r}/send/{just}/t3"), json!({})).await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = a.put(&format!("/_matrix/client/v3/rooms/{r}/state/org.wardline.note/{just}"), json!({})).await;
    assert_eq!(st, 200, "{body}");
}
