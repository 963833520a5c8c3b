//! Organisation settings: second-factor policy, session lifetimes, lockouts, rate limits.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use wardline_service::Services;

use super::Admin;
use crate::error::ApiError;

/// `GET /settings`
pub async fn get(State(s): State<Services>, _: Admin) -> Result<Response, ApiError> {
    Ok(Json(s.settings.handle().get()).into_response())
}

/// `PUT /settings`: the fields to change, for example
/// `{"security": {"mfa_required": "everyone", "idle_timeout_minutes": 480}}`.
pub async fn update(
    State(s): State<Services>,
    Admin(by): Admin,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(patch) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let settings = s.settings.update(&by.actor(), patch).await?;
    Ok(Json(settings).into_response())
}
