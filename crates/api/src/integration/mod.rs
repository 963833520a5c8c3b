//! The integration API, `/_wardline/integration/v1/`, for hospital systems (nurse call, fire
//! panels, monitoring gateways), each with its own API key. Staff access tokens do not work
//! here, and these keys work nowhere else.
//!
//! Every endpoint is registered with [`Routes::integration`], which attaches the scope it needs;
//! [`IntegrationAuth`] checks the key against that scope through the one check
//! ([`wardline_service::integrations::IntegrationService::authenticate`]), which records every
//! use in the audit trail and applies the per-integration rate limit. Errors leave through the
//! same table as every other endpoint's, in the Matrix shape.

pub(crate) mod alarms;
mod wctp;
mod webhook;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use wardline_service::integrations::IntegrationCaller;
use wardline_service::{ServiceError, Services};
use wardline_types::integration::IntegrationScope;

use crate::edge;
use crate::error::ApiError;
use crate::routes::{Endpoint, Routes};
use crate::ruma_wrapper::Auth;

/// The API key of a request: `Authorization: Bearer <key>` (never a query parameter, which
/// would land in proxies' logs).
fn presented_key(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(ServiceError::MissingToken)?
        .to_str()
        .map_err(|_| ServiceError::UnknownToken)?;
    let (scheme, key) = value.split_once(' ').ok_or(ServiceError::UnknownToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ServiceError::MissingToken.into());
    }
    Ok(key.trim())
}

/// A hospital system whose key was accepted for the endpoint's scope (the use is already in the
/// audit trail).
#[derive(Debug)]
pub struct IntegrationAuth(pub IntegrationCaller);

impl FromRequestParts<Services> for IntegrationAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, services: &Services) -> Result<Self, Self::Rejection> {
        let endpoint =
            parts.extensions.get::<Endpoint>().copied().filter(|e| e.auth == Auth::Integration).ok_or_else(|| {
                ServiceError::Internal("an integration key was asked for outside the integration API".into())
            })?;
        let key = presented_key(parts)?;
        let ip = edge::client_ip(&parts.extensions);
        let caller = services.integrations.authenticate(key, endpoint.scope, ip, endpoint.name).await?;
        edge::note_integration(&parts.extensions, caller.actor());
        Ok(Self(caller))
    }
}

/// The integration API's routes.
pub fn routes() -> Routes {
    const I: &str = "/_wardline/integration/v1";
    let write = Some(IntegrationScope::AlarmsWrite);
    let read = Some(IntegrationScope::AlarmsRead);
    let hook = Some(IntegrationScope::WebhookManage);
    Routes::new()
        .integration(Method::GET, &format!("{I}/whoami"), "integration.whoami", None, whoami)
        .integration(Method::POST, &format!("{I}/alarms"), "integration.alarms.create", write, alarms::create)
        .integration(Method::GET, &format!("{I}/alarms"), "integration.alarms.by_source", read, alarms::by_source)
        .integration(Method::GET, &format!("{I}/alarms/{{alarm_id}}"), "integration.alarms.get", read, alarms::get)
        .integration(
            Method::PATCH,
            &format!("{I}/alarms/{{alarm_id}}"),
            "integration.alarms.update",
            write,
            alarms::update,
        )
        .integration(
            Method::POST,
            &format!("{I}/alarms/{{alarm_id}}/reset"),
            "integration.alarms.reset",
            write,
            alarms::reset,
        )
        .integration(
            Method::POST,
            &format!("{I}/alarms/{{alarm_id}}/cancel"),
            "integration.alarms.cancel",
            write,
            alarms::cancel,
        )
        .integration(Method::PUT, &format!("{I}/webhook"), "integration.webhook.set", hook, webhook::set)
        .integration(Method::GET, &format!("{I}/webhook"), "integration.webhook.get", hook, webhook::get)
        .integration(Method::DELETE, &format!("{I}/webhook"), "integration.webhook.remove", hook, webhook::remove)
        .integration_xml(&format!("{I}/wctp"), "integration.wctp", Some(IntegrationScope::Wctp), wctp::post)
}

/// `GET /whoami`: which integration the key belongs to, its user id, the key, and what it may do.
async fn whoami(IntegrationAuth(c): IntegrationAuth) -> Result<Response, ApiError> {
    let i = &c.integration;
    Ok(Json(json!({
        "integration_id": i.id,
        "name": i.name,
        "user_id": c.user_id,
        "key_id": c.key_id,
        "scopes": i.scopes,
        "allowed_kinds": i.allowed_kinds,
    }))
    .into_response())
}
