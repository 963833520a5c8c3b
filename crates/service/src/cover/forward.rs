//! Copies of messages to the cover: a background task follows the server's messages from a
//! cursor kept in the store and copies each message addressed to someone on do-not-disturb, at
//! the moment it was sent, to the colleague covering for them.
//!
//! A message is addressed to a person when it is in a direct conversation with them (a room
//! whose joined people, role users not counted, were exactly the sender and them when it was
//! sent) or its `m.mentions.user_ids` names them. Notices, edits, messages of the absent person
//! themself, copies made for a cover and redacted messages are not copied.
//!
//! The copy goes into a conversation between the sender and the cover that the server makes on
//! first use and finds again by its `org.wardline.cover` state (`{absent, sender, cover}`), with
//! nobody else in it. It is sent as the sender (who is a member) with the original's content,
//! its body starting with a label, and `org.wardline.forwarded` naming the absent person, the
//! cover and the original; the original is untouched, so the absent person keeps their copy.
//!
//! **Exactly once.** The cursor moves only past messages already dealt with, and each copy is
//! sent under a transaction id derived from the original and the absent person, which the store
//! keeps unique: after a restart, messages after the stored cursor are looked at again, and a
//! copy already made is found by its transaction and not made twice. Who was on do-not-disturb
//! is read from the record of periods ([`wardline_store::DndStore::dnd_periods`]), so a message
//! looked at late is judged by the moment it was sent.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ruma::{OwnedDeviceId, OwnedRoomId, OwnedTransactionId, OwnedUserId, UserId};
use serde_json::{Map, Value, json};
use wardline_store::PosRange;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::dnd::{COVER_STATE_KIND, FORWARDED_FIELD, forward_label, is_role_user};
use wardline_types::relation::{rel_types, relation};
use wardline_types::{DndPeriod, Membership, StoredEvent, Timestamp, TxnRef, kinds};

use super::{CoverService, Triple};
use crate::audit::{Actor, By};
use crate::rooms::{CreateRoom, Preset, RoomState, SendEvent};
use crate::{ServiceError, ServiceResult};

/// The name of the forwarder's cursor in the store.
pub const CURSOR: &str = "cover.forward";

/// Longest wait before the next end of a do-not-disturb is read again from the store.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// How often new messages are looked for.
const POLL: Duration = Duration::from_millis(250);

/// Wait after a failure (the store, the audit trail, a rate limit) before trying again.
const RETRY: Duration = Duration::from_secs(5);

/// Messages read at once.
const BATCH: usize = 200;

/// The device id of copies' transactions (no client's: copies are the server's doing).
const COPY_DEVICE: &str = "ORG.WARDLINE.COVER";

/// Is the message one that may be copied at all?
fn copyable(e: &StoredEvent) -> bool {
    let c = &e.event.content;
    e.redacted_because.is_none()
        && c.get("msgtype").and_then(Value::as_str).is_some_and(|t| t != "m.notice")
        // A copy made for a cover (a message someone forwarded by hand is copied like any other).
        && c.get(FORWARDED_FIELD).and_then(|f| f.get("cover")).is_none()
        && relation(c).is_none_or(|r| r.rel_type != rel_types::REPLACE)
}

/// Does the message's `m.mentions.user_ids` name `user`?
fn mentions(content: &Value, user: &UserId) -> bool {
    content
        .get("m.mentions")
        .and_then(|m| m.get("user_ids"))
        .and_then(Value::as_array)
        .is_some_and(|ids| ids.iter().any(|u| u.as_str() == Some(user.as_str())))
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The copy's content: the original's, its body after `label`, without relations, mentioning the
/// cover, with `org.wardline.forwarded`.
fn copy_content(original: &Value, label: &str, forwarded: Value, cover: &UserId) -> Value {
    let mut c: Map<String, Value> = original.as_object().cloned().unwrap_or_default();
    for k in ["m.relates_to", "m.new_content", "m.mentions"] {
        c.remove(k);
    }
    let body = c.get("body").and_then(Value::as_str).unwrap_or_default().to_owned();
    let is_file =
        matches!(c.get("msgtype").and_then(Value::as_str), Some("m.image" | "m.file" | "m.audio" | "m.video"));
    if is_file && !c.contains_key("filename") {
        // A file's body is its name unless a filename is given: keep the name.
        c.insert("filename".into(), json!(body));
    }
    c.insert("body".into(), json!(format!("{label}\n{body}")));
    if let Some(f) = c.get("formatted_body").and_then(Value::as_str) {
        let f = format!("<p><em>{}</em></p>{f}", escape_html(label));
        c.insert("formatted_body".into(), json!(f));
    }
    c.insert("m.mentions".into(), json!({ "user_ids": [cover] }));
    c.insert(FORWARDED_FIELD.into(), forwarded);
    Value::Object(c)
}

/// Is a failure one to try again later (the message is looked at again), rather than one that
/// will fail however often it is tried (the message is skipped, and the failure audited)?
fn worth_retrying(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::Store(_)
            | ServiceError::Internal(_)
            | ServiceError::AuditUnavailable { .. }
            | ServiceError::RateLimited { .. }
    )
}

impl CoverService {
    /// Copies to their covers the messages committed since the cursor that were addressed to
    /// someone on do-not-disturb, moving the cursor past them; returns how many copies were
    /// made. On its very first run the cursor starts at the present (no do-not-disturb existed
    /// before).
    pub async fn forward_due(&self) -> ServiceResult<usize> {
        let upto = self.store.current_pos();
        let known = *self.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut after = match known {
            Some(p) => p,
            None => match self.store.cursor(CURSOR).await? {
                Some(p) => p,
                None => {
                    self.store.put_cursor(CURSOR, upto).await?;
                    upto
                }
            },
        };
        let mut copies = 0;
        while after < upto {
            let batch = self.store.events_of_kind(kinds::MESSAGE, PosRange::new(after, upto), BATCH).await?;
            let reached = match batch.last() {
                Some(last) if batch.len() >= BATCH => last.stream,
                _ => upto,
            };
            let times = batch.iter().map(|e| e.event.origin_server_ts);
            if let (Some(from), Some(to)) = (times.clone().min(), times.max()) {
                let periods = self.store.dnd_periods(from, to).await?;
                if periods.iter().any(|p| p.cover.is_some()) {
                    for e in &batch {
                        copies += self.forward_event(e, &periods).await?;
                    }
                }
                // Written only when messages were looked at: after a restart the span of other
                // changes since is read again, and holds nothing to copy.
                self.store.put_cursor(CURSOR, reached).await?;
            }
            after = reached;
        }
        *self.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(after);
        Ok(copies)
    }

    /// Copies one message to the cover of each person on do-not-disturb it was addressed to.
    pub(super) async fn forward_event(&self, e: &StoredEvent, periods: &[DndPeriod]) -> ServiceResult<usize> {
        if !copyable(e) {
            return Ok(0);
        }
        let (sender, at) = (&e.event.sender, e.event.origin_server_ts);
        let mut seen = HashSet::new();
        let mut copies = 0;
        for p in periods.iter().filter(|p| p.covers(at) && &p.user_id != sender) {
            let Some(cover) = p.cover.as_ref().filter(|c| *c != sender) else { continue };
            if !seen.insert(p.user_id.clone()) {
                continue;
            }
            if !(mentions(&e.event.content, &p.user_id) || self.direct_at(e, &p.user_id).await?) {
                continue;
            }
            match self.copy_to_cover(e, &p.user_id, cover).await {
                Ok(made) => copies += usize::from(made),
                Err(err) if worth_retrying(&err) => return Err(err),
                Err(err) => {
                    tracing::warn!(error = %err, room = %e.event.room_id, "a message could not be copied to the cover");
                    self.audit_forward(e, &p.user_id, cover, Outcome::Failure, &format!("not copied: {err}"))?;
                }
            }
        }
        Ok(copies)
    }

    /// Was the message's room a direct conversation between its sender and `absent` when it
    /// was sent (exactly those two people joined; role users not counted)?
    async fn direct_at(&self, e: &StoredEvent, absent: &UserId) -> ServiceResult<bool> {
        let room = &e.event.room_id;
        let state = RoomState::from_events(room.clone(), self.store.state_at(room, e.stream).await?);
        let people: Vec<&OwnedUserId> = state.members_with(Membership::Join).filter(|u| !is_role_user(u)).collect();
        Ok(people.len() == 2 && people.iter().any(|u| *u == absent) && people.iter().any(|u| **u == e.event.sender))
    }

    /// Sends the copy of `e` for `absent` to `cover`, unless it was sent already; `true` if it
    /// was sent now.
    async fn copy_to_cover(&self, e: &StoredEvent, absent: &UserId, cover: &UserId) -> ServiceResult<bool> {
        let sender = &e.event.sender;
        let txn = TxnRef {
            device_id: OwnedDeviceId::from(COPY_DEVICE),
            txn_id: OwnedTransactionId::from(format!("cover:{absent}:{}", e.event.event_id)),
        };
        if self.store.event_for_txn(sender, &txn.device_id, txn.txn_id.as_str()).await?.is_some() {
            return Ok(false);
        }
        if !self.active(sender).await? {
            return Err(ServiceError::forbidden("the sender's account is no longer active"));
        }
        if !self.active(cover).await? {
            return Err(ServiceError::forbidden("the cover's account is no longer active"));
        }
        let (absent_name, cover_name) = (self.name_of(absent).await?, self.name_of(cover).await?);
        let room = self.cover_room(absent, sender, cover, &absent_name, &cover_name).await?;
        let forwarded = json!({
            "for": absent,
            "cover": cover,
            "room_id": e.event.room_id,
            "event_id": e.event.event_id,
        });
        let content = copy_content(&e.event.content, &forward_label(&absent_name, &cover_name), forwarded, cover);
        let slot = self.audit.reserve()?;
        let copy = self
            .rooms
            .send(
                &Actor::system(sender.clone()),
                SendEvent {
                    room_id: room.clone(),
                    kind: kinds::MESSAGE.to_owned(),
                    state_key: None,
                    content,
                    redacts: None,
                    txn: Some(txn),
                },
            )
            .await?;
        slot.record(self.forward_record(e, absent, cover, Outcome::Success, &format!("copy_room={room} copy={copy}")));
        Ok(true)
    }

    fn forward_record(
        &self,
        e: &StoredEvent,
        absent: &UserId,
        cover: &UserId,
        outcome: Outcome,
        what: &str,
    ) -> wardline_types::audit::NewAuditRecord {
        let mut r = self.audit.entry_by(By::Server, AuditAction::CoverForward, outcome);
        r.room_id = Some(e.event.room_id.to_string());
        r.event_id = Some(e.event.event_id.to_string());
        r.target_user = Some(cover.to_string());
        r.detail = Some(By::Server.detail(&format!("for={absent} sender={} {what}", e.event.sender)));
        r
    }

    fn audit_forward(
        &self,
        e: &StoredEvent,
        absent: &UserId,
        cover: &UserId,
        outcome: Outcome,
        what: &str,
    ) -> ServiceResult<()> {
        self.audit.record(self.forward_record(e, absent, cover, outcome, what))
    }

    /// The conversation between `sender` and `cover` for `absent`: found by its state, with
    /// nobody else in it, or made (by the sender, the cover invited and joined).
    async fn cover_room(
        &self,
        absent: &UserId,
        sender: &UserId,
        cover: &UserId,
        absent_name: &str,
        cover_name: &str,
    ) -> ServiceResult<OwnedRoomId> {
        let key: Triple = (absent.to_owned(), sender.to_owned(), cover.to_owned());
        let remembered = self.cover_rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key).cloned();
        let mut candidates = Vec::new();
        candidates.extend(remembered);
        candidates.extend(self.rooms.joined_rooms(sender).await?);
        for room in candidates {
            let found = self.rooms.with_state(&room, |s| is_cover_room(s, &key)).await?;
            if let Some(cover_membership) = found {
                if cover_membership != Membership::Join {
                    self.rooms.join(&room, &Actor::system(cover.to_owned())).await?;
                }
                self.remember(key, &room);
                return Ok(room);
            }
        }
        let sender_name = self.name_of(sender).await?;
        let room = self
            .rooms
            .create_room(
                &Actor::system(sender.to_owned()),
                CreateRoom {
                    preset: Preset::PrivateChat,
                    name: Some(format!("{sender_name} → {cover_name}, covering for {absent_name}")),
                    topic: Some(format!(
                        "Messages to {absent_name} while on do-not-disturb are copied here to {cover_name}, who covers. Reply here."
                    )),
                    invite: vec![cover.to_owned()],
                    initial_state: vec![(
                        COVER_STATE_KIND.to_owned(),
                        String::new(),
                        json!({ "absent": absent, "sender": sender, "cover": cover }),
                    )],
                    ..CreateRoom::default()
                },
            )
            .await?;
        self.rooms.join(&room, &Actor::system(cover.to_owned())).await?;
        self.remember(key, &room);
        Ok(room)
    }

    fn remember(&self, key: Triple, room: &OwnedRoomId) {
        self.cover_rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, room.clone());
    }

    /// Ends what ran out and copies what is due, until the task is dropped.
    pub async fn run_cover(self: Arc<Self>) {
        let mut next_end: Option<Timestamp> = None;
        let mut looked: Option<tokio::time::Instant> = None;
        loop {
            if next_end.is_some_and(|t| t <= self.clock.now()) {
                match self.end_expired().await {
                    Ok(n) => tracing::debug!(ended = n, "do-not-disturb ran out"),
                    Err(e) => tracing::warn!(error = %e, "ending do-not-disturb that ran out failed"),
                }
                looked = None;
            }
            if looked.is_none_or(|t| t.elapsed() >= MAX_WAIT) {
                match self.store.next_dnd_end().await {
                    Ok(t) => {
                        next_end = t;
                        looked = Some(tokio::time::Instant::now());
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the next end of do-not-disturb failed"),
                }
            }
            let wait = match self.forward_due().await {
                Ok(_) => POLL,
                Err(e) => {
                    tracing::warn!(error = %e, "copying messages to covers failed; trying again shortly");
                    RETRY
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.changed.notified() => looked = None,
            }
        }
    }
}

/// If the room is the cover conversation of `key` (its `org.wardline.cover` state names the
/// three, the sender is joined, the cover joined or invited, and nobody else is in it), the
/// cover's membership.
fn is_cover_room(s: &RoomState, (absent, sender, cover): &Triple) -> Option<Membership> {
    let marker = &s.get(COVER_STATE_KIND, "")?.event.content;
    let names = |field: &str, who: &OwnedUserId| marker.get(field).and_then(Value::as_str) == Some(who.as_str());
    if !(names("absent", absent) && names("sender", sender) && names("cover", cover)) {
        return None;
    }
    let present: Vec<&OwnedUserId> =
        s.members_with(Membership::Join).chain(s.members_with(Membership::Invite)).collect();
    let cover_membership = s.membership(cover).filter(|m| matches!(m, Membership::Join | Membership::Invite))?;
    (s.membership(sender) == Some(Membership::Join) && present.iter().all(|u| *u == sender || *u == cover))
        .then_some(cover_membership)
}
