//! [`ReceiptStore`] on SQLite.

use async_trait::async_trait;
use ruma::{RoomId, UserId};
use rusqlite::{OptionalExtension, params};
use wardline_store::{ChangeTopic, PosRange, Receipt, ReceiptStore, StoreResult};
use wardline_types::{StreamPos, Timestamp};

use crate::rows::{exec, parse_event_id, parse_room, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

#[async_trait]
impl ReceiptStore for SqliteStore {
    async fn put_receipt(&self, r: Receipt) -> StoreResult<Option<StreamPos>> {
        self.writer
            .write(move |w| {
                let thread = r.thread_id.clone().unwrap_or_default();
                let existing: Option<i64> = query_one(w.tx,
                        "SELECT event_stream FROM receipts
                         WHERE room_id = ?1 AND user_id = ?2 AND receipt_type = ?3 AND thread_id = ?4",
                        params![r.room_id.as_str(), r.user_id.as_str(), r.receipt_type, thread],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(backend_err)?;
                if existing.is_some_and(|e| e >= r.event_stream.0) {
                    return Ok(None);
                }
                let pos = w.next_pos();
                w.changed(ChangeTopic::RoomReceipts(r.room_id.clone()));
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
                exec(w.tx,
                    "INSERT INTO receipt_log (stream, room_id, user_id, receipt_type, thread_id, event_id, event_stream, ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        pos.0,
                        r.room_id.as_str(),
                        r.user_id.as_str(),
                        r.receipt_type,
                        thread,
                        r.event_id.as_str(),
                        r.event_stream.0,
                        sql_ts(r.ts)
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
                    .prepare_cached(&format!(
                        "SELECT {LOG_COLUMNS} FROM receipts
                         WHERE room_id = ?1 AND stream > ?2 AND stream <= ?3 ORDER BY stream"
                    ))
                    .map_err(backend_err)?;
                read_receipts(&mut stmt, params![room_id.as_str(), range.after.0, range.upto.0])
            })
            .await
    }

    async fn read_receipt_history(
        &self,
        room_id: &RoomId,
        user_id: &UserId,
        from: StreamPos,
        not_before: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Receipt>> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {LOG_COLUMNS} FROM receipt_log
                         WHERE room_id = ?1 AND user_id = ?2 AND receipt_type = 'm.read' AND ts >= ?4
                           AND event_stream >= ?3 AND thread_id IN ('', 'main')
                         ORDER BY ts, stream LIMIT ?5"
                    ))
                    .map_err(backend_err)?;
                read_receipts(&mut stmt, params![room_id.as_str(), user_id.as_str(), from.0, sql_ts(not_before), limit])
            })
            .await
    }

    async fn read_receipt_as_of(
        &self,
        room_id: &RoomId,
        user_id: &UserId,
        at: StreamPos,
    ) -> StoreResult<Option<Receipt>> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {LOG_COLUMNS} FROM receipt_log
                         WHERE room_id = ?1 AND user_id = ?2 AND receipt_type = 'm.read' AND stream <= ?3
                           AND thread_id IN ('', 'main')
                         ORDER BY stream DESC LIMIT 1"
                    ))
                    .map_err(backend_err)?;
                Ok(read_receipts(&mut stmt, params![room_id.as_str(), user_id.as_str(), at.0])?.pop())
            })
            .await
    }
}

/// Columns read by [`read_receipts`] from `receipts` or `receipt_log`, in order.
const LOG_COLUMNS: &str = "room_id, user_id, receipt_type, thread_id, event_id, event_stream, ts, stream";

/// Runs a query selecting [`LOG_COLUMNS`].
fn read_receipts(stmt: &mut rusqlite::CachedStatement<'_>, p: impl rusqlite::Params) -> StoreResult<Vec<Receipt>> {
    type Row = (String, String, String, String, String, i64, i64, i64);
    let rows = stmt
        .query_map(p, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)))
        .map_err(backend_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (room, user, kind, thread, event, event_stream, t, stream): Row = row.map_err(backend_err)?;
        out.push(Receipt {
            room_id: parse_room(&room)?,
            user_id: parse_user(&user)?,
            receipt_type: kind,
            thread_id: (!thread.is_empty()).then_some(thread),
            event_id: parse_event_id(&event)?,
            event_stream: StreamPos(event_stream),
            ts: ts(t),
            stream: StreamPos(stream),
        });
    }
    Ok(out)
}
