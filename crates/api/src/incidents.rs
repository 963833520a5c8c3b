//! Incidents for staff (`/_wardline/client/v1/incidents`): the incident conversations the
//! caller is in, with who is coming, and closing one.
//!
//! - `GET /incidents` → `200 {"incidents": [{"room_id", "title", "kind", "location", "patient"?,
//!   "state": "open" | "closed", "opened_ts", "closed_ts"?, "closed_by"?, "reason"?, "alarm_id",
//!   "alerted", "coming": [{"user_id", "display_name", "ts"}], "not_coming": [...]}]}`, open ones
//!   first;
//! - `POST /incidents/{roomId}/close {"reason"?}` → `200 {}`: any member stands the team down;
//!   `404` for a conversation that is not an incident the caller is in, `409
//!   ORG.WARDLINE.ALARM_ENDED` once closed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::alarms::{Incident, Responder};

use crate::error::ApiError;
use crate::routes::{FirstSignIn, Routes};
use crate::staff::Staff;

/// Staff's incident routes.
pub fn routes() -> Routes {
    const R: &str = "/_wardline/client/v1/incidents";
    let full = FirstSignIn::Refused;
    Routes::new().wardline(Method::GET, R, "wardline.incidents.list", full, list).wardline(
        Method::POST,
        &format!("{R}/{{room_id}}/close"),
        "wardline.incidents.close",
        full,
        close,
    )
}

fn responder_json(r: &Responder) -> Value {
    json!({ "user_id": r.user_id, "display_name": r.display_name, "ts": r.at.0 })
}

fn incident_json(i: &Incident) -> Value {
    let mut v = i.state.clone();
    if !v.is_object() {
        v = json!({});
    }
    v["room_id"] = json!(i.room_id);
    v["alerted"] = json!(i.alerted);
    v["coming"] = i.responders.iter().filter(|r| r.coming).map(responder_json).collect();
    v["not_coming"] = i.responders.iter().filter(|r| !r.coming).map(responder_json).collect();
    v
}

/// `GET /incidents`
async fn list(State(s): State<Services>, Staff(c): Staff) -> Result<Response, ApiError> {
    let incidents: Vec<Value> = s.alarms.incidents(&c.user_id).await?.iter().map(incident_json).collect();
    Ok(Json(json!({ "incidents": incidents })).into_response())
}

/// The body of `POST /incidents/{roomId}/close` (may be empty).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /incidents/{roomId}/close`
async fn close(
    State(s): State<Services>,
    Staff(c): Staff,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    b: Bytes,
) -> Result<Response, ApiError> {
    let Ok(Path(raw)) = path else { return Err(ApiError::not_found("no such incident")) };
    let room = ruma::OwnedRoomId::try_from(raw).map_err(|_| ApiError::not_found("no such incident"))?;
    let body: CloseBody = if b.iter().all(u8::is_ascii_whitespace) {
        CloseBody::default()
    } else {
        serde_json::from_slice(&b).map_err(|e| ApiError::bad_json(e.to_string()))?
    };
    s.alarms.close_incident_by(&c.actor(), &room, body.reason).await?;
    Ok(Json(json!({})).into_response())
}
