//! Administering accounts, sessions and lockouts.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ruma::{OwnedDeviceId, OwnedUserId};
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::accounts::NewStaff;
use wardline_service::audit::By;
use wardline_types::{Account, AccountUpdate};

use super::Admin;
use crate::error::ApiError;

/// An account as administrators see it: with contact details and status.
async fn account_json(a: &Account, s: &Services) -> Result<Value, ApiError> {
    let locked = s.sessions.locked_accounts().into_iter().find(|l| l.user_id == a.user_id);
    Ok(json!({
        "user_id": a.user_id,
        "display_name": a.display_name,
        "avatar_url": a.avatar_url,
        "admin": a.is_admin,
        "may_broadcast": a.may_broadcast,
        "deactivated": a.deactivated,
        "must_change_password": a.must_change_password,
        "job_title": a.job_title,
        "department": a.department,
        "email": a.email,
        "phone": a.phone,
        "created_ts": a.created_at.0,
        "last_sign_in_ts": a.last_sign_in.map(|t| t.0),
        "second_factor": s.mfa.enrolled(&a.user_id).await?,
        "locked_until_ts": locked.map(|l| l.until.0),
    }))
}

fn user_id(s: &Services, raw: &str) -> Result<OwnedUserId, ApiError> {
    Ok(s.accounts.resolve(raw)?)
}

/// `GET /users`
pub async fn list(State(s): State<Services>, _: Admin) -> Result<Response, ApiError> {
    let accounts = s.accounts.list().await?;
    let mut users = Vec::with_capacity(accounts.len());
    for a in &accounts {
        users.push(account_json(a, &s).await?);
    }
    Ok(Json(json!({ "users": users })).into_response())
}

/// The body of `POST /users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    username: String,
    display_name: Option<String>,
    password: Option<String>,
    #[serde(default)]
    admin: bool,
    job_title: Option<String>,
    department: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

/// `POST /users`: without a password, a one-time password is generated and returned once.
pub async fn create(
    State(s): State<Services>,
    Admin(by): Admin,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let (account, one_time) = s
        .accounts
        .create_by(
            By::Staff(&by.actor()),
            NewStaff {
                username: b.username,
                display_name: b.display_name,
                password: b.password,
                is_admin: b.admin,
                job_title: b.job_title,
                department: b.department,
                email: b.email,
                phone: b.phone,
            },
        )
        .await?;
    let mut out = account_json(&account, &s).await?;
    if let Some(p) = one_time {
        out["one_time_password"] = json!(p);
    }
    Ok((axum::http::StatusCode::CREATED, Json(out)).into_response())
}

/// `GET /users/{userId}`
pub async fn get(State(s): State<Services>, _: Admin, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let account = s.accounts.get(&user_id(&s, &raw)?).await?;
    Ok(Json(account_json(&account, &s).await?).into_response())
}

/// The body of `PUT /users/{userId}`: fields to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    display_name: Option<String>,
    admin: Option<bool>,
    may_broadcast: Option<bool>,
    job_title: Option<String>,
    department: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

/// `PUT /users/{userId}`
pub async fn update(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
    body: Result<Json<UpdateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let user = user_id(&s, &raw)?;
    if b.admin == Some(false) && user == by.user_id {
        return Err(ApiError::forbidden("you cannot withdraw your own administration rights"));
    }
    let update = AccountUpdate {
        display_name: b.display_name,
        job_title: b.job_title,
        department: b.department,
        email: b.email,
        phone: b.phone,
        password: None,
        is_admin: b.admin,
        may_broadcast: b.may_broadcast,
    };
    s.accounts.update(By::Staff(&by.actor()), &user, update).await?;
    Ok(Json(account_json(&s.accounts.get(&user).await?, &s).await?).into_response())
}

/// `POST /users/{userId}/deactivate`: ends every session at once, leaves every room and every
/// role; answers the roles that must not be empty and are now held by nobody
/// (`uncovered_roles`), which someone must take at once.
pub async fn deactivate(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_id(&s, &raw)?;
    if user == by.user_id {
        return Err(ApiError::forbidden("you cannot deactivate yourself"));
    }
    let uncovered = s.deactivate_account(By::Staff(&by.actor()), &user).await?;
    let uncovered: Vec<Value> =
        uncovered.iter().map(|r| json!({ "role_id": r.definition.id.as_str(), "name": r.definition.name })).collect();
    Ok(Json(json!({ "uncovered_roles": uncovered })).into_response())
}

/// `POST /users/{userId}/reactivate`
pub async fn reactivate(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    s.accounts.reactivate(By::Staff(&by.actor()), &user_id(&s, &raw)?).await?;
    Ok(Json(json!({})).into_response())
}

/// `POST /users/{userId}/reset_password`: a one-time password, to be changed at next sign-in.
pub async fn reset_password(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let one_time = s.accounts.reset_password(By::Staff(&by.actor()), &user_id(&s, &raw)?).await?;
    Ok(Json(json!({ "one_time_password": one_time })).into_response())
}

/// `POST /users/{userId}/unlock`
pub async fn unlock(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let was_locked = s.accounts.unlock(By::Staff(&by.actor()), &user_id(&s, &raw)?).await?;
    Ok(Json(json!({ "was_locked": was_locked })).into_response())
}

/// `POST /users/{userId}/logout`: log out everywhere, open long-polls included.
pub async fn logout_everywhere(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_id(&s, &raw)?;
    s.sessions.logout_all(By::Staff(&by.actor()), &user, None).await?;
    Ok(Json(json!({})).into_response())
}

/// `GET /users/{userId}/devices`
pub async fn devices(State(s): State<Services>, _: Admin, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let devices = s.sessions.devices(&user_id(&s, &raw)?).await?;
    let list: Vec<Value> = devices
        .iter()
        .map(|d| {
            json!({
                "device_id": d.device_id,
                "display_name": d.display_name,
                "last_seen_ts": d.last_seen_ts.map(|t| t.0),
                "last_seen_ip": d.last_seen_ip,
            })
        })
        .collect();
    Ok(Json(json!({ "devices": list })).into_response())
}

/// `DELETE /users/{userId}/devices/{deviceId}`: ends that session.
pub async fn end_device(
    State(s): State<Services>,
    Admin(by): Admin,
    Path((raw, device)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let user = user_id(&s, &raw)?;
    s.sessions.end_devices(&by.actor(), &user, &[OwnedDeviceId::from(device)]).await?;
    Ok(Json(json!({})).into_response())
}

/// `GET /lockouts`: accounts locked after failed sign-ins.
pub async fn lockouts(State(s): State<Services>, _: Admin) -> Result<Response, ApiError> {
    let locks: Vec<Value> = s
        .sessions
        .locked_accounts()
        .iter()
        .map(|l| json!({ "user_id": l.user_id, "locked_until_ts": l.until.0, "failed_attempts": l.failures }))
        .collect();
    Ok(Json(json!({ "lockouts": locks })).into_response())
}

/// `DELETE /users/{userId}/mfa`: removes a lost second factor; the user sets up a new one at
/// next sign-in if the organisation requires it.
pub async fn remove_mfa(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_id(&s, &raw)?;
    if user == by.user_id {
        // Otherwise an administrator's stolen session and password would replace their factor.
        return Err(ApiError::forbidden(
            "remove your own second factor from your own settings, with a code from it (or a recovery code)",
        ));
    }
    s.mfa.remove(&by.actor(), &user).await?;
    s.sessions.logout_all(By::Staff(&by.actor()), &user, None).await?;
    Ok(Json(json!({})).into_response())
}
