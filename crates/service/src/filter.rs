//! Applying Matrix event filters.

use ruma::RoomId;
use ruma::api::client::filter::{Filter, RoomEventFilter, RoomFilter};
use wardline_types::StoredEvent;

/// Does `kind` match a filter type pattern (`*` matches any run of characters)?
#[must_use]
pub fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == kind,
        Some((prefix, rest)) => {
            kind.starts_with(prefix) && {
                let tail = &kind[prefix.len()..];
                rest.is_empty() || (0..=tail.len()).any(|i| tail.is_char_boundary(i) && type_matches(rest, &tail[i..]))
            }
        }
    }
}

fn types_allowed(types: Option<&[String]>, not_types: &[String], kind: &str) -> bool {
    if not_types.iter().any(|p| type_matches(p, kind)) {
        return false;
    }
    types.is_none_or(|t| t.iter().any(|p| type_matches(p, kind)))
}

/// Does a room event pass a room event filter?
#[must_use]
pub fn event_passes(filter: &RoomEventFilter, e: &StoredEvent) -> bool {
    let ev = &e.event;
    if filter.not_senders.contains(&ev.sender) {
        return false;
    }
    if let Some(senders) = &filter.senders
        && !senders.contains(&ev.sender)
    {
        return false;
    }
    if filter.not_rooms.contains(&ev.room_id) {
        return false;
    }
    if let Some(rooms) = &filter.rooms
        && !rooms.contains(&ev.room_id)
    {
        return false;
    }
    if let Some(want_url) = filter.url_filter {
        let has_url = ev.content.get("url").is_some();
        let want = matches!(want_url, ruma::api::client::filter::UrlFilter::EventsWithUrl);
        if has_url != want {
            return false;
        }
    }
    types_allowed(filter.types.as_deref(), &filter.not_types, &ev.kind)
}

/// Does a non-room event type (account data, presence) pass a filter?
#[must_use]
pub fn kind_passes(filter: &Filter, kind: &str, sender: Option<&ruma::UserId>) -> bool {
    if let Some(s) = sender {
        if filter.not_senders.iter().any(|x| x == s) {
            return false;
        }
        if let Some(senders) = &filter.senders
            && !senders.iter().any(|x| x == s)
        {
            return false;
        }
    }
    types_allowed(filter.types.as_deref(), &filter.not_types, kind)
}

/// Does a room-scoped non-event type (room account data) pass a room event filter?
#[must_use]
pub fn room_kind_passes(filter: &RoomEventFilter, kind: &str) -> bool {
    types_allowed(filter.types.as_deref(), &filter.not_types, kind)
}

/// Is a room included by the room filter?
#[must_use]
pub fn room_included(filter: &RoomFilter, room: &RoomId) -> bool {
    if filter.not_rooms.iter().any(|r| r == room) {
        return false;
    }
    filter.rooms.as_ref().is_none_or(|rooms| rooms.iter().any(|r| r == room))
}

/// Is this filter one that lets nothing through (a `limit` of 0 or `types: []`)?
#[must_use]
pub fn excludes_all(filter: &Filter) -> bool {
    filter.types.as_ref().is_some_and(Vec::is_empty) || filter.limit.is_some_and(|l| l == ruma::UInt::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(type_matches("m.room.*", "m.room.message"));
        assert!(type_matches("*", "anything"));
        assert!(type_matches("m.*.message", "m.room.message"));
        assert!(!type_matches("m.room.*", "org.wardline.ack"));
        assert!(type_matches("m.room.message", "m.room.message"));
        assert!(!type_matches("m.room.message", "m.room.messages"));
    }

    #[test]
    fn not_types_win() {
        assert!(!types_allowed(Some(&["m.*".into()]), &["m.room.member".into()], "m.room.member"));
        assert!(types_allowed(Some(&["m.*".into()]), &["m.room.member".into()], "m.room.message"));
        assert!(types_allowed(None, &[], "x"));
        assert!(!types_allowed(Some(&[]), &[], "x"));
    }
}
