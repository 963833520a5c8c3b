//! A consistent copy of the database while the server runs, for `wardline backup`.
//!
//! The copy is made by `VACUUM INTO` on a read-only connection of its own, which may belong to
//! another process than the server's: in WAL mode the copy reads one snapshot (the database as
//! of one commit) while the server's writer goes on committing. What a backup must say about
//! that snapshot (its schema version, stream position, audit head, the media blobs it names) is
//! then read from the copy itself, so it cannot disagree with it.
//!
//! A restore appends its own record to the restored database's audit trail with
//! [`append_audit_record`], before any server runs on it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use wardline_store::StoreError;
use wardline_types::Timestamp;
use wardline_types::audit::{AuditRecord, Checkpoint, NewAuditRecord};

use crate::backend_err;

/// The first schema version whose audit records say how they are hashed (migration 6): the
/// oldest a record can be appended to outside a server.
const AUDIT_HASH_VERSIONS: i64 = 6;

/// What the copied database holds, read from the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Its schema version.
    pub schema_version: i64,
    /// The server-wide stream position of its last change.
    pub stream_position: i64,
    /// The server name its ids belong to (none for a database no server has started on).
    pub server_name: Option<String>,
    /// The last audit record: its position in the chain (0 if none) and hash.
    pub audit_head: (u64, String),
    /// That record's time (none if there is no record).
    pub audit_head_ts: Option<Timestamp>,
    /// The position of its last audit checkpoint (0 if none).
    pub last_checkpoint: u64,
    /// The SHA-256 (hex) of every media blob it names, each once, in order.
    pub blobs: Vec<String>,
    /// How many rows a few tables hold: what a restore should find again.
    pub counts: Counts,
}

/// Row counts of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Staff accounts.
    pub accounts: u64,
    /// Rooms.
    pub rooms: u64,
    /// Room events.
    pub events: u64,
    /// Media items (uploaded files, and ids whose upload is awaited).
    pub media: u64,
    /// Audit records.
    pub audit_records: u64,
}

fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::NotFound);
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(backend_err)?;
    conn.busy_timeout(Duration::from_secs(30)).map_err(backend_err)?;
    Ok(conn)
}

/// Opens a database no server runs on for one write of its own, committed straight into the
/// file (no write-ahead log left beside it) and synced.
fn open_for_one_write(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::NotFound);
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(backend_err)?;
    conn.busy_timeout(Duration::from_secs(30)).map_err(backend_err)?;
    conn.pragma_update(None, "journal_mode", "DELETE").map_err(backend_err)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(backend_err)?;
    Ok(conn)
}

/// Copies the database at `source` (which a running server may be writing) to `dest`, an empty
/// file or none, syncs the copy to disk and checks it, and describes what it holds.
///
/// A checkpoint is signed of the head the server read, then stored: one signed of a record the
/// snapshot holds may be stored just after the snapshot was taken, and copied to the checkpoint
/// file and off the machine. Such checkpoints are added to the copy (each only if it names a
/// record of the copy with that record's hash), so that the copy holds every checkpoint of its
/// records that exists when it is made.
///
/// `source` missing is [`StoreError::NotFound`].
pub fn snapshot(source: &Path, dest: &Path) -> Result<Snapshot, StoreError> {
    let conn = open_read_only(source)?;
    let dest_text = dest.to_str().ok_or_else(|| StoreError::Backend(format!("{} is not UTF-8", dest.display())))?;
    conn.execute("VACUUM INTO ?1", params![dest_text]).map_err(backend_err)?;
    adopt_checkpoints(&conn, dest)?;
    drop(conn);
    // SQLite does not sync what VACUUM INTO wrote.
    std::fs::File::open(dest).and_then(|f| f.sync_all()).map_err(backend_err)?;
    let copy = open_read_only(dest)?;
    let check: String = copy.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(backend_err)?;
    if check != "ok" {
        return Err(StoreError::Corrupt(format!("the copy fails SQLite's check: {check}")));
    }
    describe(&copy)
}

/// Adds to the copy at `dest` the checkpoints `source` holds now of records the copy holds (with
/// their hashes) that the copy lacks; returns how many.
fn adopt_checkpoints(source: &Connection, dest: &Path) -> Result<usize, StoreError> {
    let live = read_checkpoints(source)?;
    let copy = open_for_one_write(dest)?;
    let (head,): (i64,) =
        copy.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_log", [], |r| Ok((r.get(0)?,))).map_err(backend_err)?;
    let mut adopted = 0;
    let mut stmt = copy
        .prepare(
            "INSERT OR IGNORE INTO audit_checkpoints (seq, hash, ts, signature)
             SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM audit_log WHERE seq = ?1 AND hash = ?2)",
        )
        .map_err(backend_err)?;
    for cp in live.iter().filter(|cp| i64::try_from(cp.seq).is_ok_and(|s| s <= head)) {
        adopted += stmt
            .execute(params![
                i64::try_from(cp.seq).unwrap_or(i64::MAX),
                cp.hash,
                crate::rows::sql_ts(cp.ts),
                cp.signature
            ])
            .map_err(backend_err)?;
    }
    Ok(adopted)
}

fn read_checkpoints(conn: &Connection) -> Result<Vec<Checkpoint>, StoreError> {
    conn.prepare("SELECT seq, hash, ts, signature FROM audit_checkpoints ORDER BY seq")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(Checkpoint {
                    seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    hash: r.get(1)?,
                    ts: crate::rows::ts(r.get(2)?),
                    signature: r.get(3)?,
                })
            })?
            .collect()
        })
        .map_err(backend_err)
}

/// The audit checkpoints the database at `path` holds, in order of position.
pub fn checkpoints(path: &Path) -> Result<Vec<Checkpoint>, StoreError> {
    read_checkpoints(&open_read_only(path)?)
}

/// Links `record` onto the end of the audit trail of the database at `path`, in one transaction
/// committed to the file and synced, and returns it as linked. For a database no server runs on
/// (a restore, before the restored database is put in place); the chain's head is read inside
/// the write transaction, as the server does, so the chain stays one.
///
/// A database written by a newer Wardline is [`StoreError::SchemaTooNew`]; one from before
/// audit records carried their hash version (schema 6) cannot take a record.
pub fn append_audit_record(path: &Path, record: NewAuditRecord) -> Result<AuditRecord, StoreError> {
    let mut conn = open_for_one_write(path)?;
    let version: i64 = conn
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .map_err(backend_err)?;
    if version > crate::SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found: version, known: crate::SCHEMA_VERSION });
    }
    if version < AUDIT_HASH_VERSIONS {
        return Err(StoreError::Backend(format!(
            "the database's schema version {version} predates versioned audit records ({AUDIT_HASH_VERSIONS}): start a server on it once first"
        )));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend_err)?;
    crate::audit::append(&tx, vec![record])?;
    let linked = tx
        .query_row(
            "SELECT seq, ts, actor, device, ip, action, room_id, event_id, target_user, outcome, detail,
                prev_hash, hash, hash_version FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok(crate::audit::record_from_row(r)),
        )
        .map_err(backend_err)?
        .map_err(StoreError::Backend)?;
    tx.commit().map_err(backend_err)?;
    drop(conn);
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(backend_err)?;
    Ok(linked)
}

/// Describes a database (see [`Snapshot`]).
fn describe(conn: &Connection) -> Result<Snapshot, StoreError> {
    let schema_version: i64 = conn
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .map_err(backend_err)?;
    let server_name: Option<String> = conn
        .query_row("SELECT value FROM server_meta WHERE key = 'server_name'", [], |r| r.get(0))
        .optional()
        .map_err(backend_err)?;
    let head: Option<(i64, String, i64)> = conn
        .query_row("SELECT seq, hash, ts FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(backend_err)?;
    let audit_head_ts = head.as_ref().map(|(_, _, ts)| Timestamp(u64::try_from(*ts).unwrap_or(0)));
    let audit_head: (i64, String) = head.map_or((0, String::new()), |(seq, hash, _)| (seq, hash));
    let last_checkpoint: i64 =
        conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints", [], |r| r.get(0)).map_err(backend_err)?;
    let blobs: Vec<String> = conn
        .prepare("SELECT DISTINCT content_hash FROM media WHERE content_hash IS NOT NULL ORDER BY content_hash")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(backend_err)?;
    let count = |table: &str| -> Result<u64, StoreError> {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).map_err(backend_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let counts = Counts {
        accounts: count("accounts")?,
        rooms: count("rooms")?,
        events: count("events")?,
        media: count("media")?,
        audit_records: count("audit_log")?,
    };
    Ok(Snapshot {
        schema_version,
        stream_position: crate::stream_position(conn)?,
        server_name,
        audit_head: (u64::try_from(audit_head.0).unwrap_or(0), audit_head.1),
        audit_head_ts,
        last_checkpoint: u64::try_from(last_checkpoint).unwrap_or(0),
        blobs,
        counts,
    })
}

/// Describes the database at `path` without changing it (see [`Snapshot`]).
pub fn inspect(path: &Path) -> Result<Snapshot, StoreError> {
    describe(&open_read_only(path)?)
}

/// Which of `hashes` the database at `path` still names (a blob it no longer names may have
/// been deleted since a snapshot: every message that carried it was redacted).
pub fn blobs_named(path: &Path, hashes: &[String]) -> Result<Vec<String>, StoreError> {
    let conn = open_read_only(path)?;
    let mut stmt = conn.prepare("SELECT 1 FROM media WHERE content_hash = ?1 LIMIT 1").map_err(backend_err)?;
    let mut named = Vec::new();
    for h in hashes {
        if stmt.exists(params![h]).map_err(backend_err)? {
            named.push(h.clone());
        }
    }
    Ok(named)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Durability, SqliteStore};
    use wardline_store::{AuditStore, MediaContent, MediaStore, NewMedia};
    use wardline_types::Timestamp;
    use wardline_types::audit::{AuditAction, GENESIS, Outcome, verify_chain};

    fn login(ts: u64) -> NewAuditRecord {
        NewAuditRecord::new(Timestamp(ts), AuditAction::Login, Outcome::Success)
    }

    /// A checkpoint as the server would sign it (the signature is not checked here).
    fn checkpoint(seq: u64, hash: &str) -> Checkpoint {
        Checkpoint { seq, hash: hash.to_owned(), ts: Timestamp(seq * 100), signature: "5e".repeat(64) }
    }

    #[tokio::test]
    async fn checkpoints_of_the_copys_records_stored_after_the_snapshot_are_added_to_it() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(backend_err)?;
        let db = dir.path().join("w.db");
        let store = SqliteStore::open(&db, Durability::Normal)?;
        store.append_audit((1..=3).map(login).collect()).await?;
        let (seq, hash) = store.audit_head().await?;
        store.put_checkpoint(checkpoint(1, &store.audit_records(1, 1).await?[0].hash)).await?;
        let copy = dir.path().join("copy.db");
        let snap = snapshot(&db, &copy)?;
        assert_eq!((snap.audit_head.0, snap.last_checkpoint), (3, 1));
        assert_eq!(snap.audit_head_ts, Some(Timestamp(3)), "the last record's time");
        // The server had read the head (3) before the snapshot and stores its checkpoint after;
        // meanwhile records go on. Neither a checkpoint of a record the copy lacks (4) nor one
        // whose hash is not the copy's record's (2) is taken.
        store.put_checkpoint(checkpoint(seq, &hash)).await?;
        store.put_checkpoint(checkpoint(2, &"f".repeat(64))).await?;
        store.append_audit(vec![login(4)]).await?;
        let (later, later_hash) = store.audit_head().await?;
        store.put_checkpoint(checkpoint(later, &later_hash)).await?;
        assert_eq!(adopt_checkpoints(&open_read_only(&db)?, &copy)?, 1);
        let held = checkpoints(&copy)?;
        assert_eq!(held.iter().map(|c| c.seq).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(held[1], checkpoint(seq, &hash));
        assert_eq!(inspect(&copy)?.last_checkpoint, 3);
        Ok(())
    }

    #[tokio::test]
    async fn a_record_appended_outside_a_server_joins_the_chain() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(backend_err)?;
        let db = dir.path().join("w.db");
        let store = SqliteStore::open(&db, Durability::Normal)?;
        store.append_audit((1..=3).map(login).collect()).await?;
        let (_, head_hash) = store.audit_head().await?;
        drop(store);
        let copy = dir.path().join("copy.db");
        snapshot(&db, &copy)?;
        let mut restore = NewAuditRecord::new(Timestamp(9), AuditAction::Restore, Outcome::Success);
        restore.detail = Some("backup_audit_seq=3".into());
        let linked = append_audit_record(&copy, restore.clone())?;
        assert_eq!((linked.seq, linked.prev_hash.as_str(), &linked.record), (4, head_hash.as_str(), &restore));
        // Committed into the file itself: nothing is left beside it.
        for side in ["-wal", "-journal", "-shm"] {
            let mut p = copy.clone().into_os_string();
            p.push(side);
            assert!(!std::path::PathBuf::from(p).exists(), "{side}");
        }
        // A server opening it finds one chain, ending with the record.
        let reopened = SqliteStore::open(&copy, Durability::Normal)?;
        let all = reopened.audit_records(1, 100).await?;
        assert_eq!(verify_chain(&all, 0, GENESIS.to_owned()), Ok((4, linked.hash.clone())));
        assert_eq!(all.last(), Some(&linked));
        drop(reopened);
        // A database from a newer Wardline is refused.
        let conn = rusqlite::Connection::open(&copy).map_err(backend_err)?;
        conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![crate::SCHEMA_VERSION + 1])
            .map_err(backend_err)?;
        drop(conn);
        assert!(matches!(append_audit_record(&copy, restore), Err(StoreError::SchemaTooNew { .. })));
        Ok(())
    }

    #[tokio::test]
    async fn the_copy_describes_itself_and_later_writes_stay_out_of_it() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(backend_err)?;
        let db = dir.path().join("w.db");
        let store = SqliteStore::open(&db, Durability::Normal)?;
        let uploader = ruma::user_id!("@ada:ward.example").to_owned();
        let put = |id: &str, hash: &str| {
            let (store, uploader, id, hash) = (store.clone(), uploader.clone(), id.to_owned(), hash.to_owned());
            async move {
                store
                    .create_media(NewMedia {
                        media_id: id.clone(),
                        uploader: uploader.clone(),
                        created_at: Timestamp(1),
                        upload_by: None,
                    })
                    .await?;
                let content = MediaContent {
                    hash,
                    content_type: "image/png".into(),
                    size: 3,
                    filename: None,
                    dimensions: None,
                    key_ref: None,
                };
                store.put_media_content(&id, &uploader, content).await
            }
        };
        put("a", &"a".repeat(64)).await?;
        put("b", &"b".repeat(64)).await?;
        put("b2", &"b".repeat(64)).await?;
        let copy = dir.path().join("copy.db");
        let snap = snapshot(&db, &copy)?;
        assert_eq!(snap.schema_version, crate::SCHEMA_VERSION);
        assert_eq!(snap.blobs, ["a".repeat(64), "b".repeat(64)], "each blob once");
        assert_eq!(snap.counts.media, 3);
        // Written after the snapshot: in the source, not in the copy.
        put("c", &"c".repeat(64)).await?;
        assert_eq!(inspect(&copy)?, snap);
        assert_eq!(inspect(&db)?.blobs.len(), 3);
        assert_eq!(blobs_named(&db, &["c".repeat(64), "d".repeat(64)])?, ["c".repeat(64)]);
        // A second copy onto an existing database is refused by SQLite; a missing source is NotFound.
        assert!(snapshot(&db, &copy).is_err());
        assert!(matches!(snapshot(&dir.path().join("none.db"), &dir.path().join("x.db")), Err(StoreError::NotFound)));
        Ok(())
    }
}
