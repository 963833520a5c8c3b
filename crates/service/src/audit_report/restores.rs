//! Restores in the trail. `wardline restore` appends a `restore` record right after the
//! backup's last record S: the original trail went on after S (its checkpoints, shipped off the
//! machine before the restore, show it), and the restored server then writes new records from
//! S + 2 on. Checkpoints signed *before* the restore at positions *after* S therefore disagree
//! with the restored trail: those records were lost by the restore, which `audit verify` reports
//! as such (a warning naming them), not as tampering.
//!
//! A restore record is no proof that a restore happened: whoever holds the data directory holds
//! the signing key, and can rebuild the trail as records 1 to K, a restore record claiming a
//! backup that ended at K, and anything after it, re-signing the checkpoints kept there. Every
//! checkpoint kept off the machine past K then reads as lost by a restore. So `audit verify`
//! never lets records lost by a restore pass on its own: it exits with a code of its own until
//! the operator, having checked that a restore really was made then, confirms it by the restore
//! record's position (`--restore-confirmed`).
//!
//! What the trail itself can show, it does; a restore record that fails one of these is
//! tampering:
//! - it sits right after the record it names, and links to that record's hash;
//! - the backup's time is RFC 3339, not before record S's time and not after the restore's own
//!   (the restore is dated after record S);
//! - no checkpoint kept off the machine signed before the backup was taken names a record after
//!   S (a backup taken after a checkpoint covering record N holds at least N records);
//! - no checkpoint covering it was signed before it was dated (the restored server signs one as
//!   soon as it starts).
//!
//! A checkpoint at or before S that disagrees with the trail is tampering whatever the trail
//! says.

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
            "records {from} to {to} of the original trail (at least) were lost by the restore of {} (record {}: restored from the backup taken at {}, whose trail ended at record {}); checkpoints signed before the restore name them: {}. Whoever holds the data directory can forge such a record: if no one restored this server from that backup then, treat this as tampering",
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

/// A restore record found on the chain, with the time of the record before it (the backup's
/// last, S), if that could be read.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub record: AuditRecord,
    pub before: Option<Timestamp>,
}

/// Checks the restore records found on the chain against the trail and the checkpoints
/// (`anchors`: position and signing time of every checkpoint kept off the machine that is
/// signed with the key); returns those that are consistent, and reports the others as problems.
pub(super) fn check<'a>(
    found: &[Found],
    checkpoints: impl Iterator<Item = Signed<'a>> + Clone,
    anchors: &[(u64, Timestamp)],
    hashes_at: &HashMap<u64, String>,
    report: &mut VerifyReport,
) -> Vec<Restore> {
    let mut good = Vec::new();
    for Found { record: r, before } in found {
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
        if let Some(problem) = dated_wrongly(seq, r.record.ts, *before, &from, anchors) {
            report.problems.push(Problem { seq: Some(seq), message: problem });
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

/// What is wrong with the times of the restore record at `seq`, dated `restored_at`, whose
/// backup's last record S is dated `before` (if it could be read).
fn dated_wrongly(
    seq: u64,
    restored_at: Timestamp,
    before: Option<Timestamp>,
    from: &Restored,
    anchors: &[(u64, Timestamp)],
) -> Option<String> {
    let s = from.audit_seq;
    let Some(taken) = Timestamp::parse_rfc3339_strict(&from.backup_taken_at) else {
        return Some(format!("record {seq}, a restore, gives no RFC 3339 time for its backup: it was forged"));
    };
    if let Some(before) = before {
        if restored_at < before {
            return Some(format!(
                "record {seq}, a restore dated {}, is dated before record {s} of the backup it restored ({}): its time was changed or it was forged",
                restored_at.to_rfc3339(),
                before.to_rfc3339()
            ));
        }
        if taken < before {
            return Some(format!(
                "record {seq}, a restore, says its backup was taken at {}, before record {s} that the backup holds ({}): it was forged",
                from.backup_taken_at,
                before.to_rfc3339()
            ));
        }
    }
    if taken > restored_at {
        return Some(format!(
            "record {seq}, a restore dated {}, says its backup was taken later, at {}: it was forged",
            restored_at.to_rfc3339(),
            from.backup_taken_at
        ));
    }
    // A backup taken after a checkpoint covering record N holds at least N records.
    let covered = anchors.iter().filter(|(cp, ts)| *cp > s && *ts < taken).max_by_key(|(cp, _)| *cp);
    covered.map(|(cp, ts)| {
        format!(
            "record {seq}, a restore, says its backup was taken at {} and ended at record {s}, but a checkpoint kept off the machine signed before then ({}) covers record {cp}: it was forged",
            from.backup_taken_at,
            ts.to_rfc3339()
        )
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn from(taken: &str, seq: u64) -> Restored {
        Restored { backup_taken_at: taken.into(), audit_seq: seq, audit_hash: "ab".repeat(32) }
    }

    const HOUR: u64 = 3_600_000;

    #[test]
    fn a_restore_whose_times_do_not_fit_is_forged() {
        let t = |h: u64| Timestamp(1_795_000_000_000 + h * HOUR);
        let taken = t(2).to_rfc3339();
        // Record S at 1, the backup at 2, the restore at 5; checkpoints kept off the machine:
        // one of S signed before the backup, one after S signed after it.
        let anchors = [(10, t(1)), (14, t(3))];
        assert_eq!(dated_wrongly(11, t(5), Some(t(1)), &from(&taken, 10), &anchors), None);
        // The backup has no record to follow (S = 0): no lower bound but the checkpoints.
        assert_eq!(dated_wrongly(1, t(5), None, &from(&taken, 0), &[(14, t(3))]), None);
        let wrong = [
            // Taken before its last record, after the restore, or not at an RFC 3339 time.
            (dated_wrongly(11, t(5), Some(t(3)), &from(&taken, 10), &[]), "before record 10"),
            (dated_wrongly(11, t(1), Some(t(0)), &from(&taken, 10), &[]), "taken later"),
            (dated_wrongly(11, t(5), Some(t(1)), &from("2026-11-30", 10), &[]), "no RFC 3339 time"),
            // The restore dated before the backup's last record.
            (dated_wrongly(11, t(1), Some(t(3)), &from(&taken, 10), &[]), "dated before record 10"),
            // A checkpoint kept off the machine signed before the backup names a later record.
            (dated_wrongly(11, t(5), Some(t(1)), &from(&taken, 10), &[(12, t(1))]), "covers record 12"),
            (dated_wrongly(1, t(5), None, &from(&taken, 0), &[(3, t(1))]), "covers record 3"),
        ];
        for (problem, expect) in wrong {
            let problem = problem.unwrap_or_default();
            assert!(problem.contains(expect), "expected {expect:?} in {problem:?}");
        }
    }
}
