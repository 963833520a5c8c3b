//! [`DeliveryStore`] on SQLite: per member and device, non-overlapping intervals of a room's log.
//!
//! Lists of members are passed to SQLite as one JSON array (`json_each`), so a question about a
//! whole ward is one statement; `CROSS JOIN` keeps the list as the outer loop, each member an
//! index seek.

use async_trait::async_trait;
use ruma::{OwnedDeviceId, OwnedUserId, RoomId};
use rusqlite::{Connection, params};
use serde_json::json;
use wardline_store::{ChangeTopic, Delivery, DeliveryStore, PosRange, StoreResult};
use wardline_types::StreamPos;

use crate::rows::{exec, parse_device, parse_room, parse_user, query_one, sql_device, sql_ts, ts};
use crate::{SqliteStore, backend_err};

/// Columns read by [`read_deliveries`], in order, of the table aliased `x`.
const COLUMNS: &str = "x.room_id, x.user_id, x.device_id, x.first, x.last, x.ts, x.stream";

/// The device's intervals (`?1` room, `?2` member, `?3` device) that cover a position in
/// `?4..=?5`: those starting in it, and the one starting before it if it reaches into it
/// (intervals never overlap, so there is at most one).
const OVERLAPPING: &str = "x.room_id = ?1 AND x.user_id = ?2 AND x.device_id = ?3 AND x.first <= ?5 AND x.last >= ?4
     AND x.first >= COALESCE((SELECT MAX(first) FROM deliveries
        WHERE room_id = ?1 AND user_id = ?2 AND device_id = ?3 AND first <= ?4), ?4)";

/// The intervals of every device of the members in the JSON array `?2` that cover a position in
/// `?3..=?4`. The devices are found by skipping through the index (one seek per device), and
/// each device's intervals as in [`OVERLAPPING`].
const COVERING: &str = "WITH RECURSIVE devs(user_id, device_id) AS (
        SELECT u.value, (SELECT device_id FROM deliveries WHERE room_id = ?1 AND user_id = u.value
                         ORDER BY device_id LIMIT 1)
          FROM json_each(?2) u
        UNION ALL
        SELECT devs.user_id, (SELECT d.device_id FROM deliveries d
                              WHERE d.room_id = ?1 AND d.user_id = devs.user_id AND d.device_id > devs.device_id
                              ORDER BY d.device_id LIMIT 1)
          FROM devs WHERE devs.device_id IS NOT NULL)
     SELECT x.room_id, x.user_id, x.device_id, x.first, x.last, x.ts, x.stream
       FROM devs CROSS JOIN deliveries x
         ON x.room_id = ?1 AND x.user_id = devs.user_id AND x.device_id = devs.device_id
      WHERE x.first <= ?4 AND x.last >= ?3
        AND x.first >= COALESCE((SELECT MAX(y.first) FROM deliveries y
            WHERE y.room_id = ?1 AND y.user_id = devs.user_id AND y.device_id = devs.device_id AND y.first <= ?3), ?3)
      ORDER BY x.user_id, x.device_id, x.first";

fn read_deliveries(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<Delivery>> {
    type Row = (String, String, String, i64, i64, i64, i64);
    let mut stmt = c.prepare_cached(sql).map_err(backend_err)?;
    let rows = stmt
        .query_map(p, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
        .map_err(backend_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (room, user, device, first, last, t, stream): Row = row.map_err(backend_err)?;
        out.push(Delivery {
            room_id: parse_room(&room)?,
            user_id: parse_user(&user)?,
            device_id: parse_device(&device),
            first: StreamPos(first),
            last: StreamPos(last),
            ts: ts(t),
            stream: StreamPos(stream),
        });
    }
    Ok(out)
}

/// The parts of `first..=last` no interval of the member's device covers yet.
fn gaps(c: &Connection, d: &Delivery) -> StoreResult<Vec<(i64, i64)>> {
    let mut stmt = c
        .prepare_cached(&format!("SELECT x.first, x.last FROM deliveries x WHERE {OVERLAPPING} ORDER BY x.first"))
        .map_err(backend_err)?;
    let device = sql_device(d.device_id.as_ref());
    let covered = stmt
        .query_map(params![d.room_id.as_str(), d.user_id.as_str(), device, d.first.0, d.last.0], |r| {
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
                            "INSERT INTO deliveries (stream, room_id, user_id, device_id, first, last, ts)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            params![
                                pos.0,
                                d.room_id.as_str(),
                                d.user_id.as_str(),
                                sql_device(d.device_id.as_ref()),
                                first,
                                last,
                                sql_ts(d.ts)
                            ],
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
        let room_id = room_id.to_owned();
        let users = json!(users.iter().map(|u| u.as_str()).collect::<Vec<_>>()).to_string();
        self.readers
            .read(move |c| {
                read_deliveries(c, COVERING, params![room_id.as_str(), users, span.after.0 + 1, span.upto.0])
            })
            .await
    }

    async fn delivery_changes(
        &self,
        room_id: &RoomId,
        range: PosRange,
        starting_by: StreamPos,
    ) -> StoreResult<Vec<Delivery>> {
        let room_id = room_id.to_owned();
        self.readers
            .read(move |c| {
                read_deliveries(
                    c,
                    &format!(
                        "SELECT {COLUMNS} FROM deliveries x
                         WHERE x.room_id = ?1 AND x.stream > ?2 AND x.stream <= ?3 AND x.first <= ?4 ORDER BY x.stream"
                    ),
                    params![room_id.as_str(), range.after.0, range.upto.0, starting_by.0],
                )
            })
            .await
    }

    async fn device_delivery_changes(
        &self,
        room_id: &RoomId,
        windows: &[(OwnedUserId, Option<OwnedDeviceId>, PosRange)],
    ) -> StoreResult<Vec<Delivery>> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let room_id = room_id.to_owned();
        let windows = json!(
            windows
                .iter()
                .map(|(u, d, r)| json!([u.as_str(), sql_device(d.as_ref()), r.after.0, r.upto.0]))
                .collect::<Vec<_>>()
        )
        .to_string();
        self.readers
            .read(move |c| {
                read_deliveries(
                    c,
                    &format!(
                        "SELECT DISTINCT {COLUMNS} FROM json_each(?2) w CROSS JOIN deliveries x
                           ON x.room_id = ?1 AND x.user_id = w.value ->> 0 AND x.device_id IN (w.value ->> 1, '')
                          AND x.stream > w.value ->> 2 AND x.stream <= w.value ->> 3
                         ORDER BY x.stream"
                    ),
                    params![room_id.as_str(), windows],
                )
            })
            .await
    }
}
