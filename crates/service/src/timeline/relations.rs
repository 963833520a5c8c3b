//! Reading relationships between events: `GET /relations` (the children of a message the reader
//! may see) and the bundled aggregations served in `unsigned."m.relations"`.
//!
//! What is bundled follows the spec (v1.7 and later): for `m.replace` the whole latest valid edit
//! (the original's content is never replaced by the server: clients apply the edit); for
//! `m.reference` the ids of the referring events; for `m.thread` the latest event, the count and
//! whether the reader took part. Annotations (reactions) are not bundled: clients read them with
//! `/relations`. State events get no bundle, and a deleted (redacted) message gets no `m.replace`.
//!
//! **Invariant:** every child read here passes [`Visibility::can_see`] for the reader, as the
//! parent does: a child the reader may not see is neither served nor counted.

use std::collections::HashMap;

use ruma::{EventId, OwnedEventId, RoomId, UserId};
use wardline_store::{Direction, Relation, RelationFilter};
use wardline_types::relation::{self, rel_types};
use wardline_types::stream::PageToken;
use wardline_types::{StoredEvent, StreamPos, kinds};

use super::{TimelineService, end_token, page_range};
use crate::audit::Actor;
use crate::visibility::Visibility;
use crate::{ServiceError, ServiceResult};

/// What the server aggregates of an event's children, served as `unsigned."m.relations"`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregation {
    /// `m.replace`: the most recent valid edit (by `origin_server_ts`, then event id).
    pub replace: Option<StoredEvent>,
    /// `m.reference`: the events that refer to it, oldest first.
    pub references: Vec<OwnedEventId>,
    /// `m.thread`: the thread rooted at it.
    pub thread: Option<ThreadSummary>,
}

impl Aggregation {
    /// Nothing to bundle?
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.replace.is_none() && self.references.is_empty() && self.thread.is_none()
    }
}

/// The `m.thread` aggregation of a thread root.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadSummary {
    /// The most recent event in the thread.
    pub latest: StoredEvent,
    /// The latest event's own aggregation (its edits and references).
    pub latest_aggregation: Box<Aggregation>,
    /// How many events are in the thread.
    pub count: u64,
    /// Did the reader send the root or an event in the thread?
    pub current_user_participated: bool,
}

/// Aggregations by parent event id; events without children are absent.
pub type Bundles = HashMap<OwnedEventId, Aggregation>;

/// Relation types the server bundles (not `m.annotation`, as the spec says).
const BUNDLED: [&str; 3] = [rel_types::REPLACE, rel_types::REFERENCE, rel_types::THREAD];

/// Default and largest page of `/relations`.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

/// How deep `recurse=true` follows children of children (the spec asks for at least 3).
pub const RECURSION_DEPTH: u32 = 3;

/// Most child events scanned for one page, so a reader who may see few of them cannot make the
/// server read them all.
const MAX_SCAN: usize = 5_000;

/// Fewest children asked of the store at a time, however few are still wanted: a page of a
/// few visible children among many hidden ones takes a few reads, not one per child.
const MIN_BATCH: usize = 100;

/// What `/relations` asks for.
#[derive(Debug, Clone, Default)]
pub struct RelationsRequest {
    /// Start here (default: the end in the direction of travel).
    pub from: Option<PageToken>,
    /// Stop here.
    pub to: Option<PageToken>,
    /// Direction of travel (the spec's default is backwards, newest first).
    pub dir: Option<Direction>,
    /// Most events to return (default 20, at most 100).
    pub limit: Option<usize>,
    /// Only children with this `rel_type`.
    pub rel_type: Option<String>,
    /// Only children of this event type.
    pub event_type: Option<String>,
    /// Also children of children, [`RECURSION_DEPTH`] levels deep.
    pub recurse: bool,
}

/// A page of `/relations`.
#[derive(Debug, Clone)]
pub struct RelationsPage {
    /// Child events, in the direction asked for.
    pub chunk: Vec<StoredEvent>,
    /// Where the next page starts; `None` when there are no more.
    pub next_batch: Option<PageToken>,
    /// The `from` this page started at, if one was given.
    pub prev_batch: Option<PageToken>,
    /// With `recurse`: how deep the server looked.
    pub recursion_depth: Option<u32>,
    /// Aggregations of the chunk's events.
    pub bundles: Bundles,
}

/// Is this edit a valid replacement of `original` (the spec's "Validity of replacement events")?
fn valid_edit(original: &StoredEvent, edit: &StoredEvent) -> bool {
    edit.event.sender == original.event.sender
        && edit.event.kind == original.event.kind
        && !edit.is_state()
        && !original.is_state()
        && edit.redacted_because.is_none()
        && (edit.event.kind == kinds::ENCRYPTED
            || edit.event.content.get("m.new_content").is_some_and(|c| c.is_object()))
}

/// Is `e` itself an edit (whose own edits are not valid)?
fn is_edit(e: &StoredEvent) -> bool {
    relation::relation(&e.event.content).is_some_and(|r| r.rel_type == rel_types::REPLACE)
}

impl TimelineService {
    /// `GET /relations/{eventId}[/{relType}[/{eventType}]]`: the children of a message `by` may
    /// see, a page at a time. An unknown parent, one in another room and one the reader may not
    /// see are the same `404`. A read of clinical content, audited like `/messages`.
    pub async fn relations(
        &self,
        by: &Actor,
        room: &RoomId,
        parent: &EventId,
        req: RelationsRequest,
    ) -> ServiceResult<RelationsPage> {
        let user: &UserId = &by.user_id;
        if let Some(limiter) = &self.limiter {
            limiter.check(crate::ratelimit::LimitKind::Relations, user.as_str())?;
        }
        let (parent_event, vis) = self.visible_event_and_visibility(user, room, parent).await?;
        // A deleted message has no edits to show (its sender's went with it; anyone else's
        // never applied).
        let deleted = parent_event.redacted_because.is_some();
        let now = self.store.current_pos();
        let ceiling = vis.ended_at().unwrap_or(now).min(now);
        let dir = req.dir.unwrap_or(Direction::Backward);
        let limit = req.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let depth = if req.recurse { RECURSION_DEPTH } else { 1 };
        let filter = RelationFilter { rel_type: req.rel_type, event_type: req.event_type, depth };
        let (_, mut range) = page_range(req.from, req.to, dir, now, ceiling);
        let mut chunk = Vec::new();
        let mut scanned = 0;
        let mut exhausted = false;
        while chunk.len() < limit && scanned < MAX_SCAN {
            if range.is_empty() {
                exhausted = true;
                break;
            }
            // At least MIN_BATCH at a time: few children visible means few round trips.
            let want = (limit - chunk.len()).max(MIN_BATCH);
            let batch = self.store.relating_events(room, parent, filter.clone(), range, dir, want).await?;
            let full = batch.len() >= want;
            let mut stopped_early = false;
            for e in batch {
                if chunk.len() >= limit {
                    stopped_early = true;
                    break;
                }
                scanned += 1;
                // The page continues after the last event looked at, shown or not.
                match dir {
                    Direction::Backward => range.upto = StreamPos(e.stream.0 - 1),
                    Direction::Forward => range.after = e.stream,
                }
                if vis.can_see(e.stream) && !(deleted && edits(&e, parent)) {
                    chunk.push(e);
                }
            }
            if !full && !stopped_early {
                exhausted = true;
                break;
            }
        }
        let next_batch = if exhausted && chunk.len() < limit { None } else { Some(end_token(range, dir)) };
        let bundles = self.bundles(user, &chunk, &vis, now).await?;
        // One record per event shown: the chunk skips hidden children and can jump across a
        // thread, so a first..last range would name events never shown.
        for e in &chunk {
            self.audit_read(by, room, std::slice::from_ref(e), "relations")?;
        }
        Ok(RelationsPage {
            chunk,
            next_batch,
            prev_batch: req.from,
            recursion_depth: req.recurse.then_some(depth),
            bundles,
        })
    }

    /// The bundled aggregations of `events` for `user`, counting only children at positions up
    /// to `upto` that `vis` lets the user see.
    pub async fn bundles(
        &self,
        user: &UserId,
        events: &[StoredEvent],
        vis: &Visibility,
        upto: StreamPos,
    ) -> ServiceResult<Bundles> {
        let mut bundles = self.aggregate(user, events, vis, upto).await?;
        // A thread's latest event carries its own aggregation (its edits), one level deep.
        let latest: Vec<StoredEvent> =
            bundles.values().filter_map(|a| a.thread.as_ref().map(|t| t.latest.clone())).collect();
        if latest.is_empty() {
            return Ok(bundles);
        }
        let mut inner = self.aggregate(user, &latest, vis, upto).await?;
        for agg in bundles.values_mut() {
            if let Some(thread) = &mut agg.thread
                && let Some(mut nested) = inner.remove(&thread.latest.event.event_id)
            {
                nested.thread = None;
                *thread.latest_aggregation = nested;
            }
        }
        Ok(bundles)
    }

    /// One level of aggregation: each event's edits, references and thread.
    async fn aggregate(
        &self,
        user: &UserId,
        events: &[StoredEvent],
        vis: &Visibility,
        upto: StreamPos,
    ) -> ServiceResult<Bundles> {
        // State events receive no bundled aggregations (the spec's warning).
        let parents: Vec<&StoredEvent> = events.iter().filter(|e| !e.is_state()).collect();
        if parents.is_empty() {
            return Ok(Bundles::new());
        }
        let ids: Vec<OwnedEventId> = parents.iter().map(|e| e.event.event_id.clone()).collect();
        let rows = self.store.relations_to(&ids, &BUNDLED, upto).await?;
        let mut children: HashMap<&EventId, Vec<&Relation>> = HashMap::new();
        for r in rows.iter().filter(|r| vis.can_see(r.stream)) {
            let parent: &EventId = &r.parent_id;
            children.entry(parent).or_default().push(r);
        }
        if children.is_empty() {
            return Ok(Bundles::new());
        }
        // Fetch, in one read, every candidate edit (newest first per parent) and the latest
        // event of each thread.
        let mut edits: HashMap<&EventId, Vec<&Relation>> = HashMap::new();
        let mut wanted: Vec<OwnedEventId> = Vec::new();
        for p in &parents {
            let id: &EventId = &p.event.event_id;
            let Some(rels) = children.get(id) else { continue };
            if p.redacted_because.is_none() && !is_edit(p) {
                let mut candidates: Vec<&Relation> = rels
                    .iter()
                    .copied()
                    .filter(|r| {
                        r.rel_type == rel_types::REPLACE && r.sender == p.event.sender && r.kind == p.event.kind
                    })
                    .collect();
                candidates.sort_by(|a, b| (b.origin_server_ts, &b.event_id).cmp(&(a.origin_server_ts, &a.event_id)));
                wanted.extend(candidates.iter().map(|r| r.event_id.clone()));
                edits.insert(id, candidates);
            }
            if let Some(latest) = rels.iter().filter(|r| r.rel_type == rel_types::THREAD).max_by_key(|r| r.stream) {
                wanted.push(latest.event_id.clone());
            }
        }
        let fetched: HashMap<OwnedEventId, StoredEvent> =
            self.store.events_by_id(&wanted).await?.into_iter().map(|e| (e.event.event_id.clone(), e)).collect();
        let mut out = Bundles::new();
        for p in parents {
            let id: &EventId = &p.event.event_id;
            let Some(rels) = children.get(id) else { continue };
            let replace = edits
                .get(id)
                .into_iter()
                .flatten()
                .filter_map(|r| fetched.get(&r.event_id))
                .find(|edit| valid_edit(p, edit))
                .cloned();
            let references =
                rels.iter().filter(|r| r.rel_type == rel_types::REFERENCE).map(|r| r.event_id.clone()).collect();
            let in_thread: Vec<&&Relation> = rels.iter().filter(|r| r.rel_type == rel_types::THREAD).collect();
            let thread =
                in_thread.iter().max_by_key(|r| r.stream).and_then(|latest| fetched.get(&latest.event_id)).map(
                    |latest| ThreadSummary {
                        latest: latest.clone(),
                        latest_aggregation: Box::default(),
                        count: in_thread.len() as u64,
                        current_user_participated: p.event.sender == user || in_thread.iter().any(|r| r.sender == user),
                    },
                );
            let agg = Aggregation { replace, references, thread };
            if !agg.is_empty() {
                out.insert(p.event.event_id.clone(), agg);
            }
        }
        Ok(out)
    }

    /// An event of `room` the user may see, with what decides their visibility; the same
    /// `404` for an unknown event, one in another room and one they may not see.
    pub(super) async fn visible_event_and_visibility(
        &self,
        user: &UserId,
        room: &RoomId,
        event_id: &EventId,
    ) -> ServiceResult<(StoredEvent, Visibility)> {
        let not_found = || ServiceError::not_found("event not found");
        let event = self.store.event(event_id).await?.ok_or_else(not_found)?;
        if event.event.room_id != room {
            return Err(not_found());
        }
        let vis = self.visibility(user, room).await?;
        if !vis.can_see(event.stream) {
            return Err(not_found());
        }
        Ok((event, vis))
    }
}

/// Is `e` an edit (`m.replace`, of any event type, encrypted ones too) of `parent`?
fn edits(e: &StoredEvent, parent: &EventId) -> bool {
    relation::relation(&e.event.content).is_some_and(|r| r.rel_type == rel_types::REPLACE && r.event_id == parent)
}
