//! Events in the client-server API's JSON formats.

use serde_json::Value;
use wardline_service::Caller;
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
