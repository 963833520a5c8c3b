//! Restores in the trail. `wardline restore` appends a `restore` record right after the
//! backup's last record S: the original trail went on after S (its checkpoints, shipped off the
//! machine before the restore, show it), and the restored server then writes new records from
//! S + 2 on. Checkpoints signed *before* the restore at positions *after* S therefore disagree
//! with the restored trail: those records were lost by the restore, which `audit verify` reports
//! as such (a warning naming them), not as tampering.
//!
//! An insider who forges a restore record gains nothing on the records up to S: a checkpoint at
//! or before S that disagrees is tampering whatever the trail says, and so is a restore record
//! that does not sit right after the record it names, or one dated after a checkpoint that
//! covers it (the server signs one as soon as it starts). What such a forgery can do is make
//! records after S read as lost by a restore, which `audit verify` says plainly.

use std::collections::HashMap;

use wardline_types::Timestamp;
use wardline_types::audit::{AuditRecord, GENESIS, Restored};

use super::{Problem, VerifyReport};

/// A restore record that is what it claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Restore {
    /// Its position: the backup's last record + 1.
    pub seq: u64,
    /// When the restore was made.
    pub ts: Timestamp,
    /// What it says about the backup.
    pub from: Restored,
}

/// Records of the original trail lost by a restore, as checkpoints signed before it show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreLoss {
    /// The restore record.
    pub restore_seq: u64,
    /// When the restore was made.
    pub restored_at: Timestamp,
    /// When the backup was taken (RFC 3339).
    pub backup_taken_at: String,
    /// The backup's last record: the original trail's records after it were lost.
    pub backup_seq: u64,
    /// The checkpoints signed before the restore that the restored trail no longer matches:
    /// (position, when signed), in order of position.
    pub checkpoints: Vec<(u64, Timestamp)>,
}

impl RestoreLoss {
    /// The original trail's records known lost: from the backup's last + 1 to the last
    /// position a checkpoint signed before the restore names.
    #[must_use]
    pub fn lost(&self) -> (u64, u64) {
        let last = self.checkpoints.iter().map(|(s, _)| *s).max().unwrap_or(self.backup_seq);
        (self.backup_seq + 1, last)
    }
}

impl std::fmt::Display for RestoreLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (from, to) = self.lost();
        let shown: Vec<String> =
            self.checkpoints.iter().map(|(seq, ts)| format!("{seq} (signed {})", ts.to_rfc3339())).collect();
        write!(
            f,
            "records {from} to {to} of the original trail (at least) were lost by the restore of {} (record {}: restored from the backup taken at {}, whose trail ended at record {}); checkpoints signed before the restore name them: {}. If no one restored this server from a backup then, treat this as tampering",
            self.restored_at.to_rfc3339(),
            self.restore_seq,
            self.backup_taken_at,
            self.backup_seq,
            shown.join(", ")
        )
    }
}

/// A checkpoint as `verify` sees it: signed with the key, at `seq`, of `hash`, at `ts`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Signed<'a> {
    pub seq: u64,
    pub hash: &'a str,
    pub ts: Timestamp,
}

/// Checks the restore records found on the chain; returns those that are what they claim, and
/// reports the others as problems.
pub(super) fn check<'a>(
    found: &[AuditRecord],
    checkpoints: impl Iterator<Item = Signed<'a>> + Clone,
    hashes_at: &HashMap<u64, String>,
    report: &mut VerifyReport,
) -> Vec<Restore> {
    let mut good = Vec::new();
    for r in found {
        let seq = r.seq;
        let Some(from) = r.record.detail.as_deref().and_then(Restored::parse) else {
            report.problems.push(Problem {
                seq: Some(seq),
                message: format!(
                    "record {seq} is a restore record that does not say which backup was restored: it was changed"
                ),
            });
            continue;
        };
        if from.audit_seq + 1 != seq {
            report.problems.push(Problem {
                seq: Some(seq),
                message: format!(
                    "record {seq} says the trail was restored from a backup whose trail ended at record {}, but it is not the record after it: it was moved or forged",
                    from.audit_seq
                ),
            });
            continue;
        }
        let expected = if from.audit_seq == 0 { GENESIS } else { from.audit_hash.as_str() };
        if r.prev_hash != expected {
            report.problems.push(Problem {
                seq: Some(seq),
                message: format!(
                    "record {seq} says the backup's trail ended with hash {}…, but the record before it has hash {}…: it was forged",
                    expected.get(..12).unwrap_or(expected),
                    r.prev_hash.get(..12).unwrap_or(&r.prev_hash)
                ),
            });
            continue;
        }
        // A checkpoint that covers the restore record was signed after it was written.
        let earlier = checkpoints
            .clone()
            .find(|cp| cp.seq >= seq && cp.ts < r.record.ts && hashes_at.get(&cp.seq).is_some_and(|h| h == cp.hash));
        if let Some(cp) = earlier {
            report.problems.push(Problem {
                seq: Some(seq),
                message: format!(
                    "record {seq}, a restore dated {}, is covered by checkpoint {} signed earlier, at {}: its time was changed or it was forged",
                    r.record.ts.to_rfc3339(),
                    cp.seq,
                    cp.ts.to_rfc3339()
                ),
            });
            continue;
        }
        good.push(Restore { seq, ts: r.record.ts, from });
    }
    good
}

/// The restore that explains a checkpoint at `seq` signed at `ts` which the trail no longer
/// matches: the first restore made after it was signed from a backup that ended before `seq`.
pub(super) fn lost_by(restores: &[Restore], seq: u64, ts: Timestamp) -> Option<&Restore> {
    restores.iter().filter(|r| ts < r.ts && seq > r.from.audit_seq).min_by_key(|r| (r.ts, r.seq))
}

/// The restore made after a checkpoint at `seq` signed at `ts` from a backup that held
/// record `seq`: such a checkpoint, signed after the backup's snapshot, may be missing from the
/// restored database and checkpoint file while agreeing with the trail.
pub(super) fn kept_by(restores: &[Restore], seq: u64, ts: Timestamp) -> Option<&Restore> {
    restores.iter().filter(|r| ts < r.ts && seq <= r.from.audit_seq).min_by_key(|r| (r.ts, r.seq))
}

/// Adds a lost checkpoint to the report, under its restore.
pub(super) fn note_loss(report: &mut VerifyReport, restore: &Restore, seq: u64, ts: Timestamp) {
    let at = match report.losses.iter().position(|l| l.restore_seq == restore.seq) {
        Some(i) => i,
        None => {
            report.losses.push(RestoreLoss {
                restore_seq: restore.seq,
                restored_at: restore.ts,
                backup_taken_at: restore.from.backup_taken_at.clone(),
                backup_seq: restore.from.audit_seq,
                checkpoints: Vec::new(),
            });
            report.losses.len() - 1
        }
    };
    let loss = &mut report.losses[at];
    if !loss.checkpoints.contains(&(seq, ts)) {
        loss.checkpoints.push((seq, ts));
        loss.checkpoints.sort_unstable();
    }
}
