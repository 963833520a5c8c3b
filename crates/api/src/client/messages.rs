//! Sending and reading messages: send, redact, `/messages`, `/event`, `/context`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::context::get_context;
use ruma::api::client::message::{get_message_events, send_message_event};
use ruma::api::client::redact::redact_event;
use ruma::api::client::room::get_room_event;
use ruma::{OwnedEventId, RoomId, TransactionId};
use serde_json::{Value, json};
use wardline_service::rooms::SendEvent;
use wardline_service::timeline::PageRequest;
use wardline_service::{Caller, Services};
use wardline_store::Direction;
use wardline_types::stream::PageToken;
use wardline_types::{TxnRef, kinds};

use crate::client::format::{bundled, client_event, client_events, client_events_bundled};
use crate::error::ApiError;
use crate::ruma_wrapper::Ruma;

fn page_token(t: Option<&String>) -> Result<Option<PageToken>, ApiError> {
    t.map(|t| t.parse::<PageToken>().map_err(|_| ApiError::invalid_param("invalid pagination token"))).transpose()
}

/// `PUT /rooms/{roomId}/send/{eventType}/{txnId}`
pub async fn send(s: Services, req: Ruma<send_message_event::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let content: Value = serde_json::from_str(b.body.json().get()).map_err(|e| ApiError::bad_json(e.to_string()))?;
    let kind = b.event_type.to_string();
    if kind == kinds::MESSAGE
        && content.get("msgtype").and_then(Value::as_str).is_none()
        && content.as_object().is_some_and(|o| !o.is_empty())
    {
        return Err(ApiError::bad_json("m.room.message needs a msgtype"));
    }
    send_in_transaction(&s, caller, &b.room_id, kind, content, None, &b.txn_id).await
}

/// Sends an event as part of the caller's transaction `txn_id`; answers `{"event_id"}`.
async fn send_in_transaction(
    s: &Services,
    caller: &Caller,
    room_id: &RoomId,
    kind: String,
    content: Value,
    redacts: Option<OwnedEventId>,
    txn_id: &TransactionId,
) -> Result<Response, ApiError> {
    let txn = TxnRef { device_id: caller.device_id.clone(), txn_id: txn_id.to_owned() };
    let req = SendEvent { room_id: room_id.to_owned(), kind, state_key: None, content, redacts, txn: Some(txn) };
    let (id, outcome) = s.rooms.send_message(&caller.actor(), req).await?;
    s.presence.note_active(&caller.user_id);
    // An urgent message is escalating (and a question's deadline set) before its sender is
    // answered; the engine looks at answers and deletions at once.
    if let Err(e) = s.escalation.open_now(&id).await {
        // The engine's next pass opens it: logged, not fatal to a message already stored.
        tracing::error!(error = %e, "could not open an escalation at once");
    }
    s.escalation.poke();
    s.pushers.poke();
    let mut answer = json!({ "event_id": id });
    if !outcome.unheld.is_empty() {
        // A message to a role nobody holds is never parked silently: the sender hears at once.
        answer["org.wardline.unheld_roles"] = outcome
            .unheld
            .iter()
            .map(|u| {
                json!({
                    "id": u.role,
                    "name": u.name,
                    "bleep": u.bleep,
                    "fallback": u.fallback.as_ref().map(|(id, name)| json!({ "id": id, "name": name })),
                    "reached": u.reached(),
                })
            })
            .collect();
    }
    Ok(Json(answer).into_response())
}

/// `PUT /rooms/{roomId}/redact/{eventId}/{txnId}`
pub async fn redact(s: Services, req: Ruma<redact_event::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let mut content = json!({ "redacts": b.event_id });
    if let Some(r) = &b.reason {
        content["reason"] = json!(r);
    }
    send_in_transaction(&s, caller, &b.room_id, kinds::REDACTION.into(), content, Some(b.event_id.clone()), &b.txn_id)
        .await
}

/// `GET /rooms/{roomId}/messages`
pub async fn messages(s: Services, req: Ruma<get_message_events::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let dir = match b.dir {
        ruma::api::Direction::Forward => Direction::Forward,
        _ => Direction::Backward,
    };
    let limit = usize::try_from(u64::from(b.limit)).unwrap_or(1000);
    let page = s
        .timeline
        .messages(
            &caller.actor(),
            &b.room_id,
            PageRequest {
                from: page_token(b.from.as_ref())?,
                to: page_token(b.to.as_ref())?,
                dir,
                limit,
                filter: &b.filter,
            },
        )
        .await?;
    let now = s.clock.now();
    let mut body = json!({
        "start": page.start.to_string(),
        "chunk": client_events_bundled(&page.chunk, &page.bundles, caller, now),
        "state": client_events(&page.state, caller, now),
    });
    if let Some(end) = page.end {
        body["end"] = json!(end.to_string());
    }
    Ok(Json(body).into_response())
}

/// `GET /rooms/{roomId}/event/{eventId}`
pub async fn event(s: Services, req: Ruma<get_room_event::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let (e, bundles) = s.timeline.event(&caller.actor(), &req.body.room_id, &req.body.event_id).await?;
    let now = s.clock.now();
    Ok(Json(bundled(&e, &bundles, &|e| client_event(e, caller, now))).into_response())
}

/// `GET /rooms/{roomId}/context/{eventId}`
pub async fn context(s: Services, req: Ruma<get_context::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let limit = usize::try_from(u64::from(b.limit)).unwrap_or(100);
    let c = s.timeline.context(&caller.actor(), &b.room_id, &b.event_id, limit, &b.filter).await?;
    let now = s.clock.now();
    Ok(Json(json!({
        "event": bundled(&c.event, &c.bundles, &|e| client_event(e, caller, now)),
        "events_before": client_events_bundled(&c.before, &c.bundles, caller, now),
        "events_after": client_events_bundled(&c.after, &c.bundles, caller, now),
        "start": c.start.to_string(),
        "end": c.end.to_string(),
        "state": client_events(&c.state, caller, now),
    }))
    .into_response())
}
