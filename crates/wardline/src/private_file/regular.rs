//! Opening a file to copy it, in a data directory or a backup: a regular file only. A symbolic
//! link at its name is not followed (a backup or restore would copy, or write beside the data,
//! whatever it points at), and a FIFO or device is refused without blocking on it (a FIFO would
//! hang the command).

use std::fs::File;
use std::io;
use std::path::Path;

/// Opens `path` for reading if it is a regular file; a symbolic link, FIFO, socket, device or
/// directory is refused with an error that says which it is.
pub fn open(path: &Path) -> io::Result<File> {
    let file = open_no_follow(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    Err(refused(describe(&kind)))
}

fn refused(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{what}, not a regular file: only regular files are copied, and nothing is followed or read through it"
        ),
    )
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    // Without blocking: opening a FIFO for reading would wait for a writer.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => Ok(File::from(fd)),
        Err(e) if e == rustix::io::Errno::LOOP => Err(refused("a symbolic link")),
        Err(e) => Err(io::Error::from(e)),
    }
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(refused("a symbolic link"));
    }
    File::open(path)
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        return "a directory";
    }
    if kind.is_symlink() {
        return "a symbolic link";
    }
    "not a file"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[cfg(unix)]
    #[test]
    fn only_regular_files_open_and_nothing_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scan.bin");
        std::fs::write(&file, b"ecg").unwrap();
        let mut text = String::new();
        open(&file).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "ecg");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        for (path, what) in [(&link, "symbolic link"), (&fifo, "FIFO"), (&dir.path().to_path_buf(), "directory")] {
            let e = open(path).unwrap_err();
            assert!(e.to_string().contains(what), "{}: {e}", path.display());
        }
        assert_eq!(open(&dir.path().join("none")).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
