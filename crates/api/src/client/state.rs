//! Room state: read all, read one, set one.

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::state::{get_state_event_for_key, get_state_events, send_state_event};
use serde_json::{Value, json};
use wardline_service::Services;

use crate::client::format::{client_event, client_events};
use crate::error::ApiError;
use crate::ruma_wrapper::Ruma;

/// `GET /rooms/{roomId}/state`
pub async fn all(s: Services, req: Ruma<get_state_events::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let state = s.timeline.readable_state(&caller.user_id, &req.body.room_id).await?;
    Ok(Json(Value::Array(client_events(&state, caller, s.clock.now()))).into_response())
}

/// `GET /rooms/{roomId}/state/{eventType}/{stateKey}`
pub async fn get(s: Services, req: Ruma<get_state_event_for_key::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let state = s.timeline.readable_state(&caller.user_id, &b.room_id).await?;
    let kind = b.event_type.to_string();
    let event = state
        .iter()
        .find(|e| e.event.kind == kind && e.event.state_key.as_deref() == Some(b.state_key.as_str()))
        .ok_or_else(|| ApiError::not_found("no such state event"))?;
    let body = match b.format {
        get_state_event_for_key::v3::StateEventFormat::Event => client_event(event, caller, s.clock.now()),
        _ => event.event.content.clone(),
    };
    Ok(Json(body).into_response())
}

/// `PUT /rooms/{roomId}/state/{eventType}/{stateKey}`
pub async fn put(s: Services, req: Ruma<send_state_event::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let content: Value = serde_json::from_str(b.body.json().get()).map_err(|e| ApiError::bad_json(e.to_string()))?;
    let id = s.rooms.set_state(&b.room_id, &caller.actor(), &b.event_type.to_string(), &b.state_key, content).await?;
    Ok(Json(json!({ "event_id": id })).into_response())
}
