//! File contents on disk, named by their SHA-256, under `DATA_DIR/media/`.
//!
//! **Invariants:** a blob appears under its name only complete and synced to disk (written to
//! `tmp/`, fsynced, renamed into place, directory fsynced), so a crash never leaves a half file
//! behind a valid id; `tmp/` holds nothing a restart needs, and is emptied at start.
//!
//! Layout: `blobs/ab/abcdef…` (the first two hex digits fan out the directory), `thumbnails/
//! abcdef…/96x96-crop`, `tmp/`. Blobs are stored as given; encrypting them at rest with a key per
//! file slots in here (the key reference is already kept with each media item).

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{ServiceError, ServiceResult};

fn io_err(what: &str, e: std::io::Error) -> ServiceError {
    ServiceError::Internal(format!("media storage: {what}: {e}"))
}

/// The blob directory.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

/// SHA-256 of some bytes, hex.
#[must_use]
pub fn hash_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Blobs {
    /// Blobs under `data_dir/media`.
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join("media") }
    }

    fn blob_path(&self, hash: &str) -> Option<PathBuf> {
        valid_hash(hash).then(|| self.root.join("blobs").join(&hash[..2]).join(hash))
    }

    fn thumbnail_dir(&self, hash: &str) -> Option<PathBuf> {
        valid_hash(hash).then(|| self.root.join("thumbnails").join(hash))
    }

    /// Writes `bytes` durably under `path`: to a temporary file first, renamed into place.
    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> ServiceResult<()> {
        let tmp_dir = self.root.join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(|e| io_err("creating tmp", e))?;
        let dir = path.parent().ok_or_else(|| ServiceError::Internal("blob path without parent".into()))?;
        std::fs::create_dir_all(dir).map_err(|e| io_err("creating directory", e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir).map_err(|e| io_err("temporary file", e))?;
        tmp.write_all(bytes).map_err(|e| io_err("writing", e))?;
        tmp.as_file().sync_all().map_err(|e| io_err("syncing", e))?;
        tmp.persist(path).map_err(|e| io_err("renaming", e.error))?;
        if let Ok(d) = std::fs::File::open(dir) {
            d.sync_all().map_err(|e| io_err("syncing directory", e))?;
        }
        Ok(())
    }

    /// Stores `bytes` (once: the same content is kept once) and returns its hash.
    pub fn put(&self, bytes: &[u8]) -> ServiceResult<String> {
        let hash = hash_of(bytes);
        let path = self.blob_path(&hash).ok_or_else(|| ServiceError::Internal("bad hash".into()))?;
        if !path.exists() {
            self.write_atomically(&path, bytes)?;
        }
        Ok(hash)
    }

    /// A blob's bytes.
    pub fn get(&self, hash: &str) -> ServiceResult<Vec<u8>> {
        let path = self.blob_path(hash).ok_or_else(|| ServiceError::not_found("no such file"))?;
        std::fs::read(&path).map_err(|e| io_err("reading", e))
    }

    /// A cached thumbnail, if one was made.
    #[must_use]
    pub fn thumbnail(&self, hash: &str, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.thumbnail_dir(hash)?.join(name)).ok()
    }

    /// Caches a thumbnail.
    pub fn put_thumbnail(&self, hash: &str, name: &str, bytes: &[u8]) -> ServiceResult<()> {
        let dir = self.thumbnail_dir(hash).ok_or_else(|| ServiceError::Internal("bad hash".into()))?;
        self.write_atomically(&dir.join(name), bytes)
    }

    /// Deletes a blob and its thumbnails.
    pub fn delete(&self, hash: &str) {
        if let Some(path) = self.blob_path(hash)
            && let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, "could not delete a media blob");
        }
        if let Some(dir) = self.thumbnail_dir(hash) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Empties `tmp/` (what a crash left half written) and returns the names of all blobs.
    pub fn recover(&self) -> ServiceResult<Vec<String>> {
        let tmp = self.root.join("tmp");
        if tmp.exists() {
            for entry in std::fs::read_dir(&tmp).map_err(|e| io_err("listing tmp", e))?.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let mut names = Vec::new();
        let blobs = self.root.join("blobs");
        if blobs.exists() {
            for fan in std::fs::read_dir(&blobs).map_err(|e| io_err("listing blobs", e))?.flatten() {
                for entry in std::fs::read_dir(fan.path()).map_err(|e| io_err("listing blobs", e))?.flatten() {
                    names.extend(entry.file_name().to_str().filter(|n| valid_hash(n)).map(ToOwned::to_owned));
                }
            }
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_once_by_hash_and_recovers() -> ServiceResult<()> {
        let dir = tempfile::tempdir().map_err(|e| io_err("tempdir", e))?;
        let blobs = Blobs::new(dir.path());
        let a = blobs.put(b"ecg strip")?;
        assert_eq!(blobs.put(b"ecg strip")?, a, "same content, same blob");
        assert_eq!(blobs.get(&a)?, b"ecg strip");
        std::fs::write(dir.path().join("media/tmp/half-written"), b"xx").map_err(|e| io_err("write", e))?;
        assert_eq!(blobs.recover()?, vec![a.clone()]);
        assert_eq!(std::fs::read_dir(dir.path().join("media/tmp")).map_err(|e| io_err("ls", e))?.count(), 0);
        blobs.put_thumbnail(&a, "32x32-crop", b"t")?;
        assert_eq!(blobs.thumbnail(&a, "32x32-crop").as_deref(), Some(&b"t"[..]));
        blobs.delete(&a);
        assert!(blobs.get(&a).is_err() && blobs.thumbnail(&a, "32x32-crop").is_none());
        assert!(blobs.get("../../etc/passwd").is_err(), "only hashes name blobs");
        Ok(())
    }
}
