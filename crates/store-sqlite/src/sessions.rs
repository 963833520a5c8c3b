//! [`SessionStore`] on SQLite.

use async_trait::async_trait;
use ruma::{DeviceId, OwnedDeviceId, OwnedUserId, UserId};
use rusqlite::{OptionalExtension, params};
use wardline_store::{ChangeTopic, NewSession, PosRange, Session, SessionStore, StoreError, StoreResult};
use wardline_types::{Device, Timestamp};

use crate::pool::WriteTx;
use crate::rows::{exec, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

/// One session joined with its device's activity.
fn session_where(c: &rusqlite::Connection, cond: &str, value: &str) -> StoreResult<Option<Session>> {
    let sql = format!(
        "SELECT t.user_id, t.device_id, COALESCE(t.session_start_ts, t.created_ts), t.expires_ts, d.last_seen_ts
         FROM access_tokens t LEFT JOIN devices d ON d.user_id = t.user_id AND d.device_id = t.device_id
         WHERE {cond}"
    );
    type Row = (String, String, i64, Option<i64>, Option<i64>);
    let row: Option<Row> =
        query_one(c, &sql, params![value], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .optional()
            .map_err(backend_err)?;
    row.map(|(u, d, t, e, l)| {
        Ok(Session {
            user_id: parse_user(&u)?,
            device_id: OwnedDeviceId::from(d),
            created_at: ts(t),
            expires_at: e.map(ts),
            last_seen: l.map(ts),
        })
    })
    .transpose()
}

/// Records, at a position of its own, that `user`'s device list changed.
fn device_list_changed(w: &WriteTx<'_>, user: &UserId) -> StoreResult<()> {
    let pos = w.next_pos();
    w.changed(ChangeTopic::DeviceLists);
    exec(w.tx, "INSERT INTO device_changes (stream, user_id) VALUES (?1, ?2)", params![pos.0, user.as_str()])
        .map_err(backend_err)?;
    Ok(())
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, s: NewSession) -> StoreResult<()> {
        self.writer
            .write(move |w| {
                w.changed(ChangeTopic::Account(s.user_id.clone()));
                let known: Option<Option<String>> = query_one(
                    w.tx,
                    "SELECT display_name FROM devices WHERE user_id = ?1 AND device_id = ?2",
                    params![s.user_id.as_str(), s.device_id.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)?;
                let renamed = s.device_name.is_some() && known.as_ref().is_some_and(|n| *n != s.device_name);
                if known.is_none() || renamed {
                    device_list_changed(w, &s.user_id)?;
                }
                exec(
                    w.tx,
                    "INSERT INTO devices (user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5)
                     ON CONFLICT (user_id, device_id) DO UPDATE SET
                        display_name = COALESCE(excluded.display_name, devices.display_name),
                        last_seen_ts = excluded.last_seen_ts, last_seen_ip = excluded.last_seen_ip",
                    params![s.user_id.as_str(), s.device_id.as_str(), s.device_name, sql_ts(s.created_at), s.ip],
                )
                .map_err(backend_err)?;
                exec(
                    w.tx,
                    "UPDATE accounts SET last_sign_in_ts = ?2 WHERE user_id = ?1",
                    params![s.user_id.as_str(), sql_ts(s.created_at)],
                )
                .map_err(backend_err)?;
                exec(
                    w.tx,
                    "DELETE FROM access_tokens WHERE user_id = ?1 AND device_id = ?2",
                    params![s.user_id.as_str(), s.device_id.as_str()],
                )
                .map_err(backend_err)?;
                exec(
                    w.tx,
                    "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, session_start_ts,
                        expires_ts, refresh_hash) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
                    params![
                        s.token_hash,
                        s.user_id.as_str(),
                        s.device_id.as_str(),
                        sql_ts(s.created_at),
                        s.expires_at.map(sql_ts),
                        s.refresh_hash
                    ],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn session_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        let token_hash = token_hash.to_owned();
        self.readers.read(move |c| session_where(c, "t.token_hash = ?1", &token_hash)).await
    }

    async fn refresh_session(
        &self,
        refresh_hash: &str,
        new_token_hash: &str,
        new_refresh_hash: &str,
        expires_at: Option<Timestamp>,
    ) -> StoreResult<Option<Session>> {
        let (old, token, refresh) = (refresh_hash.to_owned(), new_token_hash.to_owned(), new_refresh_hash.to_owned());
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE access_tokens SET token_hash = ?2, refresh_hash = ?3, expires_ts = ?4
                         WHERE refresh_hash = ?1",
                    params![old, token, refresh, expires_at.map(sql_ts)],
                )
                .map_err(backend_err)?;
                if n == 0 {
                    return Ok(None);
                }
                let session = session_where(w.tx, "t.token_hash = ?1", &token)?;
                if let Some(s) = &session {
                    w.changed(ChangeTopic::Account(s.user_id.clone()));
                }
                Ok(session)
            })
            .await
    }

    async fn devices(&self, user_id: &UserId) -> StoreResult<Vec<Device>> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT device_id, display_name, last_seen_ts, last_seen_ip FROM devices
                         WHERE user_id = ?1 ORDER BY device_id",
                    )
                    .map_err(backend_err)?;
                let rows = stmt
                    .query_map(params![user_id.as_str()], |r| {
                        Ok(Device {
                            user_id: user_id.clone(),
                            device_id: OwnedDeviceId::from(r.get::<_, String>(0)?),
                            display_name: r.get(1)?,
                            last_seen_ts: r.get::<_, Option<i64>>(2)?.map(ts),
                            last_seen_ip: r.get(3)?,
                        })
                    })
                    .map_err(backend_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(backend_err)
            })
            .await
    }

    async fn set_device_name(&self, user_id: &UserId, device_id: &DeviceId, name: Option<String>) -> StoreResult<()> {
        let (user_id, device_id) = (user_id.to_owned(), device_id.to_owned());
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE devices SET display_name = ?3 WHERE user_id = ?1 AND device_id = ?2",
                    params![user_id.as_str(), device_id.as_str(), name],
                )
                .map_err(backend_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                device_list_changed(w, &user_id)
            })
            .await
    }

    async fn delete_devices(&self, user_id: &UserId, device_ids: &[OwnedDeviceId]) -> StoreResult<Vec<OwnedDeviceId>> {
        let (user_id, device_ids) = (user_id.to_owned(), device_ids.to_vec());
        self.writer
            .write(move |w| {
                w.changed(ChangeTopic::Account(user_id.clone()));
                let mut deleted = Vec::new();
                for d in device_ids {
                    exec(
                        w.tx,
                        "DELETE FROM access_tokens WHERE user_id = ?1 AND device_id = ?2",
                        params![user_id.as_str(), d.as_str()],
                    )
                    .map_err(backend_err)?;
                    let n = exec(
                        w.tx,
                        "DELETE FROM devices WHERE user_id = ?1 AND device_id = ?2",
                        params![user_id.as_str(), d.as_str()],
                    )
                    .map_err(backend_err)?;
                    if n > 0 {
                        deleted.push(d);
                    }
                }
                if !deleted.is_empty() {
                    device_list_changed(w, &user_id)?;
                }
                Ok(deleted)
            })
            .await
    }

    async fn delete_all_devices(&self, user_id: &UserId, keep: Option<&DeviceId>) -> StoreResult<Vec<OwnedDeviceId>> {
        let user = user_id.to_owned();
        let keep = keep.map(|d| d.as_str().to_owned()).unwrap_or_default();
        self.writer
            .write(move |w| {
                w.changed(ChangeTopic::Account(user.clone()));
                let mut stmt =
                    w.tx.prepare_cached("SELECT device_id FROM devices WHERE user_id = ?1 AND device_id != ?2")
                        .map_err(backend_err)?;
                let gone: Vec<String> = stmt
                    .query_map(params![user.as_str(), keep], |r| r.get(0))
                    .map_err(backend_err)?
                    .collect::<Result<_, _>>()
                    .map_err(backend_err)?;
                exec(
                    w.tx,
                    "DELETE FROM access_tokens WHERE user_id = ?1 AND device_id != ?2",
                    params![user.as_str(), keep],
                )
                .map_err(backend_err)?;
                exec(w.tx, "DELETE FROM devices WHERE user_id = ?1 AND device_id != ?2", params![user.as_str(), keep])
                    .map_err(backend_err)?;
                if !gone.is_empty() {
                    device_list_changed(w, &user)?;
                }
                Ok(gone.into_iter().map(OwnedDeviceId::from).collect())
            })
            .await
    }

    async fn device_list_changes(&self, range: PosRange) -> StoreResult<Vec<OwnedUserId>> {
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT user_id FROM device_changes WHERE stream > ?1 AND stream <= ?2
                         GROUP BY user_id ORDER BY MIN(stream)",
                    )
                    .map_err(backend_err)?;
                let rows = stmt
                    .query_map(params![range.after.0, range.upto.0], |r| r.get::<_, String>(0))
                    .map_err(backend_err)?;
                let mut out = Vec::new();
                for row in rows {
                    out.push(parse_user(&row.map_err(backend_err)?)?);
                }
                Ok(out)
            })
            .await
    }

    async fn remember_ending_tokens(
        &self,
        user_id: &UserId,
        reason: &str,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> StoreResult<()> {
        let (user_id, reason) = (user_id.to_owned(), reason.to_owned());
        self.writer
            .write(move |w| {
                exec(w.tx, "DELETE FROM ended_tokens WHERE ended_ts < ?1", params![sql_ts(forget_before)])
                    .map_err(backend_err)?;
                exec(
                    w.tx,
                    "INSERT OR REPLACE INTO ended_tokens (token_hash, reason, ended_ts)
                     SELECT token_hash, ?2, ?3 FROM access_tokens WHERE user_id = ?1",
                    params![user_id.as_str(), reason, sql_ts(at)],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn ended_token(&self, token_hash: &str) -> StoreResult<Option<(String, Timestamp)>> {
        let token_hash = token_hash.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached("SELECT reason, ended_ts FROM ended_tokens WHERE token_hash = ?1")
                    .map_err(backend_err)?;
                stmt.query_row(params![token_hash], |r| Ok((r.get::<_, String>(0)?, ts(r.get(1)?))))
                    .optional()
                    .map_err(backend_err)
            })
            .await
    }

    async fn touch_device(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        at: Timestamp,
        ip: Option<String>,
    ) -> StoreResult<()> {
        let (user_id, device_id) = (user_id.to_owned(), device_id.to_owned());
        self.writer
            .write(move |w| {
                w.changed(ChangeTopic::Account(user_id.clone()));
                exec(
                    w.tx,
                    "UPDATE devices SET last_seen_ts = ?3, last_seen_ip = COALESCE(?4, last_seen_ip)
                     WHERE user_id = ?1 AND device_id = ?2",
                    params![user_id.as_str(), device_id.as_str(), sql_ts(at), ip],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }
}
