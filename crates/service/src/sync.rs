//! `/sync`: everything that changed for a user since their last sync, or a first full picture.
//!
//! **Invariant:** a sync response covers exactly the stream positions `(since, next_batch]`, read
//! after `next_batch` was committed, so consecutive syncs deliver every event once, in order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ruma::api::client::filter::{FilterDefinition, RoomEventFilter};
use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde_json::Value;
use wardline_store::{AccountDataChange, ChangeTopic, Direction, MembershipChange, PosRange, Presence, Receipt, Store};
use wardline_types::stream::PageToken;
use wardline_types::{Membership, StoredEvent, StreamPos, SyncToken, kinds};

use crate::config::SyncSettings;
use crate::core::Core;
use crate::device_lists::{DeviceLists, device_lists};
use crate::filter::{event_passes, kind_passes, room_included, room_kind_passes};
use crate::messaging::{Carried, Counts, Deliveries, STATUS_EVENT_TYPE, StatusService, SyncWindow, runs};
use crate::metrics::Metrics;
use crate::notifier::Notifier;
use crate::presence::{PresenceService, PresenceState};
use crate::push::PushRuleService;
use crate::push::rules::PUSH_RULES;
use crate::rooms::RoomService;
use crate::sessions::{Caller, SessionService};
use crate::timeline::{Bundles, TimelineService};
use crate::typing::TypingService;
use crate::user_rooms::UserRooms;
use crate::visibility::Visibility;
use crate::{ServiceError, ServiceResult};

/// A `/sync` request.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Where the client got to.
    pub since: Option<SyncToken>,
    /// How long to wait for something new.
    pub timeout: Duration,
    /// Send the full state of every room.
    pub full_state: bool,
    /// The filter.
    pub filter: FilterDefinition,
    /// Presence to set (`set_presence`; `Offline`: the sync does not change presence).
    pub set_presence: PresenceState,
}

impl Default for SyncRequest {
    fn default() -> Self {
        Self {
            since: None,
            timeout: Duration::ZERO,
            full_state: false,
            filter: FilterDefinition::default(),
            set_presence: PresenceState::Online,
        }
    }
}

/// A room's timeline slice.
#[derive(Debug, Clone, Default)]
pub struct TimelineSlice {
    /// Events, oldest first.
    pub events: Vec<StoredEvent>,
    /// More events were skipped before these.
    pub limited: bool,
    /// Token to paginate back from.
    pub prev_batch: Option<PageToken>,
    /// The runs of the room's log carried whole ([`crate::messaging::runs`]): a gap before a
    /// limited timeline, and events hidden or filtered out, are not in them.
    pub delivered: Vec<(StreamPos, StreamPos)>,
    /// Are all of the room's events in the window here (not limited, none filtered out)?
    pub complete: bool,
    /// Aggregations of the events (`unsigned."m.relations"`), when the timeline is limited: the
    /// spec bundles them on `/sync` only then (otherwise the client has every child since its
    /// last sync and aggregates them itself).
    pub bundles: Bundles,
}

/// Member counts and names for clients to name a room.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Up to five other members.
    pub heroes: Vec<OwnedUserId>,
    /// Joined members.
    pub joined: u64,
    /// Invited members.
    pub invited: u64,
}

/// Changes in a room the user is in.
#[derive(Debug, Clone, Default)]
pub struct JoinedRoom {
    /// The room.
    pub room_id: Option<OwnedRoomId>,
    /// Timeline.
    pub timeline: TimelineSlice,
    /// State before the timeline.
    pub state: Vec<StoredEvent>,
    /// Receipts that changed.
    pub receipts: Vec<Receipt>,
    /// Typing users, if that changed.
    pub typing: Option<Vec<OwnedUserId>>,
    /// Room account data that changed.
    pub account_data: Vec<AccountDataChange>,
    /// Unread messages that notify the user (by their push rules).
    pub notification_count: u64,
    /// Unread messages that highlight (mentions, urgent and emergency messages, keywords).
    pub highlight_count: u64,
    /// Summary, when membership changed or on a full sync.
    pub summary: Option<Summary>,
    /// Counts of the user's own messages that may have changed (`org.wardline.message_status`).
    pub statuses: Vec<(OwnedEventId, Counts)>,
}

/// A room the user was invited to.
#[derive(Debug, Clone)]
pub struct InvitedRoom {
    /// The room.
    pub room_id: OwnedRoomId,
    /// Stripped state (name, creator, the invite itself).
    pub invite_state: Vec<Value>,
}

/// A room the user left.
#[derive(Debug, Clone)]
pub struct LeftRoom {
    /// The room.
    pub room_id: OwnedRoomId,
    /// Timeline up to the leave.
    pub timeline: TimelineSlice,
    /// State before the timeline.
    pub state: Vec<StoredEvent>,
}

/// A sync response.
#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    /// The next `since`.
    pub next_batch: SyncToken,
    /// Joined rooms with changes.
    pub joined: Vec<JoinedRoom>,
    /// Invitations.
    pub invited: Vec<InvitedRoom>,
    /// Rooms left.
    pub left: Vec<LeftRoom>,
    /// Global account data that changed.
    pub account_data: Vec<AccountDataChange>,
    /// Presence that changed (showing a do-not-disturb in force as `unavailable`, with its
    /// status message).
    pub presence: Vec<Presence>,
    /// The do-not-disturb in force of users in `presence`, which their presence carries as
    /// `org.wardline.dnd`.
    pub dnd: Vec<crate::cover::DndView>,
    /// Whose devices to look up again, and whom to stop following (incremental syncs only).
    pub device_lists: DeviceLists,
}

impl SyncResult {
    /// Is there anything for the client?
    #[must_use]
    pub fn has_updates(&self) -> bool {
        !(self.joined.is_empty()
            && self.invited.is_empty()
            && self.left.is_empty()
            && self.account_data.is_empty()
            && self.presence.is_empty()
            && self.device_lists.is_empty())
    }
}

/// The sync service.
pub struct SyncService {
    store: Arc<dyn Store>,
    clock: Arc<dyn wardline_types::Clock>,
    rooms: Arc<RoomService>,
    timeline: TimelineService,
    typing: TypingService,
    notifier: Notifier,
    sessions: Arc<SessionService>,
    presence: Arc<PresenceService>,
    settings: SyncSettings,
    push: Arc<PushRuleService>,
    user_rooms: UserRooms,
    deliveries: Deliveries,
    statuses: Arc<StatusService>,
    metrics: Metrics,
}

impl std::fmt::Debug for SyncService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncService").finish_non_exhaustive()
    }
}

/// Everything known about one user's position, for computing one response.
struct Window {
    since: Option<SyncToken>,
    upto: StreamPos,
    typing_since: Option<u64>,
    full_state: bool,
    /// The user's push rules changed in the window: every joined room's counts are sent.
    rules_changed: bool,
}

impl Window {
    fn range(&self) -> PosRange {
        PosRange::new(self.since.map_or(StreamPos::ZERO, |s| s.stream), self.upto)
    }
}

/// Could `topic` have changed in the window? `false` only when the store proves it did not, which
/// saves a query for each room and stream that had nothing new (most of them, on a busy ward).
fn may_have_changed(store: &dyn Store, w: &Window, topic: &ChangeTopic) -> bool {
    store.last_change(topic).pos > w.range().after
}

impl SyncService {
    /// A sync service.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        core: &Core,
        (rooms, push): (Arc<RoomService>, Arc<PushRuleService>),
        timeline: TimelineService,
        typing: TypingService,
        sessions: Arc<SessionService>,
        presence: Arc<PresenceService>,
        (deliveries, statuses): (Deliveries, Arc<StatusService>),
        settings: SyncSettings,
    ) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            rooms,
            timeline,
            typing,
            notifier: core.notifier.clone(),
            sessions,
            presence,
            settings,
            push,
            user_rooms: UserRooms::default(),
            deliveries,
            statuses,
            metrics: core.metrics.clone(),
        }
    }

    /// Answers a sync, waiting up to the timeout for something new.
    pub async fn sync(&self, caller: &Caller, req: SyncRequest) -> ServiceResult<SyncResult> {
        crate::filter::validate(&req.filter)?;
        if let Err(e) = self.presence.synced(&caller.user_id, req.set_presence).await {
            tracing::debug!(error = %e, "presence not updated");
        }
        let wait = req.timeout.min(Duration::from_millis(self.settings.max_timeout_ms));
        let deadline = tokio::time::Instant::now() + wait;
        let mut closing = self.notifier.closing();
        loop {
            // Subscribe before reading, so nothing committed meanwhile is missed.
            let mut wake = self.notifier.subscribe(&caller.user_id);
            // Boxed: the computation's state would otherwise be part of every waiting long-poll
            // (10,000 idle clients hold 10,000 of them).
            let result = Box::pin(self.compute(caller, &req)).await?;
            if result.has_updates() || req.since.is_none() || req.full_state || *closing.borrow() {
                self.audit_delivery(caller, &result)?;
                return Ok(result);
            }
            if !wait.is_zero() {
                tracing::debug!("sync long-poll waiting");
            }
            let waiting = self.metrics.sync_waiting();
            tokio::select! {
                woken = tokio::time::timeout_at(deadline, wake.changed()) => {
                    if woken.is_err() {
                        return Ok(result);
                    }
                }
                _ = closing.changed() => return Ok(result),
            }
            drop(waiting);
            if !self.sessions.still_valid(caller).await? {
                return Err(ServiceError::UnknownToken);
            }
        }
    }

    /// Every room whose messages this response delivers is a read, audited; what it carries
    /// is then recorded as delivered to the caller's device (in the background).
    fn audit_delivery(&self, caller: &Caller, result: &SyncResult) -> ServiceResult<()> {
        let actor = caller.actor();
        let mut carried = Vec::new();
        for room in &result.joined {
            if let Some(id) = &room.room_id {
                self.timeline.audit_read(&actor, id, &room.timeline.events, "sync")?;
                carried.push(Carried::new(id.clone(), room.timeline.delivered.clone(), &room.timeline.events));
            }
        }
        for room in &result.left {
            self.timeline.audit_read(&actor, &room.room_id, &room.timeline.events, "sync")?;
            carried.push(Carried::new(room.room_id.clone(), room.timeline.delivered.clone(), &room.timeline.events));
        }
        self.deliveries.record(&caller.user_id, Some(&caller.device_id), carried);
        Ok(())
    }

    async fn compute(&self, caller: &Caller, req: &SyncRequest) -> ServiceResult<SyncResult> {
        let user = &caller.user_id;
        let upto = self.store.current_pos();
        let typing_serial = self.typing.serial();
        // A token from the future (say, a database restored from backup) starts afresh.
        let since = req.since.filter(|s| s.stream <= upto);
        let w = Window {
            since,
            upto,
            typing_since: since.map(|s| if s.typing > typing_serial { 0 } else { s.typing }),
            full_state: req.full_state,
            rules_changed: false,
        };
        let filter = &req.filter;
        let mut out =
            SyncResult { next_batch: SyncToken { stream: upto, typing: typing_serial }, ..SyncResult::default() };

        let memberships = self.memberships_at(user, upto).await?;
        let store = self.store.as_ref();
        let changes: HashMap<OwnedRoomId, Vec<MembershipChange>> = match since {
            Some(_) if may_have_changed(store, &w, &ChangeTopic::Membership(user.clone())) => {
                let mut map: HashMap<OwnedRoomId, Vec<MembershipChange>> = HashMap::new();
                for c in self.store.membership_changes(user, w.range()).await? {
                    map.entry(c.room_id.clone()).or_default().push(c);
                }
                map
            }
            _ => HashMap::new(),
        };
        let all_data = if may_have_changed(store, &w, &ChangeTopic::AccountData(user.clone())) {
            self.store.account_data_changes(user, w.range()).await?
        } else {
            Vec::new()
        };
        let (global_data, room_data): (Vec<_>, Vec<_>) = all_data.into_iter().partition(|c| c.room_id.is_none());
        let rules_changed = global_data.iter().any(|c| c.kind == PUSH_RULES);
        let w = Window { rules_changed: since.is_some() && rules_changed, ..w };
        out.account_data =
            global_data.into_iter().filter(|c| kind_passes(&filter.account_data, &c.kind, None)).collect();
        // A first sync always carries the push rules, the defaults if the user never changed them.
        if since.is_none() && !rules_changed && kind_passes(&filter.account_data, PUSH_RULES, None) {
            out.account_data.push(AccountDataChange {
                room_id: None,
                kind: PUSH_RULES.to_owned(),
                content: self.push.ruleset_json(user).await?,
                stream: StreamPos::ZERO,
            });
        }

        for m in &memberships {
            if !room_included(&filter.room, &m.room_id) {
                continue;
            }
            let room_changes = changes.get(&m.room_id);
            match m.membership {
                Membership::Join => {
                    // Joined now but not throughout the window (a first join, or away and back):
                    // the room is sent afresh, as to a newcomer, and what was said while the user
                    // could not see the room stays hidden.
                    let newly_joined = match room_changes {
                        Some(c) if c.iter().any(|x| x.membership == Membership::Join) => {
                            c.iter().any(|x| x.membership != Membership::Join)
                                || self.membership_before(user, &m.room_id, w.range().after).await?
                                    != Some(Membership::Join)
                        }
                        _ => false,
                    };
                    let data: Vec<_> = room_data
                        .iter()
                        .filter(|c| c.room_id.as_ref() == Some(&m.room_id))
                        .filter(|c| room_kind_passes(&filter.room.account_data, &c.kind))
                        .cloned()
                        .collect();
                    let changed = room_changes.is_some();
                    if let Some(room) =
                        self.joined_room(user, &m.room_id, &w, (newly_joined, changed), data, filter).await?
                    {
                        out.joined.push(room);
                    }
                }
                Membership::Invite if since.is_none() || room_changes.is_some() => {
                    out.invited.push(self.invited_room(user, &m.room_id).await?);
                }
                Membership::Leave | Membership::Ban
                    if (since.is_some() && room_changes.is_some())
                        || (since.is_none() && filter.room.include_leave) =>
                {
                    out.left.push(self.left_room(user, m, &w, filter).await?);
                }
                _ => {}
            }
        }
        (out.presence, out.dnd) = self.presence(user, &w, &memberships, filter).await?;
        if since.is_some() {
            out.device_lists = device_lists(store, user, w.range(), &memberships, &changes).await?;
        }
        Ok(out)
    }

    /// The user's membership in each room as of `upto`.
    async fn memberships_at(&self, user: &UserId, upto: StreamPos) -> ServiceResult<Vec<MembershipChange>> {
        let mut out = Vec::new();
        for m in self.user_rooms.get(self.store.as_ref(), user).await?.iter() {
            if m.stream <= upto {
                out.push(m.clone());
            } else if let Some(earlier) =
                self.store.membership_history(user, &m.room_id).await?.into_iter().rev().find(|c| c.stream <= upto)
            {
                out.push(earlier);
            }
        }
        Ok(out)
    }

    async fn membership_before(
        &self,
        user: &UserId,
        room: &RoomId,
        pos: StreamPos,
    ) -> ServiceResult<Option<Membership>> {
        Ok(self
            .store
            .membership_history(user, room)
            .await?
            .into_iter()
            .rev()
            .find(|c| c.stream <= pos)
            .map(|c| c.membership))
    }

    fn timeline_limit(&self, filter: &RoomEventFilter) -> usize {
        filter
            .limit
            .map_or(self.settings.default_timeline_limit, |l| usize::try_from(u64::from(l)).unwrap_or(usize::MAX))
            .min(500)
    }

    /// The newest `limit` events of a room in `range` that the user may see.
    ///
    /// `vis` is `None` only when the change log proves the user was joined throughout `range`,
    /// where [`Visibility::can_see`] holds for every position; otherwise every event passes it.
    async fn slice(
        &self,
        room: &RoomId,
        range: PosRange,
        filter: &RoomEventFilter,
        vis: Option<&Visibility>,
        limit: usize,
    ) -> ServiceResult<TimelineSlice> {
        if limit == 0 || range.is_empty() {
            return Ok(TimelineSlice {
                events: vec![],
                limited: !range.is_empty(),
                prev_batch: Some(PageToken(range.upto.next())),
                delivered: vec![],
                complete: range.is_empty(),
                bundles: Bundles::new(),
            });
        }
        // A woken incremental sync usually finds its new events in memory.
        let (mut raw, limited) = match self.rooms.recent_events(room, range, limit) {
            Some(found) => found,
            None => {
                let mut raw = self.store.room_events(room, range, Direction::Backward, limit + 1).await?;
                let limited = raw.len() > limit;
                raw.truncate(limit);
                raw.reverse();
                (raw, limited)
            }
        };
        // The timeline starts after the last event the user may not see: the state sent with it
        // (on a full sync) is then the state at a moment they could see, which includes whatever
        // changed while they could not; anything before is a gap, for `/messages` to fill.
        let hidden = raw.iter().rposition(|e| !vis.is_none_or(|v| v.can_see(e.stream)));
        let visible = match hidden {
            Some(i) => raw.split_off(i + 1),
            None => raw,
        };
        let limited = limited || hidden.is_some();
        let prev_batch = Some(PageToken(visible.first().map_or(range.upto.next(), |e| e.stream)));
        let (events, left_out): (Vec<_>, Vec<_>) = visible.into_iter().partition(|e| event_passes(filter, e));
        let seen = events.iter().map(|e| (e.stream, true)).chain(left_out.iter().map(|e| (e.stream, false)));
        let delivered = runs(seen.collect());
        let complete = !limited && left_out.is_empty();
        Ok(TimelineSlice { events, limited, prev_batch, delivered, complete, bundles: Bundles::new() })
    }

    /// Adds the bundled aggregations to a limited timeline, counting children up to `upto` only
    /// (later ones reach the client in a later sync). `vis` is `None` when the user was joined
    /// throughout the window; it is then read, as bundling is rare enough not to be worth a
    /// shortcut.
    async fn bundle_limited(
        &self,
        user: &UserId,
        room: &RoomId,
        mut timeline: TimelineSlice,
        vis: Option<&Visibility>,
        upto: StreamPos,
    ) -> ServiceResult<TimelineSlice> {
        if !timeline.limited || timeline.events.is_empty() {
            return Ok(timeline);
        }
        let read;
        let vis = match vis {
            Some(v) => v,
            None => {
                read = self.timeline.visibility(user, room).await?;
                &read
            }
        };
        timeline.bundles = self.timeline.bundles(user, &timeline.events, vis, upto).await?;
        Ok(timeline)
    }

    /// State before a timeline: everything on a full sync, changes in the gap if limited; only
    /// changes the user may see.
    async fn state_before(
        &self,
        room: &RoomId,
        timeline: &TimelineSlice,
        range: PosRange,
        full: bool,
        filter: &RoomEventFilter,
        vis: Option<&Visibility>,
    ) -> ServiceResult<Vec<StoredEvent>> {
        let start = timeline.prev_batch.map_or(range.upto, |t| StreamPos(t.0.0 - 1));
        let state = if full {
            // The whole state at the start of the timeline, a moment the user may see.
            self.store.state_at(room, start).await?
        } else if timeline.limited {
            self.store
                .state_changes(room, PosRange::new(range.after, start))
                .await?
                .into_iter()
                .filter(|e| vis.is_none_or(|v| v.can_see(e.stream)))
                .collect()
        } else {
            Vec::new()
        };
        Ok(state.into_iter().filter(|e| event_passes(filter, e)).collect())
    }

    #[allow(clippy::too_many_arguments)]
    async fn joined_room(
        &self,
        user: &UserId,
        room: &RoomId,
        w: &Window,
        (newly_joined, membership_changed): (bool, bool),
        account_data: Vec<AccountDataChange>,
        filter: &FilterDefinition,
    ) -> ServiceResult<Option<JoinedRoom>> {
        let full = w.since.is_none() || newly_joined || w.full_state;
        let typing = self.typing.typing_since(room, w.typing_since);
        let store = self.store.as_ref();
        let new_events = full || may_have_changed(store, w, &ChangeTopic::RoomEvents(room.to_owned()));
        let new_receipts = full || may_have_changed(store, w, &ChangeTopic::RoomReceipts(room.to_owned()));
        // Counts are sent afresh with a first picture of the room, and as they change after.
        let first_picture = w.since.is_none() || newly_joined;
        let new_deliveries =
            !first_picture && may_have_changed(store, w, &ChangeTopic::RoomDeliveries(room.to_owned()));
        if !new_events
            && !new_receipts
            && !new_deliveries
            && typing.is_none()
            && account_data.is_empty()
            && !w.rules_changed
        {
            return Ok(None);
        }
        let ephemeral = &filter.room.ephemeral;
        let no_ephemeral = ephemeral.types.as_ref().is_some_and(Vec::is_empty)
            || ephemeral.limit.is_some_and(|l| l == ruma::UInt::MIN);
        let want_statuses = !no_ephemeral && room_kind_passes(ephemeral, STATUS_EVENT_TYPE);
        // `full_state` alone still limits the timeline to what is new since `since`.
        let range = if w.since.is_none() || newly_joined { PosRange::upto(w.upto) } else { w.range() };
        // Without a membership change in the window the user was joined throughout it and may
        // see all of it; otherwise the rule decides event by event.
        let vis = if full || membership_changed { Some(self.timeline.visibility(user, room).await?) } else { None };
        let timeline = if new_events {
            let limit = self.timeline_limit(&filter.room.timeline);
            self.slice(room, range, &filter.room.timeline, vis.as_ref(), limit).await?
        } else {
            TimelineSlice {
                events: vec![],
                limited: false,
                prev_batch: Some(PageToken(range.upto.next())),
                delivered: vec![],
                complete: true,
                bundles: Bundles::new(),
            }
        };
        let timeline = self.bundle_limited(user, room, timeline, vis.as_ref(), w.upto).await?;
        let state = self.state_before(room, &timeline, range, full, &filter.room.state, vis.as_ref()).await?;
        let receipt_range = if full { PosRange::upto(w.upto) } else { w.range() };
        let changed_receipts =
            if !new_receipts || no_ephemeral { Vec::new() } else { self.store.receipts(room, receipt_range).await? };
        let statuses = if want_statuses {
            let window = SyncWindow {
                since: (!first_picture).then_some(range.after),
                upto: w.upto,
                new_deliveries,
                new_receipts: !first_picture && new_receipts,
                own_new: timeline.complete.then_some(timeline.events.as_slice()),
            };
            self.statuses.sync_counts(user, room, window).await?
        } else {
            Vec::new()
        };
        if !full
            && !new_events
            && changed_receipts.is_empty()
            && typing.is_none()
            && account_data.is_empty()
            && statuses.is_empty()
            && !w.rules_changed
        {
            // Only deliveries (or receipts only logged) changed, none of them to a message of
            // this user's.
            return Ok(None);
        }
        let receipts = changed_receipts
            .into_iter()
            .filter(|r| r.receipt_type != "m.read.private" || r.user_id == user)
            .filter(|r| vis.as_ref().is_none_or(|v| v.can_see(r.event_stream)))
            .collect();
        let counts = self.push.counts(room, user, w.upto).await?;
        let member_changed = timeline.events.iter().any(|e| e.event.kind == kinds::MEMBER);
        let summary = if full || member_changed { Some(self.summary(user, room).await?) } else { None };
        let typing = if filter.room.ephemeral.types.as_ref().is_some_and(Vec::is_empty) { None } else { typing };
        Ok(Some(JoinedRoom {
            room_id: Some(room.to_owned()),
            timeline,
            state,
            receipts,
            typing,
            account_data,
            notification_count: counts.notify,
            highlight_count: counts.highlight,
            summary,
            statuses,
        }))
    }

    async fn summary(&self, user: &UserId, room: &RoomId) -> ServiceResult<Summary> {
        let members = self.store.members(room).await?;
        let joined = members.iter().filter(|(_, m)| *m == Membership::Join).count() as u64;
        let invited = members.iter().filter(|(_, m)| *m == Membership::Invite).count() as u64;
        let heroes = members
            .into_iter()
            .filter(|(u, m)| u != user && matches!(m, Membership::Join | Membership::Invite))
            .map(|(u, _)| u)
            .take(5)
            .collect();
        Ok(Summary { heroes, joined, invited })
    }

    async fn invited_room(&self, user: &UserId, room: &RoomId) -> ServiceResult<InvitedRoom> {
        let state = self.rooms.state(room).await?;
        let mut invite_state = state.stripped_for_invite();
        if let Some(invite) = state.get(kinds::MEMBER, user.as_str()) {
            invite_state.push(serde_json::json!({
                "type": kinds::MEMBER,
                "state_key": user,
                "sender": invite.event.sender,
                "content": invite.event.content,
                "event_id": invite.event.event_id,
                "origin_server_ts": invite.event.origin_server_ts.0,
            }));
        }
        Ok(InvitedRoom { room_id: room.to_owned(), invite_state })
    }

    async fn left_room(
        &self,
        user: &UserId,
        m: &MembershipChange,
        w: &Window,
        filter: &FilterDefinition,
    ) -> ServiceResult<LeftRoom> {
        let range = PosRange::new(w.range().after, m.stream.min(w.upto));
        let vis = self.timeline.visibility(user, &m.room_id).await?;
        let limit = self.timeline_limit(&filter.room.timeline);
        let timeline = self.slice(&m.room_id, range, &filter.room.timeline, Some(&vis), limit).await?;
        let timeline = self.bundle_limited(user, &m.room_id, timeline, Some(&vis), range.upto).await?;
        let state =
            self.state_before(&m.room_id, &timeline, range, w.since.is_none(), &filter.room.state, Some(&vis)).await?;
        Ok(LeftRoom { room_id: m.room_id.clone(), timeline, state })
    }

    async fn presence(
        &self,
        user: &UserId,
        w: &Window,
        memberships: &[MembershipChange],
        filter: &FilterDefinition,
    ) -> ServiceResult<(Vec<Presence>, Vec<crate::cover::DndView>)> {
        if crate::filter::excludes_all(&filter.presence) {
            return Ok((Vec::new(), Vec::new()));
        }
        if !may_have_changed(self.store.as_ref(), w, &ChangeTopic::Presence) {
            return Ok((Vec::new(), Vec::new()));
        }
        let changes = self.store.presence_changes(w.range()).await?;
        if changes.is_empty() {
            return Ok((changes, Vec::new()));
        }
        let mut colleagues: HashSet<OwnedUserId> = HashSet::from([user.to_owned()]);
        for m in memberships.iter().filter(|m| m.membership == Membership::Join) {
            colleagues.extend(
                self.store
                    .members(&m.room_id)
                    .await?
                    .into_iter()
                    .filter(|(_, x)| *x == Membership::Join)
                    .map(|(u, _)| u),
            );
        }
        let mut shown: Vec<Presence> = changes
            .into_iter()
            .filter(|p| {
                colleagues.contains(&p.user_id) && kind_passes(&filter.presence, "m.presence", Some(&p.user_id))
            })
            .collect();
        // Do-not-disturb in force shows, whatever the stored presence says.
        let now = self.clock.now();
        let users: Vec<OwnedUserId> = shown.iter().map(|p| p.user_id.clone()).collect();
        let mut dnd = crate::cover::views(self.store.as_ref(), now, &users).await?;
        let mut views = Vec::with_capacity(dnd.len());
        for p in &mut shown {
            if let Some(d) = dnd.remove(&p.user_id) {
                crate::cover::presence_overlay(p, &d, now);
                views.push(d);
            }
        }
        Ok((shown, views))
    }
}
