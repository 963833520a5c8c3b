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

    /// Reads a `restore` record's `detail` (the first occurrence of each word counts). `None`
    /// if a word is missing or malformed.
    #[must_use]
    pub fn parse(detail: &str) -> Option<Self> {
        let word = |key: &str| detail.split_whitespace().find_map(|w| w.strip_prefix(key));
        let backup_taken_at = word(TAKEN_AT).filter(|t| !t.is_empty())?.to_owned();
        let audit_seq = word(SEQ)?.parse().ok()?;
        let audit_hash = word(HASH).filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))?.to_owned();
        Some(Self { backup_taken_at, audit_seq, audit_hash })
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
        for bad in
            ["", "backup_taken_at=x backup_audit_seq=1", "backup_taken_at=x backup_audit_seq=z backup_audit_hash=ab"]
        {
            assert_eq!(Restored::parse(bad), None, "{bad}");
        }
    }
}
