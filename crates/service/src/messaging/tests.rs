//! The rule over stored facts, with the manual clock: who is a recipient, what counts as
//! delivered and read, and which counts `/sync` reports as changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
use serde_json::json;
use wardline_store::{Delivery, PosRange, Store};
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::{Clock, ManualClock, StreamPos, Timestamp};

use super::{Counts, SyncWindow};
use crate::accounts::NewStaff;
use crate::audit::Actor;
use crate::rooms::{CreateRoom, SendEvent};
use crate::{Config, Services};

const T0: Timestamp = Timestamp(1_800_000_000_000);

struct Ward {
    s: Services,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    room: OwnedRoomId,
    _dir: tempfile::TempDir,
}

fn user(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{name}:localhost")).unwrap()
}

fn actor(name: &str) -> Actor {
    Actor { user_id: user(name), device_id: None, ip: None }
}

impl Ward {
    /// Ada's room, with Ben, Cat and Eve in it.
    async fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
        let clock = Arc::new(ManualClock::new(T0));
        let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
        let s = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
        tokio::spawn(s.audit.clone().run_writer());
        for name in ["ada", "ben", "cat", "dan", "eve"] {
            let staff = NewStaff {
                username: name.into(),
                password: Some("correct horse battery staple".into()),
                ..NewStaff::default()
            };
            s.accounts.create(staff).await.unwrap();
        }
        let invite = vec![user("ben"), user("cat"), user("eve")];
        let room = s.rooms.create_room(&actor("ada"), CreateRoom { invite, ..CreateRoom::default() }).await.unwrap();
        for name in ["ben", "cat", "eve"] {
            s.rooms.join(&room, &actor(name)).await.unwrap();
        }
        Self { s, clock, store, room, _dir: dir }
    }

    async fn send(&self, by: &str, body: &str) -> (OwnedEventId, StreamPos) {
        let req = SendEvent {
            room_id: self.room.clone(),
            kind: "m.room.message".into(),
            state_key: None,
            content: json!({"msgtype": "m.text", "body": body}),
            redacts: None,
            txn: None,
        };
        let id = self.s.rooms.send(&actor(by), req).await.unwrap();
        let pos = self.store.event(&id).await.unwrap().unwrap().stream;
        (id, pos)
    }

    /// A response carried `first..=last` to `name`'s device now.
    async fn deliver(&self, name: &str, first: StreamPos, last: StreamPos) {
        let d = Delivery {
            room_id: self.room.clone(),
            user_id: user(name),
            first,
            last,
            ts: self.clock.now(),
            stream: StreamPos::ZERO,
        };
        self.store.put_deliveries(vec![d]).await.unwrap();
    }

    async fn read(&self, name: &str, event: &OwnedEventId) {
        self.s.userdata.receipt(&user(name), &self.room, "m.read", event, None).await.unwrap();
    }

    fn later(&self, secs: u64) -> Timestamp {
        self.clock.advance(Duration::from_secs(secs));
        self.clock.now()
    }

    /// `(user, delivered, read)` for each recipient, as Ada asks.
    async fn status(&self, event: &OwnedEventId) -> Vec<(String, Option<Timestamp>, Option<Timestamp>)> {
        let st = self.s.status.status(&user("ada"), &self.room, event).await.unwrap();
        st.recipients.into_iter().map(|r| (r.user_id.localpart().to_owned(), r.delivered, r.read)).collect()
    }

    async fn sync_counts(&self, who: &UserId, since: Option<StreamPos>) -> Vec<(OwnedEventId, Counts)> {
        let upto = self.store.current_pos();
        let window = PosRange::new(since.unwrap_or(StreamPos::ZERO), upto);
        let receipts = self.store.receipts(&self.room, window).await.unwrap();
        let w = SyncWindow { since, upto, new_deliveries: true, receipts: &receipts, own_new: None };
        self.s.status.sync_counts(who, &self.room, w).await.unwrap()
    }
}

fn counts(recipients: u64, delivered: u64, read: u64) -> Counts {
    Counts { recipients, delivered, read }
}

#[tokio::test(flavor = "multi_thread")]
async fn delivered_and_read_by_the_one_rule() {
    let w = Ward::open().await;
    let (m1, p1) = w.send("ada", "Bed 4: potassium 6.1, please review").await;
    // Dan joins after the message: not a recipient. Cat leaves: still one.
    w.s.rooms.invite(&w.room, &actor("ada"), &user("dan"), None).await.unwrap();
    w.s.rooms.join(&w.room, &actor("dan")).await.unwrap();
    w.s.rooms.leave(&w.room, &actor("cat"), None).await.unwrap();
    let none = |n: &str| (n.to_owned(), None, None);
    assert_eq!(w.status(&m1).await, vec![none("ben"), none("cat"), none("eve")]);

    // Eve marks it read before her device has it: that reads nothing.
    let t_eve_early = w.later(1);
    w.read("eve", &m1).await;
    // Ben's device gets it, and Dan's (a late joiner's delivery is no recipient's).
    let t_ben = w.later(1);
    w.deliver("ben", p1, p1).await;
    w.deliver("dan", p1, p1).await;
    w.read("dan", &m1).await;
    let t_eve = w.later(1);
    w.deliver("eve", p1, p1).await;
    assert!(t_eve_early < t_eve);
    assert_eq!(
        w.status(&m1).await,
        vec![("ben".into(), Some(t_ben), None), none("cat"), ("eve".into(), Some(t_eve), None)]
    );
    let before_reads = w.store.current_pos();
    // Ben reads it; delivered again later, it keeps its first time.
    let t_ben_read = w.later(60);
    w.read("ben", &m1).await;
    w.later(1);
    w.deliver("ben", p1, p1).await;
    assert_eq!(
        w.status(&m1).await,
        vec![("ben".into(), Some(t_ben), Some(t_ben_read)), none("cat"), ("eve".into(), Some(t_eve), None)]
    );
    assert_eq!(w.sync_counts(&user("ada"), Some(before_reads)).await, vec![(m1.clone(), counts(3, 2, 1))]);

    // A later message: Eve's receipt for it reads the first message too (delivered to her before
    // the receipt), but not the new one, which never reached her device.
    let (m2, _) = w.send("ada", "Repeat bloods at 18:00").await;
    let since = w.store.current_pos();
    let t_eve_read = w.later(5);
    w.read("eve", &m2).await;
    assert_eq!(w.status(&m1).await[2], ("eve".into(), Some(t_eve), Some(t_eve_read)));
    assert_eq!(
        w.status(&m2).await,
        vec![none("ben"), none("dan"), none("eve")],
        "Cat had left and Dan had joined; a receipt without a delivery reads nothing"
    );
    // What Ada's next sync says changed: the first message's counts; the second's did not.
    assert_eq!(w.sync_counts(&user("ada"), Some(since)).await, vec![(m1.clone(), counts(3, 2, 2))]);
    // Nothing changed for Ben's messages (he has none); a first picture lists all of Ada's.
    assert!(w.sync_counts(&user("ben"), Some(since)).await.is_empty());
    let first = w.sync_counts(&user("ada"), None).await;
    let mut want = vec![(m1.clone(), counts(3, 2, 2)), (m2.clone(), counts(3, 0, 0))];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(first, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_after_a_receipt_is_read_by_the_next_receipt() {
    // Ben paginates back to a message his limited sync skipped, after his receipt for a later
    // message: his next receipt reads it, and Ada's sync hears of it.
    let w = Ward::open().await;
    let (m1, p1) = w.send("ada", "Bed 2 fasting from midnight").await;
    let (m2, p2) = w.send("cat", "Noted").await;
    w.later(1);
    w.deliver("ben", p2, p2).await;
    w.read("ben", &m2).await;
    let t_deliver = w.later(1);
    w.deliver("ben", p1, p1).await;
    let (m3, p3) = w.send("cat", "Theatre at 9").await;
    let since = w.store.current_pos();
    w.later(1);
    w.deliver("ben", p3, p3).await;
    let t_read = w.later(1);
    w.read("ben", &m3).await;
    assert_eq!(w.status(&m1).await[0], ("ben".into(), Some(t_deliver), Some(t_read)));
    assert_eq!(w.sync_counts(&user("ada"), Some(since)).await, vec![(m1, counts(3, 1, 1))]);
}
