//! `device_lists` in an incremental `/sync`: whose devices a client should look up again
//! (`changed`), and whom it no longer needs to follow (`left`).
//!
//! `changed` holds the users who share a joined room with the syncing user now and whose device
//! list changed in the window (a device added, removed or renamed: stored at stream positions,
//! `SessionStore::device_list_changes`), and the users who joined a room shared with them, or
//! were in a room the syncing user joined. `left` holds the users who left a room shared with
//! them, or were in a room the syncing user left, and share no joined room with them now. The
//! syncing user is in `changed` when their own devices changed. Both lists are only sent on an
//! incremental sync, and cost no query unless the change log shows a device or member change.
//!
//! Someone who joined one shared room while sharing another may be listed in `changed`
//! needlessly; a client then asks for their keys once more.

use std::collections::{BTreeSet, HashMap, HashSet};

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use wardline_store::{ChangeTopic, MembershipChange, PosRange, Store};
use wardline_types::{Membership, kinds};

use crate::ServiceResult;

/// The two lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceLists {
    /// Users whose devices to look up again.
    pub changed: Vec<OwnedUserId>,
    /// Users who share no room with the syncing user any more.
    pub left: Vec<OwnedUserId>,
}

impl DeviceLists {
    /// Nothing to say?
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.left.is_empty()
    }
}

fn changed_in(store: &dyn Store, range: PosRange, topic: &ChangeTopic) -> bool {
    store.last_change(topic).pos > range.after
}

async fn joined_members(store: &dyn Store, room: &RoomId) -> ServiceResult<Vec<OwnedUserId>> {
    Ok(store.members(room).await?.into_iter().filter(|(_, m)| *m == Membership::Join).map(|(u, _)| u).collect())
}

/// Everyone joined to a room `user` is joined to (`user` included, if joined anywhere): whom a
/// change of `user`'s devices concerns.
pub(crate) async fn colleagues(store: &dyn Store, user: &UserId) -> ServiceResult<Vec<OwnedUserId>> {
    let mut out = BTreeSet::new();
    for m in store.rooms_of_user(user).await? {
        if m.membership == Membership::Join {
            out.extend(joined_members(store, &m.room_id).await?);
        }
    }
    Ok(out.into_iter().collect())
}

/// The device lists for `user`'s sync of `range`, given their memberships at its end and the
/// changes of their own membership within it.
pub(crate) async fn device_lists(
    store: &dyn Store,
    user: &UserId,
    range: PosRange,
    memberships: &[MembershipChange],
    own_changes: &HashMap<OwnedRoomId, Vec<MembershipChange>>,
) -> ServiceResult<DeviceLists> {
    let joined: Vec<&OwnedRoomId> =
        memberships.iter().filter(|m| m.membership == Membership::Join).map(|m| &m.room_id).collect();
    let devices_changed = changed_in(store, range, &ChangeTopic::DeviceLists);
    // Rooms the user joined or left in the window (an invitation shares nothing yet).
    let own: HashSet<&OwnedRoomId> = own_changes
        .iter()
        .filter(|(_, c)| {
            c.iter().any(|m| matches!(m.membership, Membership::Join | Membership::Leave | Membership::Ban))
        })
        .map(|(r, _)| r)
        .collect();
    let mut rooms: Vec<&OwnedRoomId> = joined.iter().copied().chain(own.iter().copied()).collect();
    rooms.sort();
    rooms.dedup();
    rooms.retain(|r| changed_in(store, range, &ChangeTopic::RoomMembers((*r).clone())));
    if !devices_changed && rooms.is_empty() {
        return Ok(DeviceLists::default());
    }
    let mut sharing: HashSet<OwnedUserId> = HashSet::new();
    for room in &joined {
        sharing.extend(joined_members(store, room).await?);
    }
    // Whose sharing of a room with `user` may have begun or ended in the window.
    let mut moved: HashSet<OwnedUserId> = HashSet::new();
    for room in rooms {
        for e in store.state_changes(room, range).await? {
            if e.event.kind != kinds::MEMBER {
                continue;
            }
            let joined_or_left =
                matches!(e.event.content.get("membership").and_then(|m| m.as_str()), Some("join" | "leave" | "ban"));
            if joined_or_left && let Some(u) = e.event.state_key.as_deref().and_then(|k| OwnedUserId::try_from(k).ok())
            {
                moved.insert(u);
            }
        }
        if own.contains(room) {
            moved.extend(joined_members(store, room).await?);
        }
    }
    moved.remove(user);
    let mut changed: BTreeSet<OwnedUserId> = moved.iter().filter(|u| sharing.contains(*u)).cloned().collect();
    if devices_changed {
        for u in store.device_list_changes(range).await? {
            if sharing.contains(&u) || u == user {
                changed.insert(u);
            }
        }
    }
    let left: BTreeSet<OwnedUserId> = moved.into_iter().filter(|u| !sharing.contains(u)).collect();
    Ok(DeviceLists { changed: changed.into_iter().collect(), left: left.into_iter().collect() })
}
