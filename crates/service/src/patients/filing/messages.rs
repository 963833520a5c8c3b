//! Reading messages for the record as they are now: the latest valid edit applied (the
//! timeline's own resolution, as the person who asked may see it), a deleted message as
//! deleted, a file read through the media service's own read path (its access check and its
//! audit record, as the person who asked), and the people of the conversation.
//!
//! A message's **content hash** names what was filed: `wardline-filing-v1`, then either
//! `deleted` or `current` and the id of the event whose content it shows (the message, or its
//! latest edit). Any change to a message is a new edit or a deletion, so the hash changes with
//! it, and it is bytes defined here, never a library's serialisation.

use std::collections::HashMap;

use ruma::{OwnedEventId, OwnedUserId, RoomId, UserId};
use serde_json::Value;
use sha2::{Digest, Sha256};
use wardline_store::Filing;
use wardline_types::account::is_service_user;
use wardline_types::media::{FILE_MSGTYPES, MxcRef};
use wardline_types::priority::{Level, NUMBER_KEYS, Request, request_of};
use wardline_types::relation;
use wardline_types::{StoredEvent, kinds};

use super::fhir::{Attachment, Message, Payload, Person};
use crate::audit::Actor;
use crate::messaging::{current_members, load_memberships};
use crate::patients::PatientService;
use crate::timeline::Bundles;
use crate::visibility::Visibility;
use crate::{ServiceError, ServiceResult};

/// The hash of a message as it is now (see the module's notes).
#[must_use]
pub fn content_hash(event: &StoredEvent, latest_edit: Option<&StoredEvent>) -> String {
    let mut h = Sha256::new();
    h.update(b"wardline-filing-v1\0");
    if event.redacted_because.is_some() {
        h.update(b"deleted");
    } else {
        h.update(b"current\0");
        h.update(latest_edit.unwrap_or(event).event.event_id.as_str().as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The names people of a conversation show (`None`: none).
pub(super) type Names = HashMap<OwnedUserId, Option<String>>;

/// A message read for the record, with its hash.
pub(super) struct Read {
    pub message: Message,
    pub hash: String,
}

fn latest<'a>(bundles: &'a Bundles, e: &StoredEvent) -> Option<&'a StoredEvent> {
    if e.redacted_because.is_some() {
        return None;
    }
    bundles.get(&e.event.event_id).and_then(|a| a.replace.as_ref())
}

/// The content a message shows now: its latest edit's `m.new_content`, else its own.
fn shown<'a>(e: &'a StoredEvent, edit: Option<&'a StoredEvent>) -> &'a Value {
    edit.and_then(|x| x.event.content.get("m.new_content")).filter(|c| c.is_object()).unwrap_or(&e.event.content)
}

fn text(content: &Value, field: &str) -> Option<String> {
    content.get(field).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// A message's text without what the server adds for stock clients to an urgent or emergency
/// message ([`wardline_types::priority::fallback_body`]: the level's tag before it, the
/// reactions that answer after it): the record has the priority in its own element.
fn clinical_text(body: &str, request: Option<&Request>) -> String {
    let Some(request) = request else { return body.to_owned() };
    let mut text = body;
    if let Some(tag) = request.level.tag() {
        text = text.strip_prefix(tag).map_or(text, str::trim_start);
    }
    let listed: Vec<String> =
        request.ask.options.iter().zip(NUMBER_KEYS).map(|(c, key)| format!("{key} {}", c.label)).collect();
    let suffix = format!("\n\nReact {}", listed.join(" · "));
    text.strip_suffix(suffix.as_str()).unwrap_or(text).to_owned()
}

/// How many files' worth (`epr.max_attachment_bytes` each) one filing sends inline at most.
const INLINE_FILES: u64 = 4;

impl PatientService {
    /// The hash of each of `events` as it is now, edits resolved as `user` sees them.
    pub(super) async fn current_hashes(
        &self,
        user: &UserId,
        _room: &RoomId,
        events: &[StoredEvent],
        vis: &Visibility,
    ) -> ServiceResult<HashMap<OwnedEventId, String>> {
        let bundles = self.timeline.bundles(user, events, vis, self.store.current_pos()).await?;
        Ok(events.iter().map(|e| (e.event.event_id.clone(), content_hash(e, latest(&bundles, e)))).collect())
    }

    /// The names shown by everyone with a membership of `room` (never the server's, a role's
    /// or a system's user): `None` for one who shows none.
    pub(super) async fn names(&self, room: &RoomId) -> ServiceResult<Names> {
        self.rooms
            .with_state(room, |s| {
                s.events()
                    .filter(|e| e.event.kind == kinds::MEMBER)
                    .filter_map(|e| {
                        let user = OwnedUserId::try_from(e.event.state_key.as_deref()?).ok()?;
                        let name = e.event.content.get("displayname").and_then(Value::as_str).map(str::to_owned);
                        Some((user, name))
                    })
                    .filter(|(u, _)| !is_service_user(u))
                    .collect()
            })
            .await
    }

    /// The filing's messages as they are now, in the conversation's order, as its requester
    /// may see them (one they can no longer see is left out).
    ///
    /// A message's recipients are the people it was sent to (the rule of "Delivered":
    /// [`crate::messaging::status::Memberships::recipients`]), not whoever is in the
    /// conversation when it is filed.
    pub(super) async fn read_messages(&self, filing: &Filing, names: &Names) -> ServiceResult<Vec<Read>> {
        let (room, by) = (&filing.request.room_id, &filing.request.requested_by);
        let mut events = self.store.events_by_id(&filing.request.events).await?;
        let vis = self.timeline.visibility(by, room).await?;
        events.retain(|e| e.event.room_id == *room && vis.can_see(e.stream));
        events.sort_by_key(|e| e.stream);
        let bundles = self.timeline.bundles(by, &events, &vis, self.store.current_pos()).await?;
        let members = self.rooms.with_state(room, |s| current_members(s.events())).await?;
        let memberships = load_memberships(self.store.as_ref(), room, &events, members).await?;
        let person = |u: &UserId| Person { user_id: u.to_string(), display: names.get(u).cloned().flatten() };
        let mut out = Vec::with_capacity(events.len());
        // What one filing sends inline at most, whatever its messages: a few files' worth (one
        // upload named by many messages is not read into memory many times over).
        let budget = self.filing.max_attachment_bytes.saturating_mul(INLINE_FILES);
        let mut inline = 0u64;
        for e in &events {
            let edit = latest(&bundles, e);
            let sender = person(&e.event.sender);
            let request = request_of(&e.event.content).ok().flatten();
            let payload = if e.redacted_because.is_some() {
                Payload::Deleted
            } else {
                let room_left = self.filing.max_attachment_bytes.min(budget.saturating_sub(inline));
                match self.payload(by, shown(e, edit), room_left).await? {
                    Payload::Text(t) => Payload::Text(clinical_text(&t, request.as_ref())),
                    Payload::File(a) => {
                        inline = inline.saturating_add(a.data.as_ref().map_or(0, |d| d.len() as u64));
                        Payload::File(a)
                    }
                    other => other,
                }
            };
            let level = request.map_or(Level::Routine, |r| r.level);
            out.push(Read {
                message: Message {
                    event_id: e.event.event_id.to_string(),
                    sender,
                    sent: e.event.origin_server_ts,
                    payload,
                    recipients: memberships.recipients(e).iter().map(|u| person(u)).collect(),
                    reply_to: relation::reply_to(&e.event.content).flatten().map(|p| p.to_string()),
                    level,
                },
                hash: content_hash(e, edit),
            });
        }
        Ok(out)
    }

    /// What a message's content says, for the record; a file inline if it is at most
    /// `max_inline` bytes.
    async fn payload(&self, by: &UserId, content: &Value, max_inline: u64) -> ServiceResult<Payload> {
        let msgtype = content.get("msgtype").and_then(Value::as_str).unwrap_or_default();
        let body = text(content, "body");
        if FILE_MSGTYPES.contains(&msgtype)
            && let Some(mxc) = content.get("url").and_then(Value::as_str).and_then(MxcRef::parse)
        {
            return Ok(Payload::File(self.attachment(by, content, &mxc, max_inline).await?));
        }
        if msgtype == "m.location" {
            let geo = text(content, "geo_uri").unwrap_or_default();
            return Ok(Payload::Text(match body {
                Some(b) if !geo.is_empty() => format!("{b} ({geo})"),
                Some(b) => b,
                None => geo,
            }));
        }
        Ok(Payload::Text(body.unwrap_or_else(|| "(a message without text)".into())))
    }

    /// A message's file: its type, name and size as the media store has them (never the
    /// sender's word), and its bytes inline when it is at most `max_inline` bytes (a bigger one
    /// is never read), else named only.
    async fn attachment(
        &self,
        by: &UserId,
        content: &Value,
        mxc: &MxcRef,
        max_inline: u64,
    ) -> ServiceResult<Attachment> {
        let mut a = Attachment {
            content_type: text(content.get("info").unwrap_or(&Value::Null), "mimetype")
                .unwrap_or_else(|| "application/octet-stream".into()),
            title: text(content, "filename").or_else(|| text(content, "body")).unwrap_or_else(|| "file".into()),
            size: 0,
            data: None,
        };
        let reader = Actor::system(by.to_owned());
        match self.media.file_for_record(&reader, &mxc.server, &mxc.media_id, max_inline).await {
            Ok(f) => {
                a.content_type = f.content_type;
                // FHIR's `unsignedInt` says at most 2^31 - 1.
                a.size = f.size.min(u64::from(i32::MAX.unsigned_abs()));
                a.data = f.bytes;
                Ok(a)
            }
            // Gone, never uploaded, or no longer readable by the person who asked: named only.
            Err(ServiceError::NotFound(_) | ServiceError::NotYetUploaded | ServiceError::Forbidden(_)) => Ok(a),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use ruma::{owned_event_id, owned_room_id, owned_user_id};
    use serde_json::json;
    use wardline_types::{NewEvent, StreamPos, Timestamp};

    use super::*;

    fn ev(id: &str) -> StoredEvent {
        StoredEvent {
            stream: StreamPos(1),
            event: NewEvent {
                event_id: OwnedEventId::try_from(id).unwrap_or_else(|_| owned_event_id!("$bad")),
                room_id: owned_room_id!("!r:x"),
                sender: owned_user_id!("@ann:x"),
                kind: kinds::MESSAGE.into(),
                state_key: None,
                content: json!({"msgtype": "m.text", "body": "K+ 6.8"}),
                origin_server_ts: Timestamp(0),
                redacts: None,
                txn: None,
            },
            redacted_because: None,
        }
    }

    #[test]
    fn the_record_gets_the_clinicians_text_without_what_stock_clients_are_shown() {
        use wardline_types::priority::fallback_body;
        let content = json!({"msgtype": "m.text", "body": "K+ 6.8", "org.wardline.priority": {"level": "urgent"}});
        let Ok(Some(request)) = request_of(&content) else { panic!("an urgent message") };
        let shown = fallback_body("K+ 6.8", &request);
        assert_ne!(shown, "K+ 6.8");
        assert_eq!(clinical_text(&shown, Some(&request)), "K+ 6.8");
        assert_eq!(clinical_text("K+ 6.8\n\nReact now", Some(&request)), "K+ 6.8\n\nReact now", "their own words");
        assert_eq!(clinical_text("[URGENT] K+ 6.8", None), "[URGENT] K+ 6.8", "routine: as written");
    }

    #[test]
    fn the_hash_changes_with_an_edit_or_a_deletion_and_only_then() {
        let m = ev("$m");
        let plain = content_hash(&m, None);
        assert_eq!(plain, content_hash(&m.clone(), None), "the same message, the same hash");
        assert_eq!(plain.len(), 64);
        let edited = content_hash(&m, Some(&ev("$edit1")));
        assert_ne!(plain, edited);
        assert_ne!(edited, content_hash(&m, Some(&ev("$edit2"))), "a later edit");
        let mut deleted = m.clone();
        deleted.redacted_because = Some(json!({}));
        assert_ne!(content_hash(&deleted, None), plain);
        assert_eq!(content_hash(&deleted, Some(&ev("$edit1"))), content_hash(&deleted, None), "deleted is deleted");
    }
}
