//! Readers of a room's state never wait for its writers, and see only what the store proved.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use futures::FutureExt;
use ruma::{OwnedRoomId, OwnedUserId};
use serde_json::json;
use wardline_store::Store;
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::{Membership, NewAccount, NewEvent, SystemClock, Timestamp, kinds};

use super::{CreateRoom, SendEvent};
use crate::audit::Actor;
use crate::{Config, Services};

fn user(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{name}:localhost")).unwrap()
}

fn actor(name: &str) -> Actor {
    Actor::system(user(name))
}

/// Ada's room with Ben invited; Cat has an account.
async fn ward() -> (Services, Arc<dyn Store>, OwnedRoomId, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    let s = Services::new(config, Arc::clone(&store), Arc::new(SystemClock)).unwrap();
    tokio::spawn(s.audit.clone().run_writer());
    for name in ["ada", "ben", "cat"] {
        let account = NewAccount {
            user_id: user(name),
            password_hash: "not a password".into(),
            display_name: None,
            is_admin: false,
            must_change_password: false,
            job_title: None,
            department: None,
            email: None,
            phone: None,
        };
        store.create_account(account, Timestamp(1)).await.unwrap();
    }
    let req = CreateRoom { invite: vec![user("ben")], ..CreateRoom::default() };
    let room = s.rooms.create_room(&actor("ada"), req).await.unwrap();
    (s, store, room, dir)
}

fn message(room: &OwnedRoomId) -> SendEvent {
    SendEvent {
        room_id: room.clone(),
        kind: "m.room.message".into(),
        state_key: None,
        content: json!({"msgtype": "m.text", "body": "obs due"}),
        redacts: None,
        txn: None,
    }
}

// "Does not wait" is shown without a clock: with the room's write lock held (as by a send
// waiting for its commit), the read is complete the first time it is polled.

#[tokio::test]
async fn a_read_does_not_wait_for_a_writer_holding_the_room() {
    let (s, _store, room, _dir) = ward().await;
    s.rooms.join(&room, &actor("ben")).await.unwrap();
    let writing = s.rooms.lock(&room).await.unwrap();
    let ben = s.rooms.with_state(&room, |st| st.membership(&user("ben"))).now_or_never();
    assert_eq!(ben.expect("the read waited for the writer").unwrap(), Some(Membership::Join));
    let state = s.rooms.state(&room).now_or_never().expect("the read waited for the writer").unwrap();
    assert!(state.exists());
    drop(writing);
}

#[tokio::test]
async fn a_reader_sees_a_state_change_the_snapshot_has_not_caught_up_with() {
    let (s, store, room, _dir) = ward().await;
    assert_eq!(s.rooms.with_state(&room, |st| st.membership(&user("ben"))).await.unwrap(), Some(Membership::Invite));
    // Ben's join commits while a writer holds the room and has not published it (as when a
    // request is dropped while its write commits).
    let writing = s.rooms.lock(&room).await.unwrap();
    let join = NewEvent {
        event_id: super::new_event_id(),
        room_id: room.clone(),
        sender: user("ben"),
        kind: kinds::MEMBER.into(),
        state_key: Some(user("ben").to_string()),
        content: json!({"membership": "join"}),
        origin_server_ts: Timestamp(2),
        redacts: None,
        txn: None,
    };
    store.append_events(vec![join], vec![]).await.unwrap();
    // The change log shows the snapshot is behind: the reader reads the store, still without
    // waiting for the writer.
    let ben = s.rooms.with_state(&room, |st| st.membership(&user("ben"))).now_or_never();
    assert_eq!(ben.expect("the read waited for the writer").unwrap(), Some(Membership::Join));
    drop(writing);
}

#[tokio::test]
async fn messages_keep_the_snapshot_and_state_events_replace_it() {
    let (s, _store, room, _dir) = ward().await;
    let before = s.rooms.state(&room).await.unwrap();
    s.rooms.send(&actor("ada"), message(&room)).await.unwrap();
    let after_message = s.rooms.state(&room).await.unwrap();
    assert!(Arc::ptr_eq(&before, &after_message), "a message changes no state: the snapshot is kept, not copied");
    s.rooms.join(&room, &actor("ben")).await.unwrap();
    let after_join = s.rooms.state(&room).await.unwrap();
    assert_eq!(after_join.membership(&user("ben")), Some(Membership::Join));
    // Whoever still holds the old snapshot sees it unchanged.
    assert_eq!(before.membership(&user("ben")), Some(Membership::Invite));
}
