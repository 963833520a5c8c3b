//! Applying Matrix event filters.
//!
//! Filters come from clients and are matched against every event a sync or a page reads, so
//! both the matching and the filters themselves are bounded: a type pattern is matched in time
//! linear in the lengths of the pattern and the type (no backtracking, whatever the number of
//! `*`), and [`validate`] refuses filters with over-long patterns or too many entries before any
//! event is read.

use ruma::RoomId;
use ruma::api::client::filter::{Filter, FilterDefinition, RoomEventFilter, RoomFilter};
use wardline_types::{MAX_EVENT_TYPE_BYTES, StoredEvent};

use crate::{ServiceError, ServiceResult};

/// Longest type pattern (or sender, room id, field name) in a filter, in bytes: no event type
/// is longer.
pub const MAX_FILTER_ENTRY_BYTES: usize = MAX_EVENT_TYPE_BYTES;

/// Most entries in one list of a filter (`types`, `not_types`, `senders`, `rooms`, ...).
pub const MAX_FILTER_LIST: usize = 100;

/// Largest stored filter, in bytes of JSON.
pub const MAX_FILTER_BYTES: usize = 64 * 1024;

/// Does `kind` match a filter type pattern (`*` matches any run of characters)?
///
/// Linear: the literal runs between the stars must appear in order, so each is searched for
/// (with the standard library's linear substring search) after the end of the one before; the
/// leftmost occurrence is always the best choice, so nothing is ever tried twice.
#[must_use]
pub fn type_matches(pattern: &str, kind: &str) -> bool {
    let Some((head, after_head)) = pattern.split_once('*') else {
        return pattern == kind;
    };
    let (middle, tail) = after_head.rsplit_once('*').unwrap_or(("", after_head));
    let Some(rest) = kind.strip_prefix(head) else {
        return false;
    };
    let Some(mut window) = rest.strip_suffix(tail) else {
        return false;
    };
    for literal in middle.split('*').filter(|l| !l.is_empty()) {
        match window.find(literal) {
            Some(i) => window = &window[i + literal.len()..],
            None => return false,
        }
    }
    true
}

fn check_list<T: AsRef<str>>(what: &str, list: &[T]) -> ServiceResult<()> {
    if list.len() > MAX_FILTER_LIST {
        return Err(ServiceError::invalid(format!("a filter's {what} may list at most {MAX_FILTER_LIST} entries")));
    }
    if list.iter().any(|x| x.as_ref().len() > MAX_FILTER_ENTRY_BYTES) {
        return Err(ServiceError::invalid(format!(
            "a filter's {what} entries may be at most {MAX_FILTER_ENTRY_BYTES} bytes long"
        )));
    }
    Ok(())
}

/// Refuses a room event filter over the limits (`M_INVALID_PARAM`).
pub fn validate_room_event_filter(f: &RoomEventFilter) -> ServiceResult<()> {
    check_list("types", f.types.as_deref().unwrap_or_default())?;
    check_list("not_types", &f.not_types)?;
    check_list("senders", f.senders.as_deref().unwrap_or_default())?;
    check_list("not_senders", &f.not_senders)?;
    check_list("rooms", f.rooms.as_deref().unwrap_or_default())?;
    check_list("not_rooms", &f.not_rooms)
}

fn validate_filter(f: &Filter) -> ServiceResult<()> {
    check_list("types", f.types.as_deref().unwrap_or_default())?;
    check_list("not_types", &f.not_types)?;
    check_list("senders", f.senders.as_deref().unwrap_or_default())?;
    check_list("not_senders", &f.not_senders)
}

/// Refuses a filter over the limits (`M_INVALID_PARAM`): every path that applies a filter
/// (`/sync`, `/messages`, `/context`, stored filters) checks it first.
pub fn validate(def: &FilterDefinition) -> ServiceResult<()> {
    check_list("event_fields", def.event_fields.as_deref().unwrap_or_default())?;
    validate_filter(&def.presence)?;
    validate_filter(&def.account_data)?;
    let room = &def.room;
    check_list("rooms", room.rooms.as_deref().unwrap_or_default())?;
    check_list("not_rooms", &room.not_rooms)?;
    for f in [&room.account_data, &room.timeline, &room.ephemeral, &room.state] {
        validate_room_event_filter(f)?;
    }
    Ok(())
}

/// Parses and checks a filter sent as JSON text: `M_BAD_JSON` if it is not a filter,
/// `M_INVALID_PARAM` if it is over the limits.
pub fn parse(text: &str) -> ServiceResult<FilterDefinition> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(ServiceError::invalid(format!("a filter may be at most {MAX_FILTER_BYTES} bytes")));
    }
    let def: FilterDefinition =
        serde_json::from_str(text).map_err(|e| ServiceError::BadJson(format!("not a valid filter: {e}")))?;
    validate(&def)?;
    Ok(def)
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

    /// The spec's meaning of a pattern, by dynamic programming over (pattern, type) prefixes:
    /// slow but obviously right, to check the linear matcher against.
    fn reference(pattern: &str, kind: &str) -> bool {
        let (p, k) = (pattern.as_bytes(), kind.as_bytes());
        let mut m = vec![vec![false; k.len() + 1]; p.len() + 1];
        m[0][0] = true;
        for i in 1..=p.len() {
            for j in 0..=k.len() {
                m[i][j] = if p[i - 1] == b'*' {
                    m[i - 1][j] || (j > 0 && m[i][j - 1])
                } else {
                    j > 0 && m[i - 1][j - 1] && p[i - 1] == k[j - 1]
                };
            }
        }
        m[p.len()][k.len()]
    }

    fn words(alphabet: &[char], max_len: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max_len {
            last = last.iter().flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}"))).collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn agrees_with_the_reference_on_every_small_case() {
        let patterns = words(&['a', 'b', '*'], 6);
        let kinds = words(&['a', 'b'], 7);
        for p in &patterns {
            for k in &kinds {
                assert_eq!(type_matches(p, k), reference(p, k), "pattern {p:?} type {k:?}");
            }
        }
    }

    #[test]
    fn pathological_patterns_are_linear() {
        // A backtracking matcher tries every way of placing the stars: for 40 stars over a type
        // of 100,000 bytes that is more than 10^150 ways, so this test would never finish.
        let kind = "a".repeat(100_000);
        let pattern = format!("{}*b", "*a".repeat(40));
        assert!(!type_matches(&pattern, &kind));
        assert!(type_matches(&format!("{}*", "*a".repeat(40)), &kind));
        let with_b = format!("{kind}b");
        assert!(type_matches(&pattern, &with_b));
        let reported = "a".repeat(300);
        assert!(!type_matches("*a*a*a*b", &reported));
    }

    #[test]
    fn filters_over_the_limits_are_refused() {
        let long = format!(r#"{{"room":{{"timeline":{{"types":["{}"]}}}}}}"#, "a".repeat(256));
        assert!(matches!(parse(&long), Err(ServiceError::InvalidParam(_))));
        let ok = format!(r#"{{"room":{{"timeline":{{"types":["{}"]}}}}}}"#, "a".repeat(255));
        assert!(parse(&ok).is_ok());
        let many: Vec<String> = (0..=MAX_FILTER_LIST).map(|i| format!("t{i}")).collect();
        let many = serde_json::json!({"presence": {"not_types": many}}).to_string();
        assert!(matches!(parse(&many), Err(ServiceError::InvalidParam(_))));
        assert!(matches!(parse("[1,2]"), Err(ServiceError::BadJson(_))));
        assert!(matches!(parse(&" ".repeat(MAX_FILTER_BYTES + 1)), Err(ServiceError::InvalidParam(_))));
    }

    #[test]
    fn not_types_win() {
        assert!(!types_allowed(Some(&["m.*".into()]), &["m.room.member".into()], "m.room.member"));
        assert!(types_allowed(Some(&["m.*".into()]), &["m.room.member".into()], "m.room.message"));
        assert!(types_allowed(None, &[], "x"));
        assert!(!types_allowed(Some(&[]), &[], "x"));
    }
}
