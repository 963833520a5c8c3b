//! `wardline-bench`: a load benchmark for any Matrix client-server API server, through the
//! standard endpoints only, so the same run can measure Wardline or another server.

use wardline_bench::workload;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Load benchmark for Matrix client-server API servers.
#[derive(Debug, Parser)]
#[command(name = "wardline-bench", version, about)]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8008")]
    server: String,
    /// Users (they must exist: {prefix}0, {prefix}1, ...).
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Username prefix.
    #[arg(long, default_value = "bench")]
    user_prefix: String,
    /// The users' password.
    #[arg(long, env = "BENCH_PASSWORD", default_value = "bench password 1234")]
    password: String,
    /// Rooms.
    #[arg(long, default_value_t = 40)]
    rooms: usize,
    /// Members per room.
    #[arg(long, default_value_t = 10)]
    room_size: usize,
    /// Concurrent senders.
    #[arg(long, default_value_t = 8)]
    senders: usize,
    /// Sends per second, all senders together (0: as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds to wait for the last deliveries.
    #[arg(long, default_value_t = 10.0)]
    drain: f64,
    /// The server's process id, for CPU time and memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Memory workload: every user signs in and long-polls, nobody sends.
    #[arg(long)]
    idle: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let a = Args::parse();
    let w = workload::Workload {
        base: a.server.trim_end_matches('/').to_owned(),
        users: a.users,
        user_prefix: a.user_prefix,
        password: a.password,
        rooms: a.rooms,
        room_size: a.room_size,
        senders: a.senders,
        rate: a.rate,
        duration: Duration::from_secs_f64(a.duration),
        drain: Duration::from_secs_f64(a.drain),
        pid: a.pid,
        idle: a.idle,
    };
    match workload::run(&w).await {
        Ok(report) => {
            if a.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(j) => println!("{j}"),
                    Err(e) => {
                        eprintln!("wardline-bench: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", report.table());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wardline-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
