//! `wardline restore SRC`: rebuilds an empty data directory from a backup.
//!
//! Nothing is written until the whole backup has been checked against its manifest (every file
//! there, of its size and SHA-256, no path leading outside the backup, a schema this Wardline
//! can run). Each file is hashed again as it is copied, so a backup changed during the restore
//! is caught too; a restore that fails leaves the data directory empty again.

use std::path::Path;

use wardline_service::Config;

use crate::manifest::{self, Manifest};
use crate::private_file::{copy_private, create_private_dirs, restrict_dir, sync_dir};

/// Restores the backup at `src` into the configured data directory, which must be missing or
/// empty.
pub fn run(config: &Config, src: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let target = &config.data_dir;
    if !manifest::is_empty_dir(target)? {
        return Err(format!(
            "{} is not empty: restore rebuilds an empty data directory (move the current one aside first)",
            target.display()
        )
        .into());
    }
    let m = check(src)?;
    let created = !target.exists();
    std::fs::create_dir_all(target).map_err(|e| format!("{}: {e}", target.display()))?;
    if let Err(e) = copy_all(&m, src, target) {
        empty(target, created);
        return Err(e);
    }
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
        "audit records made after the backup are not in it: `audit verify` with checkpoints kept off the machine will report that the trail ends at record {}",
        m.audit_seq
    );
    Ok(())
}

/// Reads the manifest and checks every file of the backup against it.
fn check(src: &Path) -> Result<Manifest, Box<dyn std::error::Error>> {
    let path = src.join(manifest::FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
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
    for f in &m.files {
        manifest::relative(&f.path)?;
    }
    if !m.files.iter().any(|f| f.path == crate::backup::DATABASE) {
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

/// Copies every file of the manifest, checking each again.
fn copy_all(m: &Manifest, src: &Path, target: &Path) -> Result<(), Box<dyn std::error::Error>> {
    restrict_dir(target)?;
    for f in &m.files {
        let rel = manifest::relative(&f.path)?;
        let to = target.join(&rel);
        let dir = to.parent().unwrap_or(target);
        create_private_dirs(target, dir)?;
        let (size, sha256) = copy_private(&src.join(&rel), &to).map_err(|e| format!("{}: {e}", f.path))?;
        if size != f.size || sha256 != f.sha256 {
            return Err(format!("{}: changed while it was being restored; nothing was restored", f.path).into());
        }
    }
    let mut dirs: Vec<_> =
        m.files.iter().filter_map(|f| target.join(&f.path).parent().map(Path::to_path_buf)).collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        sync_dir(&d)?;
    }
    Ok(())
}

/// Takes back what a failed restore wrote.
fn empty(target: &Path, created: bool) {
    if created {
        let _ = std::fs::remove_dir_all(target);
        return;
    }
    if let Ok(entries) = std::fs::read_dir(target) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        }
    }
}
