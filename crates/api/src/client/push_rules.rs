//! Push rules (`/pushrules/...`) and `/notifications`.
//!
//! Wardline's protected rules (`.org.wardline.rule.*`, urgent and emergency messages and
//! escalations) are listed first among the override rules; changing them is refused with `400`
//! `ORG.WARDLINE.PROTECTED_RULE` (see `wardline_service::push::protected`).

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::push::{
    delete_pushrule, get_notifications, get_pushrule, get_pushrule_actions, get_pushrule_enabled, get_pushrules_all,
    get_pushrules_global_scope, set_pushrule, set_pushrule_actions, set_pushrule_enabled,
};
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::push::notifications::NotificationQuery;

use crate::client::format::client_event;
use crate::error::ApiError;
use crate::ruma_wrapper::{Ruma, reply};

/// `GET /pushrules/`: `{"global": ruleset}`.
pub async fn all(s: Services, req: Ruma<get_pushrules_all::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    Ok(Json(s.push.ruleset_json(&caller.user_id).await?).into_response())
}

/// `GET /pushrules/global/`: the ruleset itself.
pub async fn global(s: Services, req: Ruma<get_pushrules_global_scope::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let all = s.push.ruleset_json(&caller.user_id).await?;
    Ok(Json(all.get("global").cloned().unwrap_or_else(|| json!({}))).into_response())
}

/// `GET /pushrules/global/{kind}/{ruleId}`
pub async fn get(s: Services, req: Ruma<get_pushrule::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    Ok(Json(s.push.rule(&caller.user_id, &req.body.kind, &req.body.rule_id).await?).into_response())
}

/// `PUT /pushrules/global/{kind}/{ruleId}` (`before`, `after`)
pub async fn put(s: Services, req: Ruma<set_pushrule::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    s.push.put_rule(&caller.actor(), b.rule.clone(), b.before.as_deref(), b.after.as_deref()).await?;
    reply(set_pushrule::v3::Response::new())
}

/// `DELETE /pushrules/global/{kind}/{ruleId}`
pub async fn delete(s: Services, req: Ruma<delete_pushrule::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    s.push.delete_rule(&caller.actor(), &req.body.kind, &req.body.rule_id).await?;
    reply(delete_pushrule::v3::Response::new())
}

/// `GET /pushrules/global/{kind}/{ruleId}/enabled`
pub async fn get_enabled(s: Services, req: Ruma<get_pushrule_enabled::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let enabled = s.push.enabled(&caller.user_id, &req.body.kind, &req.body.rule_id).await?;
    reply(get_pushrule_enabled::v3::Response::new(enabled))
}

/// `PUT /pushrules/global/{kind}/{ruleId}/enabled`
pub async fn set_enabled(s: Services, req: Ruma<set_pushrule_enabled::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    s.push.set_enabled(&caller.actor(), &b.kind, &b.rule_id, b.enabled).await?;
    reply(set_pushrule_enabled::v3::Response::new())
}

/// `GET /pushrules/global/{kind}/{ruleId}/actions`
pub async fn get_actions(s: Services, req: Ruma<get_pushrule_actions::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let actions = s.push.actions(&caller.user_id, &req.body.kind, &req.body.rule_id).await?;
    reply(get_pushrule_actions::v3::Response::new(actions))
}

/// `PUT /pushrules/global/{kind}/{ruleId}/actions`
pub async fn set_actions(s: Services, req: Ruma<set_pushrule_actions::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    s.push.set_actions(&caller.actor(), &b.kind, &b.rule_id, b.actions.clone()).await?;
    reply(set_pushrule_actions::v3::Response::new())
}

/// `GET /notifications` (`from`, `limit`, `only=highlight`)
pub async fn notifications(s: Services, req: Ruma<get_notifications::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let only_highlight = match b.only.as_deref() {
        None | Some("") => false,
        Some("highlight") => true,
        Some(other) => return Err(ApiError::invalid_param(format!("only: unknown value {other}"))),
    };
    let query = NotificationQuery {
        from: b.from.as_deref(),
        limit: b.limit.map(|l| usize::try_from(u64::from(l)).unwrap_or(usize::MAX)),
        only_highlight,
    };
    let page = s.push.notifications(&caller.actor(), query).await?;
    let now = s.clock.now();
    let notifications: Vec<Value> = page
        .notifications
        .iter()
        .map(|n| {
            json!({
                "actions": n.actions(),
                "event": client_event(&n.event, caller, now),
                "read": n.read,
                "room_id": n.event.event.room_id,
                "ts": n.event.event.origin_server_ts.0,
            })
        })
        .collect();
    let mut out = json!({ "notifications": notifications });
    if let Some(t) = page.next_token {
        out["next_token"] = json!(t);
    }
    Ok(Json(out).into_response())
}
