//! A clock tests can move: `WARDLINE_TEST_CLOCK_FILE=<path>` makes `wardline serve` run ahead of
//! the real clock by the whole number of milliseconds written in that file (re-read every
//! [`POLL`]; an offset only grows). Browser and benchmark tests use it to run a whole server's
//! escalations, rotas and expiries through an hour in a second, as the service tests do with a
//! manual clock.
//!
//! It is for tests only: a server started with it says so loudly in its log, and the variable
//! is not a setting of [`wardline_service::Config`] (it is read only here, by `serve`). A file
//! anyone but the server's own user could write is refused at start (whoever can write it can
//! move every escalation to its failsafe and every session to its end), and so is one that
//! becomes so later (the clock then stays where it was).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wardline_types::{Clock, ShiftedClock, SystemClock};

/// The variable naming the offset file.
pub const VARIABLE: &str = "WARDLINE_TEST_CLOCK_FILE";

/// How often the file is read.
const POLL: Duration = Duration::from_millis(100);

/// The clock `wardline serve` runs on: the real one, or, when [`VARIABLE`] names a file, one
/// the file moves (with the task that reads it).
///
/// # Errors
/// The file cannot be read, or someone other than this process's user could write it.
pub fn for_serve() -> Result<Arc<dyn Clock>, String> {
    let Some(path) = std::env::var_os(VARIABLE).map(PathBuf::from) else {
        return Ok(Arc::new(SystemClock));
    };
    only_ours(&path)?;
    tracing::warn!(file = %path.display(), "TEST CLOCK: this server's time is moved by a file; never use {VARIABLE} in service");
    let clock = Arc::new(ShiftedClock::default());
    read_offset(&path, &clock);
    let shifted = clock.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(POLL).await;
            if only_ours(&path).is_ok() {
                read_offset(&path, &shifted);
            }
        }
    });
    Ok(clock)
}

/// Refuses a clock file someone other than this process's user could write (or replace).
#[cfg(unix)]
fn only_ours(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{VARIABLE}: cannot read {}: {e}", path.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{VARIABLE}: {} must belong to this server's user and be writable by it alone",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn only_ours(_: &std::path::Path) -> Result<(), String> {
    Ok(())
}

/// Moves the clock to the file's offset, if the file holds one.
fn read_offset(path: &std::path::Path, clock: &ShiftedClock) {
    if let Some(ms) = std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse::<u64>().ok()) {
        clock.shift_to(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_moves_the_clock_forward_only() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("offset");
        let clock = ShiftedClock::default();
        read_offset(&path, &clock);
        assert_eq!(clock.offset_ms(), 0, "no file, no shift");
        std::fs::write(&path, "120000\n")?;
        read_offset(&path, &clock);
        assert_eq!(clock.offset_ms(), 120_000);
        std::fs::write(&path, "garbage")?;
        read_offset(&path, &clock);
        assert_eq!(clock.offset_ms(), 120_000, "an unreadable file leaves the clock where it is");
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_could_write_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("offset");
        std::fs::write(&path, "0")?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        assert!(only_ours(&path).is_ok());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
        assert!(only_ours(&path).is_err(), "world-writable");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664))?;
        assert!(only_ours(&path).is_err(), "group-writable");
        assert!(only_ours(&dir.path().join("missing")).is_err());
        Ok(())
    }
}
