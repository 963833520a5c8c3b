//! [`AlarmStore`] on SQLite: `alarms`, `alarm_events` and `alarm_intake` (migration 0024). The
//! intake's dedup key, the alarm and its first timeline entry are written in one savepoint of the
//! single writer, so a repeat racing the first is answered from what the first stored.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{
    Alarm, AlarmChange, AlarmEvent, AlarmQuery, AlarmStore, Dispatched, FactToRecord, Intake, IntakeOutcome, NewAlarm,
    Routing, StatusFact, StoreError, StoreResult, StoredRule,
};
use wardline_types::Timestamp;
use wardline_types::alarm::{
    AlarmId, AlarmKind, AlarmOutcome, AlarmState, IntakeProtocol, Location, PatientRef, SourcePriority,
};
use wardline_types::alarm_rule::{AlarmRule, RuleId};
use wardline_types::escalation::Policy;
use wardline_types::integration::IntegrationId;
use wardline_types::priority::Level;

use crate::alarm_dispatch as dispatch;
use crate::rows::{exec, parse_event_id, parse_room, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

pub(crate) const COLUMNS: &str = "seq, id, integration_id, source_id, kind, source_priority, text, site, ward, room, \
     bed, patient, occurred_ts, state, outcome, revision, protocol, received_ts, updated_ts, dispatched_revision, \
     due_ts, rule_id, level, policy, room_id, event_id, ended_ts, details";

/// The raw columns of an alarm row.
pub(crate) struct Row {
    seq: i64,
    id: String,
    integration: String,
    source_id: String,
    kind: String,
    priority: String,
    text: String,
    site: Option<String>,
    ward: Option<String>,
    room: Option<String>,
    bed: Option<String>,
    patient: Option<String>,
    occurred: Option<i64>,
    state: String,
    outcome: String,
    revision: i64,
    protocol: String,
    received: i64,
    updated: i64,
    dispatched: i64,
    due: Option<i64>,
    rule: Option<String>,
    level: Option<String>,
    policy: Option<String>,
    room_id: Option<String>,
    event_id: Option<String>,
    ended: Option<i64>,
    details: Option<String>,
}

pub(crate) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        seq: r.get(0)?,
        id: r.get(1)?,
        integration: r.get(2)?,
        source_id: r.get(3)?,
        kind: r.get(4)?,
        priority: r.get(5)?,
        text: r.get(6)?,
        site: r.get(7)?,
        ward: r.get(8)?,
        room: r.get(9)?,
        bed: r.get(10)?,
        patient: r.get(11)?,
        occurred: r.get(12)?,
        state: r.get(13)?,
        outcome: r.get(14)?,
        revision: r.get(15)?,
        protocol: r.get(16)?,
        received: r.get(17)?,
        updated: r.get(18)?,
        dispatched: r.get(19)?,
        due: r.get(20)?,
        rule: r.get(21)?,
        level: r.get(22)?,
        policy: r.get(23)?,
        room_id: r.get(24)?,
        event_id: r.get(25)?,
        ended: r.get(26)?,
        details: r.get(27)?,
    })
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("alarm: bad {what}"))
}

pub(crate) fn to_alarm(r: Row) -> StoreResult<Alarm> {
    let patient =
        r.patient.map(|p| serde_json::from_str::<PatientRef>(&p).map_err(|_| corrupt("patient"))).transpose()?;
    let routing = match (r.rule, r.level) {
        (Some(rule), Some(level)) => Some(Routing {
            rule: RuleId::parse(&rule).map_err(|_| corrupt("rule"))?,
            level: Level::parse(&level).ok_or_else(|| corrupt("level"))?,
            policy: r.policy.map(|p| serde_json::from_str::<Policy>(&p).map_err(|_| corrupt("policy"))).transpose()?,
            room: r.room_id.as_deref().map(parse_room).transpose()?,
            event: r.event_id.as_deref().map(parse_event_id).transpose()?,
        }),
        _ => None,
    };
    Ok(Alarm {
        seq: u64::try_from(r.seq).map_err(|_| corrupt("seq"))?,
        id: AlarmId::parse(&r.id).map_err(|_| corrupt("id"))?,
        integration: IntegrationId::parse(&r.integration).map_err(|_| corrupt("integration"))?,
        source_id: r.source_id,
        kind: AlarmKind::parse(&r.kind).ok_or_else(|| corrupt("kind"))?,
        priority: SourcePriority::parse(&r.priority).ok_or_else(|| corrupt("priority"))?,
        text: r.text,
        location: Location { site: r.site, ward: r.ward, room: r.room, bed: r.bed },
        patient,
        occurred: r.occurred.map(ts),
        state: AlarmState::parse(&r.state).ok_or_else(|| corrupt("state"))?,
        outcome: AlarmOutcome::parse(&r.outcome).ok_or_else(|| corrupt("outcome"))?,
        revision: u64::try_from(r.revision).map_err(|_| corrupt("revision"))?,
        protocol: IntakeProtocol::parse(&r.protocol).ok_or_else(|| corrupt("protocol"))?,
        received: ts(r.received),
        updated: ts(r.updated),
        dispatched_revision: u64::try_from(r.dispatched).map_err(|_| corrupt("dispatched revision"))?,
        due: r.due.map(ts),
        routing,
        ended: r.ended.map(ts),
        details: r.details,
    })
}

pub(crate) fn read_one(c: &Connection, filter: &str, p: impl rusqlite::Params) -> StoreResult<Option<Alarm>> {
    let r = query_one(c, &format!("SELECT {COLUMNS} FROM alarms WHERE {filter}"), p, row)
        .optional()
        .map_err(backend_err)?;
    r.map(to_alarm).transpose()
}

/// Stores a new alarm and its first timeline entry.
fn insert_alarm(c: &Connection, intake: &Intake, a: &NewAlarm) -> StoreResult<()> {
    let patient = a.patient.as_ref().map(serde_json::to_string).transpose().map_err(|_| corrupt("patient"))?;
    let at = sql_ts(intake.received);
    exec(
        c,
        "INSERT INTO alarms (id, integration_id, source_id, kind, source_priority, text, site, ward, room, bed,
                             patient, occurred_ts, protocol, state, outcome, revision, due_ts, received_ts,
                             updated_ts, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 1, ?16, ?16, ?16, ?17)",
        params![
            a.id.as_str(),
            intake.integration.as_str(),
            a.source_id,
            a.kind.as_str(),
            a.priority.as_str(),
            a.text,
            a.location.site,
            a.location.ward,
            a.location.room,
            a.location.bed,
            patient,
            a.occurred.map(sql_ts),
            intake.protocol.as_str(),
            AlarmState::Active.as_str(),
            AlarmOutcome::Pending.as_str(),
            at,
            a.details,
        ],
    )
    .map_err(backend_err)?;
    let detail = serde_json::json!({ "protocol": intake.protocol.as_str() }).to_string();
    exec(
        c,
        "INSERT INTO alarm_events (alarm_id, revision, ts, kind, detail) VALUES (?1, 1, ?2, 'received', ?3)",
        params![a.id.as_str(), at, detail],
    )
    .map_err(backend_err)?;
    Ok(())
}

/// Opens an alarm in the intake write. Its source id already used: over HTTP a repeat
/// (`Duplicate`, the key not kept); over HL7, where a report of the same alarm again is how a
/// source says it continues, an update of what it says while it is active (else `Ended`).
fn open(c: &Connection, intake: &Intake, new: &NewAlarm) -> StoreResult<IntakeOutcome> {
    let raised =
        read_one(c, "integration_id = ?1 AND source_id = ?2", params![intake.integration.as_str(), new.source_id])?;
    if let Some(alarm) = raised {
        if intake.protocol != IntakeProtocol::Hl7 {
            return Ok(IntakeOutcome::Duplicate { alarm, answer: None });
        }
        if alarm.state != AlarmState::Active {
            return Ok(IntakeOutcome::Ended { alarm });
        }
        return dispatch::update_by_source(
            c,
            intake,
            &alarm.id,
            Some(new.priority),
            Some(&new.text),
            Some(&new.location),
        );
    }
    insert_alarm(c, intake, new)?;
    insert_intake(c, intake, Some(new.id.as_str()))?;
    let alarm = read_one(c, "id = ?1", params![new.id.as_str()])?.ok_or(StoreError::NotFound)?;
    Ok(IntakeOutcome::New { alarm })
}

/// Opens each alert of a result that its integration has not raised yet, brings those it has
/// (still active) up to date, and cancels the active ones the result withdraws.
fn results(
    c: &Connection,
    intake: &Intake,
    alerts: &[NewAlarm],
    withdrawals: &[(String, String)],
) -> StoreResult<IntakeOutcome> {
    let (mut raised, mut changed, mut known) = (Vec::new(), Vec::new(), 0);
    for new in alerts {
        let found =
            read_one(c, "integration_id = ?1 AND source_id = ?2", params![intake.integration.as_str(), new.source_id])?;
        let Some(alarm) = found else {
            insert_alarm(c, intake, new)?;
            raised.push(read_one(c, "id = ?1", params![new.id.as_str()])?.ok_or(StoreError::NotFound)?);
            continue;
        };
        let outcome =
            dispatch::update_by_source(c, intake, &alarm.id, Some(new.priority), Some(&new.text), Some(&new.location))?;
        match outcome {
            IntakeOutcome::Changed { alarm } => {
                exec(c, "UPDATE alarms SET details = ?2 WHERE id = ?1", params![alarm.id.as_str(), new.details])
                    .map_err(backend_err)?;
                changed.push(read_one(c, "id = ?1", params![alarm.id.as_str()])?.ok_or(StoreError::NotFound)?);
            }
            _ => known += 1,
        }
    }
    let mut withdrawn = Vec::new();
    for (source_id, reason) in withdrawals {
        let found =
            read_one(c, "integration_id = ?1 AND source_id = ?2", params![intake.integration.as_str(), source_id])?;
        let Some(alarm) = found.filter(|a| a.state == AlarmState::Active) else { continue };
        if let IntakeOutcome::Changed { alarm } =
            dispatch::end_by_source(c, intake, &alarm.id, AlarmState::Cancelled, Some(reason))?
        {
            withdrawn.push(alarm);
        }
    }
    Ok(IntakeOutcome::Results { raised, changed, known, withdrawn })
}

/// Keeps an HL7 message's key with its answer and the message, whatever it did (a resend of
/// its control id is then answered as it was, never acted on again); the alarm it was about,
/// if any.
fn keep_key(c: &Connection, intake: &Intake, outcome: &IntakeOutcome) -> StoreResult<()> {
    let alarm = match outcome {
        IntakeOutcome::New { alarm }
        | IntakeOutcome::Changed { alarm }
        | IntakeOutcome::Duplicate { alarm, .. }
        | IntakeOutcome::Ended { alarm } => Some(alarm.id.as_str()),
        IntakeOutcome::UnknownAlarm
        | IntakeOutcome::Patient(_)
        | IntakeOutcome::Repeated { .. }
        | IntakeOutcome::Results { .. } => None,
    };
    insert_intake(c, intake, alarm)
}

/// Stores an intake's dedup key with its answer and message, and the alarm it was about (a key
/// already stored is kept as it was).
pub(crate) fn insert_intake(c: &Connection, intake: &Intake, alarm: Option<&str>) -> StoreResult<()> {
    exec(
        c,
        "INSERT INTO alarm_intake (integration_id, protocol, intake_key, alarm_id, answer, raw, received_ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        params![
            intake.integration.as_str(),
            intake.protocol.as_str(),
            intake.intake_key,
            alarm,
            intake.answer,
            intake.raw,
            sql_ts(intake.received),
        ],
    )
    .map_err(backend_err)?;
    Ok(())
}

#[async_trait]
impl AlarmStore for SqliteStore {
    async fn record_intake(&self, intake: Intake) -> StoreResult<IntakeOutcome> {
        self.writer
            .write(move |w| {
                let seen: Option<(Option<String>, String)> = query_one(
                    w.tx,
                    "SELECT alarm_id, answer FROM alarm_intake
                     WHERE integration_id = ?1 AND protocol = ?2 AND intake_key = ?3",
                    params![intake.integration.as_str(), intake.protocol.as_str(), intake.intake_key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend_err)?;
                if let Some((alarm_id, answer)) = seen {
                    let Some(alarm_id) = alarm_id else { return Ok(IntakeOutcome::Repeated { answer }) };
                    let alarm =
                        read_one(w.tx, "id = ?1", params![alarm_id])?.ok_or_else(|| corrupt("intake's alarm"))?;
                    return Ok(IntakeOutcome::Duplicate { alarm, answer: Some(answer) });
                }
                let outcome = match &intake.change {
                    AlarmChange::Open(new) => open(w.tx, &intake, new)?,
                    AlarmChange::Update { alarm, priority, text, location } => {
                        dispatch::update_by_source(w.tx, &intake, alarm, *priority, text.as_deref(), location.as_ref())?
                    }
                    AlarmChange::End { alarm, state, reason } => {
                        dispatch::end_by_source(w.tx, &intake, alarm, *state, reason.as_deref())?
                    }
                    AlarmChange::Adt(update) => IntakeOutcome::Patient(crate::patients::apply(w.tx, update)?),
                    AlarmChange::Results { alerts, withdrawn } => results(w.tx, &intake, alerts, withdrawn)?,
                };
                if intake.protocol == IntakeProtocol::Hl7 {
                    keep_key(w.tx, &intake, &outcome)?;
                }
                Ok(outcome)
            })
            .await
    }

    async fn alarm(&self, id: &AlarmId) -> StoreResult<Option<Alarm>> {
        let id = id.clone();
        self.readers.read(move |c| read_one(c, "id = ?1", params![id.as_str()])).await
    }

    async fn alarm_by_source(&self, integration: &IntegrationId, source_id: &str) -> StoreResult<Option<Alarm>> {
        let (integration, source_id) = (integration.clone(), source_id.to_owned());
        self.readers
            .read(move |c| {
                read_one(c, "integration_id = ?1 AND source_id = ?2", params![integration.as_str(), source_id])
            })
            .await
    }

    async fn alarms(&self, q: AlarmQuery) -> StoreResult<Vec<Alarm>> {
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let after = q.after_seq.map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
        let before = q.before_seq.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
        // Two fixed statements (the order is not a parameter), each cached.
        let order = if q.newest_first { "DESC" } else { "ASC" };
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM alarms
                         WHERE seq > ?1 AND (?6 IS NULL OR seq < ?6)
                           AND (?2 IS NULL OR integration_id = ?2) AND (?3 IS NULL OR state = ?3)
                           AND (?4 IS NULL OR outcome = ?4) AND (?7 IS NULL OR kind = ?7)
                         ORDER BY seq {order} LIMIT ?5"
                    ))
                    .map_err(backend_err)?;
                let rows: Vec<Row> = stmt
                    .query_map(
                        params![
                            after,
                            q.integration.as_ref().map(IntegrationId::as_str),
                            q.state.map(AlarmState::as_str),
                            q.outcome.map(AlarmOutcome::as_str),
                            limit,
                            before,
                            q.kind.map(AlarmKind::as_str),
                        ],
                        row,
                    )
                    .map_err(backend_err)?
                    .collect::<Result<_, _>>()
                    .map_err(backend_err)?;
                rows.into_iter().map(to_alarm).collect()
            })
            .await
    }

    async fn alarm_events(&self, id: &AlarmId) -> StoreResult<Vec<AlarmEvent>> {
        let id = id.clone();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT seq, revision, ts, kind, detail FROM alarm_events WHERE alarm_id = ?1 ORDER BY seq",
                    )
                    .map_err(backend_err)?;
                let rows: Vec<(i64, i64, i64, String, String)> = stmt
                    .query_map(params![id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                    .map_err(backend_err)?
                    .collect::<Result<_, _>>()
                    .map_err(backend_err)?;
                rows.into_iter()
                    .map(|(seq, revision, at, kind, detail)| {
                        Ok(AlarmEvent {
                            seq: u64::try_from(seq).map_err(|_| corrupt("event seq"))?,
                            revision: u64::try_from(revision).map_err(|_| corrupt("event revision"))?,
                            ts: ts(at),
                            kind,
                            detail,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn alarm_for_event(&self, event: &ruma::EventId) -> StoreResult<Option<Alarm>> {
        let event = event.to_owned();
        self.readers.read(move |c| read_one(c, "event_id = ?1", params![event.as_str()])).await
    }

    async fn due_alarms(&self, now: Timestamp, lease_from: Timestamp, limit: usize) -> StoreResult<Vec<Alarm>> {
        self.readers.read(move |c| dispatch::due_alarms(c, now, lease_from, limit)).await
    }

    async fn claim_alarm(
        &self,
        id: &AlarmId,
        revision: u64,
        now: Timestamp,
        lease_from: Timestamp,
    ) -> StoreResult<bool> {
        let id = id.clone();
        self.writer.write(move |w| dispatch::claim_alarm(w.tx, &id, revision, now, lease_from)).await
    }

    async fn finish_dispatch(
        &self,
        id: &AlarmId,
        revision: u64,
        done: Dispatched,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let id = id.clone();
        self.writer.write(move |w| dispatch::finish_dispatch(w.tx, &id, revision, &done, now)).await
    }

    async fn set_alarm_routing(&self, id: &AlarmId, routing: &Routing) -> StoreResult<()> {
        let (id, routing) = (id.clone(), routing.clone());
        self.writer.write(move |w| dispatch::set_routing(w.tx, &id, &routing)).await
    }

    async fn retry_dispatch(&self, id: &AlarmId, revision: u64, due: Timestamp) -> StoreResult<()> {
        let id = id.clone();
        let revision = i64::try_from(revision).unwrap_or(i64::MAX);
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "UPDATE alarms SET claimed_ts = NULL, due_ts = CASE WHEN revision = ?3 THEN ?2 ELSE due_ts END
                     WHERE id = ?1 AND due_ts IS NOT NULL",
                    params![id.as_str(), sql_ts(due), revision],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn next_alarm_due(&self) -> StoreResult<Option<Timestamp>> {
        self.readers
            .read(|c| {
                let next: Option<i64> =
                    query_one(c, "SELECT MIN(due_ts) FROM alarms", [], |r| r.get(0)).map_err(backend_err)?;
                Ok(next.map(ts))
            })
            .await
    }

    async fn followed_alarms(&self, after_seq: u64, settled_since: Timestamp, limit: usize) -> StoreResult<Vec<Alarm>> {
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                dispatch::read_many(
                    c,
                    "seq > ?1 AND (outcome = 'notified'
                        OR (outcome IN ('accepted', 'failsafe') AND ended_ts IS NULL AND received_ts >= ?2))
                     ORDER BY seq LIMIT ?3",
                    params![after, sql_ts(settled_since), limit],
                )
            })
            .await
    }

    async fn record_status(
        &self,
        id: &AlarmId,
        facts: Vec<FactToRecord>,
        outcome: Option<AlarmOutcome>,
    ) -> StoreResult<Vec<StatusFact>> {
        let id = id.clone();
        self.writer.write(move |w| dispatch::record_status(w.tx, &id, &facts, outcome)).await
    }

    async fn alarm_status(&self, id: &AlarmId) -> StoreResult<Vec<StatusFact>> {
        let id = id.clone();
        self.readers.read(move |c| dispatch::alarm_status(c, &id)).await
    }

    async fn alarm_rules(&self) -> StoreResult<Vec<StoredRule>> {
        self.readers.read(dispatch::alarm_rules).await
    }

    async fn set_alarm_rule(
        &self,
        rule: &AlarmRule,
        expected_version: Option<u64>,
        by: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let (rule, by) = (rule.clone(), by.to_owned());
        self.writer.write(move |w| dispatch::set_alarm_rule(w.tx, &rule, expected_version, &by, at)).await
    }

    async fn remove_alarm_rule(&self, id: &RuleId) -> StoreResult<bool> {
        let id = id.clone();
        self.writer.write(move |w| dispatch::remove_alarm_rule(w.tx, &id)).await
    }
}
