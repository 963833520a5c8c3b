//! `/devices`: list, rename and end sessions.

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::device::{delete_device, delete_devices, get_device, get_devices, update_device};
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_types::Device;

use crate::client::session::{uia_auth, uia_operation};
use crate::error::ApiError;
use crate::ruma_wrapper::{Ruma, reply};

fn device_json(d: &Device) -> Value {
    json!({
        "device_id": d.device_id,
        "display_name": d.display_name,
        "last_seen_ts": d.last_seen_ts.map(|t| t.0),
        "last_seen_ip": d.last_seen_ip,
    })
}

/// `GET /devices`
pub async fn list(s: Services, req: Ruma<get_devices::v3::Request>) -> Result<Response, ApiError> {
    let devices = s.sessions.devices(&req.caller()?.user_id).await?;
    Ok(Json(json!({ "devices": devices.iter().map(device_json).collect::<Vec<_>>() })).into_response())
}

/// `GET /devices/{deviceId}`
pub async fn get(s: Services, req: Ruma<get_device::v3::Request>) -> Result<Response, ApiError> {
    let devices = s.sessions.devices(&req.caller()?.user_id).await?;
    let d = devices
        .iter()
        .find(|d| d.device_id == req.body.device_id)
        .ok_or_else(|| ApiError::not_found("no such device"))?;
    Ok(Json(device_json(d)).into_response())
}

/// `PUT /devices/{deviceId}`
pub async fn update(s: Services, req: Ruma<update_device::v3::Request>) -> Result<Response, ApiError> {
    s.sessions.rename_device(&req.caller()?.user_id, &req.body.device_id, req.body.display_name.clone()).await?;
    reply(update_device::v3::Response::new())
}

/// `DELETE /devices/{deviceId}` (re-enter the password first).
pub async fn delete(s: Services, req: Ruma<delete_device::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    s.sessions.require_password(caller, uia_auth(req.body.auth.as_ref()), &uia_operation(&req)).await?;
    s.sessions.end_devices(&caller.actor(), &caller.user_id, std::slice::from_ref(&req.body.device_id)).await?;
    reply(delete_device::v3::Response::new())
}

/// `POST /delete_devices` (re-enter the password first).
pub async fn delete_many(s: Services, req: Ruma<delete_devices::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    s.sessions.require_password(caller, uia_auth(req.body.auth.as_ref()), &uia_operation(&req)).await?;
    s.sessions.end_devices(&caller.actor(), &caller.user_id, &req.body.devices).await?;
    reply(delete_devices::v3::Response::new())
}
