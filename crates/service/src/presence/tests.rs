//! Presence over the real store with the manual clock: thresholds crossed, colleagues told
//! through `/sync`, a restart, and the user's own choice against the syncing loop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ruma::{OwnedDeviceId, OwnedUserId};
use wardline_store::Store;
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::{Clock, ManualClock, NewAccount, Timestamp};

use super::PresenceState;
use crate::audit::Actor;
use crate::config::{PresenceSettings, SyncSettings};
use crate::rooms::CreateRoom;
use crate::sync::{SyncRequest, SyncResult};
use crate::{Caller, Config, Services};

const T0: Timestamp = Timestamp(1_800_000_000_000);

fn user(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{name}:localhost")).unwrap()
}

fn actor(name: &str) -> Actor {
    Actor { user_id: user(name), device_id: Some(OwnedDeviceId::from("PC")), ip: None }
}

fn caller(name: &str) -> Caller {
    Caller {
        user_id: user(name),
        device_id: OwnedDeviceId::from("PC"),
        is_admin: false,
        must_change_password: false,
        token_hash: String::new(),
        ip: None,
        must_enrol_mfa: false,
        signed_in_at: T0,
    }
}

/// Ada and Ben share a room; Cat has an account and no room with them.
struct Ward {
    s: Services,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
}

impl Ward {
    async fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
        let clock = Arc::new(ManualClock::new(T0));
        let s = Self::services(&dir, &store, &clock);
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
            store.create_account(account, T0).await.unwrap();
        }
        let room = s
            .rooms
            .create_room(&actor("ada"), CreateRoom { invite: vec![user("ben")], ..CreateRoom::default() })
            .await
            .unwrap();
        s.rooms.join(&room, &actor("ben")).await.unwrap();
        Self { s, clock, store, dir }
    }

    fn services(dir: &tempfile::TempDir, store: &Arc<dyn Store>, clock: &Arc<ManualClock>) -> Services {
        let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
        let s = Services::new(config, Arc::clone(store), clock.clone()).unwrap();
        tokio::spawn(s.audit.clone().run_writer());
        s
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    async fn sync(&self, name: &str, since: Option<&SyncResult>, set_presence: PresenceState) -> SyncResult {
        let req = SyncRequest { since: since.map(|r| r.next_batch), set_presence, ..SyncRequest::default() };
        self.s.sync.sync(&caller(name), req).await.unwrap()
    }

    /// Ada's presence as Ben sees it now.
    async fn seen(&self, name: &str) -> String {
        self.s.presence.get(&user("ben"), false, &user(name)).await.unwrap().state
    }
}

/// Ada's presence events in a sync response.
fn ada_in(r: &SyncResult) -> Vec<&str> {
    r.presence.iter().filter(|p| p.user_id == user("ada")).map(|p| p.state.as_str()).collect()
}

#[tokio::test]
async fn online_while_syncing_unavailable_when_idle_offline_when_gone_and_colleagues_are_told() {
    let w = Ward::open().await;
    let ben = w.sync("ben", None, PresenceState::Online).await;
    let mut woken = w.s.notifier.subscribe(&user("ben"));
    woken.mark_unchanged();

    // Ada's sync marks her online and wakes Ben.
    w.sync("ada", None, PresenceState::Online).await;
    assert!(woken.has_changed().unwrap(), "Ben's long-poll is woken");
    let ben = w.sync("ben", Some(&ben), PresenceState::Online).await;
    assert_eq!(ada_in(&ben), ["online"]);
    assert_eq!(w.seen("ada").await, "online");

    // Ada's client keeps syncing, but she does nothing: online until idle_after (300 s).
    let mut ben = ben;
    for _ in 0..5 {
        w.advance(59);
        w.sync("ada", None, PresenceState::Online).await;
        w.sync("ben", None, PresenceState::Online).await;
        w.s.presence.active(&user("ben")).await.unwrap();
        assert_eq!(w.s.presence.sweep().await.unwrap(), 0);
    }
    w.advance(4);
    assert_eq!(w.s.presence.sweep().await.unwrap(), 0, "299 s idle");
    woken.mark_unchanged();
    w.advance(1);
    assert_eq!(w.s.presence.sweep().await.unwrap(), 1, "300 s idle");
    assert!(woken.has_changed().unwrap(), "Ben is told at once");
    ben = w.sync("ben", Some(&ben), PresenceState::Online).await;
    assert_eq!(ada_in(&ben), ["unavailable"]);
    assert_eq!(w.seen("ada").await, "unavailable");

    // A message from Ada: online again (activity), told to Ben.
    w.s.presence.active(&user("ada")).await.unwrap();
    ben = w.sync("ben", Some(&ben), PresenceState::Online).await;
    assert_eq!(ada_in(&ben), ["online"]);

    // Ada's client stops syncing; her last stored sync was at 295 s: offline 120 s later.
    w.advance(114);
    w.sync("ben", None, PresenceState::Online).await;
    assert_eq!(w.s.presence.sweep().await.unwrap(), 0, "119 s without a sync");
    w.advance(1);
    assert_eq!(w.s.presence.sweep().await.unwrap(), 1, "120 s without a sync");
    ben = w.sync("ben", Some(&ben), PresenceState::Online).await;
    assert_eq!(ada_in(&ben), ["offline"]);
    let p = w.s.presence.get(&user("ben"), false, &user("ada")).await.unwrap();
    assert_eq!(w.clock.now().millis_since(p.last_active), 115_000, "last active at the message");
    assert_eq!(w.s.presence.sweep().await.unwrap(), 0, "told once");
}

#[tokio::test]
async fn a_sync_with_set_presence_offline_does_not_mark_online_and_unavailable_marks_away() {
    let w = Ward::open().await;
    let ben = w.sync("ben", None, PresenceState::Online).await;
    w.sync("ada", None, PresenceState::Offline).await;
    assert_eq!(w.seen("ada").await, "offline");
    let ben = w.sync("ben", Some(&ben), PresenceState::Online).await;
    assert!(ada_in(&ben).is_empty(), "nothing to tell");
    w.sync("ada", None, PresenceState::Unavailable).await;
    assert_eq!(w.seen("ada").await, "unavailable");
    let ben = w.sync("ben", Some(&ben), PresenceState::Online).await;
    assert_eq!(ada_in(&ben), ["unavailable"]);
    // Online again when the client says so; an offline sync after that changes nothing.
    w.sync("ada", None, PresenceState::Online).await;
    w.sync("ada", None, PresenceState::Offline).await;
    assert_eq!(w.seen("ada").await, "online");
}

#[tokio::test]
async fn a_chosen_status_outlasts_the_syncing_loop() {
    let w = Ward::open().await;
    w.sync("ada", None, PresenceState::Online).await;
    w.s.presence.choose(&user("ada"), "unavailable", Some("In theatre".into())).await.unwrap();
    for _ in 0..3 {
        w.advance(50);
        w.sync("ada", None, PresenceState::Online).await;
        w.s.presence.active(&user("ada")).await.unwrap();
    }
    let p = w.s.presence.get(&user("ben"), false, &user("ada")).await.unwrap();
    assert_eq!((p.state.as_str(), p.status_msg.as_deref()), ("unavailable", Some("In theatre")));
    w.s.presence.choose(&user("ada"), "online", None).await.unwrap();
    assert_eq!(w.seen("ada").await, "online");
    assert!(w.s.presence.choose(&user("ada"), "busy", None).await.is_err());
    assert!(w.s.presence.get(&user("cat"), false, &user("ada")).await.is_err(), "no shared room");
}

#[tokio::test]
async fn expiry_is_computed_from_stored_facts_so_a_restarted_server_finds_it() {
    let w = Ward::open().await;
    w.sync("ada", None, PresenceState::Online).await;
    drop(w.s);
    w.clock.advance(Duration::from_secs(3600));
    let restarted = Ward::services(&w.dir, &w.store, &w.clock);
    assert_eq!(restarted.presence.get(&user("ben"), false, &user("ada")).await.unwrap().state, "offline");
    let before = w.store.current_pos();
    assert_eq!(restarted.presence.sweep().await.unwrap(), 1);
    let changes = w.store.presence_changes(wardline_store::PosRange::new(before, w.store.current_pos())).await.unwrap();
    assert_eq!(changes.iter().map(|p| p.state.as_str()).collect::<Vec<_>>(), ["offline"]);
}

#[test]
fn offline_must_outlast_the_longest_long_poll() {
    let sync = SyncSettings { max_timeout_ms: 60_000, ..SyncSettings::default() };
    let short = PresenceSettings { idle_after_secs: 300, offline_after_secs: 60 };
    assert!(super::PresenceService::thresholds(&short, &sync).is_err());
    let ok = PresenceSettings { idle_after_secs: 300, offline_after_secs: 61 };
    assert!(super::PresenceService::thresholds(&ok, &sync).is_ok());
}
