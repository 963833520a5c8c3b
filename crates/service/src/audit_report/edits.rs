//! Edits in a conversation's transcript. An edit is a new event, so the original message is
//! never lost: the transcript shows the message as first sent and, under it, every edit with
//! its editor and time, in order. The edit events themselves are not repeated where they
//! occurred; an edit that was deleted shows where it occurred, as any deleted message does.

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
        if let Some(parent) = parents.get(&edit.event.event_id) {
            out.entry(parent.clone()).or_default().push(edit);
        }
    }
    Ok(out)
}

/// Is `e` an edit listed under the message it edits (so not repeated where it occurred)?
pub(super) async fn listed_under_original(store: &dyn Store, e: &StoredEvent) -> ServiceResult<bool> {
    if e.redacted_because.is_some()
        || relation::relation(&e.event.content).is_none_or(|r| r.rel_type != rel_types::REPLACE)
    {
        return Ok(false);
    }
    Ok(store.relation_of(&e.event.event_id).await?.is_some())
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
