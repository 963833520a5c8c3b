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

use wardline_store::{FiledEvent, FiledStatus, Filing, FilingResult};
use wardline_types::Timestamp;
use wardline_types::audit::{AuditAction, Outcome};

use super::fhir::{self, Entry, Filed, Payload, Person};
use super::messages::Read;
use crate::ServiceResult;
use crate::audit::By;
use crate::patients::{EprError, PatientService};

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
    timeout_secs.saturating_mul(6_000).saturating_add(60_000)
}

/// How long to wait after `attempts` failed attempts.
#[must_use]
pub fn retry_wait_ms(attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(20);
    FIRST_RETRY_MS.saturating_mul(1u64 << doublings).min(MAX_RETRY_MS)
}

/// How one attempt went. What the record took as it went was kept by each renewal of the
/// claim (the filing's resources and its messages' rows), whatever the attempt ends in.
#[derive(Debug)]
enum Attempt {
    /// The record holds it all: the last resources it made (the transcript's).
    Filed(FilingResult),
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

/// A filing being sent: its claim, renewed as it goes.
struct Claimed<'a> {
    filing: &'a Filing,
    claim: Timestamp,
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
            let mut claimed = Claimed { filing: &filing, claim: now };
            let attempt = match self.try_send(&mut claimed).await {
                Ok(a) | Err(a) => a,
            };
            self.settle(&claimed, attempt).await?;
        }
        let now = self.clock.now();
        let wait = match self.store.next_filing_due(self.filing.lease_ms).await? {
            Some(due) => Duration::from_millis(due.0.saturating_sub(now.0)).min(POLL),
            None => POLL,
        };
        Ok(wait.max(MIN_WAIT))
    }

    /// Before each call to the record: the conversation must still be about the patient the
    /// filing is for (a re-tie may come at any time, even between two Bundles), and the claim
    /// still ours, renewed, keeping what the record took since the last renewal.
    async fn renew(&self, c: &mut Claimed<'_>, progress: FilingResult) -> Result<(), Attempt> {
        let room = &c.filing.request.room_id;
        let current = self.store.room_patient(room).await.map_err(|e| Attempt::retry(store_failed(&e)))?;
        let tied = current.as_ref().is_some_and(|t| t.version == c.filing.request.tie_version);
        let now = self.clock.now();
        match self.store.renew_filing(&c.filing.request.id, c.claim, now, progress).await {
            Ok(true) => c.claim = now,
            Ok(false) => return Err(Attempt::Lost),
            Err(e) => return Err(Attempt::retry(store_failed(&e))),
        }
        if tied {
            Ok(())
        } else {
            // Never sent to a patient someone has since said is the wrong one.
            Err(Attempt::refused("the conversation is no longer about the patient this was to be filed for"))
        }
    }

    async fn try_send(&self, c: &mut Claimed<'_>) -> Result<Attempt, Attempt> {
        let filing = c.filing;
        let epr = self.epr()?;
        let room = &filing.request.room_id;
        self.renew(c, FilingResult::default()).await?;
        let names = self.names(room).await.map_err(|e| Attempt::retry(store_failed(&e)))?;
        let read = self.read_messages(filing, &names).await.map_err(|e| Attempt::retry(store_failed(&e)))?;
        let f = Filed { server_name: self.server_name.as_str(), patient: &filing.request.patient };
        let entries: Vec<Entry> = read.iter().map(|r| fhir::entry(fhir::communication(f, &r.message))).collect();
        let mut progress = FilingResult::default();
        let mut sent = 0;
        for bundle in fhir::bundles(entries, self.filing.max_bundle_entries) {
            self.renew(c, std::mem::take(&mut progress)).await?;
            let answer = epr.transaction(&fhir::transaction(&bundle)).await?;
            let resources = self.resources_of(filing, answer.as_ref(), &bundle);
            let now = self.clock.now();
            for (r, resource) in read[sent..sent + bundle.len()].iter().zip(&resources) {
                progress.events.extend(filed_row(filing, r, resource, now));
            }
            sent += bundle.len();
            progress.resources.extend(resources);
        }
        if filing.request.transcript {
            self.renew(c, std::mem::take(&mut progress)).await?;
            // The record's transcript: this patient's part of the conversation as it is when
            // sent (so a transcript asked earlier but sent later never replaces a fuller one),
            // messages as they are now, a deleted one only as deleted.
            let tie = self
                .store
                .room_patient(room)
                .await
                .map_err(|e| Attempt::retry(store_failed(&e)))?
                .ok_or_else(|| Attempt::refused("the conversation is no longer about a patient"))?;
            let text = crate::audit_report::transcript_for_record(self.store.as_ref(), room, &tie, self.clock.now())
                .await
                .map_err(|e| Attempt::retry(store_failed(&e)))?;
            let by = &filing.request.requested_by;
            let author = Person { user_id: by.to_string(), display: names.get(by).cloned().flatten() };
            let title = text.lines().next().unwrap_or("Transcript").to_owned();
            let key = format!("{room}/{}", filing.request.tie_version);
            let doc = fhir::document_reference(f, &key, &author, &title, &text, self.clock.now());
            let bundle = vec![fhir::entry(doc)];
            let answer = epr.transaction(&fhir::transaction(&bundle)).await?;
            progress.resources.extend(self.resources_of(filing, answer.as_ref(), &bundle));
        }
        Ok(Attempt::Filed(progress))
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

    /// Records how an attempt went; a filing that ends (filed, refused, given up) is audited
    /// with the messages the record holds from it.
    async fn settle(&self, c: &Claimed<'_>, attempt: Attempt) -> ServiceResult<()> {
        let (filing, claim) = (c.filing, c.claim);
        let id = &filing.request.id;
        let room = &filing.request.room_id;
        let now = self.clock.now();
        let give_up_at =
            filing.request.requested.0.saturating_add(self.filing.give_up_hours.saturating_mul(3600 * 1000));
        let attempts = filing.attempts.saturating_add(1);
        let (ended, reason, detail, last) = match attempt {
            Attempt::Lost => {
                tracing::info!(filing = %id, room = %room, "another sender took this filing over; leaving it to them");
                return Ok(());
            }
            Attempt::Retry(why) if now.0 < give_up_at => {
                let due = Timestamp(now.0.saturating_add(retry_wait_ms(attempts)));
                tracing::info!(filing = %id, room = %room, attempt = attempts, reason = %why, "filing to the record failed; will retry");
                self.store.retry_filing(id, claim, due, &why).await?;
                return Ok(());
            }
            Attempt::Filed(last) => (true, None, "filed".to_owned(), last),
            Attempt::Retry(why) => (
                false,
                Some(format!(
                    "the record could not be written to for {} hours (last: {why})",
                    self.filing.give_up_hours
                )),
                format!("retry-given-up last={why}"),
                FilingResult::default(),
            ),
            Attempt::Refused { reason, status } => {
                let by = status.map_or_else(|| "by=wardline".to_owned(), |s| format!("status={s}"));
                let said = if status.is_some() { format!("{}{reason}", super::RECORD_REFUSED) } else { reason };
                (false, Some(said), format!("refused {by}"), FilingResult::default())
            }
        };
        let slot = self.audit.reserve()?;
        let stored = match &reason {
            None => self.store.finish_filing(id, claim, last, now).await?,
            Some(reason) => {
                tracing::warn!(filing = %id, room = %room, attempt = attempts, what = detail, "filing to the record refused");
                self.store.refuse_filing(id, claim, reason, last, now).await?
            }
        };
        if !stored {
            return Ok(());
        }
        // What the record holds from this filing, as kept while it was sent.
        let held: Vec<String> = self
            .store
            .filed_events(room)
            .await?
            .into_iter()
            .filter(|e| e.filing_id == *id)
            .map(|e| e.event_id.to_string())
            .collect();
        let resources = self.store.filing(id).await?.map(|f| f.resources).unwrap_or_default();
        let resources: Vec<&str> = resources.iter().map(String::as_str).filter(|r| !r.is_empty()).collect();
        let asked: Vec<&str> = filing.request.events.iter().map(|e| e.as_str()).collect();
        self.record_outcome(
            slot,
            filing,
            if ended { Outcome::Success } else { Outcome::Failure },
            &format!(
                "{detail} filing={id} patient={} attempts={attempts} events={} filed_events={} resources={}",
                filing.request.patient.id,
                asked.join(","),
                held.join(","),
                resources.join(",")
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
        assert_eq!(lease_ms(u64::MAX), u64::MAX);
    }
}
