//! Files only their owner may read (0600): the open options that create them, and whole files
//! written privately and replaced atomically (exports, the passwords of `user import`), and the
//! files and directories of backups and restores (new files 0600, directories 0700, each
//! synced to disk with the directory that names it), copied from regular files only
//! ([`regular`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::Digest;

pub mod regular;

/// Makes a file created with `options` readable by its owner only (0600).
pub fn owner_only(options: &mut std::fs::OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = options;
}

/// Writes `bytes` to a new file at `path` readable by its owner only (0600), replacing a file
/// already there. A file that exists keeps its mode when rewritten, and a symbolic link would
/// send the text wherever it points: so the text goes to a new file beside it, created
/// exclusively (which never follows a link), and that file is renamed into place; a symbolic
/// link at `path` is refused.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is a symbolic link; refusing to write through it", path.display()),
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut attempt = 0u32;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        owner_only(&mut options);
        match options.open(&tmp) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let written = file.write_all(bytes).and_then(|()| file.sync_all()).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Copies the regular file `from` (see [`regular::open`]) to a new file `to` (which must not
/// exist) readable by its owner only, synced to disk; returns the size and SHA-256 of what was
/// copied.
pub fn copy_private(from: &Path, to: &Path) -> std::io::Result<(u64, String)> {
    let mut src = regular::open(from)?;
    write_private_new(to, |out| copy_hashed(&mut src, out))
}

/// Copies `src` into `out`; returns the size and SHA-256 of what was copied.
pub fn copy_hashed(src: &mut impl Read, out: &mut impl Write) -> std::io::Result<(u64, String)> {
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Creates `to` (which must not exist) readable by its owner only, lets `fill` write it, and
/// syncs it to disk.
pub fn write_private_new<T>(
    to: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<T>,
) -> std::io::Result<T> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    owner_only(&mut options);
    let mut out = options.open(to)?;
    let result = fill(&mut out)?;
    out.sync_all()?;
    Ok(result)
}

/// Creates `dir` and the directories above it up to `root` (which exists), each readable by its
/// owner only (0700) and synced into the directory above it. A symbolic link on the way is
/// refused, not followed.
pub fn create_private_dirs(root: &Path, dir: &Path) -> std::io::Result<()> {
    let mut at = root.to_path_buf();
    for part in dir.strip_prefix(root).map_err(std::io::Error::other)?.components() {
        let parent = at.clone();
        at.push(part);
        match std::fs::create_dir(&at) {
            Ok(()) => {
                restrict_dir(&at)?;
                sync_dir(&parent)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && is_real_dir(&at) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Is `path` a directory itself (not a symbolic link to one)?
pub fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_dir())
}

/// Creates the directory `dir` and whatever of the path above it is missing (as `mkdir -p`),
/// syncing each new directory into the one above it; returns those it created, outermost first.
/// `dir` itself is made readable by its owner only (0700) if it is created.
pub fn create_dirs_synced(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(p) = at.filter(|p| !p.as_os_str().is_empty() && std::fs::symlink_metadata(p).is_err()) {
        missing.push(p.to_path_buf());
        at = p.parent();
    }
    missing.reverse();
    let mut created = Vec::new();
    for d in missing {
        match std::fs::create_dir(&d) {
            Ok(()) => {}
            // Made meanwhile by someone else: not ours.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && is_real_dir(&d) => continue,
            Err(e) => return Err(e),
        }
        if d == dir {
            restrict_dir(&d)?;
        }
        let parent = match d.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        sync_dir(&parent)?;
        created.push(d);
    }
    Ok(created)
}

/// Makes a directory readable by its owner only (0700).
pub fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Syncs a directory's entries to disk (a file created in it survives a power cut).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_new_and_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // Fresh.
        let fresh = dir.path().join("fresh.csv");
        write_private(&fresh, b"one").unwrap();
        assert_eq!((mode(&fresh), std::fs::read(&fresh).unwrap()), (0o600, b"one".to_vec()));
        // Over an existing file readable by everyone: replaced by a new, private one.
        let old = dir.path().join("old.csv");
        std::fs::write(&old, b"previous, longer content").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&old, b"two").unwrap();
        assert_eq!((mode(&old), std::fs::read(&old).unwrap()), (0o600, b"two".to_vec()));
        // A symbolic link is refused, and its target is untouched.
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_private(&link, b"secret").is_err());
        assert_eq!((mode(&target), std::fs::read(&target).unwrap()), (0o644, b"keep".to_vec()));
        let dangling = dir.path().join("dangling.csv");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(write_private(&dangling, b"secret").is_err());
        assert!(!dir.path().join("nowhere").exists());
        // No temporary files left behind.
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn copies_are_private_hashed_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::write(&from, b"ecg").unwrap();
        let to = dir.path().join("a/b/to");
        create_private_dirs(dir.path(), to.parent().unwrap()).unwrap();
        let (size, hash) = copy_private(&from, &to).unwrap();
        assert_eq!((size, hash.clone()), crate::manifest::hash_file(&from).unwrap());
        assert_eq!(hash, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"ecg")));
        assert_eq!((mode(&to), mode(&dir.path().join("a")), mode(&dir.path().join("a/b"))), (0o600, 0o700, 0o700));
        assert!(copy_private(&from, &to).is_err(), "an existing file is not overwritten");
        // What a link points at is not copied.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&from, &link).unwrap();
        let e = copy_private(&link, &dir.path().join("a/linked")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!dir.path().join("a/linked").exists());
        // A directory made on the way through a link is refused.
        std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("c")).unwrap();
        assert!(create_private_dirs(dir.path(), &dir.path().join("c/d")).is_err());
        assert!(!dir.path().join("a/d").exists());
    }

    #[cfg(unix)]
    #[test]
    fn directories_are_created_as_mkdir_p_and_say_which() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("srv")).unwrap();
        let dest = dir.path().join("srv/backups/2026-11-30");
        let created = create_dirs_synced(&dest).unwrap();
        assert_eq!(created, [dir.path().join("srv/backups"), dest.clone()]);
        assert_eq!(mode(&dest), 0o700);
        assert!(create_dirs_synced(&dest).unwrap().is_empty(), "nothing new");
    }
}
