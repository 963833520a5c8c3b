//! The redaction algorithm (room version 11): what of an event survives its redaction.

use serde_json::{Map, Value};

use crate::event::kinds;

/// The content keys kept when an event of type `kind` is redacted.
fn kept_content_keys(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        kinds::MEMBER => &["membership", "join_authorised_via_users_server", "third_party_invite"],
        kinds::JOIN_RULES => &["join_rule", "allow"],
        kinds::POWER_LEVELS => {
            &["ban", "events", "events_default", "invite", "kick", "redact", "state_default", "users", "users_default"]
        }
        kinds::HISTORY_VISIBILITY => &["history_visibility"],
        kinds::REDACTION => &["redacts"],
        // The whole create event survives.
        kinds::CREATE => return None,
        _ => &[],
    })
}

/// Returns `content` as it is after redaction of an event of type `kind`.
#[must_use]
pub fn redact_content(kind: &str, content: &Value) -> Value {
    let Some(keys) = kept_content_keys(kind) else {
        return content.clone();
    };
    let mut out = Map::new();
    if let Value::Object(obj) = content {
        for key in keys {
            if let Some(v) = obj.get(*key) {
                if kind == kinds::MEMBER && *key == "third_party_invite" {
                    if let Some(signed) = v.get("signed") {
                        out.insert((*key).to_owned(), serde_json::json!({ "signed": signed }));
                    }
                    continue;
                }
                out.insert((*key).to_owned(), v.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_content_is_emptied() {
        let c = json!({"msgtype": "m.text", "body": "patient in bed 4"});
        assert_eq!(redact_content(kinds::MESSAGE, &c), json!({}));
    }

    #[test]
    fn membership_survives() {
        let c = json!({"membership": "join", "displayname": "Dr A"});
        assert_eq!(redact_content(kinds::MEMBER, &c), json!({"membership": "join"}));
    }

    #[test]
    fn create_survives_whole() {
        let c = json!({"room_version": "11", "m.federate": false});
        assert_eq!(redact_content(kinds::CREATE, &c), c);
    }
}
