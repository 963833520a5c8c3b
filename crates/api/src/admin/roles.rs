//! Administering roles: create, change, retire (roles are never deleted, so their history stays
//! readable) and set who holds them.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_types::{Eligibility, RoleDefinition, RoleId};

use super::Admin;
use crate::error::ApiError;
use crate::roles::{role_id, role_json_full, user_id};

/// Who may hold a role, as sent: user ids or usernames.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EligibilityBody {
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    job_titles: Vec<String>,
    #[serde(default)]
    departments: Vec<String>,
}

/// The body of `POST /roles` and `PUT /roles/{roleId}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// Only for `POST`: the new role's id.
    role_id: Option<String>,
    name: String,
    department: Option<String>,
    site: Option<String>,
    bleep: Option<String>,
    #[serde(default)]
    eligibility: EligibilityBody,
    #[serde(default = "yes")]
    may_be_empty: bool,
    fallback: Option<String>,
}

fn yes() -> bool {
    true
}

fn definition(s: &Services, id: RoleId, b: RoleBody) -> Result<RoleDefinition, ApiError> {
    let users = b.eligibility.users.iter().map(|u| user_id(s, u)).collect::<Result<Vec<_>, _>>()?;
    let fallback = b.fallback.as_deref().filter(|f| !f.trim().is_empty()).map(role_id).transpose()?;
    Ok(RoleDefinition {
        id,
        name: b.name,
        department: b.department,
        site: b.site,
        bleep: b.bleep,
        eligibility: Eligibility {
            users,
            job_titles: b.eligibility.job_titles,
            departments: b.eligibility.departments,
        },
        may_be_empty: b.may_be_empty,
        fallback,
    })
}

/// `GET /roles`: every role, retired ones included, with who may hold it and who does.
pub async fn list(State(s): State<Services>, _: Admin) -> Result<Response, ApiError> {
    let roles = s.roles.list(true).await?;
    Ok(Json(json!({ "roles": roles.iter().map(|r| role_json_full(&s, r)).collect::<Vec<_>>() })).into_response())
}

/// `POST /roles`
pub async fn create(
    State(s): State<Services>,
    Admin(by): Admin,
    body: Result<Json<RoleBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let raw = b.role_id.clone().ok_or_else(|| ApiError::bad_json("role_id is required"))?;
    let d = definition(&s, role_id(&raw)?, b)?;
    let role = s.roles.create(By::Staff(&by.actor()), d).await?;
    Ok((axum::http::StatusCode::CREATED, Json(role_json_full(&s, &role))).into_response())
}

/// `GET /roles/{roleId}`
pub async fn get(State(s): State<Services>, _: Admin, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let role = s.roles.get(&role_id(&raw)?).await?;
    Ok(Json(role_json_full(&s, &role)).into_response())
}

/// `PUT /roles/{roleId}`: the whole definition (holders are unchanged).
pub async fn update(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
    body: Result<Json<RoleBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let id = role_id(&raw)?;
    if b.role_id.as_deref().is_some_and(|r| r != id.as_str()) {
        return Err(ApiError::invalid_param("a role's id cannot change"));
    }
    let d = definition(&s, id, b)?;
    let role = s.roles.update(By::Staff(&by.actor()), d).await?;
    Ok(Json(role_json_full(&s, &role)).into_response())
}

/// `DELETE /roles/{roleId}`: retires the role (its holders stop holding it; its history stays).
pub async fn retire(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    s.roles.retire(By::Staff(&by.actor()), &role_id(&raw)?).await?;
    Ok(Json(json!({})).into_response())
}

/// The body of `PUT /roles/{roleId}/holders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldersBody {
    holders: Vec<String>,
    note: Option<String>,
}

/// `PUT /roles/{roleId}/holders {holders, note?}`: exactly these people hold the role (each new
/// one must be eligible; a role that must not be empty cannot be emptied).
pub async fn set_holders(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
    body: Result<Json<HoldersBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let holders = b.holders.iter().map(|u| user_id(&s, u)).collect::<Result<Vec<_>, _>>()?;
    let role = s.roles.set_holders(By::Staff(&by.actor()), &role_id(&raw)?, holders, b.note).await?;
    Ok(Json(role_json_full(&s, &role)).into_response())
}
