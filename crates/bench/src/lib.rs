//! A load benchmark for any Matrix client-server API server, through the standard endpoints
//! only. `wardline-bench` (the binary) is the command-line front; the workload is here so tests
//! can run it in-process.

pub mod client;
pub mod procstat;
pub mod stats;
pub mod workload;
