//! Conformance of the rota ([`crate::RoleStore::import_shifts`], [`crate::RoleStore::apply_rota`]):
//! replacing future shifts, applying boundaries once (from two appliers at once too), never
//! removing someone the rota did not add, and never emptying a role that must not be empty.

use std::future::Future;
use std::task::Poll;

use ruma::{OwnedUserId, owned_user_id};
use wardline_types::{Eligibility, HolderReason, NewShift, RoleDefinition, RoleId, Timestamp};

use super::fail;
use crate::{HolderChange, HolderOp, RotaApplied, Store, StoreResult};

const HOUR: u64 = 3_600_000;
const T: u64 = 1_000 * HOUR;

fn id(s: &str) -> RoleId {
    RoleId::parse(s).unwrap_or_else(|_| RoleId::parse("invalid").unwrap_or_else(|_| unreachable!()))
}

fn at(hours: u64) -> Timestamp {
    Timestamp(T + hours * HOUR)
}

fn definition(role: &str, may_be_empty: bool) -> RoleDefinition {
    RoleDefinition {
        id: id(role),
        name: format!("Rota role {role}"),
        department: None,
        site: None,
        bleep: None,
        eligibility: Eligibility { users: vec![], job_titles: vec!["Registrar".into()], departments: vec![] },
        may_be_empty,
        fallback: None,
    }
}

fn shift(role: &str, user: &OwnedUserId, from: u64, to: u64) -> NewShift {
    NewShift { role_id: id(role), user_id: user.clone(), starts_at: at(from), ends_at: at(to), note: None }
}

async fn holders(s: &impl Store, role: &str) -> StoreResult<Vec<OwnedUserId>> {
    let r = s.role(&id(role)).await?.ok_or_else(|| fail(role))?;
    Ok(r.holders.iter().map(|h| h.user_id.clone()).collect())
}

async fn swipe_in(s: &impl Store, role: &str, user: &OwnedUserId, hours: u64) -> StoreResult<()> {
    let version = s.role(&id(role)).await?.ok_or_else(|| fail(role))?.version;
    let change = HolderChange {
        role_id: id(role),
        expected_version: version,
        op: HolderOp::SwipeIn { user: user.clone() },
        by: Some(user.clone()),
        note: None,
        at: at(hours),
        max_changes: 1,
    };
    s.change_holders(change).await?.map_err(|r| fail(&format!("swipe in refused: {r:?}")))?;
    Ok(())
}

/// Runs two applications at once, as two nodes sharing the store would.
async fn apply_twice_at_once(s: &impl Store, now: Timestamp) -> StoreResult<[RotaApplied; 2]> {
    let (mut first, mut second) = (None, None);
    {
        let mut a = std::pin::pin!(s.apply_rota(now));
        let mut b = std::pin::pin!(s.apply_rota(now));
        std::future::poll_fn(|cx| {
            if first.is_none()
                && let Poll::Ready(v) = a.as_mut().poll(cx)
            {
                first = Some(v);
            }
            if second.is_none()
                && let Poll::Ready(v) = b.as_mut().poll(cx)
            {
                second = Some(v);
            }
            if first.is_some() && second.is_some() { Poll::Ready(()) } else { Poll::Pending }
        })
        .await;
    }
    Ok([first.ok_or_else(|| fail("first applier"))??, second.ok_or_else(|| fail("second applier"))??])
}

/// Expects the accounts `@rhi`, `@sam` and `@tom` to exist.
pub(super) async fn rota(s: &impl Store) -> StoreResult<()> {
    let (rhi, sam, tom) =
        (owned_user_id!("@rhi:localhost"), owned_user_id!("@sam:localhost"), owned_user_id!("@tom:localhost"));
    s.create_role(definition("rota-reg", false), at(0)).await?;
    s.create_role(definition("rota-ward", true), at(0)).await?;
    let before = at(0).0 - HOUR;

    // Import, re-import, replace.
    let rota = vec![shift("rota-reg", &rhi, 0, 12), shift("rota-reg", &sam, 12, 24), shift("rota-ward", &tom, 2, 4)];
    let out = s.import_shifts("csv".into(), rota.clone(), Timestamp(before)).await?;
    check!(out.created == 3 && out.removed == 0 && out.unchanged == 0, "a rota imported");
    let again = s.import_shifts("csv".into(), rota.clone(), Timestamp(before)).await?;
    check!(again.created == 0 && again.removed == 0 && again.unchanged == 3, "re-importing changes nothing");
    let swapped = vec![shift("rota-reg", &rhi, 0, 12), shift("rota-reg", &tom, 12, 24)];
    let out = s.import_shifts("csv".into(), swapped, Timestamp(before)).await?;
    check!(out.created == 1 && out.removed == 1 && out.unchanged == 1, "an import replaces future shifts it covers");
    check!(
        s.shifts(&id("rota-ward"), at(0), at(24)).await?.len() == 1,
        "an import leaves the roles it does not name alone"
    );
    s.import_shifts("csv".into(), rota[..2].to_vec(), Timestamp(before)).await?;
    let reg_shifts = s.shifts(&id("rota-reg"), at(0), at(24)).await?;
    check!(
        reg_shifts.iter().map(|x| x.shift.user_id.clone()).collect::<Vec<_>>() == [rhi.clone(), sam.clone()],
        "shifts listed by start"
    );

    // Nothing is due before the first shift.
    let early = s.apply_rota(Timestamp(before)).await?;
    check!(early.changes.is_empty() && early.next_boundary == Some(at(0)), "the next boundary is the first start");

    // A start, applied once.
    let start = s.apply_rota(at(0)).await?;
    check!(
        start.changes.len() == 1
            && start.changes[0].reason == HolderReason::Rota
            && start.changes[0].to == Some(rhi.clone())
            && start.changes[0].by.is_none(),
        "a shift's start adds its holder, as the rota"
    );
    check!(start.next_boundary == Some(at(2)), "then the next boundary");
    check!(s.apply_rota(at(0)).await?.changes.is_empty(), "applying again changes nothing");
    // Covering rhi's shift under way (and adding a past one), it is kept.
    let under_way = s
        .import_shifts("csv".into(), vec![shift("rota-reg", &sam, 0, 1), shift("rota-reg", &sam, 12, 24)], at(1))
        .await?;
    check!(
        under_way.removed == 0 && under_way.unchanged == 1 && under_way.created == 1,
        "an import never removes a shift under way"
    );

    // Two appliers at once: one change between them.
    let both = apply_twice_at_once(s, at(2)).await?;
    check!(both.iter().map(|a| a.changes.len()).sum::<usize>() == 1, "two appliers at once apply a start once");
    check!(holders(s, "rota-ward").await? == [tom.clone()], "the ward shift started");

    // Someone who swiped in is never removed by the rota.
    swipe_in(s, "rota-ward", &sam, 3).await?;
    let end = s.apply_rota(at(4)).await?;
    check!(
        end.changes.len() == 1
            && end.changes[0].from == Some(tom.clone())
            && end.changes[0].reason == HolderReason::Rota,
        "a shift's end removes its holder"
    );
    check!(holders(s, "rota-ward").await? == [sam.clone()], "the colleague who swiped in stays");

    // Handover at a boundary: the next holder starts before the last one leaves.
    let handover = s.apply_rota(at(12)).await?;
    let reg = holders(s, "rota-reg").await?;
    check!(reg.contains(&sam) && !reg.contains(&rhi), "at 12:00 the rota hands over");
    check!(handover.uncovered.is_empty(), "a handover at a boundary leaves nothing uncovered");

    // A gap in the rota of a role that must not be empty: the holder is kept, reported once.
    let _ = s.apply_rota(at(12)).await?;
    let gap = s.apply_rota(at(24)).await?;
    check!(gap.changes.is_empty(), "the last holder is not removed");
    check!(
        gap.uncovered.len() == 1 && gap.uncovered[0].kept == sam && gap.uncovered[0].role_id == id("rota-reg"),
        "the gap is reported"
    );
    check!(s.apply_rota(at(24)).await?.uncovered.is_empty(), "the gap is reported once");
    check!(holders(s, "rota-reg").await? == [sam.clone()], "the role is not left empty");
    swipe_in(s, "rota-reg", &rhi, 25).await?;
    let relieved = s.apply_rota(at(25)).await?;
    check!(
        relieved.changes.len() == 1 && relieved.changes[0].from == Some(sam.clone()),
        "once someone else holds it, the kept holder's shift ends"
    );
    check!(holders(s, "rota-reg").await? == [rhi.clone()], "and the one who swiped in holds it");

    // Someone whose account was deactivated after the import is never made a holder.
    s.import_shifts("csv".into(), vec![shift("rota-ward", &tom, 40, 44)], at(30)).await?;
    s.set_deactivated(&tom, true).await?;
    check!(s.apply_rota(at(40)).await?.changes.is_empty(), "a deactivated account does not start a shift");
    s.set_deactivated(&tom, false).await?;

    // A shift whose end has passed is stored but never applied.
    let past = s.import_shifts("ical".into(), vec![shift("rota-ward", &rhi, 26, 28)], at(30)).await?;
    check!(past.created == 1, "a past shift is kept as the record");
    check!(s.apply_rota(at(30)).await?.changes.is_empty(), "a shift that has ended is never applied");
    let history = s.role_history(&id("rota-reg"), 20).await?;
    check!(
        history.iter().filter(|c| c.reason == HolderReason::Rota).count() == 4,
        "each change the rota made is in the history"
    );
    Ok(())
}
