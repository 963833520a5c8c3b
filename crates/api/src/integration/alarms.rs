//! `POST /alarms` (raise an alarm), `GET /alarms/{alarmId}` and `GET /alarms?source_id=` (read
//! one of the integration's own alarms back, with its timeline).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::alarms::AlarmInput;
use wardline_store::{Alarm, AlarmEvent};
use wardline_types::Timestamp;
use wardline_types::alarm::{AlarmId, AlarmKind, Location, PatientRef, SourcePriority};

use super::IntegrationAuth;
use crate::error::ApiError;

/// The body of `POST /alarms`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmBody {
    source_id: String,
    kind: AlarmKind,
    #[serde(default)]
    priority: Option<SourcePriority>,
    #[serde(default)]
    location: Location,
    #[serde(default)]
    patient: Option<PatientRef>,
    text: String,
    /// RFC 3339, with an offset.
    #[serde(default)]
    occurred_at: Option<String>,
}

/// An alarm as its integration sees it.
pub fn alarm_json(a: &Alarm) -> Value {
    let mut v = json!({
        "alarm_id": a.id,
        "source_id": a.source_id,
        "kind": a.kind,
        "priority": a.priority,
        "text": a.text,
        "location": a.location,
        "state": a.state,
        "outcome": a.outcome,
        "revision": a.revision,
        "protocol": a.protocol,
        "received_ts": a.received.0,
        "updated_ts": a.updated.0,
    });
    if let Some(p) = &a.patient {
        v["patient"] = json!(p);
    }
    if let Some(t) = a.occurred {
        v["occurred_ts"] = json!(t.0);
    }
    v
}

fn timeline_json(events: &[AlarmEvent]) -> Value {
    let list: Vec<Value> = events
        .iter()
        .map(|e| {
            let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
            json!({ "kind": e.kind, "ts": e.ts.0, "revision": e.revision, "detail": detail })
        })
        .collect();
    Value::Array(list)
}

/// `POST /alarms`: `202 {"alarm_id", "state", "duplicate"}` once the alarm is stored. The same
/// `source_id` again answers the same alarm with `duplicate: true`.
pub async fn create(
    State(s): State<Services>,
    IntegrationAuth(c): IntegrationAuth,
    body: Result<Json<AlarmBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let occurred_at = b
        .occurred_at
        .as_deref()
        .map(|t| {
            Timestamp::parse_rfc3339_strict(t)
                .ok_or_else(|| ApiError::invalid_param("occurred_at is an RFC 3339 time with an offset"))
        })
        .transpose()?;
    let input = AlarmInput {
        source_id: b.source_id,
        kind: b.kind,
        priority: b.priority.unwrap_or(SourcePriority::None),
        location: b.location,
        patient: b.patient,
        text: b.text,
        occurred_at,
    };
    let received = s.alarms.intake(&c, input).await?;
    // The stored answer is an object (the intake made it); anything else is answered afresh.
    let mut answer = match received.answer {
        serde_json::Value::Object(o) => o,
        _ => serde_json::Map::from_iter([
            ("alarm_id".to_owned(), json!(received.alarm.id)),
            ("state".to_owned(), json!(received.alarm.state.as_str())),
        ]),
    };
    answer.insert("duplicate".to_owned(), json!(received.duplicate));
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

fn alarm_id(raw: &str) -> Result<AlarmId, ApiError> {
    // An id that cannot be one is as unknown as one that could.
    AlarmId::parse(raw).map_err(|_| ApiError::not_found(format!("no alarm {raw}")))
}

/// `GET /alarms/{alarmId}`: one of the integration's alarms, with its timeline.
pub async fn get(
    State(s): State<Services>,
    IntegrationAuth(c): IntegrationAuth,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    // A path that does not decode (`%FF`) names no alarm either.
    let Ok(Path(raw)) = path else { return Err(ApiError::not_found("no such alarm")) };
    let (alarm, events) = s.alarms.get(&c, &alarm_id(&raw)?).await?;
    let mut v = alarm_json(&alarm);
    v["timeline"] = timeline_json(&events);
    Ok(Json(v).into_response())
}

/// The query of `GET /alarms`.
#[derive(Debug, Deserialize)]
pub struct BySource {
    source_id: Option<String>,
}

/// `GET /alarms?source_id=`: the integration's alarm raised under its own id.
pub async fn by_source(
    State(s): State<Services>,
    IntegrationAuth(c): IntegrationAuth,
    query: Result<Query<BySource>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid_param(e.body_text()))?;
    let source_id = q.source_id.ok_or_else(|| ApiError::invalid_param("give source_id"))?;
    let alarm = s.alarms.by_source(&c, &source_id).await?;
    let (alarm, events) = s.alarms.get(&c, &alarm.id).await?;
    let mut v = alarm_json(&alarm);
    v["timeline"] = timeline_json(&events);
    Ok(Json(v).into_response())
}
