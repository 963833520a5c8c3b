//! `wardline-bench`: a load benchmark for any Matrix client-server API server, through the
//! standard endpoints only, so the same run can measure Wardline or another server.

use wardline_bench::profile::ClientKind;
use wardline_bench::{alarms, escalation, search, seed, workload};

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
    /// Users (they must exist: {prefix}0, {prefix}1, ...) [default: 200; escalation: 1000, of
    /// which the last two are the on-call person and the failsafe].
    #[arg(long)]
    users: Option<usize>,
    /// Username prefix.
    #[arg(long, global = true, default_value = "bench")]
    user_prefix: String,
    /// The users' password.
    #[arg(long, global = true, env = "BENCH_PASSWORD", default_value = "bench password 1234")]
    password: String,
    /// Rooms [default: 40; escalation: 500, of 4 to 6 people].
    #[arg(long)]
    rooms: Option<usize>,
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
    /// receipts: the workload of the figures before 2026-11-30's realism change); or
    /// `escalation`: the escalation simulation (urgent messages answered late, declined or
    /// never, on the server's test clock; see BENCHMARKS.md).
    #[arg(long, value_enum, default_value_t = ClientKind::Element)]
    workload: ClientKind,
    /// Element clients: type before every Nth message of each sending task (0: never).
    #[arg(long, default_value_t = 10)]
    typing_every: u64,
    /// Escalation: urgent and emergency messages.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Escalation: server minutes over which they are sent.
    #[arg(long, default_value_t = 1440.0)]
    window_min: f64,
    /// Escalation: server time per real time (the server's test clock is moved this fast).
    #[arg(long, default_value_t = 100.0)]
    speed: f64,
    /// Escalation: the server's `WARDLINE_TEST_CLOCK_FILE`.
    #[arg(long)]
    clock_file: Option<PathBuf>,
    /// Escalation: seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Escalation: seconds (server time) a message may stay open past its policy's total time.
    #[arg(long, default_value_t = 120.0)]
    slack_s: f64,
    /// Escalation: an administrator, to set the policies (a second factor is enrolled if needed).
    #[arg(long, default_value = "benchadmin")]
    admin_user: String,
    /// Escalation: the administrator's password.
    #[arg(long, env = "BENCH_ADMIN_PASSWORD", default_value = "bench password 1234")]
    admin_password: String,
    /// Alarms: the server's MLLP listener (`host:port`, its `[hl7] listen`).
    #[arg(long)]
    hl7: Option<String>,
    /// Alarms: how many.
    #[arg(long, default_value_t = 1000)]
    alarms: usize,
    /// Alarms: seconds over which they are raised.
    #[arg(long, default_value_t = 60.0)]
    window_s: f64,
    /// Alarms: wards, each with two responders (users {prefix}0.. ; the next is the failsafe).
    #[arg(long, default_value_t = 20)]
    wards: usize,
    /// Alarms: monitor gateways (MLLP connections, each one message at a time).
    #[arg(long, default_value_t = 4)]
    gateways: usize,
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
    if a.workload == ClientKind::Alarms {
        let Some(hl7) = a.hl7 else {
            eprintln!("wardline-bench: --workload alarms needs --hl7 (the server's MLLP listener)");
            return ExitCode::FAILURE;
        };
        let storm = alarms::Storm {
            base: a.server.trim_end_matches('/').to_owned(),
            hl7,
            wards: a.wards,
            user_prefix: a.user_prefix,
            password: a.password,
            admin_user: a.admin_user,
            admin_password: a.admin_password,
            alarms: a.alarms,
            window_ms: (a.window_s * 1000.0) as u64,
            gateways: a.gateways,
            slack_ms: (a.slack_s * 1000.0) as u64,
            seed: a.seed,
            pid: a.pid,
        };
        return match alarms::run(&storm).await {
            Ok(report) => {
                let good = report.all_good();
                let code = print(a.json, &report, alarms::report::StormReport::table);
                if good { code } else { ExitCode::FAILURE }
            }
            Err(e) => {
                eprintln!("wardline-bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if a.workload == ClientKind::Escalation {
        let Some(clock_file) = a.clock_file else {
            eprintln!(
                "wardline-bench: --workload escalation needs --clock-file (the server's WARDLINE_TEST_CLOCK_FILE)"
            );
            return ExitCode::FAILURE;
        };
        let sim = escalation::Simulation {
            base: a.server.trim_end_matches('/').to_owned(),
            users: a.users.unwrap_or(1000),
            user_prefix: a.user_prefix,
            password: a.password,
            admin_user: a.admin_user,
            admin_password: a.admin_password,
            rooms: a.rooms.unwrap_or(500),
            messages: a.messages,
            window_ms: (a.window_min * 60_000.0) as u64,
            speed: a.speed,
            clock_file,
            seed: a.seed,
            slack_ms: (a.slack_s * 1000.0) as u64,
            pid: a.pid,
            announce: true,
        };
        return match escalation::run(&sim).await {
            Ok(report) => {
                let good = report.all_good();
                let code = print(a.json, &report, escalation::report::EscalationReport::table);
                if good { code } else { ExitCode::FAILURE }
            }
            Err(e) => {
                eprintln!("wardline-bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let w = workload::Workload {
        base: a.server.trim_end_matches('/').to_owned(),
        users: a.users.unwrap_or(200),
        user_prefix: a.user_prefix,
        password: a.password,
        rooms: a.rooms.unwrap_or(40),
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
