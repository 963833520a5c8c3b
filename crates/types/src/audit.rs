//! The audit trail's records and the hash chain that makes tampering evident.
//!
//! Each record's hash is SHA-256 over bytes defined here (see [`canonical_bytes`]): a version
//! byte, the record's position, the previous record's hash and every field, each length-prefixed.
//! Change, remove, insert or reorder a record and the chain no longer links; cut records off the
//! end and the signed checkpoints (kept by the service, and copied off the machine) no longer
//! match. Each record says which encoding its hash uses ([`HashVersion`]), so records written
//! before an encoding changes keep verifying the way they were written.
//! Records never hold message bodies, tokens or passwords: only who, what, where and when.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Timestamp;

mod restored;

pub use restored::Restored;

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
    /// Someone searched the messages of their rooms (which rooms' messages they were shown is
    /// in the `room.read` records of the same search, `via=search`).
    #[serde(rename = "room.search")]
    RoomSearch,
    /// An event was redacted.
    #[serde(rename = "message.redact")]
    Redact,
    /// A file was downloaded.
    #[serde(rename = "media.download")]
    MediaDownload,
    /// A file was uploaded.
    #[serde(rename = "media.upload")]
    MediaUpload,
    /// Audit records, a transcript or a backup of the data directory were exported.
    #[serde(rename = "export")]
    Export,
    /// A request with an access token was refused (`401`, `403`, or `404` for what the caller
    /// may not see), recorded at the HTTP edge with the endpoint and the reason.
    #[serde(rename = "request.refused")]
    RequestRefused,
    /// The data directory was rebuilt from a backup (`wardline restore`): the record says which
    /// backup and where its trail ended ([`Restored`]). Records after that point in the trail
    /// the backup was taken from were lost by the restore.
    #[serde(rename = "restore")]
    Restore,
    /// A role changed hands: swipe in, swipe out, handover, or holders set by an administrator
    /// (the role and the people in the detail; the person who gained or lost it as the target).
    #[serde(rename = "role.holders")]
    RoleHolders,
    /// A message went to a role nobody held: the role, the fallback it went to (if any) and
    /// whether anyone received it, in the detail; the message's room and id.
    #[serde(rename = "role.unheld")]
    RoleUnheld,
    /// Someone set do-not-disturb (until when, and who covers, in the detail; the cover as the
    /// target).
    #[serde(rename = "dnd.set")]
    DndSet,
    /// A do-not-disturb ended: cleared by its owner, or run out (by the server).
    #[serde(rename = "dnd.clear")]
    DndClear,
    /// A message to someone on do-not-disturb was copied to their cover (the original room and
    /// event, the absent person, the cover as the target and where the copy went; never the
    /// message's text).
    #[serde(rename = "cover.forward")]
    CoverForward,
    /// An urgent or emergency message began to escalate, a step of its escalation ran, or it
    /// ended (accepted, at its failsafe, cancelled): the message's room and id, the step and
    /// what it did in the detail (never the message's text).
    #[serde(rename = "escalation")]
    Escalation,
    /// An escalation policy was set or removed (scope, level and steps in the detail).
    #[serde(rename = "escalation.policy")]
    EscalationPolicy,
    /// A broadcast was sent (audience and how many recipients), its report read, or its
    /// recipients reminded (how many), in the detail; the broadcast's room and message. Never
    /// the message's text.
    #[serde(rename = "broadcast")]
    Broadcast,
    /// Someone changed their push rules, or was refused changing a protected one (the kind and
    /// id of the rule and what changed in the detail; never a keyword).
    #[serde(rename = "push_rules")]
    PushRules,
    /// A pusher was set or deleted by its owner, or removed by the server (its gateway rejected
    /// it, its Web Push subscription is gone): the app id and kind in the detail, never the
    /// push key or the endpoint.
    #[serde(rename = "pusher")]
    Pusher,
    /// A hospital system used its integration account (its API key): the endpoint, the key and
    /// the scope in the detail, the integration's user id as the actor; or was refused (a
    /// revoked key or integration, a missing scope, an unknown key), with the reason.
    #[serde(rename = "integration.use")]
    IntegrationUse,
    /// An alarm was received from a hospital system and stored (its id, kind, priority, how it
    /// came and whether it repeated one already stored, in the detail; never its text or the
    /// patient).
    #[serde(rename = "alarm")]
    Alarm,
    /// An alarm rule was saved or removed by an administrator (the rule, in the detail).
    #[serde(rename = "alarm.rule")]
    AlarmRule,
    /// Reporting back to a hospital system: its webhook set or removed (the host in the detail,
    /// never the secret or the whole URL), a test report queued by an administrator, or a report
    /// that failed for good (its id, alarm, channel and the reason; never its payload).
    #[serde(rename = "integration.report")]
    IntegrationReport,
    /// A clinical alert topic was saved or removed by an administrator (the topic in the
    /// detail), or someone subscribed to one, changed their scopes or unsubscribed (the topic
    /// and scopes), or was refused (not open to them).
    #[serde(rename = "alert.topic")]
    AlertTopic,
    /// Someone looked a patient up in the electronic patient record: what they asked (the NHS
    /// number, hospital number, or name and date of birth), why (the conversation it was for,
    /// or the reason they gave), and the EPR ids of the patients found; or the EPR failed.
    /// The question is kept because an investigation must be able to ask who looked whom up.
    #[serde(rename = "patient.lookup")]
    PatientLookup,
    /// A conversation was tied to a patient, changed to another, or untied (the EPR's patient
    /// id and the tie's version in the detail), or someone was refused seeing or changing whom
    /// it is about.
    #[serde(rename = "patient.context")]
    PatientContext,
    /// Someone read whom a conversation is about (its banner), or the conversations about a
    /// patient (the EPR's patient id and where they read it, in the detail).
    #[serde(rename = "patient.read")]
    PatientRead,
    /// Writing a conversation back to the patient's record: a filing asked for (its id and how
    /// many messages), filed (the record's resource ids), refused by the record (its reason),
    /// given up on, or refused to someone not in the conversation. Never the messages' text.
    #[serde(rename = "record.filing")]
    RecordFiling,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [Self; 41] = [
        Self::Login,
        Self::LoginFailed,
        Self::LoginMfa,
        Self::AccountLocked,
        Self::Logout,
        Self::SessionEnd,
        Self::PasswordChange,
        Self::Admin,
        Self::RoomCreate,
        Self::RoomInvite,
        Self::RoomJoin,
        Self::RoomLeave,
        Self::RoomState,
        Self::MessageSend,
        Self::RoomRead,
        Self::RoomSearch,
        Self::Redact,
        Self::MediaDownload,
        Self::MediaUpload,
        Self::Export,
        Self::RequestRefused,
        Self::Restore,
        Self::RoleHolders,
        Self::RoleUnheld,
        Self::DndSet,
        Self::DndClear,
        Self::CoverForward,
        Self::Escalation,
        Self::EscalationPolicy,
        Self::Broadcast,
        Self::PushRules,
        Self::Pusher,
        Self::IntegrationUse,
        Self::Alarm,
        Self::AlarmRule,
        Self::IntegrationReport,
        Self::AlertTopic,
        Self::PatientLookup,
        Self::PatientContext,
        Self::PatientRead,
        Self::RecordFiling,
    ];

    /// The stable name, as stored, exported and hashed.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::LoginFailed => "login.failed",
            Self::LoginMfa => "login.mfa",
            Self::AccountLocked => "account.locked",
            Self::Logout => "logout",
            Self::SessionEnd => "session.end",
            Self::PasswordChange => "password.change",
            Self::Admin => "admin",
            Self::RoomCreate => "room.create",
            Self::RoomInvite => "room.invite",
            Self::RoomJoin => "room.join",
            Self::RoomLeave => "room.leave",
            Self::RoomState => "room.state",
            Self::MessageSend => "message.send",
            Self::RoomRead => "room.read",
            Self::RoomSearch => "room.search",
            Self::Redact => "message.redact",
            Self::MediaDownload => "media.download",
            Self::MediaUpload => "media.upload",
            Self::Export => "export",
            Self::RequestRefused => "request.refused",
            Self::Restore => "restore",
            Self::RoleHolders => "role.holders",
            Self::RoleUnheld => "role.unheld",
            Self::DndSet => "dnd.set",
            Self::DndClear => "dnd.clear",
            Self::CoverForward => "cover.forward",
            Self::Escalation => "escalation",
            Self::EscalationPolicy => "escalation.policy",
            Self::Broadcast => "broadcast",
            Self::PushRules => "push_rules",
            Self::Pusher => "pusher",
            Self::IntegrationUse => "integration.use",
            Self::Alarm => "alarm",
            Self::AlarmRule => "alarm.rule",
            Self::IntegrationReport => "integration.report",
            Self::AlertTopic => "alert.topic",
            Self::PatientLookup => "patient.lookup",
            Self::PatientContext => "patient.context",
            Self::PatientRead => "patient.read",
            Self::RecordFiling => "record.filing",
        }
    }

    /// The action with this name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

impl Outcome {
    /// The stable name, as stored, exported and hashed.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }

    /// The outcome with this name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Success, Self::Denied, Self::Failure].into_iter().find(|o| o.name() == name)
    }
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

/// How a record's hash is computed. Stored with each record: a new encoding gets a new
/// version, and records keep the version they were written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum HashVersion {
    /// Wardline before version 2: SHA-256 over a text header and the record's JSON as
    /// `serde_json` wrote the ten fields of that time. Only verified, never written.
    V1 = 1,
    /// [`canonical_bytes`]: defined, length-prefixed bytes, independent of any serialiser.
    V2 = 2,
}

impl HashVersion {
    /// The version new records are written with.
    pub const CURRENT: Self = Self::V2;
}

impl From<HashVersion> for u8 {
    fn from(v: HashVersion) -> Self {
        v as Self
    }
}

impl TryFrom<u8> for HashVersion {
    type Error = String;

    fn try_from(v: u8) -> Result<Self, Self::Error> {
        match v {
            1 => Ok(Self::V1),
            2 => Ok(Self::V2),
            other => Err(format!("unknown audit hash version {other}")),
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
    /// How [`AuditRecord::hash`] was computed.
    pub hash_version: HashVersion,
}

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Tag that starts every version-2 encoding, so these bytes mean nothing anywhere else.
const V2_TAG: &[u8] = b"wardline-audit-record\0";

fn put_field(out: &mut Vec<u8>, value: &str) {
    // Lengths beyond u32 cannot occur (request bodies are limited far below); saturate anyway.
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value.as_bytes());
}

fn put_optional(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_field(out, v);
        }
    }
}

/// The bytes a version-2 hash covers: the tag, the version byte (2), `seq` and `ts` as 8-byte
/// big-endian integers, then `prev_hash`, actor, device, ip, action name, room, event, target
/// user, outcome name and detail, each as a 4-byte big-endian length and UTF-8 bytes, optional
/// fields preceded by a byte `0` (absent) or `1` (present). A new field means a new version.
#[must_use]
pub fn canonical_bytes(seq: u64, prev_hash: &str, r: &NewAuditRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(V2_TAG);
    out.push(u8::from(HashVersion::V2));
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&r.ts.0.to_be_bytes());
    put_field(&mut out, prev_hash);
    put_optional(&mut out, r.actor.as_deref());
    put_optional(&mut out, r.device.as_deref());
    put_optional(&mut out, r.ip.as_deref());
    put_field(&mut out, r.action.name());
    put_optional(&mut out, r.room_id.as_deref());
    put_optional(&mut out, r.event_id.as_deref());
    put_optional(&mut out, r.target_user.as_deref());
    put_field(&mut out, r.outcome.name());
    put_optional(&mut out, r.detail.as_deref());
    out
}

/// The ten fields version-1 hashes covered, in the order `serde_json` wrote them then. Kept
/// separate from [`NewAuditRecord`] so adding a field there cannot change old hashes.
#[derive(Serialize)]
struct V1Body<'a> {
    ts: Timestamp,
    actor: Option<&'a str>,
    device: Option<&'a str>,
    ip: Option<&'a str>,
    action: AuditAction,
    room_id: Option<&'a str>,
    event_id: Option<&'a str>,
    target_user: Option<&'a str>,
    outcome: Outcome,
    detail: Option<&'a str>,
}

fn hex_digest(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of a record at `seq` following `prev_hash`, computed the way `version` says.
/// `None` if the record cannot be encoded that way (a version-1 body that does not serialise).
#[must_use]
pub fn chain_hash(version: HashVersion, seq: u64, prev_hash: &str, record: &NewAuditRecord) -> Option<String> {
    let mut h = Sha256::new();
    match version {
        HashVersion::V1 => {
            let body = serde_json::to_string(&V1Body {
                ts: record.ts,
                actor: record.actor.as_deref(),
                device: record.device.as_deref(),
                ip: record.ip.as_deref(),
                action: record.action,
                room_id: record.room_id.as_deref(),
                event_id: record.event_id.as_deref(),
                target_user: record.target_user.as_deref(),
                outcome: record.outcome,
                detail: record.detail.as_deref(),
            })
            .ok()?;
            h.update(b"wardline-audit-v1\n");
            h.update(seq.to_string().as_bytes());
            h.update(b"\n");
            h.update(prev_hash.as_bytes());
            h.update(b"\n");
            h.update(body.as_bytes());
        }
        HashVersion::V2 => h.update(canonical_bytes(seq, prev_hash, record)),
    }
    Some(hex_digest(h))
}

impl AuditRecord {
    /// Links `record` after (`seq - 1`, `prev_hash`), hashed with the current version.
    #[must_use]
    pub fn link(seq: u64, prev_hash: &str, record: NewAuditRecord) -> Self {
        let mut h = Sha256::new();
        h.update(canonical_bytes(seq, prev_hash, &record));
        Self { seq, record, prev_hash: prev_hash.to_owned(), hash: hex_digest(h), hash_version: HashVersion::V2 }
    }

    /// Does the stored hash match the record's content?
    #[must_use]
    pub fn hash_matches(&self) -> bool {
        chain_hash(self.hash_version, self.seq, &self.prev_hash, &self.record).as_deref() == Some(self.hash.as_str())
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
    /// A record claims an older hash encoding than the one before it.
    #[error("record {seq} claims an older hash version than the record before it (rewritten)")]
    Downgraded {
        /// The record.
        seq: u64,
    },
}

impl ChainBreak {
    /// The first position where the chain is wrong.
    #[must_use]
    pub fn seq(&self) -> u64 {
        match self {
            Self::Edited { seq } | Self::Unlinked { seq, .. } | Self::Duplicate { seq } | Self::Downgraded { seq } => {
                *seq
            }
            Self::Missing { from, .. } => *from,
        }
    }
}

/// Checks a run of records (in stored order) starting after (`prev_seq`, `prev_hash`).
/// Returns the position and hash of the last record.
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    prev_seq: u64,
    prev_hash: String,
) -> Result<(u64, String), ChainBreak> {
    let mut at = ChainPoint { seq: prev_seq, hash: prev_hash, version: HashVersion::V1 };
    verify_chain_from(records, &mut at)?;
    Ok((at.seq, at.hash))
}

/// Where a chain walk has got to: the last good record's position, hash and hash version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPoint {
    /// Position (0 before the first record).
    pub seq: u64,
    /// Hash ([`GENESIS`] before the first record).
    pub hash: String,
    /// Hash version (versions never go back along the chain).
    pub version: HashVersion,
}

impl Default for ChainPoint {
    fn default() -> Self {
        Self { seq: 0, hash: GENESIS.to_owned(), version: HashVersion::V1 }
    }
}

/// Checks a run of records (in stored order) after `at`, moving `at` along as they verify.
pub fn verify_chain_from<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    at: &mut ChainPoint,
) -> Result<(), ChainBreak> {
    for r in records {
        let (prev_seq, prev_hash) = (at.seq, &at.hash);
        if r.seq == prev_seq && prev_seq > 0 {
            return Err(ChainBreak::Duplicate { seq: r.seq });
        }
        if r.seq < prev_seq {
            return Err(ChainBreak::Unlinked { seq: r.seq, prev: prev_seq });
        }
        if !r.hash_matches() {
            return Err(ChainBreak::Edited { seq: r.seq });
        }
        if r.seq > prev_seq + 1 {
            return Err(ChainBreak::Missing { from: prev_seq + 1, to: r.seq - 1 });
        }
        if r.prev_hash != *prev_hash {
            return Err(ChainBreak::Unlinked { seq: r.seq, prev: prev_seq });
        }
        if r.hash_version < at.version {
            return Err(ChainBreak::Downgraded { seq: r.seq });
        }
        *at = ChainPoint { seq: r.seq, hash: r.hash.clone(), version: r.hash_version };
    }
    Ok(())
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
            r.hash = chain_hash(r.hash_version, r.seq, &r.prev_hash, &r.record).unwrap_or_default();
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
        // The names hashed and stored are the names serde writes, for every action and outcome.
        for a in AuditAction::ALL {
            assert_eq!(serde_json::to_value(a).ok(), Some(serde_json::json!(a.name())));
            assert_eq!(AuditAction::from_name(a.name()), Some(a));
        }
        for o in [Outcome::Success, Outcome::Denied, Outcome::Failure] {
            assert_eq!(serde_json::to_value(o).ok(), Some(serde_json::json!(o.name())));
            assert_eq!(Outcome::from_name(o.name()), Some(o));
        }
        assert_eq!(AuditAction::from_name("nonsense"), None);
    }

    fn sample() -> NewAuditRecord {
        let mut r = NewAuditRecord::new(Timestamp(10), AuditAction::MessageSend, Outcome::Success);
        r.actor = Some("@u1:x".into());
        r
    }

    #[test]
    fn version_2_hashes_defined_bytes() {
        // Pinned: these bytes (and so this hash) must never change for version 2.
        let linked = AuditRecord::link(1, GENESIS, sample());
        assert_eq!(linked.hash_version, HashVersion::V2);
        assert_eq!(linked.hash, "a40083d31d440b657ea8b2c6660c9ca055445951d2c1bbf931ac91ba3d948926");
        assert_eq!(chain_hash(HashVersion::V2, 1, GENESIS, &sample()).as_deref(), Some(linked.hash.as_str()));
        let bytes = canonical_bytes(1, GENESIS, &sample());
        assert!(bytes.starts_with(b"wardline-audit-record\0\x02"));
        // A field that moves from one place to another changes the bytes (length prefixes).
        let mut moved = sample();
        moved.actor = None;
        moved.device = Some("@u1:x".into());
        assert_ne!(canonical_bytes(1, GENESIS, &moved), bytes);
    }

    #[test]
    fn version_1_records_verify_as_they_were_written() {
        // The hash Wardline wrote before version 2 for this record (SHA-256 over the old text
        // header and serde_json's output for the ten fields of that time).
        let old = "9faa80799afbe8a6e8bb2e960e2ea2daa418b73ba67627996e0b9be470e46160";
        assert_eq!(chain_hash(HashVersion::V1, 1, GENESIS, &sample()).as_deref(), Some(old));
        let r = AuditRecord {
            seq: 1,
            record: sample(),
            prev_hash: GENESIS.into(),
            hash: old.into(),
            hash_version: HashVersion::V1,
        };
        let next = AuditRecord::link(2, old, sample());
        assert_eq!(verify_chain([&r, &next], 0, GENESIS.into()).map(|(s, _)| s), Ok(2));
    }

    #[test]
    fn a_record_cannot_go_back_to_an_older_hash_version() {
        let first = AuditRecord::link(1, GENESIS, sample());
        let hash = chain_hash(HashVersion::V1, 2, &first.hash, &sample()).unwrap_or_default();
        let second = AuditRecord {
            seq: 2,
            record: sample(),
            prev_hash: first.hash.clone(),
            hash,
            hash_version: HashVersion::V1,
        };
        assert_eq!(verify_chain([&first, &second], 0, GENESIS.into()), Err(ChainBreak::Downgraded { seq: 2 }));
    }

    #[test]
    fn hash_versions_are_numbers() {
        assert_eq!(serde_json::to_value(HashVersion::V2).ok(), Some(serde_json::json!(2)));
        assert_eq!(serde_json::from_value::<HashVersion>(serde_json::json!(1)).ok(), Some(HashVersion::V1));
        assert!(serde_json::from_value::<HashVersion>(serde_json::json!(9)).is_err());
        assert!(HashVersion::try_from(0u8).is_err());
    }
}
