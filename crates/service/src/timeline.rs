//! Reading a room's history: `/messages`, `/event`, `/context`, each limited to what the
//! reader may see.

use std::sync::Arc;

use ruma::api::client::filter::RoomEventFilter;
use ruma::{EventId, RoomId, UserId};
use wardline_store::{Direction, PosRange, Store};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::stream::PageToken;
use wardline_types::{StoredEvent, StreamPos, kinds};

use crate::audit::{Actor, AuditService};
use crate::filter::{event_passes, validate_room_event_filter};
use crate::visibility::Visibility;
use crate::{ServiceError, ServiceResult};

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
}

impl std::fmt::Debug for TimelineService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelineService").finish_non_exhaustive()
    }
}

/// Most events scanned for one page, so a reader who may see little cannot make the server
/// read the whole room.
const MAX_SCAN: usize = 5_000;

impl TimelineService {
    /// A timeline reader over `store`.
    pub fn new(store: Arc<dyn Store>, audit: AuditService) -> Self {
        Self { store, audit }
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
        let page = self.page(&by.user_id, room, req).await?;
        self.audit_read(by, room, &page.chunk, "messages")?;
        Ok(page)
    }

    async fn page(&self, user: &UserId, room: &RoomId, req: PageRequest<'_>) -> ServiceResult<Page> {
        let PageRequest { from, to, dir, limit, filter } = req;
        let vis = self.visibility_of_member(user, room).await?;
        let now = self.store.current_pos();
        // The newest position the reader may ever see.
        let ceiling = vis.ended_at().unwrap_or(now).min(now);
        let limit = limit.clamp(1, 1000);
        let start = from.unwrap_or(match dir {
            Direction::Backward => PageToken(now.next()),
            Direction::Forward => PageToken(StreamPos(1)),
        });
        // Token t{n} is the boundary before position n.
        let mut range = match dir {
            Direction::Backward => {
                PosRange::new(StreamPos(to.map_or(0, |t| t.0.0 - 1).max(0)), StreamPos(start.0.0 - 1).min(ceiling))
            }
            Direction::Forward => {
                PosRange::new(StreamPos(start.0.0 - 1), to.map_or(ceiling, |t| StreamPos(t.0.0 - 1).min(ceiling)))
            }
        };
        let mut chunk = Vec::new();
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
            chunk.extend(batch.into_iter().filter(|e| vis.can_see(e.stream) && event_passes(filter, e)));
            if exhausted {
                break;
            }
        }
        let end = if exhausted && chunk.len() < limit {
            None
        } else {
            Some(match dir {
                Direction::Backward => PageToken(StreamPos(range.upto.0 + 1)),
                Direction::Forward => PageToken(range.after.next()),
            })
        };
        let state = if !filter.lazy_load_options.is_disabled() {
            self.member_events_for(room, &chunk).await?
        } else {
            Vec::new()
        };
        Ok(Page { chunk, end, start, state })
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

    /// One event, if `by` may see it: a read of clinical content, audited.
    pub async fn event(&self, by: &Actor, room: &RoomId, event_id: &EventId) -> ServiceResult<StoredEvent> {
        let e = self.visible_event(&by.user_id, room, event_id).await?;
        self.audit_read(by, room, std::slice::from_ref(&e), "event")?;
        Ok(e)
    }

    /// One event, if the user may see it (for checks; not a read by the user).
    pub async fn visible_event(&self, user: &UserId, room: &RoomId, event_id: &EventId) -> ServiceResult<StoredEvent> {
        let not_found = || ServiceError::not_found("event not found");
        let event = self.store.event(event_id).await?.ok_or_else(not_found)?;
        if event.event.room_id != room {
            return Err(not_found());
        }
        let vis = self.visibility(user, room).await?;
        if !vis.can_see(event.stream) {
            return Err(not_found());
        }
        Ok(event)
    }

    /// `/context`: an event with `limit` events around it, audited.
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
        let c = self.context_around(&by.user_id, room, event_id, half, limit.min(100) - half, filter).await?;
        self.audit_read(by, room, &c.shown(), "context")?;
        Ok(c)
    }

    /// An event the user may see with up to `before` visible events before it and `after`
    /// after it (at most 100 each), and the room's state at it: the code of `/context`, also
    /// used around search results. Not audited: the caller audits what it shows.
    pub async fn context_around(
        &self,
        user: &UserId,
        room: &RoomId,
        event_id: &EventId,
        before: usize,
        after: usize,
        filter: &RoomEventFilter,
    ) -> ServiceResult<Context> {
        let (before, after) = (before.min(100), after.min(100));
        let event = self.visible_event(user, room, event_id).await?;
        let page = |from: StreamPos, dir: Direction, limit: usize| PageRequest {
            from: Some(PageToken(from)),
            to: None,
            dir,
            limit: limit.max(1),
            filter,
        };
        let mut before_chunk = if before > 0 {
            self.page(user, room, page(event.stream, Direction::Backward, before)).await?.chunk
        } else {
            Vec::new()
        };
        before_chunk.truncate(before);
        let mut after_chunk = if after > 0 {
            self.page(user, room, page(event.stream.next(), Direction::Forward, after)).await?.chunk
        } else {
            Vec::new()
        };
        after_chunk.truncate(after);
        let start = before_chunk.last().map_or(PageToken(event.stream), |e| PageToken(e.stream));
        let end = after_chunk.last().map_or(PageToken(event.stream.next()), |e| PageToken(e.stream.next()));
        let state = self.store.state_at(room, event.stream).await?;
        Ok(Context { event, before: before_chunk, after: after_chunk, start, end, state })
    }
}
