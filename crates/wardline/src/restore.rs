//! `wardline restore SRC`: rebuilds an empty data directory from a backup.
//!
//! Nothing is written until the whole backup has been checked against its manifest (every file
//! there, a regular file of its size and SHA-256, no path leading outside the backup, a schema
//! this Wardline can run). Each file is hashed again as it is copied, so a backup changed during
//! the restore is caught too.
//!
//! A restore can be cut short (a power cut, `kill -9`): so the first thing it writes, synced, is
//! the marker [`INCOMPLETE`], and the last thing it does is remove it. In between it copies every
//! file but the database, then the database under a temporary name, to which it appends its own
//! audit record ([`wardline_types::audit::Restored`]: the trail was restored from this backup,
//! taken then, whose trail ended at record S with hash H), and only then renames it into place;
//! every file and directory is synced with the directory that names it. A data directory holding
//! the marker is refused by the server ([`refuse_incomplete`]) and by another restore. A restore
//! that fails takes back what it wrote, and only that.
//!
//! The restore runs as the owner of the data directory (or, if it creates it, of the directory
//! above): as root for another user, or as another user than the owner, it refuses (see
//! [`target::check_user`]).

use std::path::{Path, PathBuf};

use wardline_service::Config;
use wardline_store_sqlite::backup as db;
use wardline_types::audit::{AuditAction, GENESIS, NewAuditRecord, Outcome, Restored};
use wardline_types::{Clock, SystemClock};

use crate::backup::DATABASE;
use crate::manifest::{self, Manifest};

mod target;

use target::Target;

/// The marker of a restore under way in a data directory: written first, removed last.
pub const INCOMPLETE: &str = ".restore-incomplete";

/// The database's name in the data directory until it is complete and renamed into place.
const DATABASE_RESTORING: &str = ".wardline.db.restoring";

/// Refuses a data directory holding a restore that did not finish (a restore stopped by a power
/// cut or `kill -9`): its files are a part of a backup, and a server started on them would run
/// on a part of the data (and make a new audit signing key if that one was not copied yet).
/// Call before opening a data directory.
pub fn refuse_incomplete(data_dir: &Path) -> Result<(), String> {
    let marker = data_dir.join(INCOMPLETE);
    match std::fs::symlink_metadata(&marker) {
        Ok(_) => Err(format!(
            "{} holds a restore from a backup that did not finish ({} is there): its files are only a part of the backup. \
             Empty the directory (keep nothing of it, {INCOMPLETE} and {DATABASE_RESTORING} included), then run `wardline restore` again",
            data_dir.display(),
            marker.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", marker.display())),
    }
}

/// Restores the backup at `src` into the configured data directory, which must be missing or
/// empty.
pub fn run(config: &Config, src: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let target = &config.data_dir;
    refuse_incomplete(target)?;
    if !manifest::is_empty_dir(target)? {
        return Err(format!(
            "{} is not empty: restore rebuilds an empty data directory (move the current one aside first)",
            target.display()
        )
        .into());
    }
    if let Some(warning) = target::check_user(target)? {
        eprintln!("warning: {warning}");
    }
    let m = check(src)?;
    // The operator as `describe` gives it (`via=cli os_user=NAME os_uid=N`, the name made safe
    // for the record), and the backup's path as it resolves.
    let source = std::fs::canonicalize(src).unwrap_or_else(|_| src.to_path_buf());
    let facts = format!("{} source={:?}", crate::control::this_operator().describe(), source.display().to_string());
    let record = restore_into(&m, src, target, &facts, &mut |_| Ok(()))?;
    println!(
        "restored {} files into {} from the backup of server {} taken at {} by Wardline {} (schema version {}, stream position {}, audit records 1 to {})",
        m.files.len(),
        target.display(),
        m.server_name.as_deref().unwrap_or("(not started)"),
        m.created_at,
        m.wardline_version,
        m.schema_version,
        m.stream_position,
        m.audit_seq,
    );
    for missing in &m.missing {
        eprintln!("note: not in the backup: {}: {}", missing.path, missing.reason);
    }
    if let Some(name) = &m.server_name
        && *name != config.server_name
    {
        eprintln!("note: the data belongs to server name {name:?}: start the server with server_name = {name:?}");
    }
    println!(
        "audit record {} says that the trail was restored from this backup, whose trail ended at record {}. \
         Records the server made after the backup was taken are not in it: `audit verify` with the checkpoints kept off the machine \
         lists them as lost by this restore, and asks you to confirm it with `--restore-confirmed {}` (keep a note of this restore: when, from which backup, by whom). \
         Start the server now: it signs a checkpoint covering record {} as it starts",
        record.seq, m.audit_seq, record.seq, record.seq
    );
    Ok(())
}

/// Reads the manifest and checks every file of the backup against it.
fn check(src: &Path) -> Result<Manifest, Box<dyn std::error::Error>> {
    let path = src.join(manifest::FILE);
    let text = crate::private_file::regular::open(&path).and_then(std::io::read_to_string).map_err(|e| {
        format!(
            "{}: {e} (a backup without its manifest is incomplete: `wardline backup` writes it last)",
            path.display()
        )
    })?;
    let m: Manifest =
        serde_json::from_str(&text).map_err(|e| format!("{}: not a backup manifest: {e}", path.display()))?;
    if m.format != manifest::FORMAT {
        return Err(
            format!("{}: format {:?}, this Wardline reads {:?}", path.display(), m.format, manifest::FORMAT).into()
        );
    }
    if m.schema_version > wardline_store_sqlite::SCHEMA_VERSION {
        return Err(format!(
            "the backup was taken by Wardline {} (database schema version {}); this Wardline {} knows schema versions up to {}: restore it with Wardline {} or later",
            m.wardline_version,
            m.schema_version,
            env!("CARGO_PKG_VERSION"),
            wardline_store_sqlite::SCHEMA_VERSION,
            m.wardline_version
        )
        .into());
    }
    if wardline_types::Timestamp::parse_rfc3339_strict(&m.created_at).is_none() {
        return Err(format!(
            "{}: created_at {:?} is not an RFC 3339 time, as `wardline backup` writes it: not a backup manifest",
            path.display(),
            m.created_at
        )
        .into());
    }
    for f in &m.files {
        manifest::relative(&f.path)?;
        if !written_by_wardline(f) {
            return Err(format!(
                "{}: the manifest names {:?}, which is no file Wardline keeps (a database, a key, the checkpoint file, or a media blob named by its SHA-256): nothing was restored",
                path.display(),
                f.path
            )
            .into());
        }
    }
    if !m.files.iter().any(|f| f.path == DATABASE) {
        return Err(format!("{}: the manifest lists no database", path.display()).into());
    }
    let mut problems = Vec::new();
    for f in &m.files {
        let file = src.join(manifest::relative(&f.path)?);
        match manifest::hash_file(&file) {
            Ok((size, sha256)) if size == f.size && sha256 == f.sha256 => {}
            Ok((size, _)) if size != f.size => {
                problems.push(format!("{}: {size} bytes, the manifest says {}", f.path, f.size));
            }
            Ok(_) => problems.push(format!("{}: its SHA-256 is not the manifest's: the file was changed", f.path)),
            Err(e) => problems.push(format!("{}: {e}", f.path)),
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "the backup in {} does not match its manifest; nothing was restored:\n  {}",
            src.display(),
            problems.join("\n  ")
        )
        .into());
    }
    Ok(m)
}

/// Is `f` a file a backup holds: the database, a key, the checkpoint file, or a media blob
/// named by its SHA-256 (the manifest's, which the file's content is checked against) under
/// the directory of its first two digits? Anything else (SQLite's `wardline.db-wal`, which it
/// would apply to the checked database; a restore's own temporary files) is refused.
fn written_by_wardline(f: &manifest::FileEntry) -> bool {
    let fixed = [
        DATABASE,
        crate::audit_files::CHECKPOINTS_FILE,
        crate::audit_files::KEY_FILE,
        wardline_service::names::KEY_FILE,
    ];
    if fixed.contains(&f.path.as_str()) {
        return true;
    }
    let Some(rest) = f.path.strip_prefix("media/blobs/") else { return false };
    let Some((fan, name)) = rest.split_once('/') else { return false };
    name.len() == 64
        && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && name.get(..2) == Some(fan)
        && name == f.sha256
}

/// A point of a restore, for tests that look at the data directory, or fail the restore,
/// between its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// The marker is written.
    Marked,
    /// A file other than the database is copied (its path in the manifest).
    Copied(String),
    /// The database is copied under its temporary name.
    DatabaseCopied,
    /// The restore's audit record is appended to it.
    Recorded,
    /// The database is in place; the marker is still there.
    DatabaseInPlace,
}

/// Writes the backup into `target` (empty or missing), in the order that makes a restore cut
/// short evident: the marker, every file but the database, the database under a temporary name
/// with the restore's record appended, the database renamed into place, the marker removed.
/// A failure takes back what was written. Returns the restore's audit record.
fn restore_into(
    m: &Manifest,
    src: &Path,
    target: &Path,
    facts: &str,
    between: &mut dyn FnMut(&Step) -> Result<(), String>,
) -> Result<wardline_types::audit::AuditRecord, Box<dyn std::error::Error>> {
    let mut t = Target::open(target).map_err(|e| format!("{}: {e}", target.display()))?;
    match fill(&mut t, m, src, facts, between) {
        Ok(record) => Ok(record),
        Err(e) => {
            let restoring = target.join(DATABASE_RESTORING);
            let beside = ["-journal", "-wal", "-shm"].map(|side| {
                let mut p = restoring.clone().into_os_string();
                p.push(side);
                PathBuf::from(p)
            });
            match t.undo(&beside) {
                Ok(()) => Err(e),
                Err(left) => Err(format!(
                    "{e}\nand what the restore wrote could not all be taken back ({left}): {} still holds {INCOMPLETE}",
                    target.display()
                )
                .into()),
            }
        }
    }
}

fn fill(
    t: &mut Target,
    m: &Manifest,
    src: &Path,
    facts: &str,
    between: &mut dyn FnMut(&Step) -> Result<(), String>,
) -> Result<wardline_types::audit::AuditRecord, Box<dyn std::error::Error>> {
    let root = t.root().to_path_buf();
    let at = |rel: &str| format!("{}", root.join(rel).display());
    t.write_now(Path::new(INCOMPLETE), marker_text(m, src).as_bytes())
        .map_err(|e| format!("{}: {e}", at(INCOMPLETE)))?;
    between(&Step::Marked)?;
    let mut database = None;
    for f in &m.files {
        if f.path == DATABASE {
            database = Some(f);
            continue;
        }
        let rel = manifest::relative(&f.path)?;
        copy_checked(t, src, &rel, &rel, f)?;
        between(&Step::Copied(f.path.clone()))?;
    }
    t.sync().map_err(|e| format!("{}: {e}", root.display()))?;
    let db_entry = database.ok_or("the manifest lists no database")?;
    copy_checked(t, src, Path::new(DATABASE), Path::new(DATABASE_RESTORING), db_entry)?;
    t.sync().map_err(|e| format!("{}: {e}", root.display()))?;
    between(&Step::DatabaseCopied)?;

    // The restore's own record, after the backup's last, before the database is in place.
    let restoring = root.join(DATABASE_RESTORING);
    let held = db::inspect(&restoring).map_err(|e| format!("{}: {e}", at(DATABASE)))?;
    let backup_hash = if m.audit_seq == 0 { GENESIS.to_owned() } else { m.audit_hash.clone() };
    let held_hash = if held.audit_head.0 == 0 { GENESIS.to_owned() } else { held.audit_head.1.clone() };
    if held.audit_head.0 != m.audit_seq || held_hash != backup_hash {
        return Err(format!(
            "the backup's database ends its audit trail at record {}, but its manifest says {}: the backup is inconsistent; nothing was restored",
            held.audit_head.0, m.audit_seq
        )
        .into());
    }
    let restored = Restored { backup_taken_at: m.created_at.clone(), audit_seq: m.audit_seq, audit_hash: backup_hash };
    let mut record = NewAuditRecord::new(SystemClock.now(), AuditAction::Restore, Outcome::Success);
    record.detail = Some(format!("{} {facts}", restored.detail()));
    let record = db::append_audit_record(&restoring, record).map_err(|e| format!("{}: {e}", at(DATABASE)))?;
    between(&Step::Recorded)?;

    t.rename(Path::new(DATABASE_RESTORING), Path::new(DATABASE)).map_err(|e| format!("{}: {e}", at(DATABASE)))?;
    between(&Step::DatabaseInPlace)?;
    t.remove(Path::new(INCOMPLETE)).map_err(|e| format!("{}: {e}", at(INCOMPLETE)))?;
    Ok(record)
}

/// Copies the backup's `from` to the data directory's `to`, checking it against the manifest.
fn copy_checked(
    t: &mut Target,
    src: &Path,
    from: &Path,
    to: &Path,
    f: &manifest::FileEntry,
) -> Result<(), Box<dyn std::error::Error>> {
    let (size, sha256) = t.copy_in(&src.join(from), to).map_err(|e| format!("{}: {e}", f.path))?;
    if size != f.size || sha256 != f.sha256 {
        return Err(format!("{}: changed while it was being restored; nothing was restored", f.path).into());
    }
    Ok(())
}

/// What the marker says to whoever finds it.
fn marker_text(m: &Manifest, src: &Path) -> String {
    format!(
        "A restore from the backup in {} (taken at {}) began here at {} and has not finished.\n\
         Until it has, this directory holds only a part of that backup: Wardline refuses to start on it.\n\
         If no restore is running, empty this directory and run `wardline restore` again.\n",
        src.display(),
        m.created_at,
        SystemClock.now().to_rfc3339()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Counts, FileEntry};
    use wardline_store::AuditStore;
    use wardline_store_sqlite::{Durability, SqliteStore};
    use wardline_types::Timestamp;

    /// A backup of a data directory with three audit records, a key and a file; and its manifest.
    async fn backup_of(dir: &Path) -> (PathBuf, Manifest) {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let store = SqliteStore::open(&data.join(DATABASE), Durability::Normal).unwrap();
        let records =
            (1..=3).map(|i| NewAuditRecord::new(Timestamp(i), AuditAction::Login, Outcome::Success)).collect();
        store.append_audit(records).await.unwrap();
        drop(store);
        let src = dir.join("backup");
        std::fs::create_dir_all(src.join("media/blobs/ab")).unwrap();
        let snap = db::snapshot(&data.join(DATABASE), &src.join(DATABASE)).unwrap();
        std::fs::write(src.join("audit-signing.key"), "ab".repeat(32)).unwrap();
        std::fs::write(src.join("media/blobs/ab").join("ab".repeat(32)), b"scan").unwrap();
        let files = ["audit-signing.key", DATABASE, &format!("media/blobs/ab/{}", "ab".repeat(32))]
            .iter()
            .map(|p| {
                let (size, sha256) = manifest::hash_file(&src.join(p)).unwrap();
                FileEntry { path: (*p).to_owned(), size, sha256 }
            })
            .collect();
        let m = Manifest {
            format: manifest::FORMAT.into(),
            wardline_version: env!("CARGO_PKG_VERSION").into(),
            created_at: "2026-11-30T02:00:00.000Z".into(),
            data_dir: data.display().to_string(),
            server_name: Some("localhost".into()),
            schema_version: snap.schema_version,
            stream_position: snap.stream_position,
            audit_seq: snap.audit_head.0,
            audit_hash: snap.audit_head.1,
            audit_checkpoint_seq: 0,
            counts: Counts::default(),
            files,
            missing: Vec::new(),
        };
        (src, m)
    }

    fn has(dir: &Path, name: &str) -> bool {
        std::fs::symlink_metadata(dir.join(name)).is_ok()
    }

    #[tokio::test]
    async fn a_restore_cut_short_at_any_point_leaves_a_directory_nothing_starts_on() {
        let dir = tempfile::tempdir().unwrap();
        let (src, m) = backup_of(dir.path()).await;
        // Cut short after each step, as a power cut or `kill -9` would (a panic unwinds past the
        // restore without its clean-up): the marker is there, and the database is either not in
        // place or the marker says it is not to be trusted yet.
        let steps = [
            Step::Marked,
            Step::Copied("audit-signing.key".into()),
            Step::DatabaseCopied,
            Step::Recorded,
            Step::DatabaseInPlace,
        ];
        for (i, cut) in steps.iter().enumerate() {
            let target = dir.path().join(format!("cut-{i}"));
            let mut seen = Vec::new();
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                restore_into(&m, &src, &target, "via=test", &mut |step| {
                    seen.push((step.clone(), has(&target, INCOMPLETE), has(&target, DATABASE)));
                    assert!(step != cut, "the power went");
                    Ok(())
                })
            }));
            assert!(run.is_err(), "{cut:?}");
            assert!(refuse_incomplete(&target).unwrap_err().contains(INCOMPLETE), "{cut:?}");
            assert!(manifest::is_empty_dir(&target) == Ok(false));
            for (step, marked, database) in &seen {
                assert!(marked, "{step:?}: no marker");
                assert_eq!(*database, *step == Step::DatabaseInPlace, "{step:?}: the database");
            }
        }
        // Not cut short: the marker is gone, and the trail ends with the restore's record.
        let target = dir.path().join("whole");
        let mut seen = Vec::new();
        let record = restore_into(&m, &src, &target, "via=test", &mut |step| {
            seen.push(step.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), steps.len() + 1, "{seen:?}");
        assert_eq!(refuse_incomplete(&target), Ok(()));
        assert!(!has(&target, INCOMPLETE) && !has(&target, DATABASE_RESTORING));
        let held = db::inspect(&target.join(DATABASE)).unwrap();
        assert_eq!(held.audit_head, (m.audit_seq + 1, record.hash.clone()));
        assert_eq!((record.record.action, record.prev_hash.as_str()), (AuditAction::Restore, m.audit_hash.as_str()));
        let said = record.record.detail.as_deref().and_then(Restored::parse).unwrap();
        assert_eq!((said.audit_seq, said.backup_taken_at.as_str()), (m.audit_seq, m.created_at.as_str()));
    }

    #[test]
    fn a_backup_holds_only_files_wardline_keeps() {
        let hash = "ab".repeat(32);
        let entry = |path: &str| FileEntry { path: path.to_owned(), size: 1, sha256: hash.clone() };
        for kept in [
            "wardline.db".to_owned(),
            "audit-signing.key".into(),
            "sign-in-names.key".into(),
            "audit-checkpoints.jsonl".into(),
            format!("media/blobs/ab/{hash}"),
        ] {
            assert!(written_by_wardline(&entry(&kept)), "{kept}");
        }
        let other = "cd".repeat(32);
        for never in [
            "wardline.db-wal".to_owned(),
            "wardline.db-shm".into(),
            ".wardline.db.restoring".into(),
            ".wardline.db.restoring-wal".into(),
            ".restore-incomplete".into(),
            "manifest.json".into(),
            "serve.lock".into(),
            "media/thumbnails/x".into(),
            // Not under the directory of its first two digits, not its content's hash, not a hash.
            format!("media/blobs/cd/{hash}"),
            format!("media/blobs/cd/{other}"),
            format!("media/blobs/{hash}"),
            format!("media/blobs/AB/{}", hash.to_uppercase()),
            "media/blobs/ab/abab".into(),
        ] {
            assert!(!written_by_wardline(&entry(&never)), "{never}");
        }
    }

    #[tokio::test]
    async fn a_failed_restore_takes_back_what_it_wrote_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (src, m) = backup_of(dir.path()).await;
        for fail_at in [Step::Copied("audit-signing.key".into()), Step::Recorded, Step::DatabaseInPlace] {
            let target = dir.path().join("data-restored");
            std::fs::create_dir(&target).unwrap();
            let result = restore_into(&m, &src, &target, "via=test", &mut |step| {
                if *step == Step::Marked {
                    // Someone else writes into the directory meanwhile (a server started by its
                    // supervisor, an administrator).
                    std::fs::create_dir(target.join("media")).unwrap();
                    std::fs::write(target.join("media/theirs"), b"keep").unwrap();
                }
                if *step == fail_at { Err("the disk failed".into()) } else { Ok(()) }
            });
            assert!(result.unwrap_err().to_string().contains("the disk failed"));
            let mut left: Vec<String> = walk(&target);
            left.sort();
            assert_eq!(left, ["media", "media/theirs"], "{fail_at:?}");
            std::fs::remove_dir_all(&target).unwrap();
        }
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                out.extend(walk(&entry.path()).into_iter().map(|n| format!("{name}/{n}")));
            }
            out.push(name);
        }
        out
    }
}
