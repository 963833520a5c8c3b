//! An integration's HL7 v2 binding: `GET|PUT|DELETE /integrations/{integrationId}/hl7`. The
//! binding names the sender the integration is in every message's header (`MSH-3`, `MSH-4`),
//! the addresses it may connect from, whether it is a test system, the kind of alarm its reports
//! raise, how its `ORU^R40` reports are answered, where and whether it hears its alarms' status
//! (PCD-05, `status_address` allowed by `hl7.status_addresses`, `report_status`) and the client
//! certificate it must present over MLLP with TLS (`client_cert_sha256`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_types::hl7_binding::Hl7Binding;
use wardline_types::integration::IntegrationId;

use super::Admin;
use crate::error::ApiError;

fn integration_id(raw: &str) -> Result<IntegrationId, ApiError> {
    IntegrationId::parse(raw).map_err(|e| ApiError::invalid_param(e.to_string()))
}

/// `GET /integrations/{integrationId}/hl7`: `{"hl7": {...}}`, or `{"hl7": null}` when unbound.
pub async fn get(State(s): State<Services>, _: Admin, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let binding = s.integrations.hl7(&integration_id(&raw)?).await?;
    Ok(Json(json!({ "hl7": binding })).into_response())
}

/// `PUT /integrations/{integrationId}/hl7 {sending_application, sending_facility?,
/// allowed_addresses?, test?, default_kind?, r40_ack?, status_address?, report_status?,
/// client_cert_sha256?}`: `{"hl7": {...}}` as saved (`400 ORG.WARDLINE.HOST_NOT_ALLOWED` for a
/// status address the configuration does not list).
pub async fn set(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
    body: Result<Json<Hl7Binding>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(binding) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let id = integration_id(&raw)?;
    s.integrations.set_hl7(By::Staff(&by.actor()), &id, Some(binding)).await?;
    let saved = s.integrations.hl7(&id).await?;
    Ok(Json(json!({ "hl7": saved })).into_response())
}

/// `DELETE /integrations/{integrationId}/hl7`: unbinds it (its messages are then refused).
pub async fn remove(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    s.integrations.set_hl7(By::Staff(&by.actor()), &integration_id(&raw)?, None).await?;
    Ok(Json(json!({ "hl7": null })).into_response())
}
