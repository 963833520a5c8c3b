//! Reading the audit trail back: verifying the chain, exporting records (JSON lines and FHIR R4
//! `AuditEvent`s), and writing a conversation's transcript for an investigation.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ed25519_dalek::VerifyingKey;
use ruma::RoomId;
use serde_json::{Value, json};
use wardline_store::{Direction, PosRange, Store, StoreError};
use wardline_types::audit::{
    AuditAction, AuditRecord, ChainPoint, Checkpoint, NewAuditRecord, Outcome, verify_chain_from,
};
use wardline_types::{Membership, StoredEvent, Timestamp, kinds};

use crate::audit::verify_with;
use crate::messaging::{self, MessageStatus};
use crate::{ServiceError, ServiceResult};

mod edits;
mod restores;

pub use restores::RestoreLoss;

/// Records read per page while verifying or exporting.
const PAGE: usize = 10_000;

/// One thing wrong with the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The first record it concerns, if it concerns records.
    pub seq: Option<u64>,
    /// What is wrong, and where.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// Checkpoints in the database.
    pub stored_checkpoints: usize,
    /// Checkpoints in the data directory's checkpoint file.
    pub local_checkpoints: usize,
    /// Checkpoints kept off the machine.
    pub anchor_checkpoints: usize,
    /// Everything wrong, in order of the first record each concerns.
    pub problems: Vec<Problem>,
    /// The last checkpointed record up to which the trail and every checkpoint agree (0: none).
    pub agrees_up_to: u64,
    /// The last record in the trail.
    pub head: u64,
    /// The latest checkpoint kept off the machine that is signed with the key and matches the
    /// trail. Records after it are checked only against the data directory, whose keeper could
    /// have changed them or cut them off unseen.
    pub anchored: Option<Checkpoint>,
    /// Records of the original trail lost by a restore from a backup (the trail holds a
    /// `restore` record, and checkpoints signed before it show records after the backup's
    /// last): not tampering, but said plainly.
    pub losses: Vec<RestoreLoss>,
    /// Facts worth knowing that are neither tampering nor loss.
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// The records no checkpoint kept off the machine covers (`first..=last`), if any.
    #[must_use]
    pub fn unanchored(&self) -> Option<(u64, u64)> {
        let from = self.anchored.as_ref().map_or(0, |c| c.seq) + 1;
        (from <= self.head).then_some((from, self.head))
    }
}

impl VerifyReport {
    /// Is the trail intact?
    #[must_use]
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// The restores whose losses the operator has not confirmed (given the positions of the
    /// restore records they did confirm, having checked that those restores really were made).
    #[must_use]
    pub fn unconfirmed(&self, confirmed: &[u64]) -> Vec<&RestoreLoss> {
        self.losses.iter().filter(|l| !confirmed.contains(&l.restore_seq)).collect()
    }

    /// The first record where the trail is broken or disagrees with its checkpoints.
    #[must_use]
    pub fn first_disagreement(&self) -> Option<u64> {
        self.problems.iter().filter_map(|p| p.seq).min()
    }

    fn problem(&mut self, seq: Option<u64>, message: String) {
        self.problems.push(Problem { seq, message });
    }
}

/// Where a checkpoint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Database,
    LocalFile,
    Anchor,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Self::Database => "the database",
            Self::LocalFile => "the data directory's checkpoint file",
            Self::Anchor => "the copies kept off the machine",
        }
    }
}

/// What a walk along the chain found.
#[derive(Debug, Default)]
struct Walked {
    /// The hashes of the records at the positions asked for.
    hashes_at: HashMap<u64, String>,
    /// The `restore` records, with the time of the record before each.
    restores: Vec<restores::Found>,
}

/// Walks the chain, reporting the first break and every record that cannot be read; returns
/// the hashes of the records at the positions in `wanted`, and the `restore` records.
async fn walk_chain(store: &dyn Store, wanted: &BTreeSet<u64>, report: &mut VerifyReport) -> ServiceResult<Walked> {
    let mut hashes_at = HashMap::new();
    let mut restores = Vec::new();
    let mut at = ChainPoint::default();
    let mut broken = false;
    let mut next = 1u64;
    // The last record read: its position and time.
    let mut last_read: Option<(u64, Timestamp)> = None;
    loop {
        let (page, unreadable) = match store.audit_records(next, PAGE).await {
            Ok(page) => (page, None),
            Err(StoreError::UnreadableAuditRecord { seq, reason }) => {
                let seq = seq.max(next);
                let before = if seq > next {
                    store.audit_records(next, usize::try_from(seq - next).unwrap_or(PAGE)).await?
                } else {
                    Vec::new()
                };
                (before, Some((seq, reason)))
            }
            Err(e) => return Err(e.into()),
        };
        for r in &page {
            if wanted.contains(&r.seq) {
                hashes_at.insert(r.seq, r.hash.clone());
            }
            if r.record.action == AuditAction::Restore {
                let before = last_read.filter(|(s, _)| s + 1 == r.seq).map(|(_, ts)| ts);
                restores.push(restores::Found { record: r.clone(), before });
            }
            last_read = Some((r.seq, r.record.ts));
        }
        report.records += page.len() as u64;
        if !broken && let Err(e) = verify_chain_from(&page, &mut at) {
            report.problem(Some(e.seq()), e.to_string());
            broken = true;
        }
        let full = page.len() == PAGE;
        let last = page.last().map(|r| r.seq);
        match unreadable {
            Some((seq, reason)) => {
                report.records += 1;
                report.problem(
                    Some(seq),
                    format!("record {seq} cannot be read ({reason}): its stored values were changed"),
                );
                broken = true;
                next = seq + 1;
            }
            None if full => next = last.map_or(next, |l| l + 1),
            None => break,
        }
    }
    Ok(Walked { hashes_at, restores })
}

/// The copies of one signed checkpoint (a position and hash): where they are, and when the
/// latest was signed.
#[derive(Debug, Clone, Default)]
struct Copies {
    sources: BTreeSet<Source>,
    signed: Timestamp,
}

/// Verifies the trail: the chain's links and hashes, the checkpoint signatures under `key`,
/// that every checkpoint (in the database, in the data directory's checkpoint file `local`,
/// and kept off the machine, `anchors`) matches the record it names, and that every
/// checkpoint kept off the machine is still in the database and in the checkpoint file.
///
/// Whoever can write the data directory can rewrite the records, the database's checkpoints,
/// the checkpoint file and the key in it; only a `key` and `anchors` kept elsewhere make
/// such a rewrite evident.
///
/// A trail restored from a backup holds a `restore` record after the backup's last record S
/// (see `restores.rs`): checkpoints signed before the restore at positions after S name
/// records the restore lost, which are reported in [`VerifyReport::losses`], not as problems.
/// Whoever holds the data directory can forge a restore record, so a loss is not "intact"
/// until the operator confirms that restore ([`VerifyReport::unconfirmed`]).
pub async fn verify(
    store: &dyn Store,
    key: &VerifyingKey,
    local: &[Checkpoint],
    anchors: &[Checkpoint],
) -> ServiceResult<VerifyReport> {
    let stored = store.checkpoints().await?;
    let mut report = VerifyReport {
        stored_checkpoints: stored.len(),
        local_checkpoints: local.len(),
        anchor_checkpoints: anchors.len(),
        ..VerifyReport::default()
    };
    // Only checkpoints signed with the key count; the others are tampering in themselves.
    let mut valid: BTreeMap<u64, BTreeMap<String, Copies>> = BTreeMap::new();
    let mut bad_signatures: BTreeMap<(u64, Source), usize> = BTreeMap::new();
    let sources = [(Source::Database, stored.as_slice()), (Source::LocalFile, local), (Source::Anchor, anchors)];
    for (source, cps) in sources {
        for cp in cps {
            if verify_with(key, cp) {
                let copies = valid.entry(cp.seq).or_default().entry(cp.hash.clone()).or_default();
                copies.sources.insert(source);
                copies.signed = copies.signed.max(cp.ts);
            } else {
                *bad_signatures.entry((cp.seq, source)).or_default() += 1;
            }
        }
    }
    for ((seq, source), _) in bad_signatures {
        report.problem(
            Some(seq),
            format!(
                "checkpoint {seq} in {} has an invalid signature: forged, altered, or signed with another key",
                source.name()
            ),
        );
    }
    let wanted: BTreeSet<u64> = valid.keys().copied().collect();
    let Walked { hashes_at, restores: restore_records } = walk_chain(store, &wanted, &mut report).await?;
    let (head, _) = store.audit_head().await?;
    report.head = head;
    report.anchored = anchors
        .iter()
        .filter(|cp| verify_with(key, cp) && hashes_at.get(&cp.seq) == Some(&cp.hash))
        .max_by_key(|cp| (cp.seq, cp.ts))
        .cloned();
    let signed = valid.iter().flat_map(|(&seq, by_hash)| {
        by_hash.iter().map(move |(hash, c)| restores::Signed { seq, hash: hash.as_str(), ts: c.signed })
    });
    let anchor_times: Vec<(u64, Timestamp)> =
        anchors.iter().filter(|cp| verify_with(key, cp)).map(|cp| (cp.seq, cp.ts)).collect();
    let restores = restores::check(&restore_records, signed, &anchor_times, &hashes_at, &mut report);
    let first_break = report.first_disagreement();
    let mut agrees_up_to = 0u64;
    let mut still_agreeing = true;
    for (&seq, by_hash) in &valid {
        let mut agrees = true;
        // Copies of checkpoints the restored trail no longer matches, signed before a restore
        // from a backup that ended before them: records lost by the restore.
        let mut lost = BTreeSet::new();
        for (hash, copies) in by_hash {
            let from = copies.sources.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ");
            let found = hashes_at.get(&seq);
            if found == Some(hash) {
                continue;
            }
            // A record changed or cut off since (not one missing inside the trail).
            let replaced = found.is_some() || seq > head;
            if replaced && let Some(restore) = restores::lost_by(&restores, seq, copies.signed) {
                restores::note_loss(&mut report, restore, seq, copies.signed);
                lost.insert(hash);
                continue;
            }
            match found {
                None if seq > head => report.problem(
                    Some(head + 1),
                    format!(
                        "the trail was truncated: it ends at record {head}, but a checkpoint in {from} was signed at record {seq} (the trail agrees with its checkpoints up to record {agrees_up_to})"
                    ),
                ),
                None => {
                    report.problem(Some(seq), format!("record {seq}, named by a checkpoint in {from}, is missing (deleted)"));
                }
                Some(_) => report.problem(
                    Some(seq),
                    format!(
                        "record {seq} no longer matches its signed checkpoint in {from}: records {} to {seq} were changed, deleted or inserted (the trail agrees with its checkpoints up to record {agrees_up_to})",
                        agrees_up_to + 1
                    ),
                ),
            }
            agrees = false;
        }
        // Everything kept off the machine was in the database and the file first.
        for (hash, copies) in by_hash {
            if !copies.sources.contains(&Source::Anchor) || lost.contains(hash) {
                continue;
            }
            for (copy, name) in [(Source::Database, "database"), (Source::LocalFile, "checkpoint file")] {
                if copies.sources.contains(&copy) {
                    continue;
                }
                // Signed after the snapshot of the backup a restore came from, of a record the
                // backup holds: the restored copies may lack it, and it matches the trail.
                if hashes_at.get(&seq) == Some(hash)
                    && let Some(restore) = restores::kept_by(&restores, seq, copies.signed)
                {
                    report.notes.push(format!(
                        "checkpoint {seq} kept off the machine is not in the restored {name}: it was signed after the snapshot of the backup restored by record {}, and it matches the trail",
                        restore.seq
                    ));
                    continue;
                }
                report.problem(
                    Some(seq),
                    format!(
                        "checkpoint {seq} (hash {}…) kept off the machine is missing from the {name}: deleted or replaced",
                        hash.get(..12).unwrap_or(hash)
                    ),
                );
                agrees = false;
            }
        }
        // The file copies the database.
        for copies in by_hash.values() {
            if copies.sources.contains(&Source::LocalFile) && !copies.sources.contains(&Source::Database) {
                report.problem(
                    Some(seq),
                    format!(
                        "checkpoint {seq} of the checkpoint file is missing from the database (deleted or replaced)"
                    ),
                );
                agrees = false;
            }
        }
        still_agreeing = still_agreeing && agrees && first_break.is_none_or(|f| f > seq);
        // A position whose only checkpoints were lost by a restore pins nothing of this trail.
        if still_agreeing && lost.len() < by_hash.len() {
            agrees_up_to = seq;
        }
    }
    report.problems.sort_by_key(|p| p.seq.unwrap_or(0));
    report.agrees_up_to = agrees_up_to;
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
    /// Records about this patient (see [`PatientFilter`]).
    pub patient: Option<PatientFilter>,
}

/// "Who looked at this patient": the records that name the patient (looked up, read, tied,
/// untied, filed: [`patients_named`]), every record of a conversation while it was about them
/// (who sent to it, joined it), and every read of it since it first was (a later read may show
/// what was said then).
#[derive(Debug, Clone, Default)]
pub struct PatientFilter {
    /// The EPR's id of the patient.
    pub patient_id: String,
    /// Each conversation's periods about them: room, tied at, ended at (`None`: still).
    pub ties: Vec<(String, Timestamp, Option<Timestamp>)>,
}

impl PatientFilter {
    /// The filter for `patient_id`, with its conversations' ties from `store`.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn load(store: &dyn Store, patient_id: &str) -> ServiceResult<Self> {
        let ties = store
            .patient_ties(patient_id)
            .await?
            .into_iter()
            .map(|t| (t.room_id.to_string(), t.tied_at, t.ended.map(|(_, at)| at)))
            .collect();
        Ok(Self { patient_id: patient_id.to_owned(), ties })
    }

    fn matches(&self, n: &NewAuditRecord) -> bool {
        // A read after a tie ended may still show what was said while it lasted: reads count
        // from the tie's start on; anything else only while it lasted.
        // (A transcript export and a read of the filings show it too.)
        let read = matches!(
            n.action,
            AuditAction::RoomRead
                | AuditAction::RoomSearch
                | AuditAction::MediaDownload
                | AuditAction::Export
                | AuditAction::RecordFiling
        );
        patients_named(n).iter().any(|p| *p == self.patient_id)
            || n.room_id.as_deref().is_some_and(|room| {
                self.ties
                    .iter()
                    .any(|(r, from, until)| r == room && n.ts >= *from && (read || until.is_none_or(|u| n.ts < u)))
            })
    }
}

/// The EPR ids of the patients an audit record of the patient record names: `patient=`,
/// `ids=` (a lookup's results), `from=`/`to=` (a change of patient) in its detail (an export
/// about a patient: `patient=`). Other actions name none.
#[must_use]
pub fn patients_named(n: &NewAuditRecord) -> Vec<&str> {
    let keys: &[&str] = match n.action {
        AuditAction::PatientLookup => &["ids=", "patient="],
        AuditAction::PatientRead | AuditAction::RecordFiling | AuditAction::Export => &["patient="],
        AuditAction::PatientContext => &["patient=", "from=", "to="],
        _ => return Vec::new(),
    };
    let Some(detail) = n.detail.as_deref() else { return Vec::new() };
    detail
        .split([' ', ';'])
        .filter_map(|w| keys.iter().find_map(|k| w.strip_prefix(k)))
        .flat_map(|v| v.split(','))
        .filter(|v| !v.is_empty())
        .collect()
}

impl AuditQuery {
    fn matches(&self, r: &AuditRecord) -> bool {
        let n = &r.record;
        self.from.is_none_or(|f| n.ts >= f)
            && self.to.is_none_or(|t| n.ts < t)
            && self.user.as_deref().is_none_or(|u| n.actor.as_deref() == Some(u) || n.target_user.as_deref() == Some(u))
            && self.room.as_deref().is_none_or(|room| n.room_id.as_deref() == Some(room))
            && self.patient.as_ref().is_none_or(|p| p.matches(n))
    }
}

/// The records matching a query, in chain order.
pub async fn select(store: &dyn Store, query: &AuditQuery) -> ServiceResult<Vec<AuditRecord>> {
    let mut out = Vec::new();
    let mut next = 1u64;
    loop {
        let page = store.audit_records(next, PAGE).await.map_err(|e| match e {
            StoreError::UnreadableAuditRecord { seq, reason } => ServiceError::Internal(format!(
                "audit record {seq} cannot be read ({reason}): it was changed outside Wardline; run `wardline audit verify`"
            )),
            e => e.into(),
        })?;
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
        AuditAction::AccountLocked
        | AuditAction::SessionEnd
        | AuditAction::PasswordChange
        | AuditAction::Admin
        | AuditAction::RoleHolders => (dicom("110136", "Security Roles Changed"), "U"),
        AuditAction::RoomRead | AuditAction::MediaDownload => (dicom("110110", "Patient Record"), "R"),
        AuditAction::Export => (dicom("110106", "Export"), "R"),
        // FHIR's action code for a query is E (execute).
        AuditAction::RoomSearch => (dicom("110110", "Patient Record"), "E"),
        AuditAction::RequestRefused => (dicom("110113", "Security Alert"), "E"),
        AuditAction::Restore => (dicom("110107", "Import"), "C"),
        AuditAction::RoomCreate | AuditAction::MessageSend | AuditAction::MediaUpload | AuditAction::RoleUnheld => {
            (dicom("110110", "Patient Record"), "C")
        }
        AuditAction::Redact => (dicom("110110", "Patient Record"), "D"),
        // Someone's availability and who stands in for them: a change to who is reached.
        AuditAction::DndSet | AuditAction::DndClear => (dicom("110136", "Security Roles Changed"), "U"),
        AuditAction::CoverForward => (dicom("110110", "Patient Record"), "C"),
        // A step of an escalation changes who is in the conversation and who is told.
        AuditAction::Escalation => (dicom("110110", "Patient Record"), "U"),
        AuditAction::EscalationPolicy => (dicom("110136", "Security Roles Changed"), "U"),
        // Sending (C), reading its report (R: it names who has not read) or reminding (C).
        AuditAction::Broadcast => (dicom("110110", "Patient Record"), "C"),
        AuditAction::PushRules => (dicom("110136", "Security Roles Changed"), "U"),
        // Where a person's notifications go: an attribute of their account's security.
        AuditAction::Pusher => (dicom("110137", "User Security Attributes Changed"), "U"),
        // A system's sign-in with its key, as a person's sign-in is.
        AuditAction::IntegrationUse => (dicom("110114", "User Authentication"), "E"),
        // An alarm about a patient or a place, created in Wardline's record.
        AuditAction::Alarm => (dicom("110110", "Patient Record"), "C"),
        // Who alarms reach: a change to who is told, as an escalation policy is.
        AuditAction::AlarmRule => (dicom("110136", "Security Roles Changed"), "U"),
        // Who clinical alerts reach (a topic, or someone's subscription to it).
        AuditAction::AlertTopic => (dicom("110136", "Security Roles Changed"), "U"),
        // A query of the patient record (FHIR's action code for a query is E).
        AuditAction::PatientLookup => (dicom("110110", "Patient Record"), "E"),
        // Whom a conversation is about: tied, changed or untied (U); read (R).
        AuditAction::PatientContext => (dicom("110110", "Patient Record"), "U"),
        AuditAction::PatientRead => (dicom("110110", "Patient Record"), "R"),
        // Messages written to the patient's record: an export of clinical content (C: the
        // record gains or updates its copies).
        AuditAction::RecordFiling => (dicom("110106", "Export"), "C"),
        // What leaves for a hospital system, and where it may go.
        AuditAction::IntegrationReport => (dicom("110106", "Export"), "E"),
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
    // The patients it names, as the record's Patients (their EPR ids).
    for p in patients_named(n) {
        entities.push(json!({
            "what": { "identifier": { "system": "urn:wardline:epr:patient", "value": p } },
            "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person" },
            "role": { "system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient" },
            "description": "patient",
        }));
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
        wardline_types::relation::REACTION => {
            let key = wardline_types::relation::relation(c).and_then(|r| r.key).unwrap_or_default();
            format!("{who} reacted {key}")
        }
        k if k.starts_with("m.room.") => return None,
        other => format!("{who}: [{other}]"),
    })
}

/// What became of a message, for the transcript: who it was delivered to and when, who read it
/// and when, who has neither (by the one rule, [`crate::messaging::status_of`]). For a message
/// from before deliveries were recorded, those with neither are listed as "delivery not
/// recorded": they may well have had it.
fn describe_status(status: &MessageStatus, names: &HashMap<String, String>) -> String {
    let list = |items: Vec<String>| items.join(", ");
    let at = |user: &ruma::UserId, t: Timestamp| format!("{} at {}", name_of(names, user.as_str()), t.to_rfc3339());
    let delivered: Vec<String> =
        status.recipients.iter().filter_map(|r| r.delivered.map(|t| at(&r.user_id, t))).collect();
    let read: Vec<String> = status.recipients.iter().filter_map(|r| r.read.map(|t| at(&r.user_id, t))).collect();
    let neither: Vec<String> = status
        .recipients
        .iter()
        .filter(|r| r.delivered.is_none() && r.read.is_none())
        .map(|r| name_of(names, r.user_id.as_str()))
        .collect();
    let unknown = if status.delivery_recorded { "not delivered to" } else { "delivery not recorded" };
    let mut out = String::new();
    if let Some(request) = &status.request {
        out.push_str(&format!("    priority: {}\n", request.level.as_str()));
    }
    for (label, items) in [("delivered to", delivered), ("read by", read), (unknown, neither)] {
        if !items.is_empty() {
            out.push_str(&format!("    {label}: {}\n", list(items)));
        }
    }
    if status.request.is_some() {
        // Each answer (recipients', then others'), and who has not answered.
        let answered = status
            .recipients
            .iter()
            .filter_map(|r| Some((r.user_id.as_ref(), r.answer.as_ref()?)))
            .chain(status.other_answers.iter().map(|(u, a)| (u.as_ref(), a)));
        for (user, a) in answered {
            let reason = a.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            out.push_str(&format!("    answered \"{}\"{reason}: {}\n", a.label, at(user, a.ts)));
        }
        let silent: Vec<String> = status
            .recipients
            .iter()
            .filter(|r| r.answer.is_none())
            .map(|r| name_of(names, r.user_id.as_str()))
            .collect();
        if !silent.is_empty() {
            out.push_str(&format!("    not answered by: {}\n", list(silent)));
        }
    }
    out
}

/// The patients a conversation was about, one line per tie, oldest first: "About: SMITH, John
/// — NHS 943 476 5919 — from <time> (tied by <name>) until <time>" ("until now" while current).
fn about_lines(ties: &[wardline_store::PatientTie], names: &HashMap<String, String>) -> String {
    let mut out = String::new();
    for t in ties {
        let nhs = t.patient.nhs_number.as_ref().map(|n| format!(" — NHS {}", n.grouped())).unwrap_or_default();
        let until = match &t.ended {
            Some((_, at)) => at.to_rfc3339(),
            None => "now".into(),
        };
        out.push_str(&format!(
            "About: {}{nhs} — from {} (tied by {}) until {until}\n",
            t.patient.name,
            t.tied_at.to_rfc3339(),
            name_of(names, t.tied_by.as_str()),
        ));
    }
    out
}

/// A readable transcript of a conversation (with the patients it was about): who said what and when, and for each message who it
/// was delivered to and when, who read it and when, and who has neither. For investigations: a
/// deleted message's original and every version of an edited one are in it.
pub async fn transcript(store: &dyn Store, room: &RoomId) -> ServiceResult<String> {
    transcript_of(store, room, None).await
}

/// The transcript filed to a patient's record: only the part of the conversation said while
/// it was about this patient (`tie`), up to `until` (when the filing was asked for); the header
/// names only this patient; a deleted message appears only as deleted, never its text, and an
/// edited one with its versions as its readers saw them.
pub async fn transcript_for_record(
    store: &dyn Store,
    room: &RoomId,
    tie: &wardline_store::PatientTie,
    until: Timestamp,
) -> ServiceResult<String> {
    let end = tie.ended.as_ref().map_or(until, |(_, at)| (*at).min(until));
    transcript_of(store, room, Some((tie, end))).await
}

async fn transcript_of(
    store: &dyn Store,
    room: &RoomId,
    record: Option<(&wardline_store::PatientTie, Timestamp)>,
) -> ServiceResult<String> {
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
    let members = messaging::current_members(&state);
    let recorded_after = messaging::recorded_after(store).await?;
    let mut out = format!("Transcript of \"{title}\" ({room})\n");
    match record {
        Some((tie, _)) => out.push_str(&about_lines(std::slice::from_ref(tie), &names)),
        None => out.push_str(&about_lines(&store.room_patient_history(room).await?, &names)),
    }
    out.push_str("All times UTC.\n\n");
    let mut after = wardline_types::StreamPos::ZERO;
    loop {
        let page = store.room_events(room, PosRange::new(after, now), Direction::Forward, 1000).await?;
        let Some(last) = page.last().map(|e| e.stream) else { break };
        let messages: Vec<StoredEvent> =
            page.iter().filter(|e| messaging::is_message(e) && e.redacted_because.is_none()).cloned().collect();
        let (memberships, facts) =
            messaging::load_facts(store, room, &messages, members.clone(), recorded_after).await?;
        let edits = edits::of(store, &page, now).await?;
        for e in &page {
            if let Some((tie, end)) = record
                && (e.event.origin_server_ts < tie.tied_at || e.event.origin_server_ts > end)
            {
                continue;
            }
            let placement = edits::placement(store, e).await?;
            if placement == edits::Placement::UnderOriginal {
                continue;
            }
            let original = match &e.redacted_because {
                Some(_) if record.is_none() => store.original_content(&e.event.event_id).await?,
                _ => None,
            };
            let Some(line) = describe(e, original.as_ref(), &names) else { continue };
            out.push_str(&format!("{}  {line}\n", e.event.origin_server_ts.to_rfc3339()));
            if let edits::Placement::InvalidEdit(why) = placement {
                out.push_str(&format!("    (not a valid edit of an earlier message, so it changed nothing: {why})\n"));
            }
            if record.is_none() || e.redacted_because.is_none() {
                out.push_str(&edits::lines(edits.get(&e.event.event_id), &names));
            }
            if messaging::is_message(e) && e.redacted_because.is_none() {
                let status = messaging::status_of(e, &memberships, &facts, now);
                out.push_str(&describe_status(&status, &names));
            }
        }
        after = last;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::CheckpointKey;
    use wardline_store::AuditStore;
    use wardline_store_sqlite::{Durability, SqliteStore};
    use wardline_types::audit::NewAuditRecord;

    async fn trail(dir: &tempfile::TempDir, n: u64) -> SqliteStore {
        let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let records = (1..=n)
            .map(|i| {
                let mut r = NewAuditRecord::new(Timestamp(i), AuditAction::Login, Outcome::Success);
                r.actor = Some(format!("@u{i}:x"));
                r
            })
            .collect();
        store.append_audit(records).await.unwrap();
        store
    }

    async fn sign_head(store: &SqliteStore, key: &CheckpointKey, ts: u64) -> Checkpoint {
        let (seq, hash) = store.audit_head().await.unwrap();
        key.sign(seq, &hash, Timestamp(ts))
    }

    #[tokio::test]
    async fn a_position_signed_twice_is_not_tampering() {
        // As the old shutdown did: the database kept one signature, the file got both.
        let dir = tempfile::tempdir().unwrap();
        let store = trail(&dir, 3).await;
        let (key, _) = CheckpointKey::generate();
        let first = sign_head(&store, &key, 10).await;
        let second = sign_head(&store, &key, 20).await;
        store.put_checkpoint(second.clone()).await.unwrap();
        let report =
            verify(&store, &key.verifying_key(), &[first.clone(), second.clone()], &[first, second]).await.unwrap();
        assert!(report.intact(), "{:?}", report.problems);
    }

    #[tokio::test]
    async fn checkpoints_kept_elsewhere_show_a_cut_tail_and_deleted_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let store = trail(&dir, 5).await;
        let (key, _) = CheckpointKey::generate();
        let shipped = sign_head(&store, &key, 10).await;
        // Records 4 and 5 cut off, and no checkpoint left in the database or the file.
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch("DELETE FROM audit_log WHERE seq > 3").unwrap();
        let alone = verify(&store, &key.verifying_key(), &[], &[]).await.unwrap();
        assert!(alone.intact(), "without anchors this cannot be seen");
        let report = verify(&store, &key.verifying_key(), &[], std::slice::from_ref(&shipped)).await.unwrap();
        assert_eq!(report.first_disagreement(), Some(4), "{:?}", report.problems);
        assert!(report.problems.iter().any(|p| p.message.contains("missing from the database")));
        assert!(report.problems.iter().any(|p| p.message.contains("missing from the checkpoint file")));
        // Signed with another key: refused whatever it says.
        let (other, _) = CheckpointKey::generate();
        let report = verify(&store, &other.verifying_key(), &[], &[shipped]).await.unwrap();
        assert!(report.problems.iter().any(|p| p.message.contains("invalid signature")), "{:?}", report.problems);
        assert_eq!(report.anchored, None, "a checkpoint with another key anchors nothing");
    }

    #[tokio::test]
    async fn records_after_the_last_checkpoint_kept_off_the_machine_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = trail(&dir, 3).await;
        let (key, _) = CheckpointKey::generate();
        let shipped = sign_head(&store, &key, 10).await;
        store.put_checkpoint(shipped.clone()).await.unwrap();
        let more = (4..=6).map(|i| NewAuditRecord::new(Timestamp(i), AuditAction::Login, Outcome::Success)).collect();
        store.append_audit(more).await.unwrap();
        // The database and the file have a checkpoint of record 6 that never left the machine:
        // whoever holds the data directory could have signed it.
        let local = sign_head(&store, &key, 20).await;
        store.put_checkpoint(local.clone()).await.unwrap();
        let report = verify(&store, &key.verifying_key(), &[shipped.clone(), local], std::slice::from_ref(&shipped))
            .await
            .unwrap();
        assert!(report.intact(), "{:?}", report.problems);
        assert_eq!((report.head, report.anchored.as_ref()), (6, Some(&shipped)));
        assert_eq!(report.unanchored(), Some((4, 6)));
        // No copies kept off the machine: nothing is anchored.
        let report = verify(&store, &key.verifying_key(), &[], &[]).await.unwrap();
        assert_eq!((report.unanchored(), report.anchored), (Some((1, 6)), None));
        // Every record anchored.
        let last = sign_head(&store, &key, 30).await;
        let report = verify(&store, &key.verifying_key(), &[], &[shipped, last]).await.unwrap();
        assert_eq!(report.unanchored(), None);
    }

    /// The record `wardline restore` appends after a backup whose trail ended at `seq`/`hash`.
    #[test]
    fn the_patients_a_record_names_and_who_looked_at_one() {
        let rec = |action, detail: &str, room: Option<&str>, ts| {
            let mut r = NewAuditRecord::new(Timestamp(ts), action, Outcome::Success);
            r.detail = Some(detail.to_owned());
            r.room_id = room.map(str::to_owned);
            r
        };
        let lookup = rec(AuditAction::PatientLookup, "query=nhs \"9434765919\"; for=!r:x; found=2; ids=p1,p2", None, 1);
        assert_eq!(patients_named(&lookup), ["p1", "p2"]);
        let changed = rec(AuditAction::PatientContext, "changed from=p1 to=p3 version=2 restricted=false", None, 1);
        assert_eq!(patients_named(&changed), ["p1", "p3"]);
        let read = rec(AuditAction::PatientRead, "read patient=p1 via=banner", None, 1);
        assert_eq!(patients_named(&read), ["p1"]);
        let filed = rec(AuditAction::RecordFiling, "filed filing=fl_x patient=p1 attempts=1 events=$a", None, 1);
        assert_eq!(patients_named(&filed), ["p1"]);
        let login = rec(AuditAction::Login, "patient=p1", None, 1);
        assert!(patients_named(&login).is_empty(), "only the patient record's actions name patients");

        let f = PatientFilter {
            patient_id: "p1".into(),
            ties: vec![("!r:x".into(), Timestamp(10), Some(Timestamp(20))), ("!s:x".into(), Timestamp(15), None)],
        };
        let room_read = |room, ts| rec(AuditAction::RoomRead, "messages=3", Some(room), ts);
        assert!(f.matches(&lookup) && f.matches(&changed) && f.matches(&read) && f.matches(&filed));
        assert!(f.matches(&room_read("!r:x", 10)), "read while it was about them");
        assert!(!f.matches(&room_read("!r:x", 9)), "before");
        assert!(f.matches(&room_read("!r:x", 20)), "a read after the tie ended may show what was said during it");
        let sent = |ts| rec(AuditAction::MessageSend, "", Some("!r:x"), ts);
        assert!(f.matches(&sent(19)) && !f.matches(&sent(20)), "a message sent after it ended is not about them");
        assert!(f.matches(&room_read("!s:x", 1_000)), "still about them");
        assert!(!f.matches(&room_read("!t:x", 12)), "another conversation");
        let other = rec(AuditAction::PatientRead, "read patient=p11 via=banner", None, 1);
        assert!(!f.matches(&other), "p11 is not p1");
    }

    fn restore_record(seq: u64, hash: &str, ts: u64) -> NewAuditRecord {
        let mut r = NewAuditRecord::new(Timestamp(ts), AuditAction::Restore, Outcome::Success);
        let from = wardline_types::audit::Restored {
            // After the backup's last record (its time is its position) and before any
            // checkpoint after it (signed at 20 and later).
            backup_taken_at: Timestamp(5).to_rfc3339(),
            audit_seq: seq,
            audit_hash: hash.to_owned(),
        };
        r.detail = Some(format!("{} via=cli os_user=root", from.detail()));
        r
    }

    fn later(from: u64, to: u64) -> Vec<NewAuditRecord> {
        (from..=to).map(|i| NewAuditRecord::new(Timestamp(1000 + i), AuditAction::Login, Outcome::Success)).collect()
    }

    #[tokio::test]
    async fn records_lost_by_a_restore_are_reported_as_lost_not_as_tampering() {
        let (key, _) = CheckpointKey::generate();
        // The original server: records 1 to 5, checkpoints of 3 (in the backup) and of 5 (shipped
        // off the machine after the backup was taken).
        let original_dir = tempfile::tempdir().unwrap();
        let original = trail(&original_dir, 5).await;
        let (_, hash3) = original.audit_records(3, 1).await.unwrap().pop().map(|r| (r.seq, r.hash)).unwrap();
        let cp3 = key.sign(3, &hash3, Timestamp(10));
        let cp5 = sign_head(&original, &key, 20).await;
        // Restored from the backup taken at record 3, then the restored server wrote on and
        // signed a checkpoint as it started.
        let dir = tempfile::tempdir().unwrap();
        let restored = trail(&dir, 3).await;
        restored.put_checkpoint(cp3.clone()).await.unwrap();
        restored.append_audit(vec![restore_record(3, &hash3, 100)]).await.unwrap();
        let started = sign_head(&restored, &key, 150).await;
        restored.put_checkpoint(started.clone()).await.unwrap();
        restored.append_audit(later(5, 7)).await.unwrap();
        let now = sign_head(&restored, &key, 200).await;
        restored.put_checkpoint(now.clone()).await.unwrap();
        let local = [cp3.clone(), started.clone(), now.clone()];
        let anchors = [cp3.clone(), cp5.clone(), started.clone(), now.clone()];
        let report = verify(&restored, &key.verifying_key(), &local, &anchors).await.unwrap();
        assert!(report.intact(), "{:?}", report.problems);
        assert_eq!(report.losses.len(), 1, "{report:?}");
        let loss = &report.losses[0];
        assert_eq!((loss.restore_seq, loss.backup_seq, loss.lost()), (4, 3, (4, 5)));
        assert_eq!(loss.checkpoints, [(5, Timestamp(20))]);
        assert!(loss.to_string().contains("records 4 to 5 of the original trail"), "{loss}");
        assert_eq!(report.anchored.as_ref(), Some(&now));

        // Without the restore record, the same trail is tampering.
        let bare_dir = tempfile::tempdir().unwrap();
        let bare = trail(&bare_dir, 3).await;
        bare.put_checkpoint(cp3.clone()).await.unwrap();
        bare.append_audit(later(4, 7)).await.unwrap();
        let report = verify(&bare, &key.verifying_key(), &[], &[cp3.clone(), cp5.clone()]).await.unwrap();
        assert!(!report.intact() && report.losses.is_empty(), "{report:?}");
    }

    #[tokio::test]
    async fn a_forged_restore_record_hides_no_change_to_the_records_it_claims_to_keep() {
        let (key, _) = CheckpointKey::generate();
        let original_dir = tempfile::tempdir().unwrap();
        let original = trail(&original_dir, 5).await;
        let cp3 = {
            let r = original.audit_records(3, 1).await.unwrap().pop().unwrap();
            key.sign(3, &r.hash, Timestamp(10))
        };
        let cp5 = sign_head(&original, &key, 20).await;
        // Record 2 changed, the chain rebuilt, and a "restore" claiming a backup ending at 3.
        let dir = tempfile::tempdir().unwrap();
        let forged = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let mut records: Vec<NewAuditRecord> = (1..=3)
            .map(|i| {
                let mut r = NewAuditRecord::new(Timestamp(i), AuditAction::Login, Outcome::Success);
                r.actor = Some(format!("@u{i}:x"));
                r
            })
            .collect();
        records[1].actor = Some("@someone-else:x".into());
        forged.append_audit(records).await.unwrap();
        let (_, hash3) = forged.audit_head().await.unwrap();
        forged.append_audit(vec![restore_record(3, &hash3, 100)]).await.unwrap();
        forged.put_checkpoint(cp3.clone()).await.unwrap();
        let report = verify(&forged, &key.verifying_key(), std::slice::from_ref(&cp3), &[cp3.clone(), cp5.clone()])
            .await
            .unwrap();
        assert!(report.problems.iter().any(|p| p.message.contains("record 3 no longer matches")), "{report:?}");
        assert!(!report.intact(), "{report:?}");
        assert_eq!(report.first_disagreement(), Some(3), "{:?}", report.problems);

        // A restore record that does not follow the record it names, one naming another hash,
        // and one dated after a checkpoint that covers it: each is tampering.
        type Forge = fn(&str) -> NewAuditRecord;
        let cases: [(&str, Forge, Option<u64>); 3] = [
            ("moved", |h| restore_record(2, h, 100), None),
            ("other hash", |_| restore_record(3, &"e".repeat(64), 100), None),
            ("redated", |h| restore_record(3, h, 100), Some(50)),
        ];
        for (name, record, covered_at) in cases {
            let dir = tempfile::tempdir().unwrap();
            let store = trail(&dir, 3).await;
            let (_, hash3) = store.audit_head().await.unwrap();
            store.append_audit(vec![record(&hash3)]).await.unwrap();
            let mut anchors = vec![cp3.clone(), cp5.clone()];
            if let Some(ts) = covered_at {
                let cp = sign_head(&store, &key, ts).await;
                store.put_checkpoint(cp.clone()).await.unwrap();
                anchors.push(cp);
            }
            store.put_checkpoint(cp3.clone()).await.unwrap();
            let local: Vec<Checkpoint> = anchors.iter().filter(|c| c.seq != 5).cloned().collect();
            let report = verify(&store, &key.verifying_key(), &local, &anchors).await.unwrap();
            assert!(!report.intact() && report.losses.is_empty(), "{name}: {report:?}");
            assert_eq!(report.first_disagreement(), Some(4), "{name}: {:?}", report.problems);
        }
    }

    #[tokio::test]
    async fn a_record_that_cannot_be_read_is_tampering_at_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let store = trail(&dir, 5).await;
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch("UPDATE audit_log SET outcome = 'fine' WHERE seq = 3").unwrap();
        let (key, _) = CheckpointKey::generate();
        let report = verify(&store, &key.verifying_key(), &[], &[]).await.unwrap();
        assert_eq!(report.first_disagreement(), Some(3), "{:?}", report.problems);
        assert!(report.problems[0].message.contains("record 3 cannot be read"), "{:?}", report.problems);
        assert_eq!(report.records, 5);
    }
}

#[cfg(test)]
mod about_tests {
    use ruma::{owned_room_id, owned_user_id};
    use wardline_types::patient::{NhsNumber, PatientSummary};

    use super::*;

    #[test]
    fn the_header_names_each_patient_with_the_part_of_the_conversation_about_them() {
        let patient = |name: &str, nhs: Option<&str>| PatientSummary {
            id: "p".into(),
            name: name.into(),
            nhs_number: nhs.and_then(|n| NhsNumber::parse(n).ok()),
            ..PatientSummary::default()
        };
        let tie = |version, p, at, ended| wardline_store::PatientTie {
            room_id: owned_room_id!("!r:x"),
            version,
            patient: p,
            tied_by: owned_user_id!("@ann:x"),
            tied_at: Timestamp(at),
            ended,
        };
        let names: HashMap<String, String> = [("@ann:x".to_owned(), "Dr Ann".to_owned())].into();
        let text = about_lines(
            &[
                tie(
                    1,
                    patient("SMITH, John", Some("9434765919")),
                    0,
                    Some((owned_user_id!("@ann:x"), Timestamp(60_000))),
                ),
                tie(2, patient("JONES, Mary", None), 60_000, None),
            ],
            &names,
        );
        assert_eq!(
            text,
            "About: SMITH, John — NHS 943 476 5919 — from 1970-01-01T00:00:00.000Z (tied by Dr Ann (@ann:x)) \
             until 1970-01-01T00:01:00.000Z\n\
             About: JONES, Mary — from 1970-01-01T00:01:00.000Z (tied by Dr Ann (@ann:x)) until now\n"
        );
    }
}
