//! The rule over stored facts, with the manual clock: who is a recipient, what counts as
//! delivered and read (per device, in the store's order, by thread), which counts `/sync`
//! reports as changed, who may ask, and what answering costs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ruma::{OwnedDeviceId, OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
use serde_json::{Value, json};
use wardline_store::{Delivery, PosRange, Store};
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::{Clock, ManualClock, NewAccount, StreamPos, Timestamp};

use super::{Arrival, Counts, RECORDED_AFTER_KEY, SyncWindow};
use crate::audit::Actor;
use crate::config::RateLimits;
use crate::rooms::{CreateRoom, SendEvent};
use crate::{Config, ServiceError, Services};

const T0: Timestamp = Timestamp(1_800_000_000_000);

struct Ward {
    s: Services,
    clock: Arc<ManualClock>,
    sqlite: Arc<SqliteStore>,
    store: Arc<dyn Store>,
    room: OwnedRoomId,
    _dir: tempfile::TempDir,
}

fn user(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{name}:localhost")).unwrap()
}

/// `name` on their ward PC (every test's usual device).
fn actor(name: &str) -> Actor {
    on(name, "PC")
}

/// `name` on `device`.
fn on(name: &str, device: &str) -> Actor {
    Actor { user_id: user(name), device_id: Some(OwnedDeviceId::from(device)), ip: None }
}

impl Ward {
    /// Ada's room, with Ben, Cat and Eve in it (Dan has an account).
    async fn open() -> Self {
        Self::open_with(&["ben", "cat", "eve"], &["dan"], RateLimits::default()).await
    }

    /// Ada's room with `members` joined, `others` with accounts only.
    async fn open_with(members: &[&str], others: &[&str], rate_limits: RateLimits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
        let store: Arc<dyn Store> = sqlite.clone();
        let clock = Arc::new(ManualClock::new(T0));
        let config = Config { data_dir: dir.path().to_owned(), rate_limits, ..Config::default() };
        let s = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
        tokio::spawn(s.audit.clone().run_writer());
        for name in ["ada"].iter().chain(members).chain(others) {
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
        let invite = members.iter().map(|m| user(m)).collect();
        let room = s.rooms.create_room(&actor("ada"), CreateRoom { invite, ..CreateRoom::default() }).await.unwrap();
        for name in members {
            s.rooms.join(&room, &actor(name)).await.unwrap();
        }
        Self { s, clock, sqlite, store, room, _dir: dir }
    }

    async fn send_content(&self, by: &str, content: Value) -> (OwnedEventId, StreamPos) {
        let req = SendEvent {
            room_id: self.room.clone(),
            kind: "m.room.message".into(),
            state_key: None,
            content,
            redacts: None,
            txn: None,
        };
        let id = self.s.rooms.send(&actor(by), req).await.unwrap();
        let pos = self.store.event(&id).await.unwrap().unwrap().stream;
        (id, pos)
    }

    async fn send(&self, by: &str, body: &str) -> (OwnedEventId, StreamPos) {
        self.send_content(by, json!({"msgtype": "m.text", "body": body})).await
    }

    /// A response carried `first..=last` to `name`'s ward PC now.
    async fn deliver(&self, name: &str, first: StreamPos, last: StreamPos) {
        self.deliver_to(name, "PC", first, last).await;
    }

    async fn deliver_to(&self, name: &str, device: &str, first: StreamPos, last: StreamPos) {
        let d = Delivery {
            room_id: self.room.clone(),
            user_id: user(name),
            device_id: Some(OwnedDeviceId::from(device)),
            first,
            last,
            ts: self.clock.now(),
            stream: StreamPos::ZERO,
        };
        self.store.put_deliveries(vec![d]).await.unwrap();
    }

    /// `name`'s ward PC sends a read receipt for `event`, arriving now.
    async fn read(&self, name: &str, event: &OwnedEventId) {
        self.read_from(&actor(name), event, None, self.s.arrival()).await;
    }

    async fn read_from(&self, by: &Actor, event: &OwnedEventId, thread: Option<&str>, arrived: Arrival) {
        let thread = thread.map(ToOwned::to_owned);
        self.s.userdata.receipt(by, &self.room, "m.read", event, thread, arrived).await.unwrap();
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

    /// Who has read `event`, as Ada asks.
    async fn readers(&self, event: &OwnedEventId) -> Vec<String> {
        self.status(event).await.into_iter().filter(|(_, _, r)| r.is_some()).map(|(u, _, _)| u).collect()
    }

    async fn sync_counts(&self, who: &UserId, since: Option<StreamPos>) -> Vec<(OwnedEventId, Counts)> {
        let upto = self.store.current_pos();
        let w = SyncWindow { since, upto, new_deliveries: true, new_receipts: true, own_new: None };
        self.s.status.sync_counts(who, &self.room, w).await.unwrap()
    }
}

fn counts(recipients: u64, delivered: u64, read: u64) -> Counts {
    Counts { recipients, delivered, read }
}

fn none(n: &str) -> (String, Option<Timestamp>, Option<Timestamp>) {
    (n.to_owned(), None, None)
}

#[tokio::test(flavor = "multi_thread")]
async fn delivered_and_read_by_the_one_rule() {
    let w = Ward::open().await;
    let (m1, p1) = w.send("ada", "Bed 4: potassium 6.1, please review").await;
    // Dan joins after the message: not a recipient. Cat leaves: still one.
    w.s.rooms.invite(&w.room, &actor("ada"), &user("dan"), None).await.unwrap();
    w.s.rooms.join(&w.room, &actor("dan")).await.unwrap();
    w.s.rooms.leave(&w.room, &actor("cat"), None).await.unwrap();
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

/// Issue 11, case 1 (a product decision): an invitee is a recipient; one invited after the
/// message is not; one who declines stays a recipient who never read it.
#[tokio::test(flavor = "multi_thread")]
async fn invitees_are_recipients_and_declining_reads_nothing() {
    let w = Ward::open_with(&["ben"], &["cat", "dan"], RateLimits::default()).await;
    w.s.rooms.invite(&w.room, &actor("ada"), &user("cat"), None).await.unwrap();
    let (m, p) = w.send("ada", "Can anyone cover theatre list at 2?").await;
    w.s.rooms.invite(&w.room, &actor("ada"), &user("dan"), None).await.unwrap();
    assert_eq!(w.status(&m).await, vec![none("ben"), none("cat")], "Cat was invited before it; Dan after");
    // Cat declines; her client had shown her the room's preview, never the message.
    w.s.rooms.leave(&w.room, &actor("cat"), None).await.unwrap();
    w.deliver("ben", p, p).await;
    w.read("ben", &m).await;
    assert_eq!(w.readers(&m).await, vec!["ben"]);
    assert_eq!(w.sync_counts(&user("ada"), None).await, vec![(m, counts(2, 1, 1))]);
}

/// Issue 11, case 2: the ward PC got the message; the phone's limited sync skipped it; the
/// phone's receipt for a later event does not read it. The PC's receipt does.
#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_from_a_device_that_never_had_the_message_reads_nothing() {
    let w = Ward::open().await;
    let (m1, p1) = w.send("ada", "Bed 9: hold the 18:00 gentamicin").await;
    let (_, p2) = w.send("cat", "Pharmacy aware").await;
    let (m3, p3) = w.send("cat", "Level back at 17:30").await;
    w.later(1);
    w.deliver_to("ben", "PC", p1, p1).await;
    w.deliver_to("ben", "PHONE", p2, p3).await;
    let since = w.store.current_pos();
    w.later(1);
    w.read_from(&on("ben", "PHONE"), &m3, None, w.s.arrival()).await;
    assert_eq!(w.readers(&m1).await, Vec::<String>::new(), "the phone never showed it");
    assert!(w.sync_counts(&user("ada"), Some(since)).await.is_empty(), "nothing changed for Ada");
    let t = w.later(1);
    w.read_from(&on("ben", "PC"), &m3, None, w.s.arrival()).await;
    assert_eq!(w.status(&m1).await[0].2, Some(t));
    assert_eq!(w.sync_counts(&user("ada"), Some(since)).await, vec![(m1, counts(3, 1, 1))]);
}

/// Issue 11, case 3: "before" is the store's order. A delivery of a response made after the
/// receipt arrived does not count for it, even when stored before the receipt; the same
/// receipt sent again counts, and the sender's sync hears of it. A delivery under way when
/// the receipt arrived is waited for.
#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_counts_only_deliveries_of_responses_made_before_it_arrived() {
    let w = Ward::open().await;
    let (m1, p1) = w.send("ada", "Family meeting for bed 6 at 15:00").await;
    let (m2, p2) = w.send("ada", "Interpreter booked").await;
    w.deliver("ben", p1, p1).await;
    // Ben's receipt for the second message arrives; a response carrying it to his PC is made
    // and stored while the receipt is still being handled.
    let arrived = w.s.arrival();
    w.s.timeline.event(&actor("ben"), &w.room, &m2).await.unwrap();
    while w.store.deliveries(&w.room, &[user("ben")], PosRange::new(StreamPos(p2.0 - 1), p2)).await.unwrap().is_empty()
    {
        tokio::task::yield_now().await;
    }
    w.read_from(&actor("ben"), &m2, None, arrived).await;
    assert_eq!(w.readers(&m1).await, vec!["ben"], "the first had reached the PC before");
    assert!(w.readers(&m2).await.is_empty(), "under-reported, never over");
    let since = w.store.current_pos();
    // Sent again (the same event: it does not move his latest receipt), it counts.
    w.read("ben", &m2).await;
    assert_eq!(w.readers(&m2).await, vec!["ben"]);
    assert_eq!(w.sync_counts(&user("ada"), Some(since)).await, vec![(m2.clone(), counts(3, 1, 1))]);

    // A response made before the receipt arrived, whose delivery is still being stored: the
    // receipt waits for it.
    let (m3, _) = w.send("ada", "Room 2 on the family corridor").await;
    w.s.timeline.event(&actor("ben"), &w.room, &m3).await.unwrap();
    w.read("ben", &m3).await;
    assert_eq!(w.readers(&m3).await, vec!["ben"]);
}

/// Issue 11, case 4: the spec's threaded receipts. Unthreaded covers everything; `main` the
/// main timeline only; a thread root's id that thread only.
#[tokio::test(flavor = "multi_thread")]
async fn thread_replies_are_read_only_by_their_threads_receipts() {
    let w = Ward::open().await;
    let (root, _) = w.send("ada", "Bed 3 discharge checklist").await;
    let reply = |body: &str| json!({"msgtype": "m.text", "body": body, "m.relates_to": {"rel_type": "m.thread", "event_id": root}});
    let (in_thread, _) = w.send_content("ada", reply("TTOs ready?")).await;
    let (main, last) = w.send("ada", "Bed 5 for theatre").await;
    for name in ["ben", "cat", "eve"] {
        w.deliver(name, StreamPos::ZERO, last).await;
    }
    w.read_from(&actor("ben"), &main, Some("main"), w.s.arrival()).await;
    w.read_from(&actor("cat"), &in_thread, Some(root.as_str()), w.s.arrival()).await;
    w.read_from(&actor("eve"), &main, None, w.s.arrival()).await;
    assert_eq!(w.readers(&root).await, vec!["ben", "eve"], "the root is on the main timeline");
    assert_eq!(w.readers(&in_thread).await, vec!["cat", "eve"], "its thread's receipt, or an unthreaded one");
    assert_eq!(w.readers(&main).await, vec!["ben", "eve"]);
}

/// Issue 11, case 5: only current members (or the sender) may ask, under a rate limit.
#[tokio::test(flavor = "multi_thread")]
async fn only_members_and_the_sender_may_ask_within_a_rate_limit() {
    let w = Ward::open().await;
    let (m, _) = w.send("ben", "Bloods sent").await;
    let ask = |who: &str| {
        let (s, room, m) = (w.s.status.clone(), w.room.clone(), m.clone());
        let who = user(who);
        async move { s.status(&who, &room, &m).await }
    };
    w.s.rooms.leave(&w.room, &actor("eve"), None).await.unwrap();
    w.s.rooms.leave(&w.room, &actor("ben"), None).await.unwrap();
    assert!(ask("cat").await.is_ok());
    assert!(ask("ben").await.is_ok(), "the sender, though he left");
    let unknown = w.s.status.status(&user("cat"), &w.room, &OwnedEventId::try_from("$nosuchevent").unwrap()).await;
    for who in ["eve", "dan"] {
        let refused = ask(who).await;
        assert!(matches!(refused, Err(ServiceError::NotFound(_))), "{who}: {refused:?}");
        assert_eq!(format!("{refused:?}"), format!("{unknown:?}"), "{who}: as for no such event");
    }
    // Cat has asked twice; the bucket holds 30.
    let mut refusals = 0;
    for _ in 0..40 {
        if matches!(ask("cat").await, Err(ServiceError::RateLimited { .. })) {
            refusals += 1;
        }
    }
    assert_eq!(refusals, 12);
    w.later(60);
    assert!(ask("cat").await.is_ok());
}

/// Issue 11, case 6: a message from before deliveries were recorded says so, and is read by
/// receipts alone; the transcript prints "delivery not recorded".
#[tokio::test(flavor = "multi_thread")]
async fn messages_from_before_delivery_tracking_say_so() {
    let w = Ward::open().await;
    let (old, _) = w.send("ada", "Old handover").await;
    w.store.put_meta(RECORDED_AFTER_KEY, &w.store.current_pos().0.to_string()).await.unwrap();
    let (new, p) = w.send("ada", "New handover").await;
    w.deliver("ben", p, p).await;
    w.read("ben", &old).await;
    let st = w.s.status.status(&user("ada"), &w.room, &old).await.unwrap();
    assert!(!st.delivery_recorded);
    assert_eq!(st.counts(), counts(3, 1, 1));
    assert_eq!(w.readers(&old).await, vec!["ben"], "a receipt for it, before its deliveries were recorded");
    assert!(w.s.status.status(&user("ada"), &w.room, &new).await.unwrap().delivery_recorded);
    let text = crate::audit_report::transcript(w.store.as_ref(), &w.room).await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = |body: &str| lines.iter().position(|l| l.ends_with(body)).unwrap();
    let (o, n) = (at("Old handover"), at("New handover"));
    let old_lines = lines[o + 1..n].join("\n");
    let new_lines = lines[n + 1..].join("\n");
    assert!(old_lines.contains("read by: @ben:localhost"), "{text}");
    assert!(old_lines.contains("delivery not recorded: @cat:localhost, @eve:localhost"), "{text}");
    assert!(!old_lines.contains("not delivered to"), "{text}");
    assert!(new_lines.contains("not delivered to: @cat:localhost, @eve:localhost"), "{text}");
}

/// Issue 11, case 7: a status costs the same few reads in a ward of 60 as in one of 3, and a
/// member who never sent a message pays one read in their sync when deliveries and receipts
/// change.
#[tokio::test(flavor = "multi_thread")]
async fn a_status_costs_a_few_reads_however_large_the_ward() {
    let off = RateLimits { enabled: false, ..RateLimits::default() };
    let names: Vec<String> = (0..60).map(|i| format!("nurse{i}")).collect();
    let big_names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut reads = Vec::new();
    for members in [&big_names[..3], &big_names[..]] {
        let w = Ward::open_with(members, &[], off).await;
        let (m, p) = w.send("ada", "Fire drill at 11").await;
        for name in members {
            w.deliver(name, p, p).await;
            w.deliver_to(name, "PHONE", p, p).await;
            w.read(name, &m).await;
        }
        w.s.rooms.leave(&w.room, &actor(members[0]), None).await.unwrap();
        w.status(&m).await;
        let before = w.sqlite.reads();
        let st = w.s.status.status(&user("ada"), &w.room, &m).await.unwrap();
        reads.push(w.sqlite.reads() - before);
        assert_eq!(st.counts(), counts(members.len() as u64, members.len() as u64, members.len() as u64));
        // A member who sent nothing: one read, whatever changed.
        let before = w.sqlite.reads();
        assert!(w.sync_counts(&user(members[1]), Some(StreamPos(p.0 - 1))).await.is_empty());
        assert_eq!(w.sqlite.reads() - before, 2, "their new events, and their latest message (none)");
    }
    assert_eq!(reads[0], reads[1], "{reads:?}");
    assert!(reads[1] <= 6, "{reads:?}");
}
