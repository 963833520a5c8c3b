//! Broadcasts for staff (`/_wardline/client/v1/broadcasts`). The rules are
//! [`wardline_service::broadcast`]'s.
//!
//! - `POST /broadcasts {"audience": {"kind": "organisation"} | {"kind": "department",
//!   "department"} | {"kind": "role", "roles": [roleId…]}, "title", "body", "level":
//!   "routine"|"urgent"|"emergency", "acknowledge": bool, "txn_id"}` → `200` the broadcast
//!   (`"repeated": true` when the transaction id had already sent it);
//! - `POST /broadcasts/audience {"audience"}` → `200 {"recipients": n}`: how many it would reach;
//! - `GET /broadcasts` → `200 {"may_broadcast": bool, "broadcasts": [broadcast…] (newest first),
//!   "departments": [name…] (the active accounts' departments, for those who may send)}`;
//! - `GET /broadcasts/{roomId}` → `200` the report: the broadcast and `{"recipients",
//!   "delivered", "read", "acknowledged", "not_read": [person…], "not_read_total",
//!   "not_acknowledged": [person…], "not_acknowledged_total", "next_reminder_ts"}` (lists capped
//!   at 500, totals exact; a person is `{"user_id", "display_name", "department"}`);
//! - `POST /broadcasts/{roomId}/remind` → `200 {"reminded": n, "users": [userId…], "event_ids"}`,
//!   or `429 M_LIMIT_EXCEEDED` with `retry_after_ms`.
//!
//! Refusals: `403 M_FORBIDDEN` without the permission; `404 M_NOT_FOUND` for a broadcast not
//! the caller's; `400 M_INVALID_PARAM` / `M_BAD_JSON` for a bad audience, title or body.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use ruma::OwnedRoomId;
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::broadcast::{NewBroadcast, Person, broadcast_json};
use wardline_types::broadcast::Audience;
use wardline_types::priority::Level;

use crate::error::ApiError;
use crate::routes::{FirstSignIn, Routes};
use crate::staff::Staff;

/// Staff's broadcast routes.
pub fn routes() -> Routes {
    const R: &str = "/_wardline/client/v1/broadcasts";
    let full = FirstSignIn::Refused;
    Routes::new()
        .wardline(Method::POST, R, "wardline.broadcasts.send", full, send)
        .wardline(Method::GET, R, "wardline.broadcasts.list", full, list)
        .wardline(Method::POST, &format!("{R}/audience"), "wardline.broadcasts.audience", full, audience)
        .wardline(Method::GET, &format!("{R}/{{room_id}}"), "wardline.broadcasts.report", full, report)
        .wardline(Method::POST, &format!("{R}/{{room_id}}/remind"), "wardline.broadcasts.remind", full, remind)
}

fn body<T: for<'de> Deserialize<'de>>(b: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(b).map_err(|e| ApiError::bad_json(e.to_string()))
}

fn room(raw: &str) -> Result<OwnedRoomId, ApiError> {
    OwnedRoomId::try_from(raw)
        .map_err(|_| ApiError::from(wardline_service::ServiceError::not_found("no such broadcast")))
}

/// The body of `POST /broadcasts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    audience: Audience,
    title: String,
    body: String,
    #[serde(default = "routine")]
    level: Level,
    #[serde(default)]
    acknowledge: bool,
    txn_id: String,
}

fn routine() -> Level {
    Level::Routine
}

/// `POST /broadcasts`
async fn send(State(s): State<Services>, Staff(c): Staff, b: Bytes) -> Result<Response, ApiError> {
    let b: SendBody = body(&b)?;
    let new = NewBroadcast {
        audience: b.audience,
        title: b.title,
        body: b.body,
        level: b.level,
        acknowledge: b.acknowledge,
        txn_id: b.txn_id,
    };
    let (sent, repeated) = s.broadcasts.send(&c.actor(), new).await?;
    let mut out = broadcast_json(&sent);
    out["repeated"] = json!(repeated);
    Ok(Json(out).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AudienceBody {
    audience: Audience,
}

/// `POST /broadcasts/audience`
async fn audience(State(s): State<Services>, Staff(c): Staff, b: Bytes) -> Result<Response, ApiError> {
    let b: AudienceBody = body(&b)?;
    let n = s.broadcasts.audience_size(&c.user_id, &b.audience).await?;
    Ok(Json(json!({ "recipients": n })).into_response())
}

/// `GET /broadcasts`
async fn list(State(s): State<Services>, Staff(c): Staff) -> Result<Response, ApiError> {
    let may = s.broadcasts.permitted(&c.user_id).await.is_ok();
    let mine: Vec<Value> = s.broadcasts.mine(&c.user_id).await?.iter().map(broadcast_json).collect();
    // The composer's departments, for those who may send.
    let departments = if may { s.broadcasts.departments().await? } else { Vec::new() };
    Ok(Json(json!({ "may_broadcast": may, "broadcasts": mine, "departments": departments })).into_response())
}

fn person(p: &Person) -> Value {
    json!({ "user_id": p.user_id, "display_name": p.display_name, "department": p.department })
}

/// `GET /broadcasts/{roomId}`
async fn report(State(s): State<Services>, Staff(c): Staff, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let r = s.broadcasts.report(&c.actor(), &room(&raw)?).await?;
    let mut out = broadcast_json(&r.broadcast);
    out["recipients"] = json!(r.recipients);
    out["delivered"] = json!(r.delivered);
    out["read"] = json!(r.read);
    out["acknowledged"] = json!(r.acknowledged);
    out["not_read"] = r.not_read.iter().map(person).collect();
    out["not_read_total"] = json!(r.not_read_total);
    out["not_acknowledged"] = r.not_acknowledged.iter().map(person).collect();
    out["not_acknowledged_total"] = json!(r.not_acknowledged_total);
    out["next_reminder_ts"] = json!(r.next_reminder.0);
    Ok(Json(out).into_response())
}

/// `POST /broadcasts/{roomId}/remind`
async fn remind(State(s): State<Services>, Staff(c): Staff, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let r = s.broadcasts.remind(&c.actor(), &room(&raw)?).await?;
    Ok(Json(json!({ "reminded": r.users.len(), "users": r.users, "event_ids": r.notices })).into_response())
}
