//! Pushers: `GET /pushers`, `POST /pushers/set` (spec, with the MSC4174 kind `webpush`), and
//! the server's VAPID public key for browsers, `GET /_wardline/client/v1/push/vapid` →
//! `{"public_key": base64url}` (also in `/capabilities` as `m.webpush`). The rules are
//! [`wardline_service::push`]'s.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use ruma::api::client::push::{get_pushers, set_pusher};
use serde_json::{Value, json};
use wardline_service::push::SetPusher;
use wardline_service::{ServiceError, Services};

use crate::error::ApiError;
use crate::ruma_wrapper::{Ruma, reply};
use crate::staff::Staff;

/// `GET /_matrix/client/v3/pushers`
pub async fn list(s: Services, req: Ruma<get_pushers::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let pushers: Vec<Value> = s
        .pushers
        .pushers(caller)
        .await?
        .into_iter()
        .map(|p| {
            let mut o = json!({
                "pushkey": p.pushkey,
                "kind": p.kind.as_str(),
                "app_id": p.app_id,
                "app_display_name": p.app_display_name,
                "device_display_name": p.device_display_name,
                "lang": p.lang,
                "data": p.data,
            });
            if let Some(tag) = p.profile_tag {
                o["profile_tag"] = json!(tag);
            }
            o
        })
        .collect();
    Ok(Json(json!({ "pushers": pushers })).into_response())
}

/// `POST /_matrix/client/v3/pushers/set`: ruma checked the request's shape; the body is read
/// again as a whole so that the kind `webpush` and its data keep every field.
pub async fn set(s: Services, req: Ruma<set_pusher::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let bad = |e: String| ApiError::from(ServiceError::BadJson(e));
    let raw: Value = serde_json::from_slice(&req.raw_body).map_err(|e| bad(e.to_string()))?;
    // The spec requires `kind`: `null` deletes, and a missing one is a mistake, not a deletion.
    if raw.get("kind").is_none() {
        return Err(bad("kind is required (null to delete the pusher)".into()));
    }
    let body: SetPusher = serde_json::from_value(raw).map_err(|e| bad(e.to_string()))?;
    s.pushers.set_pusher(caller, body).await?;
    reply(set_pusher::v3::Response::new())
}

/// `GET /_wardline/client/v1/push/vapid`: `{"public_key"}`, or `404` when Web Push is not offered.
pub async fn vapid(State(s): State<Services>, Staff(_): Staff) -> Result<Response, ApiError> {
    match s.pushers.vapid_public_key().await? {
        Some(key) => Ok(Json(json!({ "public_key": key })).into_response()),
        None => Err(ServiceError::not_found("this server offers no Web Push (push.webpush_hosts is empty)").into()),
    }
}
