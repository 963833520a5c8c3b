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
    /// Grant (or withdraw) the permission to send broadcasts.
    MayBroadcast {
        /// Username or user id.
        user: String,
        /// Grant (`true`) or withdraw.
        allow: bool,
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
            Self::MayBroadcast { .. } => "may_broadcast",
        };
        f.debug_struct("ControlRequest").field("op", &op).finish_non_exhaustive()
    }
}

/// The version of the request and answer format. An answer always carries `error` (null on
/// success), as the first format's answers did, so a command of an earlier Wardline never
/// takes a refusal for success.
const PROTOCOL: u32 = 2;

/// A request as sent: the operation and the login name of whoever ran the command.
#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(default)]
    version: u32,
    os_user: String,
    request: ControlRequest,
}

/// A request as received: this format, or the first one (the bare operation, from a command of
/// an earlier Wardline, which did not say who ran it).
#[derive(Deserialize)]
#[serde(untagged)]
enum Incoming {
    Enveloped(Envelope),
    Bare(ControlRequest),
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
    /// An account was deactivated.
    Deactivated {
        /// Roles that must not be empty and that nobody holds any more (its holder was the one
        /// deactivated): someone must take them now.
        #[serde(default)]
        uncovered: Vec<String>,
    },
    /// A lockout was lifted, or there was none.
    Unlocked {
        /// Whether the account was locked.
        was_locked: bool,
    },
}

/// The answer: `error` set on failure (what a command of the first format reads), `outcome`
/// on success.
#[derive(Debug, Serialize, Deserialize)]
struct ControlReply {
    #[serde(default)]
    version: u32,
    error: Option<String>,
    #[serde(default)]
    outcome: Option<ControlOutcome>,
}

impl ControlReply {
    fn new(result: Result<ControlOutcome, String>) -> Self {
        match result {
            Ok(outcome) => Self { version: PROTOCOL, error: None, outcome: Some(outcome) },
            Err(e) => Self { version: PROTOCOL, error: Some(e), outcome: None },
        }
    }
}

/// The socket's path.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// The operator running this process: the login name it was started under and its user id.
pub fn this_operator() -> Operator {
    #[cfg(unix)]
    let os_uid = Some(rustix::process::geteuid().as_raw());
    #[cfg(not(unix))]
    let os_uid = None;
    Operator { os_user: login_name(), os_uid }
}

/// The lock a running server holds on its data directory, so that a second server refuses to
/// start on it and commands know whether one runs.
fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("serve.lock")
}

/// Takes the data directory's server lock, for as long as the returned file is open; refuses
/// if another server holds it.
pub fn lock_for_server(data_dir: &Path) -> Result<std::fs::File, String> {
    let path = lock_path(data_dir);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another Wardline server is running on {} (it holds {}): stop it first",
            data_dir.display(),
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("{}: {e}", path.display())),
    }
}

/// Whether a server holds the data directory's lock now.
fn server_holds_lock(data_dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(lock_path(data_dir)) else { return false };
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    }
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
            let uncovered = services.deactivate_account(by, &user(services, &u)?).await.map_err(|e| e.to_string())?;
            Ok(ControlOutcome::Deactivated { uncovered: uncovered.iter().map(|r| r.definition.name.clone()).collect() })
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
        ControlRequest::MayBroadcast { user: u, allow } => {
            let update = wardline_types::AccountUpdate { may_broadcast: Some(allow), ..Default::default() };
            accounts.update(by, &user(services, &u)?, update).await.map_err(|e| e.to_string())?;
            Ok(ControlOutcome::Done)
        }
        ControlRequest::Logout { user: u } => {
            let user_id = user(services, &u)?;
            accounts.get(&user_id).await.map_err(|e| e.to_string())?;
            services.sessions.logout_all(by, &user_id, None).await.map_err(|e| e.to_string())?;
            Ok(ControlOutcome::Done)
        }
    }
}

/// Listens on the control socket until `stop` resolves; then stops taking requests, removes the
/// socket and finishes the operations under way (each with its audit record queued) before the
/// returned task ends, so the server's last flush of the audit trail comes after them.
#[cfg(unix)]
pub fn serve(
    data_dir: &Path,
    services: Services,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error>> {
    let path = path(data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(tokio::spawn(async move {
        let mut under_way = tokio::task::JoinSet::new();
        let mut stop = std::pin::pin!(stop);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => break,
                },
                () = &mut stop => break,
            };
            under_way.spawn(answer(stream, services.clone()));
        }
        drop(listener);
        let _ = std::fs::remove_file(&path);
        while under_way.join_next().await.is_some() {}
    }))
}

/// Reads one request from a connection, carries it out and answers.
#[cfg(unix)]
async fn answer(stream: tokio::net::UnixStream, services: Services) {
    let os_uid = stream.peer_cred().ok().map(|c| c.uid());
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    if BufReader::new(read.take(MAX_REQUEST)).read_line(&mut line).await.is_err() {
        return;
    }
    let result = match serde_json::from_str::<Incoming>(&line) {
        Ok(Incoming::Enveloped(Envelope { os_user, request, .. })) => {
            execute(&services, &Operator { os_user, os_uid }, request).await
        }
        Ok(Incoming::Bare(request)) => {
            execute(&services, &Operator { os_user: "unknown-older-command".into(), os_uid }, request).await
        }
        Err(e) => Err(format!("bad request: {e}")),
    };
    if let Ok(mut text) = serde_json::to_string(&ControlReply::new(result)) {
        text.push('\n');
        let _ = write.write_all(text.as_bytes()).await;
    }
}

#[cfg(not(unix))]
pub fn serve(
    _: &Path,
    _: Services,
    _: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error>> {
    Ok(tokio::spawn(async {}))
}

/// Removes the socket file at shutdown.
pub fn remove(data_dir: &Path) {
    let _ = std::fs::remove_file(path(data_dir));
}

/// Sends a request to the server running on `data_dir`. `None` if none runs (the request was
/// not sent: run it in this process). A server that runs but cannot be reached is an error, so
/// an operation that must reach it (a lockout lives in its memory) is never made beside it.
#[cfg(unix)]
pub async fn send(data_dir: &Path, req: &ControlRequest) -> Option<Result<ControlOutcome, String>> {
    let stream = match tokio::net::UnixStream::connect(path(data_dir)).await {
        Ok(stream) => stream,
        Err(_) if !server_holds_lock(data_dir) => return None,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Some(Err(format!(
                "a server is running on {} but its control socket {} cannot be used ({e}): run this command as the server's account",
                data_dir.display(),
                path(data_dir).display()
            )));
        }
        Err(e) => {
            return Some(Err(format!(
                "the server on {} is starting or stopping (its control socket {} is not open: {e}): try again in a moment",
                data_dir.display(),
                path(data_dir).display()
            )));
        }
    };
    let envelope = serde_json::json!({ "version": PROTOCOL, "os_user": login_name(), "request": req });
    let mut text = envelope.to_string();
    if text.len() as u64 >= MAX_REQUEST {
        return Some(Err(format!(
            "the request is {} MiB, more than the server takes ({} MiB): split the file",
            text.len() >> 20,
            MAX_REQUEST >> 20
        )));
    }
    text.push('\n');
    let (read, mut write) = stream.into_split();
    if let Err(e) = write.write_all(text.as_bytes()).await {
        return Some(Err(format!("the running server did not take the request: {e}")));
    }
    let mut line = String::new();
    if let Err(e) = BufReader::new(read).read_line(&mut line).await {
        return Some(Err(format!("no answer from the running server (was it stopping?): {e}")));
    }
    Some(match serde_json::from_str::<ControlReply>(&line) {
        Ok(ControlReply { error: Some(e), version, .. }) if version < PROTOCOL => Err(format!(
            "{e} (the running server is an earlier Wardline: restart it with this version, or use its own `wardline` command)"
        )),
        Ok(ControlReply { error: Some(e), .. }) => Err(e),
        Ok(ControlReply { outcome: Some(outcome), .. }) => Ok(outcome),
        Ok(ControlReply { .. }) => {
            Err("the running server is another Wardline version and answered without saying what it did: check with `wardline user list` and the audit trail".into())
        }
        Err(_) if line.is_empty() => {
            Err("the running server closed the connection without answering (was it stopping?): check whether the change was made".into())
        }
        Err(e) => Err(format!("unreadable answer from the running server: {e}")),
    })
}

#[cfg(not(unix))]
pub async fn send(_: &Path, _: &ControlRequest) -> Option<Result<ControlOutcome, String>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_of_the_first_format_reads_a_refusal_as_a_refusal() {
        // What a command of the first format sent, and how it read the answer.
        #[derive(Deserialize)]
        struct FirstReply {
            error: Option<String>,
        }
        let old: Incoming = serde_json::from_str(r#"{"op":"deactivate","user":"ada"}"#).unwrap();
        assert!(matches!(old, Incoming::Bare(ControlRequest::Deactivate { .. })), "still understood");
        let refusal = serde_json::to_string(&ControlReply::new(Err("no such user".into()))).unwrap();
        let read: FirstReply = serde_json::from_str(&refusal).unwrap();
        assert_eq!(read.error.as_deref(), Some("no such user"));
        let done = serde_json::to_string(&ControlReply::new(Ok(ControlOutcome::Done))).unwrap();
        assert!(serde_json::from_str::<FirstReply>(&done).unwrap().error.is_none());
    }

    #[test]
    fn a_second_server_cannot_take_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!server_holds_lock(dir.path()));
        let held = lock_for_server(dir.path()).unwrap();
        assert!(server_holds_lock(dir.path()));
        let refused = lock_for_server(dir.path()).unwrap_err();
        assert!(refused.contains("another Wardline server is running"), "{refused}");
        drop(held);
        assert!(!server_holds_lock(dir.path()));
    }
}
