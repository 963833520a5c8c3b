//! Writing a conversation back to the patient's record ("filing").
//!
//! - `mod.rs`: asking to file messages of a conversation (or all of them, with or without a
//!   transcript), and what has been filed;
//! - `fhir.rs`: the FHIR resources and transaction Bundles, built from messages already read;
//! - `messages.rs`: reading each message as it is now (its latest edit, its file) for the record;
//! - `runner.rs`: `run_filings`, the background task that sends what is due.
//!
//! **Invariant:** a filing is stored before anything is sent, and it files under the tie the
//! conversation had when it was asked (the patient as tied then): untying or tying another
//! patient later never moves messages to another record.
//!
//! **Invariant:** only a member joined now ([`super::may_see_patient`]) files or reads filings,
//! and only messages they may see (the timeline's [`crate::visibility::Visibility`]). Every
//! request, outcome and refusal is audited (`record.filing`) with ids and counts, never text.

pub mod fhir;
mod messages;
mod runner;

use std::collections::{BTreeMap, HashSet};

use ruma::{OwnedEventId, RoomId, UserId};
use wardline_store::{Direction, FiledStatus, Filing, NewFiling, PosRange};
use wardline_types::account::is_service_user;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::patient::filing::{
    FILING_ID_BYTES, FiledEventState, FilingId, FilingRequest, FilingScope, MAX_FILING_EVENTS,
};
use wardline_types::relation::{self, rel_types};
use wardline_types::{StoredEvent, Timestamp};

pub use messages::content_hash;
pub use runner::lease_ms;

use super::PatientService;
use crate::audit::Actor;
use crate::messaging::is_message;
use crate::ratelimit::LimitKind;
use crate::{ServiceError, ServiceResult};

/// How a filing's `last_error` begins when the record itself refused it (its words follow);
/// any other refusal was Wardline's (the patient changed, the record never answered).
pub const RECORD_REFUSED: &str = "the record refused it: ";

/// The most filings the status lists.
const MAX_LISTED: usize = 50;

/// The most filings of one conversation waiting for the record at once: more are refused
/// (`M_LIMIT_EXCEEDED`) until the record has taken some, so a record that is down does not
/// collect an unbounded queue.
pub const MAX_PENDING_PER_ROOM: usize = 20;

/// What the record holds of one message, as the conversation shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFiling {
    /// Filed as it is now, changed since, or filed as deleted.
    pub state: FiledEventState,
    /// The record's resource (`Communication/123`).
    pub resource: String,
    /// When it was filed.
    pub filed: Timestamp,
}

/// A conversation's filings and what the record holds of its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilingStatus {
    /// Its filings, newest first.
    pub filings: Vec<Filing>,
    /// Per message the caller may see that was filed.
    pub events: BTreeMap<OwnedEventId, EventFiling>,
}

fn new_filing_id() -> FilingId {
    let mut bytes = [0u8; FILING_ID_BYTES];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    FilingId::from_bytes(&bytes)
}

/// Is `e` an edit (which is filed as the message it changes, never on its own)?
fn is_edit(e: &StoredEvent) -> bool {
    relation::relation(&e.event.content).is_some_and(|r| r.rel_type == rel_types::REPLACE)
}

impl PatientService {
    /// Asks for messages of `room` to be filed to the record of the patient it is about (and
    /// its transcript, if asked): stored, then sent by the background task. Returns the
    /// filing's id.
    ///
    /// # Errors
    /// Not joined (`403`, audited); no EPR (`404`); not about a patient (`409`); an event
    /// that is not a message of this conversation the caller may see (`404`), none or more than
    /// [`MAX_FILING_EVENTS`] (`400`); a transcript asked by someone who cannot see the whole
    /// conversation (`403`); too many requests; the audit trail cannot be written.
    pub async fn file(&self, actor: &Actor, room: &RoomId, request: FilingRequest) -> ServiceResult<FilingId> {
        self.require_member_for(actor, room, AuditAction::RecordFiling, "filing").await?;
        self.limiter.check(LimitKind::Filing, actor.user_id.as_str())?;
        self.epr()?;
        let waiting = self.store.pending_filings(room).await?;
        if waiting >= MAX_PENDING_PER_ROOM {
            return Err(ServiceError::LimitExceeded(format!(
                "{waiting} filings of this conversation are already waiting for the record: \
                 wait until it has taken them"
            )));
        }
        let Some(tie) = self.store.room_patient(room).await? else {
            return Err(ServiceError::NoPatient(
                "this conversation is not about a patient: tie it to one before filing it to the record".into(),
            ));
        };
        let vis = self.timeline.visibility(&actor.user_id, room).await?;
        // Only what was said while the conversation was about this patient goes to their record.
        let since = tie.tied_at;
        let events = match &request.scope {
            FilingScope::Events(ids) => {
                let chosen = match self.chosen(room, ids, &vis).await {
                    Ok(c) => c,
                    Err(e @ ServiceError::NotFound(_)) => {
                        // Asking to file what one cannot see is an attempt on the record.
                        self.refused(actor, room, "messages not theirs to see")?;
                        return Err(e);
                    }
                    Err(e) => return Err(e),
                };
                if chosen.iter().any(|e| e.event.origin_server_ts < since) {
                    return Err(ServiceError::invalid(
                        "a message chosen was sent before this conversation was about this patient: it is not theirs to file",
                    ));
                }
                chosen
            }
            FilingScope::All => self.all_visible(room, &vis, since).await?,
        };
        if events.is_empty() && !request.transcript {
            return Err(ServiceError::invalid("there is nothing to file: choose at least one message"));
        }
        if request.transcript && !self.sees_everything(room, &vis).await? {
            self.refused(actor, room, "a transcript of more than they can see")?;
            return Err(ServiceError::forbidden(
                "you cannot see the whole conversation, so you cannot file its transcript",
            ));
        }
        let slot = self.audit.reserve()?;
        let filing = NewFiling {
            id: new_filing_id(),
            room_id: room.to_owned(),
            requested_by: actor.user_id.clone(),
            requested: self.clock.now(),
            tie_version: tie.version,
            patient: tie.patient,
            events: events.into_iter().map(|e| e.event.event_id).collect(),
            transcript: request.transcript,
        };
        let stored = self.store.new_filing(filing).await?;
        let mut r = self.entry(actor, AuditAction::RecordFiling, Outcome::Success, Some(room));
        r.detail = Some(format!(
            "requested filing={} patient={} version={} events={} transcript={}",
            stored.request.id,
            stored.request.patient.id,
            stored.request.tie_version,
            stored.request.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(","),
            stored.request.transcript
        ));
        slot.record(r);
        self.filing_wake.notify_one();
        Ok(stored.request.id)
    }

    /// Records a refused filing (`record.filing`, denied, saying what was asked).
    fn refused(&self, actor: &Actor, room: &RoomId, what: &str) -> ServiceResult<()> {
        let mut r = self.entry(actor, AuditAction::RecordFiling, Outcome::Denied, Some(room));
        r.detail = Some(format!("refused filing: {what}"));
        self.audit.record(r)
    }

    /// The messages named, in the conversation's order, each once.
    async fn chosen(
        &self,
        room: &RoomId,
        ids: &[String],
        vis: &crate::visibility::Visibility,
    ) -> ServiceResult<Vec<StoredEvent>> {
        if ids.len() > MAX_FILING_EVENTS {
            return Err(ServiceError::invalid(format!("at most {MAX_FILING_EVENTS} messages can be filed at once")));
        }
        let mut wanted: Vec<OwnedEventId> = Vec::new();
        for id in ids {
            let id = OwnedEventId::try_from(id.as_str())
                .map_err(|_| ServiceError::invalid(format!("{id:?} is not an event id")))?;
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        if wanted.len() > MAX_FILING_EVENTS {
            return Err(ServiceError::invalid(format!("at most {MAX_FILING_EVENTS} messages can be filed at once")));
        }
        let mut found = self.store.events_by_id(&wanted).await?;
        found.retain(|e| e.event.room_id == room && is_message(e) && !is_edit(e) && vis.can_see(e.stream));
        if found.len() != wanted.len() {
            return Err(ServiceError::not_found("each event must be a message of this conversation that you can see"));
        }
        found.sort_by_key(|e| e.stream);
        Ok(found)
    }

    /// Every message of `room` sent since `since` that the caller may see (a deleted one only
    /// if the record holds it, so the record learns it was deleted), in order; not the server's
    /// own notices. Stops as soon as there are more than can be filed at once.
    async fn all_visible(
        &self,
        room: &RoomId,
        vis: &crate::visibility::Visibility,
        since: Timestamp,
    ) -> ServiceResult<Vec<StoredEvent>> {
        let filed: HashSet<OwnedEventId> =
            self.store.filed_events(room).await?.into_iter().map(|f| f.event_id).collect();
        let mut out = Vec::new();
        self.walk(room, |e| {
            if e.event.origin_server_ts >= since
                && vis.can_see(e.stream)
                && is_message(e)
                && !is_edit(e)
                && !is_service_user(&e.event.sender)
                && (e.redacted_because.is_none() || filed.contains(&e.event.event_id))
            {
                out.push(e.clone());
            }
            out.len() <= MAX_FILING_EVENTS
        })
        .await?;
        if out.len() > MAX_FILING_EVENTS {
            return Err(ServiceError::invalid(format!(
                "this conversation has more than the {MAX_FILING_EVENTS} messages that can be filed at once: \
                 choose which to file"
            )));
        }
        Ok(out)
    }

    /// Whether the caller may see every message of `room` (a transcript holds them all): no
    /// message lies in a stretch of the room's history hidden from them (only those stretches
    /// are read).
    async fn sees_everything(&self, room: &RoomId, vis: &crate::visibility::Visibility) -> ServiceResult<bool> {
        let now = self.store.current_pos();
        let mut hidden = Vec::new();
        let mut seen_to = wardline_types::StreamPos::ZERO;
        for r in vis.visible_ranges(now) {
            if r.after > seen_to {
                hidden.push(PosRange::new(seen_to, r.after));
            }
            seen_to = r.upto;
        }
        if seen_to < now {
            hidden.push(PosRange::new(seen_to, now));
        }
        for gap in hidden {
            let mut after = gap.after;
            loop {
                let range = PosRange::new(after, gap.upto);
                let page = self.store.room_events(room, range, Direction::Forward, 1000).await?;
                if page.iter().any(is_message) {
                    return Ok(false);
                }
                match page.last() {
                    Some(last) if page.len() == 1000 => after = last.stream,
                    _ => break,
                }
            }
        }
        Ok(true)
    }

    /// Calls `f` with each event of `room` in order, until it answers `false`.
    async fn walk(&self, room: &RoomId, mut f: impl FnMut(&StoredEvent) -> bool) -> ServiceResult<()> {
        let now = self.store.current_pos();
        let mut after = wardline_types::StreamPos::ZERO;
        loop {
            let page = self.store.room_events(room, PosRange::new(after, now), Direction::Forward, 1000).await?;
            let Some(last) = page.last().map(|e| e.stream) else { return Ok(()) };
            for e in &page {
                if !f(e) {
                    return Ok(());
                }
            }
            after = last;
        }
    }

    /// Keeps the filings `user` asked for, and those of messages they may all see (a
    /// transcript's: only if they may see the whole conversation): a member who joined later,
    /// or sees only part of the history, is not told what was filed of the rest.
    async fn keep_seen(
        &self,
        user: &UserId,
        room: &RoomId,
        vis: &crate::visibility::Visibility,
        filings: &mut Vec<Filing>,
    ) -> ServiceResult<()> {
        let others = || filings.iter().filter(|f| f.request.requested_by != user);
        let mut named: Vec<OwnedEventId> = others().flat_map(|f| f.request.events.iter().cloned()).collect();
        named.sort_unstable();
        named.dedup();
        let seen: HashSet<OwnedEventId> = self
            .store
            .events_by_id(&named)
            .await?
            .into_iter()
            .filter(|e| e.event.room_id == room && vis.can_see(e.stream))
            .map(|e| e.event.event_id)
            .collect();
        let whole = if others().any(|f| f.request.transcript) { self.sees_everything(room, vis).await? } else { true };
        filings.retain(|f| {
            f.request.requested_by == user
                || (f.request.events.iter().all(|e| seen.contains(e)) && (whole || !f.request.transcript))
        });
        Ok(())
    }

    /// `room`'s filings the caller may know of (theirs, and those of messages they may see),
    /// newest first, and what the record holds of each message the caller may see: filed,
    /// changed since it was filed (edited or deleted: file it again), or filed as deleted.
    /// Audited.
    ///
    /// # Errors
    /// Not joined (`403`, audited); the audit trail cannot be written.
    pub async fn filings(&self, actor: &Actor, room: &RoomId) -> ServiceResult<FilingStatus> {
        self.require_member_for(actor, room, AuditAction::RecordFiling, "filing status").await?;
        let slot = self.audit.reserve()?;
        let mut filings = self.store.room_filings(room, MAX_LISTED).await?;
        let held = self.store.filed_events(room).await?;
        let vis = self.timeline.visibility(&actor.user_id, room).await?;
        self.keep_seen(&actor.user_id, room, &vis, &mut filings).await?;
        let ids: Vec<OwnedEventId> = held.iter().map(|h| h.event_id.clone()).collect();
        let mut current = self.store.events_by_id(&ids).await?;
        current.retain(|e| vis.can_see(e.stream));
        let hashes = self.current_hashes(&actor.user_id, room, &current, &vis).await?;
        let mut events = BTreeMap::new();
        for h in held {
            let Some(now) = hashes.get(&h.event_id) else { continue };
            let state = if *now != h.content_hash {
                FiledEventState::Changed
            } else if h.status == FiledStatus::EnteredInError {
                FiledEventState::EnteredInError
            } else {
                FiledEventState::Filed
            };
            events.insert(h.event_id, EventFiling { state, resource: h.resource, filed: h.filed });
        }
        let mut r = self.entry(actor, AuditAction::RecordFiling, Outcome::Success, Some(room));
        r.detail = Some(format!("read filings={} filed_events={}", filings.len(), events.len()));
        slot.record(r);
        Ok(FilingStatus { filings, events })
    }
}
