//! Each user's rooms and memberships, kept between syncs while they do not change.
//!
//! **Invariant:** a list is used only while the store reports no membership change for the user
//! since just before the list was read ([`ChangeTopic::Membership`] and the commit serial).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ruma::{OwnedUserId, UserId};
use wardline_store::{ChangeTopic, MembershipChange, Store, StoreResult};

/// More users than this and the lists are read afresh.
const MAX_USERS: usize = 200_000;

/// A user's rooms, with the commit serial read just before they were.
type Known = (u64, Arc<Vec<MembershipChange>>);

/// The rooms each user is in (or was invited to, or left and has not forgotten).
#[derive(Debug, Default)]
pub(crate) struct UserRooms {
    known: Mutex<HashMap<OwnedUserId, Known>>,
}

impl UserRooms {
    /// The user's latest membership of each room, as [`wardline_store::RoomStore::rooms_of_user`].
    pub async fn get(&self, store: &dyn Store, user: &UserId) -> StoreResult<Arc<Vec<MembershipChange>>> {
        let changed = store.last_change(&ChangeTopic::Membership(user.to_owned())).serial;
        if let Some((serial, rooms)) = self.known.lock().unwrap_or_else(PoisonError::into_inner).get(user)
            && changed <= *serial
        {
            return Ok(Arc::clone(rooms));
        }
        let serial = store.commit_serial();
        let rooms = Arc::new(store.rooms_of_user(user).await?);
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= MAX_USERS {
            known.clear();
        }
        known.insert(user.to_owned(), (serial, Arc::clone(&rooms)));
        Ok(rooms)
    }
}
