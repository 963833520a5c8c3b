//! Events in the client-server API's JSON formats.

use serde_json::{Map, Value, json};
use wardline_service::Caller;
use wardline_service::timeline::{Aggregation, Bundles};
use wardline_types::{StoredEvent, Timestamp};

/// The `ClientEvent` format (with `room_id`), as `caller` sees it.
pub fn client_event(e: &StoredEvent, caller: &Caller, now: Timestamp) -> Value {
    e.to_client_json(Some((&caller.user_id, &caller.device_id)), now)
}

/// The `ClientEventWithoutRoomID` format used inside `/sync`.
pub fn sync_event(e: &StoredEvent, caller: &Caller, now: Timestamp) -> Value {
    let mut v = client_event(e, caller, now);
    if let Some(obj) = v.as_object_mut() {
        obj.remove("room_id");
    }
    v
}

/// Many events in the `ClientEvent` format.
pub fn client_events(events: &[StoredEvent], caller: &Caller, now: Timestamp) -> Vec<Value> {
    events.iter().map(|e| client_event(e, caller, now)).collect()
}

/// Turns a JSON value into a ruma `Raw<T>` without checking its shape.
pub fn raw<T>(v: &Value) -> ruma::serde::Raw<T> {
    ruma::serde::Raw::from_json(
        serde_json::value::to_raw_value(v)
            .unwrap_or_else(|_| serde_json::value::RawValue::from_string("{}".to_owned()).unwrap_or_default()),
    )
}

/// `unsigned."m.relations"` of an event (its bundled aggregations), each bundled event formatted
/// by `fmt` as the event itself is: the whole latest edit (`m.replace`), the ids of referring
/// events (`m.reference`), the thread's latest event (with its own aggregation), count and
/// the reader's participation (`m.thread`).
pub fn relations_json(agg: &Aggregation, fmt: &dyn Fn(&StoredEvent) -> Value) -> Value {
    let mut out = Map::new();
    if let Some(edit) = &agg.replace {
        out.insert("m.replace".into(), fmt(edit));
    }
    if !agg.references.is_empty() {
        let chunk: Vec<Value> = agg.references.iter().map(|id| json!({ "event_id": id })).collect();
        out.insert("m.reference".into(), json!({ "chunk": chunk }));
    }
    if let Some(thread) = &agg.thread {
        let mut latest = fmt(&thread.latest);
        add_relations(&mut latest, &thread.latest_aggregation, fmt);
        out.insert(
            "m.thread".into(),
            json!({
                "latest_event": latest,
                "count": thread.count,
                "current_user_participated": thread.current_user_participated,
            }),
        );
    }
    Value::Object(out)
}

/// Puts an aggregation, if it has anything, under `unsigned."m.relations"` of a formatted event.
fn add_relations(v: &mut Value, agg: &Aggregation, fmt: &dyn Fn(&StoredEvent) -> Value) {
    if agg.is_empty() {
        return;
    }
    if let Some(unsigned) = v.get_mut("unsigned").and_then(Value::as_object_mut) {
        unsigned.insert("m.relations".into(), relations_json(agg, fmt));
    }
}

/// An event formatted by `fmt`, with its bundled aggregation if `bundles` has one.
pub fn bundled(e: &StoredEvent, bundles: &Bundles, fmt: &dyn Fn(&StoredEvent) -> Value) -> Value {
    let mut v = fmt(e);
    if let Some(agg) = bundles.get(&e.event.event_id) {
        add_relations(&mut v, agg, fmt);
    }
    v
}

/// Many events in the `ClientEvent` format, with their bundled aggregations.
pub fn client_events_bundled(events: &[StoredEvent], bundles: &Bundles, caller: &Caller, now: Timestamp) -> Vec<Value> {
    let fmt = |e: &StoredEvent| client_event(e, caller, now);
    events.iter().map(|e| bundled(e, bundles, &fmt)).collect()
}
