//! Administering escalation policies: per organisation, role or conversation, per level.
//!
//! `GET /escalation_policies` lists what is set; `PUT /escalation_policies/{scope}/{level}`
//! sets one (`{"steps": [{"after_ms", "action": "renotify" | "add_cover" | "add" |
//! "failsafe", "targets": [{"kind": "role", "role"} | {"kind": "user", "user_id"}]}]}`);
//! `DELETE` the same path removes it. `scope` is `org`, `role:<roleId>` or `room:<roomId>`;
//! `level` is `urgent` or `emergency`. A policy that breaks a rule (no failsafe last, a failsafe
//! that cannot be reached, delays out of order, unknown targets) is `400 M_INVALID_PARAM`
//! naming the rule; nothing is saved.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_types::escalation::{Policy, Scope};
use wardline_types::priority::Level;

use super::Admin;
use crate::error::ApiError;

fn scope_and_level(scope: &str, level: &str) -> Result<(Scope, Level), ApiError> {
    let scope =
        Scope::parse(scope).ok_or_else(|| ApiError::invalid_param("scope is org, role:<roleId> or room:<roomId>"))?;
    let level = Level::parse(level)
        .filter(|l| *l != Level::Routine)
        .ok_or_else(|| ApiError::invalid_param("level is urgent or emergency"))?;
    Ok((scope, level))
}

/// `GET /escalation_policies`
pub async fn list(State(s): State<Services>, _: Admin) -> Result<Response, ApiError> {
    let policies: Vec<serde_json::Value> = s
        .escalation
        .policies()
        .await?
        .into_iter()
        .map(|p| json!({ "scope": p.scope.key(), "level": p.level.as_str(), "policy": p.policy }))
        .collect();
    Ok(Json(json!({ "policies": policies })).into_response())
}

/// `PUT /escalation_policies/{scope}/{level}`
pub async fn set(
    State(s): State<Services>,
    Admin(by): Admin,
    Path((scope, level)): Path<(String, String)>,
    body: Result<Json<Policy>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(policy) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let (scope, level) = scope_and_level(&scope, &level)?;
    s.escalation.set_policy(By::Staff(&by.actor()), &scope, level, &policy).await?;
    Ok(Json(json!({ "scope": scope.key(), "level": level.as_str(), "policy": policy })).into_response())
}

/// `DELETE /escalation_policies/{scope}/{level}`
pub async fn remove(
    State(s): State<Services>,
    Admin(by): Admin,
    Path((scope, level)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (scope, level) = scope_and_level(&scope, &level)?;
    if !s.escalation.remove_policy(By::Staff(&by.actor()), &scope, level).await? {
        return Err(ApiError::not_found("no such policy"));
    }
    Ok(Json(json!({})).into_response())
}
