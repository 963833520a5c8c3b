//! Administering alarms: the rules that route them, and the live log.
//!
//! `GET /alarm_rules` lists the rules in the order they are tried, with the failsafe rule in
//! force; `PUT /alarm_rules/{ruleId}` saves one (the rule's JSON, with `"version"` the version
//! read to replace it, absent to create it; a rule that breaks a check is `400
//! M_INVALID_PARAM` naming it, a stale version `409 ORG.WARDLINE.RULE_CONFLICT`);
//! `DELETE /alarm_rules/{ruleId}` removes one.
//! `GET /alarms?after=&before=&dir=&integration=&state=&outcome=&kind=&limit=` is the live log:
//! oldest first (poll with `after` = the last `seq`), or with `dir=b` newest first (the latest
//! page, and `before` = the oldest `seq` shown for the page before it); `GET /alarms/{alarmId}`
//! one alarm with its timeline and status.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_store::AlarmQuery;
use wardline_types::alarm::{AlarmId, AlarmKind, AlarmOutcome, AlarmState};
use wardline_types::alarm_rule::{AlarmRule, RuleId};
use wardline_types::integration::IntegrationId;

use super::Admin;
use crate::error::ApiError;
use crate::integration::alarms::view_json;

fn rule_id(raw: &str) -> Result<RuleId, ApiError> {
    RuleId::parse(raw).map_err(|e| ApiError::invalid_param(e.to_string()))
}

/// `GET /alarm_rules`
pub async fn list_rules(State(s): State<Services>, _: Admin) -> Result<Response, ApiError> {
    let rules: Vec<Value> = s
        .alarms
        .rules()
        .await?
        .into_iter()
        .map(|r| json!({ "rule": r.rule, "version": r.version, "updated_by": r.updated_by, "updated_ts": r.updated.0 }))
        .collect();
    let failsafe = s.alarms.failsafe_rule().await?;
    Ok(Json(json!({ "rules": rules, "failsafe": failsafe })).into_response())
}

/// `PUT /alarm_rules/{ruleId}`
pub async fn set_rule(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let id = rule_id(&raw)?;
    let (body, version) = super::versioned_body(body, id.as_str(), "rule", &[])?;
    let rule: AlarmRule = serde_json::from_value(body).map_err(|e| ApiError::bad_json(e.to_string()))?;
    let version = s.alarms.set_rule(By::Staff(&by.actor()), &rule, version).await?;
    Ok(Json(json!({ "rule": rule, "version": version })).into_response())
}

/// `DELETE /alarm_rules/{ruleId}`
pub async fn remove_rule(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = rule_id(&raw)?;
    if !s.alarms.remove_rule(By::Staff(&by.actor()), &id).await? {
        return Err(ApiError::not_found(format!("there is no rule {id}")));
    }
    Ok(Json(json!({})).into_response())
}

/// The query of `GET /alarms`.
#[derive(Debug, Deserialize)]
pub struct LogQuery {
    after: Option<u64>,
    before: Option<u64>,
    /// `f` (oldest first, the default) or `b` (newest first).
    dir: Option<String>,
    integration: Option<String>,
    state: Option<String>,
    outcome: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
}

/// `GET /alarms`: the live log, oldest first (newest first with `dir=b`).
pub async fn log(
    State(s): State<Services>,
    _: Admin,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid_param(e.body_text()))?;
    let integration = q
        .integration
        .map(|i| IntegrationId::parse(&i).map_err(|_| ApiError::invalid_param("integration is an integration id")))
        .transpose()?;
    let state = q
        .state
        .map(|v| AlarmState::parse(&v).ok_or_else(|| ApiError::invalid_param("state is active, reset or cancelled")))
        .transpose()?;
    let outcome = q
        .outcome
        .map(|v| AlarmOutcome::parse(&v).ok_or_else(|| ApiError::invalid_param("outcome is not one of the outcomes")))
        .transpose()?;
    let kind = q
        .kind
        .map(|v| AlarmKind::parse(&v).ok_or_else(|| ApiError::invalid_param("kind is not one of the alarm kinds")))
        .transpose()?;
    let newest_first = match q.dir.as_deref() {
        None | Some("f") => false,
        Some("b") => true,
        Some(_) => return Err(ApiError::invalid_param("dir is f (oldest first) or b (newest first)")),
    };
    let alarms = s
        .alarms
        .list(AlarmQuery {
            integration,
            state,
            outcome,
            kind,
            after_seq: q.after,
            before_seq: q.before,
            newest_first,
            limit: q.limit.unwrap_or(100),
        })
        .await?;
    let list: Vec<Value> = alarms
        .iter()
        .map(|a| {
            let mut v = crate::integration::alarms::alarm_json(a);
            v["seq"] = json!(a.seq);
            v["integration"] = json!(a.integration);
            if let Some(r) = &a.routing {
                v["rule_id"] = json!(r.rule);
                v["room_id"] = json!(r.room);
            }
            v
        })
        .collect();
    Ok(Json(json!({ "alarms": list })).into_response())
}

/// `GET /alarms/{alarmId}`
pub async fn get(State(s): State<Services>, _: Admin, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let id = AlarmId::parse(&raw).map_err(|_| ApiError::not_found(format!("no alarm {raw}")))?;
    let view = s.alarms.for_admin(&id).await?;
    let mut v = view_json(&view);
    v["integration"] = json!(view.alarm.integration);
    Ok(Json(v).into_response())
}
