//! [`BroadcastStore`] on SQLite: `broadcasts` (migration 0022). The transaction id is unique
//! per sender in the table, and a reminder is claimed by a conditional update in the single
//! writer.

use async_trait::async_trait;
use ruma::{RoomId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{Broadcast, BroadcastStore, StoreError, StoreResult};
use wardline_types::Timestamp;
use wardline_types::priority::Level;

use crate::rows::{exec, parse_event_id, parse_room, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const COLUMNS: &str =
    "room_id, event_id, sender, txn_id, audience, title, level, acknowledge, sent_ts, recipients, reminded_ts";

type Row = (String, String, String, String, String, String, String, bool, i64, i64, Option<i64>);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
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
        r.get(10)?,
    ))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("broadcast: bad {what}"))
}

fn to_broadcast(r: Row) -> StoreResult<Broadcast> {
    let (room, event, sender, txn_id, audience, title, level, acknowledge, sent, recipients, reminded) = r;
    Ok(Broadcast {
        room_id: parse_room(&room)?,
        event_id: parse_event_id(&event)?,
        sender: parse_user(&sender)?,
        txn_id,
        audience: serde_json::from_str(&audience).map_err(|_| corrupt("audience"))?,
        title,
        level: Level::parse(&level).ok_or_else(|| corrupt("level"))?,
        acknowledge,
        sent: ts(sent),
        recipients: u64::try_from(recipients).map_err(|_| corrupt("recipients"))?,
        reminded: reminded.map(ts),
    })
}

fn read_one(c: &Connection, filter: &str, p: impl rusqlite::Params) -> StoreResult<Option<Broadcast>> {
    let r = query_one(c, &format!("SELECT {COLUMNS} FROM broadcasts WHERE {filter}"), p, row)
        .optional()
        .map_err(backend_err)?;
    r.map(to_broadcast).transpose()
}

#[async_trait]
impl BroadcastStore for SqliteStore {
    async fn insert_broadcast(&self, b: Broadcast) -> StoreResult<bool> {
        let audience = serde_json::to_string(&b.audience).map_err(|_| corrupt("audience"))?;
        let recipients = i64::try_from(b.recipients).map_err(|_| corrupt("recipients"))?;
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "INSERT INTO broadcasts (room_id, event_id, sender, txn_id, audience, title, level, acknowledge,
                                             sent_ts, recipients, reminded_ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING",
                    params![
                        b.room_id.as_str(),
                        b.event_id.as_str(),
                        b.sender.as_str(),
                        b.txn_id,
                        audience,
                        b.title,
                        b.level.as_str(),
                        b.acknowledge,
                        sql_ts(b.sent),
                        recipients,
                        b.reminded.map(sql_ts),
                    ],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn broadcast(&self, room: &RoomId) -> StoreResult<Option<Broadcast>> {
        let room = room.to_owned();
        self.readers.read(move |c| read_one(c, "room_id = ?1", params![room.as_str()])).await
    }

    async fn broadcast_for_txn(&self, sender: &UserId, txn_id: &str) -> StoreResult<Option<Broadcast>> {
        let (sender, txn_id) = (sender.to_owned(), txn_id.to_owned());
        self.readers.read(move |c| read_one(c, "sender = ?1 AND txn_id = ?2", params![sender.as_str(), txn_id])).await
    }

    async fn broadcasts_by(&self, sender: &UserId, limit: usize) -> StoreResult<Vec<Broadcast>> {
        let sender = sender.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM broadcasts WHERE sender = ?1 ORDER BY sent_ts DESC, room_id LIMIT ?2"
                    ))
                    .map_err(backend_err)?;
                let rows: Vec<Row> = stmt
                    .query_map(params![sender.as_str(), limit], row)
                    .map_err(backend_err)?
                    .collect::<Result<_, _>>()
                    .map_err(backend_err)?;
                rows.into_iter().map(to_broadcast).collect()
            })
            .await
    }

    async fn claim_reminder(
        &self,
        room: &RoomId,
        now: Timestamp,
        not_after: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        let room = room.to_owned();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE broadcasts SET reminded_ts = ?2
                     WHERE room_id = ?1 AND (reminded_ts IS NULL OR reminded_ts <= ?3)",
                    params![room.as_str(), sql_ts(now), sql_ts(not_after)],
                )
                .map_err(backend_err)?;
                if n == 1 {
                    return Ok(None);
                }
                let last: Option<Option<i64>> = query_one(
                    w.tx,
                    "SELECT reminded_ts FROM broadcasts WHERE room_id = ?1",
                    params![room.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)?;
                match last {
                    Some(Some(t)) => Ok(Some(ts(t))),
                    _ => Err(StoreError::NotFound),
                }
            })
            .await
    }
}
