//! [`ReceiptStore`] on SQLite: `receipts` (each user's latest per type and thread, served to
//! clients) and `receipt_log` (public read receipts as sent, with their device).

use async_trait::async_trait;
use ruma::{OwnedDeviceId, OwnedUserId, RoomId};
use rusqlite::{OptionalExtension, params};
use serde_json::json;
use wardline_store::{ChangeTopic, PosRange, Receipt, ReceiptStore, StoreResult};
use wardline_types::StreamPos;

use crate::rows::{exec, parse_device, parse_event_id, parse_room, parse_user, query_one, sql_device, sql_ts, ts};
use crate::{SqliteStore, backend_err};

#[async_trait]
impl ReceiptStore for SqliteStore {
    async fn put_receipt(&self, r: Receipt) -> StoreResult<Option<StreamPos>> {
        self.writer
            .write(move |w| {
                let thread = r.thread_id.clone().unwrap_or_default();
                let device = sql_device(r.device_id.as_ref()).to_owned();
                let existing: Option<i64> = query_one(w.tx,
                        "SELECT event_stream FROM receipts
                         WHERE room_id = ?1 AND user_id = ?2 AND receipt_type = ?3 AND thread_id = ?4",
                        params![r.room_id.as_str(), r.user_id.as_str(), r.receipt_type, thread],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(backend_err)?;
                let advances = existing.is_none_or(|e| e < r.event_stream.0);
                // One that does not advance is still logged if its device got something since the
                // device's previous receipt arrived: it may read what that one could not.
                let shown_more = !advances
                    && query_one(
                        w.tx,
                        "SELECT EXISTS (SELECT 1 FROM deliveries
                            WHERE room_id = ?1 AND user_id = ?2 AND device_id = ?3 AND stream <= ?6
                              AND stream > COALESCE((SELECT arrived FROM receipt_log
                                  WHERE room_id = ?1 AND user_id = ?2 AND device_id = ?3 AND receipt_type = ?4
                                    AND thread_id = ?5 ORDER BY stream DESC LIMIT 1), 0))",
                        params![r.room_id.as_str(), r.user_id.as_str(), device, r.receipt_type, thread, r.arrived.0],
                        |row| row.get::<_, bool>(0),
                    )
                    .map_err(backend_err)?;
                if !advances && !shown_more {
                    return Ok(None);
                }
                let pos = w.next_pos();
                w.changed(ChangeTopic::RoomReceipts(r.room_id.clone()));
                if advances {
                    w.changed(ChangeTopic::ReceiptsBy(r.user_id.clone()));
                    exec(w.tx,
                        "INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, event_stream, ts, stream)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE SET
                            event_id = excluded.event_id, event_stream = excluded.event_stream,
                            ts = excluded.ts, stream = excluded.stream",
                        params![
                            r.room_id.as_str(),
                            r.user_id.as_str(),
                            r.receipt_type,
                            thread,
                            r.event_id.as_str(),
                            r.event_stream.0,
                            sql_ts(r.ts),
                            pos.0
                        ],
                    )
                    .map_err(backend_err)?;
                }
                exec(w.tx,
                    "INSERT INTO receipt_log (stream, room_id, user_id, receipt_type, thread_id, event_id, event_stream, ts,
                                              device_id, arrived)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        pos.0,
                        r.room_id.as_str(),
                        r.user_id.as_str(),
                        r.receipt_type,
                        thread,
                        r.event_id.as_str(),
                        r.event_stream.0,
                        sql_ts(r.ts),
                        device,
                        r.arrived.0
                    ],
                )
                .map_err(backend_err)?;
                Ok(Some(pos))
            })
            .await
    }

    async fn receipts(&self, room_id: &RoomId, range: PosRange) -> StoreResult<Vec<Receipt>> {
        let room_id = room_id.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT room_id, user_id, receipt_type, thread_id, event_id, event_stream, ts, stream, '', 0
                         FROM receipts WHERE room_id = ?1 AND stream > ?2 AND stream <= ?3 ORDER BY stream",
                    )
                    .map_err(backend_err)?;
                read_receipts(&mut stmt, params![room_id.as_str(), range.after.0, range.upto.0])
            })
            .await
    }

    async fn read_receipt_log(&self, room_id: &RoomId, range: PosRange) -> StoreResult<Vec<Receipt>> {
        let room_id = room_id.to_owned();
        self.readers
            .read(move |c| {
                // By position first (the table's key): a window of the stream is short.
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {LOG_COLUMNS} FROM receipt_log r
                         WHERE r.stream > ?2 AND r.stream <= ?3 AND r.room_id = ?1 AND r.receipt_type = 'm.read'
                         ORDER BY r.stream"
                    ))
                    .map_err(backend_err)?;
                read_receipts(&mut stmt, params![room_id.as_str(), range.after.0, range.upto.0])
            })
            .await
    }

    async fn latest_read_receipts(
        &self,
        room_id: &RoomId,
        keys: &[(OwnedUserId, Option<OwnedDeviceId>, Option<String>)],
        at: StreamPos,
    ) -> StoreResult<Vec<Receipt>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let room_id = room_id.to_owned();
        let keys = json!(
            keys.iter()
                .map(|(u, d, t)| json!([u.as_str(), sql_device(d.as_ref()), t.as_deref().unwrap_or_default()]))
                .collect::<Vec<_>>()
        )
        .to_string();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {LOG_COLUMNS} FROM json_each(?2) k CROSS JOIN receipt_log r
                         WHERE r.stream = (SELECT MAX(x.stream) FROM receipt_log x
                             WHERE x.room_id = ?1 AND x.user_id = k.value ->> 0 AND x.device_id = k.value ->> 1
                               AND x.receipt_type = 'm.read' AND x.thread_id = k.value ->> 2 AND x.stream <= ?3)
                         ORDER BY r.stream"
                    ))
                    .map_err(backend_err)?;
                read_receipts(&mut stmt, params![room_id.as_str(), keys, at.0])
            })
            .await
    }

    async fn read_receipts_since(
        &self,
        room_id: &RoomId,
        users: &[(OwnedUserId, StreamPos)],
        from_event: StreamPos,
    ) -> StoreResult<Vec<Receipt>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let room_id = room_id.to_owned();
        let users = json!(users.iter().map(|(u, p)| json!([u.as_str(), p.0])).collect::<Vec<_>>()).to_string();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {LOG_COLUMNS} FROM json_each(?2) u CROSS JOIN receipt_log r
                           ON r.room_id = ?1 AND r.user_id = u.value ->> 0 AND r.receipt_type = 'm.read'
                          AND r.stream > u.value ->> 1
                         WHERE r.event_stream >= ?3
                         ORDER BY r.stream"
                    ))
                    .map_err(backend_err)?;
                read_receipts(&mut stmt, params![room_id.as_str(), users, from_event.0])
            })
            .await
    }
}

/// Columns of `receipt_log` (aliased `r`) read by [`read_receipts`], in order.
const LOG_COLUMNS: &str = "r.room_id, r.user_id, r.receipt_type, r.thread_id, r.event_id, r.event_stream, r.ts, r.stream, r.device_id, r.arrived";

/// Runs a query selecting [`LOG_COLUMNS`] (or the same from `receipts`).
fn read_receipts(stmt: &mut rusqlite::CachedStatement<'_>, p: impl rusqlite::Params) -> StoreResult<Vec<Receipt>> {
    type Row = (String, String, String, String, String, i64, i64, i64, String, i64);
    let rows = stmt
        .query_map(p, |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })
        .map_err(backend_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (room, user, kind, thread, event, event_stream, t, stream, device, arrived): Row =
            row.map_err(backend_err)?;
        out.push(Receipt {
            room_id: parse_room(&room)?,
            user_id: parse_user(&user)?,
            receipt_type: kind,
            thread_id: (!thread.is_empty()).then_some(thread),
            event_id: parse_event_id(&event)?,
            event_stream: StreamPos(event_stream),
            ts: ts(t),
            stream: StreamPos(stream),
            device_id: parse_device(&device),
            arrived: StreamPos(arrived),
        });
    }
    Ok(out)
}
