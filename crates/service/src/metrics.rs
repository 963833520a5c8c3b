//! The figures a hospital's monitoring scrapes: sign-ins, lockouts, waiting long-polls, the
//! writer's queue and commit times, the audit backlog, file bytes.
//!
//! **No global registry.** [`Metrics::register`] adds these metrics to a Prometheus
//! [`Registry`] its caller owns (the binary, which also lets the HTTP layer add its own and
//! serves the registry); [`Metrics::default`] counts into a registry nobody reads, for tools and
//! tests. The handle travels in [`crate::core::Core`] to the services that count.
//!
//! Counting is cheap: counters and gauges are atomics, label sets are small enums (no
//! allocation, and never a user, room or file id: a label value is one of a fixed few).
//! Figures another service already keeps (the audit queue) are read when scraped
//! ([`crate::Services::refresh_gauges`]) rather than counted twice. A new gauge of that kind,
//! such as escalations pending, is one field here and one line there.

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use wardline_store::WriteObserver;

/// How a sign-in attempt (its password step, or its second-factor step) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignInOutcome {
    /// A session was opened.
    Success,
    /// Wrong password, or no such account.
    BadPassword,
    /// Wrong authenticator or recovery code.
    BadSecondFactor,
    /// Refused before checking: rate limited or the account locked.
    Throttled,
    /// The password was right, but the account is deactivated.
    Deactivated,
}

impl SignInOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::BadPassword => "bad_password",
            Self::BadSecondFactor => "bad_second_factor",
            Self::Throttled => "throttled",
            Self::Deactivated => "deactivated",
        }
    }
}

impl EncodeLabelValue for SignInOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SignInLabels {
    outcome: SignInOutcome,
}

/// What a file response carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Served {
    /// The file itself.
    File,
    /// A thumbnail of an image.
    Thumbnail,
}

impl EncodeLabelValue for Served {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        let name = match self {
            Self::File => "file",
            Self::Thumbnail => "thumbnail",
        };
        EncodeLabelValue::encode(&name, encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ServedLabels {
    kind: Served,
}

/// Commit times: 0.25 ms to about 8 s, doubling.
fn commit_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_25, 2.0, 16)
}

/// Writes per group commit: 1 to 512 (the writer's largest group), doubling.
fn group_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(1.0, 2.0, 10)
}

/// A phase of an escalation step, as the engine times it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepPhase {
    /// Checking that nobody has accepted since the engine last read the stream.
    Check,
    /// Claiming the step in the store.
    Claim,
    /// Running it: bringing people in and posting its notice.
    Run,
    /// Recording it done (and when the next is due).
    Finish,
}

impl EncodeLabelValue for StepPhase {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        let name = match self {
            Self::Check => "check",
            Self::Claim => "claim",
            Self::Run => "run",
            Self::Finish => "finish",
        };
        EncodeLabelValue::encode(&name, encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StepPhaseLabels {
    phase: StepPhase,
}

/// Escalation timings: 1 ms to about 65 s, doubling.
fn engine_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 17)
}

/// How late an escalation step ran: 0.1 s to about 55 min, doubling.
fn lateness_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.1, 2.0, 16)
}

/// The service layer's metrics. Cloning shares them.
#[derive(Debug, Clone)]
pub struct Metrics {
    signins: Family<SignInLabels, Counter>,
    lockouts: Counter,
    sync_waiting: Gauge,
    write_queue: Gauge,
    commit_seconds: Histogram,
    commit_writes: Histogram,
    audit_backlog: Gauge,
    uploaded_bytes: Counter,
    served_bytes: Family<ServedLabels, Counter>,
    escalation_pass: Histogram,
    escalation_phase: Family<StepPhaseLabels, Histogram>,
    escalation_late: Histogram,
    outbox_pending: Gauge,
}

impl Default for Metrics {
    /// Metrics that count into no registry (for tools and tests).
    fn default() -> Self {
        Self::register(&mut Registry::default())
    }
}

impl Metrics {
    /// The metrics, registered in `registry` (names start `wardline_`).
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            signins: Family::default(),
            lockouts: Counter::default(),
            sync_waiting: Gauge::default(),
            write_queue: Gauge::default(),
            commit_seconds: Histogram::new(commit_buckets()),
            commit_writes: Histogram::new(group_buckets()),
            audit_backlog: Gauge::default(),
            uploaded_bytes: Counter::default(),
            served_bytes: Family::default(),
            escalation_pass: Histogram::new(engine_buckets()),
            escalation_phase: Family::new_with_constructor(|| Histogram::new(engine_buckets())),
            escalation_late: Histogram::new(lateness_buckets()),
            outbox_pending: Gauge::default(),
        };
        registry.register(
            "wardline_signins",
            "Sign-in attempts (password step and second-factor step) by outcome",
            m.signins.clone(),
        );
        registry.register(
            "wardline_account_lockouts",
            "Accounts (or names with no account) locked after repeated failed sign-ins",
            m.lockouts.clone(),
        );
        registry.register(
            "wardline_sync_waiting",
            "/sync long-polls waiting for something new",
            m.sync_waiting.clone(),
        );
        registry.register(
            "wardline_store_write_queue",
            "Writes waiting for the database writer",
            m.write_queue.clone(),
        );
        registry.register_with_unit(
            "wardline_store_commit_duration",
            "Time of one group commit of the database writer, from its transaction's start to the disk's acknowledgement",
            Unit::Seconds,
            m.commit_seconds.clone(),
        );
        registry.register("wardline_store_commit_writes", "Writes per group commit", m.commit_writes.clone());
        registry.register(
            "wardline_audit_backlog",
            "Audit records queued (or places reserved) and not yet stored",
            m.audit_backlog.clone(),
        );
        registry.register_with_unit(
            "wardline_media_uploaded",
            "Bytes of files stored from uploads",
            Unit::Bytes,
            m.uploaded_bytes.clone(),
        );
        registry.register_with_unit(
            "wardline_media_served",
            "Bytes of files and thumbnails sent",
            Unit::Bytes,
            m.served_bytes.clone(),
        );
        registry.register_with_unit(
            "wardline_escalation_pass_duration",
            "Time of one pass of the escalation engine: reading what was sent since its cursor, then running the steps due",
            Unit::Seconds,
            m.escalation_pass.clone(),
        );
        registry.register_with_unit(
            "wardline_escalation_step_phase_duration",
            "Time of each phase of an escalation step (check, claim, run, finish)",
            Unit::Seconds,
            m.escalation_phase.clone(),
        );
        registry.register_with_unit(
            "wardline_escalation_step_lateness",
            "How long after it fell due an escalation step was claimed, by the server's clock",
            Unit::Seconds,
            m.escalation_late.clone(),
        );
        registry.register(
            "wardline_integration_outbox_pending",
            "Reports to hospital systems (webhooks) queued and not yet sent or given up, as of the outbox's last pass",
            m.outbox_pending.clone(),
        );
        m
    }

    /// Sets the number of reports to hospital systems still pending.
    pub fn set_integration_outbox_pending(&self, reports: u64) {
        self.outbox_pending.set(i64::try_from(reports).unwrap_or(i64::MAX));
    }

    /// Times one pass of the escalation engine.
    pub fn escalation_pass(&self, took: Duration) {
        self.escalation_pass.observe(took.as_secs_f64());
    }

    /// Times one phase of an escalation step.
    pub fn escalation_phase(&self, phase: StepPhase, took: Duration) {
        self.escalation_phase.get_or_create(&StepPhaseLabels { phase }).observe(took.as_secs_f64());
    }

    /// How late (server clock) an escalation step was claimed.
    pub fn escalation_late(&self, late: Duration) {
        self.escalation_late.observe(late.as_secs_f64());
    }

    /// Counts a sign-in attempt.
    pub fn sign_in(&self, outcome: SignInOutcome) {
        self.signins.get_or_create(&SignInLabels { outcome }).inc();
    }

    /// Counts an account locked.
    pub fn lockout(&self) {
        self.lockouts.inc();
    }

    /// A `/sync` long-poll starts waiting; it counts as waiting until the guard is dropped.
    #[must_use = "the long-poll counts as waiting while the guard lives"]
    pub fn sync_waiting(&self) -> Waiting<'_> {
        self.sync_waiting.inc();
        Waiting(&self.sync_waiting)
    }

    /// Counts bytes of a file stored from an upload.
    pub fn uploaded(&self, bytes: u64) {
        self.uploaded_bytes.inc_by(bytes);
    }

    /// Counts bytes of a file or thumbnail sent.
    pub fn served(&self, kind: Served, bytes: u64) {
        self.served_bytes.get_or_create(&ServedLabels { kind }).inc_by(bytes);
    }

    /// Sets the audit backlog (read when scraped).
    pub(crate) fn set_audit_backlog(&self, records: usize) {
        self.audit_backlog.set(i64::try_from(records).unwrap_or(i64::MAX));
    }
}

/// A long-poll counted as waiting; dropping it (answered, or the client went away) stops
/// counting it.
#[derive(Debug)]
pub struct Waiting<'a>(&'a Gauge);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl WriteObserver for Metrics {
    fn write_queued(&self) {
        self.write_queue.inc();
    }

    fn writes_taken(&self, writes: usize) {
        self.write_queue.dec_by(i64::try_from(writes).unwrap_or(i64::MAX));
    }

    fn group_committed(&self, writes: usize, elapsed: Duration) {
        self.commit_seconds.observe(elapsed.as_secs_f64());
        self.commit_writes.observe(writes as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn counts_appear_in_the_registry_they_were_registered_in() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        m.sign_in(SignInOutcome::BadPassword);
        m.sign_in(SignInOutcome::BadPassword);
        m.sign_in(SignInOutcome::Success);
        m.lockout();
        m.served(Served::Thumbnail, 10);
        m.write_queued();
        m.write_queued();
        m.writes_taken(1);
        m.group_committed(1, Duration::from_micros(300));
        m.escalation_pass(Duration::from_millis(20));
        m.escalation_phase(StepPhase::Claim, Duration::from_millis(2));
        m.escalation_phase(StepPhase::Run, Duration::from_millis(10));
        m.escalation_phase(StepPhase::Run, Duration::from_millis(12));
        m.escalation_late(Duration::from_secs(90));
        let waiting = m.sync_waiting();
        let text = scrape(&registry);
        for line in [
            "wardline_signins_total{outcome=\"bad_password\"} 2",
            "wardline_signins_total{outcome=\"success\"} 1",
            "wardline_account_lockouts_total 1",
            "wardline_media_served_bytes_total{kind=\"thumbnail\"} 10",
            "wardline_store_write_queue 1",
            "wardline_store_commit_duration_seconds_count 1",
            "wardline_sync_waiting 1",
            "wardline_escalation_pass_duration_seconds_count 1",
            "wardline_escalation_step_phase_duration_seconds_count{phase=\"claim\"} 1",
            "wardline_escalation_step_phase_duration_seconds_count{phase=\"run\"} 2",
            "wardline_escalation_step_lateness_seconds_count 1",
            "wardline_escalation_step_lateness_seconds_sum 90.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
        }
        drop(waiting);
        assert!(scrape(&registry).lines().any(|l| l == "wardline_sync_waiting 0"));
        // Another registry's metrics are another set of figures: no global state.
        let other = Metrics::default();
        other.lockout();
        assert!(scrape(&registry).lines().any(|l| l == "wardline_account_lockouts_total 1"));
    }
}
