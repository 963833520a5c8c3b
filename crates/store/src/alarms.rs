//! Alarms from hospital systems: the one intake write every protocol ends in, and the alarms
//! and their timelines read back.
//!
//! **Invariant:** an alarm is stored before it is acknowledged. [`AlarmStore::record_intake`]
//! stores, in one transaction, the intake's dedup key with the answer the source will get, the
//! alarm, and the first entry of its timeline; the source is answered only after it commits. A
//! repeat of an intake (the same key) is answered with the stored answer, never stored twice.

use async_trait::async_trait;
use wardline_types::Timestamp;
use wardline_types::alarm::{
    AlarmId, AlarmKind, AlarmOutcome, AlarmState, IntakeProtocol, Location, PatientRef, SourcePriority,
};
use wardline_types::integration::IntegrationId;

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
}

/// What an intake does to alarms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmChange {
    /// Opens a new alarm (or finds the one the integration already raised under its source id).
    Open(NewAlarm),
}

/// One message received from a source, to store before it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    /// Who sent it.
    pub integration: IntegrationId,
    /// How.
    pub protocol: IntakeProtocol,
    /// What makes a repeat of it the same message (per integration and protocol): for the HTTP
    /// API `create:<source id>`.
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
    /// Only those stored after this one (its `seq`).
    pub after_seq: Option<u64>,
    /// At most this many, oldest first.
    pub limit: usize,
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
}
