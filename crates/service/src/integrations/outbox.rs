//! The integration outbox: the background task `run_integration_outbox` that sends what
//! Wardline reports to hospital systems (alarms' statuses, administrators' tests) to their
//! webhooks, signed (`webhook.rs`), or as WCTP operations to paging systems' reply URLs
//! (`wctp.rs` sets them), retrying with backoff until each is acknowledged or too old.
//!
//! **Durability.** A report is in the store before anything is sent (queued in the same write as
//! the status it reports). It is claimed (a lease, [`LEASE_MS`]) before it is sent and marked
//! sent or failed after; a crash between the send and the mark sends it again once the lease has
//! run out, under the same `webhook-id`, so a receiver that deduplicates sees it once. Every
//! attempt ends within [`ATTEMPT_TIMEOUT`], and a pass claims no more than it can finish well
//! inside the lease, so no other node takes a report over while it is being sent.
//!
//! **Order.** The store hands out only the first pending report of each alarm (per system and
//! channel): a source hears "delivered" before "read" before "accepted", retries included.
//!
//! **Where.** Before each send the integration is read again (revoked: failed), its webhook too
//! (removed: failed), and the URL checked again against `integrations.webhook_hosts`: a host
//! struck from the list gets nothing more. Redirects are never followed. An HL7 report (IHE
//! PCD-05 `ORA^R41`, built by `alarms/hl7/pcd05.rs` from the alarm as stored) goes over a fresh
//! MLLP connection (`mllp_client.rs`) to the binding's `status_address`, checked again against
//! `hl7.status_addresses`; `CA`/`AA` is sent; `CE`/`AE`, and `CR`/`AR` with `ERR-3` 200–204,
//! failed for good (the reporter refused it: sending it again would not change that); any other
//! `CR`/`AR` (`207`, or no `ERR`), or no answer, tried again (see `hl7_outcome`). The message
//! says `AD` (PCD-05's first status of the dissemination) unless an earlier HL7 report of the
//! alarm to the integration was sent, then `UP`: decided here, as it is sent, so a first report
//! that failed leaves the next to add it.
//!
//! **What is logged.** The report's id, alarm and integration, and why it failed: never the
//! payload, the secret or the URL (which may carry a token of the receiver's).

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use futures::StreamExt;
use ruma::OwnedServerName;
use wardline_store::{Report, ReportChannel, ReportOutcome, Store};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::{Clock, Timestamp};

use super::address::WebhookHosts;
use super::mllp_client;
use super::status_address::StatusAddresses;
use super::webhook;
use crate::ServiceResult;
use crate::alarms::hl7::pcd05::{self, Pcd05Status};
use crate::audit::{AuditService, By};
use crate::config::{Hl7Settings, IntegrationSettings};
use crate::core::Core;
use crate::push::{HttpTransport, PushTransport};

/// How long a claimed report is its sender's before another may take it over.
const LEASE_MS: u64 = 60_000;
/// The longest one attempt may take (the HTTP client's own limit is shorter still).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Reports sent at once.
const CONCURRENCY: usize = 8;
/// Most reports claimed at a time: two rounds of [`CONCURRENCY`].
const SEND_BATCH: usize = 2 * CONCURRENCY;
/// Most claims in one pass.
const CLAIMS_PER_PASS: usize = 8;
// The last of a claim starts after the rounds before it, each at most ATTEMPT_TIMEOUT: all of
// them end in less than half the lease.
const _: () = assert!(
    (SEND_BATCH.div_ceil(CONCURRENCY) as u128) * ATTEMPT_TIMEOUT.as_millis() * 2 <= LEASE_MS as u128,
    "a claim must be sent well inside its lease"
);
/// The longest the task sleeps: other nodes' reports, and retries by a clock that jumps (tests),
/// are seen within this.
const POLL: Duration = Duration::from_millis(500);
/// The shortest.
const MIN_WAIT: Duration = Duration::from_millis(50);
/// How long reports that ended are kept for the administrators' view.
const KEEP_FINISHED_MS: u64 = 30 * 24 * 3600 * 1000;
/// How often they are forgotten.
const FORGET_EVERY_MS: u64 = 3600 * 1000;

/// How one attempt went.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    Sent,
    Retry(String),
    Failed(String),
}

/// What a paging system's `wctp-Confirmation` to a report means: success is sent; a `5xx`
/// failure (the WCTP "send again" series) is tried again; any other failure (`3xx` the report
/// itself, `4xx` its addressing) would fail the same way again, so it fails for good.
fn wctp_confirmation(c: &wardline_types::wctp::Confirmation) -> Attempt {
    if c.success {
        return Attempt::Sent;
    }
    let said = format!("the paging system answered wctp-Failure {}", quoted(&c.code));
    match c.code.trim().parse::<u16>() {
        Ok(500..=599) => Attempt::Retry(said),
        _ => Attempt::Failed(said),
    }
}

/// Reports to hospital systems: their webhooks (`webhooks.rs`) and the task that sends.
pub struct IntegrationOutbox {
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) audit: AuditService,
    pub(super) server_name: OwnedServerName,
    pub(super) hosts: WebhookHosts,
    status_addresses: StatusAddresses,
    /// What Wardline calls itself in what it sends over HL7 (`hl7.application`).
    application: String,
    metrics: crate::metrics::Metrics,
    settings: IntegrationSettings,
    transport: RwLock<Arc<dyn PushTransport>>,
    /// Woken when a report is queued.
    wake: tokio::sync::Notify,
    /// When reports that ended were last forgotten.
    forgotten: Mutex<Option<Timestamp>>,
}

impl std::fmt::Debug for IntegrationOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationOutbox").field("hosts", &self.hosts).finish_non_exhaustive()
    }
}

/// The one deadline for a whole MLLP exchange, connecting included (inside [`ATTEMPT_TIMEOUT`]).
const MLLP_TIMEOUT: Duration = Duration::from_secs(8);

/// The `MSH-10` of an HL7 report: the same for every attempt of it, 20 characters (the limit
/// older HL7 versions set).
fn hl7_control_id(report_id: &str) -> String {
    let hex: String = report_id.trim_start_matches("msg_").chars().take(18).collect();
    format!("WL{hex}")
}

/// A value a peer (an HL7 reporter, a paging system) chose, fit for the audit trail and the log: at most 80 characters,
/// letters, digits, spaces and `-_.:,()` (anything else as `?`).
fn quoted(s: &str) -> String {
    s.chars().take(80).map(|c| if c.is_ascii_alphanumeric() || " -_.:,()".contains(c) { c } else { '?' }).collect()
}

/// What an HL7 reporter's answer (`answer`, unframed) to the message `control_id` means.
///
/// `CA`/`AA`: sent. `CE`/`AE` (the reporter could not take this message, HL7 v2.6 §2.9.2), and
/// `CR`/`AR` whose `ERR-3` is 200–204 (unsupported message type, event, processing id, version;
/// unknown key, Table 0357): failed for good, as sending it again would not change that. Any
/// other `CR`/`AR` (`207` application internal error, another code, or no `ERR` at all:
/// Wardline's own receiver answers a store failure so) means "send it again": tried again
/// until the give-up time, like no answer. Only `ERR-3`'s code is kept (for the log and the
/// audit trail), never the reporter's free text (`ERR-8`).
fn hl7_outcome(answer: &[u8], control_id: &str) -> Attempt {
    let text = String::from_utf8_lossy(answer);
    let Ok(m) = wardline_types::hl7::Message::parse(&text) else {
        return Attempt::Retry("the reporter's answer is not HL7".into());
    };
    let Some(msa) = m.segment("MSA") else { return Attempt::Retry("the reporter's answer has no MSA".into()) };
    if m.text(msa, 2, 0).trim() != control_id {
        return Attempt::Retry("the reporter answered another message (MSA-2)".into());
    }
    let code = m.text(msa, 1, 0);
    let err = m.segment("ERR").map(|e| m.text(e, 3, 1)).filter(|c| !c.trim().is_empty());
    let why = err.as_deref().map(|c| format!(" (ERR-3 {})", quoted(c.trim()))).unwrap_or_default();
    match code.trim() {
        "CA" | "AA" => Attempt::Sent,
        c @ ("CE" | "AE") => Attempt::Failed(format!("the reporter refused it: {c}{why}")),
        c @ ("CR" | "AR") => {
            let for_good =
                err.as_deref().and_then(|e| e.trim().parse::<u16>().ok()).is_some_and(|n| (200..=204).contains(&n));
            if for_good {
                Attempt::Failed(format!("the reporter refused it: {c}{why}"))
            } else {
                Attempt::Retry(format!("the reporter asked for it again: {c}{why}"))
            }
        }
        other => Attempt::Retry(format!("the reporter answered {}", quoted(other))),
    }
}

/// How long to wait before the next attempt after `attempts` failed ones: `first_retry_secs`,
/// doubling each time, never more than `max_retry_secs` (milliseconds).
#[must_use]
pub fn retry_wait_ms(settings: &IntegrationSettings, attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(32);
    let secs = settings.first_retry_secs.max(1).saturating_mul(1u64 << doublings);
    secs.min(settings.max_retry_secs.max(1)).saturating_mul(1000)
}

impl IntegrationOutbox {
    /// The outbox, sending through the real HTTP client (no redirects, timeouts).
    ///
    /// # Errors
    /// No TLS client could be built.
    pub fn new(core: &Core, settings: &IntegrationSettings, hl7: &Hl7Settings) -> ServiceResult<Self> {
        Ok(Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            audit: core.audit.clone(),
            server_name: core.server_name.clone(),
            hosts: WebhookHosts::new(settings),
            status_addresses: StatusAddresses::new(hl7),
            application: hl7.application.clone(),
            metrics: core.metrics.clone(),
            settings: settings.clone(),
            transport: RwLock::new(Arc::new(HttpTransport::new()?)),
            wake: tokio::sync::Notify::new(),
            forgotten: Mutex::new(None),
        })
    }

    /// Wakes the task: a report was queued (call after the write that queued it).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Sends through `transport` from now on (tests).
    pub fn use_transport(&self, transport: Arc<dyn PushTransport>) {
        *self.transport.write().unwrap_or_else(PoisonError::into_inner) = transport;
    }

    fn transport(&self) -> Arc<dyn PushTransport> {
        Arc::clone(&self.transport.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The background task: a pass ([`Self::tick`]) whenever a report is queued, one falls due,
    /// or [`POLL`] passes.
    pub async fn run_integration_outbox(self: Arc<Self>) {
        loop {
            let wait = match self.tick().await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(error = %e, "integration outbox pass failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One pass: sends the reports due by the clock, forgets old ones, counts what is pending.
    /// Returns how long until the next is due (at most [`POLL`]).
    ///
    /// # Errors
    /// A store that cannot be read or written; what was done stays done.
    pub async fn tick(&self) -> ServiceResult<Duration> {
        self.send_due().await?;
        self.forget_finished().await?;
        self.metrics.set_integration_outbox_pending(self.store.pending_reports().await?);
        let now = self.clock.now();
        let wait = match self.store.next_report_due().await? {
            Some(due) => Duration::from_millis(due.0.saturating_sub(now.0)).min(POLL),
            None => POLL,
        };
        Ok(wait.max(MIN_WAIT))
    }

    /// Sends the reports due now, some at once, a claim of [`SEND_BATCH`] at a time.
    async fn send_due(&self) -> ServiceResult<()> {
        for _ in 0..CLAIMS_PER_PASS {
            let now = self.clock.now();
            let lease_from = Timestamp(now.0.saturating_sub(LEASE_MS));
            let claimed = self.store.claim_due_reports(now, lease_from, SEND_BATCH).await?;
            let full = claimed.len() == SEND_BATCH;
            let results: Vec<ServiceResult<()>> = futures::stream::iter(claimed)
                .map(|r| async move {
                    let attempt = match tokio::time::timeout(ATTEMPT_TIMEOUT, self.attempt(&r)).await {
                        Ok(attempt) => attempt,
                        Err(_) => Attempt::Retry(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
                    };
                    self.settle(&r, attempt).await
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            results.into_iter().collect::<ServiceResult<()>>()?;
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// Tries to send one report to its integration over its channel, as things stand now.
    async fn attempt(&self, r: &Report) -> Attempt {
        match self.store.integration(&r.integration).await {
            Ok(Some(i)) if i.active => {}
            Ok(Some(_)) => return Attempt::Failed("the integration has been revoked".into()),
            Ok(None) => return Attempt::Failed("no such integration".into()),
            Err(e) => return Attempt::Retry(format!("store: {e}")),
        }
        match r.channel {
            ReportChannel::Webhook => self.attempt_webhook(r).await,
            ReportChannel::Wctp => self.attempt_wctp(r).await,
            ReportChannel::Hl7 => self.attempt_hl7(r).await,
        }
    }

    /// Tries to post one WCTP operation (`wctp-StatusInfo`, `wctp-MessageReply`) to the paging
    /// system's reply URL: sent once it answers `wctp-Confirmation/wctp-Success`; a
    /// `wctp-Failure`, an answer that is not a confirmation, or none, is tried again.
    async fn attempt_wctp(&self, r: &Report) -> Attempt {
        let url = match self.store.integration_wctp(&r.integration).await {
            Ok(Some(b)) => match b.reply_url {
                Some(url) => url,
                None => return Attempt::Failed("the integration has no WCTP reply URL".into()),
            },
            Ok(None) => return Attempt::Failed("the integration has no WCTP binding".into()),
            Err(e) => return Attempt::Retry(format!("store: {e}")),
        };
        if let Err(e) = self.hosts.check(&url) {
            return Attempt::Failed(format!("WCTP reply URL no longer allowed: {e}"));
        }
        let headers = vec![("content-type", "text/xml; charset=utf-8".to_owned())];
        match self.transport().post(&url, headers, r.payload.clone().into_bytes()).await {
            Err(e) => Attempt::Retry(e),
            Ok(answer) if !(200..300).contains(&answer.status) => {
                Attempt::Retry(format!("the paging system answered HTTP {}", answer.status))
            }
            Ok(answer) => match crate::alarms::wctp::parse_off_worker(answer.body).await {
                Ok(wardline_types::wctp::Operation::Confirmation(c)) => wctp_confirmation(&c),
                Ok(_) => Attempt::Retry("the paging system answered with another operation".into()),
                Err(e) => Attempt::Retry(format!("the paging system's answer was not WCTP ({})", e.code)),
            },
        }
    }

    /// Tries to send one PCD-05 report to its integration's HL7 listener.
    async fn attempt_hl7(&self, r: &Report) -> Attempt {
        let binding = match self.store.integration_hl7(&r.integration).await {
            Ok(Some(b)) => b,
            Ok(None) => return Attempt::Failed("the integration has no HL7 binding".into()),
            Err(e) => return Attempt::Retry(format!("store: {e}")),
        };
        let address = match (&binding.status_address, binding.report_status) {
            (Some(a), true) => a,
            _ => return Attempt::Failed("the integration's HL7 binding no longer asks for status".into()),
        };
        // The configuration may have changed since the address was set.
        let (host, port) = match self.status_addresses.check(address) {
            Ok(hp) => hp,
            Err(e) => return Attempt::Failed(format!("status address no longer allowed: {e}")),
        };
        let Ok(status) = serde_json::from_str::<Pcd05Status>(&r.payload) else {
            return Attempt::Failed("the report cannot be read".into());
        };
        let Some(alarm_id) = &r.alarm else { return Attempt::Failed("the report names no alarm".into()) };
        let alarm = match self.store.alarm(alarm_id).await {
            Ok(Some(a)) => a,
            Ok(None) => return Attempt::Failed("no such alarm".into()),
            Err(e) => return Attempt::Retry(format!("store: {e}")),
        };
        // AD until the reporter has been sent one of this alarm's statuses, UP after. The store
        // hands out one alarm's reports one at a time, in order: every earlier one has ended.
        let action = match self.store.sent_before(r).await {
            Ok(false) => pcd05::Action::Add,
            Ok(true) => pcd05::Action::Update,
            Err(e) => return Attempt::Retry(format!("store: {e}")),
        };
        let control_id = hl7_control_id(&r.id);
        let facility = self.server_name.to_string();
        let header = pcd05::Header {
            application: &self.application,
            facility: &facility,
            receiving_application: &binding.sending_application,
            receiving_facility: &binding.sending_facility,
            now: self.clock.now(),
            control_id: &control_id,
            processing_id: if binding.test { "T" } else { "P" },
        };
        let message = pcd05::ora_r41(&alarm, &status, action, &header);
        match mllp_client::exchange(&host, port, message.as_bytes(), MLLP_TIMEOUT).await {
            Err(e) => Attempt::Retry(e.to_string()),
            Ok(answer) => hl7_outcome(&answer, &control_id),
        }
    }

    /// Tries to send one report to its integration's webhook.
    async fn attempt_webhook(&self, r: &Report) -> Attempt {
        let hook = match self.store.integration_webhook(&r.integration).await {
            Ok(Some(hook)) => hook,
            Ok(None) => return Attempt::Failed("the integration has no webhook".into()),
            Err(e) => return Attempt::Retry(format!("store: {e}")),
        };
        // The configuration may have changed since the webhook was set.
        if let Err(e) = self.hosts.check(&hook.url) {
            return Attempt::Failed(format!("webhook no longer allowed: {e}"));
        }
        let body = r.payload.clone().into_bytes();
        let signed_at = self.clock.now().0 / 1000;
        let headers = match webhook::headers(&hook.secret, &r.id, signed_at, &body) {
            Ok(h) => h,
            Err(e) => return Attempt::Failed(e.to_string()),
        };
        match self.transport().post(&hook.url, headers, body).await {
            Err(e) => Attempt::Retry(e),
            Ok(answer) if (200..300).contains(&answer.status) => Attempt::Sent,
            Ok(answer) => Attempt::Retry(format!("the webhook answered {}", answer.status)),
        }
    }

    /// Records how an attempt went: sent, to be tried again later, or failed for good (too old,
    /// or nowhere to send it), which the audit trail records.
    async fn settle(&self, r: &Report, attempt: Attempt) -> ServiceResult<()> {
        let now = self.clock.now();
        let give_up_at = r.created.0.saturating_add(self.settings.give_up_hours.saturating_mul(3600 * 1000));
        let reason = match attempt {
            Attempt::Sent => {
                self.store.finish_report(&r.id, ReportOutcome::Sent, "", now).await?;
                return Ok(());
            }
            Attempt::Retry(why) if now.0 < give_up_at => {
                let due = Timestamp(now.0.saturating_add(retry_wait_ms(&self.settings, r.attempts)));
                tracing::info!(integration = %r.integration, report = %r.id, attempt = r.attempts, reason = %why, "report to a hospital system failed; will retry");
                self.store.retry_report(&r.id, due, &why).await?;
                return Ok(());
            }
            Attempt::Retry(why) => {
                format!("gave up after {} attempts over {} hours: {why}", r.attempts, self.settings.give_up_hours)
            }
            Attempt::Failed(why) => why,
        };
        let alarm = r.alarm.as_ref().map_or("-", |a| a.as_str());
        tracing::warn!(integration = %r.integration, report = %r.id, alarm, %reason, "report to a hospital system failed for good");
        // The record's place is taken first: a failure is never recorded in the store alone (if
        // the trail cannot be written, the report stays claimed and is tried again later).
        let slot = self.audit.reserve()?;
        if !self.store.finish_report(&r.id, ReportOutcome::Failed, &reason, now).await? {
            return Ok(());
        }
        let mut record = self.audit.entry_by(By::Server, AuditAction::IntegrationReport, Outcome::Failure);
        record.target_user = r.integration.user_id(&self.server_name).map(|u| u.to_string());
        record.detail = Some(By::Server.detail(&format!(
            "report-failed report={} integration={} alarm={alarm} channel={} attempts={} reason={reason}",
            r.id,
            r.integration,
            r.channel.as_str(),
            r.attempts
        )));
        slot.record(record);
        Ok(())
    }

    /// Forgets reports that ended more than [`KEEP_FINISHED_MS`] ago, once an hour.
    async fn forget_finished(&self) -> ServiceResult<()> {
        let now = self.clock.now();
        {
            let mut last = self.forgotten.lock().unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|t| now.0 < t.0.saturating_add(FORGET_EVERY_MS)) {
                return Ok(());
            }
            *last = Some(now);
        }
        self.store.forget_reports(Timestamp(now.0.saturating_sub(KEEP_FINISHED_MS))).await?;
        Ok(())
    }
}

#[cfg(test)]
mod hl7_answer_tests {
    use super::*;

    fn answer(msa: &str) -> Vec<u8> {
        format!("MSH|^~\\&|MON|ICU|WARDLINE|h|20261201101500||ACK^R41^ACK|A1|P|2.6\r{msa}").into_bytes()
    }

    #[test]
    fn a_reporters_answer_is_sent_refused_for_good_or_tried_again() {
        let id = hl7_control_id("msg_0123456789abcdef0123456789abcdef");
        assert_eq!(id, "WL0123456789abcdef01");
        assert_eq!(id.len(), 20);
        assert_eq!(hl7_outcome(&answer(&format!("MSA|CA|{id}\r")), &id), Attempt::Sent);
        assert_eq!(hl7_outcome(&answer(&format!("MSA|AA|{id}\r")), &id), Attempt::Sent);
        // Refused for good: CE/AE whatever ERR says; CR/AR naming what can never be taken.
        let refused = hl7_outcome(
            &answer(&format!("MSA|CR|{id}\rERR||OBR^1^29|204^Unknown key identifier|E||||Who is Mr X?\r")),
            &id,
        );
        assert_eq!(refused, Attempt::Failed("the reporter refused it: CR (ERR-3 204)".into()), "ERR-8 not kept");
        for code in ["CE", "AE"] {
            for err in ["", "ERR||MSH^1^10|207^Application internal error|E\r"] {
                let got = hl7_outcome(&answer(&format!("MSA|{code}|{id}\r{err}")), &id);
                assert!(matches!(got, Attempt::Failed(_)), "{code} {err}: {got:?}");
            }
        }
        for n in 200..=204 {
            for code in ["AR", "CR"] {
                let got = hl7_outcome(&answer(&format!("MSA|{code}|{id}\rERR||MSH^1^9|{n}^x^HL70357|E\r")), &id);
                assert!(matches!(got, Attempt::Failed(_)), "{code} {n}: {got:?}");
            }
        }
        // CR/AR with 207 (the reporter could not store it now), another code or no ERR: again.
        let again = hl7_outcome(
            &answer(&format!("MSA|AR|{id}\rERR||MSH^1^10|207^Application internal error|E||||disk full at bed 4\r")),
            &id,
        );
        assert_eq!(again, Attempt::Retry("the reporter asked for it again: AR (ERR-3 207)".into()), "ERR-8 not kept");
        for msa in [format!("MSA|CR|{id}\r"), format!("MSA|AR|{id}\rERR||MSH^1^10|206^x|E\r")] {
            let got = hl7_outcome(&answer(&msa), &id);
            assert!(matches!(got, Attempt::Retry(_)), "{msa}: {got:?}");
        }
        for retry in
            [answer(&format!("MSA|XX|{id}\r")), answer("MSA|CA|another\r"), answer(""), b"not hl7".to_vec(), Vec::new()]
        {
            assert!(matches!(hl7_outcome(&retry, &id), Attempt::Retry(_)), "{:?}", String::from_utf8_lossy(&retry));
        }
    }
}

#[cfg(test)]
mod wctp_answers {
    use wardline_types::wctp::Confirmation;

    use super::{Attempt, wctp_confirmation};

    fn answer(success: bool, code: &str) -> Attempt {
        wctp_confirmation(&Confirmation { success, code: code.into(), text: None })
    }

    #[test]
    fn only_a_send_again_failure_is_retried() {
        assert_eq!(answer(true, "200"), Attempt::Sent);
        assert!(matches!(answer(false, "500"), Attempt::Retry(_)));
        assert!(matches!(answer(false, " 504 "), Attempt::Retry(_)));
        for code in ["300", "302", "401", "402", "403", "600", "x"] {
            assert!(matches!(answer(false, code), Attempt::Failed(_)), "{code}");
        }
    }
}
