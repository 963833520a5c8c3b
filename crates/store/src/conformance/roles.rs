//! Conformance of roles ([`crate::RoleStore`]): definitions, holder changes checked inside the
//! write, the append-only history, the notices outbox and the change topics.

use ruma::{OwnedUserId, owned_user_id};
use wardline_types::{Eligibility, HolderReason, RoleDefinition, RoleId, Timestamp};

use super::{account, fail};
use crate::{ChangeTopic, HolderChange, HolderOp, HolderRefusal, Store, StoreError, StoreResult};

fn id(s: &str) -> RoleId {
    RoleId::parse(s).unwrap_or_else(|_| RoleId::parse("invalid").unwrap_or_else(|_| unreachable!()))
}

fn definition(role: &str, may_be_empty: bool) -> RoleDefinition {
    RoleDefinition {
        id: id(role),
        name: format!("Role {role}"),
        department: Some("Cardiology".into()),
        site: Some("North".into()),
        bleep: Some("1234".into()),
        eligibility: Eligibility {
            users: vec![owned_user_id!("@rhi:localhost")],
            job_titles: vec!["Registrar".into()],
            departments: vec![],
        },
        may_be_empty,
        fallback: None,
    }
}

fn change(role: &str, version: u64, op: HolderOp, at: u64) -> HolderChange {
    HolderChange {
        role_id: id(role),
        expected_version: version,
        op,
        by: Some(owned_user_id!("@rhi:localhost")),
        note: None,
        at: Timestamp(at),
        max_changes: 100,
    }
}

fn holders(role: &wardline_types::Role) -> Vec<OwnedUserId> {
    role.holders.iter().map(|h| h.user_id.clone()).collect()
}

pub(super) async fn roles(s: &impl Store) -> StoreResult<()> {
    let (rhi, sam, tom) =
        (owned_user_id!("@rhi:localhost"), owned_user_id!("@sam:localhost"), owned_user_id!("@tom:localhost"));
    for name in ["rhi", "sam", "tom"] {
        s.create_account(account(name), Timestamp(1)).await?;
    }
    let roles_before = s.last_change(&ChangeTopic::Roles).count;

    // Definitions.
    let board = s.create_role(definition("switchboard", true), Timestamp(10)).await?;
    check!(board.version == 1 && board.holders.is_empty() && !board.retired, "a new role: version 1, nobody");
    check!(board.definition == definition("switchboard", true), "a definition round-trips");
    check!(s.last_change(&ChangeTopic::Roles).count > roles_before, "a new role marks the roles topic");
    check!(
        matches!(s.create_role(definition("switchboard", true), Timestamp(11)).await, Err(StoreError::Conflict(_))),
        "a role id is taken once"
    );
    let mut reg = definition("med-reg", false);
    reg.fallback = Some(id("switchboard"));
    let created = s.create_role(reg.clone(), Timestamp(12)).await?;
    check!(created.definition.fallback == Some(id("switchboard")), "fallback stored");
    let mut missing_fallback = definition("orphan", true);
    missing_fallback.fallback = Some(id("no-such-role"));
    check!(s.create_role(missing_fallback, Timestamp(12)).await.is_err(), "a fallback must exist");
    check!(s.role(&id("orphan")).await?.is_none(), "a refused create leaves nothing");
    reg.name = "Medical Registrar On-call".into();
    reg.eligibility.departments = vec!["Acute Medicine".into()];
    let updated = s.update_role(reg.clone(), Timestamp(13)).await?;
    check!(updated.version == 2 && updated.updated_at == Timestamp(13), "an update raises the version");
    check!(updated.definition == reg && updated.created_at == Timestamp(12), "an update replaces the definition");
    check!(
        matches!(s.update_role(definition("nowhere", true), Timestamp(13)).await, Err(StoreError::NotFound)),
        "updating a missing role"
    );

    // Import: all or nothing.
    let bad =
        s.import_roles(vec![definition("team-a", true), definition("med-reg", true)], vec![], Timestamp(14)).await;
    check!(bad.is_err() && s.role(&id("team-a")).await?.is_none(), "a failed import leaves nothing");
    let mut team_b = definition("team-b", true);
    team_b.fallback = Some(id("team-a"));
    let out = s.import_roles(vec![team_b, definition("team-a", true)], vec![reg.clone()], Timestamp(15)).await?;
    check!(out.created == 2 && out.updated == 1, "import counts");
    check!(
        s.role(&id("team-b")).await?.is_some_and(|r| r.definition.fallback == Some(id("team-a"))),
        "fallbacks in one import"
    );
    let v = s.role(&id("med-reg")).await?.ok_or_else(|| fail("med-reg"))?.version;
    check!(v == 3, "an imported update raises the version");

    // Holders: the rules hold inside the write.
    let mark = s.last_change(&ChangeTopic::RoleHolders(id("med-reg"))).count;
    let first = s.change_holders(change("med-reg", v, HolderOp::SwipeIn { user: rhi.clone() }, 20)).await?;
    let first = first.map_err(|r| fail(&format!("swipe in refused: {r:?}")))?;
    check!(
        first.len() == 1 && first[0].reason == HolderReason::SwipeIn && first[0].to == Some(rhi.clone()),
        "swipe in"
    );
    check!(s.last_change(&ChangeTopic::RoleHolders(id("med-reg"))).count > mark, "holders mark their topic");
    check!(
        s.change_holders(change("med-reg", v - 1, HolderOp::SwipeIn { user: sam.clone() }, 21)).await?
            == Err(HolderRefusal::DefinitionChanged),
        "a change decided from an old definition is refused"
    );
    check!(
        s.change_holders(change("med-reg", v, HolderOp::SwipeIn { user: rhi.clone() }, 21)).await?
            == Err(HolderRefusal::AlreadyHolder(rhi.clone())),
        "nobody holds a role twice"
    );
    check!(
        s.change_holders(change("med-reg", v, HolderOp::SwipeOut { user: rhi.clone() }, 22)).await?
            == Err(HolderRefusal::WouldBeEmpty),
        "the last holder cannot leave a role that must not be empty"
    );
    check!(
        s.change_holders(change("med-reg", v, HolderOp::SwipeOut { user: sam.clone() }, 22)).await?
            == Err(HolderRefusal::NotHolder(sam.clone())),
        "only a holder leaves"
    );
    check!(
        s.change_holders(change("med-reg", v, HolderOp::Set { holders: vec![] }, 22)).await?
            == Err(HolderRefusal::WouldBeEmpty),
        "not even an administrator empties it"
    );
    check!(
        s.change_holders(change("ghost", 1, HolderOp::SwipeIn { user: rhi.clone() }, 22)).await?
            == Err(HolderRefusal::NoSuchRole),
        "no such role"
    );
    // A change that needs more changes of hands than its caller took audit places for (the
    // holders changed since it read them) is refused, never written partly unrecorded.
    let mut tight = change("med-reg", v, HolderOp::Set { holders: vec![sam.clone()] }, 22);
    tight.max_changes = 1;
    check!(s.change_holders(tight).await? == Err(HolderRefusal::HoldersChanged), "more changes than allowed for");
    // Someone deactivated meanwhile never becomes a holder.
    s.set_deactivated(&sam, true).await?;
    check!(
        s.change_holders(change("med-reg", v, HolderOp::SwipeIn { user: sam.clone() }, 22)).await?
            == Err(HolderRefusal::NotActive(sam.clone())),
        "a deactivated account does not join"
    );
    s.set_deactivated(&sam, false).await?;
    let handed = s
        .change_holders(change("med-reg", v, HolderOp::Handover { from: rhi.clone(), to: sam.clone() }, 30))
        .await?
        .map_err(|r| fail(&format!("handover refused: {r:?}")))?;
    check!(handed.len() == 1 && handed[0].from == Some(rhi.clone()) && handed[0].to == Some(sam.clone()), "handover");
    let role = s.role(&id("med-reg")).await?.ok_or_else(|| fail("med-reg"))?;
    check!(holders(&role) == [sam.clone()], "the successor holds it alone");
    check!(
        role.holders[0].since == Timestamp(30)
            && role.holders[0].reason == HolderReason::Handover
            && role.holders[0].from == Some(rhi.clone()),
        "a holder's since and how"
    );
    let notices = s.pending_role_notices(10).await?;
    check!(
        notices.len() == 1
            && notices[0].user_id == sam
            && notices[0].seq == handed[0].seq
            && notices[0].from == Some(rhi.clone()),
        "the successor is to be told"
    );
    s.role_notice_sent(handed[0].seq, Timestamp(31)).await?;
    check!(s.pending_role_notices(10).await?.is_empty(), "a sent notice is not pending");
    check!(matches!(s.role_notice_sent(999_999, Timestamp(31)).await, Err(StoreError::NotFound)), "no such notice");

    // A team; an administrator sets the holders; the same set again changes nothing.
    let set = change("med-reg", v, HolderOp::Set { holders: vec![tom.clone(), rhi.clone(), tom.clone()] }, 40);
    let steps = s.change_holders(set.clone()).await?.map_err(|r| fail(&format!("set refused: {r:?}")))?;
    check!(steps.len() == 3 && steps.iter().all(|c| c.reason == HolderReason::Admin), "sam leaves, rhi and tom join");
    check!(s.change_holders(set).await? == Ok(vec![]), "setting the same holders again changes nothing");
    let role = s.role(&id("med-reg")).await?.ok_or_else(|| fail("med-reg"))?;
    let mut now: Vec<OwnedUserId> = holders(&role);
    now.sort();
    check!(now == [rhi.clone(), tom.clone()], "a team of two");
    s.change_holders(change("med-reg", v, HolderOp::SwipeOut { user: tom.clone() }, 41))
        .await?
        .map_err(|r| fail(&format!("a team member may leave: {r:?}")))?;

    // History: newest first, append-only.
    let history = s.role_history(&id("med-reg"), 100).await?;
    check!(history.len() == 6, "every change is in the history");
    check!(history.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    check!(history[0].reason == HolderReason::SwipeOut && history[0].from == Some(tom.clone()), "the latest change");
    check!(history.iter().all(|c| c.by == Some(rhi.clone()) && c.role_id == id("med-reg")), "who made each change");
    check!(s.role_history(&id("med-reg"), 2).await?.len() == 2, "history limit");

    // Two holders of a role that must not be empty leave at the same moment: one of them stays.
    s.create_role(definition("night-nic", false), Timestamp(42)).await?;
    let both = change("night-nic", 1, HolderOp::Set { holders: vec![rhi.clone(), sam.clone()] }, 43);
    s.change_holders(both).await?.map_err(|r| fail(&format!("set refused: {r:?}")))?;
    let (mut first_out, mut second_out) = (None, None);
    {
        let mut a =
            std::pin::pin!(s.change_holders(change("night-nic", 1, HolderOp::SwipeOut { user: rhi.clone() }, 44)));
        let mut b =
            std::pin::pin!(s.change_holders(change("night-nic", 1, HolderOp::SwipeOut { user: sam.clone() }, 44)));
        std::future::poll_fn(|cx| {
            if first_out.is_none()
                && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
            {
                first_out = Some(v);
            }
            if second_out.is_none()
                && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
            {
                second_out = Some(v);
            }
            if first_out.is_some() && second_out.is_some() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
    }
    let outcomes = [first_out.ok_or_else(|| fail("first"))??, second_out.ok_or_else(|| fail("second"))??];
    check!(
        outcomes.iter().filter(|o| o.is_ok()).count() == 1 && outcomes.contains(&Err(HolderRefusal::WouldBeEmpty)),
        "of two leaving at once, one is refused"
    );
    let nic = s.role(&id("night-nic")).await?.ok_or_else(|| fail("night-nic"))?;
    check!(nic.holders.len() == 1, "someone still holds it");

    // Retiring ends every holding, in the history, and closes the role.
    let ended = s.retire_role(&id("med-reg"), None, Timestamp(50)).await?;
    check!(ended.len() == 1 && ended[0].from == Some(rhi.clone()) && ended[0].by.is_none(), "retiring ends holdings");
    let role = s.role(&id("med-reg")).await?.ok_or_else(|| fail("med-reg"))?;
    check!(role.retired && role.holders.is_empty(), "retired, nobody");
    check!(
        s.change_holders(change("med-reg", role.version, HolderOp::SwipeIn { user: rhi.clone() }, 51)).await?
            == Err(HolderRefusal::Retired),
        "a retired role cannot be held"
    );
    check!(
        matches!(s.create_role(definition("med-reg", true), Timestamp(52)).await, Err(StoreError::Conflict(_))),
        "a retired role's id stays taken"
    );
    let all = s.roles().await?;
    let ids: Vec<&str> = all.iter().map(|r| r.definition.id.as_str()).collect();
    check!(ids == ["med-reg", "night-nic", "switchboard", "team-a", "team-b"], "every role, ordered by id");
    Ok(())
}
