//! Full-text search of room events: what a search asks the store for, and what it gets back
//! (the rules are on [`crate::SearchStore`]).

use ruma::{OwnedRoomId, OwnedUserId};
use wardline_types::search::SearchKey;
use wardline_types::{StoredEvent, StreamPos};

use crate::PosRange;

/// A room and the positions in it the searcher may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchScope {
    /// The room.
    pub room_id: OwnedRoomId,
    /// Visible positions, in order and not overlapping. A message is found only if both its own
    /// position and the position of the text it is found by (its latest edit, if edited) lie in
    /// the same one of these ranges.
    pub ranges: Vec<PosRange>,
}

/// The order of results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SearchOrder {
    /// Best match first (SQLite: FTS5 `bm25`), ties newest first; skipping the first `offset`.
    Rank {
        /// Results already shown.
        offset: usize,
    },
    /// Newest text first (an edited message counts from its latest edit); only texts at
    /// positions before `before`, if given.
    Recent {
        /// Continue below this position (exclusive).
        before: Option<StreamPos>,
    },
}

/// What to look for, where.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// Words that must all occur (as whole words, compared without case or accents); see
    /// [`wardline_types::search::words`]. The store treats them as data, never as query syntax.
    pub words: Vec<String>,
    /// Whether the last word also matches as the start of a longer word (`lact` finds
    /// `lactate`).
    pub prefix_last: bool,
    /// Where the words may occur. Empty: nothing is found.
    pub keys: Vec<SearchKey>,
    /// The rooms and positions searched.
    pub scopes: Vec<SearchScope>,
    /// Only texts at positions up to here (the first page's position, so the result set of a
    /// paginated search does not grow under the reader).
    pub upto: StreamPos,
    /// Only events from these senders, if given.
    pub senders: Option<Vec<OwnedUserId>>,
    /// Never events from these senders.
    pub not_senders: Vec<OwnedUserId>,
    /// Order and where to continue.
    pub order: SearchOrder,
    /// Most results to return.
    pub limit: usize,
    /// Whether to count every match (`false`: the caller knows the count from the first page,
    /// and [`SearchResults::count`] is 0).
    pub count: bool,
}

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The event found (for an edited message, the original message).
    pub event: StoredEvent,
    /// The position of the text it was found by (the event's own, or its latest edit's).
    pub text_pos: StreamPos,
    /// The text it was found by.
    pub text: String,
    /// How well it matched: higher is better.
    pub rank: f64,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchResults {
    /// Results, in the order asked for.
    pub hits: Vec<SearchHit>,
    /// How many results the whole search has (every page together), if counted.
    pub count: u64,
    /// Whether more results follow this page.
    pub more: bool,
}
