//! Patients from the electronic patient record, and conversations about them
//! (`/_wardline/client/v1/`):
//!
//! - `GET /patients?nhs_number=` | `hospital_number=` | `family=&birth_date=[&given=]`, with
//!   `room_id=` (the conversation it is for) or `reason=` → `200 {"patients": [{"id", "name",
//!   "birth_date", "gender", "nhs_number", "hospital_number", "place": {"ward", "bed",
//!   "source": "adt" | "record"}, "encounter", "launch_url"}], "more": bool}` (at most 10;
//!   `more` when the EPR had others): `400 M_INVALID_PARAM` a query that is not one of the three
//!   ways (or a wrong NHS number check digit: nothing is asked of the EPR), `403` a
//!   conversation the caller is not in, `404 ORG.WARDLINE.NO_EPR` no EPR, `502` the EPR failing;
//! - `GET /patients/{patientId}/rooms` → `200 {"rooms": [{"room_id", "name", "tied_at",
//!   "tied_by"}]}`: the conversations about the patient that the caller is in;
//! - `GET /rooms/{roomId}/patient` → `200 {"patient", "version", "tied_by", "tied_at",
//!   "launch_url"}`, `404` not about a patient;
//! - `PUT /rooms/{roomId}/patient {"patient": "<EPR id>", "encounter"?: "<EPR id>"}` → the
//!   same, for the patient now tied;
//! - `DELETE /rooms/{roomId}/patient` → `200 {}`;
//! - `POST /rooms/{roomId}/filings {"event_ids": [...]} | {"all": true}, "transcript"?: bool`
//!   → `202 {"filing_id"}`: the messages (at most 200) written back to the patient's record by
//!   the background task; `409 ORG.WARDLINE.NO_PATIENT` a conversation about nobody, `404` an
//!   event that is not a message of it the caller may see;
//! - `GET /rooms/{roomId}/filings` → `200 {"filings": [{"filing_id", "state", "requested_by",
//!   "requested_ts", "event_count", "transcript", "attempts", "last_error", "refused_by"
//!   ("record" | "wardline", when refused), "resources", "finished_ts"}], "events": {"<event id>": {"state": "filed" | "changed" |
//!   "entered_in_error", "resource", "filed_ts"}}}`.
//!
//! Every conversation's patient endpoint answers `403` "you are not in this conversation" to
//! anyone not joined to it, whether it exists or not.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ruma::OwnedRoomId;
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::patients::filing::RECORD_REFUSED;
use wardline_service::patients::{RoomPatient, SearchPurpose};
use wardline_types::patient::filing::{FilingRequest, FilingScope, FilingState};
use wardline_types::patient::{PatientQuery, PatientSummary};

use crate::error::ApiError;
use crate::routes::{FirstSignIn, Routes};
use crate::staff::Staff;

/// The patient routes.
pub fn routes() -> Routes {
    const V1: &str = "/_wardline/client/v1";
    let full = FirstSignIn::Refused;
    let room = format!("{V1}/rooms/{{room_id}}/patient");
    let filings_path = format!("{V1}/rooms/{{room_id}}/filings");
    Routes::new()
        .wardline(Method::GET, &format!("{V1}/patients"), "wardline.patients.search", full, search)
        .wardline(Method::GET, &format!("{V1}/patients/{{patient_id}}/rooms"), "wardline.patients.rooms", full, rooms)
        .wardline(Method::GET, &room, "wardline.rooms.patient.get", full, get_patient)
        .wardline(Method::PUT, &room, "wardline.rooms.patient.set", full, tie)
        .wardline(Method::DELETE, &room, "wardline.rooms.patient.remove", full, untie)
        .wardline(Method::POST, &filings_path, "wardline.rooms.filings.create", full, file)
        .wardline(Method::GET, &filings_path, "wardline.rooms.filings.list", full, filings)
}

/// The query of `GET /patients`.
#[derive(Debug, Deserialize)]
struct SearchQuery {
    nhs_number: Option<String>,
    hospital_number: Option<String>,
    family: Option<String>,
    given: Option<String>,
    birth_date: Option<String>,
    /// The conversation the search is for.
    room_id: Option<String>,
    /// Or why the patient is looked up.
    reason: Option<String>,
}

/// A patient with "Open in the EPR".
fn patient_json(s: &Services, p: &PatientSummary) -> Value {
    let mut v = serde_json::to_value(p).unwrap_or_else(|_| json!({}));
    v["launch_url"] = json!(s.patients.launch_url(p));
    v
}

/// `GET /patients?…`
async fn search(
    State(s): State<Services>,
    Staff(c): Staff,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid_param(e.body_text()))?;
    let patient = PatientQuery::from_parts(
        q.nhs_number.as_deref(),
        q.hospital_number.as_deref(),
        q.family.as_deref(),
        q.given.as_deref(),
        q.birth_date.as_deref(),
    )
    .map_err(|e| ApiError::invalid_param(e.to_string()))?;
    let purpose = SearchPurpose::from_parts(q.room_id.as_deref(), q.reason.as_deref())?;
    let found = s.patients.search(&c.actor(), &patient, &purpose).await?;
    let patients: Vec<Value> = found.patients.iter().map(|p| patient_json(&s, p)).collect();
    Ok(Json(json!({ "patients": patients, "more": found.more })).into_response())
}

/// `GET /patients/{patientId}/rooms`
async fn rooms(State(s): State<Services>, Staff(c): Staff, Path(patient): Path<String>) -> Result<Response, ApiError> {
    let rooms: Vec<Value> = s
        .patients
        .rooms_about(&c.actor(), &patient)
        .await?
        .into_iter()
        .map(|r| json!({ "room_id": r.room_id, "name": r.name, "tied_at": r.tied_at.0, "tied_by": r.tied_by }))
        .collect();
    Ok(Json(json!({ "rooms": rooms })).into_response())
}

fn room_id(raw: String) -> Result<OwnedRoomId, ApiError> {
    OwnedRoomId::try_from(raw).map_err(|_| ApiError::invalid_param("invalid room id"))
}

/// A conversation's patient as its banner shows it.
fn room_patient_json(p: &RoomPatient) -> Value {
    json!({
        "patient": serde_json::to_value(&p.tie.patient).unwrap_or_else(|_| json!({})),
        "version": p.tie.version,
        "tied_by": p.tie.tied_by,
        "tied_at": p.tie.tied_at.0,
        "launch_url": p.launch_url,
    })
}

/// `GET /rooms/{roomId}/patient`
async fn get_patient(
    State(s): State<Services>,
    Staff(c): Staff,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let room = room_id(raw)?;
    let p = s.patients.room_patient(&c.actor(), &room).await?;
    Ok(Json(room_patient_json(&p)).into_response())
}

/// The body of `PUT /rooms/{roomId}/patient`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TieBody {
    /// The EPR's id of the patient.
    patient: String,
    /// The EPR's id of their encounter this conversation is about, if not the current one.
    #[serde(default)]
    encounter: Option<String>,
}

/// `PUT /rooms/{roomId}/patient`
async fn tie(
    State(s): State<Services>,
    Staff(c): Staff,
    Path(raw): Path<String>,
    b: Bytes,
) -> Result<Response, ApiError> {
    let room = room_id(raw)?;
    let body: TieBody = crate::error::json_body(&b)?;
    let p = s.patients.tie(&c.actor(), &room, body.patient.trim(), body.encounter.as_deref().map(str::trim)).await?;
    Ok(Json(room_patient_json(&p)).into_response())
}

/// `DELETE /rooms/{roomId}/patient`
async fn untie(State(s): State<Services>, Staff(c): Staff, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let room = room_id(raw)?;
    s.patients.untie(&c.actor(), &room).await?;
    Ok(Json(json!({})).into_response())
}

/// The body of `POST /rooms/{roomId}/filings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    /// These messages.
    #[serde(default)]
    event_ids: Option<Vec<String>>,
    /// Or every message the caller may see.
    #[serde(default)]
    all: bool,
    /// And the conversation's transcript.
    #[serde(default)]
    transcript: bool,
}

/// `POST /rooms/{roomId}/filings`
async fn file(
    State(s): State<Services>,
    Staff(c): Staff,
    Path(raw): Path<String>,
    b: Bytes,
) -> Result<Response, ApiError> {
    let room = room_id(raw)?;
    let body: FileBody = crate::error::json_body(&b)?;
    let scope = match (body.event_ids, body.all) {
        (Some(ids), false) => FilingScope::Events(ids),
        (None, true) => FilingScope::All,
        _ => return Err(ApiError::bad_json("give either event_ids or \"all\": true")),
    };
    let id = s.patients.file(&c.actor(), &room, FilingRequest { scope, transcript: body.transcript }).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "filing_id": id }))).into_response())
}

/// `GET /rooms/{roomId}/filings`
async fn filings(State(s): State<Services>, Staff(c): Staff, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let room = room_id(raw)?;
    let status = s.patients.filings(&c.actor(), &room).await?;
    let filings: Vec<Value> = status
        .filings
        .iter()
        .map(|f| {
            json!({
                "filing_id": f.request.id,
                "state": f.state.as_str(),
                "requested_by": f.request.requested_by,
                "requested_ts": f.request.requested.0,
                "event_count": f.request.events.len(),
                "transcript": f.request.transcript,
                "attempts": f.attempts,
                "last_error": f.last_error,
                // Who refused it: the record (its words in last_error), or Wardline.
                "refused_by": (f.state == FilingState::Refused).then(|| {
                    let by_record = f.last_error.as_deref().is_some_and(|e| e.starts_with(RECORD_REFUSED));
                    if by_record { "record" } else { "wardline" }
                }),
                // (An entry the record took without saying where is not listed.)
                "resources": f.resources.iter().filter(|r| !r.is_empty()).collect::<Vec<_>>(),
                "finished_ts": f.finished.map(|t| t.0),
            })
        })
        .collect();
    let events: serde_json::Map<String, Value> = status
        .events
        .iter()
        .map(|(id, e)| {
            let state = serde_json::to_value(e.state).unwrap_or(Value::Null);
            let resource = Some(&e.resource).filter(|r| !r.is_empty());
            (id.to_string(), json!({ "state": state, "resource": resource, "filed_ts": e.filed.0 }))
        })
        .collect();
    Ok(Json(json!({ "filings": filings, "events": events })).into_response())
}
