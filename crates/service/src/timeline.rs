//! Reading a room's history: `/messages`, `/event`, `/context` (and, in `relations.rs`,
//! `/relations` and bundled aggregations), each limited to what the reader may see.

mod relations;
mod threads;

use std::collections::HashSet;
use std::sync::Arc;

use ruma::api::client::filter::RoomEventFilter;
use ruma::{EventId, RoomId, UserId};
use wardline_store::{Direction, PosRange, Store};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::stream::PageToken;
use wardline_types::{StoredEvent, StreamPos, kinds};

use crate::audit::{Actor, AuditService};
use crate::filter::{event_passes, validate_room_event_filter};
use crate::messaging::{Carried, Deliveries, runs};
use crate::visibility::Visibility;
use crate::{ServiceError, ServiceResult};

pub use relations::{Aggregation, Bundles, RECURSION_DEPTH, RelationsPage, RelationsRequest, ThreadSummary};
pub use threads::{ThreadsInclude, ThreadsPage, ThreadsToken};

/// A page of `/messages`.
#[derive(Debug, Clone)]
pub struct Page {
    /// Events, in the direction asked for.
    pub chunk: Vec<StoredEvent>,
    /// The token to continue from, or `None` at the end of what the reader may see.
    pub end: Option<PageToken>,
    /// The token the page started at.
    pub start: PageToken,
    /// Member events of the chunk's senders (lazy loading).
    pub state: Vec<StoredEvent>,
    /// Every event of the room the page looked at, in the order read, with whether it is in
    /// the chunk (for [`crate::messaging::runs`]).
    scanned: Vec<(StreamPos, bool)>,
    /// Aggregations of the chunk's events (`unsigned."m.relations"`).
    pub bundles: Bundles,
}

/// What `/messages` asks for.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    /// Start here (default: the end in the direction of travel).
    pub from: Option<PageToken>,
    /// Stop here.
    pub to: Option<PageToken>,
    /// Direction of travel.
    pub dir: Direction,
    /// Most events to return.
    pub limit: usize,
    /// Which events.
    pub filter: &'a RoomEventFilter,
}

/// An event with what surrounds it.
#[derive(Debug, Clone)]
pub struct Context {
    /// The event.
    pub event: StoredEvent,
    /// Visible events before it, nearest first.
    pub before: Vec<StoredEvent>,
    /// Visible events after it, nearest first.
    pub after: Vec<StoredEvent>,
    /// Token to paginate backwards from the earliest of `before`.
    pub start: PageToken,
    /// Token to paginate forwards from the latest of `after`.
    pub end: PageToken,
    /// Room state at the event.
    pub state: Vec<StoredEvent>,
    /// Aggregations of the event and those around it.
    pub bundles: Bundles,
}

impl Context {
    /// The events shown, in the room's order: those before, the event, those after.
    #[must_use]
    pub fn shown(&self) -> Vec<StoredEvent> {
        let mut shown: Vec<StoredEvent> = self.before.iter().rev().cloned().collect();
        shown.push(self.event.clone());
        shown.extend(self.after.iter().cloned());
        shown
    }
}

/// Reads room history on behalf of users.
#[derive(Clone)]
pub struct TimelineService {
    store: Arc<dyn Store>,
    audit: AuditService,
    deliveries: Deliveries,
    /// Per-user limits on costly reads (`/relations`), when set.
    limiter: Option<crate::ratelimit::RateLimiter>,
}

impl std::fmt::Debug for TimelineService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelineService").finish_non_exhaustive()
    }
}

/// Most events scanned for one page, so a reader who may see little cannot make the server
/// read the whole room.
const MAX_SCAN: usize = 5_000;

/// Where a page starts and the positions it may read: from `from` (default: the end in the
/// direction of travel) towards `to`, never past `ceiling`. Token `t{n}` is the boundary before
/// position `n`.
pub(crate) fn page_range(
    from: Option<PageToken>,
    to: Option<PageToken>,
    dir: Direction,
    now: StreamPos,
    ceiling: StreamPos,
) -> (PageToken, PosRange) {
    let start = from.unwrap_or(match dir {
        Direction::Backward => PageToken(now.next()),
        Direction::Forward => PageToken(StreamPos(1)),
    });
    let range = match dir {
        Direction::Backward => {
            PosRange::new(StreamPos(to.map_or(0, |t| t.0.0 - 1).max(0)), StreamPos(start.0.0 - 1).min(ceiling))
        }
        Direction::Forward => {
            PosRange::new(StreamPos(start.0.0 - 1), to.map_or(ceiling, |t| StreamPos(t.0.0 - 1).min(ceiling)))
        }
    };
    (start, range)
}

/// The token that continues a page whose unread remainder is `range`.
pub(crate) fn end_token(range: PosRange, dir: Direction) -> PageToken {
    match dir {
        Direction::Backward => PageToken(StreamPos(range.upto.0 + 1)),
        Direction::Forward => PageToken(range.after.next()),
    }
}

impl TimelineService {
    /// A timeline reader over `store`; what it shows a device is recorded as delivered there.
    pub fn new(store: Arc<dyn Store>, audit: AuditService, deliveries: Deliveries) -> Self {
        Self { store, audit, deliveries, limiter: None }
    }

    /// The same reader, with per-user limits on its costly reads.
    #[must_use]
    pub fn with_limiter(mut self, limiter: crate::ratelimit::RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Records that `by` was shown these events of `room`.
    pub fn audit_read(&self, by: &Actor, room: &RoomId, events: &[StoredEvent], via: &str) -> ServiceResult<()> {
        let (Some(first), Some(last)) = (events.first(), events.last()) else { return Ok(()) };
        let mut r = self.audit.entry(Some(by), AuditAction::RoomRead, Outcome::Success);
        r.room_id = Some(room.to_string());
        r.event_id = Some(if events.len() == 1 {
            first.event.event_id.to_string()
        } else {
            format!("{}..{}", first.event.event_id, last.event.event_id)
        });
        r.detail = Some(format!("via={via} count={}", events.len()));
        self.audit.record(r)
    }

    /// What `user` may see in `room`.
    pub async fn visibility(&self, user: &UserId, room: &RoomId) -> ServiceResult<Visibility> {
        let memberships =
            self.store.membership_history(user, room).await?.into_iter().map(|m| (m.stream, m.membership)).collect();
        let history = self.store.state_history(room, kinds::HISTORY_VISIBILITY).await?;
        Ok(Visibility::new(memberships, &history))
    }

    async fn visibility_of_member(&self, user: &UserId, room: &RoomId) -> ServiceResult<Visibility> {
        let v = self.visibility(user, room).await?;
        if !v.ever_member() {
            return Err(ServiceError::forbidden("you are not a member of this room"));
        }
        Ok(v)
    }

    /// `/messages`: up to `limit` visible events from `from` in `dir`, stopping at `to`.
    pub async fn messages(&self, by: &Actor, room: &RoomId, req: PageRequest<'_>) -> ServiceResult<Page> {
        validate_room_event_filter(req.filter)?;
        let vis = self.visibility_of_member(&by.user_id, room).await?;
        let mut page = self.page(&vis, room, req).await?;
        page.bundles = self.bundles(&by.user_id, &page.chunk, &vis, self.store.current_pos()).await?;
        self.audit_read(by, room, &page.chunk, "messages")?;
        let carried = Carried::new(room.to_owned(), runs(page.scanned.clone()), &page.chunk);
        self.deliveries.record(&by.user_id, by.device_id.as_deref(), vec![carried]);
        Ok(page)
    }

    async fn page(&self, vis: &Visibility, room: &RoomId, req: PageRequest<'_>) -> ServiceResult<Page> {
        let PageRequest { from, to, dir, limit, filter } = req;
        let now = self.store.current_pos();
        // The newest position the reader may ever see.
        let ceiling = vis.ended_at().unwrap_or(now).min(now);
        let limit = limit.clamp(1, 1000);
        let (start, mut range) = page_range(from, to, dir, now, ceiling);
        let mut chunk = Vec::new();
        let mut seen = Vec::new();
        let mut scanned = 0;
        let mut exhausted = false;
        while chunk.len() < limit && scanned < MAX_SCAN {
            if range.is_empty() {
                exhausted = true;
                break;
            }
            let want = limit - chunk.len();
            let batch = self.store.room_events(room, range, dir, want).await?;
            scanned += batch.len();
            if batch.len() < want {
                exhausted = true;
            }
            let Some(last) = batch.last().map(|e| e.stream) else {
                exhausted = true;
                break;
            };
            match dir {
                Direction::Backward => range.upto = StreamPos(last.0 - 1),
                Direction::Forward => range.after = last,
            }
            for e in batch {
                let shown = vis.can_see(e.stream) && event_passes(filter, &e);
                seen.push((e.stream, shown));
                if shown {
                    chunk.push(e);
                }
            }
            if exhausted {
                break;
            }
        }
        let end = if exhausted && chunk.len() < limit { None } else { Some(end_token(range, dir)) };
        let state = if !filter.lazy_load_options.is_disabled() {
            self.member_events_for(room, &chunk).await?
        } else {
            Vec::new()
        };
        Ok(Page { chunk, end, start, state, scanned: seen, bundles: Bundles::new() })
    }

    /// The room state the user may read: the current state while they are in the room, the
    /// state when they left if they left.
    pub async fn readable_state(&self, user: &UserId, room: &RoomId) -> ServiceResult<Vec<StoredEvent>> {
        let vis = self.visibility_of_member(user, room).await?;
        let at = match (vis.latest(), vis.ended_at()) {
            (Some(wardline_types::Membership::Join), _) => self.store.current_pos(),
            // Someone who only ever had an invite sees the invite's stripped state, not this.
            (_, Some(left_at)) if vis.ever_joined() => left_at,
            _ => return Err(ServiceError::forbidden("you are not a member of this room")),
        };
        Ok(self.store.state_at(room, at).await?)
    }

    /// Current member events of the senders of `events`.
    async fn member_events_for(&self, room: &RoomId, events: &[StoredEvent]) -> ServiceResult<Vec<StoredEvent>> {
        let state = self.store.state_at(room, self.store.current_pos()).await?;
        Ok(state
            .into_iter()
            .filter(|s| {
                s.event.kind == kinds::MEMBER
                    && events.iter().any(|e| Some(e.event.sender.as_str()) == s.event.state_key.as_deref())
            })
            .collect())
    }

    /// One event, if `by` may see it, with its aggregation: a read of clinical content, audited.
    pub async fn event(&self, by: &Actor, room: &RoomId, event_id: &EventId) -> ServiceResult<(StoredEvent, Bundles)> {
        let (e, vis) = self.visible_event_and_visibility(&by.user_id, room, event_id).await?;
        let bundles = self.bundles(&by.user_id, std::slice::from_ref(&e), &vis, self.store.current_pos()).await?;
        self.audit_read(by, room, std::slice::from_ref(&e), "event")?;
        let carried = Carried::new(room.to_owned(), vec![(e.stream, e.stream)], std::slice::from_ref(&e));
        self.deliveries.record(&by.user_id, by.device_id.as_deref(), vec![carried]);
        Ok((e, bundles))
    }

    /// One event, if the user may see it (for checks; not a read by the user).
    pub async fn visible_event(&self, user: &UserId, room: &RoomId, event_id: &EventId) -> ServiceResult<StoredEvent> {
        Ok(self.visible_event_and_visibility(user, room, event_id).await?.0)
    }

    /// `/context`: an event with `limit` events around it; audited, and recorded as delivered
    /// to the caller's device.
    pub async fn context(
        &self,
        by: &Actor,
        room: &RoomId,
        event_id: &EventId,
        limit: usize,
        filter: &RoomEventFilter,
    ) -> ServiceResult<Context> {
        validate_room_event_filter(filter)?;
        let half = limit.min(100) / 2;
        let (c, scanned) = self.around(&by.user_id, room, event_id, half, limit.min(100) - half, filter).await?;
        let shown = c.shown();
        self.audit_read(by, room, &shown, "context")?;
        // The pages read outwards from the event, so together with it they are one stretch of
        // the log: what the truncated chunks left out was not carried.
        let carried: HashSet<StreamPos> = shown.iter().map(|e| e.stream).collect();
        let seen = scanned.iter().map(|(p, _)| (*p, carried.contains(p)));
        let seen = seen.chain([(c.event.stream, true)]).collect();
        self.deliveries.record(
            &by.user_id,
            by.device_id.as_deref(),
            vec![Carried::new(room.to_owned(), runs(seen), &shown)],
        );
        Ok(c)
    }

    /// An event the user may see with up to `before` visible events before it and `after`
    /// after it (at most 100 each), their aggregations and the room's state at the event: the
    /// code of `/context`, also used around search results. Neither audited nor recorded as
    /// delivered: the caller records what it shows.
    pub async fn context_around(
        &self,
        user: &UserId,
        room: &RoomId,
        event_id: &EventId,
        before: usize,
        after: usize,
        filter: &RoomEventFilter,
    ) -> ServiceResult<Context> {
        Ok(self.around(user, room, event_id, before, after, filter).await?.0)
    }

    /// [`TimelineService::context_around`], with every position the two pages looked at.
    async fn around(
        &self,
        user: &UserId,
        room: &RoomId,
        event_id: &EventId,
        before: usize,
        after: usize,
        filter: &RoomEventFilter,
    ) -> ServiceResult<(Context, Vec<(StreamPos, bool)>)> {
        let (before, after) = (before.min(100), after.min(100));
        let (event, vis) = self.visible_event_and_visibility(user, room, event_id).await?;
        let request = |from: StreamPos, dir: Direction, limit: usize| PageRequest {
            from: Some(PageToken(from)),
            to: None,
            dir,
            limit: limit.max(1),
            filter,
        };
        let before_page = self.page(&vis, room, request(event.stream, Direction::Backward, before)).await?;
        let after_page = self.page(&vis, room, request(event.stream.next(), Direction::Forward, after)).await?;
        let mut before_chunk = before_page.chunk;
        before_chunk.truncate(before);
        let mut after_chunk = after_page.chunk;
        after_chunk.truncate(after);
        let start = before_chunk.last().map_or(PageToken(event.stream), |e| PageToken(e.stream));
        let end = after_chunk.last().map_or(PageToken(event.stream.next()), |e| PageToken(e.stream.next()));
        let state = self.store.state_at(room, event.stream).await?;
        let mut c =
            Context { event, before: before_chunk, after: after_chunk, start, end, state, bundles: Bundles::new() };
        c.bundles = self.bundles(user, &c.shown(), &vis, self.store.current_pos()).await?;
        let scanned = before_page.scanned.into_iter().chain(after_page.scanned).collect();
        Ok((c, scanned))
    }
}
