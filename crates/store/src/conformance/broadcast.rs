//! Conformance of broadcasts ([`crate::BroadcastStore`]).

use ruma::{owned_event_id, owned_room_id, owned_user_id};
use wardline_types::Timestamp;
use wardline_types::broadcast::Audience;
use wardline_types::priority::Level;

use super::fail;
use crate::{Broadcast, Store, StoreError, StoreResult};

/// One per sender and transaction id, found by either key, listed newest first; a reminder is
/// claimed once per interval.
pub(super) async fn broadcasts(s: &impl Store) -> StoreResult<()> {
    let ada = owned_user_id!("@ada:localhost");
    let b = Broadcast {
        room_id: owned_room_id!("!b1:localhost"),
        event_id: owned_event_id!("$b1"),
        sender: ada.clone(),
        txn_id: "t1".into(),
        audience: Audience::Department { department: "Cardiology".into() },
        title: "Fire drill".into(),
        level: Level::Routine,
        acknowledge: true,
        sent: Timestamp(1_000),
        recipients: 530,
        reminded: None,
    };
    check!(s.insert_broadcast(b.clone()).await?, "recorded");
    let again = Broadcast { room_id: owned_room_id!("!b2:localhost"), ..b.clone() };
    check!(!s.insert_broadcast(again).await?, "one per sender and transaction id");
    check!(s.broadcast(&b.room_id).await?.as_ref() == Some(&b), "by conversation");
    check!(s.broadcast_for_txn(&ada, "t1").await?.as_ref() == Some(&b), "by transaction");
    check!(s.broadcast_for_txn(&owned_user_id!("@ben:localhost"), "t1").await?.is_none(), "per sender");
    let later = Broadcast {
        room_id: owned_room_id!("!b3:localhost"),
        event_id: owned_event_id!("$b3"),
        txn_id: "t2".into(),
        sent: Timestamp(2_000),
        audience: Audience::Organisation,
        ..b.clone()
    };
    check!(s.insert_broadcast(later.clone()).await?, "a second");
    let listed: Vec<_> = s.broadcasts_by(&ada, 10).await?.into_iter().map(|x| x.room_id).collect();
    check!(listed == vec![later.room_id.clone(), b.room_id.clone()], "newest first");

    check!(s.claim_reminder(&b.room_id, Timestamp(10_000), Timestamp(9_000)).await?.is_none(), "first reminder");
    let refused = s.claim_reminder(&b.room_id, Timestamp(10_500), Timestamp(9_500)).await?;
    check!(refused == Some(Timestamp(10_000)), "within the interval: refused with the last one's time");
    check!(s.claim_reminder(&b.room_id, Timestamp(20_000), Timestamp(10_000)).await?.is_none(), "after it");
    let stored = s.broadcast(&b.room_id).await?.ok_or_else(|| fail("stored"))?;
    check!(stored.reminded == Some(Timestamp(20_000)), "the time kept");
    check!(
        matches!(
            s.claim_reminder(&owned_room_id!("!none:localhost"), Timestamp(1), Timestamp(0)).await,
            Err(StoreError::NotFound)
        ),
        "no such broadcast"
    );
    Ok(())
}
