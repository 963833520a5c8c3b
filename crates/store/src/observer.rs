//! What a store reports about its own work, for monitoring: how many writes wait for the
//! writer, and how long each group commit takes.
//!
//! The store calls an observer it was given when it was opened; it knows nothing of what the
//! observer does with the figures (the service layer turns them into Prometheus metrics).
//! Calls come from the hot path of every write, so an observer only touches atomics.

use std::time::Duration;

/// Receives a store's figures about its writes.
pub trait WriteObserver: Send + Sync + std::fmt::Debug {
    /// A write joined the writer's queue.
    fn write_queued(&self);
    /// The writer took `writes` writes off its queue (into one group, or to refuse them).
    fn writes_taken(&self, writes: usize);
    /// A group of `writes` writes was committed (or failed to be) `elapsed` after its
    /// transaction began, including the wait for the disk.
    fn group_committed(&self, writes: usize, elapsed: Duration);
}

/// An observer that ignores everything: for tools and tests that do not monitor.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl WriteObserver for NoObserver {
    fn write_queued(&self) {}
    fn writes_taken(&self, _: usize) {}
    fn group_committed(&self, _: usize, _: Duration) {}
}
