//! The audit trail's files: the checkpoint signing key and the append-only copies of every
//! checkpoint (beside the database, and wherever the organisation keeps its own copy), the
//! checkpoint line in the log, and reading those copies back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wardline_service::audit::{CheckpointKey, CheckpointSink, VerifyingKey, public_key_from_hex};
use wardline_types::audit::Checkpoint;

use crate::audit_ship::Shipper;
use crate::private_file::owner_only;

/// What starts a checkpoint's line in the log; the checkpoint's JSON follows on the same line.
/// A syslog or journald copy of the log can be given to `audit verify --checkpoints` as it is.
pub const LOG_MARKER: &str = "wardline-audit-checkpoint ";

/// The Ed25519 key that signs checkpoints (hex, readable by the owner only).
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-signing.key")
}

/// Every checkpoint, one JSON object per line, appended and synced as it is made.
pub fn checkpoints_path(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-checkpoints.jsonl")
}

fn append_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    owner_only(&mut options);
    options.open(path)
}

/// Loads the signing key, creating it on first use.
pub fn load_or_create_key(data_dir: &Path) -> Result<CheckpointKey, Box<dyn std::error::Error>> {
    let path = key_path(data_dir);
    if path.exists() {
        return load_key(data_dir);
    }
    let (key, secret) = CheckpointKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    owner_only(&mut options);
    let mut f = options.open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(hex::encode(secret).as_bytes())?;
    f.sync_all()?;
    tracing::info!(public_key = %key.public_hex(), "created the audit checkpoint signing key; keep a copy of its public key (`wardline audit public-key`) off this machine");
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

/// Parses a public key: 64 hex digits, or a file holding them.
pub fn parse_public_key(arg: &str) -> Result<VerifyingKey, Box<dyn std::error::Error>> {
    let text = if arg.len() == 64 && arg.bytes().all(|b| b.is_ascii_hexdigit()) {
        arg.to_owned()
    } else {
        std::fs::read_to_string(arg)
            .map_err(|e| format!("--public-key {arg}: not 64 hex digits, nor a readable file: {e}"))?
    };
    Ok(public_key_from_hex(&text).ok_or_else(|| format!("--public-key {arg}: not an Ed25519 public key in hex"))?)
}

/// Appends a checkpoint as one JSON line, and waits for the disk.
pub fn append_checkpoint(path: &Path, cp: &Checkpoint) -> std::io::Result<()> {
    let mut line = serde_json::to_string(cp).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut f = append_file(path)?;
    // A line an earlier write left unfinished (a crash, a full disk) keeps a line to itself:
    // this checkpoint starts on a new one.
    if !ends_with_newline(path) {
        line.insert(0, '\n');
    }
    // One write: a line is never interleaved with another writer's, nor torn by a kill.
    f.write_all(line.as_bytes())?;
    f.sync_data()
}

/// Is the file empty, or does it end with a newline? A copy this server may append to but not
/// read (an append-only share) is taken to end with one.
fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let last = std::fs::File::open(path).and_then(|mut f| {
        if f.metadata()?.len() == 0 {
            return Ok(b'\n');
        }
        let mut last = [0u8; 1];
        f.seek(SeekFrom::End(-1))?;
        f.read_exact(&mut last)?;
        Ok(last[0])
    });
    last.map_or(true, |b| b == b'\n')
}

/// Checks at start-up that the extra checkpoint file can be appended to.
pub fn check_appendable(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    append_file(path).map(drop).map_err(|e| format!("audit.checkpoint_file {}: {e}", path.display()).into())
}

/// The log line that carries a checkpoint: [`LOG_MARKER`] and its JSON.
pub fn log_line(cp: &Checkpoint) -> String {
    format!("{LOG_MARKER}{}", serde_json::to_string(cp).unwrap_or_default())
}

/// Copies each checkpoint, in this order, to the data directory's checkpoint file, to the extra
/// file if one is configured, to the log (which operators ship off the machine), and to the HTTP
/// collector if one is configured. The order makes every copy off the machine also a copy in
/// the data directory, so `audit verify` can tell a deleted checkpoint from one not yet copied;
/// a checkpoint the data directory's file cannot take is therefore copied nowhere.
pub fn checkpoint_sink(data_dir: &Path, extra_file: Option<PathBuf>, shipper: Option<Shipper>) -> CheckpointSink {
    let local = checkpoints_path(data_dir);
    Arc::new(move |cp: &Checkpoint| {
        if let Err(e) = append_checkpoint(&local, cp) {
            // Not copied anywhere else either: a copy off the machine that the data directory
            // lacks would later read as a deleted checkpoint, i.e. as tampering. The next
            // checkpoint that is written covers every record this one did.
            tracing::error!(
                target: "audit",
                error = %e,
                path = %local.display(),
                seq = cp.seq,
                "AUDIT CHECKPOINT NOT KEPT: cannot append the audit checkpoint file (disk full or failing?); \
                 this checkpoint is not copied to audit.checkpoint_file, the log or audit.checkpoint_url either"
            );
            return;
        }
        if let Some(extra) = &extra_file
            && let Err(e) = append_checkpoint(extra, cp)
        {
            tracing::error!(target: "audit", error = %e, path = %extra.display(), "cannot append the audit.checkpoint_file copy");
        }
        tracing::info!(target: "audit", "{}", log_line(cp));
        if let Some(s) = &shipper {
            s.ship(cp);
        }
    })
}

/// Checkpoints read back from a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copies {
    /// The checkpoints, in the order they appear.
    pub checkpoints: Vec<Checkpoint>,
    /// Notes on lines skipped because they end before their checkpoint does: a write cut short
    /// by a crash, a power cut or a full disk. The checkpoints around them still count.
    pub cut_short: Vec<String>,
}

/// Reads checkpoints from text: JSON lines as Wardline writes them (the checkpoint files, the
/// bodies posted to a collector), or log lines holding [`LOG_MARKER`] (syslog, journald); other
/// lines are skipped. A line cut short is skipped and noted; any other line that is not a
/// checkpoint is an error.
pub fn parse_checkpoints(text: &str, origin: &str) -> Result<Copies, String> {
    let mut out = Copies::default();
    for (i, line) in text.lines().enumerate() {
        let json = match line.find(LOG_MARKER) {
            Some(at) => &line[at + LOG_MARKER.len()..],
            None if line.trim_start().starts_with('{') => line.trim_start(),
            None => continue,
        };
        // The JSON object, without whatever a log shipper appended after it.
        let mut values = serde_json::Deserializer::from_str(json).into_iter::<Checkpoint>();
        match values.next() {
            Some(Ok(cp)) => out.checkpoints.push(cp),
            Some(Err(e)) if e.is_eof() => out.cut_short.push(format!(
                "{origin} line {}: a checkpoint cut short (a write interrupted by a crash or a full disk), skipped",
                i + 1
            )),
            Some(Err(e)) => return Err(format!("{origin} line {}: not a checkpoint: {e}", i + 1)),
            None => return Err(format!("{origin} line {}: no checkpoint after the marker", i + 1)),
        }
    }
    Ok(out)
}

/// Reads a file of checkpoints (see [`parse_checkpoints`]).
pub fn read_checkpoints_file(path: &Path) -> Result<Copies, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(parse_checkpoints(&text, &path.display().to_string())?)
}

/// Reads the data directory's checkpoint file (missing file: none).
pub fn read_checkpoints(data_dir: &Path) -> Result<Copies, Box<dyn std::error::Error>> {
    let path = checkpoints_path(data_dir);
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Copies::default()),
        _ => read_checkpoints_file(&path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardline_types::Timestamp;

    #[test]
    fn a_checkpoint_the_data_directory_cannot_take_is_copied_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the checkpoint file should be: every append fails, as on a full disk.
        std::fs::create_dir(checkpoints_path(dir.path())).unwrap();
        let extra = dir.path().join("extra.jsonl");
        let (shipper, mut shipped) = Shipper::for_test();
        let sink = checkpoint_sink(dir.path(), Some(extra.clone()), Some(shipper));
        let (key, _) = CheckpointKey::generate();
        sink(&key.sign(3, &"a".repeat(64), Timestamp(1_700_000_000_000)));
        assert!(!extra.exists() || std::fs::read_to_string(&extra).unwrap().is_empty(), "no extra copy");
        assert!(shipped.try_recv().is_err(), "nothing shipped");
        // Once the file can be written again, checkpoints go everywhere.
        std::fs::remove_dir(checkpoints_path(dir.path())).unwrap();
        let b = key.sign(9, &"b".repeat(64), Timestamp(1_700_000_001_000));
        sink(&b);
        assert_eq!(read_checkpoints(dir.path()).unwrap().checkpoints, std::slice::from_ref(&b));
        assert_eq!(read_checkpoints_file(&extra).unwrap().checkpoints, std::slice::from_ref(&b));
        assert_eq!(shipped.try_recv().unwrap(), b);
    }

    #[test]
    fn checkpoints_read_back_from_every_format_they_are_written_in() {
        let (key, _) = CheckpointKey::generate();
        let a = key.sign(3, &"a".repeat(64), Timestamp(1_700_000_000_000));
        let b = key.sign(9, &"b".repeat(64), Timestamp(1_700_000_001_000));
        let jsonl = format!("{}\n{}\n", serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        assert_eq!(parse_checkpoints(&jsonl, "f").unwrap().checkpoints, [a.clone(), b.clone()]);
        // As tracing writes it to standard error, then as journald and syslog keep it.
        let log = format!(
            "2026-03-01T10:00:00.000001Z  INFO wardline: wardline listening on http://127.0.0.1:8008\n\
             2026-03-01T10:00:01.000001Z  INFO audit: {}\n\
             Mar 01 10:00:02 ward7 wardline[812]: 2026-03-01T10:00:02.000001Z  INFO audit: {}\n\
             <14>1 2026-03-01T10:00:03Z ward7 wardline 812 - - {} [extra]\n",
            log_line(&a),
            log_line(&b),
            log_line(&a),
        );
        assert_eq!(parse_checkpoints(&log, "log").unwrap().checkpoints, [a.clone(), b, a]);
        assert!(parse_checkpoints("x wardline-audit-checkpoint {\"seq\":1}\n", "log").is_err());
    }

    #[test]
    fn a_checkpoint_cut_short_is_skipped_and_the_next_starts_a_line_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-checkpoints.jsonl");
        let (key, _) = CheckpointKey::generate();
        let a = key.sign(3, &"a".repeat(64), Timestamp(1_700_000_000_000));
        let b = key.sign(9, &"b".repeat(64), Timestamp(1_700_000_001_000));
        append_checkpoint(&path, &a).unwrap();
        // The disk filled (or the machine lost power) halfway through the next line.
        let mut torn = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        torn.write_all(br#"{"seq":5,"hash":"cccc"#).unwrap();
        drop(torn);
        append_checkpoint(&path, &b).unwrap();
        let copies = read_checkpoints(dir.path()).unwrap();
        assert_eq!(copies.checkpoints, [a, b]);
        assert_eq!(copies.cut_short.len(), 1, "{:?}", copies.cut_short);
        assert!(copies.cut_short[0].contains("line 2"), "{:?}", copies.cut_short);
    }
}
