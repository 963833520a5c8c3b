//! `GET /rooms/{roomId}/threads`: the threads of a conversation a member may see, most recently
//! active first, each root with its thread summary bundled.
//!
//! **Invariant:** a thread is listed, and ordered, by what the reader may see: its root must be
//! visible to them, and only thread events they may see count for its place in the list and
//! its summary (so the list never reveals activity after a reader left).

use ruma::RoomId;
use wardline_store::ThreadQuery;
use wardline_types::{StoredEvent, StreamPos};

use super::{Bundles, TimelineService};
use crate::audit::Actor;
use crate::{ServiceError, ServiceResult};

/// Default and largest page of threads.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

/// Which threads the reader asks for (the spec's `include`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThreadsInclude {
    /// Every thread of the conversation.
    #[default]
    All,
    /// Only threads the reader started or wrote in.
    Participated,
}

/// A page of threads.
#[derive(Debug, Clone)]
pub struct ThreadsPage {
    /// Thread roots, most recently active first.
    pub chunk: Vec<StoredEvent>,
    /// Their aggregations (each root's `m.thread` summary).
    pub bundles: Bundles,
    /// Where the next page starts; `None` when there are no more.
    pub next_batch: Option<ThreadsToken>,
}

/// Where a page of threads starts: below the latest event of the last thread listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadsToken(pub StreamPos);

impl std::fmt::Display for ThreadsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "th{}", self.0.0)
    }
}

impl std::str::FromStr for ThreadsToken {
    type Err = ServiceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix("th")
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n > 0)
            .map(|n| Self(StreamPos(n)))
            .ok_or_else(|| ServiceError::invalid("invalid pagination token"))
    }
}

impl TimelineService {
    /// The threads of `room` the reader may see, a page at a time. Not a member, ever: `403`.
    /// A read of clinical content (each root shown), audited like `/messages`.
    pub async fn threads(
        &self,
        by: &Actor,
        room: &RoomId,
        include: ThreadsInclude,
        from: Option<ThreadsToken>,
        limit: Option<usize>,
    ) -> ServiceResult<ThreadsPage> {
        if let Some(limiter) = &self.limiter {
            limiter.check(crate::ratelimit::LimitKind::Relations, by.user_id.as_str())?;
        }
        let vis = self.visibility_of_member(&by.user_id, room).await?;
        let now = self.store.current_pos();
        let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let query = ThreadQuery {
            ranges: vis.visible_ranges(now),
            participant: (include == ThreadsInclude::Participated).then(|| by.user_id.clone()),
            before: from.map(|t| t.0),
            // One more than asked for, to know whether another page follows.
            limit: limit + 1,
        };
        let mut listed = self.store.thread_roots(room, query).await?;
        let more = listed.len() > limit;
        listed.truncate(limit);
        let next_batch = if more { listed.last().map(|t| ThreadsToken(t.latest)) } else { None };
        let ids: Vec<_> = listed.iter().map(|t| t.root.clone()).collect();
        let mut roots = self.store.events_by_id(&ids).await?;
        // In the list's order (most recently active first), not the store's.
        roots.sort_by_key(|e| ids.iter().position(|id| *id == e.event.event_id));
        let bundles = self.bundles(&by.user_id, &roots, &vis, now).await?;
        for root in &roots {
            self.audit_read(by, room, std::slice::from_ref(root), "threads")?;
        }
        Ok(ThreadsPage { chunk: roots, bundles, next_batch })
    }
}
