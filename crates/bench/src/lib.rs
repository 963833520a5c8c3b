//! A load benchmark for any Matrix client-server API server, through the standard endpoints
//! only. `wardline-bench` (the binary) is the command-line front; the workload is here so tests
//! can run it in-process.
//!
//! The search scenario ([`search`]) also talks only to standard endpoints; its fixture
//! ([`seed`]), a data directory of a million messages, is Wardline's own and is written through
//! Wardline's store.

pub mod alarms;
pub mod client;
pub mod escalation;
pub mod ledger;
pub mod procstat;
pub mod profile;
pub mod reader;
pub mod search;
pub mod seed;
pub mod stats;
pub mod texts;
pub mod workload;
