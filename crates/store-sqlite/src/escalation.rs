//! [`EscalationStore`] on SQLite: `escalations`, the append-only `escalation_steps` and
//! `escalation_policies` (migration 0019). Claims and step changes are conditional updates in
//! the single writer, so two runners can never both move a step on.

use async_trait::async_trait;
use ruma::{EventId, OwnedRoomId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{Escalation, EscalationEnd, EscalationStore, NewEscalation, StepRecord, StoreError, StoreResult};
use wardline_types::Timestamp;
use wardline_types::escalation::Policy;
use wardline_types::priority::Level;

use crate::rows::{exec, parse_event_id, parse_room, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const COLUMNS: &str =
    "event_id, room_id, sender, level, policy, sent_ts, step, due_ts, claimed_ts, outcome, ended_ts, accepted_by";

type Row = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
    ))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("escalation: bad {what}"))
}

fn level(s: &str) -> StoreResult<Level> {
    Level::parse(s).ok_or_else(|| corrupt("level"))
}

fn policy(s: &str) -> StoreResult<Policy> {
    serde_json::from_str(s).map_err(|_| corrupt("policy"))
}

fn to_escalation(c: &Connection, r: Row) -> StoreResult<Escalation> {
    let (event_id, room, sender, lvl, pol, sent, step, due, claimed, outcome, ended, accepted_by) = r;
    let ended = match (outcome, ended) {
        (Some(o), Some(t)) => Some((EscalationEnd::parse(&o).ok_or_else(|| corrupt("outcome"))?, ts(t))),
        _ => None,
    };
    let mut stmt = c
        .prepare_cached("SELECT step, ts, summary FROM escalation_steps WHERE event_id = ?1 ORDER BY step")
        .map_err(backend_err)?;
    let log = stmt
        .query_map(params![event_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))
        .map_err(backend_err)?
        .map(|r| {
            let (step, t, summary) = r.map_err(backend_err)?;
            Ok(StepRecord { step: usize::try_from(step).map_err(|_| corrupt("step"))?, ts: ts(t), summary })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Escalation {
        event_id: parse_event_id(&event_id)?,
        room_id: parse_room(&room)?,
        sender: parse_user(&sender)?,
        level: level(&lvl)?,
        policy: policy(&pol)?,
        sent: ts(sent),
        step: usize::try_from(step).map_err(|_| corrupt("step"))?,
        due: due.map(ts),
        claimed: claimed.map(ts),
        ended,
        accepted_by: accepted_by.as_deref().map(parse_event_id).transpose()?,
        log,
    })
}

fn read_many(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<Escalation>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend_err)?;
    let rows: Vec<Row> = stmt.query_map(p, row).map_err(backend_err)?.collect::<Result<_, _>>().map_err(backend_err)?;
    rows.into_iter().map(|r| to_escalation(c, r)).collect()
}

fn step_i64(step: usize) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

#[async_trait]
impl EscalationStore for SqliteStore {
    async fn open_escalation(&self, e: NewEscalation) -> StoreResult<bool> {
        let first = e.policy.steps.first().map(|s| s.after_ms).ok_or_else(|| corrupt("policy without steps"))?;
        let due = Timestamp(e.sent.0.saturating_add(first));
        let policy = serde_json::to_string(&e.policy).map_err(|_| corrupt("policy"))?;
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "INSERT OR IGNORE INTO escalations (event_id, room_id, sender, level, policy, sent_ts, step, due_ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
                    params![
                        e.event_id.as_str(),
                        e.room_id.as_str(),
                        e.sender.as_str(),
                        e.level.as_str(),
                        policy,
                        sql_ts(e.sent),
                        sql_ts(due)
                    ],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn escalation(&self, event_id: &EventId) -> StoreResult<Option<Escalation>> {
        let id = event_id.to_owned();
        self.readers
            .read(move |c| {
                let r = query_one(
                    c,
                    &format!("SELECT {COLUMNS} FROM escalations WHERE event_id = ?1"),
                    params![id.as_str()],
                    row,
                )
                .optional()
                .map_err(backend_err)?;
                r.map(|r| to_escalation(c, r)).transpose()
            })
            .await
    }

    async fn open_escalations_in(&self, rooms: &[OwnedRoomId], limit: usize) -> StoreResult<Vec<Escalation>> {
        let rooms = serde_json::to_string(&rooms).map_err(|_| corrupt("room list"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                read_many(
                    c,
                    &format!(
                        "SELECT {COLUMNS} FROM escalations
                         WHERE outcome IS NULL AND room_id IN (SELECT value FROM json_each(?1))
                         ORDER BY sent_ts, event_id LIMIT ?2"
                    ),
                    params![rooms, limit],
                )
            })
            .await
    }

    async fn due_escalations(
        &self,
        now: Timestamp,
        lease_from: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Escalation>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                read_many(
                    c,
                    &format!(
                        "SELECT {COLUMNS} FROM escalations
                         WHERE outcome IS NULL AND due_ts <= ?1 AND (claimed_ts IS NULL OR claimed_ts < ?2)
                         ORDER BY due_ts LIMIT ?3"
                    ),
                    params![sql_ts(now), sql_ts(lease_from), limit],
                )
            })
            .await
    }

    async fn next_escalation_due(&self) -> StoreResult<Option<Timestamp>> {
        self.readers
            .read(|c| {
                query_one(c, "SELECT MIN(due_ts) FROM escalations WHERE outcome IS NULL", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })
                .map(|v| v.map(ts))
                .map_err(backend_err)
            })
            .await
    }

    async fn claim_step(
        &self,
        event_id: &EventId,
        step: usize,
        now: Timestamp,
        lease_from: Timestamp,
    ) -> StoreResult<bool> {
        let id = event_id.to_owned();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE escalations SET claimed_ts = ?3
                     WHERE event_id = ?1 AND step = ?2 AND outcome IS NULL
                       AND (claimed_ts IS NULL OR claimed_ts < ?4)",
                    params![id.as_str(), step_i64(step), sql_ts(now), sql_ts(lease_from)],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn finish_step(
        &self,
        event_id: &EventId,
        record: StepRecord,
        next_due: Option<Timestamp>,
        end: EscalationEnd,
    ) -> StoreResult<bool> {
        let id = event_id.to_owned();
        self.writer
            .write(move |w| {
                let (outcome, ended) = match next_due {
                    Some(_) => (None, None),
                    None => (Some(end.as_str()), Some(sql_ts(record.ts))),
                };
                let n = exec(
                    w.tx,
                    "UPDATE escalations SET step = step + 1, claimed_ts = NULL, due_ts = ?3, outcome = ?4, ended_ts = ?5
                     WHERE event_id = ?1 AND step = ?2 AND outcome IS NULL",
                    params![id.as_str(), step_i64(record.step), next_due.map(sql_ts), outcome, ended],
                )
                .map_err(backend_err)?;
                if n == 1 {
                    exec(
                        w.tx,
                        "INSERT INTO escalation_steps (event_id, step, ts, summary) VALUES (?1, ?2, ?3, ?4)",
                        params![id.as_str(), step_i64(record.step), sql_ts(record.ts), record.summary],
                    )
                    .map_err(backend_err)?;
                }
                Ok(n == 1)
            })
            .await
    }

    async fn hasten_escalation(&self, event_id: &EventId, step: usize, now: Timestamp) -> StoreResult<bool> {
        let id = event_id.to_owned();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE escalations SET due_ts = ?2 WHERE event_id = ?1 AND outcome IS NULL AND due_ts > ?2 AND step = ?3",
                    params![id.as_str(), sql_ts(now), step_i64(step)],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn reopen_escalation(&self, event_id: &EventId, now: Timestamp) -> StoreResult<bool> {
        let id = event_id.to_owned();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE escalations SET outcome = NULL, ended_ts = NULL, due_ts = ?2, claimed_ts = NULL
                     WHERE event_id = ?1 AND outcome = 'accepted' AND step < json_array_length(policy, '$.steps')",
                    params![id.as_str(), sql_ts(now)],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn accept_escalation(&self, event_id: &EventId, answer: &EventId, now: Timestamp) -> StoreResult<bool> {
        let (id, answer) = (event_id.to_owned(), answer.to_owned());
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE escalations SET outcome = 'accepted', ended_ts = ?3, accepted_by = ?2, due_ts = NULL, claimed_ts = NULL
                     WHERE event_id = ?1 AND outcome IS NULL",
                    params![id.as_str(), answer.as_str(), sql_ts(now)],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn end_escalation(&self, event_id: &EventId, end: EscalationEnd, now: Timestamp) -> StoreResult<bool> {
        let id = event_id.to_owned();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE escalations SET outcome = ?2, ended_ts = ?3, due_ts = NULL, claimed_ts = NULL
                     WHERE event_id = ?1 AND outcome IS NULL",
                    params![id.as_str(), end.as_str(), sql_ts(now)],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn set_escalation_policy(
        &self,
        scope: &str,
        level: Level,
        policy: &Policy,
        by: &UserId,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (scope, by) = (scope.to_owned(), by.to_owned());
        let policy = serde_json::to_string(policy).map_err(|_| corrupt("policy"))?;
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "INSERT INTO escalation_policies (scope, level, policy, updated_by, updated_ts) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (scope, level) DO UPDATE SET policy = ?3, updated_by = ?4, updated_ts = ?5",
                    params![scope, level.as_str(), policy, by.as_str(), sql_ts(at)],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn remove_escalation_policy(&self, scope: &str, level: Level) -> StoreResult<bool> {
        let scope = scope.to_owned();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "DELETE FROM escalation_policies WHERE scope = ?1 AND level = ?2",
                    params![scope, level.as_str()],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn escalation_policy(&self, scope: &str, level: Level) -> StoreResult<Option<Policy>> {
        let scope = scope.to_owned();
        self.readers
            .read(move |c| {
                let p = query_one(
                    c,
                    "SELECT policy FROM escalation_policies WHERE scope = ?1 AND level = ?2",
                    params![scope, level.as_str()],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(backend_err)?;
                p.as_deref().map(policy).transpose()
            })
            .await
    }

    async fn escalation_policies(&self) -> StoreResult<Vec<(String, Level, Policy)>> {
        self.readers
            .read(|c| {
                let mut stmt = c
                    .prepare_cached("SELECT scope, level, policy FROM escalation_policies ORDER BY scope, level")
                    .map_err(backend_err)?;
                let rows: Vec<(String, String, String)> = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(backend_err)?
                    .collect::<Result<_, _>>()
                    .map_err(backend_err)?;
                rows.into_iter().map(|(s, l, p)| Ok((s, level(&l)?, policy(&p)?))).collect()
            })
            .await
    }
}
