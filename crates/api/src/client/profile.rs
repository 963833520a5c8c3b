//! Profiles and the organisation directory.

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::profile::{get_avatar_url, get_display_name, get_profile, set_avatar_url, set_display_name};
use ruma::api::client::user_directory::search_users;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::roles::DirectoryEntry;
use wardline_types::Account;

use crate::error::ApiError;
use crate::ruma_wrapper::{Ruma, reply};

async fn active_account(s: &Services, user: &ruma::UserId) -> Result<Account, ApiError> {
    match s.accounts.get(user).await {
        Ok(a) if !a.deactivated => Ok(a),
        _ => Err(ApiError::not_found("no such user")),
    }
}

fn profile_json(a: &Account) -> Value {
    let mut v = json!({});
    if let Some(n) = &a.display_name {
        v["displayname"] = json!(n);
    }
    if let Some(u) = &a.avatar_url {
        v["avatar_url"] = json!(u);
    }
    v
}

/// The profile of a role's own user id (`@role.<id>:<server>`): the role's name, and
/// `org.wardline.role`; `None` if `user` is not a role's user id (retired roles keep theirs, so
/// old conversations still show who they were with).
async fn role_profile(s: &Services, user: &ruma::UserId) -> Result<Option<Value>, ApiError> {
    let Some(id) = wardline_types::RoleId::of_user(user).filter(|_| user.server_name() == s.server_name) else {
        return Ok(None);
    };
    let role = s.roles.get(&id).await.map_err(|_| ApiError::not_found("no such user"))?;
    Ok(Some(json!({
        "displayname": role.definition.name,
        "org.wardline.role": crate::roles::role_json(s, &role),
    })))
}

/// `GET /profile/{userId}`
pub async fn get(s: Services, req: Ruma<get_profile::v3::Request>) -> Result<Response, ApiError> {
    req.caller()?;
    if let Some(role) = role_profile(&s, &req.body.user_id).await? {
        return Ok(Json(role).into_response());
    }
    Ok(Json(profile_json(&active_account(&s, &req.body.user_id).await?)).into_response())
}

/// `GET /profile/{userId}/displayname`
pub async fn get_name(s: Services, req: Ruma<get_display_name::v3::Request>) -> Result<Response, ApiError> {
    req.caller()?;
    if let Some(role) = role_profile(&s, &req.body.user_id).await? {
        return Ok(Json(json!({ "displayname": role["displayname"] })).into_response());
    }
    let a = active_account(&s, &req.body.user_id).await?;
    Ok(Json(json!({ "displayname": a.display_name })).into_response())
}

/// `PUT /profile/{userId}/displayname`
pub async fn set_name(s: Services, req: Ruma<set_display_name::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    if req.body.user_id != caller.user_id {
        return Err(ApiError::forbidden("you can only change your own profile"));
    }
    s.accounts.set_profile(&caller.actor(), Some(req.body.displayname.clone()), None).await?;
    reply(set_display_name::v3::Response::new())
}

/// `GET /profile/{userId}/avatar_url`
pub async fn get_avatar(s: Services, req: Ruma<get_avatar_url::v3::Request>) -> Result<Response, ApiError> {
    req.caller()?;
    if role_profile(&s, &req.body.user_id).await?.is_some() {
        return Ok(Json(json!({})).into_response());
    }
    let a = active_account(&s, &req.body.user_id).await?;
    Ok(Json(json!({ "avatar_url": a.avatar_url })).into_response())
}

/// `PUT /profile/{userId}/avatar_url`
pub async fn set_avatar(s: Services, req: Ruma<set_avatar_url::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    if req.body.user_id != caller.user_id {
        return Err(ApiError::forbidden("you can only change your own profile"));
    }
    let url = req.body.avatar_url.as_ref().map(ToString::to_string);
    s.accounts.set_profile(&caller.actor(), None, Some(url)).await?;
    reply(set_avatar_url::v3::Response::new())
}

/// `POST /user_directory/search`: this organisation's roles and staff. Roles come first, found
/// by the words of their name, department and site ("med reg", "on call cardiology"), each as
/// the Matrix user id reserved for it with the role's name and `org.wardline.role` (who holds it
/// now and since when, its bleep); then people, by name, job title or department, each with
/// `org.wardline.roles`, the roles they hold now. Phone numbers and e-mail addresses are shown
/// to administrators only.
pub async fn search(s: Services, req: Ruma<search_users::v3::Request>) -> Result<Response, ApiError> {
    let is_admin = req.caller()?.is_admin;
    let limit = usize::try_from(u64::from(req.body.limit)).unwrap_or(10).clamp(1, 100);
    let (found, limited) = s.roles.search_directory(&req.body.search_term, limit).await?;
    let results: Vec<Value> = found
        .iter()
        .map(|entry| match entry {
            DirectoryEntry::Role(r) => {
                let role = crate::roles::role_json(&s, r);
                json!({
                    "user_id": role["user_id"],
                    "display_name": r.definition.name,
                    "avatar_url": null,
                    "org.wardline.role": role,
                })
            }
            DirectoryEntry::Person(a, held) => {
                let roles: Vec<Value> = held
                    .iter()
                    .map(|r| {
                        json!({
                            "role_id": r.definition.id,
                            "user_id": s.roles.user_id_of(&r.definition.id).ok(),
                            "name": r.definition.name,
                            "since_ts": r.holders.iter().find(|h| h.user_id == a.user_id).map(|h| h.since.0),
                        })
                    })
                    .collect();
                let mut v = json!({
                    "user_id": a.user_id,
                    "display_name": a.display_name,
                    "avatar_url": a.avatar_url,
                    "org.wardline.job_title": a.job_title,
                    "org.wardline.department": a.department,
                    "org.wardline.roles": roles,
                });
                if is_admin {
                    // Administrators see contact details; colleagues never do.
                    v["org.wardline.email"] = json!(a.email);
                    v["org.wardline.phone"] = json!(a.phone);
                }
                v
            }
        })
        .collect();
    Ok(Json(json!({ "results": results, "limited": limited })).into_response())
}
