//! Receiving one HL7 v2 message from the MLLP listener and answering it: the whole path from
//! bytes to acknowledgement, total (every failure becomes an answer, never a panic or silence
//! the sender would wait on, except what MSH-15 asks not to be answered).
//!
//! parse → mode (MSH-15/16) → sender (MSH-3/MSH-4 → the integration bound to them, the
//! connection's address among its allowed ones, and — when the binding pins one — the client
//! certificate the connection's TLS handshake presented) → header (control id, version, processing id,
//! type) → scope → meaning (PCD-04 or ADT) → **one intake write**, keyed
//! `<MSH-3>|<MSH-4>|<MSH-10>` and holding the message and the code it will be answered with →
//! the acknowledgement. A control id already stored is answered with the stored code and acted
//! on no further, whatever the message holds now (a different content is logged). A store that
//! cannot write is answered `AR`/`CR` 207: the sender keeps the message and sends it again.

use std::net::IpAddr;

use rand::RngCore;
use sha2::{Digest, Sha256};
use wardline_store::{AlarmChange, Intake, IntakeOutcome, Integration, NewAlarm};
use wardline_types::alarm::{AlarmKind, AlarmState, IntakeProtocol, Location, SourcePriority};
use wardline_types::alarm_rule::{AlarmFacts, AlarmRule};
use wardline_types::alert_topic::{Observation, ObservationMatch};
use wardline_types::audit::{AuditAction, Outcome as AuditOutcome};
use wardline_types::hl7::write::{AckCode, Answerer, ack};
use wardline_types::hl7::{ErrorCode, Hl7Error, Message, dtm};
use wardline_types::hl7_binding::{Hl7Binding, R40Ack};
use wardline_types::integration::IntegrationScope;

use super::ack::{Mode, Outcome, answer, check_header, mode};
use super::pcd04::Phase;
use super::{adt, oru_r01, pcd04};
use crate::alarms::AlarmService;
use crate::alarms::results::ResultDetails;
use crate::audit::Actor;
use crate::ratelimit::LimitKind;

/// Every message type Wardline takes over HL7 (what else is sent is refused, 200/201).
/// The ward of an alarm whose place neither the report nor the ADT feed gives.
pub const UNKNOWN_PLACE: &str = "Unknown location";

const TAKEN: [(&str, &str); 6] =
    [("ORU", "R40"), ("ORU", "R01"), ("ADT", "A01"), ("ADT", "A02"), ("ADT", "A03"), ("ADT", "A08")];

/// The scope a message type needs.
fn scope_for(code: &str, trigger: &str) -> IntegrationScope {
    match (code, trigger) {
        ("ADT", _) => IntegrationScope::Hl7Adt,
        (_, "R01") => IntegrationScope::Hl7Observations,
        _ => IntegrationScope::Hl7Alarms,
    }
}

/// What became of a message, for its answer and its audit record.
struct Handled {
    outcome: Outcome,
    /// The stored code to send instead (a repeat of a control id).
    replay: Option<AckCode>,
    /// For the record: what it did (`alarm=… new`, `patient applied`, `duplicate`...).
    note: String,
    /// Answered `ORA^R41^ORA_R41` rather than `ACK^R40^ACK` (the sender's binding asks).
    ora_r41: bool,
}

impl Handled {
    fn refused(e: Hl7Error, note: &str) -> Self {
        Self { outcome: Outcome::Refused(e), replay: None, note: note.to_owned(), ora_r41: false }
    }
}

/// The message's text: UTF-8, or else each byte as ISO 8859-1 (HL7's default character set),
/// so any bytes can be read and answered.
fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

/// A value a sender chose, fit for the audit trail and the log: at most 40 characters,
/// letters, digits and `-_.:` only (anything else as `?`).
fn quoted(s: &str) -> String {
    s.chars().take(40).map(|c| if c.is_ascii_alphanumeric() || "-_.:^".contains(c) { c } else { '?' }).collect()
}

/// A short fingerprint of a message's bytes, kept with its answer so a resent control id with
/// other content is noticed.
fn fingerprint(bytes: &[u8]) -> String {
    // The message time (MSH-7) is left out: an engine may stamp a resend anew, and a resend
    // is the same message.
    let end = bytes.iter().position(|b| *b == b'\r' || *b == b'\n').unwrap_or(bytes.len());
    let (msh, rest) = bytes.split_at(end);
    let sep = msh.get(3).copied().unwrap_or(b'|');
    let mut hash = Sha256::new();
    for (i, field) in msh.split(|b| *b == sep).enumerate() {
        hash.update([sep]);
        if i != 6 {
            hash.update(field);
        }
    }
    hash.update(rest);
    hex::encode(hash.finalize().get(..8).unwrap_or_default())
}

fn code_of(stored: &str) -> Option<AckCode> {
    [AckCode::AA, AckCode::AE, AckCode::AR, AckCode::CA, AckCode::CE, AckCode::CR]
        .into_iter()
        .find(|c| stored.split(' ').next() == Some(c.as_str()))
}

fn internal(why: &str) -> Hl7Error {
    Hl7Error::new(ErrorCode::ApplicationError, why)
}

impl AlarmService {
    /// Receives one HL7 message (`bytes`, the MLLP frame's content) from a connection from
    /// `peer`, and returns the acknowledgement to send on it (`None`: MSH-15 asked for none).
    /// `client_cert` is the SHA-256 of the certificate the connection's client presented (TLS
    /// with client certificates), if any. `application` is what Wardline calls itself in the
    /// answer's MSH-3.
    pub async fn receive_hl7(
        &self,
        peer: IpAddr,
        client_cert: Option<&[u8; 32]>,
        bytes: &[u8],
        application: &str,
    ) -> Option<Vec<u8>> {
        let text = text_of(bytes);
        let message = match Message::parse(&text) {
            Ok(m) => m,
            Err(e) => return Some(self.unreadable(&e, application)),
        };
        let mode = mode(&message);
        let handled = self.handle(peer, client_cert, &message, bytes, mode).await;
        let (code, error) = match (&handled.replay, answer(mode, &handled.outcome)) {
            (Some(code), Some(_)) => (*code, None),
            (_, Some((code, error))) => (code, error.cloned()),
            (_, None) => return None,
        };
        let mut reply = ack(&message, code, &self.answerer(application).as_ref(), error.as_ref());
        if handled.ora_r41 {
            reply = reply.replacen("|ACK^R40^ACK|", "|ORA^R41^ORA_R41|", 1);
        }
        tracing::debug!(code = code.as_str(), what = %handled.note, "hl7 message answered");
        Some(reply.into_bytes())
    }

    /// The answer to a frame too large to take, from a connection from `peer`: `AR` (or `CR`
    /// when its header asks for enhanced mode), 207 "message too large". `head` is the start of
    /// the frame (its MSH, if it got that far).
    #[must_use]
    pub fn hl7_too_large(&self, peer: IpAddr, head: &[u8], application: &str) -> Vec<u8> {
        let text = text_of(head);
        let first = text.split(['\r', '\n']).next().unwrap_or_default();
        let e = internal("message too large");
        let Ok(message) = Message::parse(first) else { return self.unreadable(&e, application) };
        let code = match mode(&message) {
            Mode::Original => AckCode::AR,
            Mode::Enhanced { .. } => AckCode::CR,
        };
        self.audit_refused(peer, &message, "too large");
        ack(&message, code, &self.answerer(application).as_ref(), Some(&e)).into_bytes()
    }

    /// The answer to what is not a message at all: `AR` with the reason, with an MSH of our own.
    fn unreadable(&self, e: &Hl7Error, application: &str) -> Vec<u8> {
        let blank = Message::parse("MSH|^~\\&").ok();
        let code = if e.code == ErrorCode::ApplicationError { AckCode::AR } else { AckCode::AE };
        tracing::debug!(error = %e, "an unreadable hl7 message refused");
        match blank {
            Some(m) => ack(&m, code, &self.answerer(application).as_ref(), Some(e)).into_bytes(),
            None => Vec::new(),
        }
    }

    fn answerer(&self, application: &str) -> OwnedAnswerer {
        let mut id = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut id);
        OwnedAnswerer {
            application: application.to_owned(),
            facility: self.server_name.to_string(),
            now: dtm::format(self.clock.now()),
            control_id: format!("WL{}", hex::encode(id)),
        }
    }

    /// Everything between reading a message and answering it.
    async fn handle(
        &self,
        peer: IpAddr,
        client_cert: Option<&[u8; 32]>,
        m: &Message<'_>,
        bytes: &[u8],
        mode: Mode,
    ) -> Handled {
        let Some(msh) = m.msh() else { return Handled::refused(internal("no MSH"), "unreadable") };
        let (app, facility) = (m.text(msh, 3, 1).trim().to_owned(), m.text(msh, 4, 1).trim().to_owned());
        let (integration, binding) = match self.store.integration_by_hl7_sender(&app, &facility).await {
            Ok(Some((i, b))) if b.allows(peer) && b.cert_matches(client_cert) => (i, b),
            Ok(found) => {
                let why = match &found {
                    None => "unknown sender",
                    Some((_, b)) if !b.allows(peer) => "address not allowed",
                    Some(_) if client_cert.is_none() => "no client certificate",
                    Some(_) => "client certificate not the one pinned",
                };
                self.audit_refused(peer, m, why);
                let e = Hl7Error::at(
                    ErrorCode::ApplicationError,
                    "MSH",
                    1,
                    3,
                    0,
                    "sender not authorised: MSH-3 and MSH-4 name no system bound here, or not from this address, \
                     or not with its certificate",
                );
                return Handled::refused(e, why);
            }
            Err(e) => {
                tracing::warn!(error = %e, "an hl7 message could not be checked: the store failed");
                return Handled::refused(internal("could not check the sender: send it again"), "store failed");
            }
        };
        let actor = Actor {
            user_id: match self.integration_user(&integration) {
                Some(u) => u,
                None => return Handled::refused(internal("no user id for the integration"), "no user id"),
            },
            device_id: None,
            ip: Some(peer),
        };
        // The record's place is taken first: nothing is stored that the trail could not record.
        let Ok(slot) = self.audit.reserve() else {
            return Handled::refused(internal("the audit trail cannot record the message: send it again"), "no audit");
        };
        let handled = self.handle_from(&integration, &binding, m, bytes, mode).await;
        let (outcome, result) = match &handled.outcome {
            Outcome::Stored => (AuditOutcome::Success, "stored".to_owned()),
            Outcome::Refused(e) => (AuditOutcome::Denied, format!("refused code={}", e.code.code())),
        };
        let mut r = self.audit.entry(Some(&actor), AuditAction::IntegrationUse, outcome);
        r.detail = Some(format!("hl7 {} {result} {}", describe(m), handled.note));
        slot.record(r);
        handled
    }

    fn integration_user(&self, i: &Integration) -> Option<ruma::OwnedUserId> {
        i.id.user_id(&self.server_name)
    }

    /// The message from a known sender.
    async fn handle_from(
        &self,
        integration: &Integration,
        binding: &Hl7Binding,
        m: &Message<'_>,
        bytes: &[u8],
        mode: Mode,
    ) -> Handled {
        if let Err(e) = check_header(m, &TAKEN, binding.test) {
            return Handled::refused(e, "header refused");
        }
        let (code, trigger, _) = m.message_type();
        let scope = scope_for(&code, &trigger);
        if !integration.scopes.contains(&scope) {
            let e = Hl7Error::at(
                ErrorCode::UnsupportedMessageType,
                "MSH",
                1,
                9,
                0,
                format!("this system may not send {code} messages: it needs the scope {scope}"),
            );
            return Handled::refused(e, "scope missing");
        }
        let received = self.clock.now();
        let ora_r41 = code == "ORU" && trigger == "R40" && binding.r40_ack == R40Ack::OraR41;
        let change = if code == "ADT" {
            match adt::read(m, received) {
                Ok(u) => AlarmChange::Adt(Box::new(u)),
                Err(e) => return Handled::refused(e, "content refused"),
            }
        } else if trigger == "R01" {
            match self.result_change(integration, m).await {
                Ok(change) => change,
                Err(handled) => return *handled,
            }
        } else {
            match self.alarm_change(integration, binding, m).await {
                Ok(change) => change,
                Err(mut handled) => {
                    handled.ora_r41 = ora_r41;
                    return *handled;
                }
            }
        };
        let stored_code = match mode {
            Mode::Original => AckCode::AA,
            Mode::Enhanced { .. } => AckCode::CA,
        };
        let Some(msh) = m.msh() else { return Handled::refused(internal("no MSH"), "unreadable") };
        let key = format!("{}|{}|{}", m.text(msh, 3, 1).trim(), m.text(msh, 4, 1).trim(), m.text(msh, 10, 0).trim());
        let print = fingerprint(bytes);
        let intake = Intake {
            integration: integration.id.clone(),
            protocol: IntakeProtocol::Hl7,
            intake_key: key,
            raw: Some(bytes.to_vec()),
            received,
            change,
            answer: format!("{} {print}", stored_code.as_str()),
        };
        let stored = match self.store.record_intake(intake).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "an hl7 message could not be stored: refused, for its sender to send again");
                return Handled::refused(internal("could not store the message: send it again"), "store failed");
            }
        };
        let mut replay = None;
        let note = match stored {
            IntakeOutcome::New { alarm } => format!("alarm={} new", alarm.id),
            IntakeOutcome::Changed { alarm } => format!("alarm={} revision={}", alarm.id, alarm.revision),
            IntakeOutcome::Ended { alarm } => format!("alarm={} already ended", alarm.id),
            IntakeOutcome::UnknownAlarm => "no such alarm".to_owned(),
            IntakeOutcome::Patient(wardline_store::AdtApplied::Applied(_)) => format!("adt {trigger} applied"),
            IntakeOutcome::Patient(wardline_store::AdtApplied::Stale(_)) => format!("adt {trigger} stale"),
            IntakeOutcome::Duplicate { alarm, answer: None } => format!("alarm={} unchanged", alarm.id),
            IntakeOutcome::Results { raised, changed, known, withdrawn } => {
                let ids = |v: &[wardline_store::Alarm]| v.iter().map(|a| a.id.to_string()).collect::<Vec<_>>();
                format!(
                    "alerts=[{}] updated=[{}] withdrawn=[{}] unchanged={known}",
                    ids(&raised).join(","),
                    ids(&changed).join(","),
                    ids(&withdrawn).join(",")
                )
            }
            IntakeOutcome::Duplicate { answer: Some(a), .. } | IntakeOutcome::Repeated { answer: a } => {
                if a.split(' ').nth(1).is_some_and(|p| p != print) {
                    // Another message under a control id already used (a sender whose counter
                    // was reset): never answered as the first, which would drop it unseen.
                    tracing::error!(
                        integration = %integration.id,
                        "an hl7 control id was sent again with other content: refused, for the sender to number it anew"
                    );
                    let e = Hl7Error::at(
                        ErrorCode::ApplicationError,
                        "MSH",
                        1,
                        10,
                        0,
                        "this control id (MSH-10) was already used for a different message: give each message its own",
                    );
                    return Handled::refused(e, "control id reused for another message");
                }
                replay = code_of(&a);
                "duplicate control id: answered as the first".to_owned()
            }
        };
        self.poke();
        Handled { outcome: Outcome::Stored, replay, note, ora_r41 }
    }

    /// What an `ORU^R40` does: opens (or updates) its alarm, or ends it.
    async fn alarm_change(
        &self,
        integration: &Integration,
        binding: &Hl7Binding,
        m: &Message<'_>,
    ) -> Result<AlarmChange, Box<Handled>> {
        let refused = |e: Hl7Error| Box::new(Handled::refused(e, "content refused"));
        let report = pcd04::read(m).map_err(refused)?;
        if let Phase::Over(reason) = &report.phase {
            let known = self.store.alarm_by_source(&integration.id, &report.source_id).await.map_err(|_| {
                Box::new(Handled::refused(internal("could not read the alarm: send it again"), "store failed"))
            })?;
            // An end of an alarm never raised changes nothing, but is kept and acknowledged.
            let alarm = known.map_or_else(super::super::intake::new_alarm_id, |a| a.id);
            return Ok(AlarmChange::End { alarm, state: AlarmState::Reset, reason: Some(reason.clone()) });
        }
        let kinds = &integration.allowed_kinds;
        if !kinds.is_empty() && !kinds.contains(&binding.default_kind) {
            return Err(Box::new(Handled::refused(
                internal(&format!("this system may not raise {} alarms", binding.default_kind)),
                "kind not allowed",
            )));
        }
        let (location, patient, _) =
            self.place_and_patient(report.location.as_ref(), report.patient.as_ref(), false).await?;
        Ok(AlarmChange::Open(Box::new(NewAlarm {
            id: super::super::intake::new_alarm_id(),
            source_id: report.source_id,
            kind: binding.default_kind,
            priority: report.priority,
            text: report.text,
            location,
            patient,
            occurred: report.occurred,
            details: None,
        })))
    }

    /// Where and about whom an alarm or alert is: as the message says, else as the ADT feed
    /// knows the patient (their bed when the message gives none, their name when it gives
    /// none), else at [`UNKNOWN_PLACE`]; with the specialty the ADT feed knows them under.
    /// `lenient` (a result's): a place or patient Wardline cannot show is never a reason to
    /// refuse: the place is then unknown, and the patient left out.
    async fn place_and_patient(
        &self,
        location: Option<&Location>,
        pid: Option<&super::fields::PidPatient>,
        lenient: bool,
    ) -> Result<(Location, Option<wardline_types::alarm::PatientRef>, Option<String>), Box<Handled>> {
        let refused = |e: Hl7Error| Box::new(Handled::refused(e, "content refused"));
        let mut patient = pid.map(|p| p.patient.clone());
        let known = match pid {
            Some(p) => self.store.patient(&p.key).await.map_err(|_| {
                Box::new(Handled::refused(internal("could not read the patient: send it again"), "store failed"))
            })?,
            None => None,
        };
        if let (Some(p), Some(k)) = (patient.as_mut(), &known)
            && p.name.is_none()
        {
            p.name.clone_from(&k.name);
        }
        let location: Location = match (location, &known) {
            (Some(l), _) => l.clone(),
            (None, Some(k)) if k.location.ward.is_some() && k.discharged.is_none() => k.location.clone(),
            // Where is not known (no PV1-3, and no bed from ADT): the alarm is still raised, at
            // an unknown place no rule names, so the failsafe gets it; never refused and lost
            // (a sender does not resend what was answered AE).
            _ => Location { ward: Some(UNKNOWN_PLACE.to_owned()), ..Location::default() },
        }
        .trimmed();
        let unknown = || Location { ward: Some(UNKNOWN_PLACE.to_owned()), ..Location::default() };
        let location = if lenient && location.check().is_err() { unknown() } else { location };
        if lenient && patient.as_ref().is_some_and(|p| p.check().is_err()) {
            patient = None;
        }
        if location.check().is_err() {
            return Err(refused(Hl7Error::at(
                ErrorCode::DataType,
                "PV1",
                1,
                3,
                0,
                "PV1-3 is not a place Wardline can show",
            )));
        }
        if patient.as_ref().is_some_and(|p| p.check().is_err()) {
            return Err(refused(Hl7Error::at(
                ErrorCode::DataType,
                "PID",
                1,
                3,
                0,
                "PID does not name a patient Wardline can show",
            )));
        }
        let specialty = known.filter(|k| k.discharged.is_none()).and_then(|k| k.specialty);
        Ok((location, patient, specialty))
    }

    /// What an `ORU^R01` does: raises a clinical alert for each observation a rule may cover:
    /// one whose value fits an enabled rule's observation match (and whose place and priority
    /// the rule's other conditions take), or whose code a rule names and whose value cannot rule
    /// the match out (no number, or a bound such as `>6` for `≥ 7`): a person must see that one,
    /// so it is raised and routed as the rules say (the failsafe when no rule fits it). Past
    /// [`oru_r01::MAX_ALERTS`] for one patient, one more alert says how many were not raised.
    /// An observation struck out, or corrected to a value no rule wants, ends the alert it
    /// raised. A result is never refused for a patient's or a place's details.
    async fn result_change(&self, integration: &Integration, m: &Message<'_>) -> Result<AlarmChange, Box<Handled>> {
        let refused = |e: Hl7Error| Box::new(Handled::refused(e, "content refused"));
        let kinds = &integration.allowed_kinds;
        if !kinds.is_empty() && !kinds.contains(&AlarmKind::ClinicalAlert) {
            return Err(Box::new(Handled::refused(
                internal("this system may not raise clinical alerts"),
                "kind not allowed",
            )));
        }
        let rules: Vec<AlarmRule> = self
            .store
            .alarm_rules()
            .await
            .map_err(|_| {
                Box::new(Handled::refused(internal("could not read the rules: send it again"), "store failed"))
            })?
            .into_iter()
            .map(|r| r.rule)
            .filter(|r| r.enabled && !r.id.is_failsafe())
            .filter(|r| r.matches.integrations.is_empty() || r.matches.integrations.contains(&integration.id))
            .filter(|r| r.matches.observation.is_some())
            .collect();
        let matches: Vec<&ObservationMatch> = rules.iter().filter_map(|r| r.matches.observation.as_ref()).collect();
        let report = oru_r01::read(
            m,
            |o: &Observation| matches.iter().any(|w| w.may_fit(o)),
            |o: &Observation| matches.iter().any(|w| w.wants(o)),
        )
        .map_err(refused)?;
        // Only the patients with alerts are read.
        let used = |i: usize| report.alerts.iter().any(|a| a.group == i);
        let mut places = Vec::with_capacity(report.groups.len());
        for (i, g) in report.groups.iter().enumerate() {
            if !used(i) {
                places.push((Location::default(), None, None, None));
                continue;
            }
            let (location, patient, known) =
                self.place_and_patient(g.location.as_ref(), g.patient.as_ref(), true).await?;
            let (specialty, specialty_name) = match &g.specialty {
                Some((code, name)) => (Some(code.clone()), name.clone()),
                None => (known, None),
            };
            places.push((location, patient, specialty, specialty_name));
        }
        let alert = |group: usize, source_id: String, text: String, priority, occurred, observation| {
            let (location, patient, specialty, specialty_name) = places.get(group).cloned().unwrap_or_else(|| {
                (Location { ward: Some(UNKNOWN_PLACE.to_owned()), ..Location::default() }, None, None, None)
            });
            NewAlarm {
                id: super::super::intake::new_alarm_id(),
                source_id,
                kind: AlarmKind::ClinicalAlert,
                priority,
                text,
                location,
                patient,
                occurred,
                details: Some(ResultDetails { observation, specialty, specialty_name }.to_json()),
            }
        };
        // A rule that names the code but not this ward (or priority) does not raise it: the
        // failsafe is for what a rule may want, not for every ward's results. Where the patient
        // is not known, any rule's place may be theirs: raised, for the rules (the failsafe, as
        // no ward rule fits an unknown place) to route.
        let covered = |a: &NewAlarm, o: &Observation| {
            let unknown = a.location.ward.as_deref() == Some(UNKNOWN_PLACE);
            rules.iter().any(|r| {
                let facts = AlarmFacts {
                    kind: AlarmKind::ClinicalAlert,
                    integration: &integration.id,
                    location: if unknown { &r.matches.location } else { &a.location },
                    priority: a.priority,
                    observation: Some(o),
                };
                r.may_cover(&facts)
            })
        };
        let mut withdrawn = report.withdrawn;
        let mut alerts: Vec<NewAlarm> = Vec::new();
        // Per patient: how many kept, and the orders of those past the most.
        let mut kept: Vec<usize> = vec![0; report.groups.len().max(1)];
        let mut past: Vec<(usize, Vec<String>)> = Vec::new();
        for a in report.alerts {
            let new = alert(a.group, a.source_id, a.text, a.priority, a.occurred, Some(a.observation.clone()));
            if !covered(&new, &a.observation) {
                // Raised earlier under another value or rule, it ends: no rule wants it here now.
                let how = if a.corrected { "corrected to" } else { "now" };
                let why = format!("{how} {}: no rule wants this value here", a.observation.value);
                withdrawn.push((new.source_id, why.chars().take(200).collect()));
                continue;
            }
            let Some(n) = kept.get_mut(a.group) else { continue };
            if *n == oru_r01::MAX_ALERTS {
                match past.iter_mut().find(|(g, _)| *g == a.group) {
                    Some((_, orders)) => orders.push(a.order),
                    None => past.push((a.group, vec![a.order])),
                }
                continue;
            }
            *n += 1;
            alerts.push(new);
        }
        for (group, mut orders) in past {
            let n = orders.len();
            let text = format!(
                "{n} more observations of this patient in this result wanted an alert, but one result raises at \
                 most {} per patient: see the patient's record",
                oru_r01::MAX_ALERTS
            );
            // Known by the patient and their orders, so a later result of the same orders is the
            // same alert (its count brought up to date), however the message is numbered.
            orders.sort();
            orders.dedup();
            let patient = report.groups.get(group).and_then(|g| g.patient.as_ref()).map(|p| p.key.clone());
            let key = format!("{}|{}", patient.unwrap_or_default(), orders.join(","));
            let id = format!("r01:more:{}", oru_r01::hashed(&key));
            alerts.push(alert(group, id, text, SourcePriority::High, None, None));
        }
        Ok(AlarmChange::Results { alerts, withdrawn })
    }

    /// Records a message from a sender not taken (unknown, or from another address), within the
    /// small allowance per address that unknown tokens have: a misconfigured system resending
    /// for ever cannot fill the trail.
    fn audit_refused(&self, peer: IpAddr, m: &Message<'_>, why: &str) {
        if self.limiter.check(LimitKind::UnknownToken, &peer.to_string()).is_err() {
            return;
        }
        let mut r = self.audit.entry(None, AuditAction::RequestRefused, AuditOutcome::Denied);
        r.ip = Some(peer.to_string());
        r.detail = Some(format!("hl7 {} reason={why}", describe(m)));
        if let Err(e) = self.audit.record(r) {
            tracing::warn!(target: "audit", error = %e, "a refused hl7 message could not be recorded");
        }
    }
}

/// `type=ORU^R40 control_id=…`, quoted safely.
fn describe(m: &Message<'_>) -> String {
    let (code, event, _) = m.message_type();
    let control = m.msh().map(|h| m.text(h, 10, 0)).unwrap_or_default();
    format!("type={}^{} control_id={}", quoted(&code), quoted(&event), quoted(&control))
}

/// An [`Answerer`] that owns its values.
struct OwnedAnswerer {
    application: String,
    facility: String,
    now: String,
    control_id: String,
}

impl OwnedAnswerer {
    fn as_ref(&self) -> Answerer<'_> {
        Answerer {
            application: &self.application,
            facility: &self.facility,
            now: &self.now,
            control_id: &self.control_id,
        }
    }
}

#[cfg(test)]
mod fingerprint_tests {
    use super::fingerprint;

    #[test]
    fn a_resend_stamped_anew_is_the_same_message_and_any_other_change_is_not() {
        let first = b"MSH|^~\\&|MON|ICU|W|H|20261201101500||ORU^R40^ORU_R40|C1|P|2.6\rOBR|1|A1\r";
        let restamped = b"MSH|^~\\&|MON|ICU|W|H|20261201101600||ORU^R40^ORU_R40|C1|P|2.6\rOBR|1|A1\r";
        let other = b"MSH|^~\\&|MON|ICU|W|H|20261201101500||ORU^R40^ORU_R40|C1|P|2.6\rOBR|1|A2\r";
        let other_header = b"MSH|^~\\&|MON|ICU|W|H|20261201101500||ORU^R40^ORU_R40|C1|T|2.6\rOBR|1|A1\r";
        assert_eq!(fingerprint(first), fingerprint(restamped));
        assert_ne!(fingerprint(first), fingerprint(other));
        assert_ne!(fingerprint(first), fingerprint(other_header));
        assert_ne!(fingerprint(b""), fingerprint(first), "never a panic on nothing");
    }
}
