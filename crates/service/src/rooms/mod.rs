//! Rooms: creation, membership, sending events, all checked against the authorization rules.
//!
//! **Invariant:** every event of a room is appended while holding that room's write lock, after
//! [`auth_rules::authorize`] accepted it against the state the lock protects. The room's log is
//! therefore a total order, and the writers' in-memory state always equals the stored state.
//!
//! **Invariant:** readers never take the write lock, so a read never waits for a write's commit.
//! They take the room's last snapshot, an `Arc` of its state published after a commit (or read
//! from the store), used only while the change log proves it current: no state change in the room
//! ([`ChangeTopic::RoomState`]) after the position the snapshot was taken at. Otherwise the
//! reader reads the state from the store. Memory caches only what the store proved.

pub mod alarm_room;
mod auth_rules;
pub mod broadcast_room;
mod create;
mod membership;
pub mod power_levels;
mod priority;
mod recent;
mod relations;
mod role_notices;
pub mod role_seats;
pub(crate) use relations::edit_refusal;
mod send;
mod server_member;
pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use rand::RngCore;
use ruma::{OwnedEventId, OwnedRoomId, OwnedServerName, OwnedUserId, RoomId, UserId};
use tokio::sync::Mutex as AsyncMutex;
use wardline_store::{ChangeTopic, Store};
use wardline_types::audit::{AuditAction, NewAuditRecord, Outcome};
use wardline_types::{Clock, Membership, NewEvent, StoredEvent, StreamPos, kinds};

pub use broadcast_room::NewBroadcastRoom;
pub use create::{CreateRoom, Preset, ROOM_VERSION};
pub use role_notices::HANDOVER_NOTICES;
pub use role_seats::{SendOutcome, UnheldRole};
pub use send::SendEvent;
pub use state::RoomState;

use crate::audit::{Actor, AuditService};
use crate::core::Core;
use crate::media::MediaService;
use crate::notifier::Notifier;
use crate::ratelimit::RateLimiter;
use crate::{ServiceError, ServiceResult};

/// What the writers of a room hold, under its write lock.
struct Slot {
    /// `false` until the state is read from the store, and again while a write's outcome is
    /// unknown (or after a redaction, which may change a state event): read it again then.
    loaded: bool,
    state: Arc<RoomState>,
    snapshot: Arc<Snapshot>,
}

/// A room's state for readers, and the stream position up to which the store proved it.
#[derive(Default)]
struct Snapshot(std::sync::Mutex<Option<(Arc<RoomState>, StreamPos)>>);

impl Snapshot {
    /// The last snapshot, if any, and the position it was taken at.
    fn get(&self) -> Option<(Arc<RoomState>, StreamPos)> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Keeps `state`, proven at `at`, unless the snapshot is already proven later.
    fn offer(&self, state: &Arc<RoomState>, at: StreamPos) {
        let mut snapshot = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if snapshot.as_ref().is_none_or(|(_, kept)| *kept <= at) {
            *snapshot = Some((Arc::clone(state), at));
        }
    }
}

/// A room in use: its writers' lock, and its snapshot for readers.
#[derive(Clone)]
struct Room {
    write: Arc<AsyncMutex<Slot>>,
    snapshot: Arc<Snapshot>,
}

/// The room service.
pub struct RoomService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    server_name: OwnedServerName,
    notifier: Notifier,
    limiter: RateLimiter,
    audit: AuditService,
    media: Arc<MediaService>,
    rooms: Mutex<HashMap<OwnedRoomId, Room>>,
    recent: recent::RecentEvents,
    /// Wakes the task that seats roles' holders ([`RoomService::run_role_seats`]).
    roles_changed: Arc<tokio::sync::Notify>,
    /// Tests only: conversations where the server's notices fail, to prove a failing step never
    /// holds an escalation back (no room's own settings can refuse them).
    #[cfg(test)]
    pub(crate) refuse_notices: std::sync::Mutex<std::collections::HashSet<OwnedRoomId>>,
}

impl std::fmt::Debug for RoomService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomService").field("server_name", &self.server_name).finish_non_exhaustive()
    }
}

/// A fresh opaque id: 32 random bytes, URL-safe base64, like a room version 4+ event id.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl RoomService {
    /// A room service.
    pub fn new(core: &Core, media: Arc<MediaService>) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            server_name: core.server_name.clone(),
            notifier: core.notifier.clone(),
            limiter: core.limiter.clone(),
            audit: core.audit.clone(),
            media,
            rooms: Mutex::default(),
            recent: recent::RecentEvents::default(),
            roles_changed: Arc::new(tokio::sync::Notify::new()),
            #[cfg(test)]
            refuse_notices: std::sync::Mutex::default(),
        }
    }

    fn room(&self, room_id: &RoomId) -> Room {
        let mut rooms = self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        rooms
            .entry(room_id.to_owned())
            .or_insert_with(|| {
                let snapshot = Arc::new(Snapshot::default());
                let state = Arc::new(RoomState::empty(room_id.to_owned()));
                let slot = Slot { loaded: false, state, snapshot: Arc::clone(&snapshot) };
                Room { write: Arc::new(AsyncMutex::new(slot)), snapshot }
            })
            .clone()
    }

    /// Locks a room for writing, loading its state on first use.
    async fn lock(&self, room_id: &RoomId) -> ServiceResult<tokio::sync::OwnedMutexGuard<Slot>> {
        let mut slot = self.room(room_id).write.lock_owned().await;
        if !slot.loaded {
            let at = self.store.current_pos();
            let events = self.store.state_at(room_id, at).await?;
            slot.state = Arc::new(RoomState::from_events(room_id.to_owned(), events));
            slot.loaded = true;
            slot.snapshot.offer(&slot.state, at);
        }
        Ok(slot)
    }

    /// The room's current state for a reader, without waiting for any writer: its snapshot while
    /// the change log proves it current, else the state read from the store (kept as the new
    /// snapshot).
    async fn snapshot(&self, room_id: &RoomId) -> ServiceResult<Arc<RoomState>> {
        let changed = self.store.last_change(&ChangeTopic::RoomState(room_id.to_owned()));
        let room = self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(room_id).cloned();
        if let Some((state, at)) = room.as_ref().and_then(|r| r.snapshot.get())
            && changed.pos <= at
        {
            return Ok(state);
        }
        let at = self.store.current_pos();
        let state = Arc::new(RoomState::from_events(room_id.to_owned(), self.store.state_at(room_id, at).await?));
        // Don't keep an entry for every room id anyone asks about.
        if state.exists() {
            room.unwrap_or_else(|| self.room(room_id)).snapshot.offer(&state, at);
        }
        Ok(state)
    }

    /// Runs `f` on the room's current state (its last committed state: a read never waits for
    /// a write under way).
    pub async fn with_state<T>(&self, room_id: &RoomId, f: impl FnOnce(&RoomState) -> T) -> ServiceResult<T> {
        Ok(f(&*self.snapshot(room_id).await?))
    }

    /// The newest `limit` events of a room in `range` from memory, and whether older ones in the
    /// range were left out; `None` when memory does not hold the whole range (read the store).
    #[must_use]
    pub fn recent_events(
        &self,
        room_id: &RoomId,
        range: wardline_store::PosRange,
        limit: usize,
    ) -> Option<(Vec<StoredEvent>, bool)> {
        self.recent.slice(self.store.as_ref(), room_id, range, limit)
    }

    /// The current state of a room, or `NotFound`.
    pub async fn state(&self, room_id: &RoomId) -> ServiceResult<Arc<RoomState>> {
        let state = self.snapshot(room_id).await?;
        if !state.exists() {
            return Err(ServiceError::not_found("no such room"));
        }
        Ok(state)
    }

    /// Authorizes and appends events to a locked room with their audit records, then wakes
    /// whoever should hear of them. A refusal is audited too.
    async fn append(&self, by: &Actor, slot: &mut Slot, events: Vec<NewEvent>) -> ServiceResult<Vec<StoredEvent>> {
        // Check each event against the state the previous ones leave behind.
        let mut scratch = RoomState::clone(&slot.state);
        // A broadcast's sender's permission, read once per write when an event needs it.
        let mut may_broadcast: Option<(OwnedUserId, bool)> = None;
        for e in &events {
            let facts = self.sender_facts(&scratch, e, &mut may_broadcast).await?;
            if let Err(err) = auth_rules::authorize(&scratch, e, facts) {
                let mut denied = self.audit_for(by, e, Outcome::Denied);
                denied.event_id = None;
                denied.detail = Some(format!("{}; {err}", denied.detail.unwrap_or_default()));
                self.audit.record(denied)?;
                return Err(err);
            }
            scratch.apply(&StoredEvent { stream: scratch.last, event: e.clone(), redacted_because: None });
        }
        for e in &events {
            self.media.check_references(&e.sender, &e.content).await?;
        }
        let records = events.iter().map(|e| self.audit_for(by, e, Outcome::Success)).collect();
        // If this future is dropped while the write is under way (the client went away), the
        // write may still commit: the room's state is then read again from the database.
        slot.loaded = false;
        let positions = match self.store.append_events(events.clone(), records).await {
            Ok(positions) => positions,
            Err(e) => {
                slot.loaded = true;
                return Err(e.into());
            }
        };
        let stored: Vec<StoredEvent> = events
            .into_iter()
            .zip(positions)
            .map(|(event, stream)| StoredEvent { stream, event, redacted_because: None })
            .collect();
        let mut woken: Vec<OwnedUserId> = Vec::new();
        for s in &stored {
            if let Some(target) = s.event.state_key.as_deref().filter(|_| s.event.kind == wardline_types::kinds::MEMBER)
                && let Ok(u) = OwnedUserId::try_from(target)
            {
                woken.push(u);
            }
        }
        let last = stored.last().map_or(StreamPos::ZERO, |s| s.stream);
        if stored.iter().any(|s| s.event.redacts.is_some()) {
            // A redaction may change a state event's content: the next writer reads the state
            // from the store, and so do readers (the change log shows the redaction).
            slot.loaded = false;
        } else {
            if stored.iter().any(|s| s.event.state_key.is_some()) {
                // Copies the state only if readers hold the old one (they keep it unchanged).
                let state = Arc::make_mut(&mut slot.state);
                for s in &stored {
                    state.apply(s);
                }
                slot.snapshot.offer(&slot.state, last);
            }
            slot.loaded = true;
        }
        woken.extend(slot.state.audience().cloned());
        self.recent.appended(self.store.as_ref(), &slot.state.room_id, &stored);
        self.notifier.wake(woken.iter().map(AsRef::as_ref));
        Ok(stored)
    }

    /// The audit record of an event.
    fn audit_for(&self, by: &Actor, e: &NewEvent, outcome: Outcome) -> NewAuditRecord {
        let (action, target) = match (e.kind.as_str(), e.membership()) {
            (kinds::CREATE, _) => (AuditAction::RoomCreate, None),
            (kinds::MEMBER, Some(Membership::Invite)) => (AuditAction::RoomInvite, e.state_key.clone()),
            (kinds::MEMBER, Some(Membership::Join)) => (AuditAction::RoomJoin, e.state_key.clone()),
            (kinds::MEMBER, _) => (AuditAction::RoomLeave, e.state_key.clone()),
            (kinds::REDACTION, _) => (AuditAction::Redact, None),
            (_, _) if e.state_key.is_some() => (AuditAction::RoomState, None),
            _ => (AuditAction::MessageSend, None),
        };
        let mut r = self.audit.entry(Some(by), action, outcome);
        r.room_id = Some(e.room_id.to_string());
        r.event_id = Some(e.event_id.to_string());
        r.target_user = target;
        r.detail = Some(match (&e.redacts, e.membership()) {
            (Some(target), _) => format!("redacts={target}"),
            (_, Some(m)) => format!("type={} membership={m}", e.kind),
            _ => format!("type={}", e.kind),
        });
        // An edit, reaction or reply in a thread names what it relates to, for investigations.
        if let Some(rel) = wardline_types::relation::relation(&e.content)
            && let Some(d) = &mut r.detail
        {
            d.push_str(&format!(" rel_type={} relates_to={}", rel.rel_type, rel.event_id));
        }
        r
    }

    /// A new event, not yet authorized.
    fn new_event(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        kind: &str,
        state_key: Option<String>,
        content: serde_json::Value,
    ) -> NewEvent {
        NewEvent {
            event_id: new_event_id(),
            room_id: room_id.to_owned(),
            sender: sender.to_owned(),
            kind: kind.to_owned(),
            state_key,
            content,
            origin_server_ts: self.clock.now(),
            redacts: None,
            txn: None,
        }
    }

    /// Is this user id one of ours, with an active account, or a role in use? The closed user
    /// group.
    async fn check_in_organisation(&self, user: &UserId) -> ServiceResult<()> {
        if user.server_name() != self.server_name {
            return Err(ServiceError::OutsideOrganisation(format!(
                "{user} is not a member of this organisation: only users of {} can take part",
                self.server_name
            )));
        }
        if let Some(role) = self.role_of(user) {
            return self.invitable_role(&role).await.map(drop);
        }
        match self.store.account(user).await? {
            Some(a) if !a.deactivated => Ok(()),
            _ => Err(ServiceError::not_found(format!("{user} is not a user of this organisation"))),
        }
    }
}

/// The id of a conversation Wardline creates for `sender` and `key`, for `purpose` (a
/// broadcast, an alarm): the same for a retry, and never one a client can choose (created
/// conversations get random ids), so nobody can create it first. Not a secret: an alarm's key
/// is made of ids its integration knows.
fn derived_room_id(
    purpose: &[u8],
    sender: &UserId,
    key: &str,
    server_name: &ruma::ServerName,
) -> ServiceResult<OwnedRoomId> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::new()
        .chain_update(purpose)
        .chain_update(b"\0")
        .chain_update(sender.as_bytes())
        .chain_update(b"\0")
        .chain_update(key.as_bytes())
        .finalize();
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    OwnedRoomId::try_from(format!("!{}:{server_name}", id.get(..18).unwrap_or(&id)))
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

/// A fresh event id.
pub(crate) fn new_event_id() -> OwnedEventId {
    OwnedEventId::try_from(format!("${}", random_id())).unwrap_or_else(|_| ruma::owned_event_id!("$invalid"))
}

#[cfg(test)]
mod tests;
