//! Clinical alert topics for staff (`/_wardline/client/v1/alert_topics`): which there are,
//! and subscribing by ward, specialty or for all.
//!
//! - `GET /alert_topics` → `200 {"topics": [{"id", "name", "description", "may_subscribe",
//!   "allowed_scopes": null (any) | [...], "scopes": ["all" | "ward:<ward>" |
//!   "specialty:<specialty>"]}]}`;
//! - `PUT /alert_topics/{topicId}/subscription {"scopes": [...]}` → `200 {"scopes": [...]}`
//!   (`[]` unsubscribes): `403` a topic (or a scope of it) not open to the caller, `404` no such
//!   topic, `400` a scope that is not one (the error says which);
//! - `DELETE /alert_topics/{topicId}/subscription` → `200 {}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_types::alert_topic::{TopicId, TopicScope};

use crate::error::ApiError;
use crate::routes::{FirstSignIn, Routes};
use crate::staff::Staff;

/// Staff's topic routes.
pub fn routes() -> Routes {
    const R: &str = "/_wardline/client/v1/alert_topics";
    let full = FirstSignIn::Refused;
    let sub = format!("{R}/{{topic_id}}/subscription");
    Routes::new()
        .wardline(Method::GET, R, "wardline.alert_topics.list", full, list)
        .wardline(Method::PUT, &sub, "wardline.alert_topics.subscribe", full, subscribe)
        .wardline(Method::DELETE, &sub, "wardline.alert_topics.unsubscribe", full, unsubscribe)
}

fn topic_id(raw: &str) -> Result<TopicId, ApiError> {
    TopicId::parse(raw).map_err(|_| ApiError::not_found("there is no such topic"))
}

/// `GET /alert_topics`
async fn list(State(s): State<Services>, Staff(c): Staff) -> Result<Response, ApiError> {
    let topics: Vec<Value> = s
        .alarms
        .topic_choices(&c.user_id)
        .await?
        .into_iter()
        .map(|t| {
            json!({
                "id": t.topic.id,
                "name": t.topic.name,
                "description": t.topic.description,
                "may_subscribe": t.may_subscribe,
                "allowed_scopes": t.allowed_scopes,
                "scopes": t.scopes,
            })
        })
        .collect();
    Ok(Json(json!({ "topics": topics })).into_response())
}

/// The body of `PUT /alert_topics/{topicId}/subscription`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionBody {
    scopes: Vec<String>,
}

/// `PUT /alert_topics/{topicId}/subscription`
async fn subscribe(
    State(s): State<Services>,
    Staff(c): Staff,
    Path(raw): Path<String>,
    b: Bytes,
) -> Result<Response, ApiError> {
    let id = topic_id(&raw)?;
    let body: SubscriptionBody = crate::error::json_body(&b)?;
    let scopes = body
        .scopes
        .iter()
        .map(|raw| TopicScope::parse(raw).map_err(|e| ApiError::invalid_param(format!("{raw:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let scopes = s.alarms.subscribe(&c.actor(), &id, &scopes).await?;
    Ok(Json(json!({ "scopes": scopes })).into_response())
}

/// `DELETE /alert_topics/{topicId}/subscription`
async fn unsubscribe(
    State(s): State<Services>,
    Staff(c): Staff,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = topic_id(&raw)?;
    s.alarms.subscribe(&c.actor(), &id, &[]).await?;
    Ok(Json(json!({})).into_response())
}
