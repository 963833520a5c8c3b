//! Edits in a conversation's transcript. An edit is a new event, so the original message is
//! never lost: the transcript shows the message as first sent and, under it, every edit with
//! its editor and time, in order. The edit events themselves are not repeated where they
//! occurred; an edit that was deleted shows where it occurred, as any deleted message does.
//!
//! Only valid edits are listed under a message, by the rule an edit is checked by when sent
//! ([`crate::rooms::edit_refusal`]: its sender's own message, of the same type). One that
//! breaks it (stored before the rule, or brought in from elsewhere) never changed the message:
//! it is shown where it was sent, marked as not a valid edit, with the reason.

use std::collections::HashMap;

use ruma::OwnedEventId;
use wardline_store::Store;
use wardline_types::relation::{self, rel_types};
use wardline_types::{StoredEvent, StreamPos};

use super::name_of;
use crate::ServiceResult;

/// The edits of the events of `page` (up to `upto`), oldest first for each.
pub(super) async fn of(
    store: &dyn Store,
    page: &[StoredEvent],
    upto: StreamPos,
) -> ServiceResult<HashMap<OwnedEventId, Vec<StoredEvent>>> {
    let ids: Vec<OwnedEventId> = page.iter().map(|e| e.event.event_id.clone()).collect();
    let rows = store.relations_to(&ids, &[rel_types::REPLACE], upto).await?;
    let edit_ids: Vec<OwnedEventId> = rows.iter().map(|r| r.event_id.clone()).collect();
    let mut out: HashMap<OwnedEventId, Vec<StoredEvent>> = HashMap::new();
    let parents: HashMap<OwnedEventId, OwnedEventId> = rows.into_iter().map(|r| (r.event_id, r.parent_id)).collect();
    for edit in store.events_by_id(&edit_ids).await? {
        let Some(parent_id) = parents.get(&edit.event.event_id) else { continue };
        let Some(parent) = page.iter().find(|p| p.event.event_id == *parent_id) else { continue };
        if refusal(parent, &edit).is_none() {
            out.entry(parent_id.clone()).or_default().push(edit);
        }
    }
    Ok(out)
}

/// Where the transcript shows an event that may be an edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// Where it was sent, as any event (not an edit, or a deleted one).
    Here,
    /// Under the message it edits, not where it was sent.
    UnderOriginal,
    /// Where it was sent, marked as not a valid edit, for this reason.
    InvalidEdit(&'static str),
}

/// Where the transcript shows `e`.
pub(super) async fn placement(store: &dyn Store, e: &StoredEvent) -> ServiceResult<Placement> {
    if e.redacted_because.is_some()
        || relation::relation(&e.event.content).is_none_or(|r| r.rel_type != rel_types::REPLACE)
    {
        return Ok(Placement::Here);
    }
    let Some(rel) = store.relation_of(&e.event.event_id).await? else { return Ok(Placement::Here) };
    let Some(parent) = store.events_by_id(&[rel.parent_id]).await?.pop() else { return Ok(Placement::Here) };
    Ok(match refusal(&parent, e) {
        None => Placement::UnderOriginal,
        Some(why) => Placement::InvalidEdit(why),
    })
}

/// Why `edit` is not a valid edit of `parent`, if it is not.
fn refusal(parent: &StoredEvent, edit: &StoredEvent) -> Option<&'static str> {
    crate::rooms::edit_refusal(parent, &edit.event.sender, &edit.event.kind, edit.event.state_key.is_some())
}

/// The lines listing a message's edits: who, when, and what the message became.
pub(super) fn lines(edits: Option<&Vec<StoredEvent>>, names: &HashMap<String, String>) -> String {
    let mut out = String::new();
    for edit in edits.into_iter().flatten() {
        let text = relation::edited_body(&edit.event.content).unwrap_or("");
        out.push_str(&format!(
            "    edited by {} at {}: \"{text}\"\n",
            name_of(names, edit.event.sender.as_str()),
            edit.event.origin_server_ts.to_rfc3339(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::owned_room_id;
    use serde_json::json;
    use wardline_store::{Direction, PosRange, RoomStore};
    use wardline_store_sqlite::{Durability, SqliteStore};
    use wardline_types::{NewEvent, Timestamp, kinds};

    fn event(id: &str, sender: &str, kind: &str, content: serde_json::Value) -> NewEvent {
        NewEvent {
            event_id: OwnedEventId::try_from(format!("${id}")).unwrap_or_else(|_| unreachable!()),
            room_id: owned_room_id!("!ward:localhost"),
            sender: ruma::OwnedUserId::try_from(sender).unwrap_or_else(|_| unreachable!()),
            kind: kind.into(),
            state_key: None,
            content,
            origin_server_ts: Timestamp(0),
            redacts: None,
            txn: None,
        }
    }

    fn edit_of(target: &str, body: &str) -> serde_json::Value {
        json!({"body": format!("* {body}"), "m.new_content": {"body": body},
               "m.relates_to": {"rel_type": "m.replace", "event_id": target}})
    }

    /// An edit stored against the rule (another sender's, or changing the type) is not listed
    /// under the message, which it never changed, but shown where it was sent, with why.
    #[tokio::test]
    async fn only_valid_edits_are_listed_under_the_message() -> ServiceResult<()> {
        let dir = tempfile::tempdir().map_err(|e| crate::ServiceError::Internal(e.to_string()))?;
        let store = SqliteStore::open(&dir.path().join("w.db"), Durability::Normal)?;
        let mut create = event("c", "@ada:localhost", kinds::CREATE, json!({"room_version": "11"}));
        create.state_key = Some(String::new());
        store
            .append_events(
                vec![
                    create,
                    event("m", "@ada:localhost", kinds::MESSAGE, json!({"msgtype": "m.text", "body": "K+ 6.8"})),
                    event("ok", "@ada:localhost", kinds::MESSAGE, edit_of("$m", "K+ 6.9")),
                    event("other", "@ben:localhost", kinds::MESSAGE, edit_of("$m", "K+ 3.0")),
                    event("type", "@ada:localhost", "org.wardline.note", edit_of("$m", "K+ 1.0")),
                ],
                vec![],
            )
            .await?;
        let now = store.current_pos();
        let room = owned_room_id!("!ward:localhost");
        let page = store.room_events(&room, PosRange::upto(now), Direction::Forward, 100).await?;
        let listed = of(&store, &page, now).await?;
        let under: Vec<&str> = listed
            .get(&OwnedEventId::try_from("$m").unwrap_or_else(|_| unreachable!()))
            .map(|v| v.iter().map(|e| e.event.event_id.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(under, ["$ok"]);
        let place = |id: &str| page.iter().find(|e| e.event.event_id.as_str() == id).cloned();
        let (Some(ok), Some(other), Some(typ), Some(m)) = (place("$ok"), place("$other"), place("$type"), place("$m"))
        else {
            unreachable!()
        };
        assert_eq!(placement(&store, &ok).await?, Placement::UnderOriginal);
        assert_eq!(placement(&store, &other).await?, Placement::InvalidEdit("you can only edit your own messages"));
        assert_eq!(placement(&store, &typ).await?, Placement::InvalidEdit("an edit cannot change the event type"));
        assert_eq!(placement(&store, &m).await?, Placement::Here);
        Ok(())
    }
}
