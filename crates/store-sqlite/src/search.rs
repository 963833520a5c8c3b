//! [`SearchStore`] on SQLite: an FTS5 index kept in the writer's transaction.
//!
//! `event_search` (migration 0010) is a contentless FTS5 table: it holds the words, not the
//! text, which stays in `events`. A row's rowid is the stream position of the event whose text
//! it holds (a message, a room name or topic, or a message's latest edit, recorded in
//! `search_edits`), so the position of the text a search finds is the rowid itself, and FTS5
//! restricts positions and orders by them without reading anything else. Its `room` column
//! holds a token per room (`r{room_key}`, from `search_rooms`), so the index also restricts a
//! search to the searcher's rooms itself.
//!
//! **Invariant:** what a client typed never becomes FTS5 query syntax. Each word is quoted (a
//! `"` inside doubled) and joined with `AND` by this file; the columns and room tokens are
//! this file's own text.

use std::sync::Arc;

use async_trait::async_trait;
use ruma::RoomId;
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, params, params_from_iter};
use wardline_store::{SearchHit, SearchOrder, SearchQuery, SearchResults, SearchStore, StoreResult};
use wardline_types::search::{SearchKey, edit_of, indexed_text, is_edit};
use wardline_types::{NewEvent, StreamPos, kinds};

use crate::rows::{EVENT_COLUMNS, corrupt, exec, json_list, query_events, query_one};
use crate::{SqliteStore, backend_err};

/// The index column holding the text of a key.
const fn column(key: SearchKey) -> &'static str {
    match key {
        SearchKey::Body => "body",
        SearchKey::Name => "name",
        SearchKey::Topic => "topic",
    }
}

/// `bm25` with the room column weighing nothing: a room token never makes a result rank higher.
const SCORE: &str = "bm25(event_search, 1.0, 1.0, 1.0, 0.0)";

/// The room's token in the index (`r{room_key}`), numbering the room on first use.
fn room_token(tx: &rusqlite::Connection, room_id: &RoomId) -> StoreResult<String> {
    let known: Option<i64> =
        query_one(tx, "SELECT room_key FROM search_rooms WHERE room_id = ?1", params![room_id.as_str()], |r| r.get(0))
            .optional()
            .map_err(backend_err)?;
    let key = match known {
        Some(k) => k,
        None => query_one(
            tx,
            "INSERT INTO search_rooms (room_id) VALUES (?1) RETURNING room_key",
            params![room_id.as_str()],
            |r| r.get(0),
        )
        .map_err(backend_err)?,
    };
    Ok(format!("r{key}"))
}

fn insert_text(tx: &rusqlite::Connection, pos: i64, room_id: &RoomId, key: SearchKey, text: &str) -> StoreResult<()> {
    let room = room_token(tx, room_id)?;
    let sql = format!("INSERT INTO event_search (rowid, {}, room) VALUES (?1, ?2, ?3)", column(key));
    exec(tx, &sql, params![pos, text, room]).map_err(backend_err)?;
    Ok(())
}

fn delete_text(tx: &rusqlite::Connection, pos: i64) -> StoreResult<()> {
    exec(tx, "DELETE FROM event_search WHERE rowid = ?1", params![pos]).map_err(backend_err)?;
    Ok(())
}

/// Where the current text of the message at `message` is indexed: its latest applied edit's
/// position, or its own.
fn current_text_pos(tx: &rusqlite::Connection, message: i64) -> StoreResult<i64> {
    let latest: Option<i64> =
        query_one(tx, "SELECT MAX(stream) FROM search_edits WHERE target = ?1", params![message], |r| r.get(0))
            .map_err(backend_err)?;
    Ok(latest.unwrap_or(message))
}

/// The text the event at `pos` gives the message it is (or edits), if any.
fn text_at(tx: &rusqlite::Connection, pos: i64) -> StoreResult<Option<String>> {
    let row: Option<(String, Option<String>, String)> = query_one(
        tx,
        "SELECT type, state_key, content FROM events WHERE stream = ?1 AND redacted_because IS NULL",
        params![pos],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
    .map_err(backend_err)?;
    let Some((kind, state_key, content)) = row else { return Ok(None) };
    let content: serde_json::Value = serde_json::from_str(&content).map_err(|e| corrupt("event content", e))?;
    if let Some((_, text)) = indexed_text(&kind, state_key.as_deref(), &content) {
        return Ok(Some(text.to_owned()));
    }
    Ok(edit_of(&kind, &content).and_then(|e| e.new_body).map(ToOwned::to_owned))
}

/// Indexes a new event, in the transaction that appends it at `pos`.
pub(crate) fn index_event(tx: &rusqlite::Connection, e: &NewEvent, pos: StreamPos) -> StoreResult<()> {
    if let Some((key, text)) = indexed_text(&e.kind, e.state_key.as_deref(), &e.content) {
        return insert_text(tx, pos.0, &e.room_id, key, text);
    }
    let Some(edit) = edit_of(&e.kind, &e.content).filter(|_| e.state_key.is_none()) else {
        return Ok(());
    };
    // The edit applies only to an unredacted message of its own sender in its room, which is
    // not an edit itself.
    let target: Option<(i64, String)> = query_one(
        tx,
        "SELECT stream, content FROM events WHERE event_id = ?1 AND room_id = ?2 AND sender = ?3
           AND type = ?4 AND state_key IS NULL AND redacted_because IS NULL",
        params![edit.target, e.room_id.as_str(), e.sender.as_str(), kinds::MESSAGE],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(backend_err)?;
    let Some((target, content)) = target else { return Ok(()) };
    let content: serde_json::Value = serde_json::from_str(&content).map_err(|e| corrupt("event content", e))?;
    if is_edit(&content) || target >= pos.0 {
        return Ok(());
    }
    delete_text(tx, current_text_pos(tx, target)?)?;
    exec(tx, "INSERT INTO search_edits (stream, target) VALUES (?1, ?2)", params![pos.0, target])
        .map_err(backend_err)?;
    if let Some(body) = edit.new_body {
        insert_text(tx, pos.0, &e.room_id, SearchKey::Body, body)?;
    }
    Ok(())
}

/// Takes a redacted event's text out of the index, in the transaction that redacts it (call it
/// before the event's content is pruned). A redacted edit that was a message's latest gives
/// the message back the text it had before.
pub(crate) fn unindex_redacted(tx: &rusqlite::Connection, room_id: &RoomId, target: i64) -> StoreResult<()> {
    let edited: Option<i64> =
        query_one(tx, "SELECT target FROM search_edits WHERE stream = ?1", params![target], |r| r.get(0))
            .optional()
            .map_err(backend_err)?;
    let Some(message) = edited else {
        delete_text(tx, current_text_pos(tx, target)?)?;
        exec(tx, "DELETE FROM search_edits WHERE target = ?1", params![target]).map_err(backend_err)?;
        return Ok(());
    };
    let was_current = current_text_pos(tx, message)? == target;
    exec(tx, "DELETE FROM search_edits WHERE stream = ?1", params![target]).map_err(backend_err)?;
    if was_current {
        delete_text(tx, target)?;
        let previous = current_text_pos(tx, message)?;
        if let Some(text) = text_at(tx, previous)? {
            insert_text(tx, previous, room_id, SearchKey::Body, &text)?;
        }
    }
    Ok(())
}

/// A word as an FTS5 string: quoted, a `"` inside doubled. Whatever it holds, it is a string.
fn quote(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// The FTS5 expression: every word in one of `keys`' columns, in one of the rooms.
fn match_expression(query: &SearchQuery, rooms: &[i64]) -> String {
    let columns: Vec<&str> = query.keys.iter().map(|k| column(*k)).collect();
    let last = query.words.len().saturating_sub(1);
    let terms: Vec<String> = query
        .words
        .iter()
        .enumerate()
        .map(|(i, w)| if query.prefix_last && i == last { format!("{}*", quote(w)) } else { quote(w) })
        .collect();
    let rooms: Vec<String> = rooms.iter().map(|k| format!("r{k}")).collect();
    format!("{{{}}} : ({}) AND room : ({})", columns.join(" "), terms.join(" AND "), rooms.join(" OR "))
}

/// One part of a search: rooms sharing the same visible range of positions.
struct Part {
    rooms: Vec<i64>,
    after: i64,
    upto: i64,
}

/// The search's parts, each rooms with one visible range: rooms are grouped by range, so a
/// searcher who may read whole rooms needs one FTS5 query for all of them.
fn parts(c: &rusqlite::Connection, query: &SearchQuery) -> StoreResult<Vec<Part>> {
    let mut by_range: Vec<Part> = Vec::new();
    for scope in &query.scopes {
        let key: Option<i64> = query_one(
            c,
            "SELECT room_key FROM search_rooms WHERE room_id = ?1",
            params![scope.room_id.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend_err)?;
        // A room with nothing ever indexed has no key: nothing to find there.
        let Some(key) = key else { continue };
        for (after, upto) in merged(&scope.ranges) {
            match by_range.iter_mut().find(|p| p.after == after && p.upto == upto) {
                Some(p) => p.rooms.push(key),
                None => by_range.push(Part { rooms: vec![key], after, upto }),
            }
        }
    }
    Ok(by_range)
}

/// A scope's ranges as `(after, upto]` pairs, in order, touching and overlapping ones merged:
/// a room whose visibility changed back and forth is searched with as few ranges as it has
/// separate stretches.
fn merged(ranges: &[wardline_store::PosRange]) -> Vec<(i64, i64)> {
    let mut sorted: Vec<(i64, i64)> = ranges.iter().filter(|r| !r.is_empty()).map(|r| (r.after.0, r.upto.0)).collect();
    sorted.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(sorted.len());
    for (after, upto) in sorted {
        match out.last_mut() {
            Some(last) if after <= last.1 => last.1 = last.1.max(upto),
            _ => out.push((after, upto)),
        }
    }
    out
}

/// Most parts in one SQL statement. Each part is one `SELECT` of a compound `UNION ALL`, which
/// SQLite limits to 500, with 4 variables (the sender lists are one JSON variable each), far
/// below the 32,766 variable limit; a search with more parts runs as several statements whose
/// results are merged here.
const PARTS_PER_STATEMENT: usize = 200;

fn push(params: &mut Vec<SqlValue>, v: impl Into<SqlValue>) -> String {
    params.push(v.into());
    format!("?{}", params.len())
}

/// The `SELECT` of one part: its matches' positions (and scores, if `scored`), below `below`
/// if given.
fn part_sql(query: &SearchQuery, part: &Part, below: Option<i64>, scored: bool, params: &mut Vec<SqlValue>) -> String {
    let expr = push(params, match_expression(query, &part.rooms));
    let after = push(params, part.after);
    let mut upto = part.upto.min(query.upto.0);
    if let Some(b) = below {
        upto = upto.min(b - 1);
    }
    let upto = push(params, upto);
    let score = if scored { SCORE } else { "0.0" };
    let mut sql = format!(
        "SELECT rowid AS pos, {score} AS score FROM event_search
         WHERE event_search MATCH {expr} AND rowid > {after} AND rowid <= {upto}"
    );
    if part.after > 0 {
        // The message an edit belongs to must lie in the range too.
        sql.push_str(&format!(
            " AND COALESCE((SELECT target FROM search_edits WHERE search_edits.stream = event_search.rowid),
                           event_search.rowid) > {after}"
        ));
    }
    let sender = "(SELECT sender FROM events WHERE events.stream = event_search.rowid)";
    if let Some(senders) = &query.senders {
        let list = push(params, json_list(senders));
        sql.push_str(&format!(" AND {sender} IN (SELECT value FROM json_each({list}))"));
    }
    if !query.not_senders.is_empty() {
        let list = push(params, json_list(&query.not_senders));
        sql.push_str(&format!(" AND {sender} NOT IN (SELECT value FROM json_each({list}))"));
    }
    sql
}

/// Runs a search on a read connection.
fn search(c: &rusqlite::Connection, query: &SearchQuery) -> StoreResult<SearchResults> {
    let words: Vec<String> = query.words.iter().filter(|w| !w.is_empty()).cloned().collect();
    let query = SearchQuery { words, ..query.clone() };
    if query.words.is_empty() || query.keys.is_empty() || query.limit == 0 {
        return Ok(SearchResults::default());
    }
    let parts = parts(c, &query)?;
    if parts.is_empty() {
        return Ok(SearchResults::default());
    }
    // How many matches in all (the parts never overlap: their sum).
    let mut count: i64 = 0;
    if query.count {
        for chunk in parts.chunks(PARTS_PER_STATEMENT) {
            let mut params = Vec::new();
            let all: Vec<String> = chunk.iter().map(|p| part_sql(&query, p, None, false, &mut params)).collect();
            let count_sql = format!("SELECT COUNT(*) FROM ({})", all.join(" UNION ALL "));
            count += run(c, &count_sql, &params, |r| r.get::<_, i64>(0))?.into_iter().next().unwrap_or(0);
        }
    }
    // This page (one more than asked for, to know whether more follow): each statement's best,
    // merged in the order asked for.
    let want = query.limit.saturating_add(1);
    let mut found: Vec<(i64, f64)> = Vec::new();
    for chunk in parts.chunks(PARTS_PER_STATEMENT) {
        let mut params = Vec::new();
        let page_sql = match query.order {
            SearchOrder::Recent { before } => {
                let n = push(&mut params, i64::try_from(want).unwrap_or(i64::MAX));
                let each: Vec<String> = chunk
                    .iter()
                    .map(|p| {
                        let sql = part_sql(&query, p, before.map(|b| b.0), true, &mut params);
                        format!("SELECT * FROM ({sql} ORDER BY rowid DESC LIMIT {n})")
                    })
                    .collect();
                format!("{} ORDER BY pos DESC LIMIT {n}", each.join(" UNION ALL "))
            }
            SearchOrder::Rank { offset } => {
                let top = push(&mut params, i64::try_from(want.saturating_add(offset)).unwrap_or(i64::MAX));
                let each: Vec<String> = chunk
                    .iter()
                    .map(|p| {
                        let sql = part_sql(&query, p, None, true, &mut params);
                        format!("SELECT * FROM ({sql} ORDER BY score, pos DESC LIMIT {top})")
                    })
                    .collect();
                format!("{} ORDER BY score, pos DESC LIMIT {top}", each.join(" UNION ALL "))
            }
        };
        found.extend(run(c, &page_sql, &params, |r| Ok((r.get(0)?, r.get(1)?)))?);
    }
    match query.order {
        SearchOrder::Recent { .. } => found.sort_by_key(|f| std::cmp::Reverse(f.0)),
        SearchOrder::Rank { offset } => {
            found.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            found.drain(..offset.min(found.len()));
        }
    }
    found.truncate(want);
    let more = found.len() > query.limit;
    found.truncate(query.limit);
    let mut hits = Vec::with_capacity(found.len());
    for (pos, score) in found {
        let message: Option<i64> =
            query_one(c, "SELECT target FROM search_edits WHERE stream = ?1", params![pos], |r| r.get(0))
                .optional()
                .map_err(backend_err)?;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1");
        let Some(event) = query_events(c, &sql, params![message.unwrap_or(pos)])?.pop() else { continue };
        let text = text_at(c, pos)?.unwrap_or_default();
        hits.push(SearchHit { event, text_pos: StreamPos(pos), text, rank: -score });
    }
    Ok(SearchResults { hits, count: u64::try_from(count).unwrap_or(0), more })
}

fn run<T>(
    c: &rusqlite::Connection,
    sql: &str,
    params: &[SqlValue],
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    // Built per search (the number of parts varies), so not kept in the statement cache.
    let mut stmt = c.prepare(sql).map_err(backend_err)?;
    let rows = stmt.query_map(params_from_iter(params.iter()), f).map_err(backend_err)?;
    rows.collect::<Result<Vec<T>, _>>().map_err(backend_err)
}

/// Most searches SQLite runs at once; more wait their turn. A search of common words over
/// years of history reads much of the index, and the few read connections also serve every
/// `/sync`: searches must never take all of them. A turn is held until SQLite has finished
/// (it moves into the blocking task), not merely until the caller stops waiting.
pub const MAX_CONCURRENT_SEARCHES: usize = 2;

/// Longest a search may run once it has its turn; then SQLite is interrupted and the search
/// ends with [`StoreError::Interrupted`](wardline_store::StoreError::Interrupted).
pub const SEARCH_TIME_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Where a running search is, so it can be stopped: before it has a connection, while SQLite
/// runs it (with the handle that interrupts it), or finished (the connection may then serve
/// someone else and must never be interrupted).
enum Stage {
    Waiting,
    /// Running on a connection since the instant (the budget counts from here, not from the
    /// wait for a read connection).
    Running(rusqlite::InterruptHandle, std::time::Instant),
    Stopped,
    Done,
}

/// Stops the search if it is still waiting or running.
fn stop(stage: &std::sync::Mutex<Stage>) {
    let Ok(mut s) = stage.lock() else { return };
    match &*s {
        Stage::Waiting => *s = Stage::Stopped,
        Stage::Running(h, _) => {
            h.interrupt();
            *s = Stage::Stopped;
        }
        Stage::Stopped | Stage::Done => {}
    }
}

/// Stops the search when dropped: when its caller stops waiting (the client went away).
struct StopOnDrop(Arc<std::sync::Mutex<Stage>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        stop(&self.0);
    }
}

/// Runs `query` on `c`, unless it was stopped meanwhile; a search stopped while SQLite ran it
/// is [`StoreError::Interrupted`](wardline_store::StoreError::Interrupted).
fn run_stoppable(
    c: &rusqlite::Connection,
    query: &SearchQuery,
    stage: &std::sync::Mutex<Stage>,
) -> StoreResult<SearchResults> {
    let stopped = || wardline_store::StoreError::Interrupted("the search ran past its time budget".into());
    {
        let mut s = stage.lock().map_err(|_| stopped())?;
        if !matches!(*s, Stage::Waiting) {
            return Err(stopped());
        }
        *s = Stage::Running(c.get_interrupt_handle(), std::time::Instant::now());
    }
    let result = search(c, query);
    let mut s = stage.lock().map_err(|_| stopped())?;
    let was_stopped = matches!(*s, Stage::Stopped);
    // From here the connection is no longer this search's: nothing may interrupt it.
    *s = Stage::Done;
    // Stopped is stopped, even if SQLite got to the end first: the caller was told so.
    if was_stopped { Err(stopped()) } else { result }
}

#[async_trait]
impl SearchStore for SqliteStore {
    async fn search_events(&self, query: SearchQuery) -> StoreResult<SearchResults> {
        self.search_within(query, SEARCH_TIME_BUDGET).await
    }
}

impl SqliteStore {
    /// A search that SQLite stops after `budget` (or as soon as the caller stops waiting).
    async fn search_within(&self, query: SearchQuery, budget: std::time::Duration) -> StoreResult<SearchResults> {
        let turn = Arc::clone(&self.searches)
            .acquire_owned()
            .await
            .map_err(|_| wardline_store::StoreError::Backend("search turns closed".into()))?;
        let stage = Arc::new(std::sync::Mutex::new(Stage::Waiting));
        let _stop_if_dropped = StopOnDrop(Arc::clone(&stage));
        let in_task = Arc::clone(&stage);
        // A search may read many index entries: off the request threads. The turn is the
        // task's, so it is given back only when SQLite has finished.
        let work = self.readers.read_blocking(move |c| {
            let _turn = turn;
            run_stoppable(c, &query, &in_task)
        });
        tokio::pin!(work);
        let mut wait = budget;
        loop {
            if let Ok(result) = tokio::time::timeout(wait, &mut work).await {
                return result;
            }
            // The budget is SQLite's time: a search still waiting for a read connection (a busy
            // server) waits on; a running one gets what is left of its budget.
            let ran = match stage.lock().as_deref() {
                Ok(Stage::Waiting) => Some(std::time::Duration::ZERO),
                Ok(Stage::Running(_, since)) => Some(since.elapsed()),
                _ => None,
            };
            match ran {
                Some(ran) if ran < budget => wait = budget - ran,
                _ => {
                    stop(&stage);
                    return work.await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardline_store::{PosRange, SearchScope};

    /// Migration 0010 indexes what was stored before it by the same rules as new events: the
    /// latest valid edit's text, no redacted message, names and topics.
    #[tokio::test]
    async fn the_migration_indexes_existing_events() -> StoreResult<()> {
        let dir = tempfile::tempdir().map_err(backend_err)?;
        let path = dir.path().join("old.db");
        {
            let conn = rusqlite::Connection::open(&path).map_err(backend_err)?;
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
            )
            .map_err(backend_err)?;
            // Every migration before this one (0010).
            for (version, sql) in (1..).zip(crate::migrations::MIGRATIONS.iter().take(9)) {
                conn.execute_batch(sql).map_err(backend_err)?;
                conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
            }
            let room = "!old:localhost";
            conn.execute("INSERT INTO rooms (room_id, created_ts) VALUES (?1, 0)", params![room])
                .map_err(backend_err)?;
            // (stream, id, sender, type, state key, content, redacted)
            type Row<'a> = (i64, &'a str, &'a str, &'a str, Option<&'a str>, serde_json::Value, bool);
            let events: [Row<'_>; 8] = [
                (
                    1,
                    "$n",
                    "@ada:localhost",
                    "m.room.name",
                    Some(""),
                    serde_json::json!({"name": "Sepsis huddle"}),
                    false,
                ),
                (
                    2,
                    "$m1",
                    "@ada:localhost",
                    "m.room.message",
                    None,
                    serde_json::json!({"body": "lactate 3.1 repeat"}),
                    false,
                ),
                (
                    3,
                    "$m2",
                    "@bea:localhost",
                    "m.room.message",
                    None,
                    serde_json::json!({"body": "potassium 6.1"}),
                    true,
                ),
                (4, "$e1", "@ada:localhost", "m.room.message", None, edit("$m1", "lactate 2.0 improving"), false),
                (5, "$e2", "@ada:localhost", "m.room.message", None, edit("$m1", "lactate normal"), true),
                (6, "$x", "@bea:localhost", "m.room.message", None, edit("$m1", "hijacked"), false),
                (7, "$t", "@ada:localhost", "m.room.topic", Some(""), serde_json::json!({"topic": "Bay 3"}), false),
                (8, "$m3", "@bea:localhost", "m.room.message", None, serde_json::json!({"body": 42}), false),
            ];
            for (stream, id, sender, kind, state_key, content, redacted) in events {
                conn.execute(
                    "INSERT INTO events (stream, event_id, room_id, sender, type, state_key, content, origin_server_ts,
                        redacted_because) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
                    params![stream, id, room, sender, kind, state_key, content.to_string(), redacted.then_some("{}")],
                )
                .map_err(backend_err)?;
            }
        }
        let store = SqliteStore::open(&path, crate::Durability::Normal)?;
        let find = |word: &str| {
            let q = SearchQuery {
                words: vec![word.to_owned()],
                prefix_last: false,
                keys: SearchKey::ALL.to_vec(),
                scopes: vec![SearchScope {
                    room_id: ruma::owned_room_id!("!old:localhost"),
                    ranges: vec![PosRange::upto(StreamPos(8))],
                }],
                upto: StreamPos(8),
                senders: None,
                not_senders: Vec::new(),
                order: SearchOrder::Recent { before: None },
                limit: 10,
                count: true,
            };
            let store = store.clone();
            async move {
                let r = store.search_events(q).await?;
                StoreResult::Ok(
                    r.hits.iter().map(|h| (h.event.event.event_id.to_string(), h.text_pos.0)).collect::<Vec<_>>(),
                )
            }
        };
        assert_eq!(find("improving").await?, [("$m1".to_owned(), 4)], "the latest unredacted edit's text");
        assert!(find("repeat").await?.is_empty(), "not the replaced text");
        assert!(find("normal").await?.is_empty(), "not a redacted edit's");
        assert!(find("hijacked").await?.is_empty(), "not another sender's edit");
        assert!(find("potassium").await?.is_empty(), "not a redacted message");
        assert_eq!(find("sepsis").await?, [("$n".to_owned(), 1)], "room names");
        assert_eq!(find("bay").await?, [("$t".to_owned(), 7)], "topics");
        // And the index goes on from there: redacting the edit brings back the message's own text.
        let mut redaction = NewEvent {
            event_id: ruma::owned_event_id!("$r"),
            room_id: ruma::owned_room_id!("!old:localhost"),
            sender: ruma::owned_user_id!("@ada:localhost"),
            kind: kinds::REDACTION.into(),
            state_key: None,
            content: serde_json::json!({"redacts": "$e1"}),
            origin_server_ts: wardline_types::Timestamp(0),
            redacts: None,
            txn: None,
        };
        redaction.redacts = Some(ruma::owned_event_id!("$e1"));
        wardline_store::RoomStore::append_events(&store, vec![redaction], Vec::new()).await?;
        assert_eq!(find("repeat").await?, [("$m1".to_owned(), 2)]);
        Ok(())
    }

    /// A search stopped before SQLite started it (its time ran out while it waited, or its
    /// client left) never runs, and says why; a finished one can no longer be stopped, so its
    /// connection, back in the pool, is never interrupted by it.
    #[test]
    fn a_stopped_search_does_not_run() -> StoreResult<()> {
        let c = rusqlite::Connection::open_in_memory().map_err(backend_err)?;
        let q = SearchQuery {
            words: vec!["lactate".into()],
            prefix_last: false,
            keys: SearchKey::ALL.to_vec(),
            scopes: Vec::new(),
            upto: StreamPos(8),
            senders: None,
            not_senders: Vec::new(),
            order: SearchOrder::Recent { before: None },
            limit: 10,
            count: true,
        };
        let stage = std::sync::Mutex::new(Stage::Waiting);
        stop(&stage);
        assert!(matches!(run_stoppable(&c, &q, &stage), Err(wardline_store::StoreError::Interrupted(_))));
        let stage = std::sync::Mutex::new(Stage::Waiting);
        // (No scopes: it finds nothing, without touching the absent index.)
        assert!(run_stoppable(&c, &q, &stage).is_ok_and(|r| r.hits.is_empty()));
        assert!(matches!(*stage.lock().map_err(|_| backend_err("poisoned"))?, Stage::Done));
        stop(&stage);
        assert!(matches!(*stage.lock().map_err(|_| backend_err("poisoned"))?, Stage::Done), "finished: not stopped");
        Ok(())
    }

    fn edit(target: &str, body: &str) -> serde_json::Value {
        serde_json::json!({
            "body": format!("* {body}"),
            "m.new_content": {"body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": target},
        })
    }
}

#[cfg(test)]
mod tokenizer_agreement {
    use wardline_types::search::words;

    /// Every character the index's tokenizer (`unicode61 remove_diacritics 2`) treats as a
    /// separator is a separator for [`words`] too, so a search word never holds a character
    /// the index drops (`ⒶⒶp` must not become the one-letter prefix `p*`).
    #[test]
    fn words_split_wherever_the_tokenizer_does() -> rusqlite::Result<()> {
        let c = rusqlite::Connection::open_in_memory()?;
        c.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');",
        )?;
        // Every code point with a letter or digit: none lies above plane 3 (checked here).
        assert!((0x3_4000u32..0x11_0000).filter_map(char::from_u32).all(|c| !c.is_alphanumeric()));
        let chars: Vec<char> = (0x80u32..0x3_4000).filter_map(char::from_u32).collect();
        {
            let mut ins = c.prepare("INSERT INTO t (rowid, x) VALUES (?1, ?2)")?;
            for ch in &chars {
                ins.execute(rusqlite::params![i64::from(u32::from(*ch)), format!("a{ch}b")])?;
            }
        }
        let mut joined = std::collections::HashSet::new();
        let mut q = c.prepare("SELECT doc FROM v GROUP BY doc HAVING COUNT(*) = 1")?;
        for doc in q.query_map([], |r| r.get::<_, i64>(0))? {
            joined.insert(doc?);
        }
        let mut wrong = Vec::new();
        for ch in chars {
            let ours = words(&format!("a{ch}b")).count() == 1;
            let theirs = joined.contains(&i64::from(u32::from(ch)));
            if ours && !theirs {
                wrong.push(format!("{:04X}", u32::from(ch)));
            }
        }
        assert!(wrong.is_empty(), "{} chars kept by words() but split by the index: {:?}", wrong.len(), wrong);
        Ok(())
    }
}
