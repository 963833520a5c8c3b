//! Looking a patient up in the EPR: by NHS number, by hospital number, or by family name with
//! date of birth ([`PatientQuery`]), for a conversation the clinician is in or for a reason
//! they give. At most [`MAX_SHOWN`] patients are shown (and whether there were more, so a
//! clinician narrows the search rather than picks from a crowd), each with where they are now:
//! the bed the ADT feed last put them in, else the ward and bed of the EPR's current encounter.
//!
//! Every search is audited (`patient.lookup`): what was asked, what for, how many were found and
//! their EPR ids; or the EPR's failure.

use futures::future::join_all;
use ruma::OwnedRoomId;
use serde_json::{Value, json};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::patient::{
    NHS_NUMBER_SYSTEM, PatientPlace, PatientQuery, PatientSummary, PlaceSource, search_reason,
};

use super::epr::{EprClient, EprError};
use super::{PatientService, record};
use crate::audit::Actor;
use crate::ratelimit::LimitKind;
use crate::{ServiceError, ServiceResult};

/// The most patients one search shows.
pub const MAX_SHOWN: usize = 10;
/// The most in-progress encounters asked for per patient.
const ENCOUNTERS: &str = "5";
/// The most `Location`s read one by one for an encounter, from an EPR that refuses `_include`.
const MAX_LOCATION_READS: usize = 4;

/// What a search is for: a conversation the clinician is in, or the reason they give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchPurpose {
    /// For this conversation (the clinician must be joined to it).
    Room(OwnedRoomId),
    /// For this reason (checked: 1 to 200 visible characters).
    Reason(String),
}

impl SearchPurpose {
    /// The purpose these parts give: exactly one of a conversation's id or a reason.
    ///
    /// # Errors
    /// Neither or both, a room id that is not one, or a reason that is empty, too long or holds
    /// invisible characters.
    pub fn from_parts(room_id: Option<&str>, reason: Option<&str>) -> ServiceResult<Self> {
        let (room_id, reason) = (given(room_id), given(reason));
        match (room_id, reason) {
            (Some(room), None) => OwnedRoomId::try_from(room.trim())
                .map(Self::Room)
                .map_err(|_| ServiceError::invalid("room_id is not a conversation's id")),
            (None, Some(reason)) => {
                search_reason(reason).map(Self::Reason).map_err(|e| ServiceError::invalid(e.to_string()))
            }
            _ => Err(ServiceError::invalid(
                "say which conversation the search is for (room_id), or why you are looking the patient up (reason)",
            )),
        }
    }

    /// For the audit trail: the room id, or `reason: "…"` (quoted, so no reason can pass for
    /// another field of the record).
    fn describe(&self) -> String {
        match self {
            Self::Room(room) => room.to_string(),
            Self::Reason(reason) => format!("reason: {}", Value::from(reason.as_str())),
        }
    }
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientSearch {
    /// At most [`MAX_SHOWN`] patients, in the EPR's order.
    pub patients: Vec<PatientSummary>,
    /// Whether the EPR had more than these (the clinician should narrow the search).
    pub more: bool,
}

/// A part given and not blank.
fn given(part: Option<&str>) -> Option<&str> {
    part.filter(|p| !p.trim().is_empty())
}

/// The FHIR search parameters of `query`: `Patient?identifier=…`, or `family`, `birthdate` and
/// perhaps `given`; always `_count` one more than is shown, to learn whether there were more.
///
/// # Errors
/// A search by hospital number when no hospital number system is set up.
pub(super) fn search_params(
    query: &PatientQuery,
    mrn_system: Option<&str>,
) -> ServiceResult<Vec<(&'static str, String)>> {
    let mut params = match query {
        PatientQuery::NhsNumber(n) => vec![("identifier", format!("{NHS_NUMBER_SYSTEM}|{}", n.digits()))],
        PatientQuery::HospitalNumber(mrn) => {
            let system = mrn_system.ok_or_else(|| ServiceError::invalid("search by hospital number is not set up"))?;
            vec![("identifier", format!("{system}|{}", escape(mrn)))]
        }
        PatientQuery::NameAndBirthDate { family, given, birth_date } => {
            let mut p = vec![("family", escape(family)), ("birthdate", birth_date.clone())];
            if let Some(g) = given {
                p.push(("given", escape(g)));
            }
            p
        }
    };
    params.push(("_count", (MAX_SHOWN + 1).to_string()));
    Ok(params)
}

/// A search value with FHIR's special characters escaped (`\`, `,` which would mean "or", `|`
/// and `$`), so a name or number is searched for as written.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '|' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `p` answers `query`: the NHS number or hospital number asked, or the date of birth
/// asked (the name is the EPR's to match, as FHIR's string search does).
fn answers(p: &PatientSummary, query: &PatientQuery) -> bool {
    match query {
        PatientQuery::NhsNumber(n) => p.nhs_number.as_ref() == Some(n),
        PatientQuery::HospitalNumber(m) => p.hospital_number.as_deref() == Some(m.as_str()),
        PatientQuery::NameAndBirthDate { birth_date, .. } => p.birth_date.as_deref() == Some(birth_date.as_str()),
    }
}

impl PatientService {
    /// Looks patients up in the EPR for `purpose`, each with where they are now; audited.
    ///
    /// # Errors
    /// Too many searches ([`LimitKind::Search`]); a conversation the caller is not joined to
    /// (`403`, audited); search by hospital number not set up; no EPR, or the EPR failing
    /// ([`EprError`], audited); the audit trail cannot be written.
    pub async fn search(
        &self,
        actor: &Actor,
        query: &PatientQuery,
        purpose: &SearchPurpose,
    ) -> ServiceResult<PatientSearch> {
        self.limiter.check(LimitKind::Search, actor.user_id.as_str())?;
        let room = match purpose {
            SearchPurpose::Room(room) => {
                self.require_member(actor, room, "search").await?;
                Some(room.as_ref())
            }
            SearchPurpose::Reason(_) => None,
        };
        let params = search_params(query, self.mrn_system.as_deref())?;
        let epr = self.epr()?;
        let slot = self.audit.reserve()?;
        let mut r = self.entry(actor, AuditAction::PatientLookup, Outcome::Success, room);
        let asked = format!("query={}; for={}", query.describe(), purpose.describe());
        match self.find(epr, &params, query).await {
            Ok(found) => {
                let ids: Vec<&str> = found.patients.iter().map(|p| p.id.as_str()).collect();
                r.detail = Some(format!("{asked}; found={}; ids={}", ids.len(), ids.join(",")));
                slot.record(r);
                Ok(found)
            }
            Err(e) => {
                r.outcome = Outcome::Failure;
                r.detail = Some(format!("{asked}; error={e}"));
                slot.record(r);
                Err(e.into())
            }
        }
    }

    /// Runs the search and places each patient found. Only patients that answer the question
    /// are kept (an EPR that ignored a search parameter may answer others: they are never
    /// shown as the patient with this NHS number).
    async fn find(
        &self,
        epr: &EprClient,
        params: &[(&str, String)],
        query: &PatientQuery,
    ) -> Result<PatientSearch, EprError> {
        let bundle = epr.get("Patient", params).await?;
        if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            return Err(EprError::BadAnswer("a search answered with something other than a Bundle".into()));
        }
        let mrn_system = self.mrn_system.as_deref();
        let mut patients: Vec<PatientSummary> = record::matches(&bundle, "Patient")
            .filter_map(|p| record::patient_summary(p, mrn_system))
            .filter(|p| answers(p, query))
            .take(MAX_SHOWN + 1)
            .collect();
        let total = bundle.get("total").and_then(Value::as_u64).unwrap_or(0);
        let more = patients.len() > MAX_SHOWN || total > MAX_SHOWN as u64;
        patients.truncate(MAX_SHOWN);
        let places = join_all(patients.iter().map(|p| self.place_of(epr, p))).await;
        for (p, (place, encounter, unknown)) in patients.iter_mut().zip(places) {
            p.place = place;
            p.encounter = encounter;
            p.place_unknown = unknown;
        }
        Ok(PatientSearch { patients, more })
    }

    /// Where `patient` is now, their current encounter's id if the EPR said, and whether
    /// where they are could not be read: the ADT feed's bed first
    /// ([`PatientService::adt_place`]), else the EPR's current encounter. A failing encounter
    /// search leaves both unknown, and says so (the patient is still shown, never as "not
    /// admitted").
    pub(super) async fn place_of(
        &self,
        epr: &EprClient,
        patient: &PatientSummary,
    ) -> (Option<PatientPlace>, Option<String>, bool) {
        if patient.restricted {
            // A restricted record's place is never shown, wherever it would come from.
            return (None, None, false);
        }
        if let Some(Some(place)) = self.adt_place(patient).await {
            return (Some(place), None, false);
        }
        match self.current_encounter(epr, &patient.id).await {
            Ok(Some((encounter, place))) => (place, Some(encounter), false),
            Ok(None) => (None, None, false),
            Err(()) => (None, None, true),
        }
    }

    /// What the ADT feed says of `patient`'s place, when an ADT authority is set up and the
    /// patient has a hospital number: `None` if the feed does not know them (or cannot be
    /// read), `Some(None)` if it knows them out of a bed (discharged), else their ward and bed.
    pub(super) async fn adt_place(&self, patient: &PatientSummary) -> Option<Option<PatientPlace>> {
        let authority = self.adt_authority.as_deref()?;
        let mrn = patient.hospital_number.as_deref()?;
        let known = match self.store.patient(&format!("{authority}|{mrn}")).await {
            Ok(known) => known?,
            Err(e) => {
                tracing::warn!(error = %e, "the ADT record of a patient found in the EPR could not be read");
                return None;
            }
        };
        // The feed's record is this patient's only if nothing it says disagrees: a hospital
        // number reused or mapped wrongly never puts someone else's bed on them.
        if known.birth_date.is_some() && patient.birth_date.is_some() && known.birth_date != patient.birth_date {
            tracing::warn!("the ADT feed's patient with this hospital number has another date of birth: not used");
            return None;
        }
        if patient.restricted {
            return Some(None);
        }
        if known.discharged.is_some() {
            return Some(None);
        }
        let l = known.location;
        let Some(ward) = l.ward.filter(|w| !w.trim().is_empty()) else { return Some(None) };
        let bed = match (l.room, l.bed) {
            (Some(room), Some(bed)) => Some(format!("{room}, bed {bed}")),
            (None, Some(bed)) => Some(bed),
            (Some(room), None) => Some(room),
            (None, None) => None,
        };
        Some(Some(PatientPlace { ward: Some(ward), bed, source: PlaceSource::Adt }))
    }

    /// The EPR's current (in-progress) encounter of the patient: its id and place; `Err` if
    /// the EPR could not say. An EPR that refuses `_include` is asked again without it, and the
    /// Locations named are read one by one.
    async fn current_encounter(
        &self,
        epr: &EprClient,
        patient_id: &str,
    ) -> Result<Option<(String, Option<PatientPlace>)>, ()> {
        let mut params = vec![
            ("subject", format!("Patient/{patient_id}")),
            ("status", "in-progress".to_owned()),
            ("_include", "Encounter:location".to_owned()),
            ("_count", ENCOUNTERS.to_owned()),
        ];
        let bundle = match epr.get("Encounter", &params).await {
            Ok(bundle) => bundle,
            Err(EprError::Refused { status: 400, .. }) => {
                params.retain(|(k, _)| *k != "_include");
                let mut bundle = epr.get("Encounter", &params).await.map_err(log_encounter)?;
                self.include_locations(epr, &mut bundle).await;
                bundle
            }
            Err(e) => {
                log_encounter(e);
                return Err(());
            }
        };
        Ok(record::encounter_place(&bundle, patient_id))
    }

    /// Reads the Locations `bundle`'s encounters name but it lacks, and adds them to it.
    async fn include_locations(&self, epr: &EprClient, bundle: &mut Value) {
        let ids = record::locations_not_included(bundle);
        let reads = ids.iter().take(MAX_LOCATION_READS).map(|id| epr.read("Location", id));
        let read: Vec<Value> = join_all(reads).await.into_iter().filter_map(Result::ok).collect();
        if let Some(entries) = bundle.get_mut("entry").and_then(Value::as_array_mut) {
            entries.extend(read.into_iter().map(|r| json!({ "resource": r, "search": { "mode": "include" } })));
        }
    }
}

fn log_encounter(e: EprError) {
    tracing::warn!(error = %e.summary(), "the EPR's current encounter of a patient could not be read");
}

#[cfg(test)]
mod tests {
    use wardline_types::patient::NhsNumber;

    use super::*;

    fn nhs() -> PatientQuery {
        PatientQuery::NhsNumber(NhsNumber::parse("943 476 5919").unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn each_way_of_searching_makes_its_fhir_parameters() {
        let p = search_params(&nhs(), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p,
            vec![
                ("identifier", "https://fhir.nhs.uk/Id/nhs-number|9434765919".to_owned()),
                ("_count", "11".to_owned())
            ]
        );
        let mrn = PatientQuery::HospitalNumber("H1,2|x".into());
        let p = search_params(&mrn, Some("https://trust.example/Id/mrn")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p[0], ("identifier", "https://trust.example/Id/mrn|H1\\,2\\|x".to_owned()), "escaped as FHIR says");
        let by_name = PatientQuery::NameAndBirthDate {
            family: "O'Brien".into(),
            given: Some("Mary, Jane".into()),
            birth_date: "1970-01-31".into(),
        };
        let p = search_params(&by_name, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p,
            vec![
                ("family", "O'Brien".to_owned()),
                ("birthdate", "1970-01-31".to_owned()),
                ("given", "Mary\\, Jane".to_owned()),
                ("_count", "11".to_owned())
            ]
        );
        let no_given =
            PatientQuery::NameAndBirthDate { family: "Smith".into(), given: None, birth_date: "1970-01-31".into() };
        assert!(!search_params(&no_given, None).unwrap_or_default().iter().any(|(k, _)| *k == "given"));
    }

    #[test]
    fn only_patients_who_answer_the_question_are_kept() {
        let john = PatientSummary {
            id: "p1".into(),
            name: "SMITH, John".into(),
            birth_date: Some("1970-01-31".into()),
            nhs_number: NhsNumber::parse("9434765919").ok(),
            hospital_number: Some("H1".into()),
            ..PatientSummary::default()
        };
        assert!(answers(&john, &nhs()));
        let other_nhs = PatientQuery::NhsNumber(NhsNumber::parse("4010232137").unwrap_or_else(|e| panic!("{e}")));
        assert!(!answers(&john, &other_nhs), "an EPR that ignored the identifier answers anyone: never shown");
        assert!(answers(&john, &PatientQuery::HospitalNumber("H1".into())));
        assert!(!answers(&john, &PatientQuery::HospitalNumber("H2".into())));
        let born =
            |d: &str| PatientQuery::NameAndBirthDate { family: "Smith".into(), given: None, birth_date: d.into() };
        assert!(answers(&john, &born("1970-01-31")));
        assert!(!answers(&john, &born("1970-01-30")));
        let mut nobody = john.clone();
        nobody.nhs_number = None;
        assert!(!answers(&nobody, &nhs()));
    }

    #[test]
    fn search_by_hospital_number_needs_its_system() {
        let err = search_params(&PatientQuery::HospitalNumber("H1".into()), None);
        assert!(
            matches!(&err, Err(ServiceError::InvalidParam(m)) if m == "search by hospital number is not set up"),
            "{err:?}"
        );
    }

    #[test]
    fn a_search_is_for_one_conversation_or_one_reason() {
        assert_eq!(
            SearchPurpose::from_parts(Some("!ward7:x"), None).ok(),
            OwnedRoomId::try_from("!ward7:x").ok().map(SearchPurpose::Room)
        );
        assert_eq!(
            SearchPurpose::from_parts(None, Some(" ward round ")).ok(),
            Some(SearchPurpose::Reason("ward round".into()))
        );
        assert_eq!(
            SearchPurpose::from_parts(Some(""), Some("ward round")).ok(),
            Some(SearchPurpose::Reason("ward round".into()))
        );
        for (room, reason) in
            [(None, None), (Some("!ward7:x"), Some("why")), (Some("ward7"), None), (None, Some("a\u{200b}b"))]
        {
            assert!(
                matches!(SearchPurpose::from_parts(room, reason), Err(ServiceError::InvalidParam(_))),
                "{room:?} {reason:?}"
            );
        }
        let quoted = SearchPurpose::Reason("x\"; found=0".into()).describe();
        assert_eq!(quoted, "reason: \"x\\\"; found=0\"", "a reason cannot end the field it is in");
    }
}
