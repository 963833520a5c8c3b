//! Conformance of [`crate::SearchStore`]: what is found, where, in which order, and how edits
//! and redactions change it.

use ruma::{OwnedRoomId, OwnedUserId, owned_room_id, owned_user_id};
use serde_json::json;
use wardline_types::search::SearchKey;
use wardline_types::{NewEvent, StreamPos, kinds};

use super::{event, fail};
use crate::{PosRange, SearchOrder, SearchQuery, SearchResults, SearchScope, Store, StoreResult};

fn message(room: &OwnedRoomId, id: &str, sender: &OwnedUserId, body: &str) -> NewEvent {
    event(room, id, sender, kinds::MESSAGE, None, json!({"msgtype": "m.text", "body": body}))
}

fn edit(room: &OwnedRoomId, id: &str, sender: &OwnedUserId, target: &str, body: &str) -> NewEvent {
    event(
        room,
        id,
        sender,
        kinds::MESSAGE,
        None,
        json!({
            "msgtype": "m.text", "body": format!("* {body}"),
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": target},
        }),
    )
}

fn redaction(room: &OwnedRoomId, id: &str, sender: &OwnedUserId, target: &str) -> NewEvent {
    let mut r = event(room, id, sender, kinds::REDACTION, None, json!({"redacts": target}));
    r.redacts = ruma::OwnedEventId::try_from(target).ok();
    r
}

fn whole(room: &OwnedRoomId, upto: StreamPos) -> SearchScope {
    SearchScope { room_id: room.clone(), ranges: vec![PosRange::upto(upto)] }
}

fn query(words: &[&str], scopes: Vec<SearchScope>, upto: StreamPos) -> SearchQuery {
    SearchQuery {
        words: words.iter().map(|w| (*w).to_owned()).collect(),
        prefix_last: false,
        keys: SearchKey::ALL.to_vec(),
        scopes,
        upto,
        senders: None,
        not_senders: Vec::new(),
        order: SearchOrder::Recent { before: None },
        limit: 10,
        count: true,
    }
}

fn ids(r: &SearchResults) -> Vec<String> {
    r.hits.iter().map(|h| h.event.event.event_id.to_string()).collect()
}

macro_rules! found {
    ($s:expr, $q:expr, $want:expr, $what:expr) => {{
        let r = $s.search_events($q).await?;
        if ids(&r) != $want {
            return Err(fail(&format!("{}: found {:?}, expected {:?}", $what, ids(&r), $want)));
        }
        r
    }};
}

/// Every search check.
pub(super) async fn search(s: &impl Store) -> StoreResult<()> {
    let ward = owned_room_id!("!search-ward:localhost");
    let other = owned_room_id!("!search-other:localhost");
    let ada = owned_user_id!("@ada:localhost");
    let bea = owned_user_id!("@bea:localhost");
    let p = s
        .append_events(
            vec![
                event(&ward, "sc", &ada, kinds::CREATE, Some(""), json!({"room_version": "11"})),
                event(&ward, "sn", &ada, kinds::NAME, Some(""), json!({"name": "Sepsis huddle"})),
                event(&ward, "st", &ada, kinds::TOPIC, Some(""), json!({"topic": "Bay 3 handover"})),
                message(&ward, "s1", &ada, "Bed 4: lactate 3.1, repeat in 2h"),
                message(&ward, "s2", &bea, "Lactate rising: lactate 4.0, lactate again"),
                message(&ward, "s3", &ada, "Zoë in bed 6 needs potassium"),
                message(&ward, "s4", &bea, "nothing relevant"),
                event(&other, "soc", &bea, kinds::CREATE, Some(""), json!({"room_version": "11"})),
                message(&other, "so1", &bea, "lactate 9.9 on another ward"),
            ],
            vec![],
        )
        .await?;
    let (s1, s2) = (p[3], p[4]);
    let now = s.current_pos();
    let ward_only = || vec![whole(&ward, now)];

    // Words, case, accents, prefixes, all words together.
    let r = found!(s, query(&["lactate"], ward_only(), now), ["$s2", "$s1"], "newest first, only the scoped room");
    if r.count != 2 || r.more || r.hits[1].text != "Bed 4: lactate 3.1, repeat in 2h" || r.hits[1].text_pos != s1 {
        return Err(fail("count, more, text and text position of hits"));
    }
    found!(s, query(&["LACTATE"], ward_only(), now), ["$s2", "$s1"], "case-insensitive");
    found!(s, query(&["zoe"], ward_only(), now), ["$s3"], "accents folded");
    found!(s, query(&["lact"], ward_only(), now), Vec::<String>::new(), "whole words unless a prefix");
    let mut prefix = query(&["bed", "lact"], ward_only(), now);
    prefix.prefix_last = true;
    found!(s, prefix, ["$s1"], "the last word as a prefix, every word required");
    found!(s, query(&["lactate", "potassium"], ward_only(), now), Vec::<String>::new(), "all words must occur");

    // Keys.
    found!(s, query(&["sepsis"], ward_only(), now), ["$sn"], "room names");
    let mut body_only = query(&["handover"], ward_only(), now);
    body_only.keys = vec![SearchKey::Body];
    found!(s, body_only, Vec::<String>::new(), "only the keys asked for");
    let mut topic = query(&["handover"], ward_only(), now);
    topic.keys = vec![SearchKey::Topic];
    found!(s, topic, ["$st"], "topics");
    let mut no_keys = query(&["lactate"], ward_only(), now);
    no_keys.keys = Vec::new();
    found!(s, no_keys, Vec::<String>::new(), "no keys, nothing");

    // Words are data, never query syntax.
    for w in ["\"", "OR", "NEAR(", "*", "lactate\" OR \"nothing", ")", "{body}:", "a\"b", "\u{0301}", "^", "-"] {
        let r = s.search_events(query(&[w], ward_only(), now)).await?;
        if !r.hits.is_empty() {
            return Err(fail(&format!("the word {w:?} found {:?}", ids(&r))));
        }
    }
    found!(s, query(&["or"], ward_only(), now), Vec::<String>::new(), "OR is a word");
    found!(s, query(&["lactate", "NOT"], ward_only(), now), Vec::<String>::new(), "NOT is a word");

    // Scopes: rooms and ranges.
    let r = found!(s, query(&["lactate"], vec![], now), Vec::<String>::new(), "no scope, nothing");
    if r.count != 0 {
        return Err(fail("no scope, no count"));
    }
    found!(
        s,
        query(&["lactate"], vec![whole(&ward, now), whole(&other, now)], now),
        ["$so1", "$s2", "$s1"],
        "two rooms"
    );
    let later = vec![SearchScope { room_id: ward.clone(), ranges: vec![PosRange::new(s1, now)] }];
    let r = found!(s, query(&["lactate"], later, now), ["$s2"], "only inside the range");
    if r.count != 1 {
        return Err(fail("the count stays inside the scope"));
    }
    let split = vec![SearchScope {
        room_id: ward.clone(),
        ranges: vec![PosRange::new(StreamPos(s1.0 - 1), s1), PosRange::new(s2, now)],
    }];
    let r = found!(s, query(&["bed"], split.clone(), now), ["$s3", "$s1"], "several ranges");
    if r.count != 2 {
        return Err(fail(&format!("several ranges: count {} of 2", r.count)));
    }
    let mut between = query(&["lactate"], split, now);
    between.order = SearchOrder::Rank { offset: 0 };
    let r = found!(s, between, ["$s1"], "several ranges, ranked");
    if r.count != 1 {
        return Err(fail(&format!("not counted between ranges: count {} of 1", r.count)));
    }
    found!(s, query(&["lactate"], ward_only(), s1), ["$s1"], "nothing after upto");

    // Order and pages.
    let mut rank = query(&["lactate"], ward_only(), now);
    rank.order = SearchOrder::Rank { offset: 0 };
    let r = found!(s, rank.clone(), ["$s2", "$s1"], "three times ranks above once");
    if r.hits[0].rank <= r.hits[1].rank {
        return Err(fail("higher rank is better"));
    }
    rank.limit = 1;
    let r = found!(s, rank.clone(), ["$s2"], "rank page 1");
    if !r.more || r.count != 2 {
        return Err(fail("a first page says more follow"));
    }
    rank.order = SearchOrder::Rank { offset: 1 };
    let r = found!(s, rank, ["$s1"], "rank page 2");
    if r.more {
        return Err(fail("the last page says no more follow"));
    }
    let mut recent = query(&["lactate"], ward_only(), now);
    recent.limit = 1;
    let r = found!(s, recent.clone(), ["$s2"], "recent page 1");
    if !r.more {
        return Err(fail("recent page 1 says more follow"));
    }
    recent.order = SearchOrder::Recent { before: Some(s2) };
    let r = found!(s, recent.clone(), ["$s1"], "recent page 2");
    if r.more || r.count != 2 {
        return Err(fail("recent page 2 is the last, with the whole count"));
    }
    recent.count = false;
    let r = found!(s, recent, ["$s1"], "a page without the count");
    if r.count != 0 {
        return Err(fail("not counted when not asked"));
    }

    // Senders.
    let mut from_bea = query(&["lactate"], ward_only(), now);
    from_bea.senders = Some(vec![bea.clone()]);
    found!(s, from_bea, ["$s2"], "senders");
    let mut not_bea = query(&["lactate"], ward_only(), now);
    not_bea.not_senders = vec![bea.clone()];
    found!(s, not_bea, ["$s1"], "not_senders");

    edits_and_redactions(s, &ward, &ada, &bea, s1).await?;
    many_ranges(s).await
}

/// A searcher whose view is cut into many ranges (a room whose history visibility changed
/// hundreds of times, many rooms each seen over a different stretch), with the longest sender
/// lists a filter allows, is searched like any other: never an error, every hit and the count.
async fn many_ranges(s: &impl Store) -> StoreResult<()> {
    let room = owned_room_id!("!search-flips:localhost");
    let ada = owned_user_id!("@ada:localhost");
    let mut events = vec![event(&room, "fc", &ada, kinds::CREATE, Some(""), json!({"room_version": "11"}))];
    for i in 0..1_200 {
        events.push(message(&room, &format!("fm{i}"), &ada, &format!("obs {i} flipchart")));
    }
    s.append_events(events, vec![]).await?;
    let now = s.current_pos();
    let first = now.0 - 1_199;
    // Every other message visible: 600 ranges in one room, as many in a second scope of it.
    let ranges: Vec<PosRange> =
        (0..600).map(|i| PosRange::new(StreamPos(first + 2 * i - 1), StreamPos(first + 2 * i))).collect();
    let mut many = query(&["flipchart"], vec![SearchScope { room_id: room.clone(), ranges }], now);
    many.senders = Some(
        (0..99)
            .map(|i| ruma::OwnedUserId::try_from(format!("@u{i}:localhost")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(&e.to_string()))?,
    );
    if let Some(senders) = many.senders.as_mut() {
        senders.push(ada.clone());
    }
    many.not_senders = (0..100)
        .map(|i| ruma::OwnedUserId::try_from(format!("@x{i}:localhost")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(&e.to_string()))?;
    let r = s.search_events(many.clone()).await?;
    let want: Vec<String> = (0..10).map(|i| format!("$fm{}", 1_198 - 2 * i)).collect();
    if r.count != 600 || ids(&r) != want || !r.more {
        return Err(fail(&format!("600 ranges: count {} of 600, found {:?}", r.count, ids(&r))));
    }
    many.order = SearchOrder::Rank { offset: 595 };
    let r = s.search_events(many.clone()).await?;
    if r.hits.len() != 5 || r.more {
        return Err(fail(&format!("600 ranges by rank, last page: {} hits of 5", r.hits.len())));
    }
    // Touching ranges are one range: the whole room, cut into 1,200 pieces, finds all.
    let pieces: Vec<PosRange> =
        (0..1_200).map(|i| PosRange::new(StreamPos(first + i - 1), StreamPos(first + i))).collect();
    let mut whole_room = query(&["flipchart"], vec![SearchScope { room_id: room.clone(), ranges: pieces }], now);
    whole_room.limit = 1;
    let r = s.search_events(whole_room).await?;
    if r.count != 1_200 {
        return Err(fail(&format!("1,200 touching ranges: count {} of 1,200", r.count)));
    }
    Ok(())
}

async fn edits_and_redactions(
    s: &impl Store,
    ward: &OwnedRoomId,
    ada: &OwnedUserId,
    bea: &OwnedUserId,
    s1: StreamPos,
) -> StoreResult<()> {
    let e = s
        .append_events(
            vec![
                edit(ward, "se1", ada, "$s1", "Bed 4: lactate 2.0, improving"),
                edit(ward, "sx", bea, "$s1", "hijacked by someone else"),
                edit(ward, "sxx", ada, "$se1", "an edit of an edit"),
            ],
            vec![],
        )
        .await?;
    let now = s.current_pos();
    let ward_only = || vec![whole(ward, now)];
    let r = found!(s, query(&["improving"], ward_only(), now), ["$s1"], "found by the new text, as the original");
    if r.hits[0].text_pos != e[0] || r.hits[0].text != "Bed 4: lactate 2.0, improving" {
        return Err(fail("an edited message is found by its edit's text, at the edit's position"));
    }
    found!(s, query(&["repeat"], ward_only(), now), Vec::<String>::new(), "not by the replaced text");
    found!(s, query(&["hijacked"], ward_only(), now), Vec::<String>::new(), "another sender cannot edit");
    found!(s, query(&["edit"], ward_only(), now), Vec::<String>::new(), "edits of edits do not apply");
    // Both the message and its edit must be visible.
    let only_message = vec![SearchScope { room_id: ward.clone(), ranges: vec![PosRange::upto(s1)] }];
    found!(s, query(&["improving"], only_message, now), Vec::<String>::new(), "edit outside the range");
    let only_edit = vec![SearchScope { room_id: ward.clone(), ranges: vec![PosRange::new(s1, now)] }];
    found!(s, query(&["improving"], only_edit, now), Vec::<String>::new(), "message outside the range");

    let e2 = s.append_events(vec![edit(ward, "se2", ada, "$s1", "Bed 4 lactate normal")], vec![]).await?;
    let now = s.current_pos();
    let ward_only = || vec![whole(ward, now)];
    found!(s, query(&["normal"], ward_only(), now), ["$s1"], "the latest edit counts");
    found!(s, query(&["improving"], ward_only(), now), Vec::<String>::new(), "an earlier edit no longer does");
    let r = found!(s, query(&["lactate"], ward_only(), now), ["$s1", "$s2"], "an edited message ranks by its edit");
    if r.hits[0].text_pos != e2[0] || r.count != 2 {
        return Err(fail("one hit per message, however often edited"));
    }
    // Redacting the latest edit gives the message back its earlier text.
    s.append_events(vec![redaction(ward, "sr1", ada, "$se2")], vec![]).await?;
    let now = s.current_pos();
    let ward_only = || vec![whole(ward, now)];
    found!(s, query(&["improving"], ward_only(), now), ["$s1"], "back to the earlier edit");
    found!(s, query(&["normal"], ward_only(), now), Vec::<String>::new(), "the redacted edit's text is gone");
    // Redactions.
    s.append_events(
        vec![
            redaction(ward, "sr2", ada, "$s3"),
            redaction(ward, "sr3", ada, "$sn"),
            redaction(ward, "sr4", ada, "$s1"),
        ],
        vec![],
    )
    .await?;
    let now = s.current_pos();
    let ward_only = || vec![whole(ward, now)];
    let r = found!(s, query(&["potassium"], ward_only(), now), Vec::<String>::new(), "a redacted message");
    if r.count != 0 {
        return Err(fail("a redacted message is not counted"));
    }
    found!(s, query(&["sepsis"], ward_only(), now), Vec::<String>::new(), "a redacted room name");
    found!(s, query(&["improving"], ward_only(), now), Vec::<String>::new(), "a redacted edited message");
    s.append_events(vec![redaction(ward, "sr5", ada, "$se1")], vec![]).await?;
    let now = s.current_pos();
    found!(s, query(&["repeat"], vec![whole(ward, now)], now), Vec::<String>::new(), "a redacted message stays gone");
    // An edit of a redacted message does not bring it back.
    s.append_events(vec![edit(ward, "se3", ada, "$s3", "potassium again")], vec![]).await?;
    let now = s.current_pos();
    found!(s, query(&["potassium"], vec![whole(ward, now)], now), Vec::<String>::new(), "no edits of redacted");
    Ok(())
}
