//! Account data and room tags (push rules, stored as account data, are `push_rules.rs`).

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::UserId;
use ruma::api::client::config::{
    get_global_account_data, get_room_account_data, set_global_account_data, set_room_account_data,
};
use ruma::api::client::tag::{create_tag, delete_tag, get_tags};
use serde_json::Value;
use wardline_service::{Caller, Services};

use crate::error::ApiError;
use crate::ruma_wrapper::{Ruma, reply};

fn own<'a>(caller: &'a Caller, user: &UserId) -> Result<&'a UserId, ApiError> {
    if caller.user_id != user {
        return Err(ApiError::forbidden("you can only use your own account data"));
    }
    Ok(&caller.user_id)
}

fn body_json(raw: &bytes::Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(raw).map_err(|e| ApiError::bad_json(e.to_string()))
}

/// `PUT /user/{userId}/account_data/{type}`
pub async fn set_global(s: Services, req: Ruma<set_global_account_data::v3::Request>) -> Result<Response, ApiError> {
    let user = own(req.caller()?, &req.body.user_id)?;
    s.userdata.put_account_data(user, None, &req.body.event_type.to_string(), body_json(&req.raw_body)?).await?;
    reply(set_global_account_data::v3::Response::new())
}

/// `GET /user/{userId}/account_data/{type}`
pub async fn get_global(s: Services, req: Ruma<get_global_account_data::v3::Request>) -> Result<Response, ApiError> {
    let user = own(req.caller()?, &req.body.user_id)?;
    Ok(Json(s.userdata.account_data(user, None, &req.body.event_type.to_string()).await?).into_response())
}

/// `PUT /user/{userId}/rooms/{roomId}/account_data/{type}`
pub async fn set_room(s: Services, req: Ruma<set_room_account_data::v3::Request>) -> Result<Response, ApiError> {
    let user = own(req.caller()?, &req.body.user_id)?;
    s.userdata
        .put_account_data(user, Some(&req.body.room_id), &req.body.event_type.to_string(), body_json(&req.raw_body)?)
        .await?;
    reply(set_room_account_data::v3::Response::new())
}

/// `GET /user/{userId}/rooms/{roomId}/account_data/{type}`
pub async fn get_room(s: Services, req: Ruma<get_room_account_data::v3::Request>) -> Result<Response, ApiError> {
    let user = own(req.caller()?, &req.body.user_id)?;
    Ok(Json(s.userdata.account_data(user, Some(&req.body.room_id), &req.body.event_type.to_string()).await?)
        .into_response())
}

/// `GET /user/{userId}/rooms/{roomId}/tags`
pub async fn tags(s: Services, req: Ruma<get_tags::v3::Request>) -> Result<Response, ApiError> {
    let user = own(req.caller()?, &req.body.user_id)?;
    Ok(Json(s.userdata.tags(user, &req.body.room_id).await?).into_response())
}

/// `PUT /user/{userId}/rooms/{roomId}/tags/{tag}`
pub async fn put_tag(s: Services, req: Ruma<create_tag::v3::Request>) -> Result<Response, ApiError> {
    let user = own(req.caller()?, &req.body.user_id)?;
    s.userdata.set_tag(user, &req.body.room_id, &req.body.tag, Some(body_json(&req.raw_body)?)).await?;
    reply(create_tag::v3::Response::new())
}

/// `DELETE /user/{userId}/rooms/{roomId}/tags/{tag}`
pub async fn delete_tag(s: Services, req: Ruma<delete_tag::v3::Request>) -> Result<Response, ApiError> {
    let user = own(req.caller()?, &req.body.user_id)?;
    s.userdata.set_tag(user, &req.body.room_id, &req.body.tag, None).await?;
    reply(delete_tag::v3::Response::new())
}
