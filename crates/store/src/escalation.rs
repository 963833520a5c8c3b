//! Escalations of urgent and emergency messages, and the policies they follow.

use async_trait::async_trait;
use ruma::{EventId, OwnedEventId, OwnedRoomId, OwnedUserId};
use wardline_types::Timestamp;
use wardline_types::escalation::Policy;
use wardline_types::priority::Level;

use crate::StoreResult;

/// An escalation to open for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEscalation {
    /// The message.
    pub event_id: OwnedEventId,
    /// Its conversation.
    pub room_id: OwnedRoomId,
    /// Its sender.
    pub sender: OwnedUserId,
    /// Its level.
    pub level: Level,
    /// The policy it follows: a copy, so a later change of policy leaves it as it was.
    pub policy: Policy,
    /// When the message was sent (the steps' delays count from here).
    pub sent: Timestamp,
}

/// How an escalation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EscalationEnd {
    /// Someone accepted the message.
    Accepted,
    /// It ran to its failsafe.
    Failsafe,
    /// The message was deleted.
    Cancelled,
}

impl EscalationEnd {
    /// `accepted`, `failsafe`, `cancelled`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Failsafe => "failsafe",
            Self::Cancelled => "cancelled",
        }
    }

    /// From its name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "accepted" => Some(Self::Accepted),
            "failsafe" => Some(Self::Failsafe),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A step that ran, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// Its index in the policy (0-based).
    pub step: usize,
    /// When it finished.
    pub ts: Timestamp,
    /// What it did, in words ("Re-notified Dr Shah"; "Nobody holds Consultant: next step").
    pub summary: String,
}

/// An escalation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// The message.
    pub event_id: OwnedEventId,
    /// Its conversation.
    pub room_id: OwnedRoomId,
    /// Its sender.
    pub sender: OwnedUserId,
    /// Its level.
    pub level: Level,
    /// The policy it follows.
    pub policy: Policy,
    /// When the message was sent.
    pub sent: Timestamp,
    /// The next step to run (the policy's length once all ran).
    pub step: usize,
    /// When the next step runs; `None` once ended.
    pub due: Option<Timestamp>,
    /// When the next step was claimed by a runner, if it was and has not finished.
    pub claimed: Option<Timestamp>,
    /// How it ended, and when; `None` while open.
    pub ended: Option<(EscalationEnd, Timestamp)>,
    /// The answer that ended it as accepted (the latest, if it was reopened and accepted again).
    pub accepted_by: Option<OwnedEventId>,
    /// The steps that ran, in order.
    pub log: Vec<StepRecord>,
}

/// Escalations and their policies.
///
/// **Invariant:** a step runs at most once to completion: a runner claims step `n`
/// ([`EscalationStore::claim_step`]) before acting and records it done
/// ([`EscalationStore::finish_step`]) after, both conditional on the stored step. A claim older
/// than the lease may be taken over (the runner died mid-step; its effects are idempotent), so a
/// crash neither skips a step nor runs it twice to completion.
#[async_trait]
pub trait EscalationStore: Send + Sync {
    /// Opens an escalation, due at `sent` + the first step's delay; `false` if the message
    /// already has one (nothing changes).
    async fn open_escalation(&self, e: NewEscalation) -> StoreResult<bool>;
    /// The escalation of a message, with its log.
    async fn escalation(&self, event_id: &EventId) -> StoreResult<Option<Escalation>>;
    /// Open escalations whose next step is due at `now` (and not claimed, or claimed before
    /// `lease_from`), earliest first, at most `limit`.
    async fn due_escalations(
        &self,
        now: Timestamp,
        lease_from: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Escalation>>;
    /// Open escalations of messages in `rooms`, oldest message first, at most `limit`.
    async fn open_escalations_in(&self, rooms: &[OwnedRoomId], limit: usize) -> StoreResult<Vec<Escalation>>;
    /// When the earliest open escalation is due.
    async fn next_escalation_due(&self) -> StoreResult<Option<Timestamp>>;
    /// Claims step `step` at `now` if the escalation is open, at that step, and not claimed
    /// since `lease_from`.
    async fn claim_step(
        &self,
        event_id: &EventId,
        step: usize,
        now: Timestamp,
        lease_from: Timestamp,
    ) -> StoreResult<bool>;
    /// Records step `record.step` done and moves to the next, due at `next_due` (`None`: the
    /// escalation ends as `end`, at `record.ts`); only if the escalation is open at that step.
    async fn finish_step(
        &self,
        event_id: &EventId,
        record: StepRecord,
        next_due: Option<Timestamp>,
        end: EscalationEnd,
    ) -> StoreResult<bool>;
    /// Makes an open escalation's next step due at `now`, if it is still at `step` (the step the
    /// decline was read against: one that another runner finished meanwhile was the decline's
    /// step, so the next keeps its time) and due later.
    async fn hasten_escalation(&self, event_id: &EventId, step: usize, now: Timestamp) -> StoreResult<bool>;
    /// Opens again, due at `now`, an escalation that ended as accepted (the acceptance was
    /// withdrawn); `false` if it had not ended so.
    async fn reopen_escalation(&self, event_id: &EventId, now: Timestamp) -> StoreResult<bool>;
    /// Ends an open escalation as accepted by the answer `answer`, at `now`; `false` if it was
    /// not open.
    async fn accept_escalation(&self, event_id: &EventId, answer: &EventId, now: Timestamp) -> StoreResult<bool>;
    /// Ends an open escalation as `end` at `now`; `false` if it was not open.
    async fn end_escalation(&self, event_id: &EventId, end: EscalationEnd, now: Timestamp) -> StoreResult<bool>;

    /// Sets the policy of `scope` (a [`wardline_types::escalation::Scope::key`]) for `level`.
    async fn set_escalation_policy(
        &self,
        scope: &str,
        level: Level,
        policy: &Policy,
        by: &ruma::UserId,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Removes it; `false` if there was none.
    async fn remove_escalation_policy(&self, scope: &str, level: Level) -> StoreResult<bool>;
    /// The policy of `scope` for `level`, if set.
    async fn escalation_policy(&self, scope: &str, level: Level) -> StoreResult<Option<Policy>>;
    /// Every policy set: scope, level, policy.
    async fn escalation_policies(&self) -> StoreResult<Vec<(String, Level, Policy)>>;
}
