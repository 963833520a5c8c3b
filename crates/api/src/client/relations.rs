//! `GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]`: the children of an event
//! (reactions, edits, messages in a thread, references), a page at a time.

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::relations::{
    get_relating_events, get_relating_events_with_rel_type, get_relating_events_with_rel_type_and_event_type,
};
use ruma::{EventId, RoomId};
use serde_json::json;
use wardline_service::Services;
use wardline_service::timeline::RelationsRequest;
use wardline_store::Direction;
use wardline_types::stream::PageToken;

use crate::client::format::client_events_bundled;
use crate::error::ApiError;
use crate::ruma_wrapper::Ruma;

fn page_token(t: Option<&String>) -> Result<Option<PageToken>, ApiError> {
    t.map(|t| t.parse::<PageToken>().map_err(|_| ApiError::invalid_param("invalid pagination token"))).transpose()
}

/// The query common to the three paths.
struct Query<'a> {
    from: Option<&'a String>,
    to: Option<&'a String>,
    dir: ruma::api::Direction,
    limit: Option<ruma::UInt>,
    recurse: bool,
}

async fn answer(
    s: &Services,
    req_caller: &wardline_service::Caller,
    room: &RoomId,
    parent: &EventId,
    q: Query<'_>,
    rel_type: Option<String>,
    event_type: Option<String>,
) -> Result<Response, ApiError> {
    let dir = match q.dir {
        ruma::api::Direction::Forward => Direction::Forward,
        _ => Direction::Backward,
    };
    let request = RelationsRequest {
        from: page_token(q.from)?,
        to: page_token(q.to)?,
        dir: Some(dir),
        limit: q.limit.map(|l| usize::try_from(u64::from(l)).unwrap_or(usize::MAX)),
        rel_type,
        event_type,
        recurse: q.recurse,
    };
    let page = s.timeline.relations(&req_caller.actor(), room, parent, request).await?;
    let now = s.clock.now();
    let mut body = json!({ "chunk": client_events_bundled(&page.chunk, &page.bundles, req_caller, now) });
    if let Some(next) = page.next_batch {
        body["next_batch"] = json!(next.to_string());
    }
    if let Some(prev) = page.prev_batch {
        body["prev_batch"] = json!(prev.to_string());
    }
    if let Some(depth) = page.recursion_depth {
        body["recursion_depth"] = json!(depth);
    }
    Ok(Json(body).into_response())
}

/// `GET /rooms/{roomId}/relations/{eventId}`
pub async fn all(s: Services, req: Ruma<get_relating_events::v1::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let q = Query { from: b.from.as_ref(), to: b.to.as_ref(), dir: b.dir, limit: b.limit, recurse: b.recurse };
    answer(&s, caller, &b.room_id, &b.event_id, q, None, None).await
}

/// `GET /rooms/{roomId}/relations/{eventId}/{relType}`
pub async fn by_rel_type(
    s: Services,
    req: Ruma<get_relating_events_with_rel_type::v1::Request>,
) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let q = Query { from: b.from.as_ref(), to: b.to.as_ref(), dir: b.dir, limit: b.limit, recurse: b.recurse };
    answer(&s, caller, &b.room_id, &b.event_id, q, Some(b.rel_type.to_string()), None).await
}

/// `GET /rooms/{roomId}/relations/{eventId}/{relType}/{eventType}`
pub async fn by_rel_and_event_type(
    s: Services,
    req: Ruma<get_relating_events_with_rel_type_and_event_type::v1::Request>,
) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let q = Query { from: b.from.as_ref(), to: b.to.as_ref(), dir: b.dir, limit: b.limit, recurse: b.recurse };
    answer(&s, caller, &b.room_id, &b.event_id, q, Some(b.rel_type.to_string()), Some(b.event_type.to_string())).await
}
