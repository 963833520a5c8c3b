//! Alarms from hospital systems: the one intake write every protocol ends in, and the alarms
//! and their timelines read back.
//!
//! **Invariant:** an alarm is stored before it is acknowledged. [`AlarmStore::record_intake`]
//! stores, in one transaction, the intake's dedup key with the answer the source will get, the
//! alarm, and the first entry of its timeline; the source is answered only after it commits. A
//! repeat of an intake (the same key) is answered with the stored answer, never stored twice.

use async_trait::async_trait;
use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use wardline_types::Timestamp;
use wardline_types::alarm::{
    AlarmId, AlarmKind, AlarmOutcome, AlarmState, IntakeProtocol, Location, PatientRef, SourcePriority,
};
use wardline_types::alarm_rule::{AlarmRule, RuleId};
use wardline_types::escalation::Policy;
use wardline_types::integration::IntegrationId;
use wardline_types::priority::Level;

use crate::StoreResult;

/// An alarm as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    /// Its place in the log of alarms, in the order they were stored.
    pub seq: u64,
    /// Wardline's id.
    pub id: AlarmId,
    /// The integration that raised it.
    pub integration: IntegrationId,
    /// The source's own id for it, unique within the integration.
    pub source_id: String,
    /// What kind of alarm.
    pub kind: AlarmKind,
    /// How urgent the source says it is.
    pub priority: SourcePriority,
    /// Its text, as the source wrote it.
    pub text: String,
    /// Where.
    pub location: Location,
    /// About whom, if the source said.
    pub patient: Option<PatientRef>,
    /// When the source says it happened (kept, never used for ordering: sources' clocks are not
    /// trusted).
    pub occurred: Option<Timestamp>,
    /// The source's side.
    pub state: AlarmState,
    /// Wardline's side.
    pub outcome: AlarmOutcome,
    /// Bumped by each change from the source.
    pub revision: u64,
    /// How it arrived first.
    pub protocol: IntakeProtocol,
    /// When Wardline received it.
    pub received: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// The revision dispatch has acted on (0: none yet).
    pub dispatched_revision: u64,
    /// When dispatch is due to act on it (a change it has not acted on yet).
    pub due: Option<Timestamp>,
    /// What dispatch decided, once it has.
    pub routing: Option<Routing>,
    /// When it ended: the source reset or cancelled it, or it was closed, and dispatch acted.
    pub ended: Option<Timestamp>,
    /// What its protocol carried beyond the common fields, as JSON, for dispatch and reports (a
    /// WCTP page's recipient, priority and choices); never shown to the source.
    pub details: Option<String>,
}

/// What dispatch decided for an alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// The rule that applied (the failsafe rule when none matched).
    pub rule: RuleId,
    /// The priority it was sent at.
    pub level: Level,
    /// The rule's escalation policy, if it has one (else the conversation's applies).
    pub policy: Option<Policy>,
    /// The conversation it was posted in (`None`: recorded only).
    pub room: Option<OwnedRoomId>,
    /// The message it was posted as.
    pub event: Option<OwnedEventId>,
}

/// An alarm to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlarm {
    /// Its id (made by the caller).
    pub id: AlarmId,
    /// The source's own id for it.
    pub source_id: String,
    /// What kind of alarm.
    pub kind: AlarmKind,
    /// How urgent the source says it is.
    pub priority: SourcePriority,
    /// Its text.
    pub text: String,
    /// Where.
    pub location: Location,
    /// About whom.
    pub patient: Option<PatientRef>,
    /// When the source says it happened.
    pub occurred: Option<Timestamp>,
    /// What its protocol carried beyond the common fields, as JSON ([`Alarm::details`]).
    pub details: Option<String>,
}

/// What an intake does to alarms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmChange {
    /// Opens a new alarm (or finds the one the integration already raised under its source id).
    Open(Box<NewAlarm>),
    /// The source changes what one of its active alarms says: its priority, text or place (each
    /// given replaces the stored one). A change to nothing new is a repeat, written nowhere; the
    /// intake's key is not kept (a repeat is known by the alarm's state).
    Update {
        /// Which alarm (the integration's own).
        alarm: AlarmId,
        /// The new priority.
        priority: Option<SourcePriority>,
        /// The new text.
        text: Option<String>,
        /// The new place.
        location: Option<Location>,
    },
    /// The source ends one of its alarms: the condition has gone (`reset`) or it was raised in
    /// error (`cancelled`).
    End {
        /// Which alarm (the integration's own).
        alarm: AlarmId,
        /// [`AlarmState::Reset`] or [`AlarmState::Cancelled`].
        state: AlarmState,
        /// Why, as the source says.
        reason: Option<String>,
    },
    /// A message that changes no alarm but a patient's record (HL7 ADT): applied in the intake
    /// write (only if not older than the record, [`crate::PatientStore`]), so a message is
    /// acknowledged only once both its key and its effect are stored.
    Adt(Box<crate::PatientUpdate>),
    /// A result (HL7 `ORU^R01`) raising a clinical alert per observation that a rule wants:
    /// each opened, or, when the integration raised one under its source id already and it is
    /// active, brought up to date; and ending (cancelled, with the reason) each active alert
    /// whose observation it strikes out or corrects to a value no rule wants. All in the intake
    /// write (none: the message is only kept).
    Results {
        /// The alerts to raise or bring up to date.
        alerts: Vec<NewAlarm>,
        /// The source ids of alerts to end, if the integration raised them, and why.
        withdrawn: Vec<(String, String)>,
    },
}

/// One message received from a source, to store before it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    /// Who sent it.
    pub integration: IntegrationId,
    /// How.
    pub protocol: IntakeProtocol,
    /// What makes a repeat of it the same message (per integration and protocol): for the HTTP
    /// API `create:<source id>`; for HL7 `<MSH-3>|<MSH-4>|<MSH-10>`, kept for every HL7 message
    /// stored whatever it did, so a resent control id is answered as the first and never acted
    /// on twice.
    pub intake_key: String,
    /// The message as received, when the protocol keeps it (HL7, WCTP).
    pub raw: Option<Vec<u8>>,
    /// When it was received.
    pub received: Timestamp,
    /// What it does.
    pub change: AlarmChange,
    /// The answer the source will be given, replayed to a repeat.
    pub answer: String,
}

/// What an intake did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeOutcome {
    /// A new alarm was stored.
    New {
        /// The alarm.
        alarm: Alarm,
    },
    /// The intake repeats one already stored: nothing was written.
    Duplicate {
        /// The alarm it was about.
        alarm: Alarm,
        /// The answer stored with the first intake (`None` when the alarm was raised under the
        /// same source id by another intake, whose answer this one's is not).
        answer: Option<String>,
    },
    /// The change was stored (the alarm's revision is bumped and dispatch is due to act on it).
    Changed {
        /// The alarm as changed.
        alarm: Alarm,
    },
    /// The change was to an alarm that had already ended otherwise (reset, then cancelled):
    /// nothing was written.
    Ended {
        /// The alarm.
        alarm: Alarm,
    },
    /// The change named an alarm the integration does not have: nothing was written (for HL7,
    /// only the message's key, so a resend is answered as the first).
    UnknownAlarm,
    /// An [`AlarmChange::Adt`] was stored: what it did to the patient's record.
    Patient(crate::AdtApplied),
    /// An [`AlarmChange::Results`] was stored: the alerts it raised, and how many of its
    /// alerts had been raised already.
    Results {
        /// The new alerts.
        raised: Vec<Alarm>,
        /// Alerts raised already under their source ids (an earlier result of the same
        /// order) and still active, brought up to date: their text, priority, place and
        /// details; dispatch edits their message.
        changed: Vec<Alarm>,
        /// Those raised already that this result changes nothing of, or that have ended.
        known: usize,
        /// Active alerts it ended (struck out, or corrected to a value no rule wants).
        withdrawn: Vec<Alarm>,
    },
    /// The intake repeats one already stored that was about no alarm (an ADT message, an HL7
    /// report about an alarm the source never raised): nothing was written.
    Repeated {
        /// The answer stored with the first intake.
        answer: String,
    },
}

/// An entry of an alarm's timeline (append-only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmEvent {
    /// Its place among all alarms' entries.
    pub seq: u64,
    /// The alarm's revision it belongs to.
    pub revision: u64,
    /// When.
    pub ts: Timestamp,
    /// What happened (`received`, later `delivered`, `accepted`...).
    pub kind: String,
    /// Facts about it, as JSON (never the alarm's text).
    pub detail: String,
}

/// Which alarms to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmQuery {
    /// Only this integration's.
    pub integration: Option<IntegrationId>,
    /// Only in this state.
    pub state: Option<AlarmState>,
    /// Only with this outcome.
    pub outcome: Option<AlarmOutcome>,
    /// Only of this kind.
    pub kind: Option<AlarmKind>,
    /// Only those stored after this one (its `seq`).
    pub after_seq: Option<u64>,
    /// Only those stored before this one (its `seq`): paging back through the log.
    pub before_seq: Option<u64>,
    /// The newest first (the latest `limit` of those asked for), not the oldest.
    pub newest_first: bool,
    /// At most this many, oldest first unless `newest_first`.
    pub limit: usize,
}

/// An alarm rule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRule {
    /// The rule.
    pub rule: AlarmRule,
    /// Bumped by each change.
    pub version: u64,
    /// Who changed it last.
    pub updated_by: String,
    /// When.
    pub updated: Timestamp,
}

/// What dispatch did with one revision of an alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    /// What it decided (kept from an earlier revision when `None`).
    pub routing: Option<Routing>,
    /// The alarm's outcome now.
    pub outcome: AlarmOutcome,
    /// The alarm has ended (reset, cancelled or closed, and acted on).
    pub ended: bool,
    /// What to add to its timeline (kind, detail as JSON).
    pub event: (String, String),
}

/// A status fact about an alarm, recorded once per alarm, kind, person and answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFact {
    /// `delivered`, `read`, `accepted`, `declined`, `escalated`, `failsafe`, `undeliverable`...
    pub kind: String,
    /// Whom it is about, if anyone.
    pub user: Option<OwnedUserId>,
    /// The answer it is about (an acceptance, a decline, one taken back), if any: each answer
    /// is a fact of its own.
    pub answer: Option<OwnedEventId>,
    /// Facts about it, as JSON (never the alarm's text).
    pub detail: String,
    /// When.
    pub at: Timestamp,
}

/// A status fact to record, with the reports its source is sent if the fact is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactToRecord {
    /// The fact.
    pub fact: StatusFact,
    /// The reports to queue in the same write if the fact is new, one per channel the source
    /// hears over (each queued only if the integration has somewhere to send it).
    pub reports: Vec<crate::NewReport>,
}

/// Alarms.
#[async_trait]
pub trait AlarmStore: Send + Sync {
    /// The one intake write: in one transaction, refuses a repeat of `intake.intake_key`
    /// ([`IntakeOutcome::Duplicate`] with the stored answer), or finds the alarm the integration
    /// already raised under the same source id ([`IntakeOutcome::Duplicate`] without an answer),
    /// or stores the key with its answer, the alarm (`active`, `pending`, revision 1, due for
    /// dispatch now) and its timeline's first entry ([`IntakeOutcome::New`]).
    async fn record_intake(&self, intake: Intake) -> StoreResult<IntakeOutcome>;
    /// One alarm.
    async fn alarm(&self, id: &AlarmId) -> StoreResult<Option<Alarm>>;
    /// The alarm an integration raised under its own id for it.
    async fn alarm_by_source(&self, integration: &IntegrationId, source_id: &str) -> StoreResult<Option<Alarm>>;
    /// Alarms, oldest first, as the query says.
    async fn alarms(&self, query: AlarmQuery) -> StoreResult<Vec<Alarm>>;
    /// An alarm's timeline, oldest first.
    async fn alarm_events(&self, id: &AlarmId) -> StoreResult<Vec<AlarmEvent>>;
    /// The alarm posted as this message.
    async fn alarm_for_event(&self, event: &ruma::EventId) -> StoreResult<Option<Alarm>>;

    /// Alarms due for dispatch at `now` and not claimed since `lease_from`, oldest first.
    async fn due_alarms(&self, now: Timestamp, lease_from: Timestamp, limit: usize) -> StoreResult<Vec<Alarm>>;
    /// Claims an alarm for dispatch at `now`: `false` if it is not at `revision` any more, not
    /// due, or claimed since `lease_from` by another runner.
    async fn claim_alarm(
        &self,
        id: &AlarmId,
        revision: u64,
        now: Timestamp,
        lease_from: Timestamp,
    ) -> StoreResult<bool>;
    /// Records what dispatch decided, before it acts on it (the conversation's id before the
    /// conversation is created, the rule's policy before the message's escalation opens), so a
    /// dispatch taken over after a crash acts the same way.
    async fn set_alarm_routing(&self, id: &AlarmId, routing: &Routing) -> StoreResult<()>;
    /// Records what dispatch did with `revision` (claimed): the routing, outcome (only while
    /// the alarm is `pending` or `notified`: what became of it stands) and timeline entry, `dispatched_revision`, and releases the claim (due again at once if a newer
    /// revision arrived meanwhile). `false` if the alarm's dispatched revision is already at
    /// least `revision` (another runner finished it).
    async fn finish_dispatch(&self, id: &AlarmId, revision: u64, done: Dispatched, now: Timestamp)
    -> StoreResult<bool>;
    /// Releases the claim of `revision` without acting, due again at `due` (a dispatch that
    /// failed); if a newer revision arrived meanwhile, it stays due when that one made it.
    async fn retry_dispatch(&self, id: &AlarmId, revision: u64, due: Timestamp) -> StoreResult<()>;
    /// When the next alarm falls due for dispatch, if any does.
    async fn next_alarm_due(&self) -> StoreResult<Option<Timestamp>>;
    /// Alarms whose status is followed, oldest first, after `after_seq`: those delivered and
    /// waiting for an acceptance, and those accepted or at the failsafe, not ended, received
    /// since `settled_since` (an acceptance may be taken back, or come after the failsafe).
    async fn followed_alarms(&self, after_seq: u64, settled_since: Timestamp, limit: usize) -> StoreResult<Vec<Alarm>>;
    /// Records status facts, each once (those already recorded are skipped), with a timeline
    /// entry and its report (queued in the same write) for each new one, and sets the outcome
    /// if given (never once the alarm has ended, been closed or recorded only). Returns the
    /// facts that were new.
    async fn record_status(
        &self,
        id: &AlarmId,
        facts: Vec<FactToRecord>,
        outcome: Option<AlarmOutcome>,
    ) -> StoreResult<Vec<StatusFact>>;
    /// An alarm's status facts, in the order recorded.
    async fn alarm_status(&self, id: &AlarmId) -> StoreResult<Vec<StatusFact>>;

    /// Every rule, in the order they are tried (position, then id).
    async fn alarm_rules(&self) -> StoreResult<Vec<StoredRule>>;
    /// Saves a rule: `expected_version` `None` creates it ([`crate::StoreError::Conflict`] if it
    /// exists), `Some(v)` replaces version `v` (`Conflict` if it is not at `v`). Returns the
    /// new version. A rule naming a topic that does not exist is refused in the same write
    /// (`Conflict` beginning [`crate::TOPIC_MISSING`]).
    async fn set_alarm_rule(
        &self,
        rule: &AlarmRule,
        expected_version: Option<u64>,
        by: &str,
        at: Timestamp,
    ) -> StoreResult<u64>;
    /// Removes a rule; `false` if there was none.
    async fn remove_alarm_rule(&self, id: &RuleId) -> StoreResult<bool>;
}
