//! [`AuditStore`] on SQLite.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Transaction, params};
use wardline_store::{AuditStore, StoreError, StoreResult};
use wardline_types::Timestamp;
use wardline_types::audit::{AuditAction, AuditRecord, Checkpoint, GENESIS, HashVersion, NewAuditRecord, Outcome};

use crate::rows::{exec, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

fn head(tx: &rusqlite::Connection) -> StoreResult<(u64, String)> {
    let row: Option<(i64, String)> =
        query_one(tx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend_err)?;
    Ok(row.map_or_else(|| (0, GENESIS.to_owned()), |(s, h)| (u64::try_from(s).unwrap_or(0), h)))
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
                detail, prev_hash, hash, hash_version)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
            n.action.name(),
            n.room_id,
            n.event_id,
            n.target_user,
            n.outcome.name(),
            n.detail,
            linked.prev_hash,
            linked.hash,
            u8::from(linked.hash_version),
        ])
        .map_err(backend_err)?;
        prev = linked.hash;
    }
    Ok(())
}

/// Reads one row, refusing values Wardline never writes (they were changed outside it).
pub(crate) fn record_from_row(r: &rusqlite::Row<'_>) -> Result<AuditRecord, String> {
    let seq: i64 = r.get(0).map_err(|e| e.to_string())?;
    let seq = u64::try_from(seq).map_err(|_| format!("position {seq}"))?;
    let t: i64 = r.get(1).map_err(|e| e.to_string())?;
    let t = u64::try_from(t).map_err(|_| format!("time {t}"))?;
    let action: String = r.get(5).map_err(|e| e.to_string())?;
    let outcome: String = r.get(9).map_err(|e| e.to_string())?;
    let version: i64 = r.get(13).map_err(|e| e.to_string())?;
    let text = |i: usize| r.get::<_, Option<String>>(i).map_err(|e| e.to_string());
    Ok(AuditRecord {
        seq,
        record: NewAuditRecord {
            ts: Timestamp(t),
            actor: text(2)?,
            device: text(3)?,
            ip: text(4)?,
            action: AuditAction::from_name(&action).ok_or_else(|| format!("unknown action {action:?}"))?,
            room_id: text(6)?,
            event_id: text(7)?,
            target_user: text(8)?,
            outcome: Outcome::from_name(&outcome).ok_or_else(|| format!("unknown outcome {outcome:?}"))?,
            detail: text(10)?,
        },
        prev_hash: r.get(11).map_err(|e| e.to_string())?,
        hash: r.get(12).map_err(|e| e.to_string())?,
        hash_version: u8::try_from(version)
            .map_err(|_| format!("unknown audit hash version {version}"))
            .and_then(HashVersion::try_from)?,
    })
}

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
                            prev_hash, hash, hash_version FROM audit_log WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
                    )
                    .map_err(backend_err)?;
                let mut rows = stmt.query(params![from, limit]).map_err(backend_err)?;
                let mut out: Vec<AuditRecord> = Vec::new();
                while let Some(row) = rows.next().map_err(backend_err)? {
                    match record_from_row(row) {
                        Ok(r) => out.push(r),
                        Err(reason) => {
                            // Name the row by its position if that much can be read.
                            let seq = row
                                .get::<_, i64>(0)
                                .ok()
                                .and_then(|s| u64::try_from(s).ok())
                                .unwrap_or_else(|| out.last().map_or(from_seq, |r| r.seq + 1));
                            return Err(StoreError::UnreadableAuditRecord { seq, reason });
                        }
                    }
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
                    "INSERT OR IGNORE INTO audit_checkpoints (seq, hash, ts, signature) VALUES (?1, ?2, ?3, ?4)",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Durability, backend_err};
    use wardline_types::audit::{chain_hash, verify_chain};

    fn sample(ts: u64, actor: &str) -> NewAuditRecord {
        let mut r = NewAuditRecord::new(Timestamp(ts), AuditAction::Login, Outcome::Success);
        r.actor = Some(actor.into());
        r.detail = Some("via=test".into());
        r
    }

    /// A database as Wardline wrote it before hash versions (schema 5): records hashed over
    /// serde_json's output, no `hash_version` column.
    fn old_database(path: &std::path::Path) -> StoreResult<Vec<String>> {
        let mut conn = rusqlite::Connection::open(path).map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in crate::migrations::MIGRATIONS.iter().take(5).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![i64::try_from(i).unwrap_or(0) + 1])
                .map_err(backend_err)?;
        }
        let mut prev = GENESIS.to_owned();
        let mut hashes = Vec::new();
        for seq in 1..=3u64 {
            let r = sample(seq * 10, &format!("@old{seq}:localhost"));
            let hash = chain_hash(HashVersion::V1, seq, &prev, &r).unwrap_or_default();
            tx.execute(
                "INSERT INTO audit_log (seq, ts, actor, action, outcome, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, 'login', 'success', 'via=test', ?4, ?5)",
                params![i64::try_from(seq).unwrap_or(0), sql_ts(r.ts), r.actor, prev, hash],
            )
            .map_err(backend_err)?;
            hashes.push(hash.clone());
            prev = hash;
        }
        tx.commit().map_err(backend_err)?;
        Ok(hashes)
    }

    #[tokio::test]
    async fn records_written_before_hash_versions_still_verify() -> StoreResult<()> {
        let dir = tempfile::tempdir().map_err(backend_err)?;
        let path = dir.path().join("old.db");
        let old_hashes = old_database(&path)?;
        let store = SqliteStore::open(&path, Durability::Normal)?;
        store.append_audit(vec![sample(40, "@new:localhost"), sample(50, "@new:localhost")]).await?;
        let all = store.audit_records(1, 100).await?;
        let versions: Vec<HashVersion> = all.iter().map(|r| r.hash_version).collect();
        assert_eq!(versions, [HashVersion::V1, HashVersion::V1, HashVersion::V1, HashVersion::V2, HashVersion::V2]);
        assert_eq!(all.iter().take(3).map(|r| r.hash.clone()).collect::<Vec<_>>(), old_hashes);
        let head = store.audit_head().await?;
        assert_eq!(verify_chain(&all, 0, GENESIS.to_owned()), Ok(head));
        Ok(())
    }

    #[tokio::test]
    async fn a_record_that_cannot_be_read_is_named() -> StoreResult<()> {
        let dir = tempfile::tempdir().map_err(backend_err)?;
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path, Durability::Normal)?;
        store.append_audit((1..=5).map(|i| sample(i, "@a:localhost")).collect()).await?;
        let conn = rusqlite::Connection::open(&path).map_err(backend_err)?;
        for (sql, seq) in [
            ("UPDATE audit_log SET action = 'login.deleted' WHERE seq = 3", 3),
            ("UPDATE audit_log SET action = 'login', ts = -1 WHERE seq = 3", 3),
            ("UPDATE audit_log SET ts = 3, hash_version = 7 WHERE seq = 3", 3),
            (
                "UPDATE audit_log SET hash_version = 2 WHERE seq = 3; UPDATE audit_log SET outcome = 'ok' WHERE seq = 4",
                4,
            ),
        ] {
            conn.execute_batch(sql).map_err(backend_err)?;
            match store.audit_records(1, 100).await {
                Err(StoreError::UnreadableAuditRecord { seq: s, .. }) => assert_eq!(s, seq, "{sql}"),
                other => panic!("{sql}: {other:?}"),
            }
        }
        // The records before it read as usual.
        assert_eq!(store.audit_records(1, 2).await?.len(), 2);
        Ok(())
    }
}
