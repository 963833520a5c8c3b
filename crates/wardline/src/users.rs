//! `wardline user ...`: staff accounts from the command line, through the same services as the
//! HTTP API.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Subcommand;
use wardline_service::Config;
use wardline_service::accounts::NewStaff;
use wardline_service::import::{ImportError, import_csv};
use wardline_service::metrics::Metrics;

use crate::control::{self, ControlRequest};

/// Account commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a member of staff. The password is read from standard input (one line) or from
    /// --password-file; --one-time-password generates one that must be changed at first sign-in.
    Add {
        /// Username (lowercase letters, digits, . _ = - /).
        username: String,
        /// Name shown to colleagues.
        #[arg(long)]
        display_name: Option<String>,
        /// Make an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from this file (first line).
        #[arg(long, conflicts_with = "one_time_password")]
        password_file: Option<PathBuf>,
        /// Generate a one-time password instead of reading one.
        #[arg(long)]
        one_time_password: bool,
        /// Job title.
        #[arg(long)]
        job_title: Option<String>,
        /// Department or ward.
        #[arg(long)]
        department: Option<String>,
        /// Work e-mail (visible to administrators only).
        #[arg(long)]
        email: Option<String>,
        /// Phone (visible to administrators only).
        #[arg(long)]
        phone: Option<String>,
    },
    /// Import or update staff from a CSV export: columns username,display_name and optionally
    /// password,job_title,department,email,phone.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Where to write generated one-time passwords (default FILE.passwords.csv).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// List accounts.
    List {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Deactivate an account: it can no longer sign in and every session ends at once.
    Deactivate {
        /// Username or user id.
        username: String,
    },
}

fn first_line(mut reader: impl BufRead) -> Result<String, Box<dyn std::error::Error>> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']).to_owned();
    if pw.is_empty() {
        return Err(
            "no password given (type it on standard input, or use --password-file or --one-time-password)".into()
        );
    }
    Ok(pw)
}

/// A command's future, borrowing the services.
pub type CommandFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Box<dyn std::error::Error>>> + 'a>>;

/// Runs a command-line operation with the services of the data directory, storing every audit
/// record it makes before returning.
pub async fn with_services<F>(config: Config, f: F) -> Result<(), Box<dyn std::error::Error>>
where
    F: for<'a> FnOnce(&'a wardline_service::Services, &'a std::path::Path) -> CommandFuture<'a>,
{
    let data_dir = config.data_dir.clone();
    let services = crate::serve::open(config, Metrics::default()).await?;
    let writer = tokio::spawn(services.audit.clone().run_writer());
    let result = f(&services, &data_dir).await;
    let flushed = services.audit.flush().await;
    writer.abort();
    result?;
    Ok(flushed?)
}

/// Runs an account command.
pub async fn run(config: Config, cmd: UserCommand) -> Result<(), Box<dyn std::error::Error>> {
    with_services(config, |s, data_dir| Box::pin(run_with(s, data_dir, cmd))).await
}

async fn run_with(
    services: &wardline_service::Services,
    data_dir: &std::path::Path,
    cmd: UserCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        UserCommand::Add {
            username,
            display_name,
            admin,
            password_file,
            one_time_password,
            job_title,
            department,
            email,
            phone,
        } => {
            let password = if one_time_password {
                None
            } else if let Some(f) = password_file {
                Some(first_line(std::io::BufReader::new(
                    std::fs::File::open(&f).map_err(|e| format!("{}: {e}", f.display()))?,
                ))?)
            } else {
                Some(first_line(std::io::stdin().lock())?)
            };
            let (account, one_time) = services
                .accounts
                .create(NewStaff {
                    username,
                    display_name,
                    password,
                    is_admin: admin,
                    job_title,
                    department,
                    email,
                    phone,
                })
                .await?;
            println!("created {}", account.user_id);
            if let Some(p) = one_time {
                println!("one-time password (must be changed at first sign-in): {p}");
            }
        }
        UserCommand::Import { file, output } => {
            let data = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let progress = |done: usize, total: usize| {
                eprint!("\rhashing passwords: {done}/{total}");
                if done == total {
                    eprintln!();
                }
            };
            match import_csv(&services.accounts, &data, &progress).await {
                Ok(report) => {
                    println!("imported {}: {} created, {} updated", file.display(), report.created, report.updated);
                    if !report.one_time_passwords.is_empty() {
                        let out = output.unwrap_or_else(|| {
                            let mut p = file.clone().into_os_string();
                            p.push(".passwords.csv");
                            PathBuf::from(p)
                        });
                        let mut text = String::from("username,one_time_password\n");
                        for (u, p) in &report.one_time_passwords {
                            text.push_str(&format!("{u},{p}\n"));
                        }
                        crate::private_file::write_private(&out, text.as_bytes())
                            .map_err(|e| format!("{}: {e}", out.display()))?;
                        println!(
                            "{} one-time passwords written to {} (readable by you only; they must be changed at first sign-in)",
                            report.one_time_passwords.len(),
                            out.display()
                        );
                    }
                }
                Err(ImportError::BadRows(rows)) => {
                    for r in &rows {
                        eprintln!("line {}: {}", r.line, r.reason);
                    }
                    return Err(format!("{} bad row(s) in {}; nothing was imported", rows.len(), file.display()).into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        UserCommand::List { json } => {
            let accounts = services.accounts.list().await?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for a in &accounts {
                if json {
                    writeln!(out, "{}", serde_json::to_string(a)?)?;
                } else {
                    let status = if a.deactivated {
                        "deactivated"
                    } else if a.must_change_password {
                        "must change password"
                    } else {
                        "active"
                    };
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}{}",
                        a.user_id,
                        a.display_name.as_deref().unwrap_or("-"),
                        a.job_title.as_deref().unwrap_or("-"),
                        status,
                        if a.is_admin { "\tadmin" } else { "" }
                    )?;
                }
            }
        }
        UserCommand::Deactivate { username } => {
            let req = ControlRequest::Deactivate { user: username.clone() };
            match control::send(data_dir, &req).await {
                Some(result) => result?,
                None => {
                    control::execute(services, req).await?;
                }
            }
            println!("deactivated {username}: every session has ended");
        }
    }
    Ok(())
}
