//! Message search (`POST /search`): the words of messages, room names and topics in the
//! searcher's rooms, limited to what they may read.
//!
//! **Invariant:** a search looks only where the searcher may read. It searches the rooms they
//! are joined to (and rooms the filter names that they were ever in, such as a ward they
//! left), and within each only the positions [`Visibility::visible_ranges`] allows, which is
//! derived from [`Visibility::can_see`], the one rule for reading history. The store never
//! looks outside those ranges, so results, highlights and `count` never reveal an event the
//! searcher cannot read; each result is checked against `can_see` once more before it is shown.
//!
//! Every search is audited as an access to clinical content: one `room.search` record (who,
//! from where, how many results; the total count only when this request computed it, never
//! one read back from the client's `next_batch`) and a `room.read` record (`via=search`) for
//! each event it showed, results and context alike.
//!
//! A search that runs past the store's time budget ends with `400 M_INVALID_PARAM` asking for
//! a narrower search ([`TOO_COSTLY`]); a second search by a user whose first is still running
//! is `429 M_LIMIT_EXCEEDED`.

mod cursor;
mod terms;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use ruma::api::client::filter::RoomEventFilter;
use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
use wardline_store::{SearchOrder, SearchQuery, SearchScope, Store, StoreError};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::search::SearchKey;
use wardline_types::stream::PageToken;
use wardline_types::{Membership, StoredEvent, StreamPos, kinds};

use cursor::Cursor;
pub use cursor::Order;
pub use terms::{MAX_TERM_BYTES, MAX_WORDS, MIN_PREFIX_CHARS, Terms};

use crate::audit::{Actor, AuditService};
use crate::filter::{room_kind_passes, validate_room_event_filter};
use crate::ratelimit::{LimitKind, RateLimiter};
use crate::timeline::{Bundles, TimelineService};
use crate::visibility::Visibility;
use crate::{ServiceError, ServiceResult};

/// What a searcher is told when their search ran past the store's time budget: a
/// `400 M_INVALID_PARAM`, not `429`, so clients do not retry the same search unchanged.
pub const TOO_COSTLY: &str = "this search reads too much of the history to finish in time: add words, use a longer last word, or search fewer rooms";

/// Results per page when the filter sets no `limit`.
pub const DEFAULT_LIMIT: usize = 10;

/// Most results per page.
pub const MAX_LIMIT: usize = 100;

/// How long a user whose previous search is still running is told to wait before the next.
/// (The store runs few searches at once and gives each a time budget; a user runs one at a
/// time, so one user cannot fill the store's turns.)
pub const BUSY_RETRY_MS: u64 = 1_000;

/// What to show around each result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextRequest {
    /// Events before each result.
    pub before: usize,
    /// Events after each result.
    pub after: usize,
    /// Whether to include the senders' display names and avatars at the time.
    pub include_profile: bool,
}

/// How to group results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// By room.
    Room,
    /// By sender.
    Sender,
}

/// A search.
#[derive(Debug, Clone)]
pub struct SearchRequest<'a> {
    /// What the searcher typed.
    pub term: &'a str,
    /// Where to look (`None`: every key).
    pub keys: Option<Vec<SearchKey>>,
    /// Rooms, senders, types and page size.
    pub filter: &'a RoomEventFilter,
    /// The order of results.
    pub order: Order,
    /// Where to continue (a `next_batch` from an earlier page).
    pub next_batch: Option<&'a str>,
    /// Events around each result, if wanted.
    pub context: Option<ContextRequest>,
    /// Whether to include the state of each room with results.
    pub include_state: bool,
    /// Groupings asked for.
    pub group_by: Vec<GroupBy>,
}

/// A sender's name and avatar when an event was sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// Display name.
    pub displayname: Option<String>,
    /// Avatar.
    pub avatar_url: Option<String>,
}

/// The events around a result.
#[derive(Debug, Clone)]
pub struct FoundContext {
    /// Events before it, nearest first.
    pub before: Vec<StoredEvent>,
    /// Events after it, nearest first.
    pub after: Vec<StoredEvent>,
    /// Token to paginate backwards from the earliest of `before`.
    pub start: PageToken,
    /// Token to paginate forwards from the latest of `after`.
    pub end: PageToken,
    /// Senders' profiles at the result, if asked for.
    pub profiles: BTreeMap<OwnedUserId, Profile>,
    /// Aggregations (edits, references, threads) of the events around the result.
    pub bundles: Bundles,
}

/// One result.
#[derive(Debug, Clone)]
pub struct Found {
    /// The event (for an edited message, the original).
    pub event: StoredEvent,
    /// Higher is a closer match.
    pub rank: f64,
    /// Where the text it was found by was written (its latest edit's position, if edited).
    pub text_pos: StreamPos,
    /// What surrounds it, if asked for.
    pub context: Option<FoundContext>,
}

/// One group of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The room id or sender.
    pub key: String,
    /// The group's place among the groups (the order of their first results).
    pub order: usize,
    /// The group's results on this page.
    pub results: Vec<OwnedEventId>,
    /// Where the group's results continue, if more may follow.
    pub next_batch: Option<String>,
}

/// A page of results.
#[derive(Debug, Clone, Default)]
pub struct SearchOutcome {
    /// Results, in the order asked for.
    pub results: Vec<Found>,
    /// How many results the whole search has.
    pub count: u64,
    /// The words of the results that matched, to highlight.
    pub highlights: Vec<String>,
    /// Where the results continue, if more follow.
    pub next_batch: Option<String>,
    /// The state of each room with results (if asked for).
    pub state: BTreeMap<OwnedRoomId, Vec<StoredEvent>>,
    /// Groupings asked for.
    pub groups: Vec<(GroupBy, Vec<Group>)>,
    /// Aggregations of the results (so a client shows an edited message as edited).
    pub bundles: Bundles,
}

/// Searches on behalf of users.
#[derive(Clone)]
pub struct SearchService {
    store: Arc<dyn Store>,
    timeline: TimelineService,
    audit: AuditService,
    limiter: RateLimiter,
    /// Users with a search running.
    running: Arc<std::sync::Mutex<HashSet<OwnedUserId>>>,
}

/// A user's running search: they may start another once it is dropped.
struct Running {
    users: Arc<std::sync::Mutex<HashSet<OwnedUserId>>>,
    user: OwnedUserId,
}

impl Running {
    /// The user's turn, or `M_LIMIT_EXCEEDED` if a search of theirs is still running.
    fn start(users: &Arc<std::sync::Mutex<HashSet<OwnedUserId>>>, user: &UserId) -> ServiceResult<Self> {
        let mut set = users.lock().map_err(|_| ServiceError::Internal("search users poisoned".into()))?;
        if !set.insert(user.to_owned()) {
            return Err(ServiceError::RateLimited { retry_after_ms: BUSY_RETRY_MS });
        }
        Ok(Self { users: Arc::clone(users), user: user.to_owned() })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut set) = self.users.lock() {
            set.remove(&self.user);
        }
    }
}

impl std::fmt::Debug for SearchService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchService").finish_non_exhaustive()
    }
}

/// Where a search looks, room by room, with what the searcher may see there.
struct Scopes {
    scopes: Vec<SearchScope>,
    visibility: HashMap<OwnedRoomId, Visibility>,
}

impl SearchService {
    /// A search service.
    #[must_use]
    pub fn new(core: &crate::core::Core, timeline: TimelineService) -> Self {
        Self {
            store: Arc::clone(&core.store),
            timeline,
            audit: core.audit.clone(),
            limiter: core.limiter.clone(),
            running: Arc::new(std::sync::Mutex::new(HashSet::new())),
        }
    }

    /// Searches the messages, room names and topics `by` may read.
    pub async fn search(&self, by: &Actor, req: SearchRequest<'_>) -> ServiceResult<SearchOutcome> {
        let user: &UserId = &by.user_id;
        self.limiter.check(LimitKind::Search, user.as_str())?;
        validate_room_event_filter(req.filter)?;
        let terms = Terms::parse(req.term)?;
        let cursor = req.next_batch.map(|t| Cursor::decode(t, req.order)).transpose()?;
        let now = self.store.current_pos();
        let upto = cursor.as_ref().map_or(now, |c| c.upto.min(now));
        let keys = keys_for(req.keys.as_deref(), req.filter);
        let restricted_room = cursor.as_ref().and_then(|c| c.room.clone());
        let scopes = self.scopes(user, req.filter, restricted_room.as_deref(), now).await?;
        let senders = senders_for(req.filter, cursor.as_ref().and_then(|c| c.sender.as_deref()));
        let limit = req.filter.limit.map_or(DEFAULT_LIMIT, |l| usize::try_from(u64::from(l)).unwrap_or(MAX_LIMIT));
        let limit = limit.clamp(1, MAX_LIMIT);
        let order = match (req.order, &cursor) {
            (Order::Rank, c) => {
                SearchOrder::Rank { offset: c.as_ref().map_or(0, |c| usize::try_from(c.next).unwrap_or(0)) }
            }
            (Order::Recent, c) => SearchOrder::Recent { before: c.as_ref().map(|c| StreamPos(c.next)) },
        };
        let known_count = cursor.as_ref().and_then(|c| c.count);
        let results = if terms.words.is_empty() || senders.as_ref().is_some_and(Vec::is_empty) {
            wardline_store::SearchResults::default()
        } else {
            let _mine = Running::start(&self.running, user)?;
            self.store
                .search_events(SearchQuery {
                    words: terms.words.clone(),
                    prefix_last: terms.prefix_last,
                    keys,
                    scopes: scopes.scopes.clone(),
                    upto,
                    senders,
                    not_senders: req.filter.not_senders.clone(),
                    order,
                    limit,
                    count: known_count.is_none(),
                })
                .await
                .map_err(|e| match e {
                    StoreError::Interrupted(_) => ServiceError::invalid(TOO_COSTLY),
                    other => ServiceError::Store(other),
                })?
        };
        // Once more, each result against the one rule (the store was told where to look).
        let shown_before = results.hits.len();
        let hits: Vec<_> = results
            .hits
            .into_iter()
            .filter(|h| {
                scopes
                    .visibility
                    .get(&h.event.event.room_id)
                    .is_some_and(|v| v.can_see(h.event.stream) && v.can_see(h.text_pos))
            })
            .collect();
        if hits.len() != shown_before {
            tracing::error!(
                dropped = shown_before - hits.len(),
                "the store returned search results outside the searcher's view"
            );
        }
        let mut out = SearchOutcome {
            count: known_count.unwrap_or(results.count),
            highlights: terms.highlights(hits.iter().map(|h| h.text.as_str())),
            ..SearchOutcome::default()
        };
        if results.more
            && let Some(last) = hits.last()
        {
            let next = match req.order {
                Order::Recent => last.text_pos.0,
                Order::Rank => cursor.as_ref().map_or(0, |c| c.next) + i64::try_from(shown_before).unwrap_or(0),
            };
            let mut c = Cursor::new(req.order, upto, next);
            c.room = restricted_room.clone();
            c.sender = cursor.as_ref().and_then(|c| c.sender.clone());
            c.count = Some(out.count);
            out.next_batch = Some(c.encode());
        }
        for h in hits {
            let context = match req.context {
                Some(want) => Some(self.context_of(user, &h.event, want).await?),
                None => None,
            };
            out.results.push(Found { event: h.event, rank: h.rank, text_pos: h.text_pos, context });
        }
        for room in rooms_of(&out.results) {
            let Some(vis) = scopes.visibility.get(&room) else { continue };
            let events: Vec<StoredEvent> =
                out.results.iter().filter(|f| f.event.event.room_id == room).map(|f| f.event.clone()).collect();
            out.bundles.extend(self.timeline.bundles(user, &events, vis, now).await?);
        }
        if req.include_state {
            for room in rooms_of(&out.results) {
                // A room whose messages the user may read but whose state they may not (only
                // ever invited, with history visible to invitees) has no state in the answer;
                // the rest of the search stands.
                match self.timeline.readable_state(user, &room).await {
                    Ok(state) => {
                        out.state.insert(room, state);
                    }
                    Err(ServiceError::Forbidden(_) | ServiceError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        out.groups = req
            .group_by
            .iter()
            .map(|g| (*g, groups(&out.results, *g, req.order, upto, cursor.as_ref(), results.more)))
            .collect();
        // Only a count the server computed is recorded: a later page's comes from the client.
        let counted = known_count.is_none().then_some(out.count);
        self.audit_search(by, &req, &terms, &out, counted, scopes.scopes.len())?;
        Ok(out)
    }

    /// The rooms searched and what the user may see in each: the rooms they are joined to, and
    /// rooms the filter names in which they ever had a membership; as the filter and a group's
    /// token narrow them.
    async fn scopes(
        &self,
        user: &UserId,
        filter: &RoomEventFilter,
        only: Option<&str>,
        now: StreamPos,
    ) -> ServiceResult<Scopes> {
        let mine = self.store.rooms_of_user(user).await?;
        let mut rooms: Vec<OwnedRoomId> =
            mine.iter().filter(|m| m.membership == Membership::Join).map(|m| m.room_id.clone()).collect();
        if let Some(named) = &filter.rooms {
            rooms.retain(|r| named.contains(r));
            for r in named {
                if !rooms.contains(r) {
                    rooms.push(r.clone());
                }
            }
        }
        rooms.retain(|r| !filter.not_rooms.contains(r) && only.is_none_or(|o| r.as_str() == o));
        let mut out = Scopes { scopes: Vec::new(), visibility: HashMap::new() };
        for room in rooms {
            let vis = self.timeline.visibility(user, &room).await?;
            // A room named by the filter that the user was never in: nothing, and no error
            // either (an error would say whether it exists).
            if !vis.ever_member() {
                continue;
            }
            let ranges = vis.visible_ranges(now);
            if ranges.is_empty() {
                continue;
            }
            out.scopes.push(SearchScope { room_id: room.clone(), ranges });
            out.visibility.insert(room, vis);
        }
        Ok(out)
    }

    /// The events around a result, by the code of `/context`.
    async fn context_of(&self, user: &UserId, e: &StoredEvent, want: ContextRequest) -> ServiceResult<FoundContext> {
        let room = &e.event.room_id;
        let c = self
            .timeline
            .context_around(user, room, &e.event.event_id, want.before, want.after, &RoomEventFilter::default())
            .await?;
        let mut profiles = BTreeMap::new();
        if want.include_profile {
            for shown in c.shown() {
                let sender = shown.event.sender;
                if profiles.contains_key(&sender) {
                    continue;
                }
                let member = c
                    .state
                    .iter()
                    .find(|s| s.event.kind == kinds::MEMBER && s.event.state_key.as_deref() == Some(sender.as_str()));
                let field = |k: &str| {
                    member.and_then(|m| m.event.content.get(k)).and_then(|v| v.as_str()).map(ToOwned::to_owned)
                };
                profiles.insert(sender, Profile { displayname: field("displayname"), avatar_url: field("avatar_url") });
            }
        }
        Ok(FoundContext { before: c.before, after: c.after, start: c.start, end: c.end, profiles, bundles: c.bundles })
    }

    /// Records the search and what it showed.
    ///
    /// The search term is never recorded, only its length in characters and words: a term is
    /// often a patient's name, hospital number or diagnosis, and the audit trail is kept for
    /// years, exported and read by people with no clinical access to those patients. A hash
    /// would not hide it: names and ten-digit NHS numbers are few enough to hash every one and
    /// compare. What an investigation needs (which patients' messages this person saw) is in
    /// the `room.read` records, which name every event shown.
    fn audit_search(
        &self,
        by: &Actor,
        req: &SearchRequest<'_>,
        terms: &Terms,
        out: &SearchOutcome,
        counted: Option<u64>,
        rooms_searched: usize,
    ) -> ServiceResult<()> {
        let mut r = self.audit.entry(Some(by), AuditAction::RoomSearch, Outcome::Success);
        let order = match req.order {
            Order::Rank => "rank",
            Order::Recent => "recent",
        };
        r.detail = Some(format!(
            "order={order} page={} results={} count={} rooms_searched={rooms_searched} term_chars={} term_words={}",
            if req.next_batch.is_some() { "next" } else { "first" },
            out.results.len(),
            counted.map_or_else(|| "not_counted".to_owned(), |c| c.to_string()),
            req.term.chars().count(),
            terms.words.len(),
        ));
        self.audit.record(r)?;
        let mut by_room: Vec<(OwnedRoomId, Vec<StoredEvent>)> = Vec::new();
        for f in &out.results {
            let mut shown = vec![f.event.clone()];
            if let Some(c) = &f.context {
                shown.extend(c.before.iter().cloned());
                shown.extend(c.after.iter().cloned());
            }
            match by_room.iter_mut().find(|(r, _)| *r == f.event.event.room_id) {
                Some((_, events)) => events.extend(shown),
                None => by_room.push((f.event.event.room_id.clone(), shown)),
            }
        }
        // One record per event shown: results and their context are scattered through the
        // room's history, so a first..last range would name events that were never shown.
        for (room, mut events) in by_room {
            events.sort_by_key(|e| e.stream);
            events.dedup_by_key(|e| e.stream);
            for e in &events {
                self.timeline.audit_read(by, &room, std::slice::from_ref(e), "search")?;
            }
        }
        Ok(())
    }
}

/// The keys searched: those asked for (every key if none), less those whose event type the
/// filter's `types` / `not_types` leave out.
fn keys_for(asked: Option<&[SearchKey]>, filter: &RoomEventFilter) -> Vec<SearchKey> {
    let asked = match asked {
        Some(keys) if !keys.is_empty() => keys.to_vec(),
        _ => SearchKey::ALL.to_vec(),
    };
    let mut keys: Vec<SearchKey> = asked.into_iter().filter(|k| room_kind_passes(filter, k.event_type())).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The senders searched: the filter's (if any), narrowed to a group's sender. `Some(empty)`:
/// nobody, so nothing is found.
fn senders_for(filter: &RoomEventFilter, only: Option<&str>) -> Option<Vec<OwnedUserId>> {
    match (&filter.senders, only) {
        (None, None) => None,
        (Some(s), None) => Some(s.clone()),
        (s, Some(one)) => {
            let allowed = s.as_ref().is_none_or(|s| s.iter().any(|x| x.as_str() == one));
            Some(if allowed { OwnedUserId::try_from(one).ok().into_iter().collect() } else { Vec::new() })
        }
    }
}

fn rooms_of(results: &[Found]) -> Vec<OwnedRoomId> {
    let mut rooms: Vec<OwnedRoomId> = Vec::new();
    for f in results {
        if !rooms.contains(&f.event.event.room_id) {
            rooms.push(f.event.event.room_id.clone());
        }
    }
    rooms
}

/// Groups the page's results by room or sender. A group's `next_batch` continues the search
/// within the group: in `recent` order from this page's last result (every newer result of the
/// group is on this page); in `rank` order only where the number of the group's results
/// already shown is known (the first page, or a page of the group alone).
fn groups(
    results: &[Found],
    by: GroupBy,
    order: Order,
    upto: StreamPos,
    cursor: Option<&Cursor>,
    more: bool,
) -> Vec<Group> {
    let key_of = |f: &Found| match by {
        GroupBy::Room => f.event.event.room_id.to_string(),
        GroupBy::Sender => f.event.event.sender.to_string(),
    };
    let mut out: Vec<Group> = Vec::new();
    for f in results {
        let key = key_of(f);
        match out.iter_mut().find(|g| g.key == key) {
            Some(g) => g.results.push(f.event.event.event_id.clone()),
            None => {
                let order = out.len() + 1;
                out.push(Group { key, order, results: vec![f.event.event.event_id.clone()], next_batch: None });
            }
        }
    }
    if !more {
        return out;
    }
    let last_pos = results.last().map(|f| f.text_pos);
    for g in &mut out {
        let (room, sender) = match by {
            GroupBy::Room => (Some(g.key.clone()), cursor.and_then(|c| c.sender.clone())),
            GroupBy::Sender => (cursor.and_then(|c| c.room.clone()), Some(g.key.clone())),
        };
        let already = cursor.and_then(|c| match by {
            GroupBy::Room => c.room.clone(),
            GroupBy::Sender => c.sender.clone(),
        });
        let next = match order {
            Order::Recent => None,
            Order::Rank => {
                let shown = i64::try_from(g.results.len()).unwrap_or(i64::MAX);
                match cursor {
                    None => Some(shown),
                    Some(c) if already.as_deref() == Some(g.key.as_str()) => Some(c.next + shown),
                    Some(_) => continue,
                }
            }
        };
        let next = match (next, last_pos) {
            (Some(n), _) => n,
            (None, Some(p)) => p.0,
            (None, None) => continue,
        };
        let mut c = Cursor::new(order, upto, next);
        c.room = room;
        c.sender = sender;
        g.next_batch = Some(c.encode());
    }
    out
}

#[cfg(test)]
mod running_tests {
    use super::*;

    /// A user runs one search at a time; others, and the same user afterwards, are not held up.
    #[test]
    fn one_search_per_user_at_a_time() {
        let users = Arc::new(std::sync::Mutex::new(HashSet::new()));
        let ada = ruma::user_id!("@ada:localhost");
        let first = Running::start(&users, ada);
        assert!(first.is_ok());
        assert!(matches!(
            Running::start(&users, ada),
            Err(ServiceError::RateLimited { retry_after_ms: BUSY_RETRY_MS })
        ));
        assert!(Running::start(&users, ruma::user_id!("@bea:localhost")).is_ok(), "another user may search");
        drop(first);
        assert!(Running::start(&users, ada).is_ok(), "free again once the first has ended");
    }
}
