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
//! it appends it to the file), so `audit verify` agrees with the copy. The manifest, written
//! last, makes the backup complete: a backup without one is not restored.
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
use std::path::Path;

use wardline_service::Config;
use wardline_store_sqlite::backup as db;
use wardline_types::{Clock, SystemClock};

use crate::manifest::{self, FileEntry, Manifest, Missing};
use crate::private_file::{copy_private, create_private_dirs, restrict_dir, sync_dir, write_private_new};

/// The database's file name in a data directory and in a backup.
pub const DATABASE: &str = "wardline.db";

/// Secrets copied as they are, if present.
const SECRETS: &[&str] = &["audit-signing.key", wardline_service::names::KEY_FILE];

/// What a data directory holds that a backup does not copy, and why.
fn not_copied(name: &str) -> Option<&'static str> {
    match name {
        "wardline.db-wal" | "wardline.db-shm" => Some("part of the database"),
        "control.sock" => Some("the running server's socket"),
        _ => None,
    }
}

/// Takes a backup of the configured data directory into `dest` (missing or empty).
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
    if let (Ok(d), Some(dest)) = (data_dir.canonicalize(), resolved(dest))
        && dest.starts_with(&d)
    {
        return Err(format!("{} is inside the data directory {}", dest.display(), data_dir.display()).into());
    }
    // The backup is itself a record of the trail (inside the backup: it is made before the snapshot).
    let what = format!("backup to {}", dest.display());
    crate::users::with_services(config, |s, _| Box::pin(crate::audit_cli::audit_export(s, what, None))).await?;

    std::fs::create_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    restrict_dir(dest)?;
    let mut files = Vec::new();

    // The database, from one snapshot.
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
    let (blobs, mut missing) = {
        let (data_dir, dest, hashes) = (data_dir.clone(), dest.to_path_buf(), snap.blobs.clone());
        tokio::task::spawn_blocking(move || copy_blobs(&data_dir, &dest, &hashes)).await??
    };
    files.extend(blobs);
    // A blob gone since the snapshot because the database no longer names it (every message
    // that carried it was redacted, and the server deleted it) is no loss; any other is.
    let gone: Vec<String> = missing.iter().filter(|m| m.reason.is_empty()).map(|m| m.path.clone()).collect();
    if !gone.is_empty() {
        let hashes: Vec<String> = gone.iter().filter_map(|p| p.rsplit('/').next().map(ToOwned::to_owned)).collect();
        let still_named = db::blobs_named(&source_db, &hashes)?;
        for m in missing.iter_mut().filter(|m| m.reason.is_empty()) {
            let hash = m.path.rsplit('/').next().unwrap_or_default();
            m.reason = if still_named.iter().any(|h| h == hash) {
                "missing from the data directory, which the database still names: lost or deleted outside Wardline"
                    .into()
            } else {
                "deleted after the snapshot: the database no longer names it".into()
            };
        }
    }

    // Secrets, and the checkpoints up to the snapshot.
    for name in SECRETS {
        let from = data_dir.join(name);
        if from.exists() {
            let (size, sha256) =
                copy_private(&from, &dest.join(name)).map_err(|e| format!("{}: {e}", from.display()))?;
            files.push(FileEntry { path: (*name).into(), size, sha256 });
        }
    }
    let checkpoints = crate::audit_files::checkpoints_path(&data_dir);
    if checkpoints.exists() {
        let name = checkpoints.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (size, sha256) = copy_checkpoints(&checkpoints, &dest.join(&name), snap.last_checkpoint)?;
        files.push(FileEntry { path: name, size, sha256 });
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
        created_at: SystemClock.now().to_rfc3339(),
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

/// `path` with its links resolved, as far as it exists: its deepest existing ancestor
/// resolved, then the rest as written.
fn resolved(path: &Path) -> Option<std::path::PathBuf> {
    let absolute = std::env::current_dir().ok()?.join(path);
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(p) = existing.canonicalize() {
            return Some(rest.iter().rev().fold(p, |p, part| p.join(part)));
        }
        rest.push(existing.file_name()?.to_owned());
        existing = existing.parent()?;
    }
}

/// Copies the named blobs; returns what was copied and the blobs that were not there (with an
/// empty reason, filled in by the caller). A blob whose bytes do not match its name is an error.
fn copy_blobs(data_dir: &Path, dest: &Path, hashes: &[String]) -> Result<(Vec<FileEntry>, Vec<Missing>), String> {
    let mut copied = Vec::new();
    let mut missing = Vec::new();
    for hash in hashes {
        let Some(fan) = hash.get(..2).filter(|_| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            return Err(format!("the database names a media blob {hash:?}, which is not a SHA-256"));
        };
        let rel = format!("media/blobs/{fan}/{hash}");
        let from = data_dir.join(&rel);
        let to = dest.join(&rel);
        let dir = to.parent().unwrap_or(dest);
        create_private_dirs(dest, dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        match copy_private(&from, &to) {
            Ok((size, sha256)) if sha256 == *hash => copied.push(FileEntry { path: rel, size, sha256 }),
            Ok(_) => {
                return Err(format!("{} does not hold what its name says: the file was damaged", from.display()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_file(&to);
                missing.push(Missing { path: rel, reason: String::new() });
            }
            Err(e) => return Err(format!("{}: {e}", from.display())),
        }
    }
    let mut dirs: Vec<_> = copied.iter().filter_map(|f| dest.join(&f.path).parent().map(Path::to_path_buf)).collect();
    dirs.dedup();
    for d in dirs {
        sync_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    Ok((copied, missing))
}

/// Copies the checkpoint file's lines up to the last checkpoint at or before `last` (a
/// checkpoint is in the database before it is in the file: later lines were written after the
/// snapshot). Lines that are not checkpoints are copied as they are.
fn copy_checkpoints(from: &Path, to: &Path, last: u64) -> Result<(u64, String), Box<dyn std::error::Error>> {
    let file = std::fs::File::open(from).map_err(|e| format!("{}: {e}", from.display()))?;
    let mut kept = Vec::new();
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line?;
        let later = serde_json::from_slice::<wardline_types::audit::Checkpoint>(&line).is_ok_and(|cp| cp.seq > last);
        if !later {
            kept.extend_from_slice(&line);
            kept.push(b'\n');
        }
    }
    write_private_new(to, |f| f.write_all(&kept))?;
    Ok((kept.len() as u64, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&kept))))
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
    use wardline_types::Timestamp;

    #[test]
    fn the_checkpoint_copy_stops_at_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = CheckpointKey::generate();
        let from = dir.path().join("cp.jsonl");
        for seq in [3, 9, 12] {
            crate::audit_files::append_checkpoint(&from, &key.sign(seq, &"a".repeat(64), Timestamp(1))).unwrap();
        }
        // A line cut short by a crash stays, as `audit verify` expects to see it.
        let mut f = std::fs::OpenOptions::new().append(true).open(&from).unwrap();
        f.write_all(b"{\"seq\":4").unwrap();
        drop(f);
        let to = dir.path().join("copy.jsonl");
        let (size, _) = copy_checkpoints(&from, &to, 9).unwrap();
        let copies = crate::audit_files::read_checkpoints_file(&to).unwrap();
        assert_eq!(copies.checkpoints.iter().map(|c| c.seq).collect::<Vec<_>>(), [3, 9]);
        assert_eq!(copies.cut_short.len(), 1);
        assert_eq!(size, std::fs::metadata(&to).unwrap().len());
    }
}
