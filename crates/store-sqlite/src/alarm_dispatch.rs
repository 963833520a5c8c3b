//! The routing half of [`wardline_store::AlarmStore`] on SQLite (migration 0025): a source
//! ending its alarm (inside the intake write), dispatch's claims and results, status facts, and
//! the rules.

use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{
    Alarm, Dispatched, FactToRecord, Intake, IntakeOutcome, Routing, StatusFact, StoreError, StoreResult, StoredRule,
};
use wardline_types::Timestamp;
use wardline_types::alarm::{AlarmId, AlarmOutcome, AlarmState, Location, SourcePriority};
use wardline_types::alarm_rule::{AlarmRule, RuleId};

use crate::alarms::{COLUMNS, corrupt, read_one, row, to_alarm};
use crate::backend_err;
use crate::rows::{exec, parse_event_id, parse_user, query_one, sql_ts, ts};

fn u64_of(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| corrupt(what))
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn add_event(c: &Connection, id: &AlarmId, revision: i64, at: i64, kind: &str, detail: &str) -> StoreResult<()> {
    exec(
        c,
        "INSERT INTO alarm_events (alarm_id, revision, ts, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id.as_str(), revision, at, kind, detail],
    )
    .map_err(backend_err)?;
    Ok(())
}

/// A source ends its alarm, inside the intake write: the state changes, the revision is bumped
/// and dispatch is due to act; the intake key is stored with its answer.
pub(crate) fn end_by_source(
    c: &Connection,
    intake: &Intake,
    id: &AlarmId,
    state: AlarmState,
    reason: Option<&str>,
) -> StoreResult<IntakeOutcome> {
    let Some(alarm) = read_one(c, "id = ?1", params![id.as_str()])? else {
        return Ok(IntakeOutcome::UnknownAlarm);
    };
    if alarm.integration != intake.integration {
        return Ok(IntakeOutcome::UnknownAlarm);
    }
    if alarm.state == state {
        return Ok(IntakeOutcome::Duplicate { alarm, answer: None });
    }
    if alarm.state != AlarmState::Active {
        return Ok(IntakeOutcome::Ended { alarm });
    }
    let at = sql_ts(intake.received);
    exec(
        c,
        "UPDATE alarms SET state = ?2, revision = revision + 1, due_ts = ?3, updated_ts = ?3 WHERE id = ?1",
        params![id.as_str(), state.as_str(), at],
    )
    .map_err(backend_err)?;
    let revision = i64_of(alarm.revision + 1);
    let detail = serde_json::json!({ "protocol": intake.protocol.as_str(), "reason": reason }).to_string();
    add_event(c, id, revision, at, state.as_str(), &detail)?;
    crate::alarms::insert_intake(c, intake, Some(id.as_str()))?;
    let alarm = read_one(c, "id = ?1", params![id.as_str()])?.ok_or(StoreError::NotFound)?;
    Ok(IntakeOutcome::Changed { alarm })
}

/// A source changes what its active alarm says, inside the intake write: the fields given are
/// replaced, the revision bumped and dispatch is due to act; a change to nothing new is a
/// repeat.
pub(crate) fn update_by_source(
    c: &Connection,
    intake: &Intake,
    id: &AlarmId,
    priority: Option<SourcePriority>,
    text: Option<&str>,
    location: Option<&Location>,
) -> StoreResult<IntakeOutcome> {
    let Some(alarm) = read_one(c, "id = ?1", params![id.as_str()])? else {
        return Ok(IntakeOutcome::UnknownAlarm);
    };
    if alarm.integration != intake.integration {
        return Ok(IntakeOutcome::UnknownAlarm);
    }
    if alarm.state != AlarmState::Active {
        return Ok(IntakeOutcome::Ended { alarm });
    }
    let mut changed = Vec::new();
    if priority.is_some_and(|p| p != alarm.priority) {
        changed.push("priority");
    }
    if text.is_some_and(|t| t != alarm.text) {
        changed.push("text");
    }
    if location.is_some_and(|l| *l != alarm.location) {
        changed.push("location");
    }
    if changed.is_empty() {
        return Ok(IntakeOutcome::Duplicate { alarm, answer: None });
    }
    let at = sql_ts(intake.received);
    let l = location.unwrap_or(&alarm.location);
    exec(
        c,
        "UPDATE alarms SET source_priority = ?2, text = ?3, site = ?4, ward = ?5, room = ?6, bed = ?7,
                           revision = revision + 1, due_ts = ?8, updated_ts = ?8
         WHERE id = ?1",
        params![
            id.as_str(),
            priority.unwrap_or(alarm.priority).as_str(),
            text.unwrap_or(&alarm.text),
            l.site,
            l.ward,
            l.room,
            l.bed,
            at
        ],
    )
    .map_err(backend_err)?;
    let detail = serde_json::json!({ "protocol": intake.protocol.as_str(), "changed": changed }).to_string();
    add_event(c, id, i64_of(alarm.revision + 1), at, "updated", &detail)?;
    let alarm = read_one(c, "id = ?1", params![id.as_str()])?.ok_or(StoreError::NotFound)?;
    Ok(IntakeOutcome::Changed { alarm })
}

/// Alarms as the `WHERE … ORDER BY … LIMIT` tail says.
pub(crate) fn read_many(c: &Connection, tail: &str, p: impl rusqlite::Params) -> StoreResult<Vec<Alarm>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM alarms WHERE {tail}")).map_err(backend_err)?;
    let rows: Vec<_> = stmt.query_map(p, row).map_err(backend_err)?.collect::<Result<_, _>>().map_err(backend_err)?;
    rows.into_iter().map(to_alarm).collect()
}

pub(crate) fn due_alarms(
    c: &Connection,
    now: Timestamp,
    lease_from: Timestamp,
    limit: usize,
) -> StoreResult<Vec<Alarm>> {
    read_many(
        c,
        "due_ts IS NOT NULL AND due_ts <= ?1 AND (claimed_ts IS NULL OR claimed_ts < ?2) ORDER BY due_ts, seq LIMIT ?3",
        params![sql_ts(now), sql_ts(lease_from), i64::try_from(limit).unwrap_or(i64::MAX)],
    )
}

pub(crate) fn claim_alarm(
    c: &Connection,
    id: &AlarmId,
    revision: u64,
    now: Timestamp,
    lease_from: Timestamp,
) -> StoreResult<bool> {
    let n = exec(
        c,
        "UPDATE alarms SET claimed_ts = ?3
         WHERE id = ?1 AND revision = ?2 AND due_ts IS NOT NULL AND due_ts <= ?3
           AND (claimed_ts IS NULL OR claimed_ts < ?4)",
        params![id.as_str(), i64_of(revision), sql_ts(now), sql_ts(lease_from)],
    )
    .map_err(backend_err)?;
    Ok(n == 1)
}

pub(crate) fn finish_dispatch(
    c: &Connection,
    id: &AlarmId,
    revision: u64,
    done: &Dispatched,
    now: Timestamp,
) -> StoreResult<bool> {
    let Some(alarm) = read_one(c, "id = ?1", params![id.as_str()])? else { return Err(StoreError::NotFound) };
    if alarm.dispatched_revision >= revision {
        return Ok(false);
    }
    let at = sql_ts(now);
    // A newer change arrived while this one was dispatched: due again at once.
    let due = (alarm.revision > revision).then_some(at);
    exec(
        c,
        "UPDATE alarms SET dispatched_revision = ?2, due_ts = ?3, claimed_ts = NULL, updated_ts = ?5,
                           outcome = CASE WHEN outcome IN ('pending', 'notified') THEN ?4 ELSE outcome END,
                           ended_ts = CASE WHEN ?6 THEN COALESCE(ended_ts, ?5) ELSE ended_ts END
         WHERE id = ?1",
        params![id.as_str(), i64_of(revision), due, done.outcome.as_str(), at, done.ended],
    )
    .map_err(backend_err)?;
    if let Some(r) = &done.routing {
        set_routing(c, id, r)?;
    }
    add_event(c, id, i64_of(revision), at, &done.event.0, &done.event.1)?;
    Ok(true)
}

pub(crate) fn set_routing(c: &Connection, id: &AlarmId, r: &Routing) -> StoreResult<()> {
    let policy = r.policy.as_ref().map(serde_json::to_string).transpose().map_err(|_| corrupt("policy"))?;
    exec(
        c,
        "UPDATE alarms SET rule_id = ?2, level = ?3, policy = ?4, room_id = ?5, event_id = ?6 WHERE id = ?1",
        params![
            id.as_str(),
            r.rule.as_str(),
            r.level.as_str(),
            policy,
            r.room.as_ref().map(|r| r.as_str()),
            r.event.as_ref().map(|e| e.as_str())
        ],
    )
    .map_err(backend_err)?;
    Ok(())
}

pub(crate) fn record_status(
    c: &Connection,
    id: &AlarmId,
    facts: &[FactToRecord],
    outcome: Option<AlarmOutcome>,
) -> StoreResult<Vec<StatusFact>> {
    let Some(alarm) = read_one(c, "id = ?1", params![id.as_str()])? else { return Err(StoreError::NotFound) };
    let mut new = Vec::new();
    for FactToRecord { fact: f, reports } in facts {
        let user = f.user.as_ref().map_or("", |u| u.as_str());
        let answer = f.answer.as_ref().map_or("", |a| a.as_str());
        let n = exec(
            c,
            "INSERT INTO alarm_status (alarm_id, kind, user_id, answer, detail, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO NOTHING",
            params![id.as_str(), f.kind, user, answer, f.detail, sql_ts(f.at)],
        )
        .map_err(backend_err)?;
        if n == 1 {
            let mut detail: serde_json::Value =
                serde_json::from_str(&f.detail).unwrap_or_else(|_| serde_json::json!({}));
            if let (Some(obj), Some(u)) = (detail.as_object_mut(), &f.user) {
                obj.insert("user_id".into(), serde_json::json!(u));
            }
            add_event(c, id, i64_of(alarm.revision), sql_ts(f.at), &f.kind, &detail.to_string())?;
            crate::outbox::insert_reports(c, reports).map_err(backend_err)?;
            new.push(f.clone());
        }
    }
    if let Some(o) = outcome {
        exec(
            c,
            "UPDATE alarms SET outcome = ?2
             WHERE id = ?1 AND outcome NOT IN ('closed', 'recorded') AND ended_ts IS NULL",
            params![id.as_str(), o.as_str()],
        )
        .map_err(backend_err)?;
    }
    Ok(new)
}

pub(crate) fn alarm_status(c: &Connection, id: &AlarmId) -> StoreResult<Vec<StatusFact>> {
    let mut stmt = c
        .prepare_cached("SELECT kind, user_id, answer, detail, ts FROM alarm_status WHERE alarm_id = ?1 ORDER BY rowid")
        .map_err(backend_err)?;
    let rows: Vec<(String, String, String, String, i64)> = stmt
        .query_map(params![id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .map_err(backend_err)?
        .collect::<Result<_, _>>()
        .map_err(backend_err)?;
    rows.into_iter()
        .map(|(kind, user, answer, detail, at)| {
            let user = if user.is_empty() { None } else { Some(parse_user(&user)?) };
            let answer = if answer.is_empty() { None } else { Some(parse_event_id(&answer)?) };
            Ok(StatusFact { kind, user, answer, detail, at: ts(at) })
        })
        .collect()
}

pub(crate) fn alarm_rules(c: &Connection) -> StoreResult<Vec<StoredRule>> {
    let mut stmt = c
        .prepare_cached("SELECT rule, version, updated_by, updated_ts FROM alarm_rules ORDER BY position, id")
        .map_err(backend_err)?;
    let rows: Vec<(String, i64, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(backend_err)?
        .collect::<Result<_, _>>()
        .map_err(backend_err)?;
    rows.into_iter()
        .map(|(rule, version, updated_by, at)| {
            Ok(StoredRule {
                rule: serde_json::from_str::<AlarmRule>(&rule).map_err(|_| corrupt("rule"))?,
                version: u64_of(version, "rule version")?,
                updated_by,
                updated: ts(at),
            })
        })
        .collect()
}

pub(crate) fn set_alarm_rule(
    c: &Connection,
    rule: &AlarmRule,
    expected: Option<u64>,
    by: &str,
    at: Timestamp,
) -> StoreResult<u64> {
    let json = serde_json::to_string(rule).map_err(|_| corrupt("rule"))?;
    // Its topic is checked in the same write that saves it: a topic removed a moment before
    // is never named by a rule (its alerts would have nowhere to go).
    if let Some(topic) = &rule.action.topic {
        let exists = query_one(c, "SELECT 1 FROM alert_topics WHERE id = ?1", params![topic.as_str()], |_| Ok(()))
            .optional()
            .map_err(backend_err)?;
        if exists.is_none() {
            return Err(StoreError::Conflict(format!("{} {topic}", wardline_store::TOPIC_MISSING)));
        }
    }
    let current: Option<i64> =
        query_one(c, "SELECT version FROM alarm_rules WHERE id = ?1", params![rule.id.as_str()], |r| r.get(0))
            .optional()
            .map_err(backend_err)?;
    match (current, expected) {
        (None, None) => {
            exec(
                c,
                "INSERT INTO alarm_rules (id, position, rule, version, updated_by, updated_ts)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5)",
                params![rule.id.as_str(), rule.position, json, by, sql_ts(at)],
            )
            .map_err(backend_err)?;
            Ok(1)
        }
        (Some(v), Some(e)) if u64_of(v, "rule version")? == e => {
            exec(
                c,
                "UPDATE alarm_rules SET position = ?2, rule = ?3, version = version + 1, updated_by = ?4, updated_ts = ?5
                 WHERE id = ?1",
                params![rule.id.as_str(), rule.position, json, by, sql_ts(at)],
            )
            .map_err(backend_err)?;
            Ok(e + 1)
        }
        (None, Some(_)) => Err(StoreError::NotFound),
        _ => Err(StoreError::Conflict(format!("rule {} is at another version", rule.id))),
    }
}

pub(crate) fn remove_alarm_rule(c: &Connection, id: &RuleId) -> StoreResult<bool> {
    Ok(exec(c, "DELETE FROM alarm_rules WHERE id = ?1", params![id.as_str()]).map_err(backend_err)? == 1)
}
