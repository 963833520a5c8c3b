//! The simulation's clock: it moves the server's test clock (`WARDLINE_TEST_CLOCK_FILE`) so
//! the server's time runs `speed` times faster than real time, and tells the simulation's
//! people what time it is on the server.
//!
//! The server runs ahead of real time by the milliseconds in the file; the file is rewritten
//! (atomically, by a rename) every [`TICK`] with `base + (speed - 1) × real time elapsed`, so
//! server time advances `speed` server milliseconds per real one. The server reads the file
//! every 100 ms, so its clock moves in steps of about `speed × 100 ms` (10 s at 100×).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often the file is rewritten.
pub const TICK: Duration = Duration::from_millis(50);

/// A server clock running `speed` times faster than real time once started.
#[derive(Debug)]
pub struct SimClock {
    file: PathBuf,
    speed: f64,
    /// The offset already in the file when the simulation began (it only grows).
    base_ms: u64,
    started: Mutex<Option<Instant>>,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SimClock {
    /// A clock writing `file` (whose current offset, if any, is kept as the starting point).
    #[must_use]
    pub fn new(file: PathBuf, speed: f64) -> Self {
        let base_ms = std::fs::read_to_string(&file).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        Self { file, speed: speed.max(1.0), base_ms, started: Mutex::new(None) }
    }

    /// Server milliseconds per real one.
    #[must_use]
    pub fn speed(&self) -> f64 {
        self.speed
    }

    fn offset_ms(&self) -> u64 {
        let started = *self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let elapsed = started.map_or(0.0, |s| s.elapsed().as_secs_f64() * 1000.0);
        self.base_ms + ((self.speed - 1.0) * elapsed) as u64
    }

    /// The server's time now, as far as the file says (the server reads it up to 100 ms later).
    #[must_use]
    pub fn server_now_ms(&self) -> u64 {
        unix_ms() + self.offset_ms()
    }

    /// The real time that `server_ms` of server time takes.
    #[must_use]
    pub fn real(&self, server_ms: u64) -> Duration {
        Duration::from_secs_f64(server_ms as f64 / self.speed / 1000.0)
    }

    /// Sleeps until the server's time is at least `server_ms`.
    pub async fn until(&self, server_ms: u64) {
        loop {
            let now = self.server_now_ms();
            if now >= server_ms {
                return;
            }
            tokio::time::sleep(self.real(server_ms - now).max(Duration::from_millis(1))).await;
        }
    }

    fn write(&self) -> std::io::Result<()> {
        let tmp = self.file.with_extension("tmp");
        std::fs::write(&tmp, self.offset_ms().to_string())?;
        std::fs::rename(&tmp, &self.file)
    }

    /// Starts the clock; the returned task keeps the file current until aborted.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn start(self: &std::sync::Arc<Self>) -> std::io::Result<tokio::task::JoinHandle<()>> {
        *self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        self.write()?;
        let me = std::sync::Arc::clone(self);
        Ok(tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                if let Err(e) = me.write() {
                    eprintln!("wardline-bench: the clock file cannot be written: {e}");
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_starts_from_the_files_offset_and_runs_faster() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("clock");
        std::fs::write(&file, "5000").unwrap_or_else(|e| panic!("{e}"));
        let c = std::sync::Arc::new(SimClock::new(file.clone(), 100.0));
        let before = c.server_now_ms();
        assert!(before >= unix_ms() + 5000 - 50 && before <= unix_ms() + 5000);
        assert_eq!(c.real(10_000), Duration::from_millis(100));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async {
            let task = c.start().unwrap_or_else(|e| panic!("{e}"));
            let target = c.server_now_ms() + 20_000;
            c.until(target).await;
            task.abort();
        });
        let written: u64 = std::fs::read_to_string(&file).unwrap_or_default().trim().parse().unwrap_or(0);
        assert!(written > 5000, "the file moved on: {written}");
    }
}
