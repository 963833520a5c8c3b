//! A broadcast to a thousand people, with the manual clock: the report's figures are exact
//! (delivered, read, acknowledged by response and by reaction), the reminder names exactly
//! those who have not, and the report's time is measured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ruma::{OwnedDeviceId, OwnedUserId};
use serde_json::json;
use wardline_store::{Delivery, Store};
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::broadcast::Audience;
use wardline_types::priority::Level;
use wardline_types::{AccountUpdate, Clock, ManualClock, NewAccount, StreamPos, Timestamp};

use super::NewBroadcast;
use crate::audit::Actor;
use crate::rooms::SendEvent;
use crate::{Config, ServiceError, Services};

const T0: Timestamp = Timestamp(1_800_000_000_000);
const N: usize = 1000;

fn user(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{name}:localhost")).unwrap()
}

fn actor(name: &str) -> Actor {
    Actor { user_id: user(name), device_id: Some(OwnedDeviceId::from("PC")), ip: None }
}

fn staff(i: usize) -> String {
    format!("s{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_recipients_report_exactly_and_reminders_name_exactly_who_has_not() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    let s = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
    tokio::spawn(s.audit.clone().run_writer());
    let names: Vec<String> = std::iter::once("ada".to_owned()).chain((0..N).map(staff)).collect();
    for name in &names {
        let account = NewAccount {
            user_id: user(name),
            password_hash: "not a password".into(),
            display_name: Some(format!("Dr {name}")),
            is_admin: false,
            must_change_password: false,
            job_title: None,
            department: Some("Wards".into()),
            email: None,
            phone: None,
        };
        store.create_account(account, T0).await.unwrap();
    }
    let new = || NewBroadcast {
        audience: Audience::Department { department: "wards".into() },
        title: "Sepsis screening".into(),
        body: "New sepsis screening tool from Monday.".into(),
        level: Level::Routine,
        acknowledge: true,
        txn_id: "t1".into(),
    };
    // Not without the permission.
    assert!(matches!(s.broadcasts.send(&actor("ada"), new()).await, Err(ServiceError::Forbidden(_))));
    let grant = AccountUpdate { may_broadcast: Some(true), ..AccountUpdate::default() };
    store.update_account(&user("ada"), grant).await.unwrap();

    let started = Instant::now();
    let (b, repeated) = s.broadcasts.send(&actor("ada"), new()).await.unwrap();
    let send_time = started.elapsed();
    assert!(!repeated);
    assert_eq!(b.recipients, N as u64);
    let message = store.event(&b.event_id).await.unwrap().unwrap();

    // The first 600 got it on their PC; the first 400 of them read it; the first 300
    // acknowledged (even ones by response, odd ones by 👍); s0999 acknowledged without a
    // receipt (answering is not reading).
    for i in 0..600 {
        let d = Delivery {
            room_id: b.room_id.clone(),
            user_id: user(&staff(i)),
            device_id: Some(OwnedDeviceId::from("PC")),
            first: message.stream,
            last: message.stream,
            ts: clock.now(),
            stream: StreamPos::ZERO,
        };
        store.put_deliveries(vec![d]).await.unwrap();
    }
    clock.advance(Duration::from_secs(60));
    for i in 0..400 {
        let arrived = s.arrival();
        s.userdata.receipt(&actor(&staff(i)), &b.room_id, "m.read", &b.event_id, None, arrived).await.unwrap();
    }
    for i in (0..300).chain([N - 1]) {
        let content = if i % 2 == 0 {
            json!({"msgtype": "m.text", "body": "Acknowledge", "org.wardline.response": {"option": "acknowledge"},
                "m.relates_to": {"rel_type": "m.reference", "event_id": b.event_id}})
        } else {
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": b.event_id, "key": "👍"}})
        };
        let kind = if i % 2 == 0 { "m.room.message" } else { "m.reaction" };
        let req = SendEvent {
            room_id: b.room_id.clone(),
            kind: kind.into(),
            state_key: None,
            content,
            redacts: None,
            txn: None,
        };
        s.rooms.send(&actor(&staff(i)), req).await.unwrap();
    }

    let started = Instant::now();
    let r = s.broadcasts.report(&actor("ada"), &b.room_id).await.unwrap();
    let report_time = started.elapsed();
    eprintln!("broadcast to {N}: sent in {send_time:?}, report in {report_time:?}");
    assert_eq!((r.recipients, r.delivered, r.read, r.acknowledged), (N as u64, 600, 400, 301));
    assert_eq!((r.not_read_total, r.not_acknowledged_total), (600, 699));
    assert_eq!(r.not_read.len(), super::REPORT_LIST_CAP, "capped; the total is exact");
    assert_eq!(r.not_read[0].user_id, user(&staff(400)));
    assert_eq!(r.not_acknowledged[0].display_name.as_deref(), Some("Dr s0300"));

    // The reminder names exactly the 699 who have not acknowledged; a second one must wait.
    let reminded = s.broadcasts.remind(&actor("ada"), &b.room_id).await.unwrap();
    let expected: Vec<OwnedUserId> = (300..N - 1).map(|i| user(&staff(i))).collect();
    assert_eq!(reminded.users, expected);
    let mut mentioned = Vec::new();
    for id in &reminded.notices {
        let notice = store.event(id).await.unwrap().unwrap();
        assert_eq!(notice.event.sender, user("wardline"));
        let ids = notice.event.content["m.mentions"]["user_ids"].as_array().unwrap().clone();
        mentioned.extend(
            ids.into_iter().map(|v| user(v.as_str().unwrap().trim_start_matches('@').split(':').next().unwrap())),
        );
    }
    assert_eq!(mentioned, expected);
    match s.broadcasts.remind(&actor("ada"), &b.room_id).await {
        Err(ServiceError::RateLimited { retry_after_ms }) => assert_eq!(retry_after_ms, super::REMIND_INTERVAL_MS),
        other => panic!("{other:?}"),
    }
    clock.advance(Duration::from_millis(super::REMIND_INTERVAL_MS));
    assert_eq!(s.broadcasts.remind(&actor("ada"), &b.room_id).await.unwrap().users.len(), 699);

    // The same transaction again sends nothing.
    let (again, repeated) = s.broadcasts.send(&actor("ada"), new()).await.unwrap();
    assert!(repeated);
    assert_eq!(again.room_id, b.room_id);
}
