//! Conformance of the relations index ([`crate::RelationStore`]).

use ruma::{OwnedEventId, OwnedRoomId, owned_event_id, owned_room_id, owned_user_id};
use serde_json::json;
use wardline_types::kinds;

use super::{event, fail};
use crate::{Direction, PosRange, RelationFilter, Store, StoreResult};

fn ids(events: &[wardline_types::StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.event_id.as_str()).collect()
}

fn all(depth: u32) -> RelationFilter {
    RelationFilter { rel_type: None, event_type: None, depth }
}

/// Reactions, edits, a thread and a reference to one message; what is indexed, how it is read,
/// what a redaction removes.
pub(super) async fn relations(s: &impl Store) -> StoreResult<()> {
    let room: OwnedRoomId = owned_room_id!("!ward9:localhost");
    let other: OwnedRoomId = owned_room_id!("!ward10:localhost");
    let ada = owned_user_id!("@ada:localhost");
    let bea = owned_user_id!("@bea:localhost");
    let rel = |rel_type: &str, parent: &str| json!({"rel_type": rel_type, "event_id": format!("${parent}")});
    s.append_events(
        vec![
            event(&room, "rc", &ada, kinds::CREATE, Some(""), json!({"room_version": "11"})),
            event(&room, "rm", &ada, kinds::MEMBER, Some(ada.as_str()), json!({"membership": "join"})),
            event(&other, "oc", &ada, kinds::CREATE, Some(""), json!({"room_version": "11"})),
            event(&room, "root", &ada, kinds::MESSAGE, None, json!({"msgtype": "m.text", "body": "BP 120/80"})),
        ],
        vec![],
    )
    .await?;
    let mut thumbs = json!({"m.relates_to": rel("m.annotation", "root")});
    thumbs["m.relates_to"]["key"] = json!("👍");
    let edit = json!({"msgtype": "m.text", "body": "* BP 125/80", "m.new_content": {"msgtype": "m.text", "body": "BP 125/80"},
        "m.relates_to": rel("m.replace", "root")});
    let positions = s
        .append_events(
            vec![
                event(&room, "react", &bea, "m.reaction", None, thumbs),
                event(&room, "edit", &ada, kinds::MESSAGE, None, edit),
                event(
                    &room,
                    "t1",
                    &bea,
                    kinds::MESSAGE,
                    None,
                    json!({"body": "ok", "m.relates_to": rel("m.thread", "root")}),
                ),
                // A reaction to the thread message: a child of a child.
                event(&room, "t1react", &ada, "m.reaction", None, json!({"m.relates_to": rel("m.annotation", "t1")})),
                event(&room, "ref", &ada, "org.example", None, json!({"m.relates_to": rel("m.reference", "root")})),
                // Not indexed: a reply has no rel_type; a parent in another room or unknown.
                event(
                    &room,
                    "reply",
                    &bea,
                    kinds::MESSAGE,
                    None,
                    json!({"body": "r", "m.relates_to": {"m.in_reply_to": {"event_id": "$root"}}}),
                ),
                event(&room, "cross", &ada, "m.reaction", None, json!({"m.relates_to": rel("m.annotation", "oc")})),
                event(
                    &room,
                    "ghost",
                    &ada,
                    "m.reaction",
                    None,
                    json!({"m.relates_to": rel("m.annotation", "nowhere")}),
                ),
            ],
            vec![],
        )
        .await?;
    let upto = s.current_pos();
    let root: OwnedEventId = owned_event_id!("$root");
    let children = s.relating_events(&room, &root, all(1), PosRange::upto(upto), Direction::Backward, 10).await?;
    check!(ids(&children) == vec!["$ref", "$t1", "$edit", "$react"], "direct children, newest first");
    let forward = s.relating_events(&room, &root, all(1), PosRange::upto(upto), Direction::Forward, 2).await?;
    check!(ids(&forward) == vec!["$react", "$edit"], "oldest first, limited");
    let window = PosRange::new(positions[0], positions[2]);
    let page = s.relating_events(&room, &root, all(1), window, Direction::Backward, 10).await?;
    check!(ids(&page) == vec!["$t1", "$edit"], "only children in the range");
    let deep = s.relating_events(&room, &root, all(3), PosRange::upto(upto), Direction::Backward, 10).await?;
    check!(ids(&deep).contains(&"$t1react") && deep.len() == 5, "recursion reaches a child of a child");
    let annotations = RelationFilter { rel_type: Some("m.annotation".into()), event_type: None, depth: 3 };
    let only = s.relating_events(&room, &root, annotations, PosRange::upto(upto), Direction::Backward, 10).await?;
    check!(ids(&only) == vec!["$react"], "a child reached only through a non-matching child is left out");
    let typed =
        RelationFilter { rel_type: Some("m.replace".into()), event_type: Some("m.room.message".into()), depth: 1 };
    let edits = s.relating_events(&room, &root, typed, PosRange::upto(upto), Direction::Backward, 10).await?;
    check!(ids(&edits) == vec!["$edit"], "filtered by rel_type and event type");
    check!(
        s.relating_events(&other, &root, all(1), PosRange::upto(upto), Direction::Backward, 10).await?.is_empty(),
        "children are found in their own room only"
    );
    // The aggregation's view.
    let rels = s.relations_to(std::slice::from_ref(&root), &["m.replace", "m.thread", "m.reference"], upto).await?;
    let kinds_seen: Vec<&str> = rels.iter().map(|r| r.rel_type.as_str()).collect();
    check!(kinds_seen == vec!["m.replace", "m.thread", "m.reference"], "relations of the asked types, in order");
    let edit_row = rels.first().ok_or_else(|| fail("edit row"))?;
    check!(
        edit_row.sender == ada
            && edit_row.kind == "m.room.message"
            && edit_row.stream == positions[1]
            && edit_row.room_id == room,
        "a relation records sender, type and position"
    );
    check!(
        s.relations_to(std::slice::from_ref(&root), &["m.thread"], positions[1]).await?.is_empty(),
        "nothing after upto"
    );
    check!(s.relations_to(&[], &["m.thread"], upto).await?.is_empty(), "no parents, no relations");
    let reaction = s.relation_of(&owned_event_id!("$react")).await?.ok_or_else(|| fail("reaction indexed"))?;
    check!(reaction.key.as_deref() == Some("👍") && reaction.parent_id == root, "the annotation key is kept");
    for unindexed in ["$reply", "$cross", "$ghost", "$root"] {
        let id = OwnedEventId::try_from(unindexed).map_err(|_| fail("id"))?;
        check!(s.relation_of(&id).await?.is_none(), "replies, cross-room and unknown parents are not indexed");
    }
    check!(s.has_annotation(&root, &bea, "m.reaction", "👍").await?, "the annotation is found");
    check!(!s.has_annotation(&root, &ada, "m.reaction", "👍").await?, "per sender");
    check!(!s.has_annotation(&root, &bea, "m.reaction", "👎").await?, "per key");
    let found = s.events_by_id(&[owned_event_id!("$t1"), owned_event_id!("$edit"), owned_event_id!("$nope")]).await?;
    check!(ids(&found) == vec!["$edit", "$t1"], "events by id, in stream order, unknown ones left out");
    // Redacting the reaction removes it; redacting the parent keeps its children, except its
    // sender's edits of it, which go with it.
    let mut undo = event(&room, "undo", &bea, kinds::REDACTION, None, json!({"redacts": "$react"}));
    undo.redacts = Some(owned_event_id!("$react"));
    let mut delete_root = event(&room, "del", &ada, kinds::REDACTION, None, json!({"redacts": "$root"}));
    delete_root.redacts = Some(root.clone());
    s.append_events(vec![undo, delete_root], vec![]).await?;
    check!(!s.has_annotation(&root, &bea, "m.reaction", "👍").await?, "a redacted annotation is gone");
    check!(s.relation_of(&owned_event_id!("$react")).await?.is_none(), "a redacted child is unindexed");
    let after =
        s.relating_events(&room, &root, all(1), PosRange::upto(s.current_pos()), Direction::Backward, 10).await?;
    check!(
        ids(&after) == vec!["$ref", "$t1"],
        "a redacted parent keeps its children, but not its sender's edits of it"
    );
    let edit = s.events_by_id(&[owned_event_id!("$edit")]).await?;
    check!(
        edit.iter().all(|e| e.redacted_because.is_some()) && edit.len() == 1,
        "its sender's edit is redacted with it (its text is the message's text)"
    );
    Ok(())
}

/// The list of a room's threads: most recently active first, only what lies in the ranges,
/// participation, pages.
pub(super) async fn thread_list(s: &impl Store) -> StoreResult<()> {
    let room: OwnedRoomId = owned_room_id!("!ward11:localhost");
    let other: OwnedRoomId = owned_room_id!("!ward12:localhost");
    let ada = owned_user_id!("@ada:localhost");
    let bea = owned_user_id!("@bea:localhost");
    let cal = owned_user_id!("@cal:localhost");
    let thread = |parent: &str| json!({"body": "in thread", "m.relates_to": {"rel_type": "m.thread", "event_id": format!("${parent}")}});
    let msg = |body: &str| json!({"msgtype": "m.text", "body": body});
    let p = s
        .append_events(
            vec![
                event(&room, "tl_create", &ada, kinds::CREATE, Some(""), json!({"room_version": "11"})),
                event(&other, "tl_ocreate", &ada, kinds::CREATE, Some(""), json!({"room_version": "11"})),
                event(&room, "tl_ra", &ada, kinds::MESSAGE, None, msg("bed 4")),
                event(&room, "tl_rb", &bea, kinds::MESSAGE, None, msg("bed 5")),
                event(&room, "tl_rc", &cal, kinds::MESSAGE, None, msg("bed 6")),
                event(&room, "tl_a1", &bea, kinds::MESSAGE, None, thread("tl_ra")),
                event(&room, "tl_b1", &cal, kinds::MESSAGE, None, thread("tl_rb")),
                event(&room, "tl_a2", &cal, kinds::MESSAGE, None, thread("tl_ra")),
                event(&other, "tl_oroot", &ada, kinds::MESSAGE, None, msg("elsewhere")),
                event(&other, "tl_o1", &ada, kinds::MESSAGE, None, thread("tl_oroot")),
                event(&room, "tl_c1", &cal, kinds::MESSAGE, None, thread("tl_rc")),
            ],
            vec![],
        )
        .await?;
    let all = vec![PosRange::upto(s.current_pos())];
    let q = |ranges: Vec<PosRange>, participant: Option<&ruma::UserId>, before, limit| crate::ThreadQuery {
        ranges,
        participant: participant.map(ToOwned::to_owned),
        before,
        limit,
    };
    let roots = |list: Vec<crate::ThreadActivity>| list.into_iter().map(|t| t.root.to_string()).collect::<Vec<_>>();
    let listed = s.thread_roots(&room, q(all.clone(), None, None, 10)).await?;
    check!(roots(listed.clone()) == vec!["$tl_rc", "$tl_ra", "$tl_rb"], "most recently active first, own room only");
    check!(listed.first().map(|t| t.latest) == Some(p[10]), "a thread's latest event is given");
    let first = s.thread_roots(&room, q(all.clone(), None, None, 2)).await?;
    check!(roots(first.clone()) == vec!["$tl_rc", "$tl_ra"], "limited");
    let next = s.thread_roots(&room, q(all.clone(), None, first.last().map(|t| t.latest), 2)).await?;
    check!(roots(next) == vec!["$tl_rb"], "the next page starts below the last thread's latest event");
    check!(
        roots(s.thread_roots(&room, q(all.clone(), Some(&*ada), None, 10)).await?) == vec!["$tl_ra"],
        "participated: the root's sender"
    );
    check!(
        roots(s.thread_roots(&room, q(all.clone(), Some(&*bea), None, 10)).await?) == vec!["$tl_ra", "$tl_rb"],
        "participated: a writer in the thread or the root's sender"
    );
    // A reader who may see up to b1 only: a2 and c1 do not count, so ra's latest is a1.
    let early = vec![PosRange::upto(p[6])];
    let seen = s.thread_roots(&room, q(early, None, None, 10)).await?;
    check!(roots(seen.clone()) == vec!["$tl_rb", "$tl_ra"], "ordered by what the ranges hold");
    check!(seen.get(1).map(|t| t.latest) == Some(p[5]), "activity outside the ranges is not counted");
    // A reader who may see from after the roots on: no root visible, no thread listed.
    let late = vec![PosRange::new(p[4], s.current_pos())];
    check!(s.thread_roots(&room, q(late, None, None, 10)).await?.is_empty(), "a root outside the ranges is not listed");
    check!(s.thread_roots(&room, q(vec![], None, None, 10)).await?.is_empty(), "no ranges, no threads");
    Ok(())
}
