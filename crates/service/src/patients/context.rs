//! Conversations about a patient: tying one to a patient from the EPR (or to another), untying
//! it, its banner (whom it is about, where they are, and the link to their record), and the
//! conversations about a patient that the clinician is in.
//!
//! Only those joined to the conversation may do or see any of it ([`super::may_see_patient`]).
//! A tie or untie is told to the conversation by the server's notice, which says who did it and
//! never whom it is about: identifiers and names stay behind the membership check, in the store.

use futures::future::join_all;
use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use std::sync::Arc;

use wardline_store::{PatientTie, Store};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::patient::PatientSummary;
use wardline_types::{Timestamp, kinds};

use super::epr::EprError;
use super::{PatientService, may_see_patient, record};
use crate::audit::{Actor, AuditService};
use crate::ratelimit::LimitKind;
use crate::rooms::RoomService;
use crate::{ServiceError, ServiceResult};

/// The most conversations about one patient read.
const MAX_ROOMS_ABOUT: usize = 200;
/// Where the server's notice of a change says what changed.
pub use wardline_types::patient::PATIENT_CONTEXT as NOTICE_FIELD;

/// A conversation's patient, as its banner shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomPatient {
    /// The tie: the patient as the EPR described them when tied (the place brought up to date
    /// from the ADT feed when it knows them), its version, who tied it and when.
    pub tie: PatientTie,
    /// "Open in the EPR", if configured.
    pub launch_url: Option<String>,
}

/// A conversation about a patient that the caller is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomAbout {
    /// The conversation.
    pub room_id: OwnedRoomId,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// When it was tied to the patient.
    pub tied_at: Timestamp,
    /// Who tied it.
    pub tied_by: OwnedUserId,
}

/// What a change to a conversation's patient was, for its notice and the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Tied,
    Changed,
    Removed,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tied => "tied",
            Self::Changed => "changed",
            Self::Removed => "removed",
        }
    }
}

/// The server's notice of a change by `name`: who did it, never whom it is about.
fn notice(name: &str, change: Change, version: u64) -> Value {
    let body = match change {
        Change::Tied => format!("{name} tied this conversation to a patient. Its members see who in Wardline."),
        Change::Changed => {
            format!("{name} tied this conversation to another patient. Its members see who in Wardline.")
        }
        Change::Removed => {
            format!("{name} removed the patient from this conversation: it is no longer about a patient.")
        }
    };
    json!({
        "msgtype": "m.notice",
        "body": body,
        NOTICE_FIELD: { "action": change.as_str(), "version": version },
    })
}

impl PatientService {
    /// Ties `room` to the EPR's patient `patient_id` (replacing any patient it was about), with
    /// `encounter` as their current encounter if given (else the EPR's in-progress one). The
    /// patient is read from the EPR (audited as a lookup for the conversation), placed as a
    /// search places them, stored, and the conversation told by the server's notice. Tying the
    /// patient it is already about (with no other encounter) changes nothing.
    ///
    /// # Errors
    /// Not joined (`403`, audited); an id that is not a FHIR id; no EPR, or the EPR failing or
    /// knowing no such patient (audited); the audit trail cannot be written.
    pub async fn tie(
        &self,
        actor: &Actor,
        room: &RoomId,
        patient_id: &str,
        encounter: Option<&str>,
    ) -> ServiceResult<RoomPatient> {
        // A tie reads a patient's record: as limited as a search.
        self.limiter.check(LimitKind::Search, actor.user_id.as_str())?;
        self.require_changer(actor, room, "tie").await?;
        if !record::is_fhir_id(patient_id) {
            return Err(ServiceError::invalid("patient must be the EPR's id of the patient"));
        }
        if encounter.is_some_and(|e| !record::is_fhir_id(e)) {
            return Err(ServiceError::invalid("encounter must be the EPR's id of the encounter"));
        }
        let epr = self.epr()?;
        let before = self.store.room_patient(room).await?;
        if let Some(current) = &before
            && current.patient.id == patient_id
            && encounter.is_none_or(|e| current.patient.encounter.as_deref() == Some(e))
        {
            // A repeated request (a retry): the conversation is about this patient already.
            return self.show(actor, current.clone(), "tie").await;
        }

        let slot = self.audit.reserve()?;
        let mut lookup = self.entry(actor, AuditAction::PatientLookup, Outcome::Success, Some(room));
        let asked = format!("query=patient patient={patient_id}; for={room}");
        let read = match epr.read("Patient", patient_id).await {
            Ok(p) => record::patient_summary(&p, self.mrn_system.as_deref())
                .ok_or_else(|| EprError::BadAnswer("the patient's record has no usable id".into())),
            Err(e) => Err(e),
        };
        let read = read.and_then(|p| {
            if p.id == patient_id {
                Ok(p)
            } else {
                Err(EprError::BadAnswer("the record read is not the patient asked for".into()))
            }
        });
        let mut patient = match read {
            Ok(p) => {
                lookup.detail = Some(format!("{asked}; found=1; ids={}; restricted={}", p.id, p.restricted));
                slot.record(lookup);
                p
            }
            Err(e) => {
                lookup.outcome = Outcome::Failure;
                lookup.detail = Some(format!("{asked}; error={e}"));
                slot.record(lookup);
                return Err(match e {
                    EprError::Refused { status: 404 | 410, .. } => {
                        ServiceError::not_found("the patient record has no patient with this id")
                    }
                    e => e.into(),
                });
            }
        };
        if patient.merged {
            // A merged record is not the one to write to: the clinician finds the one it became.
            let into = patient.merged_into.as_ref().map(|id| format!(" ({id})")).unwrap_or_default();
            return Err(ServiceError::invalid(format!(
                "this patient's record was merged into another record{into}: find the patient again and tie the \
                 conversation to that one"
            )));
        }
        // (Whether the place could be read is said by a search, not kept with the tie: a
        // failure then would say "could not be read" for as long as the tie lasts.)
        let (place, current_encounter, _) = self.place_of(epr, &patient).await;
        patient.place = place;
        patient.encounter = match encounter {
            // An encounter named by the client must be this patient's: read and checked.
            Some(e) => Some(self.checked_encounter(epr, &patient, e).await?),
            None => current_encounter,
        };
        // Still allowed now that the EPR has answered (they may have left meanwhile).
        self.require_changer(actor, room, "tie").await?;
        let commit = self.commit(actor, room);
        // The write, its audit record and the notice go together even if the request is
        // dropped (the clinician's connection closed): a change is never stored untold.
        let tie = tokio::spawn(commit.tie(patient))
            .await
            .map_err(|e| ServiceError::Internal(format!("tying a patient stopped: {e}")))??;
        let launch_url = self.launch_url(&tie.patient);
        Ok(RoomPatient { tie, launch_url })
    }

    /// A change to `room`'s patient by `actor`, now.
    fn commit(&self, actor: &Actor, room: &RoomId) -> Commit {
        Commit {
            store: Arc::clone(&self.store),
            audit: self.audit.clone(),
            rooms: Arc::clone(&self.rooms),
            actor: actor.clone(),
            room: room.to_owned(),
            now: self.clock.now(),
        }
    }

    /// The encounter `id`, read from the EPR and checked to be `patient`'s.
    async fn checked_encounter(
        &self,
        epr: &super::EprClient,
        patient: &PatientSummary,
        id: &str,
    ) -> ServiceResult<String> {
        let found = match epr.read("Encounter", id).await {
            Ok(e) => e,
            Err(EprError::Refused { status: 404 | 410, .. }) => {
                return Err(ServiceError::not_found("the patient record has no encounter with this id"));
            }
            Err(e) => return Err(e.into()),
        };
        if found.get("resourceType").and_then(Value::as_str) != Some("Encounter")
            || !record::is_encounter_of(&found, &patient.id)
        {
            return Err(ServiceError::invalid("this encounter is not this patient's"));
        }
        Ok(id.to_owned())
    }

    /// Unties `room` from its patient; the conversation is told by the server's notice.
    ///
    /// # Errors
    /// Not joined (`403`, audited); not about a patient (`404`); the audit trail cannot be
    /// written.
    pub async fn untie(&self, actor: &Actor, room: &RoomId) -> ServiceResult<()> {
        self.require_changer(actor, room, "untie").await?;
        let commit = self.commit(actor, room);
        tokio::spawn(commit.untie())
            .await
            .map_err(|e| ServiceError::Internal(format!("untying a patient stopped: {e}")))?
    }

    /// Whom `room` is about now (its banner), with their place brought up to date from the ADT
    /// feed; audited.
    ///
    /// # Errors
    /// Not joined (`403`, audited); no EPR configured ([`EprError::NotConfigured`]); not about
    /// a patient (`404`); the audit trail cannot be written.
    pub async fn room_patient(&self, actor: &Actor, room: &RoomId) -> ServiceResult<RoomPatient> {
        self.require_member(actor, room, "banner").await?;
        // Without an EPR there are no patient features: said at once, so a client hides them.
        self.epr()?;
        let Some(tie) = self.store.room_patient(room).await? else {
            return Err(not_about_a_patient());
        };
        self.show(actor, tie, "banner").await
    }

    /// The conversations about the EPR's patient `patient_id` that the caller is joined to,
    /// newest tie first; audited.
    ///
    /// # Errors
    /// An id that is not a FHIR id; the audit trail cannot be written.
    pub async fn rooms_about(&self, actor: &Actor, patient_id: &str) -> ServiceResult<Vec<RoomAbout>> {
        if !record::is_fhir_id(patient_id) {
            return Err(ServiceError::invalid("the patient must be the EPR's id of the patient"));
        }
        let slot = self.audit.reserve()?;
        let ties = self.store.rooms_about_patient(patient_id, MAX_ROOMS_ABOUT).await?;
        let (user, rooms): (&UserId, &RoomService) = (&actor.user_id, &self.rooms);
        // For each conversation: whether the caller may see it, and then its name.
        let seen = join_all(ties.iter().map(|t| {
            rooms.with_state(&t.room_id, |s| {
                may_see_patient(s, user).then(|| s.content_str(kinds::NAME, "name").map(str::to_owned))
            })
        }))
        .await;
        let mut found = Vec::new();
        for (t, seen) in ties.into_iter().zip(seen) {
            if let Some(name) = seen? {
                found.push(RoomAbout { room_id: t.room_id, name, tied_at: t.tied_at, tied_by: t.tied_by });
            }
        }
        let mut r = self.entry(actor, AuditAction::PatientRead, Outcome::Success, None);
        r.detail = Some(format!("read patient={patient_id} via=conversations found={}", found.len()));
        slot.record(r);
        Ok(found)
    }

    /// A tie as shown to a member (`via` says where: the banner, a repeated tie), with the place
    /// brought up to date from the ADT feed and what the record says of itself as the EPR last
    /// said (asked again in the background when due: [`super::standing`]); audited.
    async fn show(&self, actor: &Actor, mut tie: PatientTie, via: &str) -> ServiceResult<RoomPatient> {
        let slot = self.audit.reserve()?;
        let adt = self.adt_place(&tie.patient).await;
        refresh_place(&mut tie.patient, adt);
        let (known, due) = self.standing.lookup(&tie.patient.id, self.clock.now());
        if let Some(s) = known {
            s.apply(&mut tie.patient);
        } else if tie.patient.restricted {
            tie.patient.place = None;
        }
        if due && let Some(epr) = &self.epr {
            self.standing.refresh(Arc::clone(epr), tie.patient.id.clone());
        }
        let mut r = self.entry(actor, AuditAction::PatientRead, Outcome::Success, Some(&tie.room_id));
        r.detail = Some(format!("read patient={} via={via}", tie.patient.id));
        slot.record(r);
        let launch_url = self.launch_url(&tie.patient);
        Ok(RoomPatient { tie, launch_url })
    }
}

/// A change to a conversation's patient, made apart from the request that asked for it: its
/// write, its audit record (its place taken first) and the server's notice go together.
struct Commit {
    store: Arc<dyn Store>,
    audit: AuditService,
    rooms: Arc<RoomService>,
    actor: Actor,
    room: OwnedRoomId,
    now: Timestamp,
}

impl Commit {
    /// Ties the conversation to `patient`. What it replaced is what the store ended in the same
    /// write (the tie before it, ended now by this caller), so two ties at once are each told
    /// as what they did.
    async fn tie(self, patient: PatientSummary) -> ServiceResult<PatientTie> {
        let slot = self.audit.reserve()?;
        let tie = self.store.tie_patient(&self.room, &patient, &self.actor.user_id, self.now).await?;
        let replaced = if tie.version > 1 {
            self.store
                .room_patient_history(&self.room)
                .await?
                .into_iter()
                .find(|t| t.version == tie.version - 1 && t.ended.as_ref().is_some_and(|(_, at)| *at == self.now))
        } else {
            None
        };
        let (change, detail) = match &replaced {
            Some(old) => {
                (Change::Changed, format!("changed from={} to={} version={}", old.patient.id, patient.id, tie.version))
            }
            None => (Change::Tied, format!("tied patient={} version={}", patient.id, tie.version)),
        };
        let mut r = self.audit.entry(Some(&self.actor), AuditAction::PatientContext, Outcome::Success);
        r.room_id = Some(self.room.to_string());
        r.detail = Some(format!("{detail} restricted={}", patient.restricted));
        slot.record(r);
        self.tell(change, tie.version).await;
        Ok(tie)
    }

    /// Unties the conversation from its patient.
    async fn untie(self) -> ServiceResult<()> {
        let slot = self.audit.reserve()?;
        let Some(ended) = self.store.untie_patient(&self.room, &self.actor.user_id, self.now).await? else {
            return Err(not_about_a_patient());
        };
        let mut r = self.audit.entry(Some(&self.actor), AuditAction::PatientContext, Outcome::Success);
        r.room_id = Some(self.room.to_string());
        r.detail = Some(format!("untied patient={} version={}", ended.patient.id, ended.version));
        slot.record(r);
        self.tell(Change::Removed, ended.version).await;
        Ok(())
    }

    /// Posts the server's notice of `change` in `room`, once per change (its transaction id is
    /// the conversation, the tie's version and, for an untie, `removed`). The change is stored
    /// and audited whether or not the notice could be posted; a failure is logged.
    async fn tell(&self, change: Change, version: u64) {
        let name = match self.store.account(&self.actor.user_id).await {
            Ok(account) => account.and_then(|a| a.display_name),
            Err(_) => None,
        };
        let name = name.unwrap_or_else(|| self.actor.user_id.localpart().to_owned());
        let room = &self.room;
        let txn = match change {
            Change::Removed => format!("patient-context:{room}:{version}:removed"),
            Change::Tied | Change::Changed => format!("patient-context:{room}:{version}"),
        };
        let content = notice(&name, change, version);
        if let Err(e) = self.rooms.post_server_notice(room, &self.actor.user_id, &txn, content).await {
            tracing::warn!(room = %room, error = %e, "the notice of a change to a conversation's patient could not be posted");
        }
    }
}

/// What a tie shows of the patient's place: the ADT feed's, when it knows the patient (`None`
/// when it knows them discharged); else the place as it was when tied.
fn refresh_place(patient: &mut PatientSummary, adt: Option<Option<wardline_types::patient::PatientPlace>>) {
    if let Some(place) = adt {
        patient.place = place;
    }
}

fn not_about_a_patient() -> ServiceError {
    ServiceError::not_found("this conversation is not about a patient")
}

#[cfg(test)]
mod tests {
    use wardline_types::patient::{PatientPlace, PlaceSource};

    use super::*;

    #[test]
    fn the_notice_names_who_and_never_whom() {
        let n = notice("Dr Ann", Change::Tied, 1);
        assert_eq!(n["msgtype"], "m.notice");
        assert_eq!(n["body"], "Dr Ann tied this conversation to a patient. Its members see who in Wardline.");
        assert_eq!(n[NOTICE_FIELD], json!({"action": "tied", "version": 1}));
        assert_eq!(n.as_object().map(|o| o.len()), Some(3), "nothing else: {n}");
        assert_eq!(notice("Bob", Change::Changed, 2)[NOTICE_FIELD]["action"], "changed");
        assert_eq!(notice("Bob", Change::Removed, 2)[NOTICE_FIELD], json!({"action": "removed", "version": 2}));
    }

    #[test]
    fn the_adt_feed_brings_the_place_up_to_date_when_it_knows_the_patient() {
        let record = PatientPlace { ward: Some("Ward 3".into()), bed: None, source: PlaceSource::Record };
        let adt =
            PatientPlace { ward: Some("Ward 7".into()), bed: Some("Bay 2, bed 12".into()), source: PlaceSource::Adt };
        let mut p = PatientSummary {
            id: "p1".into(),
            name: "SMITH, John".into(),
            place: Some(record.clone()),
            ..PatientSummary::default()
        };
        refresh_place(&mut p, None);
        assert_eq!(p.place, Some(record), "the feed does not know them: as tied");
        refresh_place(&mut p, Some(Some(adt.clone())));
        assert_eq!(p.place, Some(adt), "the feed's bed");
        refresh_place(&mut p, Some(None));
        assert_eq!(p.place, None, "discharged");
    }
}
