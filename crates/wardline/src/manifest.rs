//! A backup's manifest (`manifest.json`): every file of the backup with its size and SHA-256,
//! and what the database held at the snapshot, so that `wardline restore` can check the backup
//! before it writes anything.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's file name in a backup.
pub const FILE: &str = "manifest.json";

/// What `format` says in manifests this version writes and reads.
pub const FORMAT: &str = "wardline-backup/1";

/// A backup's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The Wardline version that took the backup.
    pub wardline_version: String,
    /// When the backup was taken (RFC 3339): its snapshot began, or the time of the last audit
    /// record it holds if that is later (a record made just before the snapshot).
    pub created_at: String,
    /// The data directory it was taken from.
    pub data_dir: String,
    /// The server name the data belongs to.
    pub server_name: Option<String>,
    /// The database's schema version.
    pub schema_version: i64,
    /// The server-wide stream position at the snapshot.
    pub stream_position: i64,
    /// The last audit record at the snapshot (0: none) and its hash.
    pub audit_seq: u64,
    /// Its hash.
    pub audit_hash: String,
    /// The last audit checkpoint in the database at the snapshot.
    pub audit_checkpoint_seq: u64,
    /// Rows at the snapshot.
    pub counts: Counts,
    /// Every file of the backup but this manifest.
    pub files: Vec<FileEntry>,
    /// Files the database named that could not be copied, and why.
    #[serde(default)]
    pub missing: Vec<Missing>,
}

/// Row counts at the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Staff accounts.
    pub accounts: u64,
    /// Rooms.
    pub rooms: u64,
    /// Room events.
    pub events: u64,
    /// Media items.
    pub media: u64,
    /// Audit records.
    pub audit_records: u64,
}

impl From<wardline_store_sqlite::backup::Counts> for Counts {
    fn from(c: wardline_store_sqlite::backup::Counts) -> Self {
        Self { accounts: c.accounts, rooms: c.rooms, events: c.events, media: c.media, audit_records: c.audit_records }
    }
}

/// One file of the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its path in the backup and in the data directory, `/`-separated.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// A file the snapshot named that is not in the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// Its path in the data directory.
    pub path: String,
    /// Why it is not in the backup.
    pub reason: String,
}

/// A path of the manifest as a relative path with no `..`: a manifest cannot name a file
/// outside the backup or the data directory.
pub fn relative(path: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(path);
    if path.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!("the manifest names {path:?}, which is not a path inside the backup"));
    }
    Ok(p)
}

/// Size and SHA-256 of a regular file (a symbolic link, FIFO or device is refused: see
/// [`crate::private_file::regular::open`]).
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = crate::private_file::regular::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Whether `dir` is missing or an empty directory; an error names what is in the way.
pub fn is_empty_dir(dir: &Path) -> Result<bool, String> {
    // A freshly made file system's `lost+found`, itself empty, is no content: a backup disk or a
    // data directory may be the root of one.
    let ignorable = |e: &std::fs::DirEntry| {
        e.file_name() == "lost+found"
            && e.file_type().is_ok_and(|t| t.is_dir())
            && std::fs::read_dir(e.path()).is_ok_and(|mut inner| inner.next().is_none())
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.all(|e| e.is_ok_and(|e| ignorable(&e)))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_lost_and_found_is_no_content() {
        let dir = tempfile::tempdir().unwrap();
        assert!(is_empty_dir(dir.path()).unwrap());
        assert!(is_empty_dir(&dir.path().join("missing")).unwrap());
        std::fs::create_dir(dir.path().join("lost+found")).unwrap();
        assert!(is_empty_dir(dir.path()).unwrap(), "a new file system's root");
        std::fs::write(dir.path().join("lost+found/#1234"), b"recovered").unwrap();
        assert!(!is_empty_dir(dir.path()).unwrap(), "something was recovered into it");
        std::fs::remove_file(dir.path().join("lost+found/#1234")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        assert!(!is_empty_dir(dir.path()).unwrap());
    }

    #[test]
    fn manifest_paths_stay_inside() {
        assert!(relative("media/blobs/ab/abcd").is_ok());
        for bad in ["", "/etc/passwd", "../x", "media/../../x", "./x"] {
            assert!(relative(bad).is_err(), "{bad}");
        }
    }
}
