//! [`DeliveryStore`] on SQLite: per member, non-overlapping intervals of a room's log.

use async_trait::async_trait;
use ruma::{OwnedUserId, RoomId, UserId};
use rusqlite::{Connection, params};
use wardline_store::{ChangeTopic, Delivery, DeliveryStore, PosRange, StoreResult};
use wardline_types::StreamPos;

use crate::rows::{exec, parse_room, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

/// Columns read by [`read_deliveries`], in order.
const COLUMNS: &str = "room_id, user_id, first, last, ts, stream";

/// The member's intervals that cover a position in `lo..=hi`: those starting in it, and the one
/// starting before it if it reaches into it (intervals never overlap, so there is at most one).
const OVERLAPPING: &str = "room_id = ?1 AND user_id = ?2 AND first <= ?4 AND last >= ?3
     AND first >= COALESCE(
        (SELECT MAX(first) FROM deliveries WHERE room_id = ?1 AND user_id = ?2 AND first <= ?3), ?3)";

fn read_deliveries(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<Delivery>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend_err)?;
    let rows = stmt
        .query_map(p, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .map_err(backend_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (room, user, first, last, t, stream) = row.map_err(backend_err)?;
        out.push(Delivery {
            room_id: parse_room(&room)?,
            user_id: parse_user(&user)?,
            first: StreamPos(first),
            last: StreamPos(last),
            ts: ts(t),
            stream: StreamPos(stream),
        });
    }
    Ok(out)
}

/// The parts of `first..=last` no interval of the member covers yet.
fn gaps(c: &Connection, d: &Delivery) -> StoreResult<Vec<(i64, i64)>> {
    let mut stmt = c
        .prepare_cached(&format!("SELECT first, last FROM deliveries WHERE {OVERLAPPING} ORDER BY first"))
        .map_err(backend_err)?;
    let covered = stmt
        .query_map(params![d.room_id.as_str(), d.user_id.as_str(), d.first.0, d.last.0], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(backend_err)?;
    let mut out = Vec::new();
    let mut cursor = d.first.0;
    for row in covered {
        let (first, last) = row.map_err(backend_err)?;
        if first > cursor {
            out.push((cursor, first - 1));
        }
        cursor = cursor.max(last.saturating_add(1));
    }
    if cursor <= d.last.0 {
        out.push((cursor, d.last.0));
    }
    Ok(out)
}

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn put_deliveries(&self, deliveries: Vec<Delivery>) -> StoreResult<Vec<Delivery>> {
        self.writer
            .write(move |w| {
                let mut recorded = Vec::new();
                for d in deliveries.into_iter().filter(|d| d.first <= d.last) {
                    for (lo, hi) in gaps(w.tx, &d)? {
                        // Only the room's own events in the gap: the interval is cut to them, and a
                        // gap holding none of them records nothing.
                        let (first, last): (Option<i64>, Option<i64>) = query_one(
                            w.tx,
                            "SELECT MIN(stream), MAX(stream) FROM events WHERE room_id = ?1 AND stream >= ?2 AND stream <= ?3",
                            params![d.room_id.as_str(), lo, hi],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .map_err(backend_err)?;
                        let (Some(first), Some(last)) = (first, last) else { continue };
                        let pos = w.next_pos();
                        w.changed(ChangeTopic::RoomDeliveries(d.room_id.clone()));
                        exec(
                            w.tx,
                            "INSERT INTO deliveries (room_id, user_id, first, last, ts, stream)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            params![d.room_id.as_str(), d.user_id.as_str(), first, last, sql_ts(d.ts), pos.0],
                        )
                        .map_err(backend_err)?;
                        recorded.push(Delivery {
                            first: StreamPos(first),
                            last: StreamPos(last),
                            stream: pos,
                            ..d.clone()
                        });
                    }
                }
                Ok(recorded)
            })
            .await
    }

    async fn deliveries(&self, room_id: &RoomId, users: &[OwnedUserId], span: PosRange) -> StoreResult<Vec<Delivery>> {
        if span.is_empty() || users.is_empty() {
            return Ok(Vec::new());
        }
        let (room_id, users) = (room_id.to_owned(), users.to_vec());
        self.readers
            .read(move |c| {
                let sql = format!("SELECT {COLUMNS} FROM deliveries WHERE {OVERLAPPING} ORDER BY first");
                let mut out = Vec::new();
                for user in &users {
                    out.extend(read_deliveries(
                        c,
                        &sql,
                        params![room_id.as_str(), user.as_str(), span.after.0 + 1, span.upto.0],
                    )?);
                }
                Ok(out)
            })
            .await
    }

    async fn delivery_changes(
        &self,
        room_id: &RoomId,
        user: Option<&UserId>,
        range: PosRange,
    ) -> StoreResult<Vec<Delivery>> {
        let (room_id, user) = (room_id.to_owned(), user.map(ToOwned::to_owned));
        self.readers
            .read(move |c| match &user {
                Some(u) => read_deliveries(
                    c,
                    &format!(
                        "SELECT {COLUMNS} FROM deliveries
                         WHERE room_id = ?1 AND user_id = ?2 AND stream > ?3 AND stream <= ?4 ORDER BY stream"
                    ),
                    params![room_id.as_str(), u.as_str(), range.after.0, range.upto.0],
                ),
                None => read_deliveries(
                    c,
                    &format!(
                        "SELECT {COLUMNS} FROM deliveries WHERE room_id = ?1 AND stream > ?2 AND stream <= ?3 ORDER BY stream"
                    ),
                    params![room_id.as_str(), range.after.0, range.upto.0],
                ),
            })
            .await
    }
}
