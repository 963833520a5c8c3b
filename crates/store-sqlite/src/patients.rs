//! [`PatientStore`] on SQLite: `patients` (migration 0027). An update is applied by one
//! conditional write (`msg_ts` not newer than the update's), inside the HL7 intake's
//! transaction when it comes from a message ([`apply`] is shared with `record_intake`).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{AdtApplied, AdtEvent, Patient, PatientStore, PatientUpdate, StoreError, StoreResult};
use wardline_types::alarm::Location;

use crate::rows::{exec, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const COLUMNS: &str = "patient_key, display_name, birth_date, sex, site, ward, room, bed, specialty, admitted_ts, \
     discharged_ts, msg_ts, updated_ts";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Patient> {
    Ok(Patient {
        key: r.get(0)?,
        name: r.get(1)?,
        birth_date: r.get(2)?,
        sex: r.get(3)?,
        location: Location { site: r.get(4)?, ward: r.get(5)?, room: r.get(6)?, bed: r.get(7)? },
        specialty: r.get(8)?,
        admitted: r.get::<_, Option<i64>>(9)?.map(ts),
        discharged: r.get::<_, Option<i64>>(10)?.map(ts),
        message_time: ts(r.get(11)?),
        updated: ts(r.get(12)?),
    })
}

fn read(c: &Connection, key: &str) -> StoreResult<Option<Patient>> {
    query_one(c, &format!("SELECT {COLUMNS} FROM patients WHERE patient_key = ?1"), params![key], row)
        .optional()
        .map_err(backend_err)
}

/// Applies `u` in the caller's transaction: the record as it is after (`Stale` if `u` is older
/// than what it was last written from). A value the message does not give is kept; a discharge
/// empties the bed; an admission or transfer without a bed keeps the one known.
pub(crate) fn apply(c: &Connection, u: &PatientUpdate) -> StoreResult<AdtApplied> {
    let before = read(c, &u.key)?;
    if let Some(p) = &before
        && p.message_time > u.message_time
    {
        return Ok(AdtApplied::Stale(p.clone()));
    }
    let keep = |new: &Option<String>, old: Option<&Option<String>>| new.clone().or_else(|| old.cloned().flatten());
    let old = before.as_ref();
    let name = keep(&u.name, old.map(|p| &p.name));
    let birth = keep(&u.birth_date, old.map(|p| &p.birth_date));
    let sex = keep(&u.sex, old.map(|p| &p.sex));
    let specialty = keep(&u.specialty, old.map(|p| &p.specialty));
    let (location, admitted, discharged) = match u.event {
        AdtEvent::Discharge => (Location::default(), old.and_then(|p| p.admitted), Some(u.message_time)),
        AdtEvent::Admit => (
            u.location.clone().or_else(|| old.map(|p| p.location.clone())).unwrap_or_default(),
            Some(u.message_time),
            None,
        ),
        AdtEvent::Transfer | AdtEvent::Update => {
            let discharged = old.and_then(|p| p.discharged);
            // A patient discharged stays out of a bed until admitted again, whatever an update says.
            let location = if discharged.is_some() {
                Location::default()
            } else {
                u.location.clone().or_else(|| old.map(|p| p.location.clone())).unwrap_or_default()
            };
            (location, old.and_then(|p| p.admitted), discharged)
        }
    };
    exec(
        c,
        "INSERT INTO patients (patient_key, display_name, birth_date, sex, site, ward, room, bed, specialty,
                               admitted_ts, discharged_ts, msg_ts, updated_ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (patient_key) DO UPDATE SET display_name = ?2, birth_date = ?3, sex = ?4, site = ?5,
             ward = ?6, room = ?7, bed = ?8, specialty = ?9, admitted_ts = ?10, discharged_ts = ?11, msg_ts = ?12,
             updated_ts = ?13",
        params![
            u.key,
            name,
            birth,
            sex,
            location.site,
            location.ward,
            location.room,
            location.bed,
            specialty,
            admitted.map(sql_ts),
            discharged.map(sql_ts),
            sql_ts(u.message_time),
            sql_ts(u.received),
        ],
    )
    .map_err(backend_err)?;
    read(c, &u.key)?.map(AdtApplied::Applied).ok_or(StoreError::NotFound)
}

#[async_trait]
impl PatientStore for SqliteStore {
    async fn apply_adt(&self, update: PatientUpdate) -> StoreResult<AdtApplied> {
        self.writer.write(move |w| apply(w.tx, &update)).await
    }

    async fn patient(&self, key: &str) -> StoreResult<Option<Patient>> {
        let key = key.to_owned();
        self.readers.read(move |c| read(c, &key)).await
    }

    async fn patient_in_bed(&self, location: &Location) -> StoreResult<Option<Patient>> {
        let l = location.clone();
        if l.ward.is_none() || l.bed.is_none() {
            return Ok(None);
        }
        self.readers
            .read(move |c| {
                query_one(
                    c,
                    &format!(
                        "SELECT {COLUMNS} FROM patients
                         WHERE discharged_ts IS NULL AND ward = ?1 AND room IS ?2 AND bed = ?3
                           AND (?4 IS NULL OR site IS NULL OR site = ?4)
                         ORDER BY msg_ts DESC LIMIT 1"
                    ),
                    params![l.ward, l.room, l.bed, l.site],
                    row,
                )
                .optional()
                .map_err(backend_err)
            })
            .await
    }
}
