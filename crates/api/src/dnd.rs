//! Do not disturb for staff (`/_wardline/client/v1/dnd`): set one's own until a time with an
//! optional cover, end it, and see anyone's. The rules are [`wardline_service::cover`]'s.
//!
//! - `PUT /dnd {"until_ts": ms, "cover": "@user:server" | null}` → `200` the caller's view;
//! - `DELETE /dnd` → `200` the caller's view (not active);
//! - `GET /dnd/{userId}` → `200 {"user_id", "active", "until_ts", "cover": {"user_id",
//!   "displayname"} | null}`.
//!
//! Refusals: `400 M_INVALID_PARAM` (a time not in the future or more than 7 days ahead; oneself
//! or a role as cover), `404 M_NOT_FOUND` (an unknown or deactivated cover or user), `409
//! ORG.WARDLINE.COVER_ON_DND` (the cover is on do-not-disturb).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::cover::DndView;
use wardline_types::Timestamp;

use crate::error::ApiError;
use crate::roles::user_id;
use crate::routes::{FirstSignIn, Routes};
use crate::staff::Staff;

/// A do-not-disturb as staff see it.
pub(crate) fn dnd_json(v: &DndView) -> Value {
    json!({
        "user_id": v.user_id,
        "active": v.active(),
        "until_ts": v.until.map(|u| u.0),
        "cover": v.cover.as_ref().map(|c| json!({ "user_id": c.user_id, "displayname": c.displayname })),
    })
}

/// Staff's do-not-disturb routes.
pub fn routes() -> Routes {
    const R: &str = "/_wardline/client/v1/dnd";
    let full = FirstSignIn::Refused;
    Routes::new()
        .wardline(Method::PUT, R, "wardline.dnd.set", full, set)
        .wardline(Method::DELETE, R, "wardline.dnd.clear", full, clear)
        .wardline(Method::GET, &format!("{R}/{{user_id}}"), "wardline.dnd.get", full, get)
}

/// The body of `PUT /dnd`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    /// Until when, in milliseconds since the epoch.
    until_ts: u64,
    /// The colleague covering (a user id or a username), if any.
    #[serde(default)]
    cover: Option<String>,
}

/// `PUT /dnd {until_ts, cover?}`: the caller goes on do-not-disturb.
async fn set(State(s): State<Services>, Staff(c): Staff, b: Bytes) -> Result<Response, ApiError> {
    let b: SetBody = serde_json::from_slice(&b).map_err(|e| ApiError::bad_json(e.to_string()))?;
    let cover = match b.cover.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(raw) => Some(user_id(&s, raw)?),
    };
    let v = s.cover.set(&c.actor(), Timestamp(b.until_ts), cover).await?;
    Ok(Json(dnd_json(&v)).into_response())
}

/// `DELETE /dnd`: the caller's do-not-disturb ends now.
async fn clear(State(s): State<Services>, Staff(c): Staff) -> Result<Response, ApiError> {
    let v = s.cover.clear(&c.actor()).await?;
    Ok(Json(dnd_json(&v)).into_response())
}

/// `GET /dnd/{userId}`: anyone's do-not-disturb now.
async fn get(State(s): State<Services>, Staff(_): Staff, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let v = s.cover.get(&user_id(&s, &raw)?).await?;
    Ok(Json(dnd_json(&v)).into_response())
}
