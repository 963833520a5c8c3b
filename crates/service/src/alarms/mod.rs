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
//! **Invariant:** an alarm is never silently dropped. Once stored it is due for dispatch
//! (`dispatch.rs`), which claims it under a lease and routes it by the rules (`rules.rs`): the
//! first enabled rule that covers it, else the failsafe rule, which always exists and always
//! reaches someone (and the source is told the alarm was `undeliverable` by its own rules). A
//! rule posts it into a conversation (the rule's standing one, an incident's own, or a clinical
//! alert's own with the topic's subscribers whose scope covers it), where it
//! escalates by the rule's policy like any urgent message (`escalation/`), or records it only
//! (an administrator's explicit choice, reported to the source as `recorded`). What becomes of
//! it (delivered, read, accepted, declined, escalated, failsafe) is followed from the message's
//! status and escalation (`follow.rs`) and recorded once per fact. Every effect of dispatch is
//! idempotent (the conversation's id derives from the rule or alarm, the message has a
//! transaction id per revision), so a dispatch taken over after a crash repeats nothing.
//!
//! - `intake.rs`: the one entry every protocol's alarms come through;
//! - `rules.rs`: rules, checked when saved, and routing;
//! - `content.rs`: what the alarm's message and incident say;
//! - `dispatch.rs`: the background task that delivers alarms and acts on the source's changes;
//! - `follow.rs`: status facts from the message's status and escalation;
//! - `incidents.rs`: incidents as their members see them, and closing one;
//! - `report.rs`: each new fact's report to its source, queued with it;
//! - `results.rs`: the observation a clinical alert (from `ORU^R01`) was raised by;
//! - `topics.rs`: clinical alert topics, subscriptions, and who a topic's alert reaches;
//! - `wctp/`: pages over WCTP 1.3, delivered to the recipient they name, reported in WCTP.

mod content;
mod dispatch;
mod follow;
pub mod hl7;
mod incidents;
mod intake;
mod moves;
mod report;
pub(crate) mod results;
mod rules;
mod topics;
pub mod wctp;

use std::sync::Arc;

use wardline_store::{Alarm, AlarmEvent, AlarmQuery, StatusFact, Store};
use wardline_types::Clock;
use wardline_types::alarm::AlarmId;

use crate::audit::AuditService;
use crate::core::Core;
use crate::escalation::EscalationService;
use crate::integrations::{IntegrationCaller, IntegrationOutbox};
use crate::messaging::StatusService;
use crate::rooms::RoomService;
use crate::{ServiceError, ServiceResult};

pub use incidents::{Incident, Responder};
pub use intake::{AlarmInput, AlarmPatch, Received};
pub use topics::TopicChoice;

/// Most alarms listed at once.
pub const MAX_LIST: usize = 500;

/// An alarm with what happened to it.
#[derive(Debug, Clone)]
pub struct AlarmView {
    /// The alarm.
    pub alarm: Alarm,
    /// Its timeline.
    pub events: Vec<AlarmEvent>,
    /// Its status facts.
    pub status: Vec<StatusFact>,
}

/// Receives alarms and reads them back.
pub struct AlarmService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditService,
    rooms: Arc<RoomService>,
    escalation: Arc<EscalationService>,
    status: Arc<StatusService>,
    outbox: Arc<IntegrationOutbox>,
    limiter: crate::ratelimit::RateLimiter,
    server_name: ruma::OwnedServerName,
    /// Woken when an alarm is stored or changed, so dispatch acts at once.
    wake: tokio::sync::Notify,
    /// What the status passes remember.
    follow_cache: std::sync::Mutex<follow::FollowCache>,
}

impl std::fmt::Debug for AlarmService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlarmService").finish_non_exhaustive()
    }
}

impl AlarmService {
    /// The service.
    #[must_use]
    pub fn new(
        core: &Core,
        rooms: Arc<RoomService>,
        escalation: Arc<EscalationService>,
        status: Arc<StatusService>,
        outbox: Arc<IntegrationOutbox>,
    ) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            audit: core.audit.clone(),
            rooms,
            escalation,
            status,
            outbox,
            limiter: core.limiter.clone(),
            server_name: core.server_name.clone(),
            wake: tokio::sync::Notify::new(),
            follow_cache: std::sync::Mutex::default(),
        }
    }

    /// Wakes dispatch: an alarm was stored or changed.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// One of the caller's alarms with its timeline (another integration's is not found, as an
    /// unknown one).
    pub async fn get(&self, caller: &IntegrationCaller, id: &AlarmId) -> ServiceResult<AlarmView> {
        match self.store.alarm(id).await? {
            Some(a) if a.integration == caller.integration.id => self.view(a).await,
            _ => Err(ServiceError::not_found(format!("no alarm {id}"))),
        }
    }

    /// An alarm with its timeline and status facts (the caller checked who may see it).
    pub async fn view(&self, alarm: Alarm) -> ServiceResult<AlarmView> {
        let events = self.store.alarm_events(&alarm.id).await?;
        let status = self.store.alarm_status(&alarm.id).await?;
        Ok(AlarmView { alarm, events, status })
    }

    /// One alarm, for an administrator.
    pub async fn for_admin(&self, id: &AlarmId) -> ServiceResult<AlarmView> {
        match self.store.alarm(id).await? {
            Some(a) => self.view(a).await,
            None => Err(ServiceError::not_found(format!("no alarm {id}"))),
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
