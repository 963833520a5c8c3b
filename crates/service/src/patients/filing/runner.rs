//! The background task that sends filings to the record: `run_filings`.
//!
//! **Durability.** A filing is claimed (a lease, [`LEASE_MS`]) before it is sent and marked
//! filed or refused after; a crash in between sends it again once the lease has run out, and
//! since every entry is a conditional update keyed by the message's identifier, the record
//! updates its copy rather than adding one. A restart resumes every pending filing: they are in
//! the store, not in memory.
//!
//! **Retries.** The record down, slow, refusing Wardline's credentials or answering nonsense:
//! tried again after 5 s, doubling to 5 min, until [`crate::config::EprSettings::give_up_hours`]
//! after it was asked, then refused as never answered, and audited: never dropped silently.
//! The record refusing the filing itself (`4xx`, its `OperationOutcome`): refused with its words.
//!
//! **What is logged.** The filing's id, its conversation and why an attempt failed: never a
//! message, a patient or the record's answer.

use std::sync::Arc;
use std::time::Duration;

use wardline_store::{FiledEvent, FiledStatus, Filing};
use wardline_types::Timestamp;
use wardline_types::audit::{AuditAction, Outcome};

use super::fhir::{self, Entry, Filed, Payload, Person};
use crate::ServiceResult;
use crate::audit::By;
use crate::patients::{EprError, PatientService};

/// How long a claimed filing is its sender's before another may take it over (a filing of 200
/// messages is 25 Bundles, each within the EPR's timeout).
const LEASE_MS: u64 = 15 * 60 * 1000;
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

/// How long to wait after `attempts` failed attempts.
#[must_use]
pub fn retry_wait_ms(attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(20);
    FIRST_RETRY_MS.saturating_mul(1u64 << doublings).min(MAX_RETRY_MS)
}

/// How one attempt went.
#[derive(Debug)]
enum Attempt {
    /// The record holds it: its resources, and each message's row.
    Filed(Vec<String>, Vec<FiledEvent>),
    /// Try again later, for this reason.
    Retry(String),
    /// The record refused it, for this reason.
    Refused(String),
}

impl From<EprError> for Attempt {
    fn from(e: EprError) -> Self {
        match e {
            EprError::Refused { reason, .. } => Self::Refused(reason),
            e => Self::Retry(e.to_string()),
        }
    }
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

    /// One pass: sends the filings due by the clock; how long until the next is due.
    ///
    /// # Errors
    /// A store that cannot be read or written; what was done stays done.
    pub async fn filing_pass(&self) -> ServiceResult<Duration> {
        let now = self.clock.now();
        let lease_from = Timestamp(now.0.saturating_sub(LEASE_MS));
        for id in self.store.due_filings(now, lease_from, BATCH).await? {
            if !self.store.claim_filing(&id, now, lease_from).await? {
                continue;
            }
            let Some(filing) = self.store.filing(&id).await? else { continue };
            let attempt = self.attempt(&filing).await;
            self.settle(&filing, attempt).await?;
        }
        let now = self.clock.now();
        let wait = match self.store.next_filing_due().await? {
            Some(due) => Duration::from_millis(due.0.saturating_sub(now.0)).min(POLL),
            None => POLL,
        };
        Ok(wait.max(MIN_WAIT))
    }

    /// Builds and sends one filing.
    async fn attempt(&self, filing: &Filing) -> Attempt {
        match self.try_send(filing).await {
            Ok(a) | Err(a) => a,
        }
    }

    async fn try_send(&self, filing: &Filing) -> Result<Attempt, Attempt> {
        let store_err = |e: crate::ServiceError| Attempt::Retry(format!("Wardline could not read the messages: {e}"));
        let epr = self.epr().map_err(Attempt::from)?;
        let room = &filing.request.room_id;
        // The conversation must still be about the patient it was filed for: a filing waiting
        // for the record never goes to a patient someone has since said is the wrong one.
        let current = self.store.room_patient(room).await.map_err(|e| store_err(e.into()))?;
        if current.as_ref().map(|t| t.version) != Some(filing.request.tie_version) {
            return Err(Attempt::Refused(
                "the conversation is no longer about the patient this was to be filed for: nothing was filed".into(),
            ));
        }
        let tie = current.ok_or_else(|| Attempt::Retry("the conversation's patient could not be read".into()))?;
        let people = self.people(room).await.map_err(store_err)?;
        let read = self.read_messages(filing, &people).await.map_err(store_err)?;
        let server_name = self.server_name.as_str();
        let f = Filed { server_name, patient: &filing.request.patient, members: &people };
        let entries: Vec<Entry> = read.iter().map(|r| fhir::entry(fhir::communication(f, &r.message))).collect();
        let mut resources = Vec::new();
        for bundle in fhir::bundles(entries, self.filing.max_bundle_entries) {
            let answer = epr.transaction(&fhir::transaction(&bundle)).await?;
            resources.extend(fhir::locations(&answer, &bundle).map_err(Attempt::Retry)?);
        }
        let now = self.clock.now();
        let rows: Vec<FiledEvent> = read
            .iter()
            .zip(&resources)
            .filter_map(|(r, resource)| {
                Some(FiledEvent {
                    event_id: ruma::OwnedEventId::try_from(r.message.event_id.as_str()).ok()?,
                    room_id: room.clone(),
                    filing_id: filing.request.id.clone(),
                    resource: resource.clone(),
                    content_hash: r.hash.clone(),
                    status: if r.message.payload == Payload::Deleted {
                        FiledStatus::EnteredInError
                    } else {
                        FiledStatus::Completed
                    },
                    filed: now,
                })
            })
            .collect();
        if filing.request.transcript {
            // The record's transcript: this patient's part of the conversation up to the request,
            // messages as they are now, a deleted one only as deleted.
            let text =
                crate::audit_report::transcript_for_record(self.store.as_ref(), room, &tie, filing.request.requested)
                    .await
                    .map_err(store_err)?;
            let by = &filing.request.requested_by;
            let author = people
                .iter()
                .find(|p| p.user_id == by.as_str())
                .cloned()
                .unwrap_or(Person { user_id: by.to_string(), display: None });
            let title = text.lines().next().unwrap_or("Transcript").to_owned();
            let key = format!("{room}/{}", filing.request.tie_version);
            let doc = fhir::document_reference(f, &key, &author, &title, &text, now);
            let bundle = vec![fhir::entry(doc)];
            let answer = epr.transaction(&fhir::transaction(&bundle)).await?;
            resources.extend(fhir::locations(&answer, &bundle).map_err(Attempt::Retry)?);
        }
        Ok(Attempt::Filed(resources, rows))
    }

    /// Records how an attempt went; a filing that ends (filed, refused, given up) is audited.
    async fn settle(&self, filing: &Filing, attempt: Attempt) -> ServiceResult<()> {
        let id = &filing.request.id;
        let now = self.clock.now();
        let give_up_at =
            filing.request.requested.0.saturating_add(self.filing.give_up_hours.saturating_mul(3600 * 1000));
        let (outcome, detail) = match attempt {
            Attempt::Filed(resources, rows) => {
                let slot = self.audit.reserve()?;
                let events = rows.len();
                if !self.store.finish_filing(id, resources.clone(), rows, now).await? {
                    return Ok(());
                }
                self.record_outcome(
                    slot,
                    filing,
                    Outcome::Success,
                    &format!(
                        "filed filing={id} patient={} events={events} resources={}",
                        filing.request.patient.id,
                        resources.join(",")
                    ),
                );
                return Ok(());
            }
            Attempt::Retry(why) if now.0 < give_up_at => {
                let attempts = filing.attempts.saturating_add(1);
                let due = Timestamp(now.0.saturating_add(retry_wait_ms(attempts)));
                tracing::info!(filing = %id, room = %filing.request.room_id, attempt = attempts, reason = %why, "filing to the record failed; will retry");
                self.store.retry_filing(id, due, &why).await?;
                return Ok(());
            }
            Attempt::Retry(why) => {
                (format!("the record did not answer for {} hours ({why})", self.filing.give_up_hours), "retry-given-up")
            }
            Attempt::Refused(why) => (format!("the record refused it: {why}"), "refused"),
        };
        tracing::warn!(filing = %id, room = %filing.request.room_id, what = detail, "filing to the record refused");
        let slot = self.audit.reserve()?;
        if !self.store.refuse_filing(id, &outcome, now).await? {
            return Ok(());
        }
        self.record_outcome(
            slot,
            filing,
            Outcome::Failure,
            &format!(
                "{detail} filing={id} patient={} events={} attempts={} reason={outcome}",
                filing.request.patient.id,
                filing.request.events.len(),
                filing.attempts.saturating_add(1)
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

#[cfg(test)]
mod tests {
    use super::retry_wait_ms;

    #[test]
    fn retries_wait_five_seconds_doubling_to_five_minutes() {
        assert_eq!(retry_wait_ms(1), 5_000);
        assert_eq!(retry_wait_ms(2), 10_000);
        assert_eq!(retry_wait_ms(3), 20_000);
        assert_eq!(retry_wait_ms(7), 300_000);
        assert_eq!(retry_wait_ms(60), 300_000);
    }
}
