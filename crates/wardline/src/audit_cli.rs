//! `wardline audit ...` and `wardline room transcript`: reading the audit trail back for
//! governance and investigations. Every export is itself recorded in the trail.

use std::io::Write;
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use wardline_service::Services;
use wardline_service::audit::{By, CheckpointKey};
use wardline_service::audit_report::{self, AuditQuery, PatientFilter};
use wardline_types::Timestamp;
use wardline_types::audit::{AuditAction, Outcome};

/// Audit commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that no audit record was edited, deleted, inserted, reordered or cut off. Give the
    /// public key and the checkpoints kept off the machine: without them this only shows that the
    /// trail agrees with itself, which whoever can write the data directory can arrange.
    Verify {
        /// The checkpoint public key as kept off the machine at installation (64 hex digits, or
        /// a file holding them; `wardline audit public-key` prints it).
        #[arg(long)]
        public_key: Option<String>,
        /// Checkpoints kept off the machine: JSON lines (the `audit.checkpoint_file` copy, what
        /// `audit.checkpoint_url` received) or a log holding `wardline-audit-checkpoint` lines
        /// (the text or JSON log, syslog, journald, `journalctl -o json`). Repeat for several.
        #[arg(long)]
        checkpoints: Vec<PathBuf>,
        /// The position of a `restore` record whose restore you have confirmed really happened
        /// when the record says (from the backup it names). Records lost by a restore are
        /// reported as such only once it is confirmed; until then `audit verify` exits with
        /// status 2, since whoever holds the data directory can forge a restore record. Repeat
        /// for several.
        #[arg(long, value_name = "SEQ")]
        restore_confirmed: Vec<u64>,
    },
    /// Print the public key that checks the checkpoints (creating the signing key if there is
    /// none yet), to keep off the machine for `audit verify --public-key`.
    PublicKey,
    /// Write audit records as JSON lines or as a FHIR R4 Bundle of AuditEvents.
    Export {
        /// From this time (RFC 3339, or a date: 2026-11-25).
        #[arg(long)]
        from: Option<String>,
        /// Until this time (exclusive).
        #[arg(long)]
        to: Option<String>,
        /// Only records by or about this user (user id).
        #[arg(long)]
        user: Option<String>,
        /// Only records about this room (room id).
        #[arg(long)]
        room: Option<String>,
        /// Only records about this patient (the EPR's Patient id): who looked them up, read,
        /// tied or filed them, and everything done in a conversation while it was about them.
        #[arg(long)]
        patient: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// The exit status of `audit verify` when checkpoints show records lost by a restore that the
/// operator has not confirmed (`--restore-confirmed`): neither intact nor proven tampering.
pub const EXIT_UNCONFIRMED_RESTORE: u8 = 2;

/// `audit verify` found records lost by restores not confirmed with `--restore-confirmed`.
#[derive(Debug, thiserror::Error)]
#[error(
    "records were lost by the restore(s) of record(s) {}, not confirmed: a restore record can be forged by whoever holds the data directory",
    restores.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
)]
pub struct UnconfirmedRestore {
    /// The positions of the restore records not confirmed.
    pub restores: Vec<u64>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per record.
    Jsonl,
    /// A FHIR R4 Bundle of AuditEvent resources.
    Fhir,
}

fn parse_time(s: Option<String>) -> Result<Option<Timestamp>, Box<dyn std::error::Error>> {
    s.map(|t| Timestamp::parse_rfc3339(&t).ok_or_else(|| format!("{t:?} is not an RFC 3339 time or a date").into()))
        .transpose()
}

pub(crate) fn write_out(output: Option<&PathBuf>, text: &str) -> Result<(), Box<dyn std::error::Error>> {
    match output {
        Some(p) => {
            crate::private_file::write_private(p, text.as_bytes()).map_err(|e| format!("{}: {e}", p.display()).into())
        }
        None => {
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(())
        }
    }
}

/// Records who exported what, with the operating-system account that ran the command.
pub(crate) async fn audit_export(
    services: &Services,
    what: String,
    room: Option<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let operator = crate::control::this_operator();
    let by = By::Operator(&operator);
    let mut r = services.audit.entry_by(by, AuditAction::Export, Outcome::Success);
    r.detail = Some(by.detail(&what));
    r.room_id = room;
    services.audit.record_now(r).await?;
    Ok(())
}

/// Runs an audit command.
pub async fn run_audit(
    services: &Services,
    data_dir: &std::path::Path,
    cmd: AuditCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        AuditCommand::Verify { public_key, checkpoints, restore_confirmed } => {
            verify(services, data_dir, public_key, &checkpoints, &restore_confirmed).await
        }
        AuditCommand::PublicKey => {
            println!("{}", crate::audit_files::load_or_create_key(data_dir)?.public_hex());
            Ok(())
        }
        AuditCommand::Export { from, to, user, room, patient, format, output } => {
            let patient_filter = match &patient {
                Some(id) => Some(PatientFilter::load(services.store().as_ref(), id).await?),
                None => None,
            };
            let query = AuditQuery {
                from: parse_time(from)?,
                to: parse_time(to)?,
                user,
                room: room.clone(),
                patient: patient_filter,
            };
            let records = audit_report::select(services.store().as_ref(), &query).await?;
            let text = match format {
                ExportFormat::Jsonl => {
                    let mut t = String::new();
                    for r in &records {
                        t.push_str(&serde_json::to_string(r)?);
                        t.push('\n');
                    }
                    t
                }
                ExportFormat::Fhir => {
                    let bundle =
                        audit_report::fhir_bundle(&records, &services.config.server_name, services.clock.now());
                    serde_json::to_string_pretty(&bundle)?
                }
            };
            // Recorded before it is written out: the export leaves only if its record is kept.
            // (An export about a patient names them, so it is found by the same question.)
            let about = patient.map(|p| format!(" patient={p}")).unwrap_or_default();
            audit_export(services, format!("audit export records={} format={format:?}{about}", records.len()), room)
                .await?;
            write_out(output.as_ref(), &text)?;
            eprintln!("exported {} audit records", records.len());
            Ok(())
        }
    }
}

/// Problems printed in full; the rest are counted.
const SHOWN_PROBLEMS: usize = 50;

async fn verify(
    services: &Services,
    data_dir: &std::path::Path,
    public_key: Option<String>,
    checkpoint_files: &[PathBuf],
    restore_confirmed: &[u64],
) -> Result<(), Box<dyn std::error::Error>> {
    let local_key = match crate::audit_files::load_key(data_dir) {
        Ok(k) => Some(k),
        Err(e) if public_key.is_some() => {
            println!("note: {e}");
            None
        }
        Err(e) => return Err(e),
    };
    let anchored_key = public_key.as_deref().map(crate::audit_files::parse_public_key).transpose()?;
    let Some(key) = anchored_key.or_else(|| local_key.as_ref().map(CheckpointKey::verifying_key)) else {
        return Err("no key to check checkpoints with".into());
    };
    let mut anchors = Vec::new();
    let mut notes = Vec::new();
    for f in checkpoint_files {
        let copies = crate::audit_files::read_checkpoints_file(f)?;
        anchors.extend(copies.checkpoints);
        notes.extend(copies.cut_short);
        // A line of a log that looks like a checkpoint's and is not one: anyone whose words
        // reach the log can write one, so it is skipped, and said.
        notes.extend(copies.unreadable.into_iter().map(|u| format!("{u}: skipped")));
    }
    let local = crate::audit_files::read_checkpoints(data_dir)?;
    notes.extend(local.cut_short);
    for note in &notes {
        println!("note: {}", printable(note));
    }
    let mut report = audit_report::verify(services.store().as_ref(), &key, &local.checkpoints, &anchors).await?;
    // The data directory's checkpoint file holds nothing but checkpoints Wardline wrote.
    for line in local.unreadable {
        report.problems.insert(
            0,
            audit_report::Problem { seq: None, message: format!("{line}: the checkpoint file was changed") },
        );
    }
    if anchored_key.is_some()
        && let Some(local_key) = &local_key
        && local_key.verifying_key() != key
    {
        report.problems.insert(
            0,
            audit_report::Problem {
                seq: None,
                message: format!(
                    "the signing key in {} is not the key given with --public-key: it was replaced",
                    crate::audit_files::key_path(data_dir).display()
                ),
            },
        );
    }
    println!(
        "checked {} records; checkpoints: {} in the database, {} in the checkpoint file, {} kept off the machine; public key {}{}",
        report.records,
        report.stored_checkpoints,
        report.local_checkpoints,
        report.anchor_checkpoints,
        hex::encode(key.to_bytes()),
        if anchored_key.is_some() { " (given)" } else { " (from the data directory)" },
    );
    if anchored_key.is_none() || checkpoint_files.is_empty() {
        println!(
            "warning: without --public-key and --checkpoints kept off the machine, this only shows that the trail agrees with itself; whoever can write {} could have rewritten it",
            data_dir.display()
        );
    } else {
        match &report.anchored {
            Some(cp) => println!(
                "the checkpoints kept off the machine cover records 1 to {} (the last signed at {})",
                cp.seq,
                cp.ts.to_rfc3339()
            ),
            None => println!(
                "warning: no checkpoint given with --checkpoints is signed with the key and matches the trail: nothing in it is anchored off the machine"
            ),
        }
        if let Some((from, to)) = report.unanchored() {
            println!(
                "warning: no checkpoint kept off the machine covers records {from} to {to}: they are checked only against {}, whose keeper could have changed them, and records cut off the end would not show",
                data_dir.display()
            );
        }
    }
    for note in &report.notes {
        println!("note: {}", printable(note));
    }
    // Records lost by a restore from a backup: said plainly, and confirmed by the operator.
    for loss in &report.losses {
        println!("warning: {}", printable(&loss.to_string()));
    }
    for n in restore_confirmed {
        if !report.losses.iter().any(|l| l.restore_seq == *n) {
            println!("note: --restore-confirmed {n}: no records lost by a restore at record {n} were found");
        }
    }
    if report.intact() {
        let unconfirmed: Vec<u64> = report.unconfirmed(restore_confirmed).iter().map(|l| l.restore_seq).collect();
        if report.losses.is_empty() {
            println!("audit trail intact");
            return Ok(());
        }
        if unconfirmed.is_empty() {
            println!(
                "audit trail intact, apart from the records lost by the restore from a backup named above (confirmed with --restore-confirmed)"
            );
            return Ok(());
        }
        for seq in &unconfirmed {
            println!(
                "NOT CONFIRMED: record {seq} says the server was restored from a backup, and whoever holds {} could have forged it to hide changes to the records after it. \
                 Check that a restore from that backup really was made at that date (your change records, the operator who ran it); if it was, run this again with --restore-confirmed {seq}; if not, treat this as tampering",
                data_dir.display()
            );
        }
        return Err(UnconfirmedRestore { restores: unconfirmed }.into());
    }
    for p in report.problems.iter().take(SHOWN_PROBLEMS) {
        println!("TAMPERING: {}", printable(&p.message));
    }
    if report.problems.len() > SHOWN_PROBLEMS {
        println!("... and {} more", report.problems.len() - SHOWN_PROBLEMS);
    }
    if let Some(seq) = report.first_disagreement() {
        println!("first record where the trail and its checkpoints disagree: {seq}");
        if report.agrees_up_to > 0 && report.agrees_up_to < seq {
            println!(
                "the trail agrees with its checkpoints up to record {}: the earliest change to it lies in records {} to {seq}",
                report.agrees_up_to,
                report.agrees_up_to + 1
            );
        }
    }
    Err(format!("the audit trail has been tampered with ({} problem(s))", report.problems.len()).into())
}

/// Text that may quote a record or a file, with control characters (a line break, a terminal
/// escape) written as escapes: what verify prints cannot be made to pass for another line.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_verify_quotes_cannot_pass_for_a_line_of_its_own() {
        assert_eq!(printable("record 3\naudit trail intact\u{1b}[2J"), "record 3\\naudit trail intact\\u{1b}[2J");
        assert_eq!(printable("ward 7: ✓"), "ward 7: ✓");
    }
}
