//! [`IntegrationOutboxStore`] on SQLite: `integration_outbox` (migration 0026) and the
//! `webhook_url`/`webhook_secret` columns of `integrations` (migration 0023). Whether a report is
//! queued (its integration active, with a webhook) is decided inside the write that queues it;
//! claims are conditional updates in the single writer, so two senders never both take one
//! report while its lease runs, and one alarm's reports are claimed one at a time, in order.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{
    IntegrationOutboxStore, NewReport, Report, ReportChannel, ReportOutcome, ReportQuery, StoreError, StoreResult,
    Webhook,
};
use wardline_types::Timestamp;
use wardline_types::alarm::AlarmId;
use wardline_types::integration::IntegrationId;

use crate::rows::{exec, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const COLUMNS: &str = "seq, id, integration_id, alarm_id, channel, payload, attempts, due_ts, claimed_ts, outcome, \
                       reason, created_ts, done_ts";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("integration outbox: bad {what}"))
}

/// A row as read, before its values are checked.
struct Row {
    seq: i64,
    id: String,
    integration: String,
    alarm: Option<String>,
    channel: String,
    payload: String,
    attempts: i64,
    due: i64,
    claimed: Option<i64>,
    outcome: Option<String>,
    reason: Option<String>,
    created: i64,
    done: Option<i64>,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        seq: r.get(0)?,
        id: r.get(1)?,
        integration: r.get(2)?,
        alarm: r.get(3)?,
        channel: r.get(4)?,
        payload: r.get(5)?,
        attempts: r.get(6)?,
        due: r.get(7)?,
        claimed: r.get(8)?,
        outcome: r.get(9)?,
        reason: r.get(10)?,
        created: r.get(11)?,
        done: r.get(12)?,
    })
}

fn to_report(r: Row) -> StoreResult<Report> {
    Ok(Report {
        seq: r.seq,
        id: r.id,
        integration: IntegrationId::parse(&r.integration).map_err(|_| corrupt("integration id"))?,
        alarm: r.alarm.as_deref().map(AlarmId::parse).transpose().map_err(|_| corrupt("alarm id"))?,
        channel: ReportChannel::parse(&r.channel).ok_or_else(|| corrupt("channel"))?,
        payload: r.payload,
        attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
        due: ts(r.due),
        claimed: r.claimed.map(ts),
        outcome: r.outcome.as_deref().map(|o| ReportOutcome::parse(o).ok_or_else(|| corrupt("outcome"))).transpose()?,
        reason: r.reason,
        created: ts(r.created),
        done: r.done.map(ts),
    })
}

fn read_reports(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<Report>> {
    let rows: Vec<Row> = c.prepare_cached(sql).and_then(|mut s| s.query_map(p, row)?.collect()).map_err(backend_err)?;
    rows.into_iter().map(to_report).collect()
}

/// Queues `reports` inside the caller's transaction: each only if its integration is active and
/// can receive it over its channel (a webhook set, a WCTP reply URL, an HL7 binding asking for status) at that moment, due at its creation, under a
/// new `msg_` id (128 random bits). Returns how many were queued. The alarm-status write calls
/// this, so a status fact and its reports are stored together or not at all.
pub(crate) fn insert_reports(conn: &Connection, reports: &[NewReport]) -> rusqlite::Result<usize> {
    let mut queued = 0;
    for r in reports {
        let reachable = match r.channel {
            ReportChannel::Webhook => "webhook_url IS NOT NULL AND webhook_secret IS NOT NULL",
            // A paging system bound to WCTP with somewhere to post its reports (migration 0029).
            ReportChannel::Wctp => "wctp IS NOT NULL AND wctp_reply_url IS NOT NULL",
            // Its HL7 binding asks for status and says where (migration 0030).
            ReportChannel::Hl7 => "hl7 IS NOT NULL AND hl7_reports = 1",
        };
        queued += exec(
            conn,
            &format!(
                "INSERT INTO integration_outbox (id, integration_id, alarm_id, channel, payload, due_ts, created_ts)
                 SELECT 'msg_' || lower(hex(randomblob(16))), id, ?2, ?3, ?4, ?5, ?5 FROM integrations
                 WHERE id = ?1 AND active = 1 AND {reachable}"
            ),
            params![
                r.integration.as_str(),
                r.alarm.as_ref().map(AlarmId::as_str),
                r.channel.as_str(),
                r.payload,
                sql_ts(r.created),
            ],
        )?;
    }
    Ok(queued)
}

#[async_trait]
impl IntegrationOutboxStore for SqliteStore {
    async fn set_integration_webhook(&self, id: &IntegrationId, webhook: Option<Webhook>) -> StoreResult<bool> {
        let id = id.clone();
        self.writer
            .write(move |w| {
                let before: Option<(bool, bool)> = query_one(
                    w.tx,
                    "SELECT active, webhook_url IS NOT NULL FROM integrations WHERE id = ?1",
                    params![id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend_err)?;
                let had = match before {
                    None => return Err(StoreError::NotFound),
                    Some((false, _)) => return Err(StoreError::Conflict(format!("the integration {id} is revoked"))),
                    Some((true, had)) => had,
                };
                let (url, secret) = webhook.map(|w| (w.url, w.secret)).unzip();
                exec(
                    w.tx,
                    "UPDATE integrations SET webhook_url = ?2, webhook_secret = ?3, version = version + 1
                     WHERE id = ?1",
                    params![id.as_str(), url, secret],
                )
                .map_err(backend_err)?;
                Ok(had)
            })
            .await
    }

    async fn integration_webhook(&self, id: &IntegrationId) -> StoreResult<Option<Webhook>> {
        let id = id.clone();
        self.readers
            .read(move |c| {
                let found: Option<(Option<String>, Option<String>)> = query_one(
                    c,
                    "SELECT webhook_url, webhook_secret FROM integrations WHERE id = ?1",
                    params![id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend_err)?;
                Ok(match found {
                    Some((Some(url), Some(secret))) => Some(Webhook { url, secret }),
                    _ => None,
                })
            })
            .await
    }

    async fn queue_reports(&self, reports: Vec<NewReport>) -> StoreResult<usize> {
        if reports.is_empty() {
            return Ok(0);
        }
        self.writer.write(move |w| insert_reports(w.tx, &reports).map_err(backend_err)).await
    }

    async fn claim_due_reports(&self, now: Timestamp, lease_from: Timestamp, limit: usize) -> StoreResult<Vec<Report>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.writer
            .write(move |w| {
                let mut claimed = read_reports(
                    w.tx,
                    &format!(
                        "UPDATE integration_outbox SET claimed_ts = ?1, attempts = attempts + 1
                         WHERE seq IN (
                            SELECT o.seq FROM integration_outbox o
                            WHERE o.outcome IS NULL AND o.due_ts <= ?1
                              AND (o.claimed_ts IS NULL OR o.claimed_ts < ?2)
                              AND (o.alarm_id IS NULL OR NOT EXISTS (
                                    SELECT 1 FROM integration_outbox e
                                    WHERE e.outcome IS NULL AND e.integration_id = o.integration_id
                                      AND e.alarm_id = o.alarm_id AND e.channel = o.channel AND e.seq < o.seq))
                            ORDER BY o.due_ts, o.seq LIMIT ?3)
                         RETURNING {COLUMNS}"
                    ),
                    params![sql_ts(now), sql_ts(lease_from), limit],
                )?;
                claimed.sort_by_key(|r| (r.due, r.seq));
                Ok(claimed)
            })
            .await
    }

    async fn sent_before(&self, report: &Report) -> StoreResult<bool> {
        let Some(alarm) = report.alarm.clone() else { return Ok(false) };
        let (integration, channel, seq) = (report.integration.clone(), report.channel, report.seq);
        self.readers
            .read(move |c| {
                query_one(
                    c,
                    "SELECT EXISTS (SELECT 1 FROM integration_outbox
                       WHERE integration_id = ?1 AND alarm_id = ?2 AND channel = ?3 AND seq < ?4 AND outcome = ?5)",
                    params![integration.as_str(), alarm.as_str(), channel.as_str(), seq, ReportOutcome::Sent.as_str()],
                    |r| r.get::<_, bool>(0),
                )
                .map_err(backend_err)
            })
            .await
    }

    async fn retry_report(&self, id: &str, due: Timestamp, reason: &str) -> StoreResult<()> {
        let (id, reason) = (id.to_owned(), reason.to_owned());
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "UPDATE integration_outbox SET due_ts = ?2, claimed_ts = NULL, reason = NULLIF(?3, '')
                     WHERE id = ?1 AND outcome IS NULL",
                    params![id, sql_ts(due), reason],
                )
                .map(|_| ())
                .map_err(backend_err)
            })
            .await
    }

    async fn finish_report(&self, id: &str, outcome: ReportOutcome, reason: &str, now: Timestamp) -> StoreResult<bool> {
        let (id, reason) = (id.to_owned(), reason.to_owned());
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "UPDATE integration_outbox SET outcome = ?2, reason = NULLIF(?3, ''), done_ts = ?4, claimed_ts = NULL
                     WHERE id = ?1 AND outcome IS NULL",
                    params![id, outcome.as_str(), reason, sql_ts(now)],
                )
                .map(|n| n > 0)
                .map_err(backend_err)
            })
            .await
    }

    async fn next_report_due(&self) -> StoreResult<Option<Timestamp>> {
        self.readers
            .read(|c| {
                query_one(c, "SELECT MIN(due_ts) FROM integration_outbox WHERE outcome IS NULL", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })
                .map(|v| v.map(ts))
                .map_err(backend_err)
            })
            .await
    }

    async fn pending_reports(&self) -> StoreResult<u64> {
        self.readers
            .read(|c| {
                query_one(c, "SELECT COUNT(*) FROM integration_outbox WHERE outcome IS NULL", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(backend_err)
            })
            .await
    }

    async fn reports(&self, query: ReportQuery) -> StoreResult<Vec<Report>> {
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                read_reports(
                    c,
                    &format!(
                        "SELECT {COLUMNS} FROM integration_outbox
                         WHERE (?1 IS NULL OR integration_id = ?1) AND (?2 IS NULL OR outcome = ?2)
                           AND (?3 = 0 OR outcome IS NULL)
                         ORDER BY seq DESC LIMIT ?4"
                    ),
                    params![
                        query.integration.as_ref().map(IntegrationId::as_str),
                        query.outcome.map(ReportOutcome::as_str),
                        query.pending_only,
                        limit
                    ],
                )
            })
            .await
    }

    async fn forget_reports(&self, before: Timestamp) -> StoreResult<u64> {
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "DELETE FROM integration_outbox WHERE outcome IS NOT NULL AND done_ts < ?1",
                    params![sql_ts(before)],
                )
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(backend_err)
            })
            .await
    }
}
