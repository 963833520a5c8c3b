//! Messaging: whether a message reached its recipients and whether they read it.
//!
//! **Invariant:** [`status::status_of`] is the one rule for "Delivered" and "Read". The status
//! endpoint ([`StatusService::status`]), the counts `/sync` sends a sender
//! ([`StatusService::sync_counts`]) and the conversation transcript
//! ([`crate::audit_report::transcript`]) all load their facts with [`load_facts`] and ask it.
//! Deliveries are recorded by [`Deliveries`] from every response that carries events to a
//! device, after the response is made; receipts are kept with their history by the store.

pub mod deliveries;
pub mod status;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ruma::{EventId, OwnedEventId, OwnedUserId, RoomId, UserId};
use wardline_store::{Direction, PosRange, Receipt, Store, StoreResult};
use wardline_types::{Membership, StoredEvent, StreamPos, Timestamp, kinds};

pub use deliveries::{Carried, Deliveries, runs};
pub use status::{
    Counts, Facts, Memberships, MessageStatus, RecipientStatus, STATUS_EVENT_TYPE, is_message, status_of,
};

use crate::ServiceResult;
use crate::rooms::RoomService;
use crate::timeline::TimelineService;

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
        .filter(|e| e.event.kind == kinds::MEMBER)
        .filter_map(|e| {
            let user = OwnedUserId::try_from(e.event.state_key.as_deref()?).ok()?;
            Some((user, e.stream, e.membership()?))
        })
        .collect()
}

/// Loads what the rule needs to tell the status of `messages` of `room` (the room's current
/// `members` as from [`current_members`]): the membership history of whoever changed
/// membership since the earliest of them, the deliveries to their recipients and those
/// recipients' read receipts.
///
/// With [`Reach::Now`], only each recipient's earliest receipt that could count is read: enough
/// for the status of a single message now, not as it stood at an earlier position.
pub async fn load_facts(
    store: &dyn Store,
    room: &RoomId,
    messages: &[StoredEvent],
    members: Vec<(OwnedUserId, StreamPos, Membership)>,
    reach: Reach,
) -> StoreResult<(Memberships, Facts)> {
    let (Some(lo), Some(hi)) = (messages.iter().map(|m| m.stream).min(), messages.iter().map(|m| m.stream).max())
    else {
        return Ok((Memberships::default(), Facts::default()));
    };
    let mut changes = Vec::new();
    for (user, pos, membership) in members {
        if pos >= lo {
            for c in store.membership_history(&user, room).await? {
                changes.push((user.clone(), c.stream, c.membership));
            }
        } else {
            changes.push((user, pos, membership));
        }
    }
    let memberships = Memberships::new(changes);
    // Each recipient with the messages they are a recipient of.
    let mut of_user: BTreeMap<OwnedUserId, Vec<StreamPos>> = BTreeMap::new();
    for m in messages {
        for user in memberships.recipients(m) {
            of_user.entry(user).or_default().push(m.stream);
        }
    }
    let users: Vec<OwnedUserId> = of_user.keys().cloned().collect();
    let mut facts = Facts::default();
    facts.add_deliveries(store.deliveries(room, &users, PosRange::new(StreamPos(lo.0 - 1), hi)).await?);
    let limit = match reach {
        Reach::Now if messages.len() == 1 => 1,
        _ => usize::MAX,
    };
    for (user, positions) in of_user {
        // A receipt counts only once the message was delivered: none is older than the first
        // delivery of any of them.
        let delivered: Vec<(StreamPos, Timestamp)> =
            positions.iter().filter_map(|&p| facts.delivered(&user, p, StreamPos(i64::MAX)).map(|t| (p, t))).collect();
        let (Some(from), Some(not_before)) =
            (delivered.iter().map(|(p, _)| *p).min(), delivered.iter().map(|(_, t)| *t).min())
        else {
            continue;
        };
        facts.add_read_receipts(store.read_receipt_history(room, &user, from, not_before, limit).await?);
    }
    Ok((memberships, facts))
}

/// Which statuses the facts loaded must tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The statuses now.
    Now,
    /// The statuses as they stood at any position.
    History,
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
    /// The room's receipts that changed in the window.
    pub receipts: &'a [Receipt],
    /// The caller's own new events in the window, when the timeline holds all of them.
    pub own_new: Option<&'a [StoredEvent]>,
}

/// Answers "who got my message, who read it".
pub struct StatusService {
    store: Arc<dyn Store>,
    rooms: Arc<RoomService>,
    timeline: TimelineService,
}

impl std::fmt::Debug for StatusService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusService").finish_non_exhaustive()
    }
}

/// Is this one of the public read receipts the rule counts?
fn counts_as_read(r: &Receipt) -> bool {
    r.receipt_type == "m.read" && r.thread_id.as_deref().is_none_or(|t| t == "main")
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

impl StatusService {
    /// A status service.
    pub fn new(store: Arc<dyn Store>, rooms: Arc<RoomService>, timeline: TimelineService) -> Self {
        Self { store, rooms, timeline }
    }

    async fn members(&self, room: &RoomId) -> ServiceResult<Vec<(OwnedUserId, StreamPos, Membership)>> {
        self.rooms.with_state(room, |s| current_members(s.events())).await
    }

    /// The status of one event, for a user who may see it; anyone else is told there is no
    /// such event, as for an unknown one.
    pub async fn status(&self, user: &UserId, room: &RoomId, event_id: &EventId) -> ServiceResult<MessageStatus> {
        let message = self.timeline.visible_event(user, room, event_id).await?;
        let members = self.members(room).await?;
        let (memberships, facts) =
            load_facts(self.store.as_ref(), room, std::slice::from_ref(&message), members, Reach::Now).await?;
        Ok(status_of(&message, &memberships, &facts, StreamPos(i64::MAX)))
    }

    /// The counts of `user`'s own messages in `room` that may have changed in the window: new
    /// messages, and those that a delivery or a read receipt recorded in the window changed.
    /// For a first picture of the room, those among its latest [`SYNC_MESSAGES`] events.
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
        // Which stretches of the log may hold a message whose counts changed, for whom.
        let mut spans = Vec::new();
        if w.new_deliveries {
            for d in store.delivery_changes(room, None, window).await? {
                if d.user_id != user {
                    spans.push((d.first, d.last));
                }
            }
        }
        for r in w.receipts.iter().filter(|r| counts_as_read(r) && r.user_id != user) {
            let before = store.read_receipt_as_of(room, &r.user_id, since).await?;
            let (read_to, at) = before.map_or((StreamPos::ZERO, StreamPos::ZERO), |p| (p.event_stream, p.stream));
            if r.event_stream > read_to {
                spans.push((read_to.next(), r.event_stream));
            }
            // Delivered after the receipt before: an older message its new receipt now reads.
            if read_to > StreamPos::ZERO {
                for d in store.delivery_changes(room, Some(&r.user_id), PosRange::new(at, w.upto)).await? {
                    if d.first <= read_to {
                        spans.push((d.first, d.last.min(read_to)));
                    }
                }
            }
        }
        let mut candidates: BTreeMap<StreamPos, StoredEvent> = BTreeMap::new();
        let new = match w.own_new {
            Some(events) => events.iter().filter(|e| e.stream > since && mine(e)).cloned().collect(),
            None => store.events_by_sender(room, user, window, SYNC_MESSAGES).await?,
        };
        candidates.extend(new.into_iter().filter(|e| mine(e)).map(|e| (e.stream, e)));
        for (lo, hi) in merge(spans) {
            let found =
                store.events_by_sender(room, user, PosRange::new(StreamPos(lo.0 - 1), hi), SYNC_MESSAGES).await?;
            candidates.extend(found.into_iter().filter(|e| mine(e)).map(|e| (e.stream, e)));
        }
        let own: Vec<StoredEvent> = candidates.into_values().rev().take(SYNC_MESSAGES).collect();
        self.counts(room, own, Some(since), w.upto).await
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
        let (memberships, facts) = load_facts(self.store.as_ref(), room, &messages, members, Reach::History).await?;
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
