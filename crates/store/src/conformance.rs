//! The conformance suite every storage implementation must pass.
//!
//! Implementations call [`run_all`] from one of their tests with a function that opens their
//! store on a fresh, empty database (calling it again must reopen the same database).

#![allow(clippy::missing_errors_doc)]

use ruma::{
    OwnedDeviceId, OwnedEventId, OwnedRoomId, OwnedUserId, device_id, owned_event_id, owned_room_id, owned_user_id,
};
use serde_json::json;
use wardline_types::audit::{AuditAction, Checkpoint, GENESIS, HashVersion, NewAuditRecord, Outcome, verify_chain};
use wardline_types::{AccountUpdate, Membership, NewAccount, NewEvent, StreamPos, Timestamp, TxnRef, kinds};

use crate::{
    ChangeTopic, Delivery, Direction, MediaContent, NewMedia, NewSession, PosRange, Receipt, Store, StoreError,
    StoreResult,
};

/// A failed conformance check.
fn fail(what: &str) -> StoreError {
    StoreError::Backend(format!("conformance check failed: {what}"))
}

macro_rules! check {
    ($cond:expr, $what:expr) => {
        if !$cond {
            return Err(fail($what));
        }
    };
}

mod alarm_routing;
mod alarms;
mod broadcast;
mod device_lists;
mod dnd;
mod escalation;
mod filings;
mod integrations;
mod outbox;
mod patient_context;
mod patients;
mod presence;
mod push;
mod relations;
mod roles;
mod rota;
mod search;
mod topics;
mod wctp;

/// Runs every check against stores opened by `open`.
pub async fn run_all<S: Store, F: Fn() -> StoreResult<S>>(open: F) -> StoreResult<()> {
    let store = open()?;
    check!(store.bind_server_name("localhost").await? == "localhost", "server name bound");
    check!(store.bind_server_name("elsewhere").await? == "localhost", "server name fixed once bound");
    check!(store.meta("k").await?.is_none(), "no setting yet");
    store.put_meta("k", "v1").await?;
    store.put_meta("k", "v2").await?;
    check!(store.meta("k").await?.as_deref() == Some("v2"), "setting replaced");
    health(&store).await?;
    accounts(&store).await?;
    sessions(&store).await?;
    let room = room_log(&store).await?;
    receipts(&store, &room).await?;
    deliveries_and_read_history(&store).await?;
    user_data(&store).await?;
    audit(&store, &room).await?;
    mfa(&store).await?;
    media(&store, &room).await?;
    relations::relations(&store).await?;
    relations::thread_list(&store).await?;
    escalation::escalations(&store).await?;
    escalation::deadlines(&store).await?;
    broadcast::broadcasts(&store).await?;
    search::search(&store).await?;
    presence::presence_store(&store).await?;
    device_lists::device_lists(&store).await?;
    roles::roles(&store).await?;
    rota::rota(&store).await?;
    dnd::dnd(&store).await?;
    push::pushers(&store).await?;
    integrations::integrations(&store).await?;
    alarms::alarms(&store).await?;
    // The outbox's suite counts every report in the store: it runs before others queue any.
    outbox::outbox(&store).await?;
    alarm_routing::dispatch(&store).await?;
    alarm_routing::status(&store).await?;
    alarm_routing::rules(&store).await?;
    patients::patients(&store).await?;
    wctp::wctp(&store).await?;
    outbox::hl7_reports(&store).await?;
    topics::topics(&store).await?;
    patient_context::patient_context(&store).await?;
    filings::filings(&store).await?;
    let before = store.current_pos();
    drop(store);
    let reopened = open()?;
    check!(reopened.current_pos() == before, "stream position survives reopening");
    check!(reopened.room_exists(&room).await?, "room survives reopening");
    Ok(())
}

async fn health(s: &impl Store) -> StoreResult<()> {
    check!(s.health().writer_running, "a store just opened takes writes");
    let (pos, meta) = (s.current_pos(), s.meta("k").await?);
    s.probe_write().await?;
    s.probe_write().await?;
    check!(s.current_pos() == pos, "a write probe takes no stream position");
    check!(s.meta("k").await? == meta, "a write probe changes no setting");
    let mut stopped = std::pin::pin!(s.writer_stopped());
    let waiting = std::future::poll_fn(|cx| std::task::Poll::Ready(stopped.as_mut().poll(cx).is_pending())).await;
    check!(waiting, "writer_stopped waits while the writer runs");
    Ok(())
}

fn account(user: &str) -> NewAccount {
    NewAccount {
        user_id: OwnedUserId::try_from(format!("@{user}:localhost")).unwrap_or_else(|_| owned_user_id!("@x:localhost")),
        password_hash: "$argon2id$fake".into(),
        display_name: Some(format!("Dr {user}")),
        is_admin: false,
        must_change_password: false,
        job_title: Some("Registrar".into()),
        department: Some("Cardiology".into()),
        email: None,
        phone: Some("+44 7700 900000".into()),
    }
}

async fn accounts(s: &impl Store) -> StoreResult<()> {
    let a = s.create_account(account("ada"), Timestamp(5)).await?;
    check!(a.display_name.as_deref() == Some("Dr ada"), "account fields round-trip");
    check!(a.created_at == Timestamp(5), "created_at stored");
    check!(
        matches!(s.create_account(account("ada"), Timestamp(6)).await, Err(StoreError::Conflict(_))),
        "duplicate username is a conflict"
    );
    // Import is all or nothing: a duplicate among the creates rolls back the rest.
    let res = s.import_accounts(vec![account("bea"), account("ada")], vec![], Timestamp(7)).await;
    check!(res.is_err(), "import with a duplicate fails");
    check!(s.account(&owned_user_id!("@bea:localhost")).await?.is_none(), "failed import leaves nothing");
    let update = AccountUpdate { job_title: Some("Consultant".into()), ..AccountUpdate::default() };
    let out =
        s.import_accounts(vec![account("bea")], vec![(owned_user_id!("@ada:localhost"), update)], Timestamp(8)).await?;
    check!(out.created == 1 && out.updated == 1, "import counts");
    let ada = s.account(&owned_user_id!("@ada:localhost")).await?.ok_or_else(|| fail("ada exists"))?;
    check!(ada.job_title.as_deref() == Some("Consultant"), "import updates");
    check!(ada.department.as_deref() == Some("Cardiology"), "import keeps unspecified fields");
    s.update_account(&ada.user_id, AccountUpdate { is_admin: Some(true), ..AccountUpdate::default() }).await?;
    check!(s.account(&ada.user_id).await?.is_some_and(|a| a.is_admin), "admin rights granted");
    check!(!ada.may_broadcast, "no permission to broadcast by default");
    s.update_account(&ada.user_id, AccountUpdate { may_broadcast: Some(true), ..AccountUpdate::default() }).await?;
    check!(s.account(&ada.user_id).await?.is_some_and(|a| a.may_broadcast && a.is_admin), "broadcast granted alone");
    check!(
        matches!(
            s.update_account(&owned_user_id!("@ghost:localhost"), AccountUpdate::default()).await,
            Err(StoreError::NotFound)
        ),
        "updating a missing account"
    );
    s.set_password(&ada.user_id, "$argon2id$new", true).await?;
    check!(s.password_hash(&ada.user_id).await?.as_deref() == Some("$argon2id$new"), "password set");
    check!(s.account(&ada.user_id).await?.is_some_and(|a| a.must_change_password), "must change flag");
    check!(s.search_directory("CARDIO", 10).await?.len() == 2, "directory search by department");
    check!(s.search_directory("a_a", 10).await?.is_empty(), "LIKE wildcards are escaped");
    s.set_deactivated(&ada.user_id, true).await?;
    check!(s.search_directory("ada", 10).await?.is_empty(), "deactivated accounts leave the directory");
    check!(s.count_accounts().await? == 2, "count");
    check!(s.account(&ada.user_id).await?.is_some_and(|a| a.last_sign_in.is_none()), "never signed in");
    for at in [Timestamp(40), Timestamp(41)] {
        s.create_session(NewSession {
            user_id: ada.user_id.clone(),
            device_id: "ADA1".into(),
            device_name: None,
            token_hash: format!("ada-{}", at.0),
            refresh_hash: None,
            expires_at: None,
            created_at: at,
            ip: None,
        })
        .await?;
    }
    check!(
        s.account(&ada.user_id).await?.is_some_and(|a| a.last_sign_in == Some(Timestamp(41))),
        "a sign-in is the account's last"
    );
    s.delete_all_devices(&ada.user_id, None).await?;
    check!(
        s.list_accounts().await?.iter().any(|a| a.user_id == ada.user_id && a.last_sign_in == Some(Timestamp(41))),
        "the last sign-in outlives its session"
    );
    s.set_profile(&ada.user_id, Some(None), Some(Some("mxc://localhost/a".into()))).await?;
    let ada = s.account(&ada.user_id).await?.ok_or_else(|| fail("ada exists"))?;
    check!(ada.display_name.is_none() && ada.avatar_url.is_some(), "profile set and cleared");
    Ok(())
}

async fn sessions(s: &impl Store) -> StoreResult<()> {
    let user = owned_user_id!("@bea:localhost");
    for (dev, hash) in [("D1", "h1"), ("D2", "h2"), ("D3", "h3")] {
        s.create_session(NewSession {
            user_id: user.clone(),
            device_id: dev.into(),
            device_name: Some(format!("ward pc {dev}")),
            token_hash: hash.into(),
            refresh_hash: None,
            expires_at: None,
            created_at: Timestamp(1),
            ip: None,
        })
        .await?;
    }
    check!(s.session_by_token_hash("h2").await?.is_some_and(|x| x.device_id == "D2"), "token lookup");
    let serial = s.commit_serial();
    s.touch_device(&user, device_id!("D2"), Timestamp(3), None).await?;
    check!(s.last_change(&ChangeTopic::Account(user.clone())).serial > serial, "device activity marks the account");
    check!(s.session_by_token_hash("nope").await?.is_none(), "unknown token");
    // A new login on the same device replaces its token.
    s.create_session(NewSession {
        user_id: user.clone(),
        device_id: "D1".into(),
        device_name: None,
        token_hash: "h1b".into(),
        refresh_hash: Some("r1".into()),
        expires_at: Some(Timestamp(100)),
        created_at: Timestamp(2),
        ip: Some("127.0.0.1".into()),
    })
    .await?;
    let s1 = s.session_by_token_hash("h1b").await?.ok_or_else(|| fail("h1b"))?;
    check!(s1.expires_at == Some(Timestamp(100)) && s1.created_at == Timestamp(2), "expiry stored");
    check!(s1.last_seen == Some(Timestamp(2)), "last seen joined from the device");
    let s2 = s.refresh_session("r1", "h1c", "r2", Some(Timestamp(200))).await?.ok_or_else(|| fail("refreshed"))?;
    check!(s2.expires_at == Some(Timestamp(200)) && s2.created_at == Timestamp(2), "refresh keeps the session start");
    check!(s.session_by_token_hash("h1b").await?.is_none(), "old access token gone after refresh");
    check!(s.refresh_session("r1", "h1d", "r3", None).await?.is_none(), "a refresh token works once");
    let s1 = s.session_by_token_hash("h1c").await?;
    check!(s1.is_some(), "new access token works");
    check!(s.session_by_token_hash("h1").await?.is_none(), "old token of a device is gone");
    // Why tokens are about to end is remembered for each of the user's current tokens, and
    // forgotten after a while.
    s.remember_ending_tokens(&user, "old", Timestamp(10), Timestamp(0)).await?;
    check!(s.ended_token("h1c").await? == Some(("old".to_owned(), Timestamp(10))), "an ending token remembered");
    check!(s.ended_token("r2").await?.is_none(), "refresh tokens are not access tokens");
    s.remember_ending_tokens(&user, "deactivated", Timestamp(50), Timestamp(20)).await?;
    check!(s.ended_token("h1c").await? == Some(("deactivated".to_owned(), Timestamp(50))), "the latest reason wins");
    check!(s.ended_token("nope").await?.is_none(), "an unknown token has no reason");
    let devices = s.devices(&user).await?;
    check!(devices.len() == 3, "three devices");
    check!(devices.iter().any(|d| d.display_name.as_deref() == Some("ward pc D1")), "device name kept");
    let gone = s.delete_devices(&user, &["D2".into(), "NOPE".into()]).await?;
    check!(gone == vec![ruma::OwnedDeviceId::from("D2")], "delete reports what existed");
    check!(s.session_by_token_hash("h2").await?.is_none(), "deleted device's token is gone");
    let gone = s.delete_all_devices(&user, Some(device_id!("D3"))).await?;
    check!(gone.len() == 1, "all but one deleted");
    check!(s.session_by_token_hash("h3").await?.is_some(), "kept device still signed in");
    check!(s.ended_token("h2").await?.is_some(), "a gone token's reason is still remembered");
    s.remember_ending_tokens(&user, "later", Timestamp(100), Timestamp(60)).await?;
    check!(s.ended_token("h2").await?.is_none(), "reasons older than the cut-off are forgotten");
    check!(s.session_by_token_hash("h1c").await?.is_none(), "others signed out");
    Ok(())
}

fn event(
    room: &OwnedRoomId,
    id: &str,
    sender: &OwnedUserId,
    kind: &str,
    state_key: Option<&str>,
    content: serde_json::Value,
) -> NewEvent {
    NewEvent {
        event_id: OwnedEventId::try_from(format!("${id}")).unwrap_or_else(|_| owned_event_id!("$x")),
        room_id: room.clone(),
        sender: sender.clone(),
        kind: kind.into(),
        state_key: state_key.map(Into::into),
        content,
        origin_server_ts: Timestamp(100),
        redacts: None,
        txn: None,
    }
}

async fn room_log(s: &impl Store) -> StoreResult<OwnedRoomId> {
    let room = owned_room_id!("!ward7:localhost");
    let ada = owned_user_id!("@ada:localhost");
    let bea = owned_user_id!("@bea:localhost");
    let start = s.current_pos();
    let serial = s.commit_serial();
    let untouched = s.last_change(&ChangeTopic::RoomEvents(room.clone()));
    check!(untouched.pos <= start && untouched.serial <= serial, "an unchanged topic is marked no later than now");
    let positions = s
        .append_events(
            vec![
                event(&room, "c", &ada, kinds::CREATE, Some(""), json!({"room_version": "11"})),
                event(&room, "m1", &ada, kinds::MEMBER, Some(ada.as_str()), json!({"membership": "join"})),
                event(&room, "n1", &ada, kinds::NAME, Some(""), json!({"name": "Ward 7"})),
                event(&room, "i1", &ada, kinds::MEMBER, Some(bea.as_str()), json!({"membership": "invite"})),
            ],
            vec![],
        )
        .await?;
    check!(positions.len() == 4 && positions.windows(2).all(|w| w[0] < w[1]), "positions increase");
    check!(positions[0] > start && s.current_pos() == positions[3], "current_pos is the last commit");
    let mark = s.last_change(&ChangeTopic::RoomEvents(room.clone()));
    check!(mark.pos == positions[3], "room events marked at the room's latest event");
    check!(mark.count == untouched.count + 4, "one change counted per event");
    check!(mark.serial > serial && mark.serial <= s.commit_serial(), "commit serial advances");
    check!(s.last_change(&ChangeTopic::Membership(bea.clone())).pos >= positions[3], "an invite marks membership");
    check!(s.last_change(&ChangeTopic::Presence).serial <= serial, "other topics untouched");
    check!(s.room_exists(&room).await?, "create event creates the room");
    let state_mark = s.last_change(&ChangeTopic::RoomState(room.clone()));
    check!(state_mark.pos >= positions[3], "state events mark the room's state");
    let mut msg = event(&room, "msg1", &ada, kinds::MESSAGE, None, json!({"msgtype": "m.text", "body": "obs due"}));
    msg.txn = Some(TxnRef { device_id: "D3".into(), txn_id: "t1".into() });
    let p_msg = s.append_events(vec![msg.clone()], vec![]).await?;
    let mut dup = msg.clone();
    dup.event_id = owned_event_id!("$other");
    let audit_before = s.audit_head().await?.0;
    let note = NewAuditRecord::new(Timestamp(1), AuditAction::MessageSend, Outcome::Success);
    let before_dup = s.last_change(&ChangeTopic::RoomEvents(room.clone()));
    check!(matches!(s.append_events(vec![dup], vec![note]).await, Err(StoreError::Conflict(_))), "txn is unique");
    check!(s.last_change(&ChangeTopic::RoomEvents(room.clone())) == before_dup, "a failed write marks nothing");
    check!(s.current_pos() == p_msg[0], "a failed write takes no stream position");
    check!(s.last_change(&ChangeTopic::RoomState(room.clone())) == state_mark, "a message leaves the state's mark");
    check!(s.audit_head().await?.0 == audit_before, "a failed append writes no audit record");
    check!(
        s.event_for_txn(&ada, device_id!("D3"), "t1").await?.as_deref().map(ruma::EventId::as_str) == Some("$msg1"),
        "txn lookup"
    );
    s.append_events(
        vec![
            event(&room, "j2", &bea, kinds::MEMBER, Some(bea.as_str()), json!({"membership": "join"})),
            event(&room, "n2", &bea, kinds::NAME, Some(""), json!({"name": "Ward 7 North"})),
        ],
        vec![],
    )
    .await?;
    let now = s.current_pos();
    // State at the message: name is still "Ward 7", bea only invited.
    let state = s.state_at(&room, p_msg[0]).await?;
    let name = state.iter().find(|e| e.event.kind == kinds::NAME).ok_or_else(|| fail("name in state"))?;
    check!(name.event.content["name"] == "Ward 7", "state_at sees the old name");
    let bea_member = state
        .iter()
        .find(|e| e.event.state_key.as_deref() == Some(bea.as_str()))
        .ok_or_else(|| fail("bea in state"))?;
    check!(bea_member.membership() == Some(Membership::Invite), "state_at sees the invite");
    check!(s.state_at(&room, now).await?.len() == 4, "four state keys now");
    let changes = s.state_changes(&room, PosRange::new(p_msg[0], now)).await?;
    check!(changes.len() == 2, "two state changes after the message");
    // Log reads in both directions.
    let fwd = s.room_events(&room, PosRange::upto(now), Direction::Forward, 100).await?;
    check!(fwd.len() == 7 && fwd.windows(2).all(|w| w[0].stream < w[1].stream), "forward read in order");
    let back = s.room_events(&room, PosRange::upto(now), Direction::Backward, 2).await?;
    check!(back.len() == 2 && back[0].event.event_id == "$n2", "backward read starts at the newest");
    // Memberships.
    let members = s.members(&room).await?;
    check!(members.iter().all(|(_, m)| *m == Membership::Join) && members.len() == 2, "members joined");
    let hist = s.membership_history(&bea, &room).await?;
    check!(
        hist.iter().map(|c| c.membership).collect::<Vec<_>>() == vec![Membership::Invite, Membership::Join],
        "membership history"
    );
    check!(s.membership_changes(&bea, PosRange::new(p_msg[0], now)).await?.len() == 1, "membership changes in range");
    check!(s.rooms_of_user(&bea).await?.first().is_some_and(|c| c.membership == Membership::Join), "rooms of user");
    let cy = owned_user_id!("@cy:localhost");
    check!(s.unread_count(&room, &cy, s.current_pos()).await? == 1, "one unread message for someone who never read");
    check!(s.unread_count(&room, &bea, s.current_pos()).await? == 0, "nothing unread before one's own latest event");
    check!(s.unread_count(&room, &ada, s.current_pos()).await? == 0, "own messages are not unread");
    check!(s.read_point(&room, &cy, s.current_pos()).await? < p_msg[0], "unread begins before the unread message");
    check!(s.read_point(&room, &ada, s.current_pos()).await? >= p_msg[0], "one's own message is read");
    check!(s.unread_gained(&room, &cy, PosRange::new(start, p_msg[0])).await? == Some(1), "unread gained in a range");
    check!(s.unread_count(&room, &cy, start).await? == 0, "nothing unread up to an earlier position");
    check!(s.unread_gained(&room, &ada, PosRange::new(start, p_msg[0])).await?.is_none(), "own event: count afresh");
    // Redaction prunes content and records why.
    let mut redaction = event(&room, "r1", &ada, kinds::REDACTION, None, json!({"redacts": "$msg1"}));
    redaction.redacts = Some(owned_event_id!("$msg1"));
    let redaction_pos = s.append_events(vec![redaction], vec![]).await?;
    check!(
        s.last_change(&ChangeTopic::RoomState(room.clone())).pos >= redaction_pos[0],
        "a redaction marks the room's state (it may change a state event)"
    );
    let redacted = s.event(&owned_event_id!("$msg1")).await?.ok_or_else(|| fail("redacted event kept"))?;
    check!(redacted.event.content == json!({}), "content pruned");
    check!(
        s.original_content(&owned_event_id!("$msg1")).await? == Some(json!({"msgtype": "m.text", "body": "obs due"})),
        "the original is kept for investigations"
    );
    check!(s.original_content(&owned_event_id!("$n1")).await?.is_none(), "no original for unredacted events");
    check!(redacted.redacted_because.as_ref().is_some_and(|b| b["event_id"] == "$r1"), "redacted_because set");
    check!(s.unread_count(&room, &cy, s.current_pos()).await? == 0, "redacted messages are not unread");
    check!(s.unread_gained(&room, &cy, PosRange::new(now, s.current_pos())).await?.is_none(), "redaction: afresh");
    // Leaving and forgetting.
    s.append_events(
        vec![event(&room, "l2", &bea, kinds::MEMBER, Some(bea.as_str()), json!({"membership": "leave"}))],
        vec![],
    )
    .await?;
    s.forget_room(&bea, &room).await?;
    check!(s.rooms_of_user(&bea).await?.is_empty(), "forgotten room hidden");
    check!(s.room_ids().await? == vec![room.clone()], "room ids");
    Ok(room)
}

async fn receipts(s: &impl Store, room: &OwnedRoomId) -> StoreResult<()> {
    let ada = owned_user_id!("@ada:localhost");
    let receipt = |event: &str, stream: i64| Receipt {
        room_id: room.clone(),
        user_id: ada.clone(),
        receipt_type: "m.read".into(),
        thread_id: None,
        event_id: OwnedEventId::try_from(event).unwrap_or_else(|_| owned_event_id!("$x")),
        event_stream: StreamPos(stream),
        ts: Timestamp(9),
        stream: StreamPos::ZERO,
        device_id: None,
        arrived: StreamPos::ZERO,
    };
    let before = s.current_pos();
    let p = s.put_receipt(receipt("$n2", 7)).await?.ok_or_else(|| fail("receipt stored"))?;
    check!(s.last_change(&ChangeTopic::RoomReceipts(room.clone())).pos >= p, "a receipt marks the room's receipts");
    check!(s.last_change(&ChangeTopic::ReceiptsBy(ada.clone())).pos >= p, "and the reader's receipts");
    check!(s.put_receipt(receipt("$c", 1)).await?.is_none(), "an older receipt does not move it back");
    check!(s.unread_count(room, &ada, s.current_pos()).await? == 0, "nothing unread up to the receipt");
    let got = s.receipts(room, PosRange::new(before, s.current_pos())).await?;
    check!(got.len() == 1 && got[0].stream == p && got[0].event_id == "$n2", "receipts in range");
    Ok(())
}

/// Deliveries (intervals of a room's log per member and device, each kept with its first time),
/// the log of read receipts with their devices, and the batched questions a status asks.
async fn deliveries_and_read_history(s: &impl Store) -> StoreResult<()> {
    let room = owned_room_id!("!ward8:localhost");
    let other = owned_room_id!("!ward7:localhost");
    let ada = owned_user_id!("@ada:localhost");
    let ben = owned_user_id!("@ben:localhost");
    let cy = owned_user_id!("@cy:localhost");
    let text = |body: &str| json!({"msgtype": "m.text", "body": body});
    let mut p = s
        .append_events(
            vec![
                event(&room, "w8c", &ada, kinds::CREATE, Some(""), json!({"room_version": "11"})),
                event(&room, "w8j", &ada, kinds::MEMBER, Some(ada.as_str()), json!({"membership": "join"})),
                event(&room, "w8m1", &ada, kinds::MESSAGE, None, text("one")),
            ],
            vec![],
        )
        .await?;
    p.extend(s.append_events(vec![event(&other, "w7x", &ada, kinds::MESSAGE, None, text("elsewhere"))], vec![]).await?);
    p.extend(
        s.append_events(
            vec![
                event(&room, "w8m2", &ada, kinds::MESSAGE, None, text("two")),
                event(&room, "w8m3", &ada, kinds::MESSAGE, None, text("three")),
                event(&room, "w8jb", &ben, kinds::MEMBER, Some(ben.as_str()), json!({"membership": "join"})),
                event(&room, "w8lb", &ben, kinds::MEMBER, Some(ben.as_str()), json!({"membership": "leave"})),
            ],
            vec![],
        )
        .await?,
    );
    let [c, j, m1, x, m2, m3, jb, lb] = p[..] else { return Err(fail("eight positions")) };
    let by_ada = s.events_by_sender(&room, &ada, PosRange::new(j, m3), 2).await?;
    check!(by_ada.iter().map(|e| e.stream).collect::<Vec<_>>() == vec![m3, m2], "a sender's events, newest first");
    check!(s.events_by_sender(&room, &ben, PosRange::upto(m3), 10).await?.is_empty(), "nothing by someone else");
    check!(s.last_message_by(&room, &ada, lb).await? == Some(m3), "a sender's latest message");
    check!(s.last_message_by(&room, &ada, m2).await? == Some(m2), "up to a position");
    check!(s.last_message_by(&room, &ben, lb).await?.is_none(), "membership events are not messages");
    let histories = s.membership_histories(&room, &[ben.clone(), ada.clone(), cy.clone()]).await?;
    check!(
        histories.iter().map(|(u, m)| (u.as_str(), m.stream, m.membership)).collect::<Vec<_>>()
            == vec![
                (ada.as_str(), j, Membership::Join),
                (ben.as_str(), jb, Membership::Join),
                (ben.as_str(), lb, Membership::Leave)
            ],
        "the membership histories of several members, each in order, in one query"
    );

    let (phone, pc) = (Some(OwnedDeviceId::from("PHONE")), Some(OwnedDeviceId::from("WARDPC")));
    let delivery = |user: &OwnedUserId, device: &Option<OwnedDeviceId>, first, last, ts| Delivery {
        room_id: room.clone(),
        user_id: user.clone(),
        device_id: device.clone(),
        first,
        last,
        ts: Timestamp(ts),
        stream: StreamPos::ZERO,
    };
    let before = s.current_pos();
    let got = s.put_deliveries(vec![delivery(&ben, &phone, m1, m2, 10)]).await?;
    check!(got.len() == 1 && got[0].first == m1 && got[0].last == m2 && got[0].stream > before, "a delivery recorded");
    check!(got[0].device_id == phone, "with its device");
    check!(s.last_change(&ChangeTopic::RoomDeliveries(room.clone())).pos >= got[0].stream, "deliveries are a topic");
    check!(s.current_pos() == got[0].stream, "a delivery takes a stream position");
    // Delivered again with more: only what is new to that device is recorded, cut to the room's
    // own events; another device records its own.
    let again = s.put_deliveries(vec![delivery(&ben, &phone, c, m3, 20), delivery(&ben, &pc, m1, m3, 20)]).await?;
    check!(
        again.iter().map(|d| (d.first, d.last, d.ts, d.device_id.clone())).collect::<Vec<_>>()
            == vec![
                (c, j, Timestamp(20), phone.clone()),
                (m3, m3, Timestamp(20), phone.clone()),
                (m1, m3, Timestamp(20), pc.clone())
            ],
        "only the parts not delivered to the device before, each from its first event to its last"
    );
    let at = s.current_pos();
    check!(
        s.put_deliveries(vec![delivery(&ben, &phone, m1, m3, 30), delivery(&cy, &phone, x, x, 30)]).await?.is_empty(),
        "nothing new"
    );
    check!(s.current_pos() == at, "recording nothing takes no position");
    let covering = s.deliveries(&room, &[ben.clone(), cy.clone()], PosRange::new(StreamPos(m2.0 - 1), m2)).await?;
    check!(
        covering.iter().map(|d| (d.device_id.clone(), d.first, d.ts)).collect::<Vec<_>>()
            == vec![(phone.clone(), m1, Timestamp(10)), (pc.clone(), m1, Timestamp(20))],
        "each device's interval covering a position, with the time it was first delivered to it"
    );
    let all = s.deliveries(&room, &[cy.clone(), ben.clone()], PosRange::upto(m3)).await?;
    check!(
        all.iter().map(|d| (d.device_id.clone(), d.first)).collect::<Vec<_>>()
            == vec![(phone.clone(), c), (phone.clone(), m1), (phone.clone(), m3), (pc.clone(), m1)],
        "every interval of the member, by device and position"
    );
    check!(s.delivery_changes(&room, PosRange::new(before, s.current_pos()), m3).await?.len() == 4, "changes");
    check!(
        s.delivery_changes(&room, PosRange::new(before, s.current_pos()), j).await?.len() == 1,
        "those starting by a position"
    );
    let late = s.delivery_changes(&room, PosRange::new(got[0].stream, s.current_pos()), m3).await?;
    check!(late.len() == 3 && late.iter().all(|d| d.ts == Timestamp(20)), "changes after a position");
    let to_phone = s
        .device_delivery_changes(&room, &[(ben.clone(), phone.clone(), PosRange::new(got[0].stream, s.current_pos()))])
        .await?;
    check!(
        to_phone.iter().map(|d| (d.first, d.last)).collect::<Vec<_>>() == vec![(c, j), (m3, m3)],
        "changes to one device"
    );

    let receipt =
        |event: &str, event_stream, kind: &str, thread: Option<&str>, ts, device: &Option<OwnedDeviceId>| Receipt {
            room_id: room.clone(),
            user_id: ben.clone(),
            receipt_type: kind.into(),
            thread_id: thread.map(Into::into),
            event_id: OwnedEventId::try_from(event).unwrap_or_else(|_| owned_event_id!("$x")),
            event_stream,
            ts: Timestamp(ts),
            stream: StreamPos::ZERO,
            device_id: device.clone(),
            arrived: s.current_pos(),
        };
    let r1 = s.put_receipt(receipt("$w8m1", m1, "m.read", None, 100, &phone)).await?.ok_or_else(|| fail("stored"))?;
    s.put_receipt(receipt("$w8m2", m2, "m.read.private", None, 110, &phone)).await?;
    let rt =
        s.put_receipt(receipt("$w8m3", m3, "m.read", Some("$w8m1"), 115, &pc)).await?.ok_or_else(|| fail("stored"))?;
    let r3 = s
        .put_receipt(receipt("$w8m3", m3, "m.read", Some("main"), 120, &phone))
        .await?
        .ok_or_else(|| fail("stored"))?;
    let log = s.read_receipt_log(&room, PosRange::new(StreamPos(r1.0 - 1), s.current_pos())).await?;
    check!(
        log.iter().map(|r| (r.stream, r.device_id.clone(), r.thread_id.clone())).collect::<Vec<_>>()
            == vec![
                (r1, phone.clone(), None),
                (rt, pc.clone(), Some("$w8m1".to_owned())),
                (r3, phone.clone(), Some("main".to_owned()))
            ],
        "public read receipts, any thread, with their devices, as logged"
    );
    check!(log[0].arrived < r1 && log[0].ts == Timestamp(100), "with when they arrived");
    // The same receipt again: not logged; logged once the device got something since.
    check!(s.put_receipt(receipt("$w8m1", m1, "m.read", None, 130, &phone)).await?.is_none(), "nothing new");
    let newer = s.put_deliveries(vec![delivery(&ben, &phone, jb, jb, 140)]).await?;
    check!(newer.len() == 1, "the phone gets more");
    let resent = s.put_receipt(receipt("$w8m1", m1, "m.read", None, 150, &phone)).await?;
    check!(resent.is_some(), "a receipt re-sent after the device got more is logged");
    check!(
        s.receipts(&room, PosRange::new(r3, s.current_pos())).await?.is_empty(),
        "and does not move the latest receipt"
    );
    let r5 = resent.unwrap_or_default();
    let since = s.read_receipts_since(&room, &[(ben.clone(), r1)], m2).await?;
    check!(since.iter().map(|r| r.stream).collect::<Vec<_>>() == vec![rt, r3], "logged after, pointing at or after");
    let since =
        s.read_receipts_since(&room, &[(ben.clone(), StreamPos::ZERO), (cy.clone(), StreamPos::ZERO)], m1).await?;
    check!(since.iter().map(|r| r.stream).collect::<Vec<_>>() == vec![r1, rt, r3, r5], "every member's, in order");
    let keys = [
        (ben.clone(), phone.clone(), None),
        (ben.clone(), pc.clone(), Some("$w8m1".to_owned())),
        (ben.clone(), pc.clone(), None),
    ];
    let latest = s.latest_read_receipts(&room, &keys, r3).await?;
    check!(latest.iter().map(|r| r.stream).collect::<Vec<_>>() == vec![r1, rt], "latest per device and thread");
    let latest = s.latest_read_receipts(&room, &keys[..1], s.current_pos()).await?;
    check!(latest.iter().map(|r| r.stream).collect::<Vec<_>>() == vec![r5], "as of a position");
    Ok(())
}

async fn user_data(s: &impl Store) -> StoreResult<()> {
    let ada = owned_user_id!("@ada:localhost");
    let before = s.current_pos();
    s.put_account_data(&ada, None, "m.direct", json!({"a": 1})).await?;
    s.put_account_data(&ada, None, "m.direct", json!({"a": 2})).await?;
    let room = owned_room_id!("!ward7:localhost");
    s.put_account_data(&ada, Some(&room), "m.tag", json!({"tags": {}})).await?;
    check!(s.account_data(&ada, None, "m.direct").await? == Some(json!({"a": 2})), "account data replaced");
    let changes = s.account_data_changes(&ada, PosRange::new(before, s.current_pos())).await?;
    check!(changes.len() == 2 && changes[1].room_id.as_ref() == Some(&room), "account data changes");
    let text = r#"{"room":{"timeline":{"limit":5}} , "x":1}"#;
    let id = s.put_filter(&ada, text).await?;
    check!(s.filter(&ada, &id).await?.as_deref() == Some(text), "filter stored byte for byte");
    check!(s.filter(&owned_user_id!("@bea:localhost"), &id).await?.is_none(), "filters are per user");
    check!(s.filter(&ada, "not-a-number").await?.is_none(), "bad filter id");
    Ok(())
}

async fn audit(s: &impl Store, room: &OwnedRoomId) -> StoreResult<()> {
    let (start, _) = s.audit_head().await?;
    let mut rec = NewAuditRecord::new(Timestamp(50), AuditAction::Login, Outcome::Success);
    rec.actor = Some("@ada:localhost".into());
    s.append_audit(vec![rec.clone(), rec.clone()]).await?;
    let mut sent = NewAuditRecord::new(Timestamp(51), AuditAction::MessageSend, Outcome::Success);
    sent.room_id = Some(room.to_string());
    let ada = owned_user_id!("@ada:localhost");
    s.append_events(vec![event(room, "audited", &ada, kinds::MESSAGE, None, json!({"body": "x"}))], vec![sent]).await?;
    let (head, head_hash) = s.audit_head().await?;
    check!(head == start + 3, "three records appended");
    let all = s.audit_records(1, 10_000).await?;
    check!(verify_chain(&all, 0, GENESIS.to_owned()) == Ok((head, head_hash.clone())), "the stored chain verifies");
    check!(all.last().is_some_and(|r| r.record.action == AuditAction::MessageSend), "event audit stored with it");
    check!(s.audit_records(head, 10).await?.len() == 1, "paging by seq");
    check!(all.iter().all(|r| r.hash_version == HashVersion::CURRENT), "new records carry the current hash version");
    let cp = Checkpoint { seq: head, hash: head_hash, ts: Timestamp(52), signature: "ab".into() };
    s.put_checkpoint(cp.clone()).await?;
    check!(s.checkpoints().await?.last() == Some(&cp), "checkpoint stored");
    let again = Checkpoint { ts: Timestamp(53), signature: "cd".into(), ..cp.clone() };
    s.put_checkpoint(again).await?;
    let cps = s.checkpoints().await?;
    check!(cps.iter().filter(|c| c.seq == head).count() == 1, "one checkpoint per position");
    check!(cps.last() == Some(&cp), "a stored checkpoint is never replaced");
    Ok(())
}

async fn mfa(s: &impl Store) -> StoreResult<()> {
    let bea = owned_user_id!("@bea:localhost");
    check!(s.totp(&bea).await?.is_none(), "no enrolment yet");
    s.put_totp(&bea, "SECRET1", Timestamp(1)).await?;
    check!(s.totp(&bea).await?.is_some_and(|t| !t.confirmed && t.secret == "SECRET1"), "pending enrolment");
    s.confirm_totp(&bea, 100, vec!["h1".into(), "h2".into()]).await?;
    check!(s.totp(&bea).await?.is_some_and(|t| t.confirmed && t.last_step == 100), "confirmed");
    check!(!s.use_totp_step(&bea, 100).await?, "a step is used once");
    check!(!s.use_totp_step(&bea, 99).await?, "an earlier step cannot be replayed");
    check!(s.use_totp_step(&bea, 101).await?, "a later step works");
    check!(s.use_recovery_code(&bea, "h1", Timestamp(2)).await?, "recovery code works");
    check!(!s.use_recovery_code(&bea, "h1", Timestamp(3)).await?, "recovery code works once");
    check!(!s.use_recovery_code(&bea, "nope", Timestamp(3)).await?, "unknown recovery code");
    s.delete_totp(&bea).await?;
    check!(s.totp(&bea).await?.is_none() && !s.use_recovery_code(&bea, "h2", Timestamp(4)).await?, "removed");
    Ok(())
}

async fn media(s: &impl Store, room: &OwnedRoomId) -> StoreResult<()> {
    let ada = owned_user_id!("@ada:localhost");
    let bea = owned_user_id!("@bea:localhost");
    let new = |id: &str, upload_by: Option<u64>| NewMedia {
        media_id: id.into(),
        uploader: ada.clone(),
        created_at: Timestamp(1),
        upload_by: upload_by.map(Timestamp),
    };
    let content = |hash: &str| MediaContent {
        hash: hash.into(),
        content_type: "image/jpeg".into(),
        size: 1000,
        filename: Some("wound.jpg".into()),
        dimensions: Some((640, 480)),
        key_ref: None,
    };
    s.create_media(new("m1", Some(100))).await?;
    check!(matches!(s.create_media(new("m1", None)).await, Err(StoreError::Conflict(_))), "media ids are unique");
    check!(s.media("m1").await?.is_some_and(|m| m.content.is_none()), "created without content");
    check!(
        matches!(s.put_media_content("m1", &bea, content("h1")).await, Err(StoreError::NotFound)),
        "only the uploader uploads"
    );
    s.put_media_content("m1", &ada, content("h1")).await?;
    check!(
        matches!(s.put_media_content("m1", &ada, content("h2")).await, Err(StoreError::Conflict(_))),
        "content is set once"
    );
    let m1 = s.media("m1").await?.ok_or_else(|| fail("m1"))?;
    check!(m1.content == Some(content("h1")) && m1.meta.upload_by.is_none(), "content round-trips");
    check!(s.media_bytes_of(&ada).await? == 1000 && s.media_bytes_of(&bea).await? == 0, "bytes per uploader");
    // A message refers to it; redacting the message releases it.
    let photo = json!({"msgtype": "m.image", "body": "wound.jpg", "url": "mxc://localhost/m1"});
    let pos = s.append_events(vec![event(room, "img1", &ada, kinds::MESSAGE, None, photo)], vec![]).await?;
    let refs = s.media_refs("m1").await?;
    check!(refs.len() == 1 && refs[0].stream == pos[0] && refs[0].event_id == "$img1", "reference recorded");
    check!(s.media_refs("unknown").await?.is_empty(), "no references to unknown media");
    s.create_media(new("m2", None)).await?;
    s.put_media_content("m2", &ada, content("h1")).await?;
    let mut redaction = event(room, "rimg1", &ada, kinds::REDACTION, None, json!({"redacts": "$img1"}));
    redaction.redacts = Some(owned_event_id!("$img1"));
    s.append_events(vec![redaction], vec![]).await?;
    check!(s.media("m1").await?.is_none(), "released with its only message");
    check!(s.purge_released_media(Timestamp(2)).await?.is_empty(), "a blob another item uses is kept");
    check!(s.blob_in_use("h1").await?, "blob still in use");
    // An id whose upload never came expires.
    s.create_media(new("m3", Some(50))).await?;
    s.purge_released_media(Timestamp(51)).await?;
    check!(s.media("m3").await?.is_none() && s.media("m2").await?.is_some(), "expired id purged, others kept");
    let pos = s
        .append_events(
            vec![event(
                room,
                "img2",
                &ada,
                kinds::MESSAGE,
                None,
                json!({"msgtype": "m.file", "body": "x", "url": "mxc://localhost/m2"}),
            )],
            vec![],
        )
        .await?;
    let mut redaction = event(room, "rimg2", &ada, kinds::REDACTION, None, json!({"redacts": "$img2"}));
    redaction.redacts = Some(owned_event_id!("$img2"));
    s.append_events(vec![redaction], vec![]).await?;
    check!(s.purge_released_media(Timestamp(52)).await? == vec!["h1".to_owned()], "the last user of a blob frees it");
    check!(!s.blob_in_use("h1").await? && !pos.is_empty(), "blob unused");
    Ok(())
}
