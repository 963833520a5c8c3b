//! [`FilingStore`] on SQLite: `record_filings` and `filed_events` (migration 0033). A claim is
//! one conditional update (pending, due, and no claim within the lease) that writes its name
//! (`claimed_ts`); renewing, retrying and ending are conditional on that name, and a filing
//! ends only from pending, with its per-message rows in the same write.

use async_trait::async_trait;
use ruma::{OwnedEventId, RoomId};
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{FiledEvent, FiledStatus, Filing, FilingHeld, FilingResult, FilingStore, NewFiling, StoreResult};
use wardline_types::Timestamp;
use wardline_types::patient::PatientSummary;
use wardline_types::patient::filing::{FilingId, FilingState};

use crate::rows::{corrupt, exec, parse_event_id, parse_room, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const COLUMNS: &str = "id, room_id, requested_by, requested_ts, tie_version, patient, events, transcript, state, \
                       attempts, due_ts, claimed_ts, last_error, resources, finished_ts";

type Raw = (
    (String, String, String, i64, i64, String, String, i64),
    (String, i64, i64, Option<i64>, Option<String>, String, Option<i64>),
);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?),
        (r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?, r.get(14)?),
    ))
}

fn filing_id(s: &str) -> StoreResult<FilingId> {
    FilingId::parse(s).map_err(|e| corrupt("record_filings.id", e))
}

fn filing(((id, room, by, at, version, patient, events, transcript), rest): Raw) -> StoreResult<Filing> {
    let (state, attempts, due, claimed, last_error, resources, finished) = rest;
    let patient: PatientSummary = serde_json::from_str(&patient).map_err(|e| corrupt("record_filings.patient", e))?;
    let events: Vec<String> = serde_json::from_str(&events).map_err(|e| corrupt("record_filings.events", e))?;
    let events = events.iter().map(|e| parse_event_id(e)).collect::<StoreResult<Vec<OwnedEventId>>>()?;
    let resources: Vec<String> =
        serde_json::from_str(&resources).map_err(|e| corrupt("record_filings.resources", e))?;
    Ok(Filing {
        request: NewFiling {
            id: filing_id(&id)?,
            room_id: parse_room(&room)?,
            requested_by: parse_user(&by)?,
            requested: ts(at),
            tie_version: u64::try_from(version).map_err(|e| corrupt("record_filings.tie_version", e))?,
            patient,
            events,
            transcript: transcript != 0,
        },
        state: FilingState::parse(&state).ok_or_else(|| corrupt("record_filings.state", &state))?,
        attempts: u32::try_from(attempts).map_err(|e| corrupt("record_filings.attempts", e))?,
        due: ts(due),
        claimed: claimed.map(ts),
        last_error,
        resources,
        finished: finished.map(ts),
    })
}

fn read(c: &Connection, id: &str) -> StoreResult<Option<Filing>> {
    query_one(c, &format!("SELECT {COLUMNS} FROM record_filings WHERE id = ?1"), params![id], raw)
        .optional()
        .map_err(backend_err)?
        .map(filing)
        .transpose()
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Adds what the record took (`done`) to filing `id`: its resources to the filing's (each
/// listed once), its rows written (replacing earlier rows of the same messages).
fn keep(tx: &Connection, id: &str, done: &FilingResult) -> StoreResult<()> {
    if done.resources.is_empty() && done.events.is_empty() {
        return Ok(());
    }
    let held: String = query_one(tx, "SELECT resources FROM record_filings WHERE id = ?1", params![id], |r| r.get(0))
        .map_err(backend_err)?;
    let mut resources: Vec<String> = serde_json::from_str(&held).map_err(|e| corrupt("record_filings.resources", e))?;
    for r in &done.resources {
        if !resources.contains(r) {
            resources.push(r.clone());
        }
    }
    let resources = serde_json::to_string(&resources).map_err(|e| corrupt("resources", e))?;
    exec(tx, "UPDATE record_filings SET resources = ?2 WHERE id = ?1", params![id, resources]).map_err(backend_err)?;
    for e in &done.events {
        exec(
            tx,
            "INSERT OR REPLACE INTO filed_events
                 (event_id, room_id, filing_id, resource, content_hash, status, filed_ts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                e.event_id.as_str(),
                e.room_id.as_str(),
                e.filing_id.as_str(),
                e.resource,
                e.content_hash,
                e.status.as_str(),
                sql_ts(e.filed)
            ],
        )
        .map_err(backend_err)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Ends a filing claimed as `claim` (`filed` or `refused`, with `error` for a refusal) and
    /// writes what the record holds of its messages, in one write; what it then holds, or
    /// `None` if the claim is not the sender's any more.
    async fn end_filing(
        &self,
        id: &FilingId,
        claim: Timestamp,
        state: &'static str,
        error: Option<String>,
        done: FilingResult,
        now: Timestamp,
    ) -> StoreResult<Option<FilingHeld>> {
        let id = id.to_string();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE record_filings SET state = ?3, finished_ts = ?4, last_error = ?5,
                         attempts = attempts + 1, claimed_ts = NULL
                     WHERE id = ?1 AND state = 'pending' AND claimed_ts = ?2",
                    params![id, sql_ts(claim), state, sql_ts(now), error],
                )
                .map_err(backend_err)?;
                keep(w.tx, &id, &done)?;
                if n == 0 {
                    return Ok(None);
                }
                held(w.tx, &id).map(Some)
            })
            .await
    }
}

/// What filing `id` holds in the record: its known resources, and the messages whose rows are
/// its.
fn held(tx: &Connection, id: &str) -> StoreResult<FilingHeld> {
    let resources: String =
        query_one(tx, "SELECT resources FROM record_filings WHERE id = ?1", params![id], |r| r.get(0))
            .map_err(backend_err)?;
    let resources: Vec<String> =
        serde_json::from_str(&resources).map_err(|e| corrupt("record_filings.resources", e))?;
    let mut stmt = tx
        .prepare_cached("SELECT event_id FROM filed_events WHERE filing_id = ?1 ORDER BY filed_ts, event_id")
        .map_err(backend_err)?;
    let rows = stmt.query_map(params![id], |r| r.get::<_, String>(0)).map_err(backend_err)?;
    let events = rows.map(|r| parse_event_id(&r.map_err(backend_err)?)).collect::<StoreResult<Vec<_>>>()?;
    Ok(FilingHeld { resources: resources.into_iter().filter(|r| !r.is_empty()).collect(), events })
}

#[async_trait]
impl FilingStore for SqliteStore {
    async fn new_filing(&self, f: NewFiling) -> StoreResult<Filing> {
        let patient = serde_json::to_string(&f.patient).map_err(|e| corrupt("patient", e))?;
        let events: Vec<&str> = f.events.iter().map(|e| e.as_str()).collect();
        let events = serde_json::to_string(&events).map_err(|e| corrupt("events", e))?;
        let version = i64::try_from(f.tie_version).map_err(|e| corrupt("tie_version", e))?;
        let id = f.id.to_string();
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "INSERT INTO record_filings (id, room_id, requested_by, requested_ts, tie_version, patient,
                         events, transcript, state, due_ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?4)",
                    params![
                        id,
                        f.room_id.as_str(),
                        f.requested_by.as_str(),
                        sql_ts(f.requested),
                        version,
                        patient,
                        events,
                        i64::from(f.transcript)
                    ],
                )
                .map_err(backend_err)?;
                read(w.tx, &id)?.ok_or_else(|| corrupt("record_filings", "the filing just stored is missing"))
            })
            .await
    }

    async fn filing(&self, id: &FilingId) -> StoreResult<Option<Filing>> {
        let id = id.to_string();
        self.readers.read(move |c| read(c, &id)).await
    }

    async fn due_filings(&self, now: Timestamp, lease_from: Timestamp, limit: usize) -> StoreResult<Vec<FilingId>> {
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT id FROM record_filings f WHERE state = 'pending' AND due_ts <= ?1
                           AND (claimed_ts IS NULL OR claimed_ts < ?2)
                           AND NOT EXISTS (SELECT 1 FROM record_filings o
                                           WHERE o.room_id = f.room_id AND o.id <> f.id
                                             AND o.state = 'pending' AND o.claimed_ts >= ?2)
                         ORDER BY due_ts, id LIMIT ?3",
                    )
                    .map_err(backend_err)?;
                let rows = stmt
                    .query_map(params![sql_ts(now), sql_ts(lease_from), limit_of(limit)], |r| r.get::<_, String>(0))
                    .map_err(backend_err)?;
                rows.map(|r| filing_id(&r.map_err(backend_err)?)).collect()
            })
            .await
    }

    async fn claim_filing(&self, id: &FilingId, now: Timestamp, lease_from: Timestamp) -> StoreResult<bool> {
        let id = id.to_string();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE record_filings SET claimed_ts = ?2
                     WHERE id = ?1 AND state = 'pending' AND due_ts <= ?2
                       AND (claimed_ts IS NULL OR claimed_ts < ?3)
                       AND NOT EXISTS (SELECT 1 FROM record_filings o
                                       WHERE o.room_id = record_filings.room_id AND o.id <> ?1
                                         AND o.state = 'pending' AND o.claimed_ts >= ?3)",
                    params![id, sql_ts(now), sql_ts(lease_from)],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn renew_filing(
        &self,
        id: &FilingId,
        claim: Timestamp,
        now: Timestamp,
        progress: FilingResult,
    ) -> StoreResult<bool> {
        let id = id.to_string();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE record_filings SET claimed_ts = ?3
                     WHERE id = ?1 AND state = 'pending' AND claimed_ts = ?2",
                    params![id, sql_ts(claim), sql_ts(now)],
                )
                .map_err(backend_err)?;
                // What the record took is a fact, whoever holds the claim now.
                keep(w.tx, &id, &progress)?;
                Ok(n == 1)
            })
            .await
    }

    async fn finish_filing(
        &self,
        id: &FilingId,
        claim: Timestamp,
        done: FilingResult,
        now: Timestamp,
    ) -> StoreResult<Option<FilingHeld>> {
        self.end_filing(id, claim, "filed", None, done, now).await
    }

    async fn retry_filing(
        &self,
        id: &FilingId,
        claim: Timestamp,
        due: Timestamp,
        error: &str,
        done: FilingResult,
    ) -> StoreResult<bool> {
        let (id, error) = (id.to_string(), error.to_owned());
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE record_filings SET due_ts = ?3, last_error = ?4, attempts = attempts + 1,
                         claimed_ts = NULL
                     WHERE id = ?1 AND state = 'pending' AND claimed_ts = ?2",
                    params![id, sql_ts(claim), sql_ts(due), error],
                )
                .map_err(backend_err)?;
                keep(w.tx, &id, &done)?;
                Ok(n == 1)
            })
            .await
    }

    async fn refuse_filing(
        &self,
        id: &FilingId,
        claim: Timestamp,
        reason: &str,
        done: FilingResult,
        now: Timestamp,
    ) -> StoreResult<Option<FilingHeld>> {
        self.end_filing(id, claim, "refused", Some(reason.to_owned()), done, now).await
    }

    async fn pending_filings(&self, room: &RoomId) -> StoreResult<usize> {
        let room = room.to_owned();
        self.readers
            .read(move |c| {
                let n: i64 = query_one(
                    c,
                    "SELECT COUNT(*) FROM record_filings WHERE room_id = ?1 AND state = 'pending'",
                    params![room.as_str()],
                    |r| r.get(0),
                )
                .map_err(backend_err)?;
                usize::try_from(n).map_err(|e| corrupt("record_filings", e))
            })
            .await
    }

    async fn room_filings(&self, room: &RoomId, limit: usize) -> StoreResult<Vec<Filing>> {
        let room = room.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM record_filings WHERE room_id = ?1
                         ORDER BY requested_ts DESC, rowid DESC LIMIT ?2"
                    ))
                    .map_err(backend_err)?;
                let rows = stmt.query_map(params![room.as_str(), limit_of(limit)], raw).map_err(backend_err)?;
                rows.map(|r| filing(r.map_err(backend_err)?)).collect()
            })
            .await
    }

    async fn filed_events(&self, room: &RoomId) -> StoreResult<Vec<FiledEvent>> {
        let room = room.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT event_id, room_id, filing_id, resource, content_hash, status, filed_ts
                         FROM filed_events WHERE room_id = ?1 ORDER BY filed_ts, event_id",
                    )
                    .map_err(backend_err)?;
                let rows = stmt
                    .query_map(params![room.as_str()], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, i64>(6)?,
                        ))
                    })
                    .map_err(backend_err)?;
                rows.map(|r| {
                    let (event, room, filing, resource, content_hash, status, at) = r.map_err(backend_err)?;
                    Ok(FiledEvent {
                        event_id: parse_event_id(&event)?,
                        room_id: parse_room(&room)?,
                        filing_id: filing_id(&filing)?,
                        resource,
                        content_hash,
                        status: FiledStatus::parse(&status).ok_or_else(|| corrupt("filed_events.status", &status))?,
                        filed: ts(at),
                    })
                })
                .collect()
            })
            .await
    }

    async fn next_filing_due(&self, lease_ms: u64) -> StoreResult<Option<Timestamp>> {
        let lease = i64::try_from(lease_ms).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                let due: Option<i64> = query_one(
                    c,
                    "SELECT MIN(MAX(f.due_ts, COALESCE(
                         (SELECT MAX(o.claimed_ts) FROM record_filings o
                          WHERE o.room_id = f.room_id AND o.state = 'pending') + ?1, 0)))
                     FROM record_filings f WHERE f.state = 'pending'",
                    params![lease],
                    |r| r.get(0),
                )
                .map_err(backend_err)?;
                Ok(due.map(ts))
            })
            .await
    }
}
