//! `wardline`: the server and its administration commands.

mod alarm_cli;
mod audit_cli;
mod audit_files;
mod audit_ship;
mod backup;
mod config;
mod control;
mod epr_cli;
mod integration_cli;
mod logging;
mod manifest;
mod mllp;
mod mllp_tls;
mod notify;
mod private_file;
mod restore;
mod role_cli;
mod room_cli;
mod serve;
mod test_clock;
mod test_hooks;
mod tls;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Wardline: secure clinical messaging for one organisation, over the Matrix client-server API.
#[derive(Debug, Parser)]
#[command(name = "wardline", version, about)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "WARDLINE_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the database (default ./wardline-data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Server name: the part after ':' in user ids (default localhost).
    #[arg(long, global = true)]
    server_name: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8008).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Manage staff accounts.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Verify and export the audit trail.
    #[command(subcommand)]
    Audit(audit_cli::AuditCommand),
    /// Conversations: lists, members, and transcripts for investigations.
    #[command(subcommand)]
    Room(room_cli::RoomCommand),
    /// Roles (on call, in charge, teams): add, list, show, update, import, retire, holders.
    #[command(subcommand)]
    Role(role_cli::RoleCommand),
    /// Integration accounts (hospital systems that raise alarms): add, list, revoke, keys.
    #[command(subcommand)]
    Integration(integration_cli::IntegrationCommand),
    /// The rules that route alarms to people: list, set (from a JSON file), remove.
    #[command(subcommand)]
    AlarmRule(alarm_cli::AlarmRuleCommand),
    /// The electronic patient record (FHIR R4): check the connection, print the SMART key's
    /// JWK set.
    #[command(subcommand)]
    Epr(epr_cli::EprCommand),
    /// Copy the data directory (database, files, audit keys and checkpoints) into DEST, a new or
    /// empty directory, with a manifest of every file; works while the server runs.
    Backup {
        /// Where to write the backup.
        dest: PathBuf,
    },
    /// Rebuild an empty data directory from a backup, after checking it against its manifest.
    Restore {
        /// The backup (a directory written by `wardline backup`).
        src: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let flags = config::Overrides { data_dir: cli.data_dir.clone(), listen, server_name: cli.server_name.clone() };
    let config::Loaded { config, warnings, server_name_chosen } =
        match config::load_layers(cli.config.as_deref(), std::env::vars(), &flags) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("wardline: {e}");
                return ExitCode::from(2);
            }
        };
    logging::init(config.log.format);
    for w in warnings {
        tracing::warn!("{w}");
    }
    let config_format = config.log.format;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wardline: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { .. } => serve::run(config, server_name_chosen).await,
            Command::User(cmd) => users::run(config, cmd).await,
            // The audit trail can be checked and exported from an older database as it is.
            Command::Audit(cmd) => {
                users::with_services_as(config, serve::Opening::Inspect, |s, data_dir| {
                    Box::pin(audit_cli::run_audit(s, data_dir, cmd))
                })
                .await
            }
            Command::Room(cmd) => users::with_services(config, |s, _| Box::pin(room_cli::run(s, cmd))).await,
            Command::Role(cmd) => users::with_services(config, |s, _| Box::pin(role_cli::run(s, cmd))).await,
            Command::Integration(cmd) => {
                users::with_services(config, |s, _| Box::pin(integration_cli::run(s, cmd))).await
            }
            Command::AlarmRule(cmd) => users::with_services(config, |s, _| Box::pin(alarm_cli::run(s, cmd))).await,
            Command::Epr(cmd) => epr_cli::run(&config, cmd).await,
            Command::Backup { dest } => backup::run(config, &dest).await,
            Command::Restore { src } => restore::run(&config, &src),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<audit_cli::UnconfirmedRestore>() => {
            logging::fatal(config_format, &e.to_string());
            ExitCode::from(audit_cli::EXIT_UNCONFIRMED_RESTORE)
        }
        Err(e) => {
            logging::fatal(config_format, &e.to_string());
            ExitCode::FAILURE
        }
    }
}
