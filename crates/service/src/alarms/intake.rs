//! The intake: one entry for every protocol. What the source sent is checked, turned into an
//! [`Intake`] with the answer it will be given, and stored in one write before that answer is
//! returned.

use rand::RngCore;
use serde_json::json;
use wardline_store::{Alarm, AlarmChange, Intake, IntakeOutcome, NewAlarm};
use wardline_types::Timestamp;
use wardline_types::alarm::{
    ALARM_ID_BYTES, AlarmId, AlarmKind, AlarmState, IntakeProtocol, Location, PatientRef, SourcePriority,
    check_source_id, check_text,
};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::integration::IntegrationScope;

use super::AlarmService;
use crate::integrations::IntegrationCaller;
use crate::{ServiceError, ServiceResult};

/// An alarm as a source raises it (the HTTP API's body; later, what HL7 and WCTP carry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmInput {
    /// The source's own id for it: the same id again is the same alarm.
    pub source_id: String,
    /// What kind.
    pub kind: AlarmKind,
    /// How urgent the source says it is.
    pub priority: SourcePriority,
    /// Where (a ward at least).
    pub location: Location,
    /// About whom, if the source says.
    pub patient: Option<PatientRef>,
    /// Its text.
    pub text: String,
    /// When the source says it happened.
    pub occurred_at: Option<Timestamp>,
}

/// What became of an intake.
#[derive(Debug, Clone)]
pub struct Received {
    /// The alarm (as stored by this intake, or by the first one it repeats).
    pub alarm: Alarm,
    /// It repeated an alarm already stored: nothing new was stored.
    pub duplicate: bool,
    /// The answer for the source: the one stored with the first intake, for a repeat.
    pub answer: serde_json::Value,
}

/// What a source says about an alarm, as compared between an intake and its repeat.
#[derive(Debug, PartialEq, Eq)]
struct Sent<'a> {
    kind: AlarmKind,
    priority: SourcePriority,
    text: &'a str,
    location: &'a Location,
    patient: Option<&'a PatientRef>,
    occurred_at: Option<Timestamp>,
}

impl<'a> Sent<'a> {
    fn of(i: &'a AlarmInput) -> Self {
        Self {
            kind: i.kind,
            priority: i.priority,
            text: &i.text,
            location: &i.location,
            patient: i.patient.as_ref(),
            occurred_at: i.occurred_at,
        }
    }

    fn of_alarm(a: &'a Alarm) -> Self {
        Self {
            kind: a.kind,
            priority: a.priority,
            text: &a.text,
            location: &a.location,
            patient: a.patient.as_ref(),
            occurred_at: a.occurred,
        }
    }
}

pub(super) fn new_alarm_id() -> AlarmId {
    let mut bytes = [0u8; ALARM_ID_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    AlarmId::from_bytes(&bytes)
}

/// Longest reason a source gives for ending an alarm.
pub const MAX_REASON_CHARS: usize = 500;

/// The answer an alarm's intake gives.
fn answer_for(id: &AlarmId, state: AlarmState) -> serde_json::Value {
    json!({ "alarm_id": id, "state": state.as_str() })
}

impl AlarmService {
    /// Checks `input` for `caller`: the scope to raise alarms, the kind among those it may
    /// raise, then each field (the error names the one refused).
    fn check(caller: &IntegrationCaller, input: &AlarmInput) -> ServiceResult<()> {
        if !caller.has(IntegrationScope::AlarmsWrite) {
            return Err(ServiceError::forbidden(
                "the integration may not raise alarms: it needs the scope alarms.write",
            ));
        }
        let kinds = &caller.integration.allowed_kinds;
        if !kinds.is_empty() && !kinds.contains(&input.kind) {
            return Err(ServiceError::forbidden(format!(
                "the integration may not raise {} alarms (it may raise: {})",
                input.kind,
                kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let invalid = |e: wardline_types::alarm::AlarmError| ServiceError::invalid(e.to_string());
        check_source_id(&input.source_id).map_err(invalid)?;
        check_text(&input.text).map_err(invalid)?;
        input.location.check().map_err(invalid)?;
        if let Some(p) = &input.patient {
            p.check().map_err(invalid)?;
        }
        Ok(())
    }

    /// Receives an alarm over the HTTP API: checked, stored (with its answer) in one write, and
    /// only then answered. The same source id again is the same alarm (`duplicate`), stored
    /// once. Recorded in the audit trail (its id, kind and priority; never its text or patient).
    pub async fn intake(&self, caller: &IntegrationCaller, mut input: AlarmInput) -> ServiceResult<Received> {
        Self::check(caller, &input)?;
        // Stored as compared: "Ward 7 " is "Ward 7".
        input.location = input.location.trimmed();
        input.patient = input.patient.map(PatientRef::trimmed);
        // What was sent, kept to compare with what a repeat finds stored.
        let copy = input.clone();
        let sent = Sent::of(&copy);
        let id = new_alarm_id();
        let answer = answer_for(&id, AlarmState::Active);
        let intake = Intake {
            integration: caller.integration.id.clone(),
            protocol: IntakeProtocol::Http,
            intake_key: format!("create:{}", input.source_id),
            raw: None,
            received: self.clock.now(),
            change: AlarmChange::Open(Box::new(NewAlarm {
                id,
                source_id: input.source_id,
                kind: input.kind,
                priority: input.priority,
                text: input.text,
                location: input.location,
                patient: input.patient,
                occurred: input.occurred_at,
                details: None,
            })),
            answer: answer.to_string(),
        };
        // The record's place is taken first: an alarm is not stored that the trail could not
        // record.
        let slot = self.audit.reserve()?;
        let received = match self.store.record_intake(intake).await? {
            IntakeOutcome::New { alarm } => Received { alarm, duplicate: false, answer },
            IntakeOutcome::Duplicate { alarm, .. } if Sent::of_alarm(&alarm) != sent => {
                // The same source id for another alarm (a source that reuses its ids): never
                // answered as the first, which would drop this one without a word.
                let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::Alarm, Outcome::Denied);
                r.detail = Some(format!(
                    "refused: source_id already names alarm={} (kind={} priority={}), sent as kind={} priority={}",
                    alarm.id, alarm.kind, alarm.priority, sent.kind, sent.priority
                ));
                slot.record(r);
                return Err(ServiceError::SourceIdReused(format!(
                    "source_id already names another alarm ({}, {} {}): a repeat must be identical; \
                     give a new alarm its own source_id",
                    alarm.id, alarm.kind, alarm.priority
                )));
            }
            IntakeOutcome::Duplicate { alarm, answer: stored } => {
                let answer = stored
                    .and_then(|a| serde_json::from_str(&a).ok())
                    .unwrap_or_else(|| answer_for(&alarm.id, alarm.state));
                Received { alarm, duplicate: true, answer }
            }
            IntakeOutcome::Changed { .. }
            | IntakeOutcome::Ended { .. }
            | IntakeOutcome::UnknownAlarm
            | IntakeOutcome::Patient(_)
            | IntakeOutcome::Repeated { .. }
            | IntakeOutcome::Results { .. } => {
                return Err(ServiceError::Internal("an alarm's opening was stored as a change".into()));
            }
        };
        self.poke();
        let a = &received.alarm;
        let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::Alarm, Outcome::Success);
        r.detail = Some(format!(
            "received alarm={} kind={} priority={} protocol={} duplicate={}",
            a.id,
            a.kind,
            a.priority,
            IntakeProtocol::Http,
            received.duplicate
        ));
        slot.record(r);
        Ok(received)
    }

    /// The source ends one of its alarms (`state`: reset or cancelled), over the HTTP API:
    /// stored (with its answer) in one write, then answered; dispatch then ends its escalation,
    /// tells the conversation and closes an incident. The same request again is answered as the
    /// first; ending it the other way once ended is refused. Audited.
    ///
    /// # Errors
    /// `404` for an alarm the caller did not raise; `409` ([`ServiceError::AlarmEnded`]) once
    /// ended the other way; `400` for a reason too long or on several lines.
    pub async fn end_alarm(
        &self,
        caller: &IntegrationCaller,
        id: &AlarmId,
        state: AlarmState,
        reason: Option<String>,
    ) -> ServiceResult<Received> {
        if !caller.has(IntegrationScope::AlarmsWrite) {
            return Err(ServiceError::forbidden(
                "the integration may not change alarms: it needs the scope alarms.write",
            ));
        }
        let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control)) {
            return Err(ServiceError::invalid(format!("reason: at most {MAX_REASON_CHARS} characters on one line")));
        }
        let answer = answer_for(id, state);
        let intake = Intake {
            integration: caller.integration.id.clone(),
            protocol: IntakeProtocol::Http,
            intake_key: format!("{}:{id}", state.as_str()),
            raw: None,
            received: self.clock.now(),
            change: AlarmChange::End { alarm: id.clone(), state, reason },
            answer: answer.to_string(),
        };
        let slot = self.audit.reserve()?;
        let (alarm, duplicate, answer) = match self.store.record_intake(intake).await? {
            IntakeOutcome::Changed { alarm } => (alarm, false, answer),
            IntakeOutcome::Duplicate { alarm, answer: stored } => {
                let answer = stored.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or(answer);
                (alarm, true, answer)
            }
            IntakeOutcome::Ended { alarm } => {
                return Err(ServiceError::AlarmEnded(format!(
                    "alarm {} has already ended ({}): it cannot be {} now",
                    alarm.id,
                    alarm.state,
                    state.as_str()
                )));
            }
            IntakeOutcome::UnknownAlarm
            | IntakeOutcome::New { .. }
            | IntakeOutcome::Patient(_)
            | IntakeOutcome::Repeated { .. }
            | IntakeOutcome::Results { .. } => {
                return Err(ServiceError::not_found(format!("no alarm {id}")));
            }
        };
        self.poke();
        let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::Alarm, Outcome::Success);
        r.detail = Some(format!("{} alarm={} duplicate={duplicate}", state.as_str(), alarm.id));
        slot.record(r);
        Ok(Received { alarm, duplicate, answer })
    }

    /// The source changes what one of its active alarms says (its priority, text or place),
    /// over the HTTP API: checked, stored in one write, then answered; dispatch then edits its
    /// message (and an incident's title). A change to nothing new is answered as a repeat.
    /// Audited (which fields changed; never the text or the place).
    ///
    /// # Errors
    /// `404` for an alarm the caller did not raise; `409` ([`ServiceError::AlarmEnded`]) once
    /// ended; `400` naming a field refused, or for a change of nothing.
    pub async fn update_alarm(
        &self,
        caller: &IntegrationCaller,
        id: &AlarmId,
        patch: AlarmPatch,
    ) -> ServiceResult<Received> {
        if !caller.has(IntegrationScope::AlarmsWrite) {
            return Err(ServiceError::forbidden(
                "the integration may not change alarms: it needs the scope alarms.write",
            ));
        }
        if patch.priority.is_none() && patch.text.is_none() && patch.location.is_none() {
            return Err(ServiceError::invalid("give priority, text or location to change"));
        }
        let invalid = |e: wardline_types::alarm::AlarmError| ServiceError::invalid(e.to_string());
        if let Some(t) = &patch.text {
            check_text(t).map_err(invalid)?;
        }
        if let Some(l) = &patch.location {
            l.check().map_err(invalid)?;
        }
        let answer = answer_for(id, AlarmState::Active);
        let mut key = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let intake = Intake {
            integration: caller.integration.id.clone(),
            protocol: IntakeProtocol::Http,
            // Never kept: a repeat of an update is known by the alarm already saying it.
            intake_key: format!("update:{id}:{}", hex::encode(key)),
            raw: None,
            received: self.clock.now(),
            change: AlarmChange::Update {
                alarm: id.clone(),
                priority: patch.priority,
                text: patch.text,
                location: patch.location.map(Location::trimmed),
            },
            answer: answer.to_string(),
        };
        let slot = self.audit.reserve()?;
        let (alarm, duplicate) = match self.store.record_intake(intake).await? {
            IntakeOutcome::Changed { alarm } => (alarm, false),
            IntakeOutcome::Duplicate { alarm, .. } => (alarm, true),
            IntakeOutcome::Ended { alarm } => {
                return Err(ServiceError::AlarmEnded(format!(
                    "alarm {} has ended ({}): it cannot be changed",
                    alarm.id, alarm.state
                )));
            }
            IntakeOutcome::UnknownAlarm
            | IntakeOutcome::New { .. }
            | IntakeOutcome::Patient(_)
            | IntakeOutcome::Repeated { .. }
            | IntakeOutcome::Results { .. } => {
                return Err(ServiceError::not_found(format!("no alarm {id}")));
            }
        };
        self.poke();
        let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::Alarm, Outcome::Success);
        r.detail = Some(format!("updated alarm={} revision={} duplicate={duplicate}", alarm.id, alarm.revision));
        slot.record(r);
        Ok(Received { alarm, duplicate, answer })
    }
}

/// What a source changes in an alarm: each part given replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmPatch {
    /// The new priority.
    pub priority: Option<SourcePriority>,
    /// The new text.
    pub text: Option<String>,
    /// The new place.
    pub location: Option<Location>,
}
