//! `wardline-bench`: a load benchmark for any Matrix client-server API server, through the
//! standard endpoints only, so the same run can measure Wardline or another server.

use wardline_bench::profile::ClientKind;
use wardline_bench::{search, seed, workload};

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Load benchmark for Matrix client-server API servers.
#[derive(Debug, Parser)]
#[command(name = "wardline-bench", version, about)]
struct Args {
    /// Another scenario (the default is the messaging workload).
    #[command(subcommand)]
    command: Option<Command>,
    /// Server base URL.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8008")]
    server: String,
    /// Users (they must exist: {prefix}0, {prefix}1, ...).
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Username prefix.
    #[arg(long, global = true, default_value = "bench")]
    user_prefix: String,
    /// The users' password.
    #[arg(long, global = true, env = "BENCH_PASSWORD", default_value = "bench password 1234")]
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
    /// How the clients behave: `element` (Element Web's lazy-loading sync filter, any member
    /// sends, read receipts, typing) or `legacy` (messages-only filter, one sender per room, no
    /// receipts: the workload of the figures before 2026-11-30's realism change).
    #[arg(long, value_enum, default_value_t = ClientKind::Element)]
    workload: ClientKind,
    /// Element clients: type before every Nth message of each sending task (0: never).
    #[arg(long, default_value_t = 10)]
    typing_every: u64,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes the search scenario's fixture: a new Wardline data directory holding rooms and
    /// messages, written through Wardline's store (no server may be running on it).
    SeedSearch {
        /// The data directory to create.
        #[arg(long)]
        data_dir: PathBuf,
        /// Messages.
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
        /// Rooms (the searcher, `{prefix}0`, is in every other one).
        #[arg(long, default_value_t = 30)]
        rooms: usize,
        /// Users.
        #[arg(long, default_value_t = 12)]
        users: usize,
        /// Seed of the message generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Times searches by `{prefix}0` over HTTP, as a real client makes them.
    Search {
        /// Times through every term (each time: Element's search, a rank search, a next page).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
}

fn print<T: serde::Serialize>(json: bool, value: &T, table: impl FnOnce(&T) -> String) -> ExitCode {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("wardline-bench: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", table(value));
    }
    ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> ExitCode {
    let a = Args::parse();
    match a.command {
        Some(Command::SeedSearch { data_dir, messages, rooms, users, seed }) => {
            let fixture = seed::Fixture {
                data_dir,
                messages,
                rooms,
                users,
                user_prefix: a.user_prefix,
                password: a.password,
                seed,
            };
            return match seed::seed(&fixture).await {
                Ok(done) => print(a.json, &done, |d| {
                    format!(
                        "seeded {} messages ({} edits) in {} rooms ({} with the searcher) in {:.0} s\n",
                        d.messages, d.edits, d.rooms, d.searcher_rooms, d.seconds
                    )
                }),
                Err(e) => {
                    eprintln!("wardline-bench: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Search { rounds }) => {
            let b = search::SearchBench {
                base: a.server.trim_end_matches('/').to_owned(),
                user: format!("{}0", a.user_prefix),
                password: a.password,
                rounds,
            };
            return match search::run(&b).await {
                Ok(report) => print(a.json, &report, search::SearchReport::table),
                Err(e) => {
                    eprintln!("wardline-bench: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        None => {}
    }
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
        clients: a.workload,
        typing_every: a.typing_every,
        announce: true,
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
