//! The durable outbox of reports to hospital systems: what Wardline tells a source about its
//! alarms (delivered, read, accepted, undeliverable…) and administrators' test reports, each
//! queued once, claimed with a lease before it is sent, retried until it is sent or has failed
//! for good. The push queue's pattern ([`crate::PushStore`]), with one more rule: the reports of
//! one alarm to one system over one channel go out one at a time, in the order they were queued,
//! so a nurse-call system never hears "accepted" before "delivered".
//!
//! Also here: an integration's webhook (its URL and signing secret), read only by the service
//! that signs and sends, never part of [`crate::Integration`] (which travels with every call a
//! system makes).

use async_trait::async_trait;
use wardline_types::Timestamp;
use wardline_types::alarm::AlarmId;
use wardline_types::integration::IntegrationId;

use crate::StoreResult;

/// Where a hospital system receives its reports. The secret signs every delivery (Standard
/// Webhooks): it is never shown after it was made, and never printed (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The receiver's URL (`https://…`), checked against the allowed hosts when set and before
    /// each send.
    pub url: String,
    /// `whsec_` and the base64 of the key's bytes.
    pub secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("url", &"<hidden>").field("secret", &"<hidden>").finish()
    }
}

/// How a report reaches its system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportChannel {
    /// A signed `POST` to the integration's webhook.
    Webhook,
    /// An HL7 v2 message (PCD-05 Report Alert Status) over MLLP to the integration's listener.
    Hl7,
    /// A WCTP 1.3 operation (`wctp-StatusInfo`, `wctp-MessageReply`) to the paging system.
    Wctp,
}

impl ReportChannel {
    /// `webhook`, `hl7`, `wctp`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Hl7 => "hl7",
            Self::Wctp => "wctp",
        }
    }

    /// The channel named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webhook" => Some(Self::Webhook),
            "hl7" => Some(Self::Hl7),
            "wctp" => Some(Self::Wctp),
            _ => None,
        }
    }
}

/// How a report ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportOutcome {
    /// The system acknowledged it (a `2xx` answer to a webhook).
    Sent,
    /// Given up: the system refused it for longer than the server retries, or has no webhook
    /// (any more), or was revoked.
    Failed,
}

impl ReportOutcome {
    /// `sent`, `failed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    /// The outcome named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A report to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    /// To which system.
    pub integration: IntegrationId,
    /// About which of its alarms (`None`: a test report, ordered with nothing).
    pub alarm: Option<AlarmId>,
    /// How it goes.
    pub channel: ReportChannel,
    /// The body, exactly the bytes that are signed and sent (JSON for a webhook): alarm ids and
    /// statuses, never a patient's details.
    pub payload: String,
    /// When it was queued: due at once, retried until [`Self::created`] plus the give-up time.
    pub created: Timestamp,
}

/// A report as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Its place in the outbox: the order of one alarm's reports.
    pub seq: i64,
    /// Its id (`msg_…`): the `webhook-id` a receiver deduplicates by, the same on every attempt.
    pub id: String,
    /// To which system.
    pub integration: IntegrationId,
    /// About which alarm.
    pub alarm: Option<AlarmId>,
    /// How it goes.
    pub channel: ReportChannel,
    /// The body.
    pub payload: String,
    /// Attempts so far (a claim counts one).
    pub attempts: u32,
    /// When it is (or was last) due.
    pub due: Timestamp,
    /// When its sender claimed it, while it is claimed.
    pub claimed: Option<Timestamp>,
    /// How it ended; `None` while pending.
    pub outcome: Option<ReportOutcome>,
    /// Why it failed (or, while it waits for a retry, why the last attempt failed): never the
    /// payload.
    pub reason: Option<String>,
    /// When it was queued.
    pub created: Timestamp,
    /// When it ended.
    pub done: Option<Timestamp>,
}

/// Which reports the administrators' view lists, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportQuery {
    /// One system's only.
    pub integration: Option<IntegrationId>,
    /// Those that ended so only.
    pub outcome: Option<ReportOutcome>,
    /// Pending ones only.
    pub pending_only: bool,
    /// At most this many.
    pub limit: usize,
}

/// Integrations' webhooks and the outbox of reports to hospital systems.
#[async_trait]
pub trait IntegrationOutboxStore: Send + Sync {
    /// Sets (`Some`) or removes (`None`) an integration's webhook; returns whether it had one
    /// before. [`crate::StoreError::NotFound`] if there is no such integration,
    /// [`crate::StoreError::Conflict`] if it is revoked.
    async fn set_integration_webhook(&self, id: &IntegrationId, webhook: Option<Webhook>) -> StoreResult<bool>;
    /// An integration's webhook, if it has one (revoked or not).
    async fn integration_webhook(&self, id: &IntegrationId) -> StoreResult<Option<Webhook>>;
    /// Queues reports, due at their creation, in one write: only those whose integration exists,
    /// is active and has a webhook at that moment (decided inside the write). Returns how many
    /// were queued.
    async fn queue_reports(&self, reports: Vec<NewReport>) -> StoreResult<usize>;
    /// Claims up to `limit` pending reports due by `now` that nobody claimed since `lease_from`,
    /// counting an attempt for each, oldest due first. Of one alarm's reports to one system over
    /// one channel only the first pending one is ever claimable (the next waits until it has
    /// ended); reports without an alarm are each their own.
    async fn claim_due_reports(&self, now: Timestamp, lease_from: Timestamp, limit: usize) -> StoreResult<Vec<Report>>;
    /// Whether a report of `report`'s alarm to its integration over its channel, queued before
    /// it, was sent (PCD-05's `AD`/`UP`: is this the first status the reporter has had?).
    /// `false` for a report without an alarm.
    async fn sent_before(&self, report: &Report) -> StoreResult<bool>;
    /// A claimed report is to be tried again at `due` (its claim ends); `reason` says why the
    /// attempt failed, kept (for administrators) until the next attempt ends.
    async fn retry_report(&self, id: &str, due: Timestamp, reason: &str) -> StoreResult<()>;
    /// A report ended (`reason` says why it failed); `false` if it had already ended.
    async fn finish_report(&self, id: &str, outcome: ReportOutcome, reason: &str, now: Timestamp) -> StoreResult<bool>;
    /// When the next pending report is due.
    async fn next_report_due(&self) -> StoreResult<Option<Timestamp>>;
    /// How many reports are pending.
    async fn pending_reports(&self) -> StoreResult<u64>;
    /// Reports, newest first, as `query` asks.
    async fn reports(&self, query: ReportQuery) -> StoreResult<Vec<Report>>;
    /// Forgets reports that ended before `before`; how many.
    async fn forget_reports(&self, before: Timestamp) -> StoreResult<u64>;
}
