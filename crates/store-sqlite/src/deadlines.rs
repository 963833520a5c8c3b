//! [`DeadlineStore`] on SQLite: `answer_deadlines` (migration 0020). Ending is a conditional
//! update in the single writer, so a deadline ends once.

use async_trait::async_trait;
use ruma::EventId;
use rusqlite::{OptionalExtension, params};
use wardline_store::{AnswerDeadline, DeadlineEnd, DeadlineStore, StoreError, StoreResult};
use wardline_types::Timestamp;

use crate::rows::{exec, parse_event_id, parse_room, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const COLUMNS: &str = "event_id, room_id, sender, due_ts, outcome, ended_ts";

type Row = (String, String, String, i64, Option<String>, Option<i64>);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn to_deadline(r: Row) -> StoreResult<AnswerDeadline> {
    let (event_id, room, sender, due, outcome, ended) = r;
    let ended = match (outcome, ended) {
        (Some(o), Some(t)) => Some((
            DeadlineEnd::parse(&o).ok_or_else(|| StoreError::Backend("answer deadline: bad outcome".into()))?,
            ts(t),
        )),
        _ => None,
    };
    Ok(AnswerDeadline {
        event_id: parse_event_id(&event_id)?,
        room_id: parse_room(&room)?,
        sender: parse_user(&sender)?,
        due: ts(due),
        ended,
    })
}

#[async_trait]
impl DeadlineStore for SqliteStore {
    async fn open_deadline(&self, d: AnswerDeadline) -> StoreResult<bool> {
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "INSERT OR IGNORE INTO answer_deadlines (event_id, room_id, sender, due_ts) VALUES (?1, ?2, ?3, ?4)",
                    params![d.event_id.as_str(), d.room_id.as_str(), d.sender.as_str(), sql_ts(d.due)],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn deadline(&self, event_id: &EventId) -> StoreResult<Option<AnswerDeadline>> {
        let id = event_id.to_owned();
        self.readers
            .read(move |c| {
                c.query_row(
                    &format!("SELECT {COLUMNS} FROM answer_deadlines WHERE event_id = ?1"),
                    params![id.as_str()],
                    row,
                )
                .optional()
                .map_err(backend_err)?
                .map(to_deadline)
                .transpose()
            })
            .await
    }

    async fn due_deadlines(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<AnswerDeadline>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM answer_deadlines WHERE outcome IS NULL AND due_ts <= ?1
                         ORDER BY due_ts, event_id LIMIT ?2"
                    ))
                    .map_err(backend_err)?;
                let rows: Vec<Row> = stmt
                    .query_map(params![sql_ts(now), limit], row)
                    .map_err(backend_err)?
                    .collect::<Result<_, _>>()
                    .map_err(backend_err)?;
                rows.into_iter().map(to_deadline).collect()
            })
            .await
    }

    async fn next_deadline_due(&self) -> StoreResult<Option<Timestamp>> {
        self.readers
            .read(|c| {
                query_one(c, "SELECT MIN(due_ts) FROM answer_deadlines WHERE outcome IS NULL", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })
                .map(|v| v.map(ts))
                .map_err(backend_err)
            })
            .await
    }

    async fn end_deadline(&self, event_id: &EventId, end: DeadlineEnd, now: Timestamp) -> StoreResult<bool> {
        let id = event_id.to_owned();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE answer_deadlines SET outcome = ?2, ended_ts = ?3 WHERE event_id = ?1 AND outcome IS NULL",
                    params![id.as_str(), end.as_str(), sql_ts(now)],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }
}
