//! [`RelationStore`] on SQLite: the `event_relations` index, kept by the transaction that
//! appends each event.

use async_trait::async_trait;
use ruma::{EventId, OwnedEventId, RoomId, UserId};
use rusqlite::{OptionalExtension, params};
use wardline_store::{
    Direction, PosRange, Relation, RelationFilter, RelationStore, StoreResult, ThreadActivity, ThreadQuery,
};
use wardline_types::{NewEvent, StoredEvent, StreamPos, relation};

use crate::pool::WriteTx;
use crate::rows::{EVENT_COLUMNS, exec, json_list, parse_event_id, parse_room, parse_user, query_events, sql_ts, ts};
use crate::{SqliteStore, backend_err};

/// Columns read by [`read_relation`], in order.
const RELATION_COLUMNS: &str =
    "event_id, room_id, rel_type, parent_id, sender, type, annotation_key, stream, origin_server_ts";

/// Indexes `e` (just stored at `pos`) if it relates to an earlier event of its room.
pub(crate) fn index(w: &WriteTx<'_>, e: &NewEvent, pos: StreamPos) -> StoreResult<()> {
    let Some(rel) = relation::relation(&e.content) else { return Ok(()) };
    let key = if rel.rel_type == relation::rel_types::ANNOTATION { rel.key.as_deref() } else { None };
    exec(
        w.tx,
        "INSERT OR IGNORE INTO event_relations
            (event_id, room_id, rel_type, parent_id, sender, type, annotation_key, stream, origin_server_ts)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
         WHERE EXISTS (SELECT 1 FROM events WHERE event_id = ?4 AND room_id = ?2 AND stream < ?8)",
        params![
            e.event_id.as_str(),
            e.room_id.as_str(),
            rel.rel_type,
            rel.event_id.as_str(),
            e.sender.as_str(),
            e.kind,
            key,
            pos.0,
            sql_ts(e.origin_server_ts),
        ],
    )
    .map_err(backend_err)?;
    Ok(())
}

/// Removes a redacted event from the index: a redacted child no longer relates to anything.
pub(crate) fn unindex(w: &WriteTx<'_>, event_id: &EventId) -> StoreResult<()> {
    exec(w.tx, "DELETE FROM event_relations WHERE event_id = ?1", params![event_id.as_str()]).map_err(backend_err)?;
    Ok(())
}

struct RelationRow {
    event_id: String,
    room_id: String,
    rel_type: String,
    parent_id: String,
    sender: String,
    kind: String,
    key: Option<String>,
    stream: i64,
    origin_server_ts: i64,
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RelationRow> {
    Ok(RelationRow {
        event_id: r.get(0)?,
        room_id: r.get(1)?,
        rel_type: r.get(2)?,
        parent_id: r.get(3)?,
        sender: r.get(4)?,
        kind: r.get(5)?,
        key: r.get(6)?,
        stream: r.get(7)?,
        origin_server_ts: r.get(8)?,
    })
}

fn into_relation(row: RelationRow) -> StoreResult<Relation> {
    Ok(Relation {
        event_id: parse_event_id(&row.event_id)?,
        room_id: parse_room(&row.room_id)?,
        rel_type: row.rel_type,
        parent_id: parse_event_id(&row.parent_id)?,
        sender: parse_user(&row.sender)?,
        kind: row.kind,
        key: row.key,
        stream: StreamPos(row.stream),
        origin_server_ts: ts(row.origin_server_ts),
    })
}

fn query_relations(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<Relation>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend_err)?;
    let rows = stmt.query_map(params, read_row).map_err(backend_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(into_relation(row.map_err(backend_err)?)?);
    }
    Ok(out)
}

#[async_trait]
impl RelationStore for SqliteStore {
    async fn relating_events(
        &self,
        room: &RoomId,
        parent: &EventId,
        filter: RelationFilter,
        range: PosRange,
        dir: Direction,
        limit: usize,
    ) -> StoreResult<Vec<StoredEvent>> {
        let (room, parent) = (room.to_owned(), parent.to_owned());
        let order = match dir {
            Direction::Forward => "ASC",
            Direction::Backward => "DESC",
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let depth = i64::from(filter.depth.max(1));
        // A recursive walk of a thread's tree can read much: off the request threads.
        self.readers
            .read_blocking(move |c| {
                // Children level by level, following only children that pass the filter, so
                // an event related through a child that does not is left out (as the spec says).
                let sql = format!(
                    "WITH RECURSIVE tree(event_id, depth) AS (
                        SELECT event_id, 1 FROM event_relations
                        WHERE parent_id = ?2 AND room_id = ?1
                          AND (?3 IS NULL OR rel_type = ?3) AND (?4 IS NULL OR type = ?4)
                          -- A child comes after its parent, so one after the range has no
                          -- descendant in it; without recursion, one before it is out too.
                          AND stream <= ?7 AND (?5 > 1 OR stream > ?6)
                        UNION
                        SELECT r.event_id, tree.depth + 1 FROM event_relations r JOIN tree ON r.parent_id = tree.event_id
                        WHERE tree.depth < ?5 AND r.room_id = ?1
                          AND (?3 IS NULL OR r.rel_type = ?3) AND (?4 IS NULL OR r.type = ?4)
                     )
                     SELECT {EVENT_COLUMNS} FROM events
                     WHERE event_id IN (SELECT event_id FROM tree) AND stream > ?6 AND stream <= ?7
                     ORDER BY stream {order} LIMIT ?8"
                );
                query_events(
                    c,
                    &sql,
                    params![
                        room.as_str(),
                        parent.as_str(),
                        filter.rel_type,
                        filter.event_type,
                        depth,
                        range.after.0,
                        range.upto.0,
                        limit
                    ],
                )
            })
            .await
    }

    async fn relations_to(
        &self,
        parents: &[OwnedEventId],
        rel_types: &[&str],
        upto: StreamPos,
    ) -> StoreResult<Vec<Relation>> {
        if parents.is_empty() || rel_types.is_empty() {
            return Ok(Vec::new());
        }
        let (parents, rel_types) = (json_list(parents), json_list(rel_types));
        self.readers
            .read(move |c| {
                let sql = format!(
                    "SELECT {RELATION_COLUMNS} FROM event_relations
                     WHERE parent_id IN (SELECT value FROM json_each(?1))
                       AND rel_type IN (SELECT value FROM json_each(?2)) AND stream <= ?3
                     ORDER BY stream"
                );
                query_relations(c, &sql, params![parents, rel_types, upto.0])
            })
            .await
    }

    async fn relation_of(&self, event_id: &EventId) -> StoreResult<Option<Relation>> {
        let event_id = event_id.to_owned();
        self.readers
            .read(move |c| {
                let sql = format!("SELECT {RELATION_COLUMNS} FROM event_relations WHERE event_id = ?1");
                Ok(query_relations(c, &sql, params![event_id.as_str()])?.pop())
            })
            .await
    }

    async fn has_annotation(&self, parent: &EventId, sender: &UserId, kind: &str, key: &str) -> StoreResult<bool> {
        let (parent, sender, kind, key) = (parent.to_owned(), sender.to_owned(), kind.to_owned(), key.to_owned());
        self.readers
            .read(move |c| {
                crate::rows::query_one(
                    c,
                    "SELECT 1 FROM event_relations WHERE rel_type = 'm.annotation'
                       AND parent_id = ?1 AND sender = ?2 AND type = ?3 AND annotation_key = ?4",
                    params![parent.as_str(), sender.as_str(), kind, key],
                    |_| Ok(()),
                )
                .optional()
                .map(|found| found.is_some())
                .map_err(backend_err)
            })
            .await
    }

    async fn events_by_id(&self, ids: &[OwnedEventId]) -> StoreResult<Vec<StoredEvent>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = json_list(ids);
        self.readers
            .read(move |c| {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE event_id IN (SELECT value FROM json_each(?1))
                     ORDER BY stream"
                );
                query_events(c, &sql, params![ids])
            })
            .await
    }

    async fn thread_roots(&self, room: &RoomId, query: ThreadQuery) -> StoreResult<Vec<ThreadActivity>> {
        if query.ranges.is_empty() || query.limit == 0 {
            return Ok(Vec::new());
        }
        let room = room.to_owned();
        let ranges = serde_json::Value::from(
            query.ranges.iter().map(|r| serde_json::json!([r.after.0, r.upto.0])).collect::<Vec<_>>(),
        )
        .to_string();
        let participant = query.participant.map(|u| u.to_string());
        let before = query.before.map(|p| p.0);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                // `ranges` as a table of (after, upto]; a position counts if one range holds it.
                let sql = "WITH ranges(after, upto) AS (
                        SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?2)
                     )
                     SELECT r.parent_id, MAX(r.stream) AS latest
                     FROM event_relations r INDEXED BY event_relations_threads
                     JOIN ranges g ON r.stream > g.after AND r.stream <= g.upto
                     WHERE r.room_id = ?1 AND r.rel_type = 'm.thread'
                       AND EXISTS (SELECT 1 FROM events e JOIN ranges h ON e.stream > h.after AND e.stream <= h.upto
                                   WHERE e.event_id = r.parent_id AND e.room_id = ?1)
                     GROUP BY r.parent_id
                     HAVING (?4 IS NULL OR latest < ?4)
                        AND (?3 IS NULL OR SUM(r.sender = ?3) > 0
                             OR EXISTS (SELECT 1 FROM events e WHERE e.event_id = r.parent_id AND e.sender = ?3))
                     ORDER BY latest DESC LIMIT ?5";
                let mut stmt = c.prepare_cached(sql).map_err(backend_err)?;
                let rows = stmt
                    .query_map(params![room.as_str(), ranges, participant, before, limit], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })
                    .map_err(backend_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (root, latest) = row.map_err(backend_err)?;
                    out.push(ThreadActivity { root: parse_event_id(&root)?, latest: StreamPos(latest) });
                }
                Ok(out)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use crate::migrations::{MIGRATIONS, migrate};

    /// A database from before the relations index gets one row per event that relates to an
    /// earlier event of its room, read from the events' content.
    #[test]
    fn the_migration_indexes_events_already_stored() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .unwrap();
        let index = MIGRATIONS.iter().position(|m| m.contains("CREATE TABLE event_relations")).unwrap();
        for (i, sql) in MIGRATIONS.iter().enumerate().take(index) {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [i64::try_from(i).unwrap() + 1]).unwrap();
        }
        conn.execute_batch(
            r#"INSERT INTO rooms (room_id, created_ts) VALUES ('!a:x', 0), ('!b:x', 0);
            INSERT INTO events (stream, event_id, room_id, sender, type, content, origin_server_ts) VALUES
              (1, '$root', '!a:x', '@ada:x', 'm.room.message', '{"body":"BP 120/80"}', 10),
              (2, '$react', '!a:x', '@ben:x', 'm.reaction',
                  '{"m.relates_to":{"rel_type":"m.annotation","event_id":"$root","key":"👍"}}', 11),
              (3, '$edit', '!a:x', '@ada:x', 'm.room.message',
                  '{"body":"* x","m.new_content":{"body":"x"},"m.relates_to":{"rel_type":"m.replace","event_id":"$root"}}', 12),
              (4, '$reply', '!a:x', '@ben:x', 'm.room.message', '{"body":"r","m.relates_to":{"m.in_reply_to":{"event_id":"$root"}}}', 13),
              (5, '$other', '!b:x', '@ada:x', 'm.room.message', '{"body":"elsewhere"}', 14),
              (6, '$cross', '!a:x', '@ada:x', 'm.reaction', '{"m.relates_to":{"rel_type":"m.annotation","event_id":"$other","key":"x"}}', 15),
              (7, '$ghost', '!a:x', '@ada:x', 'm.reaction', '{"m.relates_to":{"rel_type":"m.annotation","event_id":"$gone","key":"x"}}', 16),
              (8, '$nokey', '!a:x', '@ada:x', 'm.room.message', '{"m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}', 17),
              (9, '$bad', '!a:x', '@ada:x', 'm.room.message', '{"m.relates_to":{"rel_type":5,"event_id":"$root"}}', 18);
            INSERT INTO events (stream, event_id, room_id, sender, type, content, origin_server_ts, redacted_because, original_content)
              VALUES (10, '$undone', '!a:x', '@ben:x', 'm.reaction', '{}', 19, '{}',
                  '{"m.relates_to":{"rel_type":"m.annotation","event_id":"$root","key":"👎"}}');"#,
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let mut stmt = conn
            .prepare("SELECT event_id, rel_type, parent_id, sender, type, annotation_key, stream, origin_server_ts FROM event_relations ORDER BY stream")
            .unwrap();
        type Row = (String, String, String, String, String, Option<String>, i64, i64);
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let row = |id: &str, rel: &str, sender: &str, kind: &str, key: Option<&str>, stream: i64, ts: i64| {
            (
                id.to_owned(),
                rel.to_owned(),
                "$root".to_owned(),
                sender.to_owned(),
                kind.to_owned(),
                key.map(ToOwned::to_owned),
                stream,
                ts,
            )
        };
        assert_eq!(
            rows,
            vec![
                row("$react", "m.annotation", "@ben:x", "m.reaction", Some("👍"), 2, 11),
                row("$edit", "m.replace", "@ada:x", "m.room.message", None, 3, 12),
                row("$nokey", "m.thread", "@ada:x", "m.room.message", None, 8, 17),
            ],
            "replies, other rooms, unknown parents, malformed and redacted relations are left out"
        );
    }
}
