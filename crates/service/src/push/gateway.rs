//! The Push Gateway API: the notification a homeserver `POST`s to a gateway's
//! `/_matrix/push/v1/notify`, and what its answer means.
//!
//! Only ids, counts and the priority are sent, whatever the pusher's `format`: never the
//! sender, the conversation's name or the message's content (`event_id_only` in effect for
//! every pusher; with `format: "event_id_only"` the event's type is left out too, as the spec
//! says).

use serde_json::{Value, json};
use wardline_store::{Pusher, QueuedPush};
use wardline_types::kinds;

use super::transport::Answer;

/// The request body for one queued notification to one gateway pusher.
#[must_use]
pub fn notification(q: &QueuedPush, pusher: &Pusher) -> Value {
    let mut data = pusher.data.clone();
    data.remove("url");
    let tweaks = if q.push.highlight { json!({"highlight": true, "sound": "default"}) } else { json!({}) };
    let mut n = json!({
        "event_id": q.push.event_id,
        "room_id": q.push.room_id,
        "prio": if q.push.highlight { "high" } else { "low" },
        "counts": { "unread": q.push.unread },
        "devices": [{
            "app_id": pusher.app_id,
            "pushkey": pusher.pushkey,
            "pushkey_ts": pusher.created.0 / 1000,
            "data": data,
            "tweaks": tweaks,
        }],
    });
    let event_id_only = pusher.data.get("format").and_then(Value::as_str) == Some("event_id_only");
    if !event_id_only && let Some(o) = n.as_object_mut() {
        o.insert("type".into(), json!(kinds::MESSAGE));
    }
    json!({ "notification": n })
}

/// What a gateway's answer means for the pusher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted.
    Sent,
    /// The gateway rejected the pushkey: the pusher is removed.
    Rejected,
    /// Worth trying again (a server error, rate limited, unreadable).
    Retry(String),
    /// Refused for good (the request itself is wrong for this gateway).
    Failed(String),
}

/// Reads a gateway's answer about `pushkey`.
#[must_use]
pub fn verdict(answer: &Answer, pushkey: &str) -> Verdict {
    match answer.status {
        200..=299 => {
            let rejected = serde_json::from_slice::<Value>(&answer.body).ok().and_then(|v| {
                v.get("rejected").and_then(Value::as_array).map(|r| r.iter().any(|k| k.as_str() == Some(pushkey)))
            });
            // A success without the `rejected` list the spec asks for was still taken by the
            // gateway: trying again would ring the phone again and count the push as failing.
            match rejected {
                Some(true) => Verdict::Rejected,
                Some(false) | None => Verdict::Sent,
            }
        }
        408 | 429 | 500..=599 => Verdict::Retry(format!("gateway answered {}", answer.status)),
        s => Verdict::Failed(format!("gateway answered {s}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn a_gateways_answer_is_read_by_the_spec_and_a_success_is_never_retried() {
        assert_eq!(verdict(&answer(200, r#"{"rejected": []}"#), "k"), Verdict::Sent);
        assert_eq!(verdict(&answer(200, r#"{"rejected": ["k"]}"#), "k"), Verdict::Rejected);
        assert_eq!(verdict(&answer(200, r#"{"rejected": ["other"]}"#), "k"), Verdict::Sent);
        assert_eq!(verdict(&answer(202, ""), "k"), Verdict::Sent, "taken, though not as the spec says");
        assert!(matches!(verdict(&answer(503, ""), "k"), Verdict::Retry(_)));
        assert!(matches!(verdict(&answer(400, ""), "k"), Verdict::Failed(_)));
    }
}
