//! What most services share, built once and handed to each service's constructor.

use std::sync::Arc;

use ruma::OwnedServerName;
use wardline_store::Store;
use wardline_types::Clock;

use crate::audit::AuditService;
use crate::metrics::Metrics;
use crate::notifier::Notifier;
use crate::ratelimit::RateLimiter;
use crate::settings::SettingsHandle;

/// The store, the clock, who this server is, and the cross-cutting helpers.
#[derive(Debug, Clone)]
pub struct Core {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// This server's name.
    pub server_name: OwnedServerName,
    /// Wakes long-polls.
    pub notifier: Notifier,
    /// The audit recorder.
    pub audit: AuditService,
    /// Rate limits.
    pub limiter: RateLimiter,
    /// Settings that change at run time.
    pub settings: SettingsHandle,
    /// What monitoring scrapes.
    pub metrics: Metrics,
}
