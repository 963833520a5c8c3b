//! Roles for staff (`/_wardline/client/v1/roles`): who holds each role now and since when,
//! a role's handover history, and swipe in, swipe out and handover. Every member of staff may
//! read roles; only the rules of [`wardline_service::roles`] decide who may hold one.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use ruma::OwnedUserId;
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::roles::{MAX_HISTORY, MAX_ROTA_HOURS, RoleService};
use wardline_types::{Role, RoleChange, RoleId};

use crate::error::ApiError;
use crate::routes::{FirstSignIn, Routes};
use crate::staff::Staff;

/// A role as staff see it: what it is, its Matrix user id, its bleep and who holds it now.
pub(crate) fn role_json(s: &Services, r: &Role) -> Value {
    let d = &r.definition;
    json!({
        "role_id": d.id,
        "user_id": s.roles.user_id_of(&d.id).ok(),
        "name": d.name,
        "department": d.department,
        "site": d.site,
        "bleep": d.bleep,
        "may_be_empty": d.may_be_empty,
        "fallback": d.fallback,
        "retired": r.retired,
        "holders": r.holders.iter().map(|h| json!({
            "user_id": h.user_id,
            "since_ts": h.since.0,
            "how": h.reason,
            "from": h.from,
        })).collect::<Vec<_>>(),
    })
}

/// A role with who may hold it (for administrators, and for the role's own page).
pub(crate) fn role_json_full(s: &Services, r: &Role) -> Value {
    let mut v = role_json(s, r);
    v["eligibility"] = json!(r.definition.eligibility);
    v["version"] = json!(r.version);
    v["created_ts"] = json!(r.created_at.0);
    v["updated_ts"] = json!(r.updated_at.0);
    v
}

pub(crate) fn change_json(c: &RoleChange) -> Value {
    json!({
        "seq": c.seq,
        "ts": c.at.0,
        "reason": c.reason,
        "by": c.by,
        "from": c.from,
        "to": c.to,
        "note": c.note,
    })
}

pub(crate) fn role_id(raw: &str) -> Result<RoleId, ApiError> {
    Ok(RoleService::parse_id(raw)?)
}

/// A user id or a username of this server, from a client.
pub(crate) fn user_id(s: &Services, raw: &str) -> Result<OwnedUserId, ApiError> {
    Ok(s.accounts.resolve(raw)?)
}

/// Staff's role routes.
pub fn routes() -> Routes {
    const R: &str = "/_wardline/client/v1/roles";
    let full = FirstSignIn::Refused;
    Routes::new()
        .wardline(Method::GET, R, "wardline.roles.list", full, list)
        .wardline(Method::GET, &format!("{R}/{{role_id}}"), "wardline.roles.get", full, get)
        .wardline(Method::POST, &format!("{R}/{{role_id}}/swipe_in"), "wardline.roles.swipe_in", full, swipe_in)
        .wardline(Method::POST, &format!("{R}/{{role_id}}/swipe_out"), "wardline.roles.swipe_out", full, swipe_out)
        .wardline(Method::POST, &format!("{R}/{{role_id}}/handover"), "wardline.roles.handover", full, handover)
        .wardline(Method::GET, &format!("{R}/{{role_id}}/rota"), "wardline.roles.rota", full, rota)
}

/// The query of `GET /roles`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    /// Only roles whose words this begins (as the directory matches them).
    q: Option<String>,
    /// Only roles of this department (any case).
    department: Option<String>,
}

/// `GET /roles?q=&department=`: roles in use, with their holders now.
async fn list(
    State(s): State<Services>,
    Staff(_): Staff,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid_param(e.body_text()))?;
    let roles = s.roles.list(false).await?;
    let found: Vec<Value> = roles
        .iter()
        .filter(|r| {
            q.q.as_deref()
                .is_none_or(|t| t.trim().is_empty() || wardline_service::roles::role_matches(&r.definition, t))
        })
        .filter(|r| {
            q.department
                .as_deref()
                .is_none_or(|d| r.definition.department.as_deref().is_some_and(|rd| rd.eq_ignore_ascii_case(d.trim())))
        })
        .map(|r| role_json(&s, r))
        .collect();
    Ok(Json(json!({ "roles": found })).into_response())
}

/// The query of `GET /roles/{roleId}`.
#[derive(Debug, Deserialize)]
struct GetQuery {
    /// How many history entries (newest first).
    limit: Option<usize>,
}

/// `GET /roles/{roleId}`: the role, who may hold it, and its handover history.
async fn get(
    State(s): State<Services>,
    Staff(_): Staff,
    Path(raw): Path<String>,
    query: Result<Query<GetQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid_param(e.body_text()))?;
    let id = role_id(&raw)?;
    let role = s.roles.get(&id).await?;
    let history = s.roles.history(&id, q.limit.unwrap_or(50).min(MAX_HISTORY)).await?;
    let mut v = role_json_full(&s, &role);
    v["history"] = json!(history.iter().map(change_json).collect::<Vec<_>>());
    Ok(Json(v).into_response())
}

/// The body of the holder endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolderBody {
    /// The successor (swipe out) or the colleague taking over (handover).
    #[serde(default, alias = "to")]
    successor: Option<String>,
    /// A short note kept in the history.
    #[serde(default)]
    note: Option<String>,
}

/// The body, which may be empty (`{}` then).
fn body(b: &Bytes) -> Result<HolderBody, ApiError> {
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(HolderBody::default());
    }
    serde_json::from_slice(b).map_err(|e| ApiError::bad_json(e.to_string()))
}

/// `POST /roles/{roleId}/swipe_in {note?}`: the caller takes the role, if it admits them.
async fn swipe_in(
    State(s): State<Services>,
    Staff(c): Staff,
    Path(raw): Path<String>,
    b: Bytes,
) -> Result<Response, ApiError> {
    let b = body(&b)?;
    if b.successor.is_some() {
        return Err(ApiError::bad_json("swipe_in takes no successor"));
    }
    let role = s.roles.swipe_in(&c.actor(), &role_id(&raw)?, b.note).await?;
    Ok(Json(role_json(&s, &role)).into_response())
}

/// `POST /roles/{roleId}/swipe_out {successor?, note?}`: the caller leaves the role; a role that
/// must not be empty needs a successor, who takes it in the same step.
async fn swipe_out(
    State(s): State<Services>,
    Staff(c): Staff,
    Path(raw): Path<String>,
    b: Bytes,
) -> Result<Response, ApiError> {
    let b = body(&b)?;
    let successor = b.successor.as_deref().map(|u| user_id(&s, u)).transpose()?;
    let role = s.roles.swipe_out(&c.actor(), &role_id(&raw)?, successor, b.note).await?;
    Ok(Json(role_json(&s, &role)).into_response())
}

/// `POST /roles/{roleId}/handover {to, note?}`: the caller hands the role to a colleague.
async fn handover(
    State(s): State<Services>,
    Staff(c): Staff,
    Path(raw): Path<String>,
    b: Bytes,
) -> Result<Response, ApiError> {
    let b = body(&b)?;
    let to = b
        .successor
        .as_deref()
        .ok_or_else(|| ApiError::bad_json("name who takes the role over: {\"to\": \"@user:server\"}"))?;
    let to = user_id(&s, to)?;
    let role = s.roles.handover(&c.actor(), &role_id(&raw)?, to, b.note).await?;
    Ok(Json(role_json(&s, &role)).into_response())
}

/// The query of `GET /roles/{roleId}/rota`.
#[derive(Debug, Deserialize)]
struct RotaQuery {
    /// How many hours ahead (default 24).
    hours: Option<u64>,
}

/// `GET /roles/{roleId}/rota?hours=24`: the role's rota shifts from now for the next hours
/// (default 24, at most two weeks): who, from when, to when, and what of each has been applied.
async fn rota(
    State(s): State<Services>,
    Staff(_): Staff,
    Path(raw): Path<String>,
    query: Result<Query<RotaQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid_param(e.body_text()))?;
    let hours = q.hours.unwrap_or(24);
    if hours == 0 || hours > MAX_ROTA_HOURS {
        return Err(ApiError::invalid_param(format!("hours is 1 to {MAX_ROTA_HOURS}")));
    }
    let id = role_id(&raw)?;
    let shifts = s.roles.rota(&id, hours).await?;
    let shifts: Vec<Value> = shifts
        .iter()
        .map(|x| {
            json!({
                "user_id": x.shift.user_id,
                "start_ts": x.shift.starts_at.0,
                "end_ts": x.shift.ends_at.0,
                "note": x.shift.note,
                "started": x.started_at.is_some(),
                "ended": x.ended_at.is_some(),
                "uncovered": x.uncovered_at.is_some(),
            })
        })
        .collect();
    Ok(Json(json!({ "role_id": id, "hours": hours, "shifts": shifts })).into_response())
}
