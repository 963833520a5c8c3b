//! Account data, filters and presence on SQLite.

use async_trait::async_trait;
use ruma::{RoomId, UserId};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use wardline_store::{
    AccountDataChange, AccountDataStore, Away, ChangeTopic, FilterStore, MetaStore, PosRange, Presence, PresenceStore,
    StoreResult,
};
use wardline_types::{StreamPos, Timestamp};

use crate::rows::{corrupt, exec, parse_room, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

#[async_trait]
impl AccountDataStore for SqliteStore {
    async fn put_account_data(
        &self,
        user_id: &UserId,
        room_id: Option<&RoomId>,
        kind: &str,
        content: Value,
    ) -> StoreResult<StreamPos> {
        let (user_id, kind) = (user_id.to_owned(), kind.to_owned());
        let room = room_id.map(|r| r.as_str().to_owned()).unwrap_or_default();
        let content = content.to_string();
        self.writer
            .write(move |w| {
                let pos = w.next_pos();
                w.changed(ChangeTopic::AccountData(user_id.clone()));
                exec(w.tx,
                    "INSERT INTO account_data (user_id, room_id, type, content, stream) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, stream = excluded.stream",
                    params![user_id.as_str(), room, kind, content, pos.0],
                )
                .map_err(backend_err)?;
                Ok(pos)
            })
            .await
    }

    async fn account_data(&self, user_id: &UserId, room_id: Option<&RoomId>, kind: &str) -> StoreResult<Option<Value>> {
        let (user_id, kind) = (user_id.to_owned(), kind.to_owned());
        let room = room_id.map(|r| r.as_str().to_owned()).unwrap_or_default();
        self.readers
            .read(move |c| {
                let text: Option<String> = query_one(
                    c,
                    "SELECT content FROM account_data WHERE user_id = ?1 AND room_id = ?2 AND type = ?3",
                    params![user_id.as_str(), room, kind],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)?;
                text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt("account data", e))).transpose()
            })
            .await
    }

    async fn account_data_changes(&self, user_id: &UserId, range: PosRange) -> StoreResult<Vec<AccountDataChange>> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT room_id, type, content, stream FROM account_data
                         WHERE user_id = ?1 AND stream > ?2 AND stream <= ?3 ORDER BY stream",
                    )
                    .map_err(backend_err)?;
                let rows = stmt
                    .query_map(params![user_id.as_str(), range.after.0, range.upto.0], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    })
                    .map_err(backend_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (room, kind, content, stream) = row.map_err(backend_err)?;
                    out.push(AccountDataChange {
                        room_id: if room.is_empty() { None } else { Some(parse_room(&room)?) },
                        kind,
                        content: serde_json::from_str(&content).map_err(|e| corrupt("account data", e))?,
                        stream: StreamPos(stream),
                    });
                }
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl FilterStore for SqliteStore {
    async fn put_filter(&self, user_id: &UserId, json: &str) -> StoreResult<String> {
        let (user_id, json) = (user_id.to_owned(), json.to_owned());
        self.writer
            .write(move |w| {
                let next: i64 = query_one(
                    w.tx,
                    "SELECT COALESCE(MAX(filter_id), -1) + 1 FROM filters WHERE user_id = ?1",
                    params![user_id.as_str()],
                    |r| r.get(0),
                )
                .map_err(backend_err)?;
                exec(
                    w.tx,
                    "INSERT INTO filters (user_id, filter_id, json) VALUES (?1, ?2, ?3)",
                    params![user_id.as_str(), next, json],
                )
                .map_err(backend_err)?;
                Ok(next.to_string())
            })
            .await
    }

    async fn filter(&self, user_id: &UserId, filter_id: &str) -> StoreResult<Option<String>> {
        let Ok(id) = filter_id.parse::<i64>() else {
            return Ok(None);
        };
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| {
                query_one(
                    c,
                    "SELECT json FROM filters WHERE user_id = ?1 AND filter_id = ?2",
                    params![user_id.as_str(), id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)
            })
            .await
    }
}

/// Columns read by [`presence_from_row`], in order.
const PRESENCE_COLUMNS: &str = "user_id, state, status_msg, last_active_ts, last_sync_ts, away, stream";

type PresenceRow = (String, String, Option<String>, i64, Option<i64>, Option<String>, i64);

fn presence_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PresenceRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn to_presence(row: PresenceRow) -> StoreResult<Presence> {
    let (user, state, status_msg, last, sync, away, stream) = row;
    let away = match away.as_deref() {
        None => None,
        Some("user") => Some(Away::User),
        Some("client") => Some(Away::Client),
        Some(other) => return Err(corrupt("presence away", other)),
    };
    Ok(Presence {
        user_id: parse_user(&user)?,
        state,
        status_msg,
        last_active: ts(last),
        last_sync: sync.map(ts),
        away,
        stream: StreamPos(stream),
    })
}

fn sql_away(a: Option<Away>) -> Option<&'static str> {
    a.map(|a| match a {
        Away::User => "user",
        Away::Client => "client",
    })
}

fn read_presence(c: &rusqlite::Connection, user_id: &str) -> StoreResult<Option<Presence>> {
    let row = query_one(
        c,
        &format!("SELECT {PRESENCE_COLUMNS} FROM presence WHERE user_id = ?1"),
        params![user_id],
        presence_from_row,
    )
    .optional()
    .map_err(backend_err)?;
    row.map(to_presence).transpose()
}

fn read_presence_list(c: &rusqlite::Connection, sql: &str, args: impl rusqlite::Params) -> StoreResult<Vec<Presence>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend_err)?;
    let rows = stmt.query_map(args, presence_from_row).map_err(backend_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(to_presence(row.map_err(backend_err)?)?);
    }
    Ok(out)
}

#[async_trait]
impl PresenceStore for SqliteStore {
    async fn put_presence(&self, p: Presence, expected: Option<Presence>) -> StoreResult<Option<StreamPos>> {
        self.writer
            .write(move |w| {
                // The single writer makes this read and the write below one step.
                if read_presence(w.tx, p.user_id.as_str())? != expected {
                    return Ok(None);
                }
                let pos = w.next_pos();
                w.changed(ChangeTopic::Presence);
                exec(
                    w.tx,
                    "INSERT INTO presence (user_id, state, status_msg, last_active_ts, last_sync_ts, away, stream)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, status_msg = excluded.status_msg,
                        last_active_ts = excluded.last_active_ts, last_sync_ts = excluded.last_sync_ts,
                        away = excluded.away, stream = excluded.stream",
                    params![
                        p.user_id.as_str(),
                        p.state,
                        p.status_msg,
                        sql_ts(p.last_active),
                        p.last_sync.map(sql_ts),
                        sql_away(p.away),
                        pos.0
                    ],
                )
                .map_err(backend_err)?;
                Ok(Some(pos))
            })
            .await
    }

    async fn note_presence(
        &self,
        user_id: &UserId,
        last_sync: Option<Timestamp>,
        last_active: Option<Timestamp>,
    ) -> StoreResult<()> {
        let user_id = user_id.to_owned();
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "UPDATE presence SET
                        last_sync_ts = CASE WHEN ?2 IS NULL THEN last_sync_ts
                                            ELSE MAX(COALESCE(last_sync_ts, ?2), ?2) END,
                        last_active_ts = MAX(last_active_ts, COALESCE(?3, last_active_ts))
                     WHERE user_id = ?1",
                    params![user_id.as_str(), last_sync.map(sql_ts), last_active.map(sql_ts)],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn presence(&self, user_id: &UserId) -> StoreResult<Option<Presence>> {
        let user_id = user_id.to_owned();
        self.readers.read(move |c| read_presence(c, user_id.as_str())).await
    }

    async fn presence_changes(&self, range: PosRange) -> StoreResult<Vec<Presence>> {
        self.readers
            .read(move |c| {
                read_presence_list(
                    c,
                    &format!(
                        "SELECT {PRESENCE_COLUMNS} FROM presence WHERE stream > ?1 AND stream <= ?2 ORDER BY stream"
                    ),
                    params![range.after.0, range.upto.0],
                )
            })
            .await
    }

    async fn presence_expiring(
        &self,
        synced_before: Timestamp,
        active_before: Timestamp,
    ) -> StoreResult<Vec<Presence>> {
        self.readers
            .read(move |c| {
                read_presence_list(
                    c,
                    &format!(
                        "SELECT {PRESENCE_COLUMNS} FROM presence WHERE state != 'offline' AND (
                            last_sync_ts IS NULL OR last_sync_ts < ?1
                            OR (state = 'online' AND last_active_ts < ?2))"
                    ),
                    params![sql_ts(synced_before), sql_ts(active_before)],
                )
            })
            .await
    }
}

#[async_trait]
impl MetaStore for SqliteStore {
    async fn bind_server_name(&self, name: &str) -> StoreResult<String> {
        let name = name.to_owned();
        self.writer
            .write(move |w| {
                exec(w.tx, "INSERT OR IGNORE INTO server_meta (key, value) VALUES ('server_name', ?1)", params![name])
                    .map_err(backend_err)?;
                query_one(w.tx, "SELECT value FROM server_meta WHERE key = 'server_name'", [], |r| r.get(0))
                    .map_err(backend_err)
            })
            .await
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.readers
            .read(move |c| {
                query_one(c, "SELECT value FROM server_meta WHERE key = ?1", params![key], |r| r.get(0))
                    .optional()
                    .map_err(backend_err)
            })
            .await
    }

    async fn put_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.writer
            .write(move |w| {
                exec(w.tx,
                    "INSERT INTO server_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![key, value],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }
}
