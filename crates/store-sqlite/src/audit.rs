//! [`AuditStore`] on SQLite.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Transaction, params};
use wardline_store::{AuditStore, StoreResult};
use wardline_types::audit::{AuditRecord, Checkpoint, GENESIS, NewAuditRecord};

use crate::rows::{corrupt, exec, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

fn head(tx: &rusqlite::Connection) -> StoreResult<(u64, String)> {
    let row: Option<(i64, String)> =
        query_one(tx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend_err)?;
    Ok(row.map_or_else(|| (0, GENESIS.to_owned()), |(s, h)| (u64::try_from(s).unwrap_or(0), h)))
}

fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(ToOwned::to_owned)).unwrap_or_default()
}

fn enum_from<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|e| corrupt("audit enum", e))
}

/// Links records onto the chain inside a write transaction. The head is read from the database,
/// so other processes writing the same file (the command line) keep one chain.
pub(crate) fn append(tx: &Transaction<'_>, records: Vec<NewAuditRecord>) -> StoreResult<()> {
    if records.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev) = head(tx)?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO audit_log (seq, ts, actor, device, ip, action, room_id, event_id, target_user, outcome,
                detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .map_err(backend_err)?;
    for r in records {
        seq += 1;
        let linked = AuditRecord::link(seq, &prev, r);
        let n = &linked.record;
        stmt.execute(params![
            i64::try_from(seq).unwrap_or(i64::MAX),
            sql_ts(n.ts),
            n.actor,
            n.device,
            n.ip,
            enum_text(&n.action),
            n.room_id,
            n.event_id,
            n.target_user,
            enum_text(&n.outcome),
            n.detail,
            linked.prev_hash,
            linked.hash,
        ])
        .map_err(backend_err)?;
        prev = linked.hash;
    }
    Ok(())
}

type Row = (
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
);

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, records: Vec<NewAuditRecord>) -> StoreResult<()> {
        self.writer.write(move |w| append(w.tx, records)).await
    }

    async fn audit_records(&self, from_seq: u64, limit: usize) -> StoreResult<Vec<AuditRecord>> {
        let from = i64::try_from(from_seq).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read_blocking(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT seq, ts, actor, device, ip, action, room_id, event_id, target_user, outcome, detail,
                            prev_hash, hash FROM audit_log WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
                    )
                    .map_err(backend_err)?;
                let rows = stmt
                    .query_map(params![from, limit], |r| {
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
                            r.get(12)?,
                        ))
                    })
                    .map_err(backend_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (
                        seq,
                        t,
                        actor,
                        device,
                        ip,
                        action,
                        room_id,
                        event_id,
                        target_user,
                        outcome,
                        detail,
                        prev_hash,
                        hash,
                    ): Row = row.map_err(backend_err)?;
                    out.push(AuditRecord {
                        seq: u64::try_from(seq).unwrap_or(0),
                        record: NewAuditRecord {
                            ts: ts(t),
                            actor,
                            device,
                            ip,
                            action: enum_from(&action)?,
                            room_id,
                            event_id,
                            target_user,
                            outcome: enum_from(&outcome)?,
                            detail,
                        },
                        prev_hash,
                        hash,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn audit_head(&self) -> StoreResult<(u64, String)> {
        self.readers.read(head).await
    }

    async fn put_checkpoint(&self, cp: Checkpoint) -> StoreResult<()> {
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "INSERT OR REPLACE INTO audit_checkpoints (seq, hash, ts, signature) VALUES (?1, ?2, ?3, ?4)",
                    params![i64::try_from(cp.seq).unwrap_or(i64::MAX), cp.hash, sql_ts(cp.ts), cp.signature],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        self.readers
            .read_blocking(|c| {
                let mut stmt = c
                    .prepare_cached("SELECT seq, hash, ts, signature FROM audit_checkpoints ORDER BY seq")
                    .map_err(backend_err)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok(Checkpoint {
                            seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                            hash: r.get(1)?,
                            ts: ts(r.get(2)?),
                            signature: r.get(3)?,
                        })
                    })
                    .map_err(backend_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(backend_err)
            })
            .await
    }
}
