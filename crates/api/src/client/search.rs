//! `POST /search`: searching the messages, room names and topics of the caller's rooms.

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::search::search_events::v3::{GroupingKey, OrderBy, Request, SearchKeys};
use serde_json::{Map, Value, json};
use wardline_service::search::{ContextRequest, GroupBy, Order, SearchOutcome, SearchRequest};
use wardline_service::{Caller, Services};
use wardline_types::search::SearchKey;
use wardline_types::{StoredEvent, Timestamp};

use crate::client::format::{bundled, client_event, client_events, client_events_bundled};
use crate::error::ApiError;
use crate::ruma_wrapper::Ruma;

fn key(k: &SearchKeys) -> Result<SearchKey, ApiError> {
    SearchKey::from_spec_name(k.as_str())
        .ok_or_else(|| ApiError::invalid_param(format!("unknown search key {:?}", k.as_str())))
}

/// Did the request ask for context? (ruma fills in the defaults whether or not it did; the
/// spec gives context only when `event_context` is present.)
fn asked_for_context(raw: &[u8]) -> bool {
    serde_json::from_slice::<Value>(raw)
        .ok()
        .is_some_and(|v| v["search_categories"]["room_events"].get("event_context").is_some())
}

/// `POST /search`
pub async fn search(s: Services, req: Ruma<Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let Some(criteria) = &req.body.search_categories.room_events else {
        // Room events are the only category; a search of none finds nothing.
        return Ok(Json(json!({ "search_categories": {} })).into_response());
    };
    let keys = criteria.keys.as_ref().map(|ks| ks.iter().map(key).collect::<Result<Vec<_>, _>>()).transpose()?;
    let order = match &criteria.order_by {
        None | Some(OrderBy::Rank) => Order::Rank,
        Some(OrderBy::Recent) => Order::Recent,
        Some(other) => return Err(ApiError::invalid_param(format!("unknown order_by {:?}", other.as_str()))),
    };
    let context = asked_for_context(&req.raw_body).then(|| ContextRequest {
        before: usize::try_from(u64::from(criteria.event_context.before_limit)).unwrap_or(usize::MAX),
        after: usize::try_from(u64::from(criteria.event_context.after_limit)).unwrap_or(usize::MAX),
        include_profile: criteria.event_context.include_profile,
    });
    // Groupings by other keys are ignored, as the spec allows.
    let group_by = criteria
        .groupings
        .group_by
        .iter()
        .filter_map(|g| match g.key.as_ref()? {
            GroupingKey::RoomId => Some(GroupBy::Room),
            GroupingKey::Sender => Some(GroupBy::Sender),
            _ => None,
        })
        .collect();
    let out = s
        .search
        .search(
            &caller.actor(),
            SearchRequest {
                term: &criteria.search_term,
                keys,
                filter: &criteria.filter,
                order,
                next_batch: req.body.next_batch.as_deref(),
                context,
                include_state: criteria.include_state.unwrap_or(false),
                group_by,
            },
        )
        .await?;
    Ok(Json(json!({ "search_categories": { "room_events": room_events(&out, caller, s.clock.now()) } }))
        .into_response())
}

/// The `room_events` result category.
fn room_events(out: &SearchOutcome, caller: &Caller, now: Timestamp) -> Value {
    let results: Vec<Value> = out
        .results
        .iter()
        .map(|f| {
            let fmt = |e: &StoredEvent| client_event(e, caller, now);
            let mut r = json!({ "rank": f.rank, "result": bundled(&f.event, &out.bundles, &fmt) });
            if let Some(c) = &f.context {
                let mut context = json!({
                    "start": c.start.to_string(),
                    "end": c.end.to_string(),
                    "events_before": client_events_bundled(&c.before, &c.bundles, caller, now),
                    "events_after": client_events_bundled(&c.after, &c.bundles, caller, now),
                });
                if !c.profiles.is_empty() {
                    let profiles: Map<String, Value> = c
                        .profiles
                        .iter()
                        .map(|(user, p)| {
                            let mut profile = Map::new();
                            if let Some(n) = &p.displayname {
                                profile.insert("displayname".into(), json!(n));
                            }
                            if let Some(a) = &p.avatar_url {
                                profile.insert("avatar_url".into(), json!(a));
                            }
                            (user.to_string(), Value::Object(profile))
                        })
                        .collect();
                    context["profile_info"] = Value::Object(profiles);
                }
                r["context"] = context;
            }
            r
        })
        .collect();
    let mut body = json!({ "count": out.count, "highlights": out.highlights, "results": results });
    if let Some(next) = &out.next_batch {
        body["next_batch"] = json!(next);
    }
    if !out.state.is_empty() {
        let state: Map<String, Value> = out
            .state
            .iter()
            .map(|(room, events)| (room.to_string(), json!(client_events(events, caller, now))))
            .collect();
        body["state"] = Value::Object(state);
    }
    if !out.groups.is_empty() {
        let mut groups = Map::new();
        for (by, list) in &out.groups {
            let name = match by {
                GroupBy::Room => "room_id",
                GroupBy::Sender => "sender",
            };
            let entries: Map<String, Value> = list
                .iter()
                .map(|g| {
                    let mut v = json!({ "order": g.order, "results": g.results });
                    if let Some(n) = &g.next_batch {
                        v["next_batch"] = json!(n);
                    }
                    (g.key.clone(), v)
                })
                .collect();
            groups.insert(name.into(), Value::Object(entries));
        }
        body["groups"] = Value::Object(groups);
    }
    body
}
