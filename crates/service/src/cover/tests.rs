//! Do not disturb and cover over the real store with the manual clock: the rules of setting it,
//! its end by the clock, how colleagues see it, and the copies to the cover (once, also after a
//! restart, judged by when a message was sent).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ruma::{OwnedDeviceId, OwnedRoomId, OwnedUserId};
use serde_json::{Value, json};
use wardline_store::{Direction, PosRange, Store};
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::audit::AuditAction;
use wardline_types::dnd::{COVER_STATE_KIND, DND_KIND, FORWARDED_FIELD};
use wardline_types::{Clock, ManualClock, NewAccount, StoredEvent, Timestamp, kinds};

use crate::audit::Actor;
use crate::presence::PresenceState;
use crate::rooms::{CreateRoom, SendEvent};
use crate::sync::{SyncRequest, SyncResult};
use crate::{Caller, Config, ServiceError, Services};

/// 2027-01-15 08:00 UTC.
const T0: Timestamp = Timestamp(1_800_000_000_000 - 1_800_000_000_000 % 86_400_000 + 8 * 3_600_000);
const HOUR: u64 = 3_600_000;

fn user(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{name}:localhost")).unwrap()
}

fn actor(name: &str) -> Actor {
    Actor { user_id: user(name), device_id: Some(OwnedDeviceId::from("PHONE")), ip: None }
}

fn caller(name: &str) -> Caller {
    Caller {
        user_id: user(name),
        device_id: OwnedDeviceId::from("PHONE"),
        is_admin: false,
        must_change_password: false,
        token_hash: String::new(),
        ip: None,
        must_enrol_mfa: false,
        signed_in_at: T0,
    }
}

/// Doc (a doctor), Cal (his cover), Nia (a nurse), Eve (another doctor), Ola (off sick:
/// deactivated); Doc and Nia share a direct conversation.
struct Ward {
    s: Services,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
    dm: OwnedRoomId,
}

impl Ward {
    async fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
        let clock = Arc::new(ManualClock::new(T0));
        let s = Self::services(&dir, &store, &clock).await;
        for (name, display) in
            [("doc", "Dr Doc"), ("cal", "Dr Cal"), ("nia", "Nurse Nia"), ("eve", "Dr Eve"), ("ola", "Dr Ola")]
        {
            let account = NewAccount {
                user_id: user(name),
                password_hash: "not a password".into(),
                display_name: Some(display.into()),
                is_admin: false,
                must_change_password: false,
                job_title: None,
                department: None,
                email: None,
                phone: None,
            };
            store.create_account(account, T0).await.unwrap();
        }
        store.set_deactivated(&user("ola"), true).await.unwrap();
        let mut w = Self { s, clock, store, dir, dm: ruma::owned_room_id!("!none:localhost") };
        w.dm = w.room("nia", &["doc"]).await;
        w
    }

    async fn services(dir: &tempfile::TempDir, store: &Arc<dyn Store>, clock: &Arc<ManualClock>) -> Services {
        let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
        let s = Services::new(config, Arc::clone(store), clock.clone()).unwrap();
        tokio::spawn(s.audit.clone().run_writer());
        // The forwarder's first look: its cursor starts here.
        s.cover.forward_due().await.unwrap();
        s
    }

    /// A room made by `by` with `others` joined.
    async fn room(&self, by: &str, others: &[&str]) -> OwnedRoomId {
        let invite = others.iter().map(|o| user(o)).collect();
        let room = self.s.rooms.create_room(&actor(by), CreateRoom { invite, ..CreateRoom::default() }).await.unwrap();
        for o in others {
            self.s.rooms.join(&room, &actor(o)).await.unwrap();
        }
        room
    }

    async fn send(&self, by: &str, room: &OwnedRoomId, content: Value) -> String {
        let req = SendEvent {
            room_id: room.clone(),
            kind: kinds::MESSAGE.into(),
            state_key: None,
            content,
            redacts: None,
            txn: None,
        };
        self.s.rooms.send(&actor(by), req).await.unwrap().to_string()
    }

    async fn text(&self, by: &str, room: &OwnedRoomId, body: &str) -> String {
        self.send(by, room, json!({"msgtype": "m.text", "body": body})).await
    }

    async fn dnd(&self, who: &str, hours: u64, cover: Option<&str>) -> Result<crate::cover::DndView, ServiceError> {
        self.s.cover.set(&actor(who), Timestamp(self.clock.now().0 + hours * HOUR), cover.map(user)).await
    }

    /// Cover conversations `cover` is joined to, by their `org.wardline.cover` state.
    async fn cover_rooms(&self, cover: &str) -> Vec<(OwnedRoomId, Value)> {
        let mut out = Vec::new();
        for room in self.s.rooms.joined_rooms(&user(cover)).await.unwrap() {
            let marker = self
                .s
                .rooms
                .with_state(&room, |s| s.get(COVER_STATE_KIND, "").map(|e| e.event.content.clone()))
                .await
                .unwrap();
            if let Some(m) = marker {
                out.push((room, m));
            }
        }
        out
    }

    async fn messages(&self, room: &OwnedRoomId) -> Vec<StoredEvent> {
        let all = self
            .store
            .room_events(room, PosRange::upto(self.store.current_pos()), Direction::Forward, 1000)
            .await
            .unwrap();
        all.into_iter().filter(|e| e.event.kind == kinds::MESSAGE).collect()
    }

    async fn audited(&self, action: AuditAction) -> Vec<wardline_types::audit::NewAuditRecord> {
        self.s.audit.flush().await.unwrap();
        let all = self.store.audit_records(1, 10_000).await.unwrap();
        all.into_iter().map(|r| r.record).filter(|r| r.action == action).collect()
    }

    async fn sync(&self, name: &str, since: Option<&SyncResult>) -> SyncResult {
        let req = SyncRequest {
            since: since.map(|r| r.next_batch),
            set_presence: PresenceState::Online,
            ..SyncRequest::default()
        };
        self.s.sync.sync(&caller(name), req).await.unwrap()
    }
}

#[tokio::test]
async fn a_colleague_names_a_cover_and_staff_see_until_when_and_who_covers() {
    let w = Ward::open().await;
    let nia = w.sync("nia", None).await;
    let set = w.dnd("doc", 6, Some("cal")).await.unwrap();
    assert_eq!(set.until, Some(Timestamp(T0.0 + 6 * HOUR)));
    assert_eq!(
        set.cover.as_ref().map(|c| (c.user_id.clone(), c.name().to_owned())),
        Some((user("cal"), "Dr Cal".into()))
    );

    // Anyone sees it.
    let seen = w.s.cover.get(&user("doc")).await.unwrap();
    assert!(seen.active() && seen == set);
    assert!(!w.s.cover.get(&user("cal")).await.unwrap().active());
    assert!(matches!(w.s.cover.get(&user("ola")).await, Err(ServiceError::NotFound(_))), "deactivated");

    // Colleagues sharing a conversation see it as presence: unavailable, with a status message.
    let (p, dnd) = w.s.presence.get_with_dnd(&user("nia"), false, &user("doc")).await.unwrap();
    assert_eq!(p.state, "unavailable");
    assert_eq!(p.status_msg.as_deref(), Some("Do not disturb until 14:00 UTC — cover: Dr Cal"));
    assert_eq!(dnd.unwrap().presence_field(), json!({"until_ts": T0.0 + 6 * HOUR, "cover": "@cal:localhost"}));
    let nia = w.sync("nia", Some(&nia)).await;
    let told: Vec<_> = nia.presence.iter().filter(|p| p.user_id == user("doc")).collect();
    assert_eq!(told.len(), 1, "Nia's sync hears of it: {:?}", nia.presence);
    assert_eq!(told[0].state, "unavailable");
    assert!(nia.dnd.iter().any(|d| d.user_id == user("doc") && d.cover.is_some()));

    // His own clients are told to keep quiet.
    let own = w.store.account_data(&user("doc"), None, DND_KIND).await.unwrap().unwrap();
    assert_eq!(own["active"], true);
    assert_eq!(own["until_ts"], T0.0 + 6 * HOUR);
    assert_eq!(own["cover"]["user_id"], "@cal:localhost");
    assert!(
        w.s.userdata.put_account_data(&user("doc"), None, DND_KIND, json!({"active": false})).await.is_err(),
        "clients cannot write the server's own account data"
    );

    // Ending it: presence and account data follow, and both are audited.
    w.s.cover.clear(&actor("doc")).await.unwrap();
    assert!(!w.s.cover.get(&user("doc")).await.unwrap().active());
    let nia = w.sync("nia", Some(&nia)).await;
    assert!(nia.presence.iter().any(|p| p.user_id == user("doc") && p.state != "unavailable"));
    assert!(nia.dnd.is_empty());
    assert_eq!(w.store.account_data(&user("doc"), None, DND_KIND).await.unwrap().unwrap()["active"], false);
    let sets = w.audited(AuditAction::DndSet).await;
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].actor.as_deref(), Some("@doc:localhost"));
    assert_eq!(sets[0].target_user.as_deref(), Some("@cal:localhost"));
    assert_eq!(w.audited(AuditAction::DndClear).await.len(), 1);
}

#[tokio::test]
async fn times_and_covers_that_are_refused() {
    let w = Ward::open().await;
    let at = |ms: u64| Timestamp(T0.0 + ms);
    let doc = actor("doc");
    let set = |until: Timestamp, cover: Option<&str>| w.s.cover.set(&doc, until, cover.map(user));
    assert!(matches!(set(T0, None).await, Err(ServiceError::InvalidParam(_))), "now is not the future");
    assert!(matches!(set(Timestamp(T0.0 - 1), None).await, Err(ServiceError::InvalidParam(_))));
    assert!(set(at(7 * 24 * HOUR), None).await.is_ok(), "seven days");
    assert!(matches!(set(at(7 * 24 * HOUR + 1), None).await, Err(ServiceError::InvalidParam(_))), "more");
    assert!(matches!(set(at(HOUR), Some("doc")).await, Err(ServiceError::InvalidParam(_))), "oneself");
    assert!(matches!(set(at(HOUR), Some("role.med-reg")).await, Err(ServiceError::InvalidParam(_))), "a role");
    assert!(matches!(set(at(HOUR), Some("nobody")).await, Err(ServiceError::NotFound(_))), "unknown");
    assert!(matches!(set(at(HOUR), Some("ola")).await, Err(ServiceError::NotFound(_))), "deactivated");
    let elsewhere = OwnedUserId::try_from("@cal:elsewhere.org").unwrap();
    assert!(matches!(w.s.cover.set(&actor("doc"), at(HOUR), Some(elsewhere)).await, Err(ServiceError::NotFound(_))));

    // Someone on do-not-disturb cannot cover.
    w.dnd("cal", 2, None).await.unwrap();
    let Err(ServiceError::CoverOnDnd(msg)) = w.dnd("doc", 1, Some("cal")).await else { panic!("cal is on dnd") };
    assert!(msg.contains("Dr Cal") && msg.contains("10:00 UTC"), "{msg}");
    let doc = w.s.cover.get(&user("doc")).await.unwrap();
    assert_eq!(doc.until, Some(at(7 * 24 * HOUR)), "a refusal changes nothing");
    let refused = w.audited(AuditAction::DndSet).await;
    assert!(refused.iter().any(|r| r.outcome == wardline_types::audit::Outcome::Denied), "refusals are audited too");
}

#[tokio::test]
async fn two_people_naming_each_other_at_once_one_is_refused() {
    let w = Ward::open().await;
    let (a, b) = tokio::join!(w.dnd("doc", 1, Some("eve")), w.dnd("eve", 1, Some("doc")));
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
    assert!(matches!(a.err().or(b.err()), Some(ServiceError::CoverOnDnd(_))));
}

#[tokio::test]
async fn it_ends_by_itself_when_the_clock_reaches_until() {
    let w = Ward::open().await;
    w.dnd("doc", 2, Some("cal")).await.unwrap();
    let nia = w.sync("nia", None).await;
    w.clock.advance(Duration::from_millis(2 * HOUR - 1));
    assert!(w.s.cover.get(&user("doc")).await.unwrap().active());
    assert_eq!(w.s.cover.end_expired().await.unwrap(), 0, "nothing has run out yet");
    w.clock.advance(Duration::from_millis(1));
    // The truth is the clock: over at once, before anything is written.
    assert!(!w.s.cover.get(&user("doc")).await.unwrap().active());
    let (p, dnd) = w.s.presence.get_with_dnd(&user("nia"), false, &user("doc")).await.unwrap();
    assert!(dnd.is_none() && p.status_msg.is_none());
    // The background task's removal tells colleagues' sync and his own clients.
    assert_eq!(w.s.cover.end_expired().await.unwrap(), 1);
    assert_eq!(w.s.cover.end_expired().await.unwrap(), 0, "once");
    let nia = w.sync("nia", Some(&nia)).await;
    assert!(nia.presence.iter().any(|p| p.user_id == user("doc") && p.status_msg.is_none()));
    assert_eq!(w.store.account_data(&user("doc"), None, DND_KIND).await.unwrap().unwrap()["active"], false);
    let ends = w.audited(AuditAction::DndClear).await;
    assert_eq!(ends.len(), 1);
    assert!(ends[0].actor.is_none() && ends[0].target_user.as_deref() == Some("@doc:localhost"), "by the server");
    // Once over, he may be named as cover again.
    w.dnd("cal", 1, Some("doc")).await.unwrap();
}

#[tokio::test]
async fn a_direct_message_is_copied_to_the_cover_once_labelled_and_the_absent_keeps_it() {
    let w = Ward::open().await;
    w.dnd("doc", 6, Some("cal")).await.unwrap();
    let original = w.text("nia", &w.dm, "Bed 4 obs due").await;
    assert_eq!(w.s.cover.forward_due().await.unwrap(), 1);
    assert_eq!(w.s.cover.forward_due().await.unwrap(), 0, "once");

    // Doc still has his copy, untouched.
    let dm = w.messages(&w.dm).await;
    assert_eq!(dm.len(), 1);
    assert_eq!(dm[0].event.content["body"], "Bed 4 obs due");

    // Cal has it in a conversation with Nia, labelled, naming the original.
    let rooms = w.cover_rooms("cal").await;
    assert_eq!(rooms.len(), 1);
    let (room, marker) = &rooms[0];
    assert_eq!(marker, &json!({"absent": "@doc:localhost", "sender": "@nia:localhost", "cover": "@cal:localhost"}));
    let name = w.s.rooms.with_state(room, |s| s.content_str(kinds::NAME, "name").map(ToOwned::to_owned)).await.unwrap();
    assert_eq!(name.as_deref(), Some("Nurse Nia → Dr Cal, covering for Dr Doc"));
    let copies = w.messages(room).await;
    assert_eq!(copies.len(), 1);
    let c = &copies[0].event;
    assert_eq!(c.sender, user("nia"), "sent as the original sender");
    assert_eq!(c.content["body"], "[Forwarded: Dr Doc is on do-not-disturb; Dr Cal covers]\nBed 4 obs due");
    assert_eq!(
        c.content[FORWARDED_FIELD],
        json!({"for": "@doc:localhost", "cover": "@cal:localhost", "room_id": w.dm, "event_id": original})
    );
    assert_eq!(c.content["m.mentions"]["user_ids"], json!(["@cal:localhost"]));
    let members =
        w.s.rooms.with_state(room, |s| s.members_with(wardline_types::Membership::Join).count()).await.unwrap();
    assert_eq!(members, 2, "Nia and Cal, joined");

    // Cal can answer there, and a second message reuses the conversation.
    w.text("cal", room, "On my way").await;
    w.text("nia", &w.dm, "And bed 5").await;
    assert_eq!(w.s.cover.forward_due().await.unwrap(), 1);
    assert_eq!(w.cover_rooms("cal").await.len(), 1, "the same conversation");
    assert_eq!(w.messages(room).await.len(), 3);

    // Audited by the server, with the original's ids and never the text.
    let forwards = w.audited(AuditAction::CoverForward).await;
    assert_eq!(forwards.len(), 2);
    let f = &forwards[0];
    assert_eq!((f.room_id.as_deref(), f.event_id.as_deref()), (Some(w.dm.as_str()), Some(original.as_str())));
    assert_eq!(f.target_user.as_deref(), Some("@cal:localhost"));
    assert!(!f.detail.as_deref().unwrap_or_default().contains("Bed 4"), "{f:?}");
}

#[tokio::test]
async fn after_a_restart_nothing_is_copied_twice_and_nothing_is_lost() {
    let w = Ward::open().await;
    w.dnd("doc", 6, Some("cal")).await.unwrap();
    w.text("nia", &w.dm, "first").await;
    assert_eq!(w.s.cover.forward_due().await.unwrap(), 1);
    // Sent while the server is "down": the next server copies it, and only it.
    w.text("nia", &w.dm, "second").await;
    let again = Ward::services(&w.dir, &w.store, &w.clock).await;
    assert_eq!(again.cover.forward_due().await.unwrap(), 0, "the first look of a restarted server copied it");
    let (room, _) = w.cover_rooms("cal").await.remove(0);
    let bodies: Vec<String> =
        w.messages(&room).await.iter().map(|e| e.event.content["body"].as_str().unwrap().to_owned()).collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies[1].ends_with("second"));

    // A copy whose cursor was never stored (a crash after the copy) is found by its transaction.
    let events = w.messages(&w.dm).await;
    let periods = w.store.dnd_periods(T0, w.clock.now()).await.unwrap();
    assert_eq!(again.cover.forward_event(&events[0], &periods).await.unwrap(), 0);
    assert_eq!(w.messages(&room).await.len(), 2);
}

#[tokio::test]
async fn what_is_addressed_to_the_absent_is_copied_and_nothing_else() {
    let w = Ward::open().await;
    let group = w.room("nia", &["doc", "eve"]).await;
    let with_role = w.room("eve", &["doc"]).await;
    w.dnd("doc", 6, Some("cal")).await.unwrap();
    w.text("nia", &group, "general news").await;
    w.send(
        "nia",
        &group,
        json!({"msgtype": "m.text", "body": "Doc: bed 9", "m.mentions": {"user_ids": ["@doc:localhost"]}}),
    )
    .await;
    w.send("nia", &w.dm, json!({"msgtype": "m.notice", "body": "automatic"})).await;
    w.text("doc", &w.dm, "from doc himself").await;
    let first = w.text("eve", &with_role, "a direct message").await;
    w.send(
        "eve",
        &with_role,
        json!({"msgtype": "m.text", "body": "* edit", "m.new_content": {"msgtype": "m.text", "body": "edit"},
               "m.relates_to": {"rel_type": "m.replace", "event_id": first}}),
    )
    .await;
    assert_eq!(w.s.cover.forward_due().await.unwrap(), 2, "the mention and Eve's direct message");
    let bodies: Vec<String> = {
        let mut all = Vec::new();
        for (room, _) in w.cover_rooms("cal").await {
            all.extend(
                w.messages(&room).await.into_iter().map(|e| e.event.content["body"].as_str().unwrap().to_owned()),
            );
        }
        all.sort();
        all
    };
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies.iter().any(|b| b.ends_with("Doc: bed 9")) && bodies.iter().any(|b| b.ends_with("a direct message")));

    // Judged by when it was sent: sent on do-not-disturb, looked at after it ended, still copied;
    // sent after, not.
    let minute = || w.clock.advance(Duration::from_secs(60));
    minute();
    w.text("nia", &w.dm, "sent while away").await;
    minute();
    w.s.cover.clear(&actor("doc")).await.unwrap();
    minute();
    w.text("nia", &w.dm, "sent once back").await;
    assert_eq!(w.s.cover.forward_due().await.unwrap(), 1);

    // Without a cover nothing is copied.
    w.dnd("doc", 1, None).await.unwrap();
    w.text("nia", &w.dm, "nobody covers").await;
    assert_eq!(w.s.cover.forward_due().await.unwrap(), 0);
}
