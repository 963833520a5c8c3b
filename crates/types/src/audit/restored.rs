//! What a `restore` record says: the data directory was rebuilt from a backup, which was taken
//! at a given time and whose audit trail ended at a given record.
//!
//! `wardline restore` appends this record to the trail it restores, right after the backup's
//! last record, so the trail reads: the records of the backup, then "restored from the backup
//! taken at T, whose trail ended at record S (hash H)", then what the restored server wrote.
//! `audit verify` reads it back to tell records lost by the restore (the original trail went on
//! after S, and checkpoints signed before the restore show it) from tampering.

/// What a `restore` record says, kept in its `detail` as `key=value` words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// When the backup was taken (RFC 3339, as its manifest says).
    pub backup_taken_at: String,
    /// The backup's last audit record (0: none).
    pub audit_seq: u64,
    /// That record's hash ([`super::GENESIS`] for none).
    pub audit_hash: String,
}

const TAKEN_AT: &str = "backup_taken_at=";
const SEQ: &str = "backup_audit_seq=";
const HASH: &str = "backup_audit_hash=";

impl Restored {
    /// The words of the record's `detail` that say this; other facts may follow them.
    #[must_use]
    pub fn detail(&self) -> String {
        format!("{TAKEN_AT}{} {SEQ}{} {HASH}{}", self.backup_taken_at, self.audit_seq, self.audit_hash)
    }

    /// Reads a `restore` record's `detail`: its first three words are these, in this order, and
    /// other facts may follow them. `None` if a word is missing, out of order or malformed: the
    /// backup's time must be RFC 3339 (so it holds no space or `=` that could pass for another
    /// word), the position a number, the hash 64 hex digits.
    #[must_use]
    pub fn parse(detail: &str) -> Option<Self> {
        let mut words = detail.split_whitespace();
        let backup_taken_at = words.next()?.strip_prefix(TAKEN_AT)?;
        if backup_taken_at.contains('=') || crate::Timestamp::parse_rfc3339_strict(backup_taken_at).is_none() {
            return None;
        }
        let audit_seq = words.next()?.strip_prefix(SEQ)?;
        if !audit_seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let audit_seq = audit_seq.parse().ok()?;
        let audit_hash = words.next()?.strip_prefix(HASH)?;
        if audit_hash.len() != 64 || !audit_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Self { backup_taken_at: backup_taken_at.to_owned(), audit_seq, audit_hash: audit_hash.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_detail_reads_back() {
        let r = Restored { backup_taken_at: "2026-11-30T02:00:00Z".into(), audit_seq: 41, audit_hash: "ab".repeat(32) };
        let detail = format!("{} via=cli os_user=root source=\"/srv/backups/ward 7\"", r.detail());
        assert_eq!(Restored::parse(&detail), Some(r.clone()));
        // What follows cannot override it.
        let later = format!("{detail} backup_audit_seq=3");
        assert_eq!(Restored::parse(&later).map(|p| p.audit_seq), Some(41));
        let hash = "ab".repeat(32);
        for bad in [
            String::new(),
            "backup_taken_at=x backup_audit_seq=1".into(),
            "backup_taken_at=x backup_audit_seq=z backup_audit_hash=ab".into(),
            // Not RFC 3339.
            format!("backup_taken_at=x backup_audit_seq=1 backup_audit_hash={hash}"),
            format!("backup_taken_at=2026-11-30 backup_audit_seq=1 backup_audit_hash={hash}"),
            // A crafted time that carries words of its own.
            format!("backup_taken_at=backup_audit_seq=3 backup_audit_seq=1 backup_audit_hash={hash}"),
            format!(
                "backup_taken_at=2026-11-30T02:00:00Z backup_audit_seq=3 backup_audit_seq=1 backup_audit_hash={hash}"
            ),
            // Out of order, or after other facts.
            format!("backup_audit_seq=1 backup_taken_at=2026-11-30T02:00:00Z backup_audit_hash={hash}"),
            format!("via=cli backup_taken_at=2026-11-30T02:00:00Z backup_audit_seq=1 backup_audit_hash={hash}"),
            format!("backup_taken_at=2026-11-30T02:00:00Z backup_audit_seq=+1 backup_audit_hash={hash}"),
        ] {
            assert_eq!(Restored::parse(&bad), None, "{bad}");
        }
    }
}
