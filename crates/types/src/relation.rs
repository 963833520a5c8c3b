//! Relationships between events (`m.relates_to`): replies, reactions, edits, threads and
//! references, as the Matrix spec's "Forming relationships between events" defines them.
//!
//! A child event names its parent in its (cleartext) content; the parent never names its
//! children. Only relations with a `rel_type` are indexed and aggregated; a rich reply
//! (`m.in_reply_to`) has none.

use ruma::OwnedEventId;
use serde_json::Value;

/// Relationship types the server interprets.
pub mod rel_types {
    /// A reaction or other annotation, counted by key (`m.annotation`).
    pub const ANNOTATION: &str = "m.annotation";
    /// An edit (`m.replace`).
    pub const REPLACE: &str = "m.replace";
    /// A message in a thread, pointing at the thread's root (`m.thread`).
    pub const THREAD: &str = "m.thread";
    /// A generic reference (`m.reference`).
    pub const REFERENCE: &str = "m.reference";
}

/// The reaction event type.
pub const REACTION: &str = "m.reaction";

/// Longest annotation key accepted, in bytes.
pub const MAX_ANNOTATION_KEY_BYTES: usize = 500;

/// A child's relation to its parent, read from its `m.relates_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatesTo {
    /// The `rel_type`.
    pub rel_type: String,
    /// The parent.
    pub event_id: OwnedEventId,
    /// For annotations: the key (the emoji of a reaction).
    pub key: Option<String>,
}

/// What an event's content says about its parent, when it has an `m.relates_to` with a string
/// `rel_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relates {
    /// A well-formed relation.
    To(RelatesTo),
    /// A `rel_type` without a valid parent event id.
    Malformed,
}

/// The relation with a `rel_type` that `content` carries, if any.
#[must_use]
pub fn relates(content: &Value) -> Option<Relates> {
    let r = content.get("m.relates_to")?;
    let rel_type = r.get("rel_type")?.as_str()?;
    let Some(event_id) = r.get("event_id").and_then(Value::as_str).and_then(|id| OwnedEventId::try_from(id).ok())
    else {
        return Some(Relates::Malformed);
    };
    let key = r.get("key").and_then(Value::as_str).map(ToOwned::to_owned);
    Some(Relates::To(RelatesTo { rel_type: rel_type.to_owned(), event_id, key }))
}

/// The well-formed relation `content` carries, if any (what the store indexes).
#[must_use]
pub fn relation(content: &Value) -> Option<RelatesTo> {
    match relates(content)? {
        Relates::To(r) => Some(r),
        Relates::Malformed => None,
    }
}

/// The event a rich reply answers (`m.relates_to.m.in_reply_to.event_id`); threads use it for
/// their fallback too. `Some(None)` for a reply whose target is not a valid event id.
#[must_use]
pub fn reply_to(content: &Value) -> Option<Option<OwnedEventId>> {
    let target = content.get("m.relates_to")?.get("m.in_reply_to")?;
    Some(target.get("event_id").and_then(Value::as_str).and_then(|id| OwnedEventId::try_from(id).ok()))
}

/// The text an edit changes a message to: `m.new_content.body`, else its fallback `body`
/// without the customary leading `* `.
#[must_use]
pub fn edited_body(content: &Value) -> Option<&str> {
    content
        .get("m.new_content")
        .and_then(|n| n.get("body"))
        .and_then(Value::as_str)
        .or_else(|| content.get("body").and_then(Value::as_str).map(|b| b.strip_prefix("* ").unwrap_or(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_relations_the_spec_defines() {
        let reaction = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$p", "key": "👍"}});
        assert_eq!(
            relation(&reaction),
            Some(RelatesTo {
                rel_type: "m.annotation".into(),
                event_id: "$p".try_into().unwrap(),
                key: Some("👍".into())
            })
        );
        let edit = json!({"body": "* x", "m.new_content": {"body": "x"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$p"}});
        assert_eq!(relation(&edit).map(|r| r.rel_type), Some("m.replace".into()));
        assert_eq!(edited_body(&edit), Some("x"));
        assert_eq!(edited_body(&json!({"body": "* y"})), Some("y"));
    }

    #[test]
    fn replies_have_no_rel_type() {
        let reply = json!({"body": "ok", "m.relates_to": {"m.in_reply_to": {"event_id": "$p"}}});
        assert_eq!(relates(&reply), None);
        assert_eq!(reply_to(&reply), Some(Some("$p".try_into().unwrap())));
        assert_eq!(reply_to(&json!({"m.relates_to": {"m.in_reply_to": {}}})), Some(None));
        assert_eq!(reply_to(&json!({"body": "plain"})), None);
    }

    #[test]
    fn a_rel_type_without_a_parent_is_malformed() {
        assert_eq!(relates(&json!({"m.relates_to": {"rel_type": "m.thread"}})), Some(Relates::Malformed));
        assert_eq!(
            relates(&json!({"m.relates_to": {"rel_type": "m.thread", "event_id": "nope"}})),
            Some(Relates::Malformed)
        );
        assert_eq!(relation(&json!({"m.relates_to": {"rel_type": "m.thread", "event_id": 5}})), None);
        assert_eq!(relates(&json!({"m.relates_to": {"rel_type": 5, "event_id": "$p"}})), None);
    }
}
