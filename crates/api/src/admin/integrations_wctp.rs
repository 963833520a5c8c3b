//! An integration's WCTP 1.3 binding and recipient mappings:
//! `GET|PUT|DELETE /integrations/{integrationId}/wctp` (the sender id its pages carry, where its
//! reports go, how its pages' priority and choices are read), `GET
//! /integrations/{integrationId}/wctp/recipients` and `PUT|DELETE
//! /integrations/{integrationId}/wctp/recipients/{recipientId}` (whom a recipient id reaches).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_types::escalation::Target;
use wardline_types::integration::IntegrationId;
use wardline_types::wctp_binding::WctpBinding;

use super::Admin;
use crate::error::ApiError;

fn integration_id(raw: &str) -> Result<IntegrationId, ApiError> {
    IntegrationId::parse(raw).map_err(|e| ApiError::invalid_param(e.to_string()))
}

/// `GET /integrations/{integrationId}/wctp`: `{"wctp": {...}}`, or `{"wctp": null}` unbound.
pub async fn get(State(s): State<Services>, _: Admin, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let binding = s.outbox.wctp(&integration_id(&raw)?).await?;
    Ok(Json(json!({ "wctp": binding })).into_response())
}

/// `PUT /integrations/{integrationId}/wctp {sender_id, reply_url?, levels?, accept_choices?,
/// decline_choices?, default_kind?}`: `{"wctp": {...}}` as saved.
pub async fn set(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
    body: Result<Json<WctpBinding>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(binding) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let id = integration_id(&raw)?;
    s.outbox.set_wctp(By::Staff(&by.actor()), &id, Some(binding)).await?;
    let saved = s.outbox.wctp(&id).await?;
    Ok(Json(json!({ "wctp": saved })).into_response())
}

/// `DELETE /integrations/{integrationId}/wctp`: unbinds it (its pages are then refused).
pub async fn remove(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    s.outbox.set_wctp(By::Staff(&by.actor()), &integration_id(&raw)?, None).await?;
    Ok(Json(json!({ "wctp": null })).into_response())
}

/// `GET /integrations/{integrationId}/wctp/recipients`: `{"recipients": [{recipient_id,
/// target, updated_by, updated}]}`.
pub async fn recipients(State(s): State<Services>, _: Admin, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let list = s.outbox.wctp_recipients(&integration_id(&raw)?).await?;
    Ok(Json(json!({ "recipients": list })).into_response())
}

/// `PUT /integrations/{integrationId}/wctp/recipients/{recipientId} {"kind": "role", "role"} |
/// {"kind": "user", "user_id"}`: `{"recipient_id", "target"}`.
pub async fn set_recipient(
    State(s): State<Services>,
    Admin(by): Admin,
    Path((raw, recipient)): Path<(String, String)>,
    body: Result<Json<Target>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(target) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let id = integration_id(&raw)?;
    s.outbox.set_wctp_recipient(By::Staff(&by.actor()), &id, &recipient, Some(target.clone())).await?;
    Ok(Json(json!({ "recipient_id": recipient, "target": target })).into_response())
}

/// `DELETE /integrations/{integrationId}/wctp/recipients/{recipientId}`: `{"removed": bool}`.
pub async fn remove_recipient(
    State(s): State<Services>,
    Admin(by): Admin,
    Path((raw, recipient)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let removed = s.outbox.set_wctp_recipient(By::Staff(&by.actor()), &integration_id(&raw)?, &recipient, None).await?;
    Ok(Json(json!({ "removed": removed })).into_response())
}
