//! [`PatientContextStore`] on SQLite: `room_patients` (migration 0032). A tie ends the current
//! one and inserts the next version in one write; the partial unique index keeps at most one
//! current tie per conversation whatever races.

use async_trait::async_trait;
use ruma::{RoomId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{PatientContextStore, PatientTie, StoreResult};
use wardline_types::Timestamp;
use wardline_types::patient::PatientSummary;

use crate::rows::{corrupt, exec, parse_room, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const COLUMNS: &str = "room_id, version, patient, tied_by, tied_ts, ended_by, ended_ts";

type Raw = (String, i64, String, String, i64, Option<String>, Option<i64>);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn tie((room, version, patient, by, at, ended_by, ended_at): Raw) -> StoreResult<PatientTie> {
    let patient: PatientSummary = serde_json::from_str(&patient).map_err(|e| corrupt("room_patients.patient", e))?;
    let ended = match (ended_by, ended_at) {
        (Some(u), Some(t)) => Some((parse_user(&u)?, ts(t))),
        _ => None,
    };
    Ok(PatientTie {
        room_id: parse_room(&room)?,
        version: u64::try_from(version).map_err(|e| corrupt("room_patients.version", e))?,
        patient,
        tied_by: parse_user(&by)?,
        tied_at: ts(at),
        ended,
    })
}

fn current(c: &Connection, room: &str) -> StoreResult<Option<PatientTie>> {
    query_one(
        c,
        &format!("SELECT {COLUMNS} FROM room_patients WHERE room_id = ?1 AND ended_ts IS NULL"),
        params![room],
        raw,
    )
    .optional()
    .map_err(backend_err)?
    .map(tie)
    .transpose()
}

fn end_current(c: &Connection, room: &str, by: &str, at: Timestamp) -> StoreResult<Option<PatientTie>> {
    let Some(mut before) = current(c, room)? else { return Ok(None) };
    exec(
        c,
        "UPDATE room_patients SET ended_by = ?2, ended_ts = ?3 WHERE room_id = ?1 AND ended_ts IS NULL",
        params![room, by, sql_ts(at)],
    )
    .map_err(backend_err)?;
    before.ended = Some((parse_user(by)?, at));
    Ok(Some(before))
}

#[async_trait]
impl PatientContextStore for SqliteStore {
    async fn tie_patient(
        &self,
        room: &RoomId,
        patient: &PatientSummary,
        by: &UserId,
        at: Timestamp,
    ) -> StoreResult<PatientTie> {
        let json = serde_json::to_string(patient).map_err(|e| corrupt("patient", e))?;
        let (room, by, patient) = (room.to_owned(), by.to_owned(), patient.clone());
        self.writer
            .write(move |w| {
                end_current(w.tx, room.as_str(), by.as_str(), at)?;
                let last: i64 = query_one(
                    w.tx,
                    "SELECT COALESCE(MAX(version), 0) FROM room_patients WHERE room_id = ?1",
                    params![room.as_str()],
                    |r| r.get(0),
                )
                .map_err(backend_err)?;
                let version = last + 1;
                exec(
                    w.tx,
                    "INSERT INTO room_patients (room_id, version, patient_id, patient, tied_by, tied_ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![room.as_str(), version, patient.id, json, by.as_str(), sql_ts(at)],
                )
                .map_err(backend_err)?;
                Ok(PatientTie {
                    room_id: room,
                    version: u64::try_from(version).map_err(|e| corrupt("room_patients.version", e))?,
                    patient,
                    tied_by: by,
                    tied_at: at,
                    ended: None,
                })
            })
            .await
    }

    async fn untie_patient(&self, room: &RoomId, by: &UserId, at: Timestamp) -> StoreResult<Option<PatientTie>> {
        let (room, by) = (room.to_owned(), by.to_owned());
        self.writer.write(move |w| end_current(w.tx, room.as_str(), by.as_str(), at)).await
    }

    async fn room_patient(&self, room: &RoomId) -> StoreResult<Option<PatientTie>> {
        let room = room.to_owned();
        self.readers.read(move |c| current(c, room.as_str())).await
    }

    async fn room_patient_history(&self, room: &RoomId) -> StoreResult<Vec<PatientTie>> {
        let room = room.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!("SELECT {COLUMNS} FROM room_patients WHERE room_id = ?1 ORDER BY version"))
                    .map_err(backend_err)?;
                let rows = stmt.query_map(params![room.as_str()], raw).map_err(backend_err)?;
                rows.map(|r| tie(r.map_err(backend_err)?)).collect()
            })
            .await
    }

    async fn rooms_about_patient(&self, patient_id: &str, limit: usize) -> StoreResult<Vec<PatientTie>> {
        let (patient_id, limit) = (patient_id.to_owned(), i64::try_from(limit).unwrap_or(i64::MAX));
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM room_patients WHERE patient_id = ?1 AND ended_ts IS NULL
                         ORDER BY tied_ts DESC, room_id LIMIT ?2"
                    ))
                    .map_err(backend_err)?;
                let rows = stmt.query_map(params![patient_id, limit], raw).map_err(backend_err)?;
                rows.map(|r| tie(r.map_err(backend_err)?)).collect()
            })
            .await
    }

    async fn patient_ties(&self, patient_id: &str) -> StoreResult<Vec<PatientTie>> {
        let patient_id = patient_id.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM room_patients WHERE patient_id = ?1 ORDER BY tied_ts, room_id, version"
                    ))
                    .map_err(backend_err)?;
                let rows = stmt.query_map(params![patient_id], raw).map_err(backend_err)?;
                rows.map(|r| tie(r.map_err(backend_err)?)).collect()
            })
            .await
    }
}
