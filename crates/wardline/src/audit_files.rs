//! The audit trail's files beside the database: the checkpoint signing key and the append-only
//! copy of every checkpoint.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wardline_service::audit::{CheckpointKey, CheckpointSink};
use wardline_types::audit::Checkpoint;

/// The Ed25519 key that signs checkpoints (hex, readable by the owner only).
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-signing.key")
}

/// Every checkpoint, one JSON object per line, appended and synced as it is made.
pub fn checkpoints_path(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-checkpoints.jsonl")
}

fn private_file(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Loads the signing key, creating it on first start.
pub fn load_or_create_key(data_dir: &Path) -> Result<CheckpointKey, Box<dyn std::error::Error>> {
    let path = key_path(data_dir);
    if path.exists() {
        return load_key(data_dir);
    }
    let (key, secret) = CheckpointKey::generate();
    let mut f = private_file(&path, false)?;
    f.write_all(hex::encode(secret).as_bytes())?;
    f.sync_all()?;
    tracing::info!(public_key = %key.public_hex(), "created the audit checkpoint signing key; keep a copy of its public key elsewhere");
    Ok(key)
}

/// Loads the signing key.
pub fn load_key(data_dir: &Path) -> Result<CheckpointKey, Box<dyn std::error::Error>> {
    let path = key_path(data_dir);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{} is not a 32-byte hex key", path.display()))?;
    Ok(CheckpointKey::from_bytes(&bytes))
}

/// Appends each checkpoint to the checkpoint file and to the log (which operators ship off the
/// machine), so cutting records off the database is seen even with its checkpoints gone.
pub fn checkpoint_sink(data_dir: &Path) -> CheckpointSink {
    let path = checkpoints_path(data_dir);
    Arc::new(move |cp: &Checkpoint| {
        tracing::info!(target: "audit", seq = cp.seq, hash = %cp.hash, "audit checkpoint");
        let write = || -> std::io::Result<()> {
            let mut f = private_file(&path, true)?;
            let mut line = serde_json::to_string(cp).map_err(std::io::Error::other)?;
            line.push('\n');
            f.write_all(line.as_bytes())?;
            f.sync_data()
        };
        if let Err(e) = write() {
            tracing::error!(error = %e, "cannot append the audit checkpoint file");
        }
    })
}

/// Reads the checkpoint file (missing file: none).
pub fn read_checkpoints(data_dir: &Path) -> Result<Vec<Checkpoint>, Box<dyn std::error::Error>> {
    let path = checkpoints_path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display()).into()),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        out.push(serde_json::from_str(line).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))?);
    }
    Ok(out)
}
