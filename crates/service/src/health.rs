//! Whether this server can do its work: what load balancers and supervisors ask
//! (`/_wardline/health/live`, `/_wardline/health/ready`).
//!
//! Ready means the store accepts writes now (its writer runs, and a small write commits) and
//! the audit trail is being written (its writer stores what is queued, and the queue is not
//! close to full), and the server is not shutting down. Concurrent checks share one write
//! probe, so however often the endpoint is asked, at most one probe is under way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use wardline_store::Store;

use crate::audit::AuditService;

/// Longest wait for the write probe's commit before the store is reported not ready (a commit
/// takes milliseconds even under load; a writer waiting for another process's lock, or for a
/// disk that stopped answering, takes longer).
pub const PROBE_WAIT: Duration = Duration::from_secs(2);

/// Why a check failed. The texts are fixed, so the unauthenticated endpoint reveals nothing
/// more; the details go to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// The store's writer stopped: no write can succeed until the process restarts.
    WriterStopped,
    /// The store refused the probe's write.
    WriteRefused,
    /// The probe's write did not commit within [`PROBE_WAIT`].
    WriteTooSlow,
    /// The audit writer cannot store its records.
    AuditRefused,
    /// The audit writer has stopped.
    AuditStopped,
    /// Records wait in the audit queue beyond [`AUDIT_BACKLOG_PERCENT`] of its capacity.
    AuditBacklog,
    /// The server is shutting down.
    ShuttingDown,
}

/// Above this share of its capacity, the audit queue is backlogged: audited actions are about
/// to be refused.
pub const AUDIT_BACKLOG_PERCENT: usize = 90;

impl Trouble {
    /// What failed, in words.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::WriterStopped => "the database writer has stopped",
            Self::WriteRefused => "the database refused a write",
            Self::WriteTooSlow => "a write did not commit in time",
            Self::AuditRefused => "audit records cannot be stored",
            Self::AuditStopped => "the audit writer has stopped",
            Self::AuditBacklog => "the audit queue is nearly full",
            Self::ShuttingDown => "the server is shutting down",
        }
    }
}

/// The outcome of each readiness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// The server is not shutting down.
    pub server: Result<(), Trouble>,
    /// The store accepts writes.
    pub store: Result<(), Trouble>,
    /// The audit trail is being written.
    pub audit: Result<(), Trouble>,
}

impl Readiness {
    /// Did every check pass?
    #[must_use]
    pub fn ready(&self) -> bool {
        self.server.is_ok() && self.store.is_ok() && self.audit.is_ok()
    }
}

/// The health checks.
pub struct HealthService {
    store: Arc<dyn Store>,
    audit: AuditService,
    /// Probes started so far.
    probes: AtomicU64,
    /// The last probe finished: its number and outcome. Held while a probe runs.
    last_probe: tokio::sync::Mutex<Option<(u64, Result<(), Trouble>)>>,
    shutting_down: AtomicBool,
    /// The last answer, to log only changes.
    was_ready: AtomicBool,
}

impl std::fmt::Debug for HealthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthService").finish_non_exhaustive()
    }
}

impl HealthService {
    /// Health checks over the store and the audit recorder.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, audit: AuditService) -> Self {
        Self {
            store,
            audit,
            probes: AtomicU64::new(0),
            last_probe: tokio::sync::Mutex::new(None),
            shutting_down: AtomicBool::new(false),
            was_ready: AtomicBool::new(true),
        }
    }

    /// From now on the server reports itself not ready, so load balancers send it nothing new.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Runs every readiness check.
    pub async fn readiness(&self) -> Readiness {
        let server = if self.shutting_down.load(Ordering::Relaxed) { Err(Trouble::ShuttingDown) } else { Ok(()) };
        let store = if !self.store.health().writer_running { Err(Trouble::WriterStopped) } else { self.probe().await };
        let audit = self.audit.health().map_err(|trouble| match trouble {
            crate::audit::AuditTrouble::Refused => Trouble::AuditRefused,
            crate::audit::AuditTrouble::Stopped => Trouble::AuditStopped,
            crate::audit::AuditTrouble::Backlog => Trouble::AuditBacklog,
        });
        let readiness = Readiness { server, store, audit };
        let ready = readiness.ready();
        if self.was_ready.swap(ready, Ordering::Relaxed) != ready {
            if ready {
                tracing::warn!("the server is ready again");
            } else {
                tracing::error!(server = ?readiness.server, store = ?readiness.store, audit = ?readiness.audit, "the server is not ready");
            }
        }
        readiness
    }

    /// A write through the store's writer, or the outcome of one that started after this call
    /// began (while this call waited for it).
    async fn probe(&self) -> Result<(), Trouble> {
        let arrived = self.probes.load(Ordering::Acquire);
        let mut last = self.last_probe.lock().await;
        if let Some((number, outcome)) = *last
            && number > arrived
        {
            return outcome;
        }
        let number = self.probes.fetch_add(1, Ordering::AcqRel) + 1;
        let outcome = match tokio::time::timeout(PROBE_WAIT, self.store.probe_write()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the readiness probe's write failed");
                Err(Trouble::WriteRefused)
            }
            Err(_) => Err(Trouble::WriteTooSlow),
        };
        *last = Some((number, outcome));
        outcome
    }

    /// Resolves once the store's writer has stopped for good: the process should then exit, so
    /// that its supervisor restarts it, rather than answer reads and fail every write.
    pub async fn writer_stopped(&self) {
        self.store.writer_stopped().await;
    }
}

#[cfg(test)]
mod tests;
