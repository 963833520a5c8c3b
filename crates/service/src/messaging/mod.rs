//! Messaging: whether a message reached its recipients and whether they read it.
//!
//! **Invariant:** [`status::status_of`] is the one rule for "Delivered" and "Read". The status
//! endpoint ([`StatusService::status`]), the counts `/sync` sends a sender
//! ([`StatusService::sync_counts`]) and the conversation transcript
//! ([`crate::audit_report::transcript`]) all load their facts with [`load_facts`] and ask it.
//! Deliveries are recorded per device by [`Deliveries`] from every response that carries events
//! to a device, after the response is made; receipts are logged with their device and the
//! position the store had reached when they arrived.

pub mod deliveries;
pub mod status;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use ruma::{EventId, OwnedDeviceId, OwnedEventId, OwnedUserId, RoomId, UserId};
use wardline_store::{Direction, PosRange, Receipt, Store, StoreResult};
use wardline_types::priority;
use wardline_types::relation::{REACTION, rel_types};
use wardline_types::{Membership, StoredEvent, StreamPos, kinds};

pub use deliveries::{Arrival, Carried, Deliveries, runs};
pub use status::{
    Answered, Counts, Facts, GivenAnswer, Memberships, MessageStatus, RECORDED_AFTER_KEY, RecipientStatus,
    STATUS_EVENT_TYPE, is_message, status_of, thread_of,
};

use crate::ratelimit::{LimitKind, RateLimiter};
use crate::rooms::RoomService;
use crate::timeline::TimelineService;
use crate::{ServiceError, ServiceResult};

/// Most of a user's own messages listed for one room in one `/sync`; on a first sync, among the
/// room's this many latest events.
pub const SYNC_MESSAGES: usize = 50;

/// Everyone with a membership in a room, with their current membership and its position, from
/// the room's current state.
pub fn current_members<'a>(
    state: impl IntoIterator<Item = &'a StoredEvent>,
) -> Vec<(OwnedUserId, StreamPos, Membership)> {
    state
        .into_iter()
        .filter(|e| e.event.kind == wardline_types::kinds::MEMBER)
        .filter_map(|e| {
            let user = OwnedUserId::try_from(e.event.state_key.as_deref()?).ok()?;
            Some((user, e.stream, e.membership()?))
        })
        .collect()
}

/// The position delivery tracking began after (schema v8), as the store's meta table records
/// it; 0 if it does not.
pub async fn recorded_after(store: &dyn Store) -> StoreResult<StreamPos> {
    Ok(StreamPos(store.meta(RECORDED_AFTER_KEY).await?.and_then(|v| v.parse().ok()).unwrap_or(0)))
}

/// Loads what the rule needs to tell the status of `messages` of `room` (the room's current
/// `members` as from [`current_members`]), in a few queries however many members: the
/// membership history of whoever changed membership since the earliest of them, the deliveries
/// of them to every device of their recipients, and those recipients' read receipts that could
/// count (logged after the first delivery to them, pointing at one of the messages or later).
/// Delivery tracking began after `recorded_after`.
pub async fn load_facts(
    store: &dyn Store,
    room: &RoomId,
    messages: &[StoredEvent],
    members: Vec<(OwnedUserId, StreamPos, Membership)>,
    recorded_after: StreamPos,
) -> StoreResult<(Memberships, Facts)> {
    let mut facts = Facts::new(recorded_after);
    let (Some(lo), Some(hi)) = (messages.iter().map(|m| m.stream).min(), messages.iter().map(|m| m.stream).max())
    else {
        return Ok((Memberships::default(), facts));
    };
    let memberships = load_memberships(store, room, messages, members).await?;
    // Each recipient with the messages they are a recipient of.
    let mut of_user: BTreeMap<OwnedUserId, Vec<StreamPos>> = BTreeMap::new();
    for m in messages {
        for user in memberships.recipients(m) {
            of_user.entry(user).or_default().push(m.stream);
        }
    }
    let users: Vec<OwnedUserId> = of_user.keys().cloned().collect();
    let deliveries = store.deliveries(room, &users, PosRange::new(StreamPos(lo.0 - 1), hi)).await?;
    // A receipt counts only once a message reached its device: none logged before the first
    // delivery of any of them counts (but any may, for a message from before deliveries were
    // recorded).
    let mut first: HashMap<&UserId, StreamPos> = HashMap::new();
    for d in &deliveries {
        if of_user.get(&d.user_id).is_some_and(|ps| ps.iter().any(|p| d.covers(*p))) {
            let at = first.entry(&d.user_id).or_insert(d.stream);
            *at = (*at).min(d.stream);
        }
    }
    let since: Vec<(OwnedUserId, StreamPos)> = of_user
        .iter()
        .filter_map(|(user, ps)| {
            if ps.iter().any(|p| *p <= recorded_after) {
                return Some((user.clone(), StreamPos::ZERO));
            }
            first.get(user.as_ref() as &UserId).map(|at| (user.clone(), *at))
        })
        .collect();
    let receipts = store.read_receipts_since(room, &since, lo).await?;
    facts.add_deliveries(deliveries);
    facts.add_read_receipts(receipts);
    facts.add_answers(answers_to(store, messages).await?);
    Ok((memberships, facts))
}

/// Enough of `room`'s membership history to tell the recipients of `messages`
/// ([`Memberships::recipients`]): the current `members` (as from [`current_members`]), and the
/// history of whoever changed membership since the earliest of them.
pub async fn load_memberships(
    store: &dyn Store,
    room: &RoomId,
    messages: &[StoredEvent],
    members: Vec<(OwnedUserId, StreamPos, Membership)>,
) -> StoreResult<Memberships> {
    let Some(lo) = messages.iter().map(|m| m.stream).min() else { return Ok(Memberships::default()) };
    let mut changes = Vec::new();
    let mut moved = Vec::new();
    for (user, pos, membership) in members {
        if pos >= lo {
            moved.push(user);
        } else {
            changes.push((user, pos, membership));
        }
    }
    for (user, c) in store.membership_histories(room, &moved).await? {
        changes.push((user, c.stream, c.membership));
    }
    Ok(Memberships::new(changes))
}

/// The answers stored to those of `messages` that ask for answers: responses and reactions
/// that answer ([`wardline_types::priority`]), read through the relations index (a deleted
/// answer has left it).
pub(crate) async fn answers_to(store: &dyn Store, messages: &[StoredEvent]) -> StoreResult<Vec<GivenAnswer>> {
    let asking: Vec<OwnedEventId> = messages
        .iter()
        .filter(|m| priority::request_of(&m.event.content).ok().flatten().is_some())
        .map(|m| m.event.event_id.clone())
        .collect();
    if asking.is_empty() {
        return Ok(Vec::new());
    }
    let rels = store.relations_to(&asking, &[rel_types::REFERENCE, rel_types::ANNOTATION], store.current_pos()).await?;
    let responses: Vec<OwnedEventId> = rels
        .iter()
        .filter(|r| r.rel_type == rel_types::REFERENCE && r.kind == kinds::MESSAGE)
        .map(|r| r.event_id.clone())
        .collect();
    let contents: HashMap<OwnedEventId, StoredEvent> =
        store.events_by_id(&responses).await?.into_iter().map(|e| (e.event.event_id.clone(), e)).collect();
    let mut out = Vec::new();
    for r in rels {
        let given = if r.rel_type == rel_types::ANNOTATION {
            r.key.as_deref().filter(|_| r.kind == REACTION).and_then(priority::reaction_answer)
        } else {
            contents
                .get(&r.event_id)
                .and_then(|e| priority::answer_of(&e.event.kind, &e.event.content).ok().flatten())
                .filter(|(target, _)| target == r.parent_id.as_str())
                .map(|(_, given)| given)
        };
        if let Some(given) = given {
            out.push(GivenAnswer {
                user_id: r.sender,
                message: r.parent_id,
                given,
                event_id: r.event_id,
                stream: r.stream,
                ts: r.origin_server_ts,
            });
        }
    }
    Ok(out)
}

/// What changed in a room over one `/sync` window, for the counts of the caller's messages.
#[derive(Debug, Clone, Copy)]
pub struct SyncWindow<'a> {
    /// Where the client got to; `None` for a first picture of the room.
    pub since: Option<StreamPos>,
    /// The response's position.
    pub upto: StreamPos,
    /// Could deliveries of the room's events have been recorded in the window?
    pub new_deliveries: bool,
    /// Could receipts of the room have been logged in the window?
    pub new_receipts: bool,
    /// The caller's own new events in the window, when the timeline holds all of them.
    pub own_new: Option<&'a [StoredEvent]>,
}

/// Answers "who got my message, who read it".
pub struct StatusService {
    store: Arc<dyn Store>,
    rooms: Arc<RoomService>,
    timeline: TimelineService,
    limiter: RateLimiter,
    recorded_after: OnceLock<StreamPos>,
}

impl std::fmt::Debug for StatusService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusService").finish_non_exhaustive()
    }
}

/// Merges inclusive spans that overlap or touch.
fn merge(mut spans: Vec<(StreamPos, StreamPos)>) -> Vec<(StreamPos, StreamPos)> {
    spans.sort();
    let mut out: Vec<(StreamPos, StreamPos)> = Vec::new();
    for (lo, hi) in spans {
        match out.last_mut() {
            Some(last) if lo.0 <= last.1.0 + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// A reader's device and receipt thread: whose receipts in a window are taken together.
type ReceiptKey = (OwnedUserId, Option<OwnedDeviceId>, Option<String>);

impl StatusService {
    /// A status service.
    pub fn new(
        store: Arc<dyn Store>,
        rooms: Arc<RoomService>,
        timeline: TimelineService,
        limiter: RateLimiter,
    ) -> Self {
        Self { store, rooms, timeline, limiter, recorded_after: OnceLock::new() }
    }

    async fn members(&self, room: &RoomId) -> ServiceResult<Vec<(OwnedUserId, StreamPos, Membership)>> {
        self.rooms.with_state(room, |s| current_members(s.events())).await
    }

    /// The position delivery tracking began after (read once; it never changes).
    async fn recorded_after(&self) -> ServiceResult<StreamPos> {
        if let Some(p) = self.recorded_after.get() {
            return Ok(*p);
        }
        let p = recorded_after(self.store.as_ref()).await?;
        Ok(*self.recorded_after.get_or_init(|| p))
    }

    /// The status of one message, for a current member of the room who may see it, or its
    /// sender; anyone else is told there is no such event, as for an unknown one. Each ask
    /// takes from the caller's `rate_limits.statuses`.
    pub async fn status(&self, user: &UserId, room: &RoomId, event_id: &EventId) -> ServiceResult<MessageStatus> {
        self.limiter.check(LimitKind::Status, user.as_str())?;
        let message = self.timeline.visible_event(user, room, event_id).await?;
        let members = self.members(room).await?;
        let joined = members.iter().any(|(u, _, m)| u == user && *m == Membership::Join);
        if !joined && message.event.sender != user {
            return Err(ServiceError::not_found("event not found"));
        }
        let (memberships, facts) = load_facts(
            self.store.as_ref(),
            room,
            std::slice::from_ref(&message),
            members,
            self.recorded_after().await?,
        )
        .await?;
        let mut status = status_of(&message, &memberships, &facts, StreamPos(i64::MAX));
        // Who received it as a role's holder: their member event just before it says.
        let with_roles = self.rooms.with_state(room, crate::rooms::role_seats::ever_had_roles).await?;
        if with_roles && !status.recipients.is_empty() {
            let before = self.store.state_at(room, StreamPos(message.stream.0 - 1)).await?;
            for r in &mut status.recipients {
                r.as_role = before
                    .iter()
                    .find(|e| e.event.kind == kinds::MEMBER && e.event.state_key.as_deref() == Some(r.user_id.as_str()))
                    .and_then(|e| seat_label(&e.event.content));
            }
        }
        Ok(status)
    }

    /// The status of one message as the server itself needs it (the escalation engine): no
    /// caller to check, no rate limit, no role labels.
    pub async fn status_for_server(&self, message: &StoredEvent) -> ServiceResult<MessageStatus> {
        let room = &message.event.room_id;
        let members = self.members(room).await?;
        let (memberships, facts) =
            load_facts(self.store.as_ref(), room, std::slice::from_ref(message), members, self.recorded_after().await?)
                .await?;
        Ok(status_of(message, &memberships, &facts, StreamPos(i64::MAX)))
    }

    /// The counts of `user`'s own messages in `room` that may have changed in the window: new
    /// messages, and those that a delivery or a read receipt recorded in the window changed.
    /// For a first picture of the room, those among its latest [`SYNC_MESSAGES`] events.
    ///
    /// Cost: deliveries and receipts in a busy ward change in almost every window, for every
    /// member who syncs; only the sender of a message can have counts that changed, so one
    /// query (the caller's latest message here) comes first, and nothing more is asked of
    /// someone who never sent one or about what came after their latest.
    pub async fn sync_counts(
        &self,
        user: &UserId,
        room: &RoomId,
        w: SyncWindow<'_>,
    ) -> ServiceResult<Vec<(OwnedEventId, Counts)>> {
        let store = self.store.as_ref();
        let mine = |e: &StoredEvent| e.event.sender == user && is_message(e);
        let Some(since) = w.since else {
            let latest = store.room_events(room, PosRange::upto(w.upto), Direction::Backward, SYNC_MESSAGES).await?;
            let own: Vec<StoredEvent> = latest.into_iter().filter(|e| mine(e)).collect();
            return self.counts(room, own, None, w.upto).await;
        };
        let window = PosRange::new(since, w.upto);
        let mut candidates: BTreeMap<StreamPos, StoredEvent> = BTreeMap::new();
        let new = match w.own_new {
            Some(events) => events.iter().filter(|e| e.stream > since && mine(e)).cloned().collect(),
            None => store.events_by_sender(room, user, window, SYNC_MESSAGES).await?,
        };
        candidates.extend(new.into_iter().filter(|e| mine(e)).map(|e| (e.stream, e)));
        let last =
            if w.new_deliveries || w.new_receipts { store.last_message_by(room, user, w.upto).await? } else { None };
        if let Some(last) = last {
            // Which stretches of the log (up to the caller's latest message)
            // may hold a message whose counts changed.
            let mut spans = Vec::new();
            if w.new_deliveries {
                for d in store.delivery_changes(room, window, last).await? {
                    if d.user_id != user {
                        spans.push((d.first, d.last.min(last)));
                    }
                }
            }
            if w.new_receipts {
                spans.extend(self.receipt_spans(room, user, window, last).await?);
            }
            for (lo, hi) in merge(spans) {
                let found =
                    store.events_by_sender(room, user, PosRange::new(StreamPos(lo.0 - 1), hi), SYNC_MESSAGES).await?;
                candidates.extend(found.into_iter().filter(|e| mine(e)).map(|e| (e.stream, e)));
            }
        }
        let own: Vec<StoredEvent> = candidates.into_values().rev().take(SYNC_MESSAGES).collect();
        self.counts(room, own, Some(since), w.upto).await
    }

    /// The stretches of the log (up to `last`) holding messages that read receipts logged in
    /// `window` by others may have read: per device and thread, past where that device's
    /// receipt before the window pointed, and what reached the device since that receipt
    /// arrived. Three queries however many receipts.
    async fn receipt_spans(
        &self,
        room: &RoomId,
        user: &UserId,
        window: PosRange,
        last: StreamPos,
    ) -> ServiceResult<Vec<(StreamPos, StreamPos)>> {
        let store = self.store.as_ref();
        // Per device and thread: the furthest event and the latest arrival in the window.
        let mut groups: BTreeMap<ReceiptKey, (StreamPos, StreamPos)> = BTreeMap::new();
        for r in store.read_receipt_log(room, window).await?.into_iter().filter(|r| r.user_id != user) {
            let g = groups
                .entry((r.user_id.clone(), r.device_id.clone(), r.thread_id.clone()))
                .or_insert((r.event_stream, r.arrived));
            *g = (g.0.max(r.event_stream), g.1.max(r.arrived));
        }
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<ReceiptKey> = groups.keys().cloned().collect();
        let before: HashMap<ReceiptKey, Receipt> = store
            .latest_read_receipts(room, &keys, window.after)
            .await?
            .into_iter()
            .map(|r| ((r.user_id.clone(), r.device_id.clone(), r.thread_id.clone()), r))
            .collect();
        let mut spans = Vec::new();
        let mut late = Vec::new();
        let mut read_to_of: HashMap<OwnedUserId, StreamPos> = HashMap::new();
        for (key, (event, arrived)) in groups {
            let (read_to, at) =
                before.get(&key).map_or((StreamPos::ZERO, StreamPos::ZERO), |p| (p.event_stream, p.arrived));
            if event > read_to && read_to < last {
                spans.push((read_to.next(), event.min(last)));
            }
            // Delivered to the device after the receipt before arrived: older messages the new
            // receipt may now read.
            if read_to > StreamPos::ZERO && arrived > at {
                let r = read_to_of.entry(key.0.clone()).or_insert(read_to);
                *r = (*r).max(read_to);
                late.push((key.0, key.1, PosRange::new(at, arrived)));
            }
        }
        for d in store.device_delivery_changes(room, &late).await? {
            let upto = read_to_of.get(&d.user_id).copied().unwrap_or(StreamPos::ZERO).min(last);
            if d.first <= upto {
                spans.push((d.first, d.last.min(upto)));
            }
        }
        Ok(spans)
    }

    /// The counts of `messages` as of `upto`; with `since`, only of those new since or whose
    /// counts differ from theirs as of `since`.
    async fn counts(
        &self,
        room: &RoomId,
        messages: Vec<StoredEvent>,
        since: Option<StreamPos>,
        upto: StreamPos,
    ) -> ServiceResult<Vec<(OwnedEventId, Counts)>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let members = self.members(room).await?;
        let recorded_after = self.recorded_after().await?;
        let (memberships, facts) = load_facts(self.store.as_ref(), room, &messages, members, recorded_after).await?;
        let mut out: HashMap<OwnedEventId, Counts> = HashMap::new();
        for m in &messages {
            let now = status_of(m, &memberships, &facts, upto).counts();
            let changed = since.is_none_or(|s| m.stream > s || status_of(m, &memberships, &facts, s).counts() != now);
            if changed {
                out.insert(m.event.event_id.clone(), now);
            }
        }
        let mut out: Vec<(OwnedEventId, Counts)> = out.into_iter().collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// The role named by a member event's `org.wardline.seat`: `(id, name)`.
fn seat_label(content: &serde_json::Value) -> Option<(wardline_types::RoleId, String)> {
    let seat = content.get(wardline_types::role::fields::SEAT)?;
    let id = wardline_types::RoleId::parse(seat.get("role")?.as_str()?).ok()?;
    let name = seat.get("name").and_then(serde_json::Value::as_str).unwrap_or(id.as_str()).to_owned();
    Some((id, name))
}
