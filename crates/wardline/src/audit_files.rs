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

/// The message of a checkpoint's line in the log. The checkpoint's JSON is in the line's field
/// [`LOG_FIELD`]: in the text log the line reads `wardline-audit-checkpoint checkpoint={json}`,
/// in the JSON log (`log.format = json`) the object has `"message": "wardline-audit-checkpoint"`
/// and `"checkpoint": "{json}"`. A syslog or journald copy of either (`journalctl -o cat`,
/// `-o short`, `-o json`) can be given to `audit verify --checkpoints` as it is.
pub const LOG_MARKER: &str = "wardline-audit-checkpoint";

/// The log field that carries a checkpoint's JSON.
pub const LOG_FIELD: &str = "checkpoint";

/// The file name of the Ed25519 key that signs checkpoints in the data directory.
pub const KEY_FILE: &str = "audit-signing.key";

/// The file name of the data directory's checkpoint file.
pub const CHECKPOINTS_FILE: &str = "audit-checkpoints.jsonl";

/// The Ed25519 key that signs checkpoints (hex, readable by the owner only).
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// Every checkpoint, one JSON object per line, appended and synced as it is made.
pub fn checkpoints_path(data_dir: &Path) -> PathBuf {
    data_dir.join(CHECKPOINTS_FILE)
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

/// Logs a checkpoint: the message [`LOG_MARKER`] with the checkpoint's JSON in the field
/// [`LOG_FIELD`], a structured field that the JSON log keeps as such.
pub fn log_checkpoint(cp: &Checkpoint) {
    let json = serde_json::to_string(cp).unwrap_or_default();
    tracing::info!(target: "audit", checkpoint = %json, "{LOG_MARKER}");
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
        log_checkpoint(cp);
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
    /// Lines that look like a checkpoint (in a log: the checkpoint message, or a JSON object
    /// with a checkpoint's keys; in the data directory's checkpoint file: every line) but are
    /// not one, with why. The other lines still count.
    pub unreadable: Vec<String>,
}

/// Reads checkpoints from text: JSON lines as Wardline writes them (the checkpoint files, the
/// bodies posted to a collector), and the log's checkpoint lines (see [`LOG_MARKER`]) as the
/// text log, the JSON log, syslog or journald (`journalctl -o json`, whose `MESSAGE` holds the
/// line) keep them; other lines are ordinary log lines, skipped. A log line is a checkpoint's
/// only where the marker is the message: followed by `checkpoint={...}` (or, as older versions
/// wrote it, by the JSON), or in a JSON log line whose message is the marker. Anyone whose
/// words reach the log (a user name in a refused request) can put the marker in a field, so a
/// line that looks like a checkpoint's and is not one is listed in [`Copies::unreadable`],
/// not taken as the end of the copy.
pub fn parse_checkpoints(text: &str, origin: &str) -> Copies {
    parse(text, origin, false)
}

/// Reads the data directory's checkpoint file, which holds nothing but checkpoints as Wardline
/// writes them: every line that is not one (but for one cut short) is in
/// [`Copies::unreadable`].
pub fn parse_checkpoint_file(text: &str, origin: &str) -> Copies {
    parse(text, origin, true)
}

fn parse(text: &str, origin: &str, only_checkpoints: bool) -> Copies {
    let mut out = Copies::default();
    for (i, line) in text.lines().enumerate() {
        let at = || format!("{origin} line {}", i + 1);
        match checkpoint_line(line, 0) {
            Line::Checkpoint(cp) => out.checkpoints.push(cp),
            Line::CutShort => out.cut_short.push(format!(
                "{}: a checkpoint cut short (a write interrupted by a crash or a full disk), skipped",
                at()
            )),
            Line::Other if only_checkpoints && !line.trim().is_empty() => {
                out.unreadable.push(format!("{}: not a checkpoint", at()));
            }
            Line::Other => {}
            Line::Bad(why) => out.unreadable.push(format!("{}: {why}", at())),
        }
    }
    out
}

/// What one line holds.
#[derive(Debug)]
enum Line {
    Checkpoint(Checkpoint),
    /// A line that ends before its JSON does.
    CutShort,
    /// No checkpoint: another log line.
    Other,
    /// Looks like a checkpoint's line, and is not one.
    Bad(String),
}

/// Keys that make a JSON object a log line rather than a checkpoint: tracing's JSON format,
/// journald's export.
const LOG_KEYS: &[&str] = &["timestamp", "level", "target", "fields", "message", "MESSAGE", "__CURSOR"];

/// Keys of a checkpoint: a JSON object with one of them and no log keys is meant to be one.
const CHECKPOINT_KEYS: &[&str] = &["seq", "hash", "ts", "signature"];

/// Where the marker is a text line's message, the JSON after it: the marker is the first
/// word of the line or follows a space (a header, a syslog prefix; not `=` or a quote, as in a
/// field), and is followed by `checkpoint={` (or, as older versions wrote it, by ` {`).
fn marked_json(line: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(found) = line[from..].find(LOG_MARKER) {
        let at = from + found;
        from = at + LOG_MARKER.len();
        let at_message = line[..at].chars().next_back().is_none_or(char::is_whitespace);
        let rest = &line[from..];
        let json = rest
            .strip_prefix(' ')
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix(LOG_FIELD).and_then(|r| r.strip_prefix('=')).or(Some(r)))
            .filter(|r| r.starts_with('{'));
        if at_message && let Some(json) = json {
            return Some(json);
        }
    }
    None
}

/// The checkpoint in one line (a log line inside a journald object is read at `depth` 1).
fn checkpoint_line(line: &str, depth: u8) -> Line {
    let trimmed = line.trim_start();
    if trimmed.starts_with('{') {
        return json_line(trimmed, depth);
    }
    if let Some(json) = marked_json(line) {
        // The JSON, without whatever a log shipper appended after it.
        return match serde_json::Deserializer::from_str(json).into_iter::<Checkpoint>().next() {
            Some(Ok(cp)) => Line::Checkpoint(cp),
            Some(Err(e)) if e.is_eof() => Line::CutShort,
            Some(Err(e)) => Line::Bad(format!("a checkpoint line whose checkpoint cannot be read: {e}")),
            None => Line::Bad("a checkpoint line without its checkpoint".into()),
        };
    }
    // A JSON log line behind a syslog prefix (`journalctl -o short` of the JSON log).
    if line.contains(LOG_MARKER)
        && let Some(open) = line.find('{')
    {
        return match json_line(&line[open..], depth) {
            Line::Bad(_) => Line::Other,
            found => found,
        };
    }
    Line::Other
}

/// The checkpoint in a line holding a JSON object: a checkpoint itself, or a log line (tracing's
/// JSON, journald's export) that carries one.
fn json_line(text: &str, depth: u8) -> Line {
    let object = match serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>().next() {
        Some(Ok(serde_json::Value::Object(o))) => o,
        Some(Ok(_)) | None => return Line::Other,
        // A line cut short: a checkpoint's, or another log line's (which is no loss).
        Some(Err(e)) if e.is_eof() => {
            return if text.contains(LOG_MARKER) || text.contains("\"signature\"") || text.starts_with("{\"seq\"") {
                Line::CutShort
            } else {
                Line::Other
            };
        }
        Some(Err(e)) if text.starts_with("{\"seq\"") => return Line::Bad(format!("not a checkpoint: {e}")),
        Some(Err(_)) => return Line::Other,
    };
    if !LOG_KEYS.iter().any(|k| object.contains_key(*k)) {
        if !CHECKPOINT_KEYS.iter().any(|k| object.contains_key(*k)) {
            return Line::Other;
        }
        return match serde_json::from_value::<Checkpoint>(serde_json::Value::Object(object)) {
            Ok(cp) => Line::Checkpoint(cp),
            Err(e) => Line::Bad(format!("not a checkpoint: {e}")),
        };
    }
    // tracing's JSON log: the field at the top level (`flatten_event`) or under `fields`.
    let fields = object.get("fields").and_then(serde_json::Value::as_object);
    let field = |name: &str| object.get(name).or_else(|| fields.and_then(|f| f.get(name)));
    let is_checkpoint = field("message").and_then(serde_json::Value::as_str) == Some(LOG_MARKER);
    match field(LOG_FIELD) {
        Some(serde_json::Value::String(json)) if is_checkpoint => {
            return match serde_json::from_str::<Checkpoint>(json) {
                Ok(cp) => Line::Checkpoint(cp),
                Err(e) if e.is_eof() => Line::CutShort,
                Err(e) => Line::Bad(format!("a checkpoint line whose checkpoint cannot be read: {e}")),
            };
        }
        Some(value) if is_checkpoint => {
            return serde_json::from_value::<Checkpoint>(value.clone()).map_or_else(
                |e| Line::Bad(format!("a checkpoint line whose checkpoint cannot be read: {e}")),
                Line::Checkpoint,
            );
        }
        None if is_checkpoint => return Line::Bad("a checkpoint line without its checkpoint".into()),
        _ => {}
    }
    if depth > 0 {
        return Line::Other;
    }
    // journald's export (`journalctl -o json`): the line as written is `MESSAGE`, text (or, if
    // it was not UTF-8, an array of bytes). A JSON log's message that is an older text line.
    let message = match object.get("MESSAGE") {
        Some(serde_json::Value::String(m)) => Some(m.clone()),
        Some(serde_json::Value::Array(bytes)) => {
            let bytes: Vec<u8> =
                bytes.iter().filter_map(serde_json::Value::as_u64).filter_map(|b| u8::try_from(b).ok()).collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => field("message").and_then(serde_json::Value::as_str).map(ToOwned::to_owned),
    };
    match message {
        Some(m) if m.contains(LOG_MARKER) => checkpoint_line(&m, depth + 1),
        _ => Line::Other,
    }
}

/// Reads a copy of the checkpoints kept off the machine (see [`parse_checkpoints`]).
pub fn read_checkpoints_file(path: &Path) -> Result<Copies, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(parse_checkpoints(&text, &path.display().to_string()))
}

/// Reads the data directory's checkpoint file (missing file: none; see
/// [`parse_checkpoint_file`]).
pub fn read_checkpoints(data_dir: &Path) -> Result<Copies, Box<dyn std::error::Error>> {
    let path = checkpoints_path(data_dir);
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Copies::default()),
        _ => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(parse_checkpoint_file(&text, &path.display().to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardline_service::config::LogFormat;
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

    /// What the server's log in `format` holds after logging `cps` between other lines: the
    /// lines as the log writes them.
    fn logged(format: LogFormat, cps: &[Checkpoint]) -> Vec<String> {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let out = Arc::clone(&buffer);
        let writer = move || Buffer(Arc::clone(&out));
        let log = crate::logging::subscriber(format, tracing_subscriber::EnvFilter::new("info"), writer, false);
        tracing::subscriber::with_default(log, || {
            tracing::info!("wardline listening on http://127.0.0.1:8008");
            for cp in cps {
                log_checkpoint(cp);
                // A line about a checkpoint that carries none.
                tracing::error!(target: "audit", seq = cp.seq, "AUDIT CHECKPOINT NOT KEPT: cannot append");
            }
        });
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        text.lines().map(ToOwned::to_owned).collect()
    }

    struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// `journalctl -o json`: one object per line, the line as written in `MESSAGE`.
    fn journal_json(lines: &[String]) -> String {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                serde_json::json!({"__CURSOR": format!("s=1;i={i}"), "_PID": "812", "SYSLOG_IDENTIFIER": "wardline", "MESSAGE": l})
                    .to_string()
                    + "\n"
            })
            .collect()
    }

    /// `journalctl -o short` and syslog files: a prefix before the line as written.
    fn syslog(lines: &[String]) -> String {
        lines.iter().map(|l| format!("Mar 01 10:00:02 ward7 wardline[812]: {l}\n")).collect()
    }

    #[test]
    fn checkpoints_read_back_from_every_format_they_are_written_in() {
        let (key, _) = CheckpointKey::generate();
        let a = key.sign(3, &"a".repeat(64), Timestamp(1_700_000_000_000));
        let b = key.sign(9, &"b".repeat(64), Timestamp(1_700_000_001_000));
        let both = [a.clone(), b.clone()];
        let jsonl = format!("{}\n{}\n", serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        assert_eq!(parse_checkpoints(&jsonl, "f").checkpoints, both);
        for format in [LogFormat::Text, LogFormat::Json] {
            let lines = logged(format, &both);
            assert_eq!(lines.len(), 5, "{lines:#?}");
            if format == LogFormat::Json {
                // The checkpoint is a field of its own, beside the message.
                let line: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
                assert_eq!(
                    (&line["message"], &line["target"]),
                    (&serde_json::json!(LOG_MARKER), &serde_json::json!("audit"))
                );
                assert_eq!(serde_json::from_str::<Checkpoint>(line[LOG_FIELD].as_str().unwrap()).unwrap(), a);
            }
            // As written to standard error, as syslog and `journalctl -o short` keep it, and as
            // `journalctl -o json` exports it.
            for (shape, text) in [
                ("as written", lines.join("\n") + "\n"),
                ("syslog", syslog(&lines)),
                ("journal json", journal_json(&lines)),
            ] {
                let copies = parse_checkpoints(&text, "log");
                assert_eq!(copies.checkpoints, both, "{format:?} {shape}: {text}");
                assert!(copies.unreadable.is_empty(), "{format:?} {shape}: {:?}", copies.unreadable);
                assert!(copies.cut_short.is_empty(), "{format:?} {shape}: {:?}", copies.cut_short);
            }
        }
        // The line Wardline wrote before the checkpoint became a field of its own: text, and as
        // the message of a JSON log line.
        let old = format!("{LOG_MARKER} {}", serde_json::to_string(&a).unwrap());
        let old_lines = [
            format!("2026-03-01T10:00:01.000001Z  INFO audit: {old}"),
            serde_json::json!({"timestamp": "2026-03-01T10:00:01.000001Z", "level": "INFO", "message": old, "target": "audit"})
                .to_string(),
            format!("<14>1 2026-03-01T10:00:03Z ward7 wardline 812 - - {old} [extra]"),
        ];
        assert_eq!(parse_checkpoints(&(old_lines.join("\n") + "\n"), "log").checkpoints, [a.clone(), a.clone(), a]);
        // Lines that look like a checkpoint's and are not one are listed, and the rest still count.
        for bad in [
            "x wardline-audit-checkpoint {\"seq\":1}",
            "x wardline-audit-checkpoint checkpoint={\"seq\":1,\"hash\":2}",
            "{\"seq\":1}",
            "{\"level\":\"INFO\",\"message\":\"wardline-audit-checkpoint\",\"checkpoint\":\"{\\\"seq\\\":1}\"}",
        ] {
            let text = format!("{bad}\n{}\n", serde_json::to_string(&b).unwrap());
            let copies = parse_checkpoints(&text, "log");
            assert_eq!(copies.checkpoints, std::slice::from_ref(&b), "{bad}");
            assert_eq!(copies.unreadable.len(), 1, "{bad}: {:?}", copies.unreadable);
            assert!(copies.unreadable[0].starts_with("log line 1: "), "{bad}: {:?}", copies.unreadable);
        }
    }

    #[test]
    fn the_marker_in_a_logged_field_is_an_ordinary_line() {
        let (key, _) = CheckpointKey::generate();
        let a = key.sign(3, &"a".repeat(64), Timestamp(1_700_000_000_000));
        // A member of staff asks for a user named after the marker: the refusal is logged with
        // the name in a field, as the text log, the JSON log, and journald's export write it.
        let name = LOG_MARKER;
        let text_line = format!(
            "2026-03-01T10:00:01.000001Z  WARN wardline_api::admin: refused target_user={name} path=/_wardline/admin/v1/users/{name}"
        );
        let quoted_line = format!(
            "2026-03-01T10:00:01.000001Z  WARN wardline_api::admin: refused target_user=\"{name} checkpoint={{\\\"seq\\\":1}}\""
        );
        let json_line = serde_json::json!({"timestamp": "2026-03-01T10:00:01.000001Z", "level": "WARN", "message": "refused", "target_user": name, "checkpoint": "{}"}).to_string();
        let lines = [text_line.clone(), quoted_line, json_line.clone()];
        let cp = format!(
            "2026-03-01T10:00:02.000001Z  INFO audit: {LOG_MARKER} checkpoint={}",
            serde_json::to_string(&a).unwrap()
        );
        for text in [
            lines.join("\n") + "\n" + &cp + "\n",
            journal_json(&[text_line, json_line, cp.clone()]),
            syslog(&[lines.join("\n"), cp.clone()]),
        ] {
            let copies = parse_checkpoints(&text, "log");
            assert_eq!(copies.checkpoints, std::slice::from_ref(&a), "{text}");
            assert!(copies.unreadable.is_empty() && copies.cut_short.is_empty(), "{text}: {copies:?}");
        }
    }

    #[test]
    fn a_line_of_the_checkpoint_file_that_is_no_checkpoint_is_listed() {
        let (key, _) = CheckpointKey::generate();
        let a = key.sign(3, &"a".repeat(64), Timestamp(1_700_000_000_000));
        let text = format!(
            "{}\nsomething else\n\n{}\n",
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&a).unwrap()
        );
        let copies = parse_checkpoint_file(&text, "f");
        assert_eq!(copies.checkpoints, [a.clone(), a]);
        assert_eq!(copies.unreadable, ["f line 2: not a checkpoint"]);
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
