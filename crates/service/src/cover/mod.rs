//! Do not disturb, with cover: a person is not to be disturbed until a time and may name a
//! colleague who covers; messages to them meanwhile are also copied to the cover.
//!
//! - `dnd.rs`: setting, ending and reading do-not-disturb, and how it shows in presence (others
//!   see `unavailable` with a status message and `org.wardline.dnd`) and in the person's own
//!   account data (`org.wardline.dnd`, which tells their clients to keep quiet);
//! - `forward.rs`: the background task that follows the stream of messages from a stored cursor
//!   and copies each message addressed to someone on do-not-disturb to their cover, in a
//!   conversation between the sender and the cover, once (also across a restart).
//!
//! **Invariant:** whether do-not-disturb is in force is a function of the stored `until` and the
//! [`Clock`] ([`wardline_types::DoNotDisturb::active_at`]); no timer decides it. The background
//! task only removes what ran out, so colleagues' `/sync` hears of the end. A cover on
//! do-not-disturb is refused by the store inside the write that names them
//! ([`wardline_store::DndStore::set_dnd`]). Every set and clear is audited (`dnd.set`,
//! `dnd.clear`), and so is every copy (`cover.forward`, never with the message's text).

mod dnd;
mod forward;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ruma::{OwnedRoomId, OwnedServerName, OwnedUserId, UserId};
use wardline_store::Store;
use wardline_types::{Clock, StreamPos};

use crate::ServiceResult;
use crate::audit::AuditService;
use crate::core::Core;
use crate::notifier::Notifier;
use crate::presence::PresenceService;
use crate::rooms::RoomService;

pub(crate) use dnd::views;
pub use dnd::{DndView, Person, presence_overlay};
pub use forward::{CURSOR, MAX_WAIT as MAX_COVER_WAIT};

/// A cover conversation's key: the absent person, the sender, the cover.
type Triple = (OwnedUserId, OwnedUserId, OwnedUserId);

/// Do-not-disturb and cover.
pub struct CoverService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    server_name: OwnedServerName,
    audit: AuditService,
    notifier: Notifier,
    rooms: Arc<RoomService>,
    presence: Arc<PresenceService>,
    /// Woken by a set or clear, so the background task looks at the next end at once.
    changed: tokio::sync::Notify,
    /// The forwarder's position as last stored (`None`: not read yet).
    cursor: Mutex<Option<StreamPos>>,
    /// Cover conversations found or made, checked again on every use.
    cover_rooms: Mutex<HashMap<Triple, OwnedRoomId>>,
}

impl std::fmt::Debug for CoverService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoverService").finish_non_exhaustive()
    }
}

impl CoverService {
    /// A cover service.
    pub fn new(core: &Core, rooms: Arc<RoomService>, presence: Arc<PresenceService>) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            server_name: core.server_name.clone(),
            audit: core.audit.clone(),
            notifier: core.notifier.clone(),
            rooms,
            presence,
            changed: tokio::sync::Notify::new(),
            cursor: Mutex::new(None),
            cover_rooms: Mutex::default(),
        }
    }

    /// A person's name as colleagues see it: their display name, else their user id.
    async fn name_of(&self, user: &UserId) -> ServiceResult<String> {
        Ok(self.store.account(user).await?.and_then(|a| a.display_name).unwrap_or_else(|| user.to_string()))
    }

    /// Does `user` have an active account?
    async fn active(&self, user: &UserId) -> ServiceResult<bool> {
        Ok(self.store.account(user).await?.is_some_and(|a| !a.deactivated))
    }
}
