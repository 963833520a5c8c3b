//! Conformance of do-not-disturb ([`crate::DndStore`]): the cover checked inside the write,
//! presence told of every set and end, the record of periods; and of the cursors of background
//! followers ([`crate::CursorStore`]).

use ruma::{OwnedUserId, device_id, owned_room_id};
use serde_json::json;
use wardline_types::{StreamPos, Timestamp, kinds};

use super::{account, event, fail};
use crate::{ChangeTopic, DndRefusal, NewDnd, PosRange, Store, StoreResult};

fn user(name: &str) -> OwnedUserId {
    OwnedUserId::try_from(format!("@{name}:localhost")).unwrap_or_else(|_| ruma::owned_user_id!("@x:localhost"))
}

fn new(who: &str, cover: Option<&str>, at: u64, until: u64) -> NewDnd {
    NewDnd {
        user_id: user(who),
        until: Timestamp(until),
        cover: cover.map(user),
        at: Timestamp(at),
        device_id: Some("PHONE".into()),
    }
}

/// Runs two futures at once (both writes queue before either is answered).
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => std::task::Poll::Ready((x, y)),
            (x, y) => {
                (ra, rb) = (x, y);
                std::task::Poll::Pending
            }
        }
    })
    .await
}

pub(super) async fn dnd(s: &impl Store) -> StoreResult<()> {
    for name in ["dia", "dob", "dee", "dov", "dug", "dex"] {
        s.create_account(account(name), Timestamp(1)).await?;
    }
    s.set_deactivated(&user("dex"), true).await?;
    check!(s.dnd(&user("dia")).await?.is_none(), "nothing set yet");
    check!(s.dnds(&[user("dia"), user("dob")]).await?.is_empty(), "nobody on do-not-disturb yet");

    // Set, with a cover: stored, and presence told (a row made for someone never seen).
    check!(s.presence(&user("dia")).await?.is_none(), "dia never seen");
    let serial = s.last_change(&ChangeTopic::Presence).serial;
    let before = s.current_pos();
    let set = s.set_dnd(new("dia", Some("dob"), 1_000, 5_000)).await?;
    let set = set.map_err(|r| fail(&format!("set refused: {r:?}")))?;
    check!(
        set.user_id == user("dia") && set.until == Timestamp(5_000) && set.cover == Some(user("dob")),
        "a do-not-disturb round-trips"
    );
    check!(s.dnd(&user("dia")).await?.as_ref() == Some(&set), "stored");
    check!(
        set.set_at == Timestamp(1_000) && set.set_by_device.as_deref() == Some(device_id!("PHONE")),
        "when and whence"
    );
    let p = s.presence(&user("dia")).await?.ok_or_else(|| fail("presence made for someone never seen"))?;
    check!(p.state == "offline" && p.stream > before && p.last_sync.is_none(), "a never-seen presence row");
    check!(s.last_change(&ChangeTopic::Presence).serial > serial, "setting marks presence");
    check!(
        s.presence_changes(PosRange::new(before, s.current_pos())).await?.iter().any(|c| c.user_id == user("dia")),
        "colleagues' sync hears of it"
    );

    // The cover must not be on do-not-disturb, must be active, and is checked in the write.
    check!(
        s.set_dnd(new("dob", Some("dia"), 2_000, 3_000)).await?
            == Err(DndRefusal::CoverOnDnd(user("dia"), Timestamp(5_000))),
        "someone on do-not-disturb cannot be named as cover"
    );
    check!(s.dnd(&user("dob")).await?.is_none(), "a refusal writes nothing");
    check!(
        s.set_dnd(new("dob", Some("dex"), 2_000, 3_000)).await? == Err(DndRefusal::CoverNotActive(user("dex"))),
        "a deactivated cover"
    );
    check!(
        s.set_dnd(new("dob", Some("nobody"), 2_000, 3_000)).await? == Err(DndRefusal::CoverNotActive(user("nobody"))),
        "an unknown cover"
    );
    check!(
        s.set_dnd(new("dob", Some("dia"), 5_000, 6_000)).await?.is_ok(),
        "once it has run out, the same person may cover (the stored row is not in force)"
    );
    check!(s.clear_dnd(&user("dob"), Timestamp(5_500)).await?.is_some(), "cleared");

    // Two people naming each other at the same moment: one of them is refused.
    let (a, b) =
        both(s.set_dnd(new("dee", Some("dov"), 10_000, 20_000)), s.set_dnd(new("dov", Some("dee"), 10_000, 20_000)))
            .await;
    check!(a?.is_ok() != b?.is_ok(), "exactly one of two people naming each other succeeds");

    // Replacing ends the earlier period in the record; clearing ends the current one.
    s.set_dnd(new("dia", None, 2_000, 8_000)).await?.map_err(|r| fail(&format!("replace refused: {r:?}")))?;
    check!(s.dnd(&user("dia")).await?.is_some_and(|d| d.cover.is_none() && d.until == Timestamp(8_000)), "replaced");
    let record: Vec<_> = s
        .dnd_periods(Timestamp(0), Timestamp(100_000))
        .await?
        .into_iter()
        .filter(|p| p.user_id == user("dia"))
        .collect();
    check!(record.len() == 2, "both periods are in the record");
    check!(
        record[0].cover == Some(user("dob"))
            && record[0].ended == Some(Timestamp(2_000))
            && record[0].end() == Timestamp(2_000),
        "the replaced period ended when it was replaced"
    );
    check!(record[1].from == Timestamp(2_000) && record[1].ended.is_none(), "the new period is open");
    let at = |t: u64| async move {
        StoreResult::Ok(
            s.dnd_periods(Timestamp(t), Timestamp(t))
                .await?
                .into_iter()
                .filter(|p| p.user_id == user("dia"))
                .map(|p| p.cover)
                .collect::<Vec<_>>(),
        )
    };
    check!(at(1_500).await? == vec![Some(user("dob"))], "who covered at a moment of the first period");
    check!(at(2_500).await? == vec![None], "and of the second");
    check!(at(999).await?.is_empty(), "nothing before it was set");

    let before = s.current_pos();
    let cleared = s.clear_dnd(&user("dia"), Timestamp(3_000)).await?;
    check!(cleared.is_some_and(|d| d.until == Timestamp(8_000)), "clearing returns what was set");
    check!(s.dnd(&user("dia")).await?.is_none(), "cleared");
    check!(s.presence(&user("dia")).await?.is_some_and(|p| p.stream > before), "clearing tells presence");
    check!(s.clear_dnd(&user("dia"), Timestamp(3_001)).await?.is_none(), "nothing left to clear");
    check!(at(3_500).await?.is_empty(), "the cleared period ended when cleared");

    // Ending by itself: the stored row is removed once it has run out, the record keeps it.
    s.set_dnd(new("dug", Some("dia"), 4_000, 9_000)).await?.map_err(|r| fail(&format!("{r:?}")))?;
    let both = s.dnds(&[user("dug"), user("dia"), user("dob")]).await?;
    check!(both.len() == 1 && both[0].user_id == user("dug"), "the stored do-not-disturb of several users");
    let next = s.next_dnd_end().await?.ok_or_else(|| fail("an end is due"))?;
    check!(next <= Timestamp(9_000), "the next end");
    let before = s.current_pos();
    let early = s.end_expired_dnd(Timestamp(8_999)).await?;
    check!(early.iter().all(|d| d.user_id != user("dug")), "nothing ends before its time");
    let ended = s.end_expired_dnd(Timestamp(9_000)).await?;
    check!(ended.iter().any(|d| d.user_id == user("dug")), "it ends at until");
    check!(s.dnd(&user("dug")).await?.is_none(), "removed once run out");
    check!(s.presence(&user("dug")).await?.is_some_and(|p| p.stream > before), "its end tells presence");
    check!(s.end_expired_dnd(Timestamp(9_000)).await?.is_empty(), "ended once");
    let kept = s.dnd_periods(Timestamp(8_000), Timestamp(8_000)).await?;
    check!(
        kept.iter().any(|p| p.user_id == user("dug") && p.ended.is_none() && p.until == Timestamp(9_000)),
        "the record keeps a period that ran out"
    );

    cursors(s).await
}

async fn cursors(s: &impl Store) -> StoreResult<()> {
    check!(s.cursor("test.follower").await?.is_none(), "no cursor yet");
    let room = owned_room_id!("!follow:localhost");
    let (dia, start) = (user("dia"), s.current_pos());
    let text = |id: &str| event(&room, id, &dia, kinds::MESSAGE, None, json!({"msgtype": "m.text", "body": id}));
    let positions = s
        .append_events(
            vec![
                event(&room, "follow-c", &dia, kinds::CREATE, Some(""), json!({"room_version": "11"})),
                event(&room, "follow-m", &dia, kinds::MEMBER, Some(dia.as_str()), json!({"membership": "join"})),
                text("follow-1"),
                text("follow-2"),
                text("follow-3"),
            ],
            vec![],
        )
        .await?;
    let range = PosRange::new(start, s.current_pos());
    let all = s.events_of_kind(kinds::MESSAGE, range, 10).await?;
    let ids: Vec<&str> = all.iter().map(|e| e.event.event_id.as_str()).collect();
    check!(ids == ["$follow-1", "$follow-2", "$follow-3"], "messages of every room in order, nothing else");
    let two = s.events_of_kind(kinds::MESSAGE, range, 2).await?;
    check!(two.len() == 2 && two[1].stream == positions[3], "at most limit");
    check!(s.events_of_kind(kinds::MESSAGE, PosRange::new(positions[3], range.upto), 10).await?.len() == 1, "after");
    s.put_cursor("test.follower", positions[3]).await?;
    check!(s.cursor("test.follower").await? == Some(positions[3]), "a cursor round-trips");
    s.put_cursor("test.follower", StreamPos(1)).await?;
    check!(s.cursor("test.follower").await? == Some(positions[3]), "a cursor never goes back");
    check!(s.cursor("other.follower").await?.is_none(), "cursors are by name");
    Ok(())
}
