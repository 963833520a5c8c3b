//! Conformance of pushers and the push queue ([`crate::PushStore`]): one account per push key
//! unless appended, a pusher ending with its device, the queue queued with its cursor, claims
//! and their lease, retries, the tally of one person's notifications, the VAPID key kept.

use ruma::{OwnedUserId, device_id, owned_event_id, owned_room_id};
use serde_json::{Map, json};
use wardline_types::priority::Level;
use wardline_types::{StreamPos, Timestamp};

use super::{account, fail};
use crate::{NewPush, NewSession, PushOutcome, Pusher, PusherKind, Store, StoreResult};

fn user(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{name}:localhost")).unwrap_or_else(|_| ruma::owned_user_id!("@x:localhost"))
}

fn pusher(who: &str, key: &str, device: &str) -> Pusher {
    let mut data = Map::new();
    data.insert("url".into(), json!("https://push.example/_matrix/push/v1/notify"));
    Pusher {
        user_id: user(who),
        app_id: "org.wardline.ios".into(),
        pushkey: key.into(),
        kind: PusherKind::Http,
        app_display_name: "Wardline".into(),
        device_display_name: "Phone".into(),
        profile_tag: None,
        lang: "en".into(),
        data,
        device_id: Some(device.into()),
        created: Timestamp(1000),
    }
}

fn push(who: &str, key: &str, event: &str) -> NewPush {
    NewPush {
        user_id: user(who),
        app_id: "org.wardline.ios".into(),
        pushkey: key.into(),
        event_id: ruma::OwnedEventId::try_from(event).unwrap_or_else(|_| owned_event_id!("$x")),
        room_id: owned_room_id!("!ward:localhost"),
        level: Level::Urgent,
        highlight: true,
        unread: 3,
        escalation: Some(owned_event_id!("$urgent")),
        due: Timestamp(5000),
    }
}

pub(super) async fn pushers(s: &impl Store) -> StoreResult<()> {
    for name in ["pia", "pete"] {
        s.create_account(account(name), Timestamp(1)).await?;
    }
    check!(s.set_pusher(pusher("pia", "k1", "PHONE"), false).await?.is_empty(), "nobody else's to remove");
    check!(s.set_pusher(pusher("pia", "k1", "PHONE"), false).await?.is_empty(), "her own is replaced, not removed");
    check!(s.pushers(&user("pia")).await?.len() == 1, "setting again replaces");
    check!(s.pushers(&user("pia")).await?.first() == Some(&pusher("pia", "k1", "PHONE")), "kept as set");
    let removed = s.set_pusher(pusher("pete", "k1", "TABLET"), false).await?;
    check!(removed == [user("pia")], "says whose pusher it removed");
    check!(s.pushers(&user("pia")).await?.is_empty(), "a key moves to its new account unless appended");
    check!(s.set_pusher(pusher("pia", "k1", "PHONE"), true).await?.is_empty(), "appended: nothing removed");
    check!(s.pushers_of(&[user("pia"), user("pete")]).await?.len() == 2, "appended: both");
    check!(s.delete_pusher(&user("pete"), "org.wardline.ios", "k1").await?, "deleted");
    check!(!s.delete_pusher(&user("pete"), "org.wardline.ios", "k1").await?, "deleted once");

    // A pusher ends with the device its session set it from.
    let session = |device: &str| NewSession {
        user_id: user("pia"),
        device_id: device.into(),
        device_name: None,
        token_hash: format!("hash-{device}"),
        refresh_hash: None,
        expires_at: None,
        created_at: Timestamp(1),
        ip: None,
    };
    s.create_session(session("PHONE")).await?;
    s.create_session(session("DESK")).await?;
    s.set_pusher(pusher("pia", "k2", "DESK"), false).await?;
    s.delete_devices(&user("pia"), &[device_id!("PHONE").to_owned()]).await?;
    let left: Vec<String> = s.pushers(&user("pia")).await?.into_iter().map(|p| p.pushkey).collect();
    check!(left == ["k2"], "the signed-out device's pusher is gone, the other kept");
    s.delete_all_devices(&user("pia"), None).await?;
    check!(s.pushers(&user("pia")).await?.is_empty(), "every device ended: no pushers");

    // The queue: queued with the cursor, claimed with a lease, retried, finished.
    s.queue_pushes(vec![push("pia", "k1", "$m1"), push("pia", "k2", "$m1")], "push-test", StreamPos(7)).await?;
    s.queue_pushes(vec![push("pia", "k1", "$m1")], "push-test", StreamPos(8)).await?;
    check!(s.cursor("push-test").await? == Some(StreamPos(8)), "the cursor moves with the queue");
    check!(s.next_push_due().await? == Some(Timestamp(5000)), "due");
    check!(s.claim_due_pushes(Timestamp(4999), Timestamp(0), 10).await?.is_empty(), "not before due");
    let claimed = s.claim_due_pushes(Timestamp(5000), Timestamp(0), 10).await?;
    check!(claimed.len() == 2, "queued once each");
    check!(claimed.iter().all(|q| q.attempts == 1 && q.push == push("pia", &q.push.pushkey, "$m1")), "as queued");
    check!(s.claim_due_pushes(Timestamp(5001), Timestamp(0), 10).await?.is_empty(), "a claim holds");
    let (Some(a), Some(b)) = (claimed.first(), claimed.get(1)) else { return Err(fail("two claimed")) };
    s.retry_push(a.id, Timestamp(9000)).await?;
    check!(s.next_push_due().await? == Some(Timestamp(5000)), "the other is still pending");
    let again = s.claim_due_pushes(Timestamp(70_000), Timestamp(6000), 10).await?;
    check!(again.len() == 2, "a retry falls due; a lease that ran out is taken over");
    check!(again.iter().all(|q| q.attempts == 2), "each attempt counted");
    let t = s.finish_push(a.id, PushOutcome::Failed, "refused", Timestamp(70_001)).await?;
    check!((t.pending, t.sent, t.failed) == (1, 0, 1), "one failed, one pending");
    let t = s.finish_push(b.id, PushOutcome::Failed, "refused", Timestamp(70_002)).await?;
    check!((t.pending, t.sent, t.failed) == (0, 0, 2), "every push to her failed");
    let t = s.finish_push(b.id, PushOutcome::Sent, "", Timestamp(70_003)).await?;
    check!(t == crate::PushTally::default(), "finished once");
    check!(s.next_push_due().await?.is_none(), "nothing pending");
    check!(s.forget_pushes(Timestamp(70_002)).await? == 1, "forgets only what finished before");

    // Emergency, then urgent, then routine, whatever was due first.
    let at = |level: Level, event: &str, due: u64| NewPush { level, due: Timestamp(due), ..push("pia", "k1", event) };
    let queued = vec![
        at(Level::Routine, "$r1", 100_000),
        at(Level::Urgent, "$u1", 100_200),
        at(Level::Emergency, "$e1", 100_300),
    ];
    let routine_later = at(Level::Routine, "$r2", 100_100);
    s.queue_pushes(queued, "push-test", StreamPos(9)).await?;
    s.queue_pushes(vec![routine_later], "push-test", StreamPos(10)).await?;
    let mut order = Vec::new();
    for _ in 0..4 {
        let one = s.claim_due_pushes(Timestamp(200_000), Timestamp(0), 1).await?;
        order.extend(one.into_iter().map(|q| q.push.event_id.to_string()));
    }
    check!(order == ["$e1", "$u1", "$r1", "$r2"], "most pressing first, then oldest");
    s.queue_pushes(vec![at(Level::Routine, "$r3", 1), at(Level::Urgent, "$u3", 2)], "push-test", StreamPos(11)).await?;
    let both = s.claim_due_pushes(Timestamp(200_000), Timestamp(0), 10).await?;
    let order: Vec<String> = both.into_iter().map(|q| q.push.event_id.to_string()).collect();
    check!(order == ["$u3", "$r3"], "returned in that order");

    // The VAPID key: the first one stays.
    let first = s.vapid_key(b"first".to_vec(), Timestamp(1)).await?;
    check!(first == b"first", "stored");
    check!(s.vapid_key(b"second".to_vec(), Timestamp(2)).await? == b"first", "kept");
    Ok(())
}
