//! Reading the audit trail back: verifying the chain, exporting records (JSON lines and FHIR R4
//! `AuditEvent`s), and writing a conversation's transcript for an investigation.

use std::collections::{BTreeMap, HashMap};

use ed25519_dalek::VerifyingKey;
use ruma::RoomId;
use serde_json::{Value, json};
use wardline_store::{Direction, PosRange, Store};
use wardline_types::audit::{AuditAction, AuditRecord, Checkpoint, GENESIS, Outcome, verify_chain};
use wardline_types::{Membership, StoredEvent, Timestamp, kinds};

use crate::audit::verify_with;
use crate::{ServiceError, ServiceResult};

/// Records read per page while verifying or exporting.
const PAGE: usize = 10_000;

/// The outcome of `audit verify`.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// Everything wrong, each saying where.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Is the trail intact?
    #[must_use]
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the chain, the checkpoint signatures, and that the checkpoints (those in the
/// database and those kept outside it) still match the records.
pub async fn verify(store: &dyn Store, key: &VerifyingKey, external: &[Checkpoint]) -> ServiceResult<VerifyReport> {
    let mut report = VerifyReport::default();
    let stored_cps = store.checkpoints().await?;
    let mut cps: BTreeMap<u64, Checkpoint> = BTreeMap::new();
    for cp in stored_cps.iter().chain(external) {
        if let Some(existing) = cps.get(&cp.seq)
            && existing != cp
        {
            report.problems.push(format!("checkpoint {} differs between the database and the checkpoint file", cp.seq));
        }
        cps.insert(cp.seq, cp.clone());
    }
    for cp in external {
        if !stored_cps.iter().any(|s| s.seq == cp.seq) {
            report.problems.push(format!("checkpoint {} is missing from the database (deleted)", cp.seq));
        }
    }
    let mut hashes_at: HashMap<u64, String> = HashMap::new();
    let (mut prev_seq, mut prev_hash) = (0u64, GENESIS.to_owned());
    let mut next = 1u64;
    let mut broken = false;
    loop {
        let page = store.audit_records(next, PAGE).await?;
        let Some(last) = page.last().map(|r| r.seq) else { break };
        for r in &page {
            if cps.contains_key(&r.seq) {
                hashes_at.insert(r.seq, r.hash.clone());
            }
        }
        report.records += page.len() as u64;
        if !broken {
            match verify_chain(&page, prev_seq, prev_hash.clone()) {
                Ok((s, h)) => (prev_seq, prev_hash) = (s, h),
                Err(e) => {
                    report.problems.push(e.to_string());
                    broken = true;
                }
            }
        }
        if page.len() < PAGE {
            break;
        }
        next = last + 1;
    }
    let (head, _) = store.audit_head().await?;
    for cp in cps.values() {
        report.checkpoints += 1;
        if !verify_with(key, cp) {
            report.problems.push(format!("checkpoint {} has an invalid signature (forged or altered)", cp.seq));
            continue;
        }
        match hashes_at.get(&cp.seq) {
            None if cp.seq > head => report.problems.push(format!(
                "the log was truncated: checkpoint {} was signed but the log ends at record {head}",
                cp.seq
            )),
            None => report.problems.push(format!("record {} named by a checkpoint is missing (deleted)", cp.seq)),
            Some(h) if *h != cp.hash => report.problems.push(format!(
                "record {} no longer matches its signed checkpoint: records up to it were changed",
                cp.seq
            )),
            Some(_) => {}
        }
    }
    Ok(report)
}

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// From this time (inclusive).
    pub from: Option<Timestamp>,
    /// Until this time (exclusive).
    pub to: Option<Timestamp>,
    /// Records by or about this user.
    pub user: Option<String>,
    /// Records about this room.
    pub room: Option<String>,
}

impl AuditQuery {
    fn matches(&self, r: &AuditRecord) -> bool {
        let n = &r.record;
        self.from.is_none_or(|f| n.ts >= f)
            && self.to.is_none_or(|t| n.ts < t)
            && self.user.as_deref().is_none_or(|u| n.actor.as_deref() == Some(u) || n.target_user.as_deref() == Some(u))
            && self.room.as_deref().is_none_or(|room| n.room_id.as_deref() == Some(room))
    }
}

/// The records matching a query, in chain order.
pub async fn select(store: &dyn Store, query: &AuditQuery) -> ServiceResult<Vec<AuditRecord>> {
    let mut out = Vec::new();
    let mut next = 1u64;
    loop {
        let page = store.audit_records(next, PAGE).await?;
        let Some(last) = page.last().map(|r| r.seq) else { break };
        let full = page.len() == PAGE;
        out.extend(page.into_iter().filter(|r| query.matches(r)));
        if !full {
            break;
        }
        next = last + 1;
    }
    Ok(out)
}

fn dicom(code: &str, display: &str) -> Value {
    json!({ "system": "http://dicom.nema.org/resources/ontology/DCM", "code": code, "display": display })
}

/// One record as a FHIR R4 `AuditEvent`.
#[must_use]
pub fn fhir_audit_event(r: &AuditRecord, server_name: &str) -> Value {
    let n = &r.record;
    let (kind, action) = match n.action {
        AuditAction::Login | AuditAction::LoginFailed | AuditAction::LoginMfa | AuditAction::Logout => {
            (dicom("110114", "User Authentication"), "E")
        }
        AuditAction::AccountLocked | AuditAction::SessionEnd | AuditAction::PasswordChange | AuditAction::Admin => {
            (dicom("110136", "Security Roles Changed"), "U")
        }
        AuditAction::RoomRead | AuditAction::MediaDownload => (dicom("110110", "Patient Record"), "R"),
        AuditAction::Export => (dicom("110106", "Export"), "R"),
        AuditAction::RoomCreate | AuditAction::MessageSend | AuditAction::MediaUpload => {
            (dicom("110110", "Patient Record"), "C")
        }
        AuditAction::Redact => (dicom("110110", "Patient Record"), "D"),
        AuditAction::RoomInvite | AuditAction::RoomJoin | AuditAction::RoomLeave | AuditAction::RoomState => {
            (dicom("110110", "Patient Record"), "U")
        }
    };
    let outcome = match n.outcome {
        Outcome::Success => "0",
        Outcome::Denied => "4",
        Outcome::Failure => "8",
    };
    let mut agent = json!({
        "requestor": true,
        "who": { "identifier": { "system": format!("matrix://{server_name}"), "value": n.actor.clone().unwrap_or_else(|| "system".into()) } },
    });
    if let Some(d) = &n.device {
        agent["altId"] = json!(d);
    }
    if let Some(ip) = &n.ip {
        agent["network"] = json!({ "address": ip, "type": "2" });
    }
    let mut entities = Vec::new();
    for (what, role) in [(&n.room_id, "room"), (&n.event_id, "event"), (&n.target_user, "user")] {
        if let Some(v) = what {
            entities.push(json!({ "what": { "identifier": { "value": v } }, "description": role }));
        }
    }
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": format!("wardline-{}", r.seq),
        "type": kind,
        "subtype": [{ "system": "https://wardline.example/audit-action", "code": n.action.to_string() }],
        "action": action,
        "recorded": n.ts.to_rfc3339(),
        "outcome": outcome,
        "agent": [agent],
        "source": { "site": server_name, "observer": { "display": format!("Wardline {server_name}") } },
    });
    if let Some(d) = &n.detail {
        event["outcomeDesc"] = json!(d);
    }
    if !entities.is_empty() {
        event["entity"] = Value::Array(entities);
    }
    event
}

/// Records as a FHIR R4 `Bundle` (type `collection`) of `AuditEvent`s.
#[must_use]
pub fn fhir_bundle(records: &[AuditRecord], server_name: &str, now: Timestamp) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": now.to_rfc3339(),
        "entry": records.iter().map(|r| json!({
            "fullUrl": format!("urn:uuid:{}", pseudo_uuid(&r.hash)),
            "resource": fhir_audit_event(r, server_name),
        })).collect::<Vec<_>>(),
    })
}

/// A UUID-shaped string derived from a record hash (stable across exports).
fn pseudo_uuid(hash: &str) -> String {
    let h: String = hash.chars().chain(std::iter::repeat('0')).take(32).collect();
    format!("{}-{}-4{}-8{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

fn name_of(names: &HashMap<String, String>, user: &str) -> String {
    match names.get(user) {
        Some(n) => format!("{n} ({user})"),
        None => user.to_owned(),
    }
}

fn describe(e: &StoredEvent, original: Option<&Value>, names: &HashMap<String, String>) -> Option<String> {
    let who = name_of(names, e.event.sender.as_str());
    if let Some(because) = &e.redacted_because {
        let by =
            because.get("sender").and_then(Value::as_str).map_or_else(|| "someone".to_owned(), |s| name_of(names, s));
        let when = because
            .get("origin_server_ts")
            .and_then(Value::as_u64)
            .map(|t| Timestamp(t).to_rfc3339())
            .unwrap_or_default();
        let was = original
            .and_then(|o| o.get("body").and_then(Value::as_str))
            .map(|b| format!(" Original, kept for investigations: \"{b}\""))
            .unwrap_or_default();
        return Some(format!("{who}: [message deleted by {by} at {when}.{was}]"));
    }
    let c = &e.event.content;
    Some(match e.event.kind.as_str() {
        kinds::MESSAGE => {
            let body = c.get("body").and_then(Value::as_str).unwrap_or("");
            match c.get("msgtype").and_then(Value::as_str) {
                Some("m.text" | "m.notice") | None => format!("{who}: {body}"),
                Some("m.emote") => format!("* {who} {body}"),
                Some(other) => format!("{who}: [{other}] {body}"),
            }
        }
        kinds::MEMBER => {
            let target = e.event.state_key.as_deref().map(|t| name_of(names, t)).unwrap_or_default();
            match e.membership()? {
                Membership::Join => format!("{target} joined"),
                Membership::Invite => format!("{who} invited {target}"),
                Membership::Leave if e.event.state_key.as_deref() == Some(e.event.sender.as_str()) => {
                    format!("{target} left")
                }
                Membership::Leave => format!("{who} removed {target}"),
                Membership::Ban => format!("{who} banned {target}"),
                Membership::Knock => return None,
            }
        }
        kinds::CREATE => format!("{who} created the conversation"),
        kinds::NAME => {
            format!("{who} named the conversation \"{}\"", c.get("name").and_then(Value::as_str).unwrap_or(""))
        }
        kinds::TOPIC => format!("{who} set the topic \"{}\"", c.get("topic").and_then(Value::as_str).unwrap_or("")),
        // Only a redaction that names its target deleted anything (an m.room.redaction sent
        // as an ordinary event, before the rooms refused those, deleted nothing).
        kinds::REDACTION if e.event.redacts.is_some() => format!("{who} deleted a message"),
        kinds::REDACTION => format!("{who}: [an m.room.redaction that deleted nothing]"),
        k if k.starts_with("m.room.") => return None,
        other => format!("{who}: [{other}]"),
    })
}

/// A readable transcript of a conversation: who said what, when, and who has read it.
pub async fn transcript(store: &dyn Store, room: &RoomId) -> ServiceResult<String> {
    if !store.room_exists(room).await? {
        return Err(ServiceError::not_found("no such room"));
    }
    let now = store.current_pos();
    let state = store.state_at(room, now).await?;
    let names: HashMap<String, String> = state
        .iter()
        .filter(|e| e.event.kind == kinds::MEMBER)
        .filter_map(|e| Some((e.event.state_key.clone()?, e.event.content.get("displayname")?.as_str()?.to_owned())))
        .collect();
    let title = state
        .iter()
        .find(|e| e.event.kind == kinds::NAME)
        .and_then(|e| e.event.content.get("name")?.as_str().map(ToOwned::to_owned))
        .unwrap_or_else(|| room.to_string());
    let receipts = store.receipts(room, PosRange::upto(now)).await?;
    let mut out = format!("Transcript of \"{title}\" ({room})\nAll times UTC.\n\n");
    let mut after = wardline_types::StreamPos::ZERO;
    loop {
        let page = store.room_events(room, PosRange::new(after, now), Direction::Forward, 1000).await?;
        let Some(last) = page.last().map(|e| e.stream) else { break };
        for e in &page {
            let original = match &e.redacted_because {
                Some(_) => store.original_content(&e.event.event_id).await?,
                None => None,
            };
            let Some(line) = describe(e, original.as_ref(), &names) else { continue };
            out.push_str(&format!("{}  {line}\n", e.event.origin_server_ts.to_rfc3339()));
            if e.event.kind == kinds::MESSAGE && e.redacted_because.is_none() {
                let mut readers: Vec<String> = receipts
                    .iter()
                    .filter(|r| r.event_stream >= e.stream && r.user_id != e.event.sender && r.receipt_type == "m.read")
                    .map(|r| format!("{} (by {})", name_of(&names, r.user_id.as_str()), r.ts.to_rfc3339()))
                    .collect();
                readers.sort();
                readers.dedup();
                if !readers.is_empty() {
                    out.push_str(&format!("    read by: {}\n", readers.join(", ")));
                }
            }
        }
        after = last;
    }
    Ok(out)
}
