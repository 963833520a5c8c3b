//! Creating rooms and changing membership.

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::directory::{get_public_rooms, get_public_rooms_filtered};
use ruma::api::client::membership::{
    ban_user, forget_room, get_member_events, invite_user, join_room_by_id, join_room_by_id_or_alias, joined_members,
    joined_rooms, kick_user, leave_room, unban_user,
};
use ruma::api::client::room::Visibility;
use ruma::api::client::room::create_room;
use ruma::{OwnedRoomId, RoomId};
use serde_json::{Map, Value, json};
use wardline_service::Services;
use wardline_service::rooms::{CreateRoom, Preset};
use wardline_types::{Membership, kinds};

use crate::client::format::client_events;
use crate::error::ApiError;
use crate::ruma_wrapper::{Ruma, reply};

fn raw_object<T>(raw: &ruma::serde::Raw<T>, what: &str) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_str::<Value>(raw.json().get()) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::bad_json(format!("{what} must be a JSON object"))),
    }
}

/// `POST /createRoom`
pub async fn create(s: Services, req: Ruma<create_room::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let preset = match &b.preset {
        None => Preset::PrivateChat,
        Some(p) if p.as_str() == "private_chat" => Preset::PrivateChat,
        Some(p) if p.as_str() == "trusted_private_chat" => Preset::TrustedPrivateChat,
        Some(p) => {
            return Err(ApiError::forbidden(format!(
                "preset {} is not offered: conversations are private to this organisation",
                p.as_str()
            )));
        }
    };
    if b.visibility == Visibility::Public {
        return Err(ApiError::forbidden("rooms cannot be published in a public directory"));
    }
    let mut initial_state = Vec::new();
    for ev in &b.initial_state {
        let obj = raw_object(ev, "initial_state event")?;
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_json("initial_state event needs a type"))?;
        let key = obj.get("state_key").and_then(Value::as_str).unwrap_or("");
        let content = obj.get("content").cloned().unwrap_or_else(|| json!({}));
        initial_state.push((kind.to_owned(), key.to_owned(), content));
    }
    let room_id = s
        .rooms
        .create_room(
            &caller.actor(),
            CreateRoom {
                preset,
                name: b.name.clone(),
                topic: b.topic.clone(),
                invite: b.invite.clone(),
                is_direct: b.is_direct,
                initial_state,
                power_level_content_override: b
                    .power_level_content_override
                    .as_ref()
                    .map(|r| raw_object(r, "power_level_content_override"))
                    .transpose()?,
                creation_content: b.creation_content.as_ref().map(|r| raw_object(r, "creation_content")).transpose()?,
                room_version: b.room_version.as_ref().map(ToString::to_string),
            },
        )
        .await?;
    Ok(Json(json!({ "room_id": room_id })).into_response())
}

/// `POST /rooms/{roomId}/invite`
pub async fn invite(s: Services, req: Ruma<invite_user::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let invite_user::v3::InvitationRecipient::UserId(recipient) = &req.body.recipient else {
        return Err(ApiError::forbidden("invitations by e-mail or phone are not offered"));
    };
    s.rooms.invite(&req.body.room_id, &caller.actor(), &recipient.user_id, recipient.reason.clone()).await?;
    reply(invite_user::v3::Response::new())
}

async fn join_room(
    s: &Services,
    room_id: &RoomId,
    req_caller: &wardline_service::Caller,
) -> Result<Response, ApiError> {
    s.rooms.join(room_id, &req_caller.actor()).await?;
    Ok(Json(json!({ "room_id": room_id })).into_response())
}

/// `POST /rooms/{roomId}/join`
pub async fn join_by_id(s: Services, req: Ruma<join_room_by_id::v3::Request>) -> Result<Response, ApiError> {
    join_room(&s, &req.body.room_id, req.caller()?).await
}

/// `POST /join/{roomIdOrAlias}`
pub async fn join_by_id_or_alias(
    s: Services,
    req: Ruma<join_room_by_id_or_alias::v3::Request>,
) -> Result<Response, ApiError> {
    let room_id = OwnedRoomId::try_from(req.body.room_id_or_alias.as_str())
        .map_err(|_| ApiError::not_found("room aliases are not offered; join by room id"))?;
    join_room(&s, &room_id, req.caller()?).await
}

/// `POST /rooms/{roomId}/leave`
pub async fn leave(s: Services, req: Ruma<leave_room::v3::Request>) -> Result<Response, ApiError> {
    s.rooms.leave(&req.body.room_id, &req.caller()?.actor(), req.body.reason.clone()).await?;
    reply(leave_room::v3::Response::new())
}

/// `POST /rooms/{roomId}/forget`
pub async fn forget(s: Services, req: Ruma<forget_room::v3::Request>) -> Result<Response, ApiError> {
    s.rooms.forget(&req.body.room_id, &req.caller()?.user_id).await?;
    reply(forget_room::v3::Response::new())
}

/// `POST /rooms/{roomId}/kick`
pub async fn kick(s: Services, req: Ruma<kick_user::v3::Request>) -> Result<Response, ApiError> {
    s.rooms.kick(&req.body.room_id, &req.caller()?.actor(), &req.body.user_id, req.body.reason.clone()).await?;
    reply(kick_user::v3::Response::new())
}

/// `POST /rooms/{roomId}/ban`
pub async fn ban(s: Services, req: Ruma<ban_user::v3::Request>) -> Result<Response, ApiError> {
    s.rooms.ban(&req.body.room_id, &req.caller()?.actor(), &req.body.user_id, req.body.reason.clone()).await?;
    reply(ban_user::v3::Response::new())
}

/// `POST /rooms/{roomId}/unban`
pub async fn unban(s: Services, req: Ruma<unban_user::v3::Request>) -> Result<Response, ApiError> {
    s.rooms.unban(&req.body.room_id, &req.caller()?.actor(), &req.body.user_id, req.body.reason.clone()).await?;
    reply(unban_user::v3::Response::new())
}

/// `GET /joined_rooms`
pub async fn joined(s: Services, req: Ruma<joined_rooms::v3::Request>) -> Result<Response, ApiError> {
    let rooms = s.rooms.joined_rooms(&req.caller()?.user_id).await?;
    Ok(Json(json!({ "joined_rooms": rooms })).into_response())
}

/// `GET /rooms/{roomId}/members`
pub async fn members(s: Services, req: Ruma<get_member_events::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let state = s.timeline.readable_state(&caller.user_id, &req.body.room_id).await?;
    let want = req.body.membership.as_ref().map(|m| m.as_str().to_owned());
    let not = req.body.not_membership.as_ref().map(|m| m.as_str().to_owned());
    let members: Vec<_> = state
        .into_iter()
        .filter(|e| e.event.kind == kinds::MEMBER)
        .filter(|e| {
            let m = e.membership().map(Membership::as_str);
            want.as_deref().is_none_or(|w| Some(w) == m) && not.as_deref().is_none_or(|n| Some(n) != m)
        })
        .collect();
    Ok(Json(json!({ "chunk": client_events(&members, caller, s.clock.now()) })).into_response())
}

/// `GET /rooms/{roomId}/joined_members`
pub async fn joined_members(s: Services, req: Ruma<joined_members::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let state =
        s.rooms.state(&req.body.room_id).await.map_err(|_| ApiError::forbidden("you are not a member of this room"))?;
    if state.membership(&caller.user_id) != Some(Membership::Join) {
        return Err(ApiError::forbidden("you are not a member of this room"));
    }
    let mut joined = Map::new();
    for e in state.events().filter(|e| e.event.kind == kinds::MEMBER && e.membership() == Some(Membership::Join)) {
        if let Some(user) = &e.event.state_key {
            joined.insert(
                user.clone(),
                json!({
                    "display_name": e.event.content.get("displayname"),
                    "avatar_url": e.event.content.get("avatar_url"),
                }),
            );
        }
    }
    Ok(Json(json!({ "joined": joined })).into_response())
}

/// `GET /publicRooms`: there is no public room directory in a closed organisation; the list is
/// always empty.
pub async fn public_rooms(_: Services, req: Ruma<get_public_rooms::v3::Request>) -> Result<Response, ApiError> {
    req.caller()?;
    Ok(Json(json!({ "chunk": [], "total_room_count_estimate": 0 })).into_response())
}

/// `POST /publicRooms`: as the GET form.
pub async fn public_rooms_filtered(
    _: Services,
    req: Ruma<get_public_rooms_filtered::v3::Request>,
) -> Result<Response, ApiError> {
    req.caller()?;
    Ok(Json(json!({ "chunk": [], "total_room_count_estimate": 0 })).into_response())
}
