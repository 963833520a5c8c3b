//! The control socket: lets `wardline user ...` commands reach a running server, so that what
//! must take effect at once (ending every session of a deactivated user, open long-polls
//! included) goes through the server's own services.
//!
//! A Unix socket in the data directory, readable only by its owner (the data directory is
//! `0700`): whoever can use it could read the database anyway.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use wardline_service::Services;

/// A request over the control socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ControlRequest {
    /// Deactivate an account.
    Deactivate {
        /// Username or user id.
        user: String,
    },
}

/// The answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ControlReply {
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// The socket's path.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// Carries out a request with the given services: the one place these operations are written.
pub async fn execute(services: &Services, req: ControlRequest) -> Result<(), String> {
    match req {
        ControlRequest::Deactivate { user } => {
            let user_id = services.accounts.resolve(&user).map_err(|e| e.to_string())?;
            services.accounts.deactivate(None, &user_id).await.map_err(|e| e.to_string())
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
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                if BufReader::new(read).read_line(&mut line).await.is_err() {
                    return;
                }
                let reply = match serde_json::from_str::<ControlRequest>(&line) {
                    Ok(req) => ControlReply { error: execute(&services, req).await.err() },
                    Err(e) => ControlReply { error: Some(format!("bad request: {e}")) },
                };
                if let Ok(mut text) = serde_json::to_string(&reply) {
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

/// Sends a request to a running server. `None` if no server is listening.
#[cfg(unix)]
pub async fn send(data_dir: &Path, req: &ControlRequest) -> Option<Result<(), String>> {
    let stream = tokio::net::UnixStream::connect(path(data_dir)).await.ok()?;
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(req).ok()?;
    text.push('\n');
    if let Err(e) = write.write_all(text.as_bytes()).await {
        return Some(Err(e.to_string()));
    }
    let mut line = String::new();
    if let Err(e) = BufReader::new(read).read_line(&mut line).await {
        return Some(Err(e.to_string()));
    }
    match serde_json::from_str::<ControlReply>(&line) {
        Ok(ControlReply { error: None }) => Some(Ok(())),
        Ok(ControlReply { error: Some(e) }) => Some(Err(e)),
        Err(e) => Some(Err(format!("unreadable reply from the server: {e}"))),
    }
}

#[cfg(not(unix))]
pub async fn send(_: &Path, _: &ControlRequest) -> Option<Result<(), String>> {
    None
}
