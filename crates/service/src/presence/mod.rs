//! Presence: set by syncing, activity and the user's choice, expired by time ([`rules`]).
//!
//! **Expiry is a stored change.** A user who goes idle or stops syncing does nothing the server
//! could react to, yet colleagues' `/sync` must hear of it, and a sync token is a stream
//! position. So a sweep ([`PresenceService::sweep`], every [`Thresholds::sweep_interval`])
//! asks the store for rows whose facts are older than the thresholds, derives their presence
//! from those facts and the [`Clock`], and writes each change at a new stream position, waking
//! those who may see it. Every write is conditional on the row being unchanged since it was read
//! (`PresenceStore::put_presence`), so sweeps on several nodes, or a sweep racing a sync that
//! just refreshed the row, never overwrite a newer fact: the loser reads again and finds nothing
//! to do. Nothing lives only in memory: after a restart the first sweep finds what expired
//! meanwhile. (Deriving presence at read time instead would need a wake-up per expiry anyway,
//! and a `since` token could not say which expiries a client had already been told.)

pub mod rules;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ruma::{OwnedUserId, UserId};
use wardline_store::{ChangeTopic, Presence, Store};
use wardline_types::{Clock, Membership, Timestamp};

use crate::config::{PresenceSettings, SyncSettings};
use crate::core::Core;
use crate::cover::{DndView, presence_overlay};
use crate::notifier::Notifier;
use crate::rooms::RoomService;
use crate::{ServiceError, ServiceResult};
pub use rules::{Happening, PresenceState, Thresholds, Write};

/// A stored row as this node last read it, usable while the presence topic's commit serial is
/// still `serial` (read just before the row).
#[derive(Debug, Clone)]
struct Known {
    row: Option<Presence>,
    serial: u64,
}

/// Presence.
pub struct PresenceService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    notifier: Notifier,
    rooms: Arc<RoomService>,
    thresholds: Thresholds,
    /// Rows read or noted here, so a sync that changes nothing costs no query.
    known: Mutex<HashMap<OwnedUserId, Known>>,
}

impl std::fmt::Debug for PresenceService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceService").field("thresholds", &self.thresholds).finish_non_exhaustive()
    }
}

/// Tries of a write that found the row changed since it was read.
const TRIES: usize = 4;

impl PresenceService {
    /// The thresholds from the settings; refused if a client waiting in a long-poll would be
    /// taken for gone.
    pub fn thresholds(presence: &PresenceSettings, sync: &SyncSettings) -> ServiceResult<Thresholds> {
        let t = Thresholds {
            idle_after: Duration::from_secs(presence.idle_after_secs),
            offline_after: Duration::from_secs(presence.offline_after_secs),
            longest_poll: Duration::from_millis(sync.max_timeout_ms),
        };
        if t.offline_after <= t.longest_poll || t.idle_after.is_zero() {
            return Err(ServiceError::invalid(format!(
                "presence.offline_after_secs ({}) must be longer than the longest long-poll, sync.max_timeout_ms ({} ms), \
                 and presence.idle_after_secs above zero",
                presence.offline_after_secs, sync.max_timeout_ms
            )));
        }
        Ok(t)
    }

    /// A presence service.
    #[must_use]
    pub fn new(core: &Core, rooms: Arc<RoomService>, thresholds: Thresholds) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            notifier: core.notifier.clone(),
            rooms,
            thresholds,
            known: Mutex::default(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<OwnedUserId, Known>> {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn serial(&self) -> u64 {
        self.store.last_change(&ChangeTopic::Presence).serial
    }

    /// The stored row: from memory while no presence change was committed since it was read.
    async fn stored(&self, user: &UserId, cached: bool) -> ServiceResult<Option<Presence>> {
        let serial = self.serial();
        if cached && let Some(k) = self.known().get(user).filter(|k| k.serial == serial) {
            return Ok(k.row.clone());
        }
        let row = self.store.presence(user).await?;
        self.known().insert(user.to_owned(), Known { row: row.clone(), serial });
        Ok(row)
    }

    /// A client synced with `set_presence` (`offline`: the sync changes nothing).
    pub async fn synced(&self, user: &UserId, set_presence: PresenceState) -> ServiceResult<()> {
        if set_presence == PresenceState::Offline {
            return Ok(());
        }
        self.happen(user, &Happening::Synced(set_presence)).await
    }

    /// The user chose a presence and status message (`PUT /presence/{userId}/status`).
    pub async fn choose(&self, user: &UserId, state: &str, status_msg: Option<String>) -> ServiceResult<()> {
        let state = PresenceState::parse(state)
            .ok_or_else(|| ServiceError::invalid("presence must be online, offline or unavailable"))?;
        self.happen(user, &Happening::Chose(state, status_msg)).await
    }

    /// The user did something (a message, a receipt, typing).
    pub async fn active(&self, user: &UserId) -> ServiceResult<()> {
        self.happen(user, &Happening::Active).await
    }

    /// [`PresenceService::active`] without waiting for it: the request that showed activity is
    /// answered without waiting for presence to be written.
    pub fn note_active(self: &Arc<Self>, user: &UserId) {
        let this = Arc::clone(self);
        let user = user.to_owned();
        tokio::spawn(async move {
            if let Err(e) = this.active(&user).await {
                tracing::debug!(error = %e, "activity not recorded in presence");
            }
        });
    }

    async fn happen(&self, user: &UserId, h: &Happening) -> ServiceResult<()> {
        for attempt in 0..TRIES {
            let stored = self.stored(user, attempt == 0).await?;
            let now = self.clock.now();
            match rules::decide(user, stored.as_ref(), Some(h), now, &self.thresholds) {
                Write::Nothing => return Ok(()),
                Write::Note { last_sync, last_active } => {
                    self.store.note_presence(user, last_sync, last_active).await?;
                    if let Some(row) = self.known().get_mut(user).and_then(|k| k.row.as_mut()) {
                        row.last_sync = row.last_sync.max(last_sync);
                        row.last_active = row.last_active.max(last_active.unwrap_or(row.last_active));
                    }
                    return Ok(());
                }
                Write::Publish(p) => {
                    if self.publish(p, stored).await? {
                        return Ok(());
                    }
                }
            }
        }
        Err(ServiceError::Internal("presence kept changing while being set".into()))
    }

    /// Stores `p` if the row is still `expected`, and wakes whoever may see it.
    async fn publish(&self, p: Presence, expected: Option<Presence>) -> ServiceResult<bool> {
        let user = p.user_id.clone();
        let written = self.store.put_presence(p, expected).await?;
        self.known().remove(&user);
        if written.is_none() {
            return Ok(false);
        }
        let audience = self.audience(&user).await?;
        self.notifier.wake(audience.iter().map(AsRef::as_ref));
        Ok(true)
    }

    /// Wakes whoever may see `user`'s presence after a write elsewhere gave it a new position
    /// (do-not-disturb set or ended: [`crate::cover`]).
    pub(crate) async fn announce(&self, user: &UserId) -> ServiceResult<()> {
        self.known().remove(user);
        let audience = self.audience(user).await?;
        self.notifier.wake(audience.iter().map(AsRef::as_ref));
        Ok(())
    }

    /// The user and everyone joined to a room they are joined to.
    async fn audience(&self, user: &UserId) -> ServiceResult<Vec<OwnedUserId>> {
        let mut audience = vec![user.to_owned()];
        for room in self.rooms.joined_rooms(user).await? {
            audience.extend(
                self.rooms.with_state(&room, |s| s.members_with(Membership::Join).cloned().collect::<Vec<_>>()).await?,
            );
        }
        audience.sort();
        audience.dedup();
        Ok(audience)
    }

    /// Stores every presence that expired by now; returns how many.
    pub async fn sweep(&self) -> ServiceResult<usize> {
        let now = self.clock.now();
        let t = &self.thresholds;
        // Due once the time elapsed reaches the threshold: a fact at or before `now - threshold`.
        let cut = |d: Duration| Timestamp(now.0.saturating_sub(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)) + 1);
        let mut changed = 0;
        for row in self.store.presence_expiring(cut(t.offline_after), cut(t.idle_after)).await? {
            if let Write::Publish(p) = rules::decide(&row.user_id, Some(&row), None, now, t) {
                // Changed meanwhile (a sync, another node's sweep): the next sweep looks again.
                if self.publish(p, Some(row)).await? {
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    /// Sweeps for expired presence until the task is dropped.
    pub async fn run_sweeper(self: Arc<Self>) {
        let mut every = tokio::time::interval(self.thresholds.sweep_interval());
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match self.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(changed = n, "presence expired"),
                Err(e) => tracing::warn!(error = %e, "presence sweep failed"),
            }
        }
    }

    /// Do these two users share a conversation (both joined to one room)?
    pub async fn share_a_room(&self, a: &UserId, b: &UserId) -> ServiceResult<bool> {
        let mine = self.rooms.joined_rooms(a).await?;
        let theirs = self.rooms.joined_rooms(b).await?;
        Ok(mine.iter().any(|r| theirs.contains(r)))
    }

    /// A user's presence now and status message, if `viewer` may see them: their own, a
    /// colleague's with whom they share a conversation, or anyone's for an administrator.
    /// `/sync` applies the same rule to presence changes. A deactivated account looks like an
    /// unknown one.
    pub async fn get(&self, viewer: &UserId, viewer_is_admin: bool, user: &UserId) -> ServiceResult<Presence> {
        Ok(self.get_with_dnd(viewer, viewer_is_admin, user).await?.0)
    }

    /// [`PresenceService::get`], with the do-not-disturb in force that it shows (`unavailable`
    /// with its status message, whatever the user's activity), if any.
    pub async fn get_with_dnd(
        &self,
        viewer: &UserId,
        viewer_is_admin: bool,
        user: &UserId,
    ) -> ServiceResult<(Presence, Option<DndView>)> {
        if self.store.account(user).await?.is_none_or(|a| a.deactivated) {
            return Err(ServiceError::not_found("no such user"));
        }
        if viewer != user && !viewer_is_admin && !self.share_a_room(viewer, user).await? {
            return Err(ServiceError::forbidden(
                "you can only see the presence of people you share a conversation with",
            ));
        }
        let row = self.store.presence(user).await?.unwrap_or_else(|| rules::never_seen(user));
        let now = self.clock.now();
        let state = rules::derive(&row, now, &self.thresholds);
        let mut p = Presence { state: state.as_str().to_owned(), ..row };
        let dnd = crate::cover::views(self.store.as_ref(), now, &[user.to_owned()]).await?.remove(user);
        if let Some(d) = &dnd {
            presence_overlay(&mut p, d, now);
        }
        Ok((p, dnd))
    }
}

#[cfg(test)]
mod tests;
