//! `wardline backup DEST`: a consistent copy of a data directory, taken while the server runs
//! (or not).
//!
//! The command runs in its own process, beside the server if one runs, and needs nothing from
//! it: the database is copied by SQLite from one snapshot (`VACUUM INTO` on a read-only
//! connection; WAL mode lets it read one commit while the server goes on writing), and
//! everything else follows from that copy. Media blobs are named by their SHA-256 and never
//! change, so the blobs the copy names are copied afterwards and checked against their names;
//! blobs written after the snapshot are not needed. The checkpoint file is cut at the last
//! checkpoint the copied database holds (the server stores a checkpoint in the database before
//! it appends it to the file), and given, from the database, any checkpoint the copy holds that
//! the file did not have yet, so `audit verify` agrees with the copy. The manifest, written
//! last, makes the backup complete: a backup without one is not restored.
//!
//! The backup is itself an `export` record of the audit trail, written before anything is
//! copied (and so inside the backup): like every audited action, it happens only if it could
//! be recorded.
//!
//! Only regular files are copied: a symbolic link, FIFO or device where a file should be fails
//! the backup, naming it (see [`crate::private_file::regular`]).
//!
//! What a data directory holds, and what of it is copied:
//! - `wardline.db` (`-wal`, `-shm`): the database, as one file.
//! - `media/blobs/`: the blobs the database names. `media/thumbnails/` is a cache (made again
//!   when asked for) and `media/tmp/` half-written uploads: neither is copied.
//! - `audit-signing.key`, `sign-in-names.key`: secrets (0600 in the backup, as everything is).
//! - `audit-checkpoints.jsonl`: the checkpoints, up to the snapshot.
//! - `control.sock`: the running server's socket, not copied.
//!
//! The configuration file lives outside the data directory and is not copied.

use std::io::{BufRead, Write};
use std::path::{Component, Path, PathBuf};

use wardline_service::Config;
use wardline_store_sqlite::backup as db;
use wardline_types::{Clock, SystemClock};

use crate::manifest::{self, FileEntry, Manifest, Missing};
use crate::private_file::{
    copy_private, create_dirs_synced, create_private_dirs, restrict_dir, sync_dir, write_private_new,
};

/// The database's file name in a data directory and in a backup.
pub const DATABASE: &str = "wardline.db";

/// Secrets copied as they are, if present.
const SECRETS: &[&str] = &["audit-signing.key", wardline_service::names::KEY_FILE];

/// What a data directory holds that a backup does not copy, and why.
fn not_copied(name: &str) -> Option<&'static str> {
    match name {
        "wardline.db-wal" | "wardline.db-shm" => Some("part of the database"),
        "control.sock" => Some("the running server's socket"),
        "serve.lock" => Some("the running server's lock on the directory"),
        crate::serve::FIRST_ADMIN_PASSWORD => {
            Some("the first administrator's one-time password, shown once: never copied")
        }
        _ => None,
    }
}

/// Takes a backup of the configured data directory into `dest` (missing or empty).
///
/// The backup's own audit record (an `export`, with the operating-system user) is written
/// before anything is copied: the backup happens only if it was recorded.
pub async fn run(config: Config, dest: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = config.data_dir.clone();
    let source_db = data_dir.join(DATABASE);
    if !source_db.is_file() {
        return Err(format!(
            "no Wardline database in {} (looked for {DATABASE}); give the server's data directory with --data-dir or --config",
            data_dir.display()
        )
        .into());
    }
    if !manifest::is_empty_dir(dest)? {
        return Err(format!("{} is not empty: a backup goes into a new or empty directory", dest.display()).into());
    }
    let real_data_dir = data_dir.canonicalize().map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let inside = |at: &Path| {
        format!(
            "{} is inside the data directory {} (as {}): a backup goes to another directory, best on another disk",
            dest.display(),
            data_dir.display(),
            at.display()
        )
    };
    let at = resolved(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    if at.starts_with(&real_data_dir) {
        return Err(inside(&at).into());
    }
    // The backup is itself a record of the trail, written before anything is copied (so it is
    // inside the backup, and no backup is taken that was not recorded).
    let what = format!("backup to {}", at.display());
    // Opened as it is (an older schema too: the backup before an upgrade may be taken with the
    // new binary installed); the record is its only write.
    crate::users::with_services_as(config, crate::serve::Opening::Inspect, |s, _| {
        Box::pin(crate::audit_cli::audit_export(s, what, None))
    })
    .await?;

    let created = create_dirs_synced(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    // Checked again now that it exists, with every link on the way resolved.
    if let Ok(real) = dest.canonicalize()
        && real.starts_with(&real_data_dir)
    {
        for d in created.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
        return Err(inside(&real).into());
    }
    restrict_dir(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut files = Vec::new();

    // The database, from one snapshot.
    let taken_at = SystemClock.now();
    let dest_db = dest.join(DATABASE);
    write_private_new(&dest_db, |_| Ok(())).map_err(|e| format!("{}: {e}", dest_db.display()))?;
    let snap = tokio::task::spawn_blocking({
        let (source_db, dest_db) = (source_db.clone(), dest_db.clone());
        move || db::snapshot(&source_db, &dest_db)
    })
    .await??;
    let (size, sha256) = manifest::hash_file(&dest_db)?;
    files.push(FileEntry { path: DATABASE.into(), size, sha256 });

    // The blobs it names.
    let (blobs, missing) = {
        let (data_dir, dest, hashes, source_db) =
            (data_dir.clone(), dest.to_path_buf(), snap.blobs.clone(), source_db.clone());
        tokio::task::spawn_blocking(move || {
            let (mut copied, gone) = copy_blobs(&data_dir, &dest, &hashes)?;
            let (again, missing) = settle_missing(&data_dir, &dest, &source_db, &gone)?;
            copied.extend(again);
            Ok::<_, String>((copied, missing))
        })
        .await??
    };
    files.extend(blobs);

    // Secrets, and the checkpoints up to the snapshot.
    for name in SECRETS {
        let from = data_dir.join(name);
        if std::fs::symlink_metadata(&from).is_ok() {
            let (size, sha256) =
                copy_private(&from, &dest.join(name)).map_err(|e| format!("{}: {e}", from.display()))?;
            files.push(FileEntry { path: (*name).into(), size, sha256 });
        }
    }
    let checkpoints = crate::audit_files::checkpoints_path(&data_dir);
    let in_copy = db::checkpoints(&dest_db)?;
    let has_file = std::fs::symlink_metadata(&checkpoints).is_ok();
    if has_file || !in_copy.is_empty() {
        let name = checkpoints.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let from = has_file.then_some(checkpoints.as_path());
        let copied = copy_checkpoints(from, &dest.join(&name), snap.last_checkpoint, &in_copy)?;
        if let Some(note) = copied.note(&checkpoints, snap.last_checkpoint) {
            eprintln!("note: {note}");
        }
        files.push(FileEntry { path: name, size: copied.size, sha256: copied.sha256 });
    }
    for name in others(&data_dir)? {
        eprintln!("note: {} is not a file Wardline writes; not in the backup", data_dir.join(name).display());
    }

    let lost: Vec<&Missing> = missing.iter().filter(|m| m.reason.starts_with("missing")).collect();
    let total: u64 = files.iter().map(|f| f.size).sum();
    let count = files.len();
    let m = Manifest {
        format: manifest::FORMAT.into(),
        wardline_version: env!("CARGO_PKG_VERSION").into(),
        // When the snapshot began, or, if a record of the snapshot is dated later (made just
        // before it, committed as it began), that record's time: so the backup's time is after
        // every record it holds, and before every checkpoint of a record it lacks (a checkpoint
        // signed before that record was made names an earlier one). `audit verify` checks both.
        created_at: snap.audit_head_ts.map_or(taken_at, |head| head.max(taken_at)).to_rfc3339(),
        data_dir: data_dir.canonicalize().unwrap_or_else(|_| data_dir.clone()).display().to_string(),
        server_name: snap.server_name.clone(),
        schema_version: snap.schema_version,
        stream_position: snap.stream_position,
        audit_seq: snap.audit_head.0,
        audit_hash: snap.audit_head.1.clone(),
        audit_checkpoint_seq: snap.last_checkpoint,
        counts: snap.counts.into(),
        files,
        missing: missing.clone(),
    };
    let text = serde_json::to_string_pretty(&m)?;
    write_private_new(&dest.join(manifest::FILE), |f| f.write_all(text.as_bytes()))?;
    sync_dir(dest)?;
    println!(
        "backup of {} written to {}: {count} files, {total} bytes; schema version {}, stream position {}, audit records 1 to {} ({} messages and other events, {} files)",
        data_dir.display(),
        dest.display(),
        snap.schema_version,
        snap.stream_position,
        snap.audit_head.0,
        snap.counts.events,
        snap.counts.media,
    );
    for m in &missing {
        eprintln!("{}: {}", m.path, m.reason);
    }
    if !lost.is_empty() {
        return Err(format!(
            "{} file(s) the database names are missing from {} (listed above and in the manifest): the backup lacks them",
            lost.len(),
            data_dir.display()
        )
        .into());
    }
    Ok(())
}

/// `path` as the file system will take it, absolute: each part that exists with its links
/// resolved, `.` dropped, `..` taken back, and the parts that do not exist yet as written. So a
/// destination reached through a link, or through `..` after a directory still to be made, is
/// known for where it is.
fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::env::current_dir()?.join(path);
    let mut at = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::Prefix(_) | Component::RootDir => at.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                at.pop();
            }
            Component::Normal(name) => {
                at.push(name);
                if let Ok(real) = at.canonicalize() {
                    at = real;
                }
            }
        }
    }
    Ok(at)
}

/// A blob's path in a data directory and a backup; an error if the database names something
/// that is not a SHA-256.
fn blob_path(hash: &str) -> Result<String, String> {
    match hash.get(..2).filter(|_| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())) {
        Some(fan) => Ok(format!("media/blobs/{fan}/{hash}")),
        None => Err(format!("the database names a media blob {hash:?}, which is not a SHA-256")),
    }
}

/// Copies one blob; `None` if it is not in the data directory. A blob whose bytes do not match
/// its name is an error.
fn copy_blob(data_dir: &Path, dest: &Path, hash: &str) -> Result<Option<FileEntry>, String> {
    let rel = blob_path(hash)?;
    let from = data_dir.join(&rel);
    let to = dest.join(&rel);
    let dir = to.parent().unwrap_or(dest);
    create_private_dirs(dest, dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    match copy_private(&from, &to) {
        Ok((size, sha256)) if sha256 == hash => Ok(Some(FileEntry { path: rel, size, sha256 })),
        Ok(_) => Err(format!("{} does not hold what its name says: the file was damaged", from.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let _ = std::fs::remove_file(&to);
            Ok(None)
        }
        Err(e) => Err(format!("{}: {e}", from.display())),
    }
}

/// Copies the named blobs; returns what was copied and the hashes of the blobs that were not
/// there.
fn copy_blobs(data_dir: &Path, dest: &Path, hashes: &[String]) -> Result<(Vec<FileEntry>, Vec<String>), String> {
    let mut copied = Vec::new();
    let mut gone = Vec::new();
    for hash in hashes {
        match copy_blob(data_dir, dest, hash)? {
            Some(entry) => copied.push(entry),
            None => gone.push(hash.clone()),
        }
    }
    sync_dirs_of(dest, &copied)?;
    Ok((copied, gone))
}

/// Syncs the directories the copied files are in.
fn sync_dirs_of(dest: &Path, copied: &[FileEntry]) -> Result<(), String> {
    let mut dirs: Vec<_> = copied.iter().filter_map(|f| dest.join(&f.path).parent().map(Path::to_path_buf)).collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        sync_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    Ok(())
}

/// Settles the blobs the snapshot named that were not in the data directory, by asking the live
/// database (`source_db`) now. One it no longer names was deleted by the server after the
/// snapshot (the last message carrying it was redacted; the server deletes the row before the
/// file): no loss. One it names again may have come back since (the same file uploaded again,
/// which is written before a row names it): it is copied again. Any other is lost. Returns the
/// blobs copied now and every blob not copied, with why.
fn settle_missing(
    data_dir: &Path,
    dest: &Path,
    source_db: &Path,
    gone: &[String],
) -> Result<(Vec<FileEntry>, Vec<Missing>), String> {
    if gone.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let still_named = db::blobs_named(source_db, gone).map_err(|e| format!("{}: {e}", source_db.display()))?;
    let mut copied = Vec::new();
    let mut missing = Vec::new();
    for hash in gone {
        let path = blob_path(hash)?;
        if !still_named.contains(hash) {
            missing
                .push(Missing { path, reason: "deleted after the snapshot: the database no longer names it".into() });
            continue;
        }
        match copy_blob(data_dir, dest, hash)? {
            Some(entry) => copied.push(entry),
            None => missing.push(Missing {
                path,
                reason:
                    "missing from the data directory, which the database still names: lost or deleted outside Wardline"
                        .into(),
            }),
        }
    }
    sync_dirs_of(dest, &copied)?;
    Ok((copied, missing))
}

/// What [`copy_checkpoints`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CheckpointCopy {
    size: u64,
    sha256: String,
    /// Positions of the database's checkpoints the file lacked, written from the database.
    from_database: Vec<u64>,
}

impl CheckpointCopy {
    /// What to tell the administrator: the file lacked checkpoints the database holds, other
    /// than the last (which the server may have been about to append).
    fn note(&self, file: &Path, last: u64) -> Option<String> {
        let earlier: Vec<String> = self.from_database.iter().filter(|&&s| s != last).map(u64::to_string).collect();
        (!earlier.is_empty()).then(|| {
            format!(
                "{} lacks checkpoint(s) {} that the database holds (deleted, or the disk was full when they were made): the backup's copy has them, from the database",
                file.display(),
                earlier.join(", ")
            )
        })
    }
}

/// Writes the backup's checkpoint file `to`: the lines of the data directory's file `from` up to
/// the last checkpoint at or before `last` (a checkpoint is in the database before it is in the
/// file: later lines were written after the snapshot; lines that are not checkpoints are copied
/// as they are), then each checkpoint of the copied database (`in_copy`) that those lines lack.
fn copy_checkpoints(
    from: Option<&Path>,
    to: &Path,
    last: u64,
    in_copy: &[wardline_types::audit::Checkpoint],
) -> Result<CheckpointCopy, Box<dyn std::error::Error>> {
    let mut kept = Vec::new();
    let mut present = Vec::new();
    if let Some(from) = from {
        let file = crate::private_file::regular::open(from).map_err(|e| format!("{}: {e}", from.display()))?;
        for line in std::io::BufReader::new(file).split(b'\n') {
            let line = line?;
            let cp = serde_json::from_slice::<wardline_types::audit::Checkpoint>(&line).ok();
            if cp.as_ref().is_some_and(|cp| cp.seq > last) {
                continue;
            }
            present.extend(cp);
            kept.extend_from_slice(&line);
            kept.push(b'\n');
        }
    }
    let mut from_database = Vec::new();
    for cp in in_copy.iter().filter(|cp| cp.seq <= last && !present.contains(cp)) {
        kept.extend_from_slice(serde_json::to_string(cp)?.as_bytes());
        kept.push(b'\n');
        from_database.push(cp.seq);
    }
    write_private_new(to, |f| f.write_all(&kept))?;
    Ok(CheckpointCopy {
        size: kept.len() as u64,
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&kept)),
        from_database,
    })
}

/// Names in the data directory that are neither copied nor known.
fn others(data_dir: &Path) -> std::io::Result<Vec<String>> {
    let known = |n: &str| {
        n == DATABASE
            || n == "media"
            || SECRETS.contains(&n)
            || n == "audit-checkpoints.jsonl"
            || not_copied(n).is_some()
            || n.starts_with('.')
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(data_dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !known(&name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardline_service::audit::CheckpointKey;
    use wardline_store::{MediaContent, MediaStore, NewMedia};
    use wardline_store_sqlite::{Durability, SqliteStore};
    use wardline_types::Timestamp;

    #[test]
    fn the_checkpoint_copy_stops_at_the_snapshot_and_holds_what_the_database_holds() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = CheckpointKey::generate();
        let cp = |seq: u64| key.sign(seq, &"a".repeat(64), Timestamp(seq));
        let from = dir.path().join("cp.jsonl");
        for seq in [3, 9, 14] {
            crate::audit_files::append_checkpoint(&from, &cp(seq)).unwrap();
        }
        // A line cut short by a crash stays, as `audit verify` expects to see it.
        let mut f = std::fs::OpenOptions::new().append(true).open(&from).unwrap();
        f.write_all(b"{\"seq\":4").unwrap();
        drop(f);
        // The snapshot holds checkpoints 3, 9 and 12: 12 was stored in the database and not
        // yet appended to the file when the snapshot was taken.
        let to = dir.path().join("copy.jsonl");
        let copied = copy_checkpoints(Some(&from), &to, 12, &[cp(3), cp(9), cp(12)]).unwrap();
        let copies = crate::audit_files::read_checkpoints_file(&to).unwrap();
        assert_eq!(copies.checkpoints, [cp(3), cp(9), cp(12)]);
        assert_eq!(copies.cut_short.len(), 1);
        assert_eq!(copied.size, std::fs::metadata(&to).unwrap().len());
        assert_eq!((copied.from_database.as_slice(), copied.note(&from, 12)), ([12].as_slice(), None));
        // A file that lacks older checkpoints (or is gone) is made whole from the database, and
        // the administrator is told.
        let to = dir.path().join("whole.jsonl");
        let copied = copy_checkpoints(None, &to, 9, &[cp(3), cp(9)]).unwrap();
        assert_eq!(crate::audit_files::read_checkpoints_file(&to).unwrap().checkpoints, [cp(3), cp(9)]);
        assert!(copied.note(&from, 9).is_some_and(|n| n.contains("checkpoint(s) 3 ")), "{copied:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_destination_is_known_for_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let data = root.join("data");
        std::fs::create_dir_all(data.join("media")).unwrap();
        std::os::unix::fs::symlink(&data, root.join("link")).unwrap();
        for (dest, at) in [
            (root.join("new/../data/b"), data.join("b")),
            (root.join("data/media/.."), data.clone()),
            (root.join("link/b"), data.join("b")),
            (root.join("new/../link/./b"), data.join("b")),
            (root.join("link/media/../b"), data.join("b")),
            (root.join("elsewhere/b"), root.join("elsewhere/b")),
        ] {
            assert_eq!(resolved(&dest).unwrap(), at, "{}", dest.display());
        }
    }

    /// A data directory whose database names three blobs, and a snapshot of it in `dest`.
    async fn named_blobs(dir: &Path) -> (PathBuf, PathBuf, [String; 3]) {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let store = SqliteStore::open(&data.join(DATABASE), Durability::Normal).unwrap();
        let uploader = ruma::user_id!("@ada:ward.example").to_owned();
        let mut hashes = Vec::new();
        for name in ["kept", "redacted", "returned"] {
            let bytes = format!("scan {name}").into_bytes();
            let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            let path = data.join(blob_path(&hash).unwrap());
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
            let media = NewMedia {
                media_id: name.into(),
                uploader: uploader.clone(),
                created_at: Timestamp(1),
                upload_by: None,
            };
            store.create_media(media).await.unwrap();
            let content = MediaContent {
                hash: hash.clone(),
                content_type: "application/pdf".into(),
                size: bytes.len() as u64,
                filename: None,
                dimensions: None,
                key_ref: None,
            };
            store.put_media_content(name, &uploader, content).await.unwrap();
            hashes.push(hash);
        }
        drop(store);
        let dest = dir.join("backup");
        std::fs::create_dir(&dest).unwrap();
        let snap = db::snapshot(&data.join(DATABASE), &dest.join(DATABASE)).unwrap();
        assert_eq!(snap.blobs.len(), 3);
        (data, dest, hashes.try_into().unwrap())
    }

    #[tokio::test]
    async fn a_blob_deleted_after_the_snapshot_is_no_loss_and_one_come_back_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let (data, dest, [kept, redacted, returned]) = named_blobs(dir.path()).await;
        let live = data.join(DATABASE);
        let hashes = [kept.clone(), redacted.clone(), returned.clone()];
        // After the snapshot named them: the message carrying one is redacted, and the server
        // deletes its row, then its file; another's file goes missing for a moment.
        let conn = rusqlite::Connection::open(&live).unwrap();
        conn.execute("DELETE FROM media WHERE content_hash = ?1", [&redacted]).unwrap();
        for h in [&redacted, &returned] {
            std::fs::rename(data.join(blob_path(h).unwrap()), dir.path().join(h)).unwrap();
        }
        let (copied, gone) = copy_blobs(&data, &dest, &hashes).unwrap();
        assert_eq!(copied.iter().map(|f| f.sha256.as_str()).collect::<Vec<_>>(), [kept.as_str()]);
        assert_eq!(gone, [redacted.clone(), returned.clone()]);
        // It is back (uploaded again: the file is written before a row names it) when the
        // backup asks the live database.
        std::fs::rename(dir.path().join(&returned), data.join(blob_path(&returned).unwrap())).unwrap();
        let (again, missing) = settle_missing(&data, &dest, &live, &gone).unwrap();
        assert_eq!(again.iter().map(|f| f.sha256.as_str()).collect::<Vec<_>>(), [returned.as_str()]);
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(missing[0].path.ends_with(&redacted) && missing[0].reason.starts_with("deleted after the snapshot"));
        assert!(dest.join(blob_path(&returned).unwrap()).is_file());
        // One still named and not there is lost.
        std::fs::remove_file(data.join(blob_path(&kept).unwrap())).unwrap();
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let (again, missing) = settle_missing(&data, &other, &live, std::slice::from_ref(&kept)).unwrap();
        assert!(again.is_empty());
        assert!(missing[0].reason.starts_with("missing from the data directory"), "{missing:?}");
    }
}
