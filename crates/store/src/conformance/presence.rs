//! Conformance of presence ([`crate::PresenceStore`]): replaced only if unchanged since read,
//! facts moved forward without a position, and what may have expired.

use ruma::{OwnedUserId, owned_user_id};
use wardline_types::{StreamPos, Timestamp};

use super::fail;
use crate::{Away, ChangeTopic, PosRange, Presence, Store, StoreResult};

fn presence(user: &OwnedUserId, state: &str, last_active: u64, last_sync: Option<u64>) -> Presence {
    Presence {
        user_id: user.clone(),
        state: state.into(),
        status_msg: None,
        last_active: Timestamp(last_active),
        last_sync: last_sync.map(Timestamp),
        away: None,
        stream: StreamPos::ZERO,
    }
}

pub(super) async fn presence_store(s: &impl Store) -> StoreResult<()> {
    let cai = owned_user_id!("@cai:localhost");
    let before = s.current_pos();
    let serial = s.commit_serial();
    let mut first = presence(&cai, "online", 1_000, Some(1_000));
    first.status_msg = Some("In theatre".into());
    let p = s.put_presence(first.clone(), None).await?.ok_or_else(|| fail("first presence written"))?;
    check!(p > before && s.current_pos() >= p, "presence takes a position");
    check!(s.last_change(&ChangeTopic::Presence).serial > serial, "presence marks its topic");
    let stored = s.presence(&cai).await?.ok_or_else(|| fail("presence stored"))?;
    check!(stored == Presence { stream: p, ..first.clone() }, "presence round-trips");
    check!(s.put_presence(first.clone(), None).await?.is_none(), "a second first write is refused");
    check!(s.presence_changes(PosRange::new(before, p)).await?.len() == 1, "presence changes");

    // Facts move forward only, in place.
    s.note_presence(&cai, Some(Timestamp(5_000)), Some(Timestamp(4_000))).await?;
    s.note_presence(&cai, Some(Timestamp(2_000)), Some(Timestamp(2_000))).await?;
    s.note_presence(&cai, None, None).await?;
    let noted = s.presence(&cai).await?.ok_or_else(|| fail("noted"))?;
    check!(noted.last_sync == Some(Timestamp(5_000)) && noted.last_active == Timestamp(4_000), "never back");
    check!(noted.stream == p, "no new position");
    check!(s.presence_changes(PosRange::new(p, s.current_pos())).await?.is_empty(), "a note is not a change");
    s.note_presence(&owned_user_id!("@nobody:localhost"), Some(Timestamp(1)), None).await?;
    check!(s.presence(&owned_user_id!("@nobody:localhost")).await?.is_none(), "a note creates nothing");

    // A decision made from what was read before the note is refused.
    let stale = Presence { stream: p, ..first.clone() };
    check!(s.put_presence(presence(&cai, "offline", 1_000, None), Some(stale)).await?.is_none(), "stale");
    let mut away = presence(&cai, "unavailable", 4_000, Some(5_000));
    away.away = Some(Away::User);
    let q = s.put_presence(away.clone(), Some(noted.clone())).await?.ok_or_else(|| fail("current"))?;
    check!(q > p, "a write from what is stored succeeds");
    check!(s.presence(&cai).await?.is_some_and(|x| x.away == Some(Away::User) && x.stream == q), "away stored");

    // What may have expired.
    let dee = owned_user_id!("@dee:localhost");
    s.put_presence(presence(&dee, "online", 9_000, Some(9_000)), None).await?;
    let eve = owned_user_id!("@eve:localhost");
    s.put_presence(presence(&eve, "offline", 0, None), None).await?;
    let fay = owned_user_id!("@fay:localhost");
    s.put_presence(presence(&fay, "online", 9_000, None), None).await?;
    let who = |list: Vec<Presence>| {
        let mut v: Vec<String> = list.into_iter().map(|p| p.user_id.to_string()).collect();
        v.sort();
        v
    };
    check!(who(s.presence_expiring(Timestamp(5_000), Timestamp(0)).await?) == ["@fay:localhost"], "no sync known: due");
    check!(
        who(s.presence_expiring(Timestamp(6_000), Timestamp(0)).await?) == ["@cai:localhost", "@fay:localhost"],
        "last sync before the cut-off: due"
    );
    check!(
        who(s.presence_expiring(Timestamp(0), Timestamp(9_500)).await?) == ["@dee:localhost", "@fay:localhost"],
        "online and idle: due; away already is"
    );
    Ok(())
}
