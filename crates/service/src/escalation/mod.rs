//! Escalation: an urgent or emergency message is followed until someone accepts it, step by
//! step, by the policy that applies, and never ends silently: the last step is the failsafe.
//!
//! - `policies.rs`: which policy applies to a message (the conversation's, else a role's of the
//!   conversation, else the organisation's, else the built-in one ending at the organisation's
//!   administrators), and setting policies (refused without a failsafe that can be reached);
//! - `engine.rs`: the background task `run_escalations`. It follows the stream of events from
//!   a stored cursor, opening an escalation for each urgent or emergency message and reading
//!   the answers (an acceptance ends it, a decline runs the next step at once, a deleted message
//!   cancels it); and it runs the steps that are due by the injected clock;
//! - `deadlines.rs`: answer deadlines ("tell me if nobody has answered in N minutes"), stored
//!   timers the same pass runs;
//! - `by_source.rs`: alarms from hospital systems escalate by their rule's policy and end when
//!   their source ends them;
//! - `waiting.rs`: the messages still escalating that wait for someone's answer (the client's
//!   emergency banner);
//! - `steps.rs`: what a step does (re-notify who has not answered, bring in covers, roles,
//!   people, the failsafe) and the notice the server's own member posts for it in the
//!   conversation.
//!
//! **Invariants.** Everything that matters is in the store: the escalation (with a copy of its
//! policy), its next step and when it is due, the log of steps; the engine keeps nothing but a
//! cache of its cursor. A step is claimed before it acts and recorded done after
//! ([`wardline_store::EscalationStore`]); a runner that dies mid-step leaves a claim that
//! another takes over after [`LEASE_MS`], and the step's effects are idempotent (notices carry
//! a transaction id derived from the message and the step; bringing in someone already there
//! changes nothing), so a crash neither skips nor doubles a step. Every opening, step and end
//! is in the audit trail.
//!
//! **Order.** A message, its answers and its deletion are in one conversation, so the engine
//! handles conversations side by side and each conversation's events, then its due steps, one
//! at a time in order: an acceptance is never read after a later decline of the same message,
//! and a conversation's notices come in the order their steps fell due.

mod by_source;
mod deadlines;
mod engine;
mod policies;
mod steps;
#[cfg(test)]
mod tests;
mod waiting;

use std::sync::{Arc, Mutex};

use wardline_store::Store;
use wardline_types::{Clock, StreamPos};

use crate::audit::AuditService;
use crate::core::Core;
use crate::messaging::StatusService;
use crate::rooms::RoomService;

pub use engine::CURSOR;
pub use policies::PolicyScope;
pub use steps::NOTICE;
pub use waiting::Waiting;

/// How long a claimed step is held by its runner before another may take it over.
pub const LEASE_MS: u64 = 60_000;

/// Escalation of urgent and emergency messages.
pub struct EscalationService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditService,
    rooms: Arc<RoomService>,
    status: Arc<StatusService>,
    /// Woken when a message is sent, so a decline or an urgent message is looked at at once.
    wake: tokio::sync::Notify,
    /// The engine's position as last stored (`None`: not read yet).
    cursor: Mutex<Option<StreamPos>>,
    /// Where the engine's timings are counted.
    metrics: crate::metrics::Metrics,
}

impl std::fmt::Debug for EscalationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscalationService").finish_non_exhaustive()
    }
}

impl EscalationService {
    /// An escalation service.
    pub fn new(core: &Core, rooms: Arc<RoomService>, status: Arc<StatusService>) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            audit: core.audit.clone(),
            rooms,
            status,
            wake: tokio::sync::Notify::new(),
            cursor: Mutex::new(None),
            metrics: core.metrics.clone(),
        }
    }

    /// Wakes the engine: something was sent.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// The escalation of a message, if it has one (for its status; the caller checked that the
    /// reader may see the message).
    pub async fn of_message(
        &self,
        event_id: &ruma::EventId,
    ) -> crate::ServiceResult<Option<wardline_store::Escalation>> {
        Ok(self.store.escalation(event_id).await?)
    }

    /// The answer deadline of a message, if it has one (for its status; the caller checked that
    /// the reader may see the message).
    pub async fn deadline_of(
        &self,
        event_id: &ruma::EventId,
    ) -> crate::ServiceResult<Option<wardline_store::AnswerDeadline>> {
        Ok(self.store.deadline(event_id).await?)
    }

    /// A person's name as colleagues see it: their display name, else their username.
    async fn name_of(&self, user: &ruma::UserId) -> crate::ServiceResult<String> {
        let account = self.store.account(user).await?;
        Ok(account.and_then(|a| a.display_name).unwrap_or_else(|| user.localpart().to_owned()))
    }
}
