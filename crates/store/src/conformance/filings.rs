//! Conformance of filings to the patient's record ([`crate::FilingStore`]).

use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use wardline_types::Timestamp;
use wardline_types::patient::PatientSummary;
use wardline_types::patient::filing::{FILING_ID_BYTES, FilingId, FilingState};

use super::fail;
use crate::{FiledEvent, FiledStatus, FilingResult, NewFiling, Store, StoreResult};

fn event(id: &str) -> StoreResult<OwnedEventId> {
    OwnedEventId::try_from(id).map_err(|_| fail("event id"))
}

fn new(n: u8, room: &OwnedRoomId, at: u64, events: Vec<OwnedEventId>) -> StoreResult<NewFiling> {
    Ok(NewFiling {
        id: FilingId::from_bytes(&[n; FILING_ID_BYTES]),
        room_id: room.clone(),
        requested_by: OwnedUserId::try_from("@ann:localhost").map_err(|_| fail("user id"))?,
        requested: Timestamp(at),
        tie_version: 2,
        patient: PatientSummary {
            id: "pat-1".into(),
            name: "SMITH, John".into(),
            encounter: Some("enc-1".into()),
            ..PatientSummary::default()
        },
        events,
        transcript: n.is_multiple_of(2),
    })
}

fn filed(e: &OwnedEventId, room: &OwnedRoomId, id: &FilingId, resource: &str, hash: &str, at: u64) -> FiledEvent {
    FiledEvent {
        event_id: e.clone(),
        room_id: room.clone(),
        filing_id: id.clone(),
        resource: resource.into(),
        content_hash: hash.into(),
        status: FiledStatus::Completed,
        filed: Timestamp(at),
    }
}

/// A filing is kept whole and due at once; one claim at a time within the lease, taken over
/// after it, renewed by its sender, and a lost claim changes nothing but what the record took;
/// a retry counts the attempt and moves the due time; it ends filed (with what the
/// record holds of each message, replaced by a later filing) or refused (keeping what the
/// record took first), once; a room's pending filings counted; a room's filings
/// newest first.
pub(super) async fn filings(s: &impl Store) -> StoreResult<()> {
    let room = OwnedRoomId::try_from("!filed:localhost").map_err(|_| fail("room id"))?;
    let other = OwnedRoomId::try_from("!other-filed:localhost").map_err(|_| fail("room id"))?;
    let (a, b) = (event("$a+1")?, event("$b")?);
    check!(s.next_filing_due(60_000).await?.is_none(), "nothing due at first");

    let first = s.new_filing(new(1, &room, 1000, vec![a.clone(), b.clone()])?).await?;
    check!(first.request == new(1, &room, 1000, vec![a.clone(), b.clone()])?, "the request kept whole");
    check!(
        first.state == FilingState::Pending && first.attempts == 0 && first.due == Timestamp(1000),
        "pending, due at once"
    );
    check!(first.claimed.is_none() && first.resources.is_empty() && first.finished.is_none(), "nothing yet");
    let id = first.request.id.clone();
    check!(s.filing(&id).await? == Some(first.clone()), "read back");
    check!(s.next_filing_due(60_000).await? == Some(Timestamp(1000)), "the next due");
    check!(s.due_filings(Timestamp(999), Timestamp(0), 10).await?.is_empty(), "not due yet");
    check!(s.due_filings(Timestamp(1000), Timestamp(0), 10).await? == vec![id.clone()], "due");

    // One claim within the lease.
    check!(s.claim_filing(&id, Timestamp(1000), Timestamp(0)).await?, "claimed");
    check!(s.next_filing_due(60_000).await? == Some(Timestamp(61_000)), "a claimed one: when its lease ends");
    check!(!s.claim_filing(&id, Timestamp(1001), Timestamp(500)).await?, "held within the lease");
    // One sender per conversation: another filing of the room waits while this one is claimed.
    let sibling = s.new_filing(new(9, &room, 1000, vec![b.clone()])?).await?;
    let sib = sibling.request.id.clone();
    check!(!s.claim_filing(&sib, Timestamp(1002), Timestamp(500)).await?, "not while its room's other is claimed");
    check!(
        s.next_filing_due(60_000).await? == Some(Timestamp(61_000)),
        "the room's other waits for the claim's lease too, not its own past due time"
    );
    check!(s.due_filings(Timestamp(1001), Timestamp(500), 10).await?.is_empty(), "a claimed one is not listed");
    check!(s.claim_filing(&id, Timestamp(70_000), Timestamp(5000)).await?, "taken over after the lease");
    // The first sender's claim is gone: it changes nothing.
    check!(
        !s.renew_filing(&id, Timestamp(1000), Timestamp(70_001), FilingResult::default()).await?,
        "a lost claim is not renewed"
    );
    check!(
        !s.retry_filing(&id, Timestamp(1000), Timestamp(1), "late", FilingResult::default()).await?,
        "a lost claim cannot retry"
    );
    let nothing = FilingResult::default();
    check!(s.finish_filing(&id, Timestamp(1000), nothing.clone(), Timestamp(70_002)).await?.is_none(), "nor finish");
    check!(s.refuse_filing(&id, Timestamp(1000), "late", nothing, Timestamp(70_002)).await?.is_none(), "nor refuse");
    check!(s.filing(&id).await?.is_some_and(|f| f.state == FilingState::Pending), "still pending");
    // The new sender renews: the claim's new name.
    check!(s.renew_filing(&id, Timestamp(70_000), Timestamp(75_000), FilingResult::default()).await?, "renewed");
    check!(!s.claim_filing(&id, Timestamp(76_000), Timestamp(71_000)).await?, "the renewal holds the lease");
    check!(
        !s.renew_filing(&id, Timestamp(70_000), Timestamp(76_000), FilingResult::default()).await?,
        "the old name is gone"
    );

    // A retry, keeping what the record took before the attempt failed.
    let early = FilingResult {
        resources: vec!["Communication/1".into()],
        events: vec![filed(&a, &room, &id, "Communication/1", "h1", 75_000)],
    };
    check!(s.retry_filing(&id, Timestamp(75_000), Timestamp(80_000), "HTTP 503", early.clone()).await?, "put back");
    let retried = s.filing(&id).await?.ok_or_else(|| fail("the filing"))?;
    check!(
        retried.attempts == 1 && retried.due == Timestamp(80_000) && retried.claimed.is_none(),
        "a retry counts and moves the due time"
    );
    check!(retried.last_error.as_deref() == Some("HTTP 503"), "why");
    check!(retried.resources == early.resources, "what the record took is kept");
    check!(s.filed_events(&room).await? == early.events, "and its message's row");
    check!(!s.claim_filing(&id, Timestamp(79_999), Timestamp(0)).await?, "not before it is due");

    // Filed, with what the record holds of each message: the first kept by a renewal as it
    // was taken, the rest at the end.
    check!(s.claim_filing(&id, Timestamp(80_000), Timestamp(0)).await?, "claimed again");
    let rows = vec![
        filed(&a, &room, &id, "Communication/1", "h1", 80_001),
        filed(&b, &room, &id, "Communication/2", "h2", 80_001),
    ];
    let resources = vec!["Communication/1".to_owned(), "Communication/2".to_owned()];
    let first = FilingResult { resources: resources[..1].to_vec(), events: rows[..1].to_vec() };
    check!(s.renew_filing(&id, Timestamp(80_000), Timestamp(80_000), first.clone()).await?, "progress kept");
    check!(s.filed_events(&room).await? == rows[..1].to_vec(), "the first row, at once");
    check!(s.filing(&id).await?.is_some_and(|f| f.resources == resources[..1]), "its resource, at once");
    let rest = FilingResult { resources: resources.clone(), events: rows[1..].to_vec() };
    check!(s.pending_filings(&room).await? == 2, "two pending");
    let ended = s.finish_filing(&id, Timestamp(80_000), rest, Timestamp(80_001)).await?;
    check!(
        ended.as_ref().map(|h| (h.resources.clone(), h.events.len())) == Some((resources.clone(), 2)),
        "filed: what it holds, as its end wrote it"
    );
    check!(s.pending_filings(&room).await? == 1, "one pending");
    let done = s.filing(&id).await?.ok_or_else(|| fail("the filing"))?;
    check!(done.state == FilingState::Filed && done.attempts == 2, "filed, two attempts");
    check!(done.resources == resources && done.finished == Some(Timestamp(80_001)), "its resources");
    check!(done.last_error.is_none() && done.claimed.is_none(), "no error, no claim");
    check!(
        s.finish_filing(&id, Timestamp(80_000), FilingResult::default(), Timestamp(90_000)).await?.is_none(),
        "ends once"
    );
    check!(
        s.refuse_filing(&id, Timestamp(80_000), "late", FilingResult::default(), Timestamp(90_000)).await?.is_none(),
        "a filed one cannot be refused"
    );
    check!(!s.claim_filing(&id, Timestamp(90_000), Timestamp(0)).await?, "a filed one cannot be claimed");
    check!(s.filed_events(&room).await? == rows, "what the record holds");
    check!(s.filing(&id).await?.is_some_and(|f| f.resources == resources), "each resource once");
    check!(s.next_filing_due(60_000).await? == Some(Timestamp(1000)), "the room's other filing, due");
    check!(s.claim_filing(&sib, Timestamp(90_000), Timestamp(30_000)).await?, "the room's other, now");
    check!(
        s.refuse_filing(&sib, Timestamp(90_000), "test", FilingResult::default(), Timestamp(90_000)).await?.is_some(),
        "ended"
    );
    check!(s.next_filing_due(60_000).await?.is_none(), "nothing pending");

    // Filed again: the message's row is replaced.
    let again = s.new_filing(new(2, &room, 2000, vec![a.clone()])?).await?;
    let id2 = again.request.id.clone();
    check!(s.claim_filing(&id2, Timestamp(100_000), Timestamp(0)).await?, "claimed");
    let mut row = filed(&a, &room, &id2, "Communication/1", "h1-edited", 100_001);
    row.status = FiledStatus::EnteredInError;
    let done = FilingResult { resources: vec!["Communication/1".into()], events: vec![row.clone()] };
    check!(s.finish_filing(&id2, Timestamp(100_000), done, Timestamp(100_001)).await?.is_some(), "filed");
    let held = s.filed_events(&room).await?;
    check!(held.len() == 2, "one row per message");
    check!(held.contains(&row), "replaced by the later filing");
    check!(held.iter().any(|e| e.event_id == b && e.content_hash == "h2"), "the other kept");

    // Refused.
    let third = s.new_filing(new(3, &other, 3000, vec![b.clone()])?).await?;
    let id3 = third.request.id.clone();
    check!(
        s.refuse_filing(&id3, Timestamp(3001), "x", FilingResult::default(), Timestamp(3001)).await?.is_none(),
        "an unclaimed filing cannot be refused"
    );
    check!(s.claim_filing(&id3, Timestamp(3001), Timestamp(0)).await?, "claimed");
    check!(
        s.refuse_filing(&id3, Timestamp(3001), "Patient is deceased", FilingResult::default(), Timestamp(3002))
            .await?
            .is_some(),
        "refused"
    );
    let refused = s.filing(&id3).await?.ok_or_else(|| fail("the filing"))?;
    check!(
        refused.state == FilingState::Refused && refused.last_error.as_deref() == Some("Patient is deceased"),
        "why"
    );
    check!(s.filed_events(&other).await?.is_empty(), "nothing held for a filing refused whole");

    // Refused part-way: what the record took first is kept, even what a sender whose claim was
    // taken over got it to take (a fact about the record, whoever holds the claim).
    let fourth = s.new_filing(new(4, &other, 4000, vec![a.clone(), b.clone()])?).await?;
    let id4 = fourth.request.id.clone();
    check!(s.claim_filing(&id4, Timestamp(4000), Timestamp(0)).await?, "claimed");
    check!(s.claim_filing(&id4, Timestamp(70_000), Timestamp(5000)).await?, "taken over after the lease");
    let late = filed(&b, &other, &id4, "Communication/8", "h8", 4500);
    let slow = FilingResult { resources: vec!["Communication/8".into()], events: vec![late.clone()] };
    check!(!s.renew_filing(&id4, Timestamp(4000), Timestamp(70_001), slow).await?, "the slow sender's claim is gone");
    let took = filed(&a, &other, &id4, "Communication/7", "h7", 70_002);
    let part = FilingResult { resources: vec!["Communication/7".into()], events: vec![took.clone()] };
    let ended = s.refuse_filing(&id4, Timestamp(70_000), "invalid payload", part, Timestamp(70_003)).await?;
    check!(
        ended.is_some_and(|h| h.events.len() == 2 && h.resources == ["Communication/8", "Communication/7"]),
        "refused, holding both taken"
    );
    let partly = s.filing(&id4).await?.ok_or_else(|| fail("the filing"))?;
    check!(partly.state == FilingState::Refused, "refused");
    let mut held = s.filed_events(&other).await?;
    held.sort_by(|x, y| x.event_id.cmp(&y.event_id));
    let mut want = vec![took, late];
    want.sort_by(|x, y| x.event_id.cmp(&y.event_id));
    check!(held == want, "and the messages it took");

    // A room's filings, newest first.
    let listed: Vec<FilingId> = s.room_filings(&room, 10).await?.into_iter().map(|f| f.request.id).collect();
    check!(listed == vec![id2.clone(), sib.clone(), id.clone()], "newest first, only the room's");
    check!(s.room_filings(&room, 1).await?.len() == 1, "the limit");
    Ok(())
}
