//! [`PushStore`] on SQLite: `pushers`, `push_queue` and `push_vapid` (migration 0021). A pusher
//! ends with its device by a trigger on `devices`, so every way a session ends removes it.
//! Claims are conditional updates in the single writer, so two senders never both take one
//! notification while its lease runs.

use async_trait::async_trait;
use ruma::{OwnedUserId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{
    NewPush, PushOutcome, PushStore, PushTally, Pusher, PusherKind, QueuedPush, StoreError, StoreResult,
};
use wardline_types::priority::Level;
use wardline_types::{StreamPos, Timestamp};

use crate::rows::{exec, json_list, parse_device, parse_event_id, parse_room, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const PUSHER_COLUMNS: &str = "user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, \
                              lang, data, device_id, created_ts";

const QUEUE_COLUMNS: &str =
    "id, user_id, app_id, pushkey, event_id, room_id, level, highlight, unread, escalation, attempts, due_ts";

/// The queue's order: emergency, then urgent, then routine (each oldest first).
const LEVEL_RANK: &str = "CASE level WHEN 'emergency' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END";

/// [`LEVEL_RANK`] of a level.
fn rank(level: Level) -> u8 {
    match level {
        Level::Emergency => 0,
        Level::Urgent => 1,
        Level::Routine => 2,
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("push: bad {what}"))
}

type PusherRow = (String, String, String, String, String, String, Option<String>, String, String, Option<String>, i64);

fn pusher_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PusherRow> {
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

fn to_pusher(r: PusherRow) -> StoreResult<Pusher> {
    let (user, app_id, pushkey, kind, app_name, device_name, profile_tag, lang, data, device, created) = r;
    let data = match serde_json::from_str(&data) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => return Err(corrupt("pusher data")),
    };
    Ok(Pusher {
        user_id: parse_user(&user)?,
        app_id,
        pushkey,
        kind: PusherKind::parse(&kind).ok_or_else(|| corrupt("pusher kind"))?,
        app_display_name: app_name,
        device_display_name: device_name,
        profile_tag,
        lang,
        data,
        device_id: device.as_deref().and_then(parse_device),
        created: ts(created),
    })
}

fn read_pushers(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<Pusher>> {
    let rows: Vec<PusherRow> =
        c.prepare_cached(sql).and_then(|mut s| s.query_map(p, pusher_row)?.collect()).map_err(backend_err)?;
    rows.into_iter().map(to_pusher).collect()
}

type QueueRow = (i64, String, String, String, String, String, String, bool, i64, Option<String>, i64, i64);

fn queue_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueueRow> {
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
        r.get(11)?,
    ))
}

fn to_queued(r: QueueRow) -> StoreResult<QueuedPush> {
    let (id, user, app_id, pushkey, event, room, level, highlight, unread, escalation, attempts, due) = r;
    Ok(QueuedPush {
        id,
        push: NewPush {
            user_id: parse_user(&user)?,
            app_id,
            pushkey,
            event_id: parse_event_id(&event)?,
            room_id: parse_room(&room)?,
            level: Level::parse(&level).ok_or_else(|| corrupt("level"))?,
            highlight,
            unread: u64::try_from(unread).unwrap_or(0),
            escalation: escalation.as_deref().map(parse_event_id).transpose()?,
            due: ts(due),
        },
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}

fn tally(c: &Connection, event: &str, user: &str) -> StoreResult<PushTally> {
    query_one(
        c,
        "SELECT COALESCE(SUM(outcome IS NULL), 0), COALESCE(SUM(outcome = 'sent'), 0),
                COALESCE(SUM(outcome = 'failed'), 0)
         FROM push_queue WHERE event_id = ?1 AND user_id = ?2",
        params![event, user],
        |r| {
            Ok(PushTally {
                pending: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                sent: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                failed: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            })
        },
    )
    .map_err(backend_err)
}

#[async_trait]
impl PushStore for SqliteStore {
    async fn set_pusher(&self, p: Pusher, append: bool) -> StoreResult<Vec<OwnedUserId>> {
        let data = serde_json::Value::Object(p.data.clone()).to_string();
        self.writer
            .write(move |w| {
                let mut removed: Vec<String> = Vec::new();
                if !append {
                    removed =
                        w.tx.prepare_cached(
                            "DELETE FROM pushers WHERE app_id = ?1 AND pushkey = ?2 AND user_id != ?3
                             RETURNING user_id",
                        )
                        .and_then(|mut s| {
                            s.query_map(params![p.app_id, p.pushkey, p.user_id.as_str()], |r| r.get(0))?.collect()
                        })
                        .map_err(backend_err)?;
                }
                exec(
                    w.tx,
                    &format!(
                        "INSERT INTO pushers ({PUSHER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                         ON CONFLICT (app_id, pushkey, user_id) DO UPDATE SET kind = excluded.kind,
                            app_display_name = excluded.app_display_name,
                            device_display_name = excluded.device_display_name,
                            profile_tag = excluded.profile_tag, lang = excluded.lang, data = excluded.data,
                            device_id = excluded.device_id, created_ts = excluded.created_ts"
                    ),
                    params![
                        p.user_id.as_str(),
                        p.app_id,
                        p.pushkey,
                        p.kind.as_str(),
                        p.app_display_name,
                        p.device_display_name,
                        p.profile_tag,
                        p.lang,
                        data,
                        p.device_id.as_ref().map(|d| d.as_str()),
                        sql_ts(p.created),
                    ],
                )
                .map_err(backend_err)?;
                removed.sort();
                removed.iter().map(|u| parse_user(u)).collect()
            })
            .await
    }

    async fn delete_pusher(&self, user_id: &UserId, app_id: &str, pushkey: &str) -> StoreResult<bool> {
        let (user, app_id, pushkey) = (user_id.to_owned(), app_id.to_owned(), pushkey.to_owned());
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "DELETE FROM pushers WHERE user_id = ?1 AND app_id = ?2 AND pushkey = ?3",
                    params![user.as_str(), app_id, pushkey],
                )
                .map(|n| n > 0)
                .map_err(backend_err)
            })
            .await
    }

    async fn pushers(&self, user_id: &UserId) -> StoreResult<Vec<Pusher>> {
        let user = user_id.to_owned();
        self.readers
            .read(move |c| {
                read_pushers(
                    c,
                    &format!(
                        "SELECT {PUSHER_COLUMNS} FROM pushers WHERE user_id = ?1 ORDER BY created_ts, app_id, pushkey"
                    ),
                    params![user.as_str()],
                )
            })
            .await
    }

    async fn pushers_of(&self, users: &[OwnedUserId]) -> StoreResult<Vec<Pusher>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let list = json_list(users);
        self.readers
            .read(move |c| {
                read_pushers(
                    c,
                    &format!(
                        "SELECT {PUSHER_COLUMNS} FROM pushers WHERE user_id IN (SELECT value FROM json_each(?1))
                         ORDER BY user_id, created_ts, app_id, pushkey"
                    ),
                    params![list],
                )
            })
            .await
    }

    async fn pusher(&self, user_id: &UserId, app_id: &str, pushkey: &str) -> StoreResult<Option<Pusher>> {
        let (user, app_id, pushkey) = (user_id.to_owned(), app_id.to_owned(), pushkey.to_owned());
        self.readers
            .read(move |c| {
                query_one(
                    c,
                    &format!(
                        "SELECT {PUSHER_COLUMNS} FROM pushers WHERE user_id = ?1 AND app_id = ?2 AND pushkey = ?3"
                    ),
                    params![user.as_str(), app_id, pushkey],
                    pusher_row,
                )
                .optional()
                .map_err(backend_err)?
                .map(to_pusher)
                .transpose()
            })
            .await
    }

    async fn queue_pushes(&self, pushes: Vec<NewPush>, cursor: &str, upto: StreamPos) -> StoreResult<()> {
        let cursor = cursor.to_owned();
        self.writer
            .write(move |w| {
                for p in &pushes {
                    exec(
                        w.tx,
                        "INSERT OR IGNORE INTO push_queue (user_id, app_id, pushkey, event_id, room_id, level,
                            highlight, unread, escalation, due_ts)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        params![
                            p.user_id.as_str(),
                            p.app_id,
                            p.pushkey,
                            p.event_id.as_str(),
                            p.room_id.as_str(),
                            p.level.as_str(),
                            p.highlight,
                            i64::try_from(p.unread).unwrap_or(i64::MAX),
                            p.escalation.as_ref().map(|e| e.as_str()),
                            sql_ts(p.due),
                        ],
                    )
                    .map_err(backend_err)?;
                }
                exec(
                    w.tx,
                    "INSERT INTO background_cursors (name, pos) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET pos = MAX(pos, excluded.pos)",
                    params![cursor, upto.0],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn claim_due_pushes(
        &self,
        now: Timestamp,
        lease_from: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<QueuedPush>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.writer
            .write(move |w| {
                let rows: Vec<QueueRow> =
                    w.tx.prepare_cached(&format!(
                        "UPDATE push_queue SET claimed_ts = ?1, attempts = attempts + 1
                         WHERE id IN (SELECT id FROM push_queue
                                      WHERE outcome IS NULL AND due_ts <= ?1
                                        AND (claimed_ts IS NULL OR claimed_ts < ?2)
                                      ORDER BY {LEVEL_RANK}, due_ts, id LIMIT ?3)
                         RETURNING {QUEUE_COLUMNS}"
                    ))
                    .and_then(|mut s| {
                        s.query_map(params![sql_ts(now), sql_ts(lease_from), limit], queue_row)?.collect()
                    })
                    .map_err(backend_err)?;
                let mut claimed = rows.into_iter().map(to_queued).collect::<StoreResult<Vec<_>>>()?;
                claimed.sort_by_key(|q| (rank(q.push.level), q.push.due, q.id));
                Ok(claimed)
            })
            .await
    }

    async fn next_push_due(&self) -> StoreResult<Option<Timestamp>> {
        self.readers
            .read(|c| {
                query_one(c, "SELECT MIN(due_ts) FROM push_queue WHERE outcome IS NULL", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })
                .map(|v| v.map(ts))
                .map_err(backend_err)
            })
            .await
    }

    async fn retry_push(&self, id: i64, due: Timestamp) -> StoreResult<()> {
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "UPDATE push_queue SET due_ts = ?2, claimed_ts = NULL WHERE id = ?1 AND outcome IS NULL",
                    params![id, sql_ts(due)],
                )
                .map(|_| ())
                .map_err(backend_err)
            })
            .await
    }

    async fn finish_push(&self, id: i64, outcome: PushOutcome, reason: &str, now: Timestamp) -> StoreResult<PushTally> {
        let reason = reason.to_owned();
        self.writer
            .write(move |w| {
                let outcome = match outcome {
                    PushOutcome::Sent => "sent",
                    PushOutcome::Failed => "failed",
                };
                let finished: Option<(String, String)> = query_one(
                    w.tx,
                    "UPDATE push_queue SET outcome = ?2, reason = ?3, done_ts = ?4, claimed_ts = NULL
                     WHERE id = ?1 AND outcome IS NULL RETURNING event_id, user_id",
                    params![id, outcome, reason, sql_ts(now)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend_err)?;
                match finished {
                    Some((event, user)) => tally(w.tx, &event, &user),
                    None => Ok(PushTally::default()),
                }
            })
            .await
    }

    async fn forget_pushes(&self, before: Timestamp) -> StoreResult<u64> {
        self.writer
            .write(move |w| {
                exec(w.tx, "DELETE FROM push_queue WHERE outcome IS NOT NULL AND done_ts < ?1", params![sql_ts(before)])
                    .map(|n| u64::try_from(n).unwrap_or(0))
                    .map_err(backend_err)
            })
            .await
    }

    async fn vapid_key(&self, fresh: Vec<u8>, now: Timestamp) -> StoreResult<Vec<u8>> {
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "INSERT OR IGNORE INTO push_vapid (id, pkcs8, created_ts) VALUES (1, ?1, ?2)",
                    params![fresh, sql_ts(now)],
                )
                .map_err(backend_err)?;
                query_one(w.tx, "SELECT pkcs8 FROM push_vapid WHERE id = 1", [], |r| r.get(0)).map_err(backend_err)
            })
            .await
    }
}
