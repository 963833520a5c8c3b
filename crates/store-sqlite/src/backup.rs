//! A consistent copy of the database while the server runs, for `wardline backup`.
//!
//! The copy is made by `VACUUM INTO` on a read-only connection of its own, which may belong to
//! another process than the server's: in WAL mode the copy reads one snapshot (the database as
//! of one commit) while the server's writer goes on committing. What a backup must say about
//! that snapshot (its schema version, stream position, audit head, the media blobs it names) is
//! then read from the copy itself, so it cannot disagree with it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use wardline_store::StoreError;

use crate::backend_err;

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

/// Copies the database at `source` (which a running server may be writing) to `dest`, an empty
/// file or none, syncs the copy to disk and checks it, and describes what it holds.
///
/// `source` missing is [`StoreError::NotFound`].
pub fn snapshot(source: &Path, dest: &Path) -> Result<Snapshot, StoreError> {
    let conn = open_read_only(source)?;
    let dest_text = dest.to_str().ok_or_else(|| StoreError::Backend(format!("{} is not UTF-8", dest.display())))?;
    conn.execute("VACUUM INTO ?1", params![dest_text]).map_err(backend_err)?;
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

/// Describes a database (see [`Snapshot`]).
fn describe(conn: &Connection) -> Result<Snapshot, StoreError> {
    let schema_version: i64 = conn
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .map_err(backend_err)?;
    let server_name: Option<String> = conn
        .query_row("SELECT value FROM server_meta WHERE key = 'server_name'", [], |r| r.get(0))
        .optional()
        .map_err(backend_err)?;
    let audit_head: (i64, String) = conn
        .query_row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(backend_err)?
        .unwrap_or((0, String::new()));
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
    use wardline_store::{MediaContent, MediaStore, NewMedia};
    use wardline_types::Timestamp;

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
