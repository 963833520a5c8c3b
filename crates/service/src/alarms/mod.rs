//! Alarms from hospital systems ([`wardline_types::alarm`]): receiving them from every protocol
//! through one intake, and reading them back.
//!
//! **Invariant:** an alarm is stored before it is acknowledged. [`AlarmService::intake`] checks
//! what the source sent, then makes the one intake write
//! ([`wardline_store::AlarmStore::record_intake`]); only once that has committed does it return
//! the answer the source is given. A crash before the commit leaves no trace, and the source,
//! unanswered, sends again; a crash after it loses nothing. A repeat of an alarm (its source id
//! again, with the same content) is the same alarm, answered as the first was; a different alarm
//! under a source id already used is refused, never taken for a repeat.
//!
//! Alarms wait `pending` here: routing them to the people who must act (rules, conversations,
//! escalation) is later work.

pub mod hl7;
mod intake;

use std::sync::Arc;

use wardline_store::{Alarm, AlarmEvent, AlarmQuery, Store};
use wardline_types::Clock;
use wardline_types::alarm::AlarmId;

use crate::audit::AuditService;
use crate::core::Core;
use crate::integrations::IntegrationCaller;
use crate::{ServiceError, ServiceResult};

pub use intake::{AlarmInput, Received};

/// Most alarms listed at once.
pub const MAX_LIST: usize = 500;

/// Receives alarms and reads them back.
pub struct AlarmService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditService,
}

impl std::fmt::Debug for AlarmService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlarmService").finish_non_exhaustive()
    }
}

impl AlarmService {
    /// The service.
    #[must_use]
    pub fn new(core: &Core) -> Self {
        Self { store: Arc::clone(&core.store), clock: Arc::clone(&core.clock), audit: core.audit.clone() }
    }

    /// One of the caller's alarms with its timeline (another integration's is not found, as an
    /// unknown one).
    pub async fn get(&self, caller: &IntegrationCaller, id: &AlarmId) -> ServiceResult<(Alarm, Vec<AlarmEvent>)> {
        match self.store.alarm(id).await? {
            Some(a) if a.integration == caller.integration.id => {
                let events = self.store.alarm_events(id).await?;
                Ok((a, events))
            }
            _ => Err(ServiceError::not_found(format!("no alarm {id}"))),
        }
    }

    /// The caller's alarm raised under its own id `source_id`.
    pub async fn by_source(&self, caller: &IntegrationCaller, source_id: &str) -> ServiceResult<Alarm> {
        self.store
            .alarm_by_source(&caller.integration.id, source_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("no alarm with that source_id"))
    }

    /// Alarms as the query says (at most [`MAX_LIST`]), oldest first: the administrators' log.
    pub async fn list(&self, mut query: AlarmQuery) -> ServiceResult<Vec<Alarm>> {
        query.limit = query.limit.clamp(1, MAX_LIST);
        Ok(self.store.alarms(query).await?)
    }
}

#[cfg(test)]
mod tests;
