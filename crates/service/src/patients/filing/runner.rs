//! The background task that sends filings to the record: `run_filings`.
//!
//! **Durability.** A filing is claimed (a lease, [`lease_ms`]) before it is sent, one filing of
//! a conversation at a time (two senders never race to write the same message). Before each
//! Bundle the claim is renewed, in the same write as what the record took since the last
//! renewal (its resources and its messages' rows): what the record holds is known as it goes,
//! whatever the attempt ends in. It is marked filed or refused after, by the sender whose claim
//! it still is (the store checks). A crash in between sends it again once the lease has run
//! out, and since every entry is a conditional update keyed by the message's identifier, the
//! record updates its copy rather than adding one. A sender that finds its claim taken over (it
//! was paused past its lease) stops and records nothing. A restart resumes every pending
//! filing: they are in the store, not in memory.
//!
//! **The patient.** Each renewal checks that the conversation is still tied as it was when the
//! filing was asked: a re-tie, even between two Bundles, stops it (refused, keeping what the
//! record took before), so nothing more goes to a patient someone has said is the wrong one.
//!
//! **Retries.** The record down, slow, refusing Wardline's credentials or answering nonsense
//! (a `2xx` that is not a transaction response: a login page, a proxy): tried again after 5 s,
//! doubling to 5 min, until [`crate::config::EprSettings::give_up_hours`] after it was asked,
//! then refused and audited: never dropped silently. The record refusing a Bundle (`4xx`, its
//! `OperationOutcome`): refused with its words. A `2xx` that says nothing more (empty, or too
//! big to read) was taken: its resources are not known.
//!
//! **What is logged and audited.** The filing's id, its conversation, its messages' event ids,
//! the record's resource ids and HTTP status: never a message, a patient or the record's own
//! words (its `OperationOutcome` may quote what was sent). The record's words are kept only in
//! the filing's `last_error`, which the conversation's members are shown.

use std::sync::Arc;
use std::time::Duration;

use wardline_store::{FiledEvent, FiledStatus, Filing, FilingResult, PatientTie};
use wardline_types::Timestamp;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::patient::filing::FilingState;

use super::fhir::{self, Entry, Filed, Payload, Person};
use super::messages::Read;
use crate::ServiceResult;
use crate::audit::By;
use crate::patients::{EprError, PatientService, record};

/// The first wait after a failed attempt, doubling each time.
const FIRST_RETRY_MS: u64 = 5_000;
/// The longest wait between attempts.
const MAX_RETRY_MS: u64 = 5 * 60 * 1000;
/// Filings claimed in one pass.
const BATCH: usize = 4;
/// The longest the task sleeps: other nodes' filings, and retries by a clock that jumps
/// (tests), are seen within this.
const POLL: Duration = Duration::from_millis(500);
/// The shortest.
const MIN_WAIT: Duration = Duration::from_millis(50);

/// How long a claim is its sender's before another may take the filing over: longer than the
/// most one call to the record can take between renewals (a token, the call, and both again
/// after a refused token, each within `timeout_secs`), plus a minute.
#[must_use]
pub fn lease_ms(timeout_secs: u64) -> u64 {
    // (At most a day: a lease is never so long that a crashed sender's filing waits for ever.)
    timeout_secs.saturating_mul(6_000).saturating_add(60_000).min(24 * 3600 * 1000)
}

/// How long to wait after `attempts` failed attempts.
#[must_use]
pub fn retry_wait_ms(attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(20);
    FIRST_RETRY_MS.saturating_mul(1u64 << doublings).min(MAX_RETRY_MS)
}

/// How one attempt went. What the record took as it went is kept whatever the attempt ends in:
/// by each renewal of the claim, and what was taken since the last one by the write that ends
/// the attempt (the filing's resources and its messages' rows).
#[derive(Debug)]
enum Attempt {
    /// The record holds it all.
    Filed,
    /// Try again later, for this reason (Wardline's words, or the record's status).
    Retry(String),
    /// Refused, by the record (its words and HTTP status) or by Wardline (no status).
    Refused { reason: String, status: Option<u16> },
    /// Another sender claimed it meanwhile: nothing to record.
    Lost,
}

impl Attempt {
    fn refused(reason: impl Into<String>) -> Self {
        Self::Refused { reason: reason.into(), status: None }
    }

    fn retry(why: impl std::fmt::Display) -> Self {
        Self::Retry(why.to_string())
    }
}

impl From<EprError> for Attempt {
    fn from(e: EprError) -> Self {
        match e {
            EprError::Refused { reason, status } => Self::Refused { reason, status: Some(status) },
            e => Self::Retry(e.summary()),
        }
    }
}

/// A filing being sent: its claim, renewed as it goes, and what the record took since the
/// last renewal (not yet written).
struct Claimed<'a> {
    filing: &'a Filing,
    claim: Timestamp,
    unsaved: FilingResult,
}

impl PatientService {
    /// The background task: a pass whenever a filing is asked for, one falls due, or [`POLL`]
    /// passes. Does nothing while no EPR is configured.
    pub async fn run_filings(self: Arc<Self>) {
        if self.epr.is_none() {
            return;
        }
        loop {
            let wait = match self.filing_pass().await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(error = %e, "filing pass failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = self.filing_wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn lease_from(&self, now: Timestamp) -> Timestamp {
        Timestamp(now.0.saturating_sub(self.filing.lease_ms))
    }

    /// One pass: sends the filings due by the clock; how long until the next is due.
    ///
    /// # Errors
    /// A store that cannot be read or written; what was done stays done.
    pub async fn filing_pass(&self) -> ServiceResult<Duration> {
        let now = self.clock.now();
        for id in self.store.due_filings(now, self.lease_from(now), BATCH).await? {
            // Each claim at its own time: the one before may have taken a while.
            let now = self.clock.now();
            if !self.store.claim_filing(&id, now, self.lease_from(now)).await? {
                continue;
            }
            let Some(filing) = self.store.filing(&id).await? else { continue };
            let mut claimed = Claimed { filing: &filing, claim: now, unsaved: FilingResult::default() };
            let attempt = match self.try_send(&mut claimed).await {
                Ok(a) | Err(a) => a,
            };
            self.settle(claimed, attempt).await?;
        }
        let now = self.clock.now();
        let wait = match self.store.next_filing_due(self.filing.lease_ms).await? {
            Some(due) => Duration::from_millis(due.0.saturating_sub(now.0)).min(POLL),
            None => POLL,
        };
        Ok(wait.max(MIN_WAIT))
    }

    /// Before each call to the record: the claim is renewed, keeping what the record took since
    /// the last renewal, and the conversation must still be tied as it was when the filing was
    /// asked (a re-tie may come at any time, even between two Bundles). The tie, if it is.
    async fn renew(&self, c: &mut Claimed<'_>) -> Result<PatientTie, Attempt> {
        let now = self.clock.now();
        let progress = std::mem::take(&mut c.unsaved);
        match self.store.renew_filing(&c.filing.request.id, c.claim, now, progress.clone()).await {
            Ok(true) => c.claim = now,
            Ok(false) => return Err(Attempt::Lost),
            Err(e) => {
                // Kept for the write that ends this attempt.
                c.unsaved = progress;
                return Err(Attempt::retry(store_failed(&e)));
            }
        }
        let current = self.store.room_patient(&c.filing.request.room_id).await;
        match current.map_err(|e| Attempt::retry(store_failed(&e)))? {
            // Never sent to a patient someone has since said is the wrong one.
            Some(tie) if tie.version == c.filing.request.tie_version => Ok(tie),
            _ => Err(Attempt::refused("the conversation is no longer about the patient this was to be filed for")),
        }
    }

    async fn try_send(&self, c: &mut Claimed<'_>) -> Result<Attempt, Attempt> {
        let filing = c.filing;
        let epr = self.epr()?;
        let room = &filing.request.room_id;
        self.renew(c).await?;
        self.still_the_record(epr, &filing.request.patient.id).await?;
        let names = self.names(room).await.map_err(|e| Attempt::retry(store_failed(&e)))?;
        let read = self.read_messages(filing, &names).await.map_err(|e| Attempt::retry(store_failed(&e)))?;
        let f = Filed { server_name: self.server_name.as_str(), patient: &filing.request.patient };
        let entries: Vec<Entry> = read.iter().map(|r| fhir::entry(fhir::communication(f, &r.message))).collect();
        let mut sent = 0;
        for bundle in fhir::bundles(entries, self.filing.max_bundle_entries) {
            // Renewed, and the tie checked, right before every call that writes.
            self.renew(c).await?;
            let answer = epr.transaction(&fhir::transaction(&bundle)).await?;
            let resources = self.resources_of(filing, answer.as_ref(), &bundle);
            let now = self.clock.now();
            for (r, resource) in read[sent..sent + bundle.len()].iter().zip(&resources) {
                c.unsaved.events.extend(filed_row(filing, r, resource, now));
            }
            sent += bundle.len();
            c.unsaved.resources.extend(resources);
        }
        if filing.request.transcript && !self.newer_transcript_filed(filing).await? {
            let tie = self.renew(c).await?;
            // The record's transcript: this patient's part of the conversation up to the
            // request (what its requester could see then), messages as they are now, a deleted
            // one only as deleted.
            let text =
                crate::audit_report::transcript_for_record(self.store.as_ref(), room, &tie, filing.request.requested)
                    .await
                    .map_err(|e| Attempt::retry(store_failed(&e)))?;
            let by = &filing.request.requested_by;
            let author = Person { user_id: by.to_string(), display: names.get(by).cloned().flatten() };
            let title = text.lines().next().unwrap_or("Transcript").to_owned();
            let key = format!("{room}/{}", filing.request.tie_version);
            let doc = fhir::document_reference(f, &key, &author, &title, &text, self.clock.now());
            let bundle = vec![fhir::entry(doc)];
            let answer = epr.transaction(&fhir::transaction(&bundle)).await?;
            c.unsaved.resources.extend(self.resources_of(filing, answer.as_ref(), &bundle));
        }
        Ok(Attempt::Filed)
    }

    /// Whether a transcript asked later under the same tie is already in the record: one tie's
    /// transcript is one document, and an earlier request (sent later, after retries) must not
    /// replace a fuller text with a shorter one.
    async fn newer_transcript_filed(&self, filing: &Filing) -> Result<bool, Attempt> {
        let r = &filing.request;
        let filings = self
            .store
            .room_filings(&r.room_id, super::MAX_LISTED)
            .await
            .map_err(|e| Attempt::retry(store_failed(&e)))?;
        Ok(filings.iter().any(|f| {
            f.state == FilingState::Filed
                && f.request.transcript
                && f.request.tie_version == r.tie_version
                && (f.request.requested, &f.request.id) > (r.requested, &r.id)
        }))
    }

    /// The patient's record is still the one to write to: read from the EPR, it is this
    /// patient's and was not merged into another since the conversation was tied (a record
    /// gone, or merged, is refused with a reason the clinician can act on).
    async fn still_the_record(&self, epr: &super::super::EprClient, patient_id: &str) -> Result<(), Attempt> {
        let read = match epr.read("Patient", patient_id).await {
            Ok(p) => p,
            Err(EprError::Refused { status: 404 | 410, .. }) => {
                return Err(Attempt::refused(
                    "the patient is no longer in the record (deleted or merged): find the patient again, tie the \
                     conversation to them and file again",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(now) = record::patient_summary(&read, None) else {
            return Err(Attempt::retry("the patient record's answer for the patient could not be read"));
        };
        if now.id != patient_id {
            // An EPR that answers for a merged record with the one it became.
            return Err(Attempt::refused(format!(
                "the record answers for this patient with another record ({}): it may have been merged; find the \
                 patient again, tie the conversation to them and file again",
                now.id
            )));
        }
        if now.merged {
            let into = now.merged_into.map(|id| format!(" ({id})")).unwrap_or_default();
            return Err(Attempt::refused(format!(
                "the patient's record was merged into another record{into}: tie the conversation to that one and file again"
            )));
        }
        Ok(())
    }

    /// The resources the record made of a Bundle it took (`2xx`): from its answer, or unknown
    /// (empty) where the answer does not say.
    fn resources_of(&self, filing: &Filing, answer: Option<&serde_json::Value>, bundle: &[Entry]) -> Vec<String> {
        match answer.map(|a| fhir::locations(a, bundle)) {
            Some(Ok(found)) => found,
            Some(Err(why)) => {
                tracing::warn!(filing = %filing.request.id, room = %filing.request.room_id, why, "the record took a filing but its answer does not say where");
                vec![String::new(); bundle.len()]
            }
            None => {
                tracing::info!(filing = %filing.request.id, room = %filing.request.room_id, "the record took a filing without saying where");
                vec![String::new(); bundle.len()]
            }
        }
    }

    /// Records how an attempt went, with what the record took since the last renewal; a filing
    /// that ends (filed, refused, given up) is audited with the messages the record holds from
    /// it, as its end wrote them.
    async fn settle(&self, c: Claimed<'_>, attempt: Attempt) -> ServiceResult<()> {
        let Claimed { filing, claim, unsaved } = c;
        let id = &filing.request.id;
        let room = &filing.request.room_id;
        let now = self.clock.now();
        let give_up_at =
            filing.request.requested.0.saturating_add(self.filing.give_up_hours.saturating_mul(3600 * 1000));
        let attempts = filing.attempts.saturating_add(1);
        let (reason, detail) = match attempt {
            Attempt::Lost => {
                tracing::info!(filing = %id, room = %room, "another sender took this filing over; leaving it to them");
                return Ok(());
            }
            Attempt::Retry(why) if now.0 < give_up_at => {
                let due = Timestamp(now.0.saturating_add(retry_wait_ms(attempts)));
                tracing::info!(filing = %id, room = %room, attempt = attempts, reason = %why, "filing to the record failed; will retry");
                self.store.retry_filing(id, claim, due, &why, unsaved).await?;
                return Ok(());
            }
            Attempt::Filed => (None, "filed".to_owned()),
            Attempt::Retry(why) => (
                Some(format!("not filed after trying for {} hours (last: {why})", self.filing.give_up_hours)),
                format!("retry-given-up last={why}"),
            ),
            Attempt::Refused { reason, status } => {
                let by = status.map_or_else(|| "by=wardline".to_owned(), |s| format!("status={s}"));
                let said = if status.is_some() { format!("{}{reason}", super::RECORD_REFUSED) } else { reason };
                (Some(said), format!("refused {by}"))
            }
        };
        let slot = self.audit.reserve()?;
        let held = match &reason {
            None => self.store.finish_filing(id, claim, unsaved, now).await?,
            Some(reason) => {
                tracing::warn!(filing = %id, room = %room, attempt = attempts, what = detail, "filing to the record refused");
                self.store.refuse_filing(id, claim, reason, unsaved, now).await?
            }
        };
        let Some(held) = held else { return Ok(()) };
        let asked: Vec<&str> = filing.request.events.iter().map(|e| e.as_str()).collect();
        let filed: Vec<&str> = held.events.iter().map(|e| e.as_str()).collect();
        self.record_outcome(
            slot,
            filing,
            if reason.is_none() { Outcome::Success } else { Outcome::Failure },
            &format!(
                "{detail} filing={id} patient={} attempts={attempts} events={} filed_events={} resources={}",
                filing.request.patient.id,
                asked.join(","),
                filed.join(","),
                held.resources.join(",")
            ),
        );
        Ok(())
    }

    fn record_outcome(&self, slot: crate::audit::AuditSlot, filing: &Filing, outcome: Outcome, detail: &str) {
        let mut r = self.audit.entry_by(By::Server, AuditAction::RecordFiling, outcome);
        r.room_id = Some(filing.request.room_id.to_string());
        r.target_user = Some(filing.request.requested_by.to_string());
        r.detail = Some(By::Server.detail(detail));
        slot.record(r);
    }
}

fn store_failed(e: &dyn std::fmt::Display) -> String {
    format!("Wardline could not read or write its own store: {e}")
}

/// What the record now holds of a message it took.
fn filed_row(filing: &Filing, r: &Read, resource: &str, now: Timestamp) -> Option<FiledEvent> {
    Some(FiledEvent {
        event_id: ruma::OwnedEventId::try_from(r.message.event_id.as_str()).ok()?,
        room_id: filing.request.room_id.clone(),
        filing_id: filing.request.id.clone(),
        resource: resource.to_owned(),
        content_hash: r.hash.clone(),
        status: if r.message.payload == Payload::Deleted {
            FiledStatus::EnteredInError
        } else {
            FiledStatus::Completed
        },
        filed: now,
    })
}

#[cfg(test)]
mod tests {
    use super::{lease_ms, retry_wait_ms};

    #[test]
    fn retries_wait_five_seconds_doubling_to_five_minutes() {
        assert_eq!(retry_wait_ms(1), 5_000);
        assert_eq!(retry_wait_ms(2), 10_000);
        assert_eq!(retry_wait_ms(3), 20_000);
        assert_eq!(retry_wait_ms(7), 300_000);
        assert_eq!(retry_wait_ms(60), 300_000);
    }

    #[test]
    fn a_lease_outlasts_the_longest_call_between_renewals() {
        assert_eq!(lease_ms(10), 120_000);
        assert!(lease_ms(30) > 4 * 30_000);
        assert_eq!(lease_ms(u64::MAX), 24 * 3600 * 1000, "at most a day, whatever the timeout");
    }
}
