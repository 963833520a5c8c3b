//! `/sync` and filters.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::filter::{FilterDefinition, create_filter, get_filter};
use ruma::api::client::sync::sync_events;
use serde_json::{Map, Value, json};
use wardline_service::messaging::STATUS_EVENT_TYPE;
use wardline_service::presence::PresenceState;
use wardline_service::sync::{JoinedRoom, SyncRequest, SyncResult, TimelineSlice};
use wardline_service::{Caller, Services};
use wardline_store::{AccountDataChange, Receipt};
use wardline_types::dnd::DND_KIND;
use wardline_types::{StoredEvent, SyncToken, Timestamp};

use crate::client::format::{bundled, sync_event};
use crate::error::ApiError;
use crate::ruma_wrapper::Ruma;

/// `POST /user/{userId}/filter`: stores the filter exactly as sent.
pub async fn create_filter(s: Services, req: Ruma<create_filter::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    if req.body.user_id != caller.user_id {
        return Err(ApiError::forbidden("you can only create filters for yourself"));
    }
    let text = std::str::from_utf8(&req.raw_body).map_err(|_| ApiError::bad_json("filter is not UTF-8"))?;
    let id = s.userdata.put_filter(&caller.user_id, text).await?;
    Ok(Json(json!({ "filter_id": id })).into_response())
}

/// `GET /user/{userId}/filter/{filterId}`: the stored filter, unchanged.
pub async fn get_filter(s: Services, req: Ruma<get_filter::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    if req.body.user_id != caller.user_id {
        return Err(ApiError::forbidden("you can only read your own filters"));
    }
    let text = s.userdata.filter(&caller.user_id, &req.body.filter_id).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], text).into_response())
}

async fn resolve_filter(
    s: &Services,
    caller: &Caller,
    filter: Option<&sync_events::v3::Filter>,
) -> Result<FilterDefinition, ApiError> {
    Ok(match filter {
        None => FilterDefinition::default(),
        Some(sync_events::v3::Filter::FilterDefinition(f)) => f.clone(),
        Some(sync_events::v3::Filter::FilterId(id)) => s.userdata.filter_definition(&caller.user_id, id).await?,
        Some(_) => FilterDefinition::default(),
    })
}

/// `GET /sync`
pub async fn sync(s: Services, req: Ruma<sync_events::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let since = match &req.body.since {
        Some(t) => Some(t.parse::<SyncToken>().map_err(|_| ApiError::invalid_param("invalid since token"))?),
        None => None,
    };
    let filter = resolve_filter(&s, caller, req.body.filter.as_ref()).await?;
    let set_presence = PresenceState::parse(req.body.set_presence.as_str())
        .ok_or_else(|| ApiError::invalid_param("set_presence must be online, offline or unavailable"))?;
    let result = s
        .sync
        .sync(
            caller,
            SyncRequest {
                since,
                timeout: req.body.timeout.unwrap_or(Duration::ZERO),
                full_state: req.body.full_state,
                filter,
                set_presence,
            },
        )
        .await?;
    Ok(Json(render(&result, caller, s.clock.now())).into_response())
}

fn events(list: &[StoredEvent], caller: &Caller, now: Timestamp) -> Vec<Value> {
    list.iter().map(|e| sync_event(e, caller, now)).collect()
}

fn timeline(t: &TimelineSlice, caller: &Caller, now: Timestamp) -> Value {
    let fmt = |e: &StoredEvent| sync_event(e, caller, now);
    let events: Vec<Value> = t.events.iter().map(|e| bundled(e, &t.bundles, &fmt)).collect();
    json!({
        "events": events,
        "limited": t.limited,
        "prev_batch": t.prev_batch.map(|p| p.to_string()),
    })
}

fn account_data(list: &[AccountDataChange]) -> Value {
    json!({ "events": list.iter().map(|c| json!({ "type": c.kind, "content": c.content })).collect::<Vec<_>>() })
}

/// Receipts as one `m.receipt` event: `{event_id: {type: {user: {ts, thread_id}}}}`.
fn receipt_event(receipts: &[Receipt]) -> Option<Value> {
    if receipts.is_empty() {
        return None;
    }
    let mut content = Map::new();
    for r in receipts {
        let by_type = content.entry(r.event_id.to_string()).or_insert_with(|| json!({}));
        let users = by_type.as_object_mut().map(|m| m.entry(r.receipt_type.clone()).or_insert_with(|| json!({})));
        if let Some(Value::Object(users)) = users {
            let mut info = json!({ "ts": r.ts.0 });
            if let Some(t) = &r.thread_id {
                info["thread_id"] = json!(t);
            }
            users.insert(r.user_id.to_string(), info);
        }
    }
    Some(json!({ "type": "m.receipt", "content": content }))
}

fn joined_room(r: &JoinedRoom, caller: &Caller, now: Timestamp) -> Value {
    let mut ephemeral = Vec::new();
    if let Some(users) = &r.typing {
        ephemeral.push(json!({ "type": "m.typing", "content": { "user_ids": users } }));
    }
    ephemeral.extend(receipt_event(&r.receipts));
    if !r.statuses.is_empty() {
        let content: Map<String, Value> = r
            .statuses
            .iter()
            .map(|(id, c)| {
                (id.to_string(), json!({ "recipients": c.recipients, "delivered": c.delivered, "read": c.read }))
            })
            .collect();
        ephemeral.push(json!({ "type": STATUS_EVENT_TYPE, "content": content }));
    }
    let mut room = json!({
        "timeline": timeline(&r.timeline, caller, now),
        "state": { "events": events(&r.state, caller, now) },
        "ephemeral": { "events": ephemeral },
        "account_data": account_data(&r.account_data),
        "unread_notifications": { "notification_count": r.notification_count, "highlight_count": r.highlight_count },
    });
    if let Some(summary) = &r.summary {
        room["summary"] = json!({
            "m.heroes": summary.heroes,
            "m.joined_member_count": summary.joined,
            "m.invited_member_count": summary.invited,
        });
    }
    room
}

/// The sync response body.
pub fn render(r: &SyncResult, caller: &Caller, now: Timestamp) -> Value {
    let mut join = Map::new();
    for room in &r.joined {
        if let Some(id) = &room.room_id {
            join.insert(id.to_string(), joined_room(room, caller, now));
        }
    }
    let invite: Map<String, Value> = r
        .invited
        .iter()
        .map(|i| (i.room_id.to_string(), json!({ "invite_state": { "events": i.invite_state } })))
        .collect();
    let leave: Map<String, Value> = r
        .left
        .iter()
        .map(|l| {
            (
                l.room_id.to_string(),
                json!({
                    "timeline": timeline(&l.timeline, caller, now),
                    "state": { "events": events(&l.state, caller, now) },
                    "account_data": { "events": [] },
                }),
            )
        })
        .collect();
    let presence: Vec<Value> = r
        .presence
        .iter()
        .map(|p| {
            let mut content = json!({ "presence": p.state, "currently_active": p.state == "online" });
            if p.last_active.0 > 0 {
                content["last_active_ago"] = json!(now.millis_since(p.last_active));
            }
            if let Some(m) = &p.status_msg {
                content["status_msg"] = json!(m);
            }
            if let Some(d) = r.dnd.iter().find(|d| d.user_id == p.user_id) {
                content[DND_KIND] = d.presence_field();
            }
            json!({ "type": "m.presence", "sender": p.user_id, "content": content })
        })
        .collect();
    json!({
        "next_batch": r.next_batch.to_string(),
        "rooms": { "join": join, "invite": invite, "leave": leave, "knock": {} },
        "presence": { "events": presence },
        "account_data": account_data(&r.account_data),
        "to_device": { "events": [] },
        "device_lists": { "changed": r.device_lists.changed, "left": r.device_lists.left },
        "device_one_time_keys_count": {},
    })
}
