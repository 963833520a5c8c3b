//! `POST /alarms` (raise an alarm), `POST /alarms/{alarmId}/reset` and `/cancel` (end it),
//! `GET /alarms/{alarmId}` and `GET /alarms?source_id=` (read one of the integration's own
//! alarms back, with its timeline and status facts).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::alarms::{AlarmInput, AlarmPatch, AlarmView};
use wardline_store::{Alarm, AlarmEvent, StatusFact};
use wardline_types::Timestamp;
use wardline_types::alarm::{AlarmId, AlarmKind, AlarmState, Location, PatientRef, SourcePriority};

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

fn status_json(facts: &[StatusFact]) -> Value {
    let list: Vec<Value> = facts
        .iter()
        .map(|f| {
            let detail: Value = serde_json::from_str(&f.detail).unwrap_or(Value::Null);
            let mut v = json!({ "status": f.kind, "ts": f.at.0, "detail": detail });
            if let Some(u) = &f.user {
                v["user_id"] = json!(u);
            }
            v
        })
        .collect();
    Value::Array(list)
}

/// An alarm with its timeline and status facts.
pub fn view_json(v: &AlarmView) -> Value {
    let mut out = alarm_json(&v.alarm);
    out["timeline"] = timeline_json(&v.events);
    out["status"] = status_json(&v.status);
    if let Some(r) = &v.alarm.routing {
        out["rule_id"] = json!(r.rule);
        out["level"] = json!(r.level);
        if let Some(room) = &r.room {
            out["room_id"] = json!(room);
        }
        if let Some(e) = &r.event {
            out["event_id"] = json!(e);
        }
    }
    if let Some(t) = v.alarm.ended {
        out["ended_ts"] = json!(t.0);
    }
    out
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
    let view = s.alarms.get(&c, &alarm_id(&raw)?).await?;
    Ok(Json(view_json(&view)).into_response())
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
    let view = s.alarms.get(&c, &alarm.id).await?;
    Ok(Json(view_json(&view)).into_response())
}

/// The body of `PATCH /alarms/{alarmId}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default)]
    priority: Option<SourcePriority>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    location: Option<Location>,
}

/// `PATCH /alarms/{alarmId}` `{"priority"?, "text"?, "location"?}`: the source changes what its
/// active alarm says. `202` once stored (`duplicate: true` if it said that already); its message
/// is then edited. `409 ORG.WARDLINE.ALARM_ENDED` once reset or cancelled.
pub async fn update(
    State(s): State<Services>,
    IntegrationAuth(c): IntegrationAuth,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: Result<Json<PatchBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Ok(Path(raw)) = path else { return Err(ApiError::not_found("no such alarm")) };
    let id = alarm_id(&raw)?;
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let patch = AlarmPatch { priority: b.priority, text: b.text, location: b.location };
    let received = s.alarms.update_alarm(&c, &id, patch).await?;
    let answer = json!({
        "alarm_id": received.alarm.id,
        "state": received.alarm.state,
        "revision": received.alarm.revision,
        "duplicate": received.duplicate,
    });
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// The body of `POST /alarms/{alarmId}/reset` and `/cancel` (may be empty).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    #[serde(default)]
    reason: Option<String>,
}

async fn end(
    s: Services,
    c: wardline_service::integrations::IntegrationCaller,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: axum::body::Bytes,
    state: AlarmState,
) -> Result<Response, ApiError> {
    let Ok(Path(raw)) = path else { return Err(ApiError::not_found("no such alarm")) };
    let id = alarm_id(&raw)?;
    let b: EndBody = if body.iter().all(u8::is_ascii_whitespace) {
        EndBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_json(e.to_string()))?
    };
    let received = s.alarms.end_alarm(&c, &id, state, b.reason).await?;
    let mut answer = match received.answer {
        Value::Object(o) => o,
        _ => serde_json::Map::from_iter([
            ("alarm_id".to_owned(), json!(received.alarm.id)),
            ("state".to_owned(), json!(state.as_str())),
        ]),
    };
    answer.insert("duplicate".to_owned(), json!(received.duplicate));
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// `POST /alarms/{alarmId}/reset` `{"reason"?}`: the condition has gone. `202` once stored; the
/// same again is `202` with `duplicate: true`; `409 ORG.WARDLINE.ALARM_ENDED` once cancelled.
pub async fn reset(
    State(s): State<Services>,
    IntegrationAuth(c): IntegrationAuth,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    end(s, c, path, body, AlarmState::Reset).await
}

/// `POST /alarms/{alarmId}/cancel` `{"reason"?}`: raised in error. As `reset`.
pub async fn cancel(
    State(s): State<Services>,
    IntegrationAuth(c): IntegrationAuth,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    end(s, c, path, body, AlarmState::Cancelled).await
}
