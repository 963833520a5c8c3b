//! Administering clinical alert topics.
//!
//! `GET /alert_topics` → `{"topics": [{"id", "name", "description", "open_to", "version",
//! "subscribers"}]}`; `PUT /alert_topics/{topicId}` saves one (`{"name", "description"?,
//! "open_to": [targets], "version"?}`: `version` the version read to replace it, absent to
//! create it; `400 M_INVALID_PARAM` naming what it breaks, `409 ORG.WARDLINE.RULE_CONFLICT` a
//! stale version); `DELETE /alert_topics/{topicId}` removes it and its subscriptions (`400`
//! while a rule names it).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_types::alert_topic::{AlertTopic, TopicId};

use super::Admin;
use crate::error::ApiError;

fn topic_id(raw: &str) -> Result<TopicId, ApiError> {
    TopicId::parse(raw).map_err(|e| ApiError::invalid_param(e.to_string()))
}

/// `GET /alert_topics`
pub async fn list(State(s): State<Services>, _: Admin) -> Result<Response, ApiError> {
    let topics: Vec<Value> = s
        .alarms
        .alert_topics()
        .await?
        .into_iter()
        .map(|t| {
            let mut v = json!(t.topic);
            v["version"] = json!(t.version);
            v["subscribers"] = json!(t.subscribers);
            v
        })
        .collect();
    Ok(Json(json!({ "topics": topics })).into_response())
}

/// `PUT /alert_topics/{topicId}`
pub async fn set(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let id = topic_id(&raw)?;
    let (body, version) = super::versioned_body(body, id.as_str(), "topic", &["subscribers"])?;
    let topic: AlertTopic = serde_json::from_value(body).map_err(|e| ApiError::bad_json(e.to_string()))?;
    let version = s.alarms.set_alert_topic(By::Staff(&by.actor()), &topic, version).await?;
    Ok(Json(json!({ "version": version })).into_response())
}

/// `DELETE /alert_topics/{topicId}`
pub async fn remove(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = topic_id(&raw)?;
    if !s.alarms.remove_alert_topic(By::Staff(&by.actor()), &id).await? {
        return Err(ApiError::not_found(format!("there is no topic {id}")));
    }
    Ok(Json(json!({})).into_response())
}
