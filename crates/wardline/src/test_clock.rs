//! A clock tests can move: `WARDLINE_TEST_CLOCK_FILE=<path>` makes `wardline serve` run ahead of
//! the real clock by the whole number of milliseconds written in that file (re-read every
//! [`POLL`]; an offset only grows). Browser and benchmark tests use it to run a whole server's
//! escalations, rotas and expiries through an hour in a second, as the service tests do with a
//! manual clock.
//!
//! It is for tests only: a server started with it says so loudly in its log, and the variable
//! is not a setting of [`wardline_service::Config`] (it is read only here, by `serve`).

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
pub fn for_serve() -> Arc<dyn Clock> {
    let Some(path) = std::env::var_os(VARIABLE).map(PathBuf::from) else {
        return Arc::new(SystemClock);
    };
    tracing::warn!(file = %path.display(), "TEST CLOCK: this server's time is moved by a file; never use {VARIABLE} in service");
    let clock = Arc::new(ShiftedClock::default());
    read_offset(&path, &clock);
    let shifted = clock.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(POLL).await;
            read_offset(&path, &shifted);
        }
    });
    clock
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
}
