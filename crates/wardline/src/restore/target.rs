//! The data directory a restore fills: every file and directory the restore creates is
//! remembered (so a failed restore takes back exactly what it wrote, never what someone else
//! put there meanwhile), and synced to disk with the directory that names it.
//!
//! A restore runs as the data directory's owner ([`check_user`]): never as root for another
//! user, since that user controls the backup directory and the data directory, and could swap a
//! directory for a symbolic link between the checks and the copies to have root read or write
//! any file. Run as the owner, nothing it can be led to read or write is beyond that owner's
//! own reach, and no file needs giving to anyone.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::private_file::{copy_hashed, is_real_dir, owner_only, regular, restrict_dir, sync_dir};

/// Checks, before anything is written, that this restore runs as the owner of `target` (or, if
/// it is to be created, of the nearest directory above it). Returns a warning to print, if any.
pub fn check_user(target: &Path) -> Result<Option<String>, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let euid = rustix::process::geteuid().as_raw();
        let existing = std::fs::metadata(target).ok().map(|m| m.uid());
        let above = target
            .ancestors()
            .skip(1)
            .find_map(|p| std::fs::metadata(if p.as_os_str().is_empty() { Path::new(".") } else { p }).ok())
            .map(|m| m.uid());
        decide(target, euid, existing, above, &user_name)
    }
    #[cfg(not(unix))]
    {
        let _ = target;
        Ok(None)
    }
}

/// [`check_user`]'s rule, given the effective user, the owner of the target if it exists, the
/// owner of the nearest directory above it, and a way to name a user.
pub fn decide(
    target: &Path,
    euid: u32,
    existing: Option<u32>,
    above: Option<u32>,
    name: &dyn Fn(u32) -> Option<String>,
) -> Result<Option<String>, String> {
    let sudo = |uid: u32| name(uid).unwrap_or_else(|| format!("'#{uid}'"));
    if euid != 0 {
        return match existing {
            Some(owner) if owner != euid => Err(format!(
                "{} belongs to user {owner}, but this restore runs as user {euid}: the restored files would be yours, and the server could not use them. \
                 Run the restore as the directory's owner: `sudo -u {} wardline restore ...`",
                target.display(),
                sudo(owner)
            )),
            _ => Ok(None),
        };
    }
    match existing.or(above) {
        Some(0) => Ok(Some(format!(
            "the restore runs as root into {}, which root owns: the restored files are root's (0600), and the server cannot read them unless it runs as root. \
             If it runs as a service user, empty the directory, give it to that user (install -d -m 0700 -o wardline -g wardline ...) and restore as that user",
            target.display()
        ))),
        Some(owner) => Err(format!(
            "{} belongs to user {owner}: run the restore as that user, `sudo -u {} wardline restore ...`, not as root \
             (as root it would read the backup and write the data directory, both in that user's hands, with root's rights)",
            if existing.is_some() {
                target.display().to_string()
            } else {
                format!("the directory that will hold {}", target.display())
            },
            sudo(owner)
        )),
        None => Ok(None),
    }
}

/// The name of the user `uid` in `/etc/passwd`, if it is there.
#[cfg(unix)]
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid.to_string()).then(|| name.to_owned())
    })
}

/// One thing a restore created.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Made {
    File(PathBuf),
    Dir(PathBuf),
}

/// The data directory being restored, and what the restore has written into it.
#[derive(Debug)]
pub struct Target {
    root: PathBuf,
    made: Vec<Made>,
    /// Directories with new entries not yet synced.
    unsynced: Vec<PathBuf>,
}

impl Target {
    /// Opens `root` (an empty directory, or none: then it is created with whatever is missing
    /// above it), readable by its owner only.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        let mut t = Self { root: root.to_path_buf(), made: Vec::new(), unsynced: Vec::new() };
        let mut missing = Vec::new();
        let mut at = Some(root);
        while let Some(p) = at.filter(|p| !p.as_os_str().is_empty() && std::fs::symlink_metadata(p).is_err()) {
            missing.push(p.to_path_buf());
            at = p.parent();
        }
        for dir in missing.into_iter().rev() {
            t.make_dir(&dir)?;
        }
        restrict_dir(root)?;
        Ok(t)
    }

    /// The directory restored into.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn parent_of(path: &Path) -> PathBuf {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn make_dir(&mut self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir(dir)?;
        self.made.push(Made::Dir(dir.to_path_buf()));
        restrict_dir(dir)?;
        sync_dir(&Self::parent_of(dir))
    }

    /// Creates the directories of `rel` (a directory path under the root) that are missing.
    pub fn make_dirs(&mut self, rel: &Path) -> std::io::Result<()> {
        let mut at = self.root.clone();
        for part in rel.components() {
            at.push(part);
            if is_real_dir(&at) {
                continue;
            }
            self.make_dir(&at)?;
        }
        Ok(())
    }

    /// Creates the new file `rel` (0600), lets `fill` write it, and syncs it.
    pub fn create<T>(
        &mut self,
        rel: &Path,
        fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let path = self.root.join(rel);
        if let Some(dir) = rel.parent().filter(|d| !d.as_os_str().is_empty()) {
            self.make_dirs(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        owner_only(&mut options);
        let mut file = options.open(&path)?;
        self.made.push(Made::File(path.clone()));
        let result = fill(&mut file)?;
        file.sync_all()?;
        let dir = Self::parent_of(&path);
        if !self.unsynced.contains(&dir) {
            self.unsynced.push(dir);
        }
        Ok(result)
    }

    /// Writes the new file `rel` holding `bytes`, and syncs it and its directory at once.
    pub fn write_now(&mut self, rel: &Path, bytes: &[u8]) -> std::io::Result<()> {
        self.create(rel, |f| f.write_all(bytes))?;
        self.sync()
    }

    /// Copies the regular file `from` to the new file `rel`; returns the size and SHA-256 of
    /// what was copied.
    pub fn copy_in(&mut self, from: &Path, rel: &Path) -> std::io::Result<(u64, String)> {
        let mut src = regular::open(from)?;
        self.create(rel, |out| copy_hashed(&mut src, out))
    }

    /// Renames `from` to `to` (both under the root, `to` not there) and syncs the directory.
    pub fn rename(&mut self, from: &Path, to: &Path) -> std::io::Result<()> {
        let (from, to) = (self.root.join(from), self.root.join(to));
        if std::fs::symlink_metadata(&to).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} appeared during the restore", to.display()),
            ));
        }
        std::fs::rename(&from, &to)?;
        for m in &mut self.made {
            if *m == Made::File(from.clone()) {
                *m = Made::File(to.clone());
            }
        }
        sync_dir(&Self::parent_of(&to))
    }

    /// Removes the file `rel`, which this restore wrote, and syncs its directory.
    pub fn remove(&mut self, rel: &Path) -> std::io::Result<()> {
        let path = self.root.join(rel);
        std::fs::remove_file(&path)?;
        self.made.retain(|m| *m != Made::File(path.clone()));
        sync_dir(&Self::parent_of(&path))
    }

    /// Syncs every directory that received a new file since the last sync.
    pub fn sync(&mut self) -> std::io::Result<()> {
        for dir in std::mem::take(&mut self.unsynced) {
            sync_dir(&dir)?;
        }
        Ok(())
    }

    /// Takes back everything this restore wrote, newest first; a directory is removed only if
    /// it is empty then (what someone else put there stays). `also` are files a tool of the
    /// restore may have left beside one it wrote (SQLite's journal), removed first if there.
    /// A file that cannot be removed stops it, so the files written before it (the marker
    /// first of all) stay: the error names it.
    pub fn undo(self, also: &[PathBuf]) -> Result<(), String> {
        for path in also {
            let _ = std::fs::remove_file(path);
        }
        let mut dirs = Vec::new();
        let mut result = Ok(());
        for m in self.made.iter().rev() {
            match m {
                Made::File(p) => match std::fs::remove_file(p) {
                    Ok(()) => dirs.push(Self::parent_of(p)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        result = Err(format!("{}: {e}", p.display()));
                        break;
                    }
                },
                Made::Dir(p) => {
                    if std::fs::remove_dir(p).is_ok() {
                        dirs.push(Self::parent_of(p));
                    }
                }
            }
        }
        dirs.sort();
        dirs.dedup();
        for d in dirs {
            let _ = sync_dir(&d);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u32 = 1000;
    const WARDLINE: u32 = 998;

    fn name(uid: u32) -> Option<String> {
        (uid == WARDLINE).then(|| "wardline".to_owned())
    }

    #[test]
    fn a_restore_runs_as_the_data_directorys_owner() {
        let t = Path::new("/var/lib/wardline");
        // As the owner: nothing to say.
        assert_eq!(decide(t, WARDLINE, Some(WARDLINE), Some(0), &name), Ok(None));
        // A directory it creates is its own.
        assert_eq!(decide(t, ME, None, Some(0), &name), Ok(None));
        // As root, into the service user's directory, or one to be made in the service user's:
        // refused, naming the command to run instead.
        for (existing, above) in [(Some(WARDLINE), Some(0)), (None, Some(WARDLINE))] {
            let e = decide(t, 0, existing, above, &name).unwrap_err();
            assert!(e.contains("belongs to user 998") && e.contains("sudo -u wardline wardline restore"), "{e}");
        }
        // A user without a name is named by number.
        let e = decide(t, 0, Some(4242), Some(0), &name).unwrap_err();
        assert!(e.contains("sudo -u '#4242' wardline restore"), "{e}");
        // As root into root's directory: allowed, with a warning that the server's account
        // cannot read the files.
        for (existing, above) in [(Some(0), Some(0)), (None, Some(0))] {
            let w = decide(t, 0, existing, above, &name).unwrap().unwrap();
            assert!(w.contains("cannot read them unless it runs as root"), "{w}");
        }
        // As someone else than the owner: refused, saying what to do.
        let e = decide(t, ME, Some(WARDLINE), Some(0), &name).unwrap_err();
        assert!(e.contains("belongs to user 998") && e.contains("sudo -u wardline wardline restore"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn undo_takes_back_only_what_the_restore_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a/b/data");
        let mut t = Target::open(&root).unwrap();
        t.write_now(Path::new("x/y/one"), b"1").unwrap();
        t.copy_in(&root.join("x/y/one"), Path::new("two")).unwrap();
        // Meanwhile someone else writes into a directory the restore made.
        std::fs::write(root.join("x/theirs"), b"keep").unwrap();
        t.undo(&[]).unwrap();
        assert_eq!(std::fs::read(root.join("x/theirs")).unwrap(), b"keep");
        assert!(!root.join("two").exists() && !root.join("x/y").exists());
        // The directories it made that are empty again are gone; the others stay.
        let mut t = Target::open(&dir.path().join("c/d")).unwrap();
        t.write_now(Path::new("f"), b"1").unwrap();
        t.undo(&[]).unwrap();
        assert!(!dir.path().join("c").exists());
        assert!(dir.path().join("a/b/data/x").exists());
    }
}
