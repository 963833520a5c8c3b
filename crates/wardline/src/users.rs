//! `wardline user ...`: staff accounts from the command line, through the same services as the
//! HTTP API.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Subcommand;
use wardline_service::Config;
use wardline_service::metrics::Metrics;

use crate::control::{self, ControlOutcome, ControlRequest};

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
    /// Deactivate an account: it can no longer sign in, every session ends at once and it
    /// leaves every conversation.
    Deactivate {
        /// Username or user id.
        username: String,
    },
    /// Let a deactivated account sign in again (its conversations are not given back).
    Reactivate {
        /// Username or user id.
        username: String,
    },
    /// Give an account a one-time password (printed once, to be changed at the next sign-in)
    /// and end every session.
    ResetPassword {
        /// Username or user id.
        username: String,
    },
    /// Lift the lockout that repeated failed sign-ins put on an account.
    Unlock {
        /// Username or user id.
        username: String,
    },
    /// End every session of an account, on every device (open long-polls included).
    Logout {
        /// Username or user id.
        username: String,
    },
    /// Allow an account to send broadcasts (to a department, roles' holders or everyone), or
    /// with `--withdraw` take the permission back.
    Broadcast {
        /// Username or user id.
        username: String,
        /// Withdraw the permission instead of granting it.
        #[arg(long)]
        withdraw: bool,
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
pub type CommandFuture<'a, T = ()> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Box<dyn std::error::Error>>> + 'a>>;

/// Runs a command-line operation with the services of an existing data directory (never
/// creating or upgrading its database: see [`crate::serve::Opening::Command`]), storing every
/// audit record it makes before returning.
pub async fn with_services<T, F>(config: Config, f: F) -> Result<T, Box<dyn std::error::Error>>
where
    F: for<'a> FnOnce(&'a wardline_service::Services, &'a std::path::Path) -> CommandFuture<'a, T>,
{
    with_services_as(config, crate::serve::Opening::Command, f).await
}

/// [`with_services`], opening the database as `opening` says.
pub async fn with_services_as<T, F>(
    config: Config,
    opening: crate::serve::Opening,
    f: F,
) -> Result<T, Box<dyn std::error::Error>>
where
    F: for<'a> FnOnce(&'a wardline_service::Services, &'a std::path::Path) -> CommandFuture<'a, T>,
{
    let data_dir = config.data_dir.clone();
    let services = crate::serve::open(config, Metrics::default(), opening).await?;
    let writer = tokio::spawn(services.audit.clone().run_writer());
    let result = f(&services, &data_dir).await;
    let flushed = services.audit.flush().await;
    writer.abort();
    let value = result?;
    flushed?;
    Ok(value)
}

/// Runs an account command. Changes go to the running server through the control socket, so
/// they take effect at once; without a server they are made here.
pub async fn run(config: Config, cmd: UserCommand) -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = config.data_dir.clone();
    crate::serve::require_database(&data_dir)?;
    let mut passwords_file = None;
    let req = match cmd {
        UserCommand::List { json } => {
            return with_services(config, |s, _| Box::pin(list(s, json))).await;
        }
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
            ControlRequest::Add { username, display_name, password, admin, job_title, department, email, phone }
        }
        UserCommand::Import { file, output } => {
            let data = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let csv = String::from_utf8(data).map_err(|e| {
                let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count();
                format!(
                    "{}: line {line} is not UTF-8 text; nothing was imported (save the export as CSV UTF-8)",
                    file.display()
                )
            })?;
            let out = output.unwrap_or_else(|| {
                let mut p = file.clone().into_os_string();
                p.push(".passwords.csv");
                PathBuf::from(p)
            });
            // Made (empty, owner-only) before the import: generated passwords must have somewhere
            // to go, or the accounts would exist with passwords nobody has.
            crate::private_file::write_private(&out, b"")
                .map_err(|e| format!("{}: {e}: nothing was imported (choose another --output)", out.display()))?;
            passwords_file = Some(out);
            eprintln!("importing {} (every password is hashed: this can take a while)", file.display());
            ControlRequest::Import { csv }
        }
        UserCommand::Deactivate { username } => ControlRequest::Deactivate { user: username },
        UserCommand::Reactivate { username } => ControlRequest::Reactivate { user: username },
        UserCommand::ResetPassword { username } => ControlRequest::ResetPassword { user: username },
        UserCommand::Unlock { username } => ControlRequest::Unlock { user: username },
        UserCommand::Logout { username } => ControlRequest::Logout { user: username },
        UserCommand::Broadcast { username, withdraw } => {
            ControlRequest::MayBroadcast { user: username, allow: !withdraw }
        }
    };
    let user = subject(&req);
    let (outcome, server_running) = match control::send(&data_dir, &req).await {
        Some(result) => (result?, true),
        None => {
            let outcome = with_services(config, move |s, _| {
                Box::pin(async move { Ok(control::execute(s, &control::this_operator(), req).await?) })
            })
            .await?;
            (outcome, false)
        }
    };
    report(&user, outcome, server_running, passwords_file.as_deref())
}

/// The account an operation is about, as the operator named it.
fn subject(req: &ControlRequest) -> String {
    match req {
        ControlRequest::Add { username, .. } => username.clone(),
        ControlRequest::Import { .. } => String::new(),
        ControlRequest::Deactivate { user }
        | ControlRequest::Reactivate { user }
        | ControlRequest::ResetPassword { user }
        | ControlRequest::Unlock { user }
        | ControlRequest::Logout { user }
        | ControlRequest::MayBroadcast { user, .. } => user.clone(),
    }
}

/// Prints what an operation did.
fn report(
    user: &str,
    outcome: ControlOutcome,
    server_running: bool,
    passwords_file: Option<&std::path::Path>,
) -> Result<(), Box<dyn std::error::Error>> {
    match outcome {
        ControlOutcome::Created { user_id, one_time_password } => {
            println!("created {user_id}");
            if let Some(p) = one_time_password {
                println!("one-time password (must be changed at first sign-in): {p}");
            }
        }
        ControlOutcome::Imported { created, updated, one_time_passwords } => {
            println!("imported: {created} created, {updated} updated");
            if let (false, Some(out)) = (one_time_passwords.is_empty(), passwords_file) {
                let mut text = String::from("username,one_time_password\n");
                for (u, p) in &one_time_passwords {
                    text.push_str(&format!("{u},{p}\n"));
                }
                crate::private_file::write_private(out, text.as_bytes())
                    .map_err(|e| format!("{}: {e}", out.display()))?;
                println!(
                    "{} one-time passwords written to {} (readable by you only; they must be changed at first sign-in)",
                    one_time_passwords.len(),
                    out.display()
                );
            }
        }
        ControlOutcome::PasswordReset { one_time_password } => {
            println!("{user} has a new one-time password (must be changed at the next sign-in): {one_time_password}");
            println!("every session of {user} has ended");
        }
        ControlOutcome::Unlocked { was_locked: true } => println!("{user} is no longer locked out"),
        ControlOutcome::Unlocked { was_locked: false } if server_running => println!("{user} was not locked out"),
        ControlOutcome::Unlocked { was_locked: false } => {
            println!("{user} is not locked out (no server is running, and lockouts end when it stops)");
        }
        ControlOutcome::Deactivated { uncovered } => {
            println!("deactivated {user}: every session has ended");
            for role in uncovered {
                println!("WARNING: nobody holds {role} now (it must not be empty): someone must take it at once");
            }
        }
        ControlOutcome::Done => println!("done: {user}"),
    }
    Ok(())
}

/// `user list`: a table with a header, or JSON lines.
async fn list(services: &wardline_service::Services, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let accounts = services.accounts.list().await?;
    // The list holds every colleague's contact details: on the record, like an export.
    crate::audit_cli::audit_export(services, format!("user list accounts={}", accounts.len()), None).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !json {
        writeln!(out, "USER\tNAME\tJOB TITLE\tDEPARTMENT\tSTATUS\tROLE\tSECOND FACTOR\tLAST SIGN-IN")?;
    }
    for a in &accounts {
        let enrolled = services.mfa.enrolled(&a.user_id).await?;
        if json {
            let mut v = serde_json::to_value(a)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("second_factor".into(), enrolled.into());
            }
            writeln!(out, "{v}")?;
            continue;
        }
        let status = if a.deactivated {
            "deactivated"
        } else if a.must_change_password {
            "must change password"
        } else {
            "active"
        };
        let second_factor = match (enrolled, services.mfa.required(a.is_admin)) {
            (true, _) => "set up",
            (false, true) => "required, not set up",
            (false, false) => "none",
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            a.user_id,
            a.display_name.as_deref().unwrap_or("-"),
            a.job_title.as_deref().unwrap_or("-"),
            a.department.as_deref().unwrap_or("-"),
            status,
            if a.is_admin { "admin" } else { "staff" },
            second_factor,
            a.last_sign_in.map_or_else(|| "never".to_owned(), wardline_types::Timestamp::to_rfc3339),
        )?;
    }
    Ok(())
}
