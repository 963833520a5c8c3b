//! [`DndStore`] and [`CursorStore`] on SQLite: `do_not_disturb` (what each person has set
//! now), `do_not_disturb_log` (every period; triggers keep it append-only but for each
//! period's end, set once) and `background_cursors` (migration 0017).
//!
//! Setting reads the cover's row and writes inside the single writer's transaction, so whether
//! the cover is on do-not-disturb is decided against every other write.

use async_trait::async_trait;
use ruma::{OwnedUserId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{ChangeTopic, CursorStore, DndRefusal, DndStore, NewDnd, PosRange, StoreError, StoreResult};
use wardline_types::{DndPeriod, DoNotDisturb, StoredEvent, StreamPos, Timestamp};

use crate::pool::WriteTx;
use crate::rows::{EVENT_COLUMNS, exec, json_list, parse_device, parse_user, query_events, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const DND_COLUMNS: &str = "user_id, until_ts, cover_user_id, set_ts, set_by_device";

type DndRow = (String, i64, Option<String>, i64, Option<String>);

fn dnd_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DndRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_dnd((user, until, cover, set, device): DndRow) -> StoreResult<DoNotDisturb> {
    Ok(DoNotDisturb {
        user_id: parse_user(&user)?,
        until: ts(until),
        cover: cover.as_deref().map(parse_user).transpose()?,
        set_at: ts(set),
        set_by_device: device.as_deref().and_then(parse_device),
    })
}

fn read_dnd(c: &Connection, user: &str) -> StoreResult<Option<DoNotDisturb>> {
    query_one(c, &format!("SELECT {DND_COLUMNS} FROM do_not_disturb WHERE user_id = ?1"), params![user], dnd_row)
        .optional()
        .map_err(backend_err)?
        .map(to_dnd)
        .transpose()
}

fn read_dnds(c: &Connection, sql: &str, args: impl rusqlite::Params) -> StoreResult<Vec<DoNotDisturb>> {
    let rows: Vec<DndRow> =
        c.prepare_cached(sql).and_then(|mut s| s.query_map(args, dnd_row)?.collect()).map_err(backend_err)?;
    rows.into_iter().map(to_dnd).collect()
}

/// Gives the user's presence a new stream position, creating the row of someone never seen
/// (offline, never active), so colleagues' `/sync` reads it again.
fn touch_presence(w: &WriteTx<'_>, user: &str) -> StoreResult<()> {
    let pos = w.next_pos();
    w.changed(ChangeTopic::Presence);
    exec(
        w.tx,
        "INSERT INTO presence (user_id, state, status_msg, last_active_ts, last_sync_ts, away, stream)
         VALUES (?1, 'offline', NULL, 0, NULL, NULL, ?2)
         ON CONFLICT (user_id) DO UPDATE SET stream = excluded.stream",
        params![user, pos.0],
    )
    .map_err(backend_err)?;
    Ok(())
}

/// Ends the user's open period in the log at `at`, if it had not ended by then.
fn end_period(w: &WriteTx<'_>, user: &str, at: Timestamp) -> StoreResult<()> {
    exec(
        w.tx,
        "UPDATE do_not_disturb_log SET ended_ts = ?2
         WHERE id = (SELECT period FROM do_not_disturb WHERE user_id = ?1) AND ended_ts IS NULL AND until_ts > ?2",
        params![user, sql_ts(at)],
    )
    .map_err(backend_err)?;
    Ok(())
}

fn set(w: &WriteTx<'_>, d: &NewDnd) -> StoreResult<Result<DoNotDisturb, DndRefusal>> {
    if d.until <= d.at {
        return Err(StoreError::Backend("do-not-disturb must end after it is set".into()));
    }
    if let Some(cover) = &d.cover {
        let active: Option<bool> =
            query_one(w.tx, "SELECT deactivated = 0 FROM accounts WHERE user_id = ?1", params![cover.as_str()], |r| {
                r.get(0)
            })
            .optional()
            .map_err(backend_err)?;
        if active != Some(true) {
            return Ok(Err(DndRefusal::CoverNotActive(cover.clone())));
        }
        if let Some(theirs) = read_dnd(w.tx, cover.as_str())?
            && theirs.active_at(d.at)
        {
            return Ok(Err(DndRefusal::CoverOnDnd(cover.clone(), theirs.until)));
        }
    }
    let user = d.user_id.as_str();
    end_period(w, user, d.at)?;
    let cover = d.cover.as_ref().map(|c| c.as_str());
    exec(
        w.tx,
        "INSERT INTO do_not_disturb_log (user_id, cover_user_id, from_ts, until_ts) VALUES (?1, ?2, ?3, ?4)",
        params![user, cover, sql_ts(d.at), sql_ts(d.until)],
    )
    .map_err(backend_err)?;
    let period = w.tx.last_insert_rowid();
    exec(
        w.tx,
        "INSERT INTO do_not_disturb (user_id, until_ts, cover_user_id, set_ts, set_by_device, period)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (user_id) DO UPDATE SET until_ts = excluded.until_ts, cover_user_id = excluded.cover_user_id,
            set_ts = excluded.set_ts, set_by_device = excluded.set_by_device, period = excluded.period",
        params![user, sql_ts(d.until), cover, sql_ts(d.at), d.device_id.as_ref().map(|x| x.as_str()), period],
    )
    .map_err(backend_err)?;
    touch_presence(w, user)?;
    Ok(Ok(DoNotDisturb {
        user_id: d.user_id.clone(),
        until: d.until,
        cover: d.cover.clone(),
        set_at: d.at,
        set_by_device: d.device_id.clone(),
    }))
}

fn clear(w: &WriteTx<'_>, user: &str, at: Timestamp) -> StoreResult<Option<DoNotDisturb>> {
    let Some(stored) = read_dnd(w.tx, user)? else { return Ok(None) };
    end_period(w, user, at)?;
    exec(w.tx, "DELETE FROM do_not_disturb WHERE user_id = ?1", params![user]).map_err(backend_err)?;
    touch_presence(w, user)?;
    Ok(Some(stored))
}

fn end_expired(w: &WriteTx<'_>, now: Timestamp) -> StoreResult<Vec<DoNotDisturb>> {
    let ended = read_dnds(
        w.tx,
        &format!("SELECT {DND_COLUMNS} FROM do_not_disturb WHERE until_ts <= ?1 ORDER BY until_ts, user_id"),
        params![sql_ts(now)],
    )?;
    for d in &ended {
        exec(w.tx, "DELETE FROM do_not_disturb WHERE user_id = ?1", params![d.user_id.as_str()])
            .map_err(backend_err)?;
        touch_presence(w, d.user_id.as_str())?;
    }
    Ok(ended)
}

fn periods(c: &Connection, from: Timestamp, to: Timestamp) -> StoreResult<Vec<DndPeriod>> {
    type Row = (String, Option<String>, i64, i64, Option<i64>);
    let rows: Vec<Row> = c
        .prepare_cached(
            "SELECT user_id, cover_user_id, from_ts, until_ts, ended_ts FROM do_not_disturb_log
             WHERE until_ts > ?1 AND from_ts <= ?2 AND COALESCE(ended_ts, until_ts) > ?1
             ORDER BY from_ts, id",
        )
        .and_then(|mut s| {
            s.query_map(params![sql_ts(from), sql_ts(to)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(backend_err)?;
    rows.into_iter()
        .map(|(user, cover, from, until, ended)| {
            Ok(DndPeriod {
                user_id: parse_user(&user)?,
                cover: cover.as_deref().map(parse_user).transpose()?,
                from: ts(from),
                until: ts(until),
                ended: ended.map(ts),
            })
        })
        .collect()
}

#[async_trait]
impl DndStore for SqliteStore {
    async fn set_dnd(&self, dnd: NewDnd) -> StoreResult<Result<DoNotDisturb, DndRefusal>> {
        self.writer.write(move |w| set(w, &dnd)).await
    }

    async fn clear_dnd(&self, user_id: &UserId, at: Timestamp) -> StoreResult<Option<DoNotDisturb>> {
        let user = user_id.to_owned();
        self.writer.write(move |w| clear(w, user.as_str(), at)).await
    }

    async fn dnd(&self, user_id: &UserId) -> StoreResult<Option<DoNotDisturb>> {
        let user = user_id.to_owned();
        self.readers.read(move |c| read_dnd(c, user.as_str())).await
    }

    async fn dnds(&self, users: &[OwnedUserId]) -> StoreResult<Vec<DoNotDisturb>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let list = json_list(users);
        self.readers
            .read(move |c| {
                read_dnds(
                    c,
                    &format!(
                        "SELECT {DND_COLUMNS} FROM do_not_disturb
                         WHERE user_id IN (SELECT value FROM json_each(?1)) ORDER BY user_id"
                    ),
                    params![list],
                )
            })
            .await
    }

    async fn end_expired_dnd(&self, now: Timestamp) -> StoreResult<Vec<DoNotDisturb>> {
        self.writer.write(move |w| end_expired(w, now)).await
    }

    async fn next_dnd_end(&self) -> StoreResult<Option<Timestamp>> {
        self.readers
            .read(|c| {
                query_one(c, "SELECT MIN(until_ts) FROM do_not_disturb", [], |r| r.get::<_, Option<i64>>(0))
                    .map(|v| v.map(ts))
                    .map_err(backend_err)
            })
            .await
    }

    async fn dnd_periods(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<DndPeriod>> {
        self.readers.read(move |c| periods(c, from, to)).await
    }
}

#[async_trait]
impl CursorStore for SqliteStore {
    async fn cursor(&self, name: &str) -> StoreResult<Option<StreamPos>> {
        let name = name.to_owned();
        self.readers
            .read(move |c| {
                query_one(c, "SELECT pos FROM background_cursors WHERE name = ?1", params![name], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
                .map(|p| p.map(StreamPos))
                .map_err(backend_err)
            })
            .await
    }

    async fn put_cursor(&self, name: &str, pos: StreamPos) -> StoreResult<()> {
        let name = name.to_owned();
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "INSERT INTO background_cursors (name, pos) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET pos = MAX(pos, excluded.pos)",
                    params![name, pos.0],
                )
                .map(|_| ())
                .map_err(backend_err)
            })
            .await
    }

    async fn events_of_kind(&self, kind: &str, range: PosRange, limit: usize) -> StoreResult<Vec<StoredEvent>> {
        let kind = kind.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read_blocking(move |c| {
                query_events(
                    c,
                    &format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE stream > ?1 AND stream <= ?2 AND type = ?3
                         ORDER BY stream LIMIT ?4"
                    ),
                    params![range.after.0, range.upto.0, kind, limit],
                )
            })
            .await
    }
}
