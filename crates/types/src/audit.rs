//! The audit trail's records and the hash chain that makes tampering evident.
//!
//! Each record's hash is SHA-256 over the previous record's hash and the record's own
//! canonical JSON. Change, remove, insert or reorder a record and the chain no longer links;
//! cut records off the end and the signed checkpoints (kept by the service) no longer match.
//! Records never hold message bodies, tokens or passwords: only who, what, where and when.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Timestamp;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    /// Signed in.
    #[serde(rename = "login")]
    Login,
    /// A sign-in was refused (wrong password, deactivated, locked).
    #[serde(rename = "login.failed")]
    LoginFailed,
    /// A second-factor step.
    #[serde(rename = "login.mfa")]
    LoginMfa,
    /// An account was locked after failed attempts.
    #[serde(rename = "account.locked")]
    AccountLocked,
    /// Signed out (one session).
    #[serde(rename = "logout")]
    Logout,
    /// Sessions were ended (logout all, device deletion, deactivation).
    #[serde(rename = "session.end")]
    SessionEnd,
    /// Password changed.
    #[serde(rename = "password.change")]
    PasswordChange,
    /// An administrator acted on an account or setting.
    #[serde(rename = "admin")]
    Admin,
    /// A room was created.
    #[serde(rename = "room.create")]
    RoomCreate,
    /// Someone was invited.
    #[serde(rename = "room.invite")]
    RoomInvite,
    /// Someone joined.
    #[serde(rename = "room.join")]
    RoomJoin,
    /// Someone left, was kicked or banned.
    #[serde(rename = "room.leave")]
    RoomLeave,
    /// Room state changed (name, power levels...).
    #[serde(rename = "room.state")]
    RoomState,
    /// A message (or other event) was sent.
    #[serde(rename = "message.send")]
    MessageSend,
    /// Messages were delivered to or read by someone (sync, history, single events).
    #[serde(rename = "room.read")]
    RoomRead,
    /// An event was redacted.
    #[serde(rename = "message.redact")]
    Redact,
    /// A file was downloaded.
    #[serde(rename = "media.download")]
    MediaDownload,
    /// A file was uploaded.
    #[serde(rename = "media.upload")]
    MediaUpload,
    /// Audit records or a transcript were exported.
    #[serde(rename = "export")]
    Export,
    /// A request with an access token was refused (`401`, `403`, or `404` for what the caller
    /// may not see), recorded at the HTTP edge with the endpoint and the reason.
    #[serde(rename = "request.refused")]
    RequestRefused,
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(ToOwned::to_owned)).unwrap_or_default();
        f.write_str(&s)
    }
}

/// Whether it worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was refused.
    Denied,
    /// It failed for another reason.
    Failure,
}

/// An audit record before it joins the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAuditRecord {
    /// When (UTC, milliseconds).
    pub ts: Timestamp,
    /// Who acted (user id), if known.
    pub actor: Option<String>,
    /// From which device.
    pub device: Option<String>,
    /// From which address.
    pub ip: Option<String>,
    /// What.
    pub action: AuditAction,
    /// On which room.
    pub room_id: Option<String>,
    /// On which event(s): one id, or `first..last` for a range delivered at once.
    pub event_id: Option<String>,
    /// On which user.
    pub target_user: Option<String>,
    /// Result.
    pub outcome: Outcome,
    /// Extra facts without clinical content ("count=12", "reason=wrong password").
    pub detail: Option<String>,
}

impl NewAuditRecord {
    /// A record of `action` by `actor` now.
    #[must_use]
    pub fn new(ts: Timestamp, action: AuditAction, outcome: Outcome) -> Self {
        Self {
            ts,
            actor: None,
            device: None,
            ip: None,
            action,
            room_id: None,
            event_id: None,
            target_user: None,
            outcome,
            detail: None,
        }
    }
}

/// A record in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the chain, from 1 with no gaps.
    pub seq: u64,
    /// The record.
    #[serde(flatten)]
    pub record: NewAuditRecord,
    /// Hash of the previous record (64 zeros for the first).
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of a record at `seq` following `prev_hash`.
#[must_use]
pub fn chain_hash(seq: u64, prev_hash: &str, record: &NewAuditRecord) -> String {
    // serde_json writes struct fields in declaration order: a stable, canonical form.
    let body = serde_json::to_string(record).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(b"wardline-audit-v1\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl AuditRecord {
    /// Links `record` after (`seq - 1`, `prev_hash`).
    #[must_use]
    pub fn link(seq: u64, prev_hash: &str, record: NewAuditRecord) -> Self {
        let hash = chain_hash(seq, prev_hash, &record);
        Self { seq, record, prev_hash: prev_hash.to_owned(), hash }
    }
}

/// A signed statement that the chain had `hash` at `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Last record covered.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// When it was signed.
    pub ts: Timestamp,
    /// Ed25519 signature over [`Checkpoint::message`], hex.
    pub signature: String,
}

impl Checkpoint {
    /// The bytes that are signed.
    #[must_use]
    pub fn message(seq: u64, hash: &str, ts: Timestamp) -> Vec<u8> {
        format!("wardline-audit-checkpoint-v1|{seq}|{hash}|{}", ts.0).into_bytes()
    }
}

/// Where the chain is broken, as found by [`verify_chain`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A record's content no longer matches its hash.
    #[error("record {seq} was edited: its content does not match its hash")]
    Edited {
        /// The record.
        seq: u64,
    },
    /// Records are missing.
    #[error("record(s) {from} to {to} are missing (deleted)")]
    Missing {
        /// First missing.
        from: u64,
        /// Last missing.
        to: u64,
    },
    /// A record does not follow the one before it.
    #[error("record {seq} does not follow record {prev}: a record was inserted, removed or moved here")]
    Unlinked {
        /// The record.
        seq: u64,
        /// The one before it in the log.
        prev: u64,
    },
    /// Two records share a position.
    #[error("record {seq} appears more than once (inserted)")]
    Duplicate {
        /// The position.
        seq: u64,
    },
}

/// Checks a run of records (in stored order) starting after (`start_seq - 1`, `prev_hash`).
/// Returns the hash of the last record.
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    mut prev_seq: u64,
    mut prev_hash: String,
) -> Result<(u64, String), ChainBreak> {
    for r in records {
        if r.seq == prev_seq && prev_seq > 0 {
            return Err(ChainBreak::Duplicate { seq: r.seq });
        }
        if r.seq < prev_seq {
            return Err(ChainBreak::Unlinked { seq: r.seq, prev: prev_seq });
        }
        if chain_hash(r.seq, &r.prev_hash, &r.record) != r.hash {
            return Err(ChainBreak::Edited { seq: r.seq });
        }
        if r.seq > prev_seq + 1 {
            return Err(ChainBreak::Missing { from: prev_seq + 1, to: r.seq - 1 });
        }
        if r.prev_hash != prev_hash {
            return Err(ChainBreak::Unlinked { seq: r.seq, prev: prev_seq });
        }
        prev_seq = r.seq;
        prev_hash = r.hash.clone();
    }
    Ok((prev_seq, prev_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut out = Vec::new();
        let mut prev = GENESIS.to_owned();
        for seq in 1..=n {
            let mut r = NewAuditRecord::new(Timestamp(seq * 10), AuditAction::MessageSend, Outcome::Success);
            r.actor = Some(format!("@u{seq}:x"));
            let rec = AuditRecord::link(seq, &prev, r);
            prev = rec.hash.clone();
            out.push(rec);
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify_chain(&c, 0, GENESIS.into()).map(|(s, _)| s), Ok(5));
    }

    #[test]
    fn each_kind_of_tampering_is_found() {
        let mut edited = chain(5);
        edited[2].record.actor = Some("@someone-else:x".into());
        assert_eq!(verify_chain(&edited, 0, GENESIS.into()), Err(ChainBreak::Edited { seq: 3 }));

        let mut deleted = chain(5);
        deleted.remove(2);
        assert_eq!(verify_chain(&deleted, 0, GENESIS.into()), Err(ChainBreak::Missing { from: 3, to: 3 }));

        let mut reordered = chain(5);
        reordered.swap(1, 2);
        assert!(matches!(
            verify_chain(&reordered, 0, GENESIS.into()),
            Err(ChainBreak::Missing { .. } | ChainBreak::Unlinked { .. })
        ));

        // An inserted record, renumbered and rehashed on its own, does not link.
        let mut inserted = chain(5);
        let forged = AuditRecord::link(
            3,
            "f".repeat(64).as_str(),
            NewAuditRecord::new(Timestamp(1), AuditAction::Login, Outcome::Success),
        );
        inserted.insert(2, forged);
        for r in inserted.iter_mut().skip(3) {
            r.seq += 1;
            r.hash = chain_hash(r.seq, &r.prev_hash, &r.record);
        }
        assert!(verify_chain(&inserted, 0, GENESIS.into()).is_err());

        let mut dup = chain(5);
        let copy = dup[1].clone();
        dup.insert(2, copy);
        assert_eq!(verify_chain(&dup, 0, GENESIS.into()), Err(ChainBreak::Duplicate { seq: 2 }));
    }

    #[test]
    fn action_names() {
        assert_eq!(AuditAction::RoomRead.to_string(), "room.read");
        assert_eq!(serde_json::to_value(Outcome::Denied).ok(), Some(serde_json::json!("denied")));
    }
}
