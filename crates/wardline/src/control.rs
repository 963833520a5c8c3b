//! The control socket: lets the command line's account changes reach a running server, so they
//! take effect at once through the server's own services (ending every session of a
//! deactivated user, open long-polls included; lifting a lockout the server holds) rather than
//! after its caches age out. Without a running server the same operations run in the command's
//! own process, through [`execute`]: the one place they are written.
//!
//! A Unix socket in the data directory, usable only by its owner (the socket is `0600` in a
//! `0700` directory): whoever can use it could read the database anyway. The server records
//! every operation with the operating-system account that asked: the user id from the socket's
//! peer credentials (which the kernel vouches for) and the login name the command reported.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use wardline_service::Services;
use wardline_service::accounts::NewStaff;
use wardline_service::audit::{By, Operator};
use wardline_service::import::{ImportError, import_csv};

/// The longest request line the server reads (a CSV import travels in one).
const MAX_REQUEST: u64 = 64 * 1024 * 1024;

/// An account operation, from the command line.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ControlRequest {
    /// Add a member of staff.
    Add {
        /// Username.
        username: String,
        /// Display name.
        display_name: Option<String>,
        /// The password; none generates a one-time password.
        password: Option<String>,
        /// Administrator?
        admin: bool,
        /// Job title.
        job_title: Option<String>,
        /// Department.
        department: Option<String>,
        /// Work e-mail.
        email: Option<String>,
        /// Phone.
        phone: Option<String>,
    },
    /// Import or update staff from a CSV export.
    Import {
        /// The file's content.
        csv: String,
    },
    /// Deactivate an account.
    Deactivate {
        /// Username or user id.
        user: String,
    },
    /// Let a deactivated account sign in again.
    Reactivate {
        /// Username or user id.
        user: String,
    },
    /// Give an account a one-time password and end its sessions.
    ResetPassword {
        /// Username or user id.
        user: String,
    },
    /// Lift a lockout after failed sign-ins.
    Unlock {
        /// Username or user id.
        user: String,
    },
    /// End every session of an account.
    Logout {
        /// Username or user id.
        user: String,
    },
}

impl std::fmt::Debug for ControlRequest {
    /// Names the operation only: requests carry passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self {
            Self::Add { .. } => "add",
            Self::Import { .. } => "import",
            Self::Deactivate { .. } => "deactivate",
            Self::Reactivate { .. } => "reactivate",
            Self::ResetPassword { .. } => "reset_password",
            Self::Unlock { .. } => "unlock",
            Self::Logout { .. } => "logout",
        };
        f.debug_struct("ControlRequest").field("op", &op).finish_non_exhaustive()
    }
}

/// A request as sent: the operation and the login name of whoever ran the command.
#[derive(Serialize, Deserialize)]
struct Envelope {
    os_user: String,
    request: ControlRequest,
}

/// What an operation did.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "done", rename_all = "snake_case")]
pub enum ControlOutcome {
    /// Done; nothing to say.
    Done,
    /// An account was created.
    Created {
        /// Its user id.
        user_id: String,
        /// The generated one-time password, if one was asked for.
        one_time_password: Option<String>,
    },
    /// A CSV import was stored.
    Imported {
        /// Accounts created.
        created: usize,
        /// Accounts updated.
        updated: usize,
        /// Generated one-time passwords: (username, password).
        one_time_passwords: Vec<(String, String)>,
    },
    /// A password was reset.
    PasswordReset {
        /// The new one-time password.
        one_time_password: String,
    },
    /// A lockout was lifted, or there was none.
    Unlocked {
        /// Whether the account was locked.
        was_locked: bool,
    },
}

/// The answer.
#[derive(Debug, Serialize, Deserialize)]
struct ControlReply {
    result: Result<ControlOutcome, String>,
}

/// The socket's path.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// The operator running this process: the login name it was started under and its user id.
pub fn this_operator() -> Operator {
    Operator { os_user: login_name(), os_uid: Some(rustix::process::geteuid().as_raw()) }
}

/// The login name of whoever runs this command (under `sudo`, the one who ran `sudo`).
fn login_name() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

fn user(services: &Services, user: &str) -> Result<ruma::OwnedUserId, String> {
    services.accounts.resolve(user).map_err(|e| e.to_string())
}

/// Carries out a request with the given services, on behalf of `operator`: the one place these
/// operations are written.
pub async fn execute(services: &Services, operator: &Operator, req: ControlRequest) -> Result<ControlOutcome, String> {
    let by = By::Operator(operator);
    let accounts = &services.accounts;
    match req {
        ControlRequest::Add { username, display_name, password, admin, job_title, department, email, phone } => {
            let staff =
                NewStaff { username, display_name, password, is_admin: admin, job_title, department, email, phone };
            let (account, one_time_password) = accounts.create_by(by, staff).await.map_err(|e| e.to_string())?;
            Ok(ControlOutcome::Created { user_id: account.user_id.to_string(), one_time_password })
        }
        ControlRequest::Import { csv } => match import_csv(accounts, by, csv.as_bytes(), &|_, _| {}).await {
            Ok(report) => Ok(ControlOutcome::Imported {
                created: report.created,
                updated: report.updated,
                one_time_passwords: report.one_time_passwords,
            }),
            Err(ImportError::BadRows(rows)) => {
                let lines: Vec<String> = rows.iter().map(|r| format!("line {}: {}", r.line, r.reason)).collect();
                Err(format!("{}\n{} bad row(s); nothing was imported", lines.join("\n"), rows.len()))
            }
            Err(e) => Err(e.to_string()),
        },
        ControlRequest::Deactivate { user: u } => {
            accounts.deactivate(by, &user(services, &u)?).await.map_err(|e| e.to_string())?;
            Ok(ControlOutcome::Done)
        }
        ControlRequest::Reactivate { user: u } => {
            accounts.reactivate(by, &user(services, &u)?).await.map_err(|e| e.to_string())?;
            Ok(ControlOutcome::Done)
        }
        ControlRequest::ResetPassword { user: u } => {
            let one_time_password =
                accounts.reset_password(by, &user(services, &u)?).await.map_err(|e| e.to_string())?;
            Ok(ControlOutcome::PasswordReset { one_time_password })
        }
        ControlRequest::Unlock { user: u } => {
            let was_locked = accounts.unlock(by, &user(services, &u)?).await.map_err(|e| e.to_string())?;
            Ok(ControlOutcome::Unlocked { was_locked })
        }
        ControlRequest::Logout { user: u } => {
            let user_id = user(services, &u)?;
            accounts.get(&user_id).await.map_err(|e| e.to_string())?;
            services.sessions.logout_all(by, &user_id, None).await.map_err(|e| e.to_string())?;
            Ok(ControlOutcome::Done)
        }
    }
}

/// Listens on the control socket.
#[cfg(unix)]
pub fn serve(data_dir: &Path, services: Services) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error>> {
    let path = path(data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let services = services.clone();
            tokio::spawn(async move {
                let os_uid = stream.peer_cred().ok().map(|c| c.uid());
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                if BufReader::new(read.take(MAX_REQUEST)).read_line(&mut line).await.is_err() {
                    return;
                }
                let result = match serde_json::from_str::<Envelope>(&line) {
                    Ok(Envelope { os_user, request }) => {
                        execute(&services, &Operator { os_user, os_uid }, request).await
                    }
                    Err(e) => Err(format!("bad request: {e}")),
                };
                if let Ok(mut text) = serde_json::to_string(&ControlReply { result }) {
                    text.push('\n');
                    let _ = write.write_all(text.as_bytes()).await;
                }
            });
        }
    }))
}

#[cfg(not(unix))]
pub fn serve(_: &Path, _: Services) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error>> {
    Ok(tokio::spawn(async {}))
}

/// Removes the socket file at shutdown.
pub fn remove(data_dir: &Path) {
    let _ = std::fs::remove_file(path(data_dir));
}

/// Sends a request to a running server. `None` if no server is listening (the request was not
/// sent: run it in this process).
#[cfg(unix)]
pub async fn send(data_dir: &Path, req: &ControlRequest) -> Option<Result<ControlOutcome, String>> {
    let stream = tokio::net::UnixStream::connect(path(data_dir)).await.ok()?;
    let (read, mut write) = stream.into_split();
    let envelope = serde_json::json!({ "os_user": login_name(), "request": req });
    let mut text = envelope.to_string();
    text.push('\n');
    if let Err(e) = write.write_all(text.as_bytes()).await {
        return Some(Err(format!("the running server did not take the request: {e}")));
    }
    let mut line = String::new();
    if let Err(e) = BufReader::new(read).read_line(&mut line).await {
        return Some(Err(format!("no answer from the running server: {e}")));
    }
    Some(match serde_json::from_str::<ControlReply>(&line) {
        Ok(ControlReply { result }) => result,
        Err(e) => Err(format!("unreadable answer from the running server: {e}")),
    })
}

#[cfg(not(unix))]
pub async fn send(_: &Path, _: &ControlRequest) -> Option<Result<ControlOutcome, String>> {
    None
}
