//! Receipts, read markers, typing and presence.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::presence::{get_presence, set_presence};
use ruma::api::client::read_marker::set_read_marker;
use ruma::api::client::receipt::create_receipt;
use ruma::api::client::typing::create_typing_event;
use serde_json::json;
use wardline_service::Services;

use crate::error::ApiError;
use crate::ruma_wrapper::{Ruma, reply};

/// `POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`
pub async fn receipt(s: Services, req: Ruma<create_receipt::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let kind = b.receipt_type.to_string();
    let by = caller.actor();
    if kind == "m.fully_read" {
        s.userdata.read_markers(&by, &b.room_id, Some(&b.event_id), None, None, req.arrived).await?;
    } else {
        let thread = b.thread.as_str().map(ToOwned::to_owned);
        s.userdata.receipt(&by, &b.room_id, &kind, &b.event_id, thread, req.arrived).await?;
    }
    s.presence.note_active(&caller.user_id);
    reply(create_receipt::v3::Response::new())
}

/// `POST /rooms/{roomId}/read_markers`
pub async fn read_markers(s: Services, req: Ruma<set_read_marker::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    s.userdata
        .read_markers(
            &caller.actor(),
            &b.room_id,
            b.fully_read.as_deref(),
            b.read_receipt.as_deref(),
            b.private_read_receipt.as_deref(),
            req.arrived,
        )
        .await?;
    s.presence.note_active(&caller.user_id);
    reply(set_read_marker::v3::Response::new())
}

/// `PUT /rooms/{roomId}/typing/{userId}`
pub async fn typing(s: Services, req: Ruma<create_typing_event::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    if b.user_id != caller.user_id {
        return Err(ApiError::forbidden("you can only set your own typing state"));
    }
    let audience = s.userdata.typing_audience(&caller.user_id, &b.room_id).await?;
    let max = Duration::from_millis(s.config.sync.max_typing_ms);
    let timeout = match &b.state {
        create_typing_event::v3::Typing::Yes(info) => Some(info.timeout.min(max)),
        _ => None,
    };
    s.typing.set(&b.room_id, &caller.user_id, timeout, &audience);
    if timeout.is_some() {
        s.presence.note_active(&caller.user_id);
    }
    reply(create_typing_event::v3::Response::new())
}

/// `GET /presence/{userId}/status`: presence now; `currently_active` while online (active within
/// `presence.idle_after_secs`).
pub async fn get_presence(s: Services, req: Ruma<get_presence::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let (p, dnd) = s.presence.get_with_dnd(&caller.user_id, caller.is_admin, &req.body.user_id).await?;
    let now = s.clock.now();
    let mut body = json!({ "presence": p.state, "currently_active": p.state == "online" });
    if p.last_active.0 > 0 {
        body["last_active_ago"] = json!(now.millis_since(p.last_active));
    }
    if let Some(m) = p.status_msg {
        body["status_msg"] = json!(m);
    }
    if let Some(d) = dnd {
        body[wardline_types::dnd::DND_KIND] = d.presence_field();
    }
    Ok(Json(body).into_response())
}

/// `PUT /presence/{userId}/status`
pub async fn set_presence(s: Services, req: Ruma<set_presence::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    if req.body.user_id != caller.user_id {
        return Err(ApiError::forbidden("you can only set your own presence"));
    }
    s.presence.choose(&caller.user_id, req.body.presence.as_str(), req.body.status_msg.clone()).await?;
    reply(set_presence::v3::Response::new())
}
