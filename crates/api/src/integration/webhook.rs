//! `PUT /webhook` (set where the system's reports go, with a new signing secret, answered this
//! once), `GET /webhook` (where they go; never the secret) and `DELETE /webhook`, each with the
//! scope `webhook.manage`.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use wardline_service::Services;

use super::IntegrationAuth;
use crate::error::ApiError;

/// The body of `PUT /webhook`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    url: String,
}

/// `PUT /webhook {"url"}`: `200 {"url", "secret"}`. The secret (`whsec_…`) signs every report
/// from now on (Standard Webhooks) and is never shown again; a new `PUT` makes a new one. A host
/// the server may not send to is `400 ORG.WARDLINE.HOST_NOT_ALLOWED`.
pub async fn set(
    State(s): State<Services>,
    IntegrationAuth(c): IntegrationAuth,
    body: Result<Json<WebhookBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let made = s.outbox.set_webhook(&c, &b.url).await?;
    Ok(Json(json!({ "url": made.url, "secret": made.secret })).into_response())
}

/// `GET /webhook`: `{"url"}` (`null` when none is set).
pub async fn get(State(s): State<Services>, IntegrationAuth(c): IntegrationAuth) -> Result<Response, ApiError> {
    let url = s.outbox.webhook_url(&c).await?;
    Ok(Json(json!({ "url": url })).into_response())
}

/// `DELETE /webhook`: `{"removed"}`, whether there was one. Reports still queued fail.
pub async fn remove(State(s): State<Services>, IntegrationAuth(c): IntegrationAuth) -> Result<Response, ApiError> {
    let removed = s.outbox.remove_webhook(&c).await?;
    Ok(Json(json!({ "removed": removed })).into_response())
}
