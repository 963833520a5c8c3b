//! [`RoomStore`] on SQLite: the event log, current state and memberships.

use async_trait::async_trait;
use ruma::{DeviceId, EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use rusqlite::{OptionalExtension, params};
use wardline_store::{ChangeTopic, Direction, MembershipChange, PosRange, RoomStore, StoreError, StoreResult};
use wardline_types::audit::NewAuditRecord;
use wardline_types::redaction::redact_content;
use wardline_types::{Membership, NewEvent, StoredEvent, StreamPos, kinds};

use crate::pool::WriteTx;
use crate::rows::{
    EVENT_COLUMNS, corrupt, exec, parse_event_id, parse_room, parse_user, query_events, query_one, sql_ts,
};
use crate::{SqliteStore, backend_err};

fn insert_event(w: &WriteTx<'_>, e: &NewEvent) -> StoreResult<StreamPos> {
    let tx = w.tx;
    if e.kind == kinds::CREATE && e.state_key.as_deref() == Some("") {
        exec(
            tx,
            "INSERT OR IGNORE INTO rooms (room_id, created_ts) VALUES (?1, ?2)",
            params![e.room_id.as_str(), sql_ts(e.origin_server_ts)],
        )
        .map_err(backend_err)?;
    }
    let pos = w.next_pos();
    w.changed(ChangeTopic::RoomEvents(e.room_id.clone()));
    if e.state_key.is_some() || e.redacts.is_some() {
        // A redaction may change a state event's content.
        w.changed(ChangeTopic::RoomState(e.room_id.clone()));
    }
    let content = serde_json::to_string(&e.content).map_err(|err| corrupt("event content", err))?;
    let result = exec(
        tx,
        "INSERT INTO events (stream, event_id, room_id, sender, type, state_key, content, origin_server_ts,
            redacts, txn_device, txn_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            pos.0,
            e.event_id.as_str(),
            e.room_id.as_str(),
            e.sender.as_str(),
            e.kind,
            e.state_key,
            content,
            sql_ts(e.origin_server_ts),
            e.redacts.as_ref().map(|r| r.as_str()),
            e.txn.as_ref().map(|t| t.device_id.as_str()),
            e.txn.as_ref().map(|t| t.txn_id.as_str()),
        ],
    );
    match result {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            return Err(StoreError::Conflict(format!("event {} or its transaction already exists", e.event_id)));
        }
        Err(err) => return Err(backend_err(err)),
    }
    if let Some(state_key) = &e.state_key {
        exec(
            tx,
            "INSERT INTO room_state (room_id, type, state_key, stream) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (room_id, type, state_key) DO UPDATE SET stream = excluded.stream",
            params![e.room_id.as_str(), e.kind, state_key, pos.0],
        )
        .map_err(backend_err)?;
        if e.kind == kinds::MEMBER {
            let membership = e
                .content
                .get("membership")
                .and_then(|m| m.as_str())
                .ok_or_else(|| StoreError::Conflict("member event without membership".into()))?;
            if let Ok(user) = parse_user(state_key) {
                w.changed(ChangeTopic::Membership(user));
            }
            w.changed(ChangeTopic::RoomMembers(e.room_id.clone()));
            exec(
                tx,
                "INSERT INTO memberships (room_id, user_id, membership, stream, forgotten) VALUES (?1, ?2, ?3, ?4, 0)
                 ON CONFLICT (room_id, user_id) DO UPDATE SET
                    membership = excluded.membership, stream = excluded.stream, forgotten = 0",
                params![e.room_id.as_str(), state_key, membership, pos.0],
            )
            .map_err(backend_err)?;
            exec(
                tx,
                "INSERT INTO membership_log (stream, room_id, user_id, membership) VALUES (?1, ?2, ?3, ?4)",
                params![pos.0, e.room_id.as_str(), state_key, membership],
            )
            .map_err(backend_err)?;
        }
    }
    crate::relations::index(w, e, pos)?;
    if e.kind == kinds::REDACTION
        && let Some(target) = &e.redacts
    {
        redact(w, e, pos, target)?;
    }
    crate::search::index_event(tx, e, pos)?;
    for media in wardline_types::media::referenced(&e.content) {
        let added = exec(
            tx,
            "INSERT OR IGNORE INTO media_refs (media_id, event_id, room_id, stream)
             SELECT media_id, ?2, ?3, ?4 FROM media WHERE media_id = ?1 AND released = 0",
            params![media.media_id, e.event_id.as_str(), e.room_id.as_str(), pos.0],
        )
        .map_err(backend_err)?;
        if added > 0 {
            exec(tx, "UPDATE media SET referenced = 1 WHERE media_id = ?1", params![media.media_id])
                .map_err(backend_err)?;
        }
    }
    Ok(pos)
}

/// Prunes the content of `target` (if in the same room and not yet redacted), keeping the
/// original for investigations.
fn redact(w: &WriteTx<'_>, redaction: &NewEvent, pos: StreamPos, target: &EventId) -> StoreResult<()> {
    let found: Option<(i64, String, String, String)> = query_one(
        w.tx,
        "SELECT stream, type, content, sender FROM events WHERE event_id = ?1 AND room_id = ?2 AND redacted_because IS NULL",
        params![target.as_str(), redaction.room_id.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
    .map_err(backend_err)?;
    let Some((target_pos, kind, content, sender)) = found else {
        return Ok(());
    };
    // A deleted message's edits hold its text too: its sender's edits of it go with it, by
    // the same redaction (their originals kept for investigations like the message's).
    let edits: Vec<String> =
        w.tx.prepare_cached(
            "SELECT event_id FROM event_relations WHERE parent_id = ?1 AND room_id = ?2 AND rel_type = 'm.replace'
               AND sender = ?3 ORDER BY stream",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![target.as_str(), redaction.room_id.as_str(), sender], |r| r.get(0))?.collect()
        })
        .map_err(backend_err)?;
    // Its text leaves the search index with it.
    crate::search::unindex_redacted(w.tx, &redaction.room_id, target_pos)?;
    let original: serde_json::Value = serde_json::from_str(&content).map_err(|e| corrupt("event content", e))?;
    let pruned = serde_json::to_string(&redact_content(&kind, &original)).map_err(|e| corrupt("content", e))?;
    let because = StoredEvent { stream: pos, event: redaction.clone(), redacted_because: None }
        .to_client_json(None, redaction.origin_server_ts);
    exec(
        w.tx,
        "UPDATE events SET original_content = content, content = ?2, redacted_because = ?3 WHERE event_id = ?1",
        params![target.as_str(), pruned, because.to_string()],
    )
    .map_err(backend_err)?;
    // A redacted reaction, edit or reply in a thread no longer relates to anything.
    crate::relations::unindex(w, target)?;
    for edit in edits {
        if let Ok(edit) = ruma::OwnedEventId::try_from(edit) {
            redact(w, redaction, pos, &edit)?;
        }
    }
    // Files the message carried go with it once nothing else refers to them.
    let media: Vec<String> =
        w.tx.prepare_cached("DELETE FROM media_refs WHERE event_id = ?1 RETURNING media_id")
            .and_then(|mut stmt| stmt.query_map(params![target.as_str()], |r| r.get(0))?.collect())
            .map_err(backend_err)?;
    for id in media {
        exec(
            w.tx,
            "UPDATE media SET released = 1 WHERE media_id = ?1
               AND NOT EXISTS (SELECT 1 FROM media_refs WHERE media_refs.media_id = ?1)",
            params![id],
        )
        .map_err(backend_err)?;
    }
    Ok(())
}

fn membership_changes_from(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<MembershipChange>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend_err)?;
    let rows = stmt
        .query_map(params, |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
        .map_err(backend_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (room, membership, stream) = row.map_err(backend_err)?;
        out.push(MembershipChange {
            room_id: parse_room(&room)?,
            membership: membership.parse().map_err(|e| corrupt("membership", e))?,
            stream: StreamPos(stream),
        });
    }
    Ok(out)
}

#[async_trait]
impl RoomStore for SqliteStore {
    async fn append_events(&self, events: Vec<NewEvent>, audit: Vec<NewAuditRecord>) -> StoreResult<Vec<StreamPos>> {
        self.writer
            .write(move |w| {
                let positions = events.iter().map(|e| insert_event(w, e)).collect::<StoreResult<Vec<_>>>()?;
                crate::audit::append(w.tx, audit)?;
                Ok(positions)
            })
            .await
    }

    async fn event(&self, event_id: &EventId) -> StoreResult<Option<StoredEvent>> {
        let event_id = event_id.to_owned();
        self.readers
            .read(move |c| {
                let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?1");
                Ok(query_events(c, &sql, params![event_id.as_str()])?.pop())
            })
            .await
    }

    async fn event_for_txn(
        &self,
        user_id: &UserId,
        device_id: &DeviceId,
        txn_id: &str,
    ) -> StoreResult<Option<OwnedEventId>> {
        let (user_id, device_id, txn_id) = (user_id.to_owned(), device_id.to_owned(), txn_id.to_owned());
        self.readers
            .read(move |c| {
                let id: Option<String> = query_one(
                    c,
                    "SELECT event_id FROM events WHERE sender = ?1 AND txn_device = ?2 AND txn_id = ?3",
                    params![user_id.as_str(), device_id.as_str(), txn_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)?;
                id.as_deref().map(parse_event_id).transpose()
            })
            .await
    }

    async fn room_events(
        &self,
        room_id: &RoomId,
        range: PosRange,
        dir: Direction,
        limit: usize,
    ) -> StoreResult<Vec<StoredEvent>> {
        let room_id = room_id.to_owned();
        let order = match dir {
            Direction::Forward => "ASC",
            Direction::Backward => "DESC",
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE room_id = ?1 AND stream > ?2 AND stream <= ?3
                     ORDER BY stream {order} LIMIT ?4"
                );
                query_events(c, &sql, params![room_id.as_str(), range.after.0, range.upto.0, limit])
            })
            .await
    }

    async fn state_at(&self, room_id: &RoomId, at: StreamPos) -> StoreResult<Vec<StoredEvent>> {
        self.state_changes(room_id, PosRange::upto(at)).await
    }

    async fn state_changes(&self, room_id: &RoomId, range: PosRange) -> StoreResult<Vec<StoredEvent>> {
        let room_id = room_id.to_owned();
        self.readers
            .read(move |c| {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream IN (
                        SELECT MAX(stream) FROM events
                        WHERE room_id = ?1 AND state_key IS NOT NULL AND stream > ?2 AND stream <= ?3
                        GROUP BY type, state_key)
                     ORDER BY stream"
                );
                query_events(c, &sql, params![room_id.as_str(), range.after.0, range.upto.0])
            })
            .await
    }

    async fn state_history(&self, room_id: &RoomId, kind: &str) -> StoreResult<Vec<StoredEvent>> {
        let (room_id, kind) = (room_id.to_owned(), kind.to_owned());
        self.readers
            .read(move |c| {
                // Named, so the planner never walks every event of the room in stream order
                // instead (it did, without statistics: visibility is read on every history read).
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events INDEXED BY events_state
                     WHERE room_id = ?1 AND type = ?2 AND state_key IS NOT NULL ORDER BY stream"
                );
                query_events(c, &sql, params![room_id.as_str(), kind])
            })
            .await
    }

    async fn room_exists(&self, room_id: &RoomId) -> StoreResult<bool> {
        let room_id = room_id.to_owned();
        self.readers
            .read(move |c| {
                query_one(c, "SELECT 1 FROM rooms WHERE room_id = ?1", params![room_id.as_str()], |_| Ok(()))
                    .optional()
                    .map(|o| o.is_some())
                    .map_err(backend_err)
            })
            .await
    }

    async fn members(&self, room_id: &RoomId) -> StoreResult<Vec<(OwnedUserId, Membership)>> {
        let room_id = room_id.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached("SELECT user_id, membership FROM memberships WHERE room_id = ?1 ORDER BY user_id")
                    .map_err(backend_err)?;
                let rows = stmt
                    .query_map(params![room_id.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .map_err(backend_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (u, m) = row.map_err(backend_err)?;
                    out.push((parse_user(&u)?, m.parse().map_err(|e| corrupt("membership", e))?));
                }
                Ok(out)
            })
            .await
    }

    async fn rooms_of_user(&self, user_id: &UserId) -> StoreResult<Vec<MembershipChange>> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| {
                membership_changes_from(
                    c,
                    "SELECT room_id, membership, stream FROM memberships WHERE user_id = ?1 AND forgotten = 0
                     ORDER BY stream",
                    params![user_id.as_str()],
                )
            })
            .await
    }

    async fn membership_changes(&self, user_id: &UserId, range: PosRange) -> StoreResult<Vec<MembershipChange>> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| {
                membership_changes_from(
                    c,
                    "SELECT room_id, membership, stream FROM membership_log
                     WHERE user_id = ?1 AND stream > ?2 AND stream <= ?3 ORDER BY stream",
                    params![user_id.as_str(), range.after.0, range.upto.0],
                )
            })
            .await
    }

    async fn events_by_sender(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        range: PosRange,
        limit: usize,
    ) -> StoreResult<Vec<StoredEvent>> {
        let (room_id, sender) = (room_id.to_owned(), sender.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                     WHERE room_id = ?1 AND sender = ?2 AND stream > ?3 AND stream <= ?4
                     ORDER BY stream DESC LIMIT ?5"
                );
                query_events(c, &sql, params![room_id.as_str(), sender.as_str(), range.after.0, range.upto.0, limit])
            })
            .await
    }

    async fn membership_history(&self, user_id: &UserId, room_id: &RoomId) -> StoreResult<Vec<MembershipChange>> {
        let (user_id, room_id) = (user_id.to_owned(), room_id.to_owned());
        self.readers
            .read(move |c| {
                membership_changes_from(
                    c,
                    "SELECT room_id, membership, stream FROM membership_log
                     WHERE user_id = ?1 AND room_id = ?2 ORDER BY stream",
                    params![user_id.as_str(), room_id.as_str()],
                )
            })
            .await
    }

    async fn membership_histories(
        &self,
        room_id: &RoomId,
        users: &[OwnedUserId],
    ) -> StoreResult<Vec<(OwnedUserId, MembershipChange)>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let room_id = room_id.to_owned();
        let users = serde_json::json!(users.iter().map(|u| u.as_str()).collect::<Vec<_>>()).to_string();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT m.user_id, m.room_id, m.membership, m.stream
                         FROM json_each(?2) u CROSS JOIN membership_log m ON m.user_id = u.value AND m.room_id = ?1
                         ORDER BY m.user_id, m.stream",
                    )
                    .map_err(backend_err)?;
                let rows = stmt
                    .query_map(params![room_id.as_str(), users], |r| {
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
                    let (user, room, membership, stream) = row.map_err(backend_err)?;
                    let change = MembershipChange {
                        room_id: parse_room(&room)?,
                        membership: membership.parse().map_err(|e| corrupt("membership", e))?,
                        stream: StreamPos(stream),
                    };
                    out.push((parse_user(&user)?, change));
                }
                Ok(out)
            })
            .await
    }

    async fn last_message_by(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        upto: StreamPos,
    ) -> StoreResult<Option<StreamPos>> {
        let (room_id, sender) = (room_id.to_owned(), sender.to_owned());
        self.readers
            .read(move |c| {
                let pos: Option<i64> = query_one(
                    c,
                    "SELECT stream FROM events WHERE room_id = ?1 AND sender = ?2 AND stream <= ?3
                       AND type IN ('m.room.message', 'm.room.encrypted', 'm.sticker')
                     ORDER BY stream DESC LIMIT 1",
                    params![room_id.as_str(), sender.as_str(), upto.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)?;
                Ok(pos.map(StreamPos))
            })
            .await
    }

    async fn unread_count(&self, room_id: &RoomId, user_id: &UserId, upto: StreamPos) -> StoreResult<u64> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.readers
            .read(move |c| {
                let n: i64 = c
                    .prepare_cached(
                        "SELECT COUNT(*) FROM events WHERE room_id = ?1 AND sender != ?2
                           AND type IN ('m.room.message', 'm.room.encrypted', 'm.sticker')
                           AND redacted_because IS NULL AND stream <= ?3
                           AND stream > MAX(
                               COALESCE((SELECT MAX(event_stream) FROM receipts WHERE room_id = ?1 AND user_id = ?2
                                   AND receipt_type IN ('m.read', 'm.read.private', 'm.fully_read')), 0),
                               COALESCE((SELECT MAX(stream) FROM events WHERE room_id = ?1 AND sender = ?2), 0))",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_row(params![room_id.as_str(), user_id.as_str(), upto.0], |r| r.get(0))
                    })
                    .map_err(backend_err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn read_point(&self, room_id: &RoomId, user_id: &UserId, upto: StreamPos) -> StoreResult<StreamPos> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.readers
            .read(move |c| {
                let n: i64 = c
                    .prepare_cached(
                        "SELECT MAX(
                               COALESCE((SELECT MAX(event_stream) FROM receipts WHERE room_id = ?1 AND user_id = ?2
                                   AND receipt_type IN ('m.read', 'm.read.private', 'm.fully_read')
                                   AND event_stream <= ?3), 0),
                               COALESCE((SELECT MAX(stream) FROM events WHERE room_id = ?1 AND sender = ?2
                                   AND stream <= ?3), 0))",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_row(params![room_id.as_str(), user_id.as_str(), upto.0], |r| r.get(0))
                    })
                    .map_err(backend_err)?;
                Ok(StreamPos(n))
            })
            .await
    }

    async fn unread_gained(&self, room_id: &RoomId, user_id: &UserId, range: PosRange) -> StoreResult<Option<u64>> {
        let (room_id, user_id) = (room_id.to_owned(), user_id.to_owned());
        self.readers
            .read(move |c| {
                let (gained, own, redactions): (Option<i64>, Option<i64>, Option<i64>) = query_one(
                    c,
                    "SELECT SUM(sender != ?2 AND type IN ('m.room.message', 'm.room.encrypted', 'm.sticker')
                                AND redacted_because IS NULL),
                            SUM(sender = ?2), SUM(type = 'm.room.redaction')
                     FROM events WHERE room_id = ?1 AND stream > ?3 AND stream <= ?4",
                    params![room_id.as_str(), user_id.as_str(), range.after.0, range.upto.0],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(backend_err)?;
                if own.unwrap_or(0) > 0 || redactions.unwrap_or(0) > 0 {
                    return Ok(None);
                }
                Ok(Some(u64::try_from(gained.unwrap_or(0)).unwrap_or(0)))
            })
            .await
    }

    async fn original_content(&self, event_id: &EventId) -> StoreResult<Option<serde_json::Value>> {
        let event_id = event_id.to_owned();
        self.readers
            .read(move |c| {
                let text: Option<Option<String>> = query_one(
                    c,
                    "SELECT original_content FROM events WHERE event_id = ?1",
                    params![event_id.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)?;
                text.flatten().map(|t| serde_json::from_str(&t).map_err(|e| corrupt("original content", e))).transpose()
            })
            .await
    }

    async fn forget_room(&self, user_id: &UserId, room_id: &RoomId) -> StoreResult<()> {
        let (user_id, room_id) = (user_id.to_owned(), room_id.to_owned());
        self.writer
            .write(move |w| {
                w.changed(ChangeTopic::Membership(user_id.clone()));
                exec(
                    w.tx,
                    "UPDATE memberships SET forgotten = 1 WHERE room_id = ?1 AND user_id = ?2
                       AND membership IN ('leave', 'ban')",
                    params![room_id.as_str(), user_id.as_str()],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn room_ids(&self) -> StoreResult<Vec<OwnedRoomId>> {
        self.readers
            .read_blocking(|c| {
                let mut stmt = c.prepare_cached("SELECT room_id FROM rooms ORDER BY room_id").map_err(backend_err)?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(backend_err)?;
                let mut out = Vec::new();
                for row in rows {
                    out.push(parse_room(&row.map_err(backend_err)?)?);
                }
                Ok(out)
            })
            .await
    }
}
