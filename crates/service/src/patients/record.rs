//! Reading what the EPR answers (FHIR R4 JSON) into what Wardline shows: a `Patient` into a
//! [`PatientSummary`], a current `Encounter` (with its `Location`s) into a ward and bed. Only the
//! elements named here are read; anything else in the resource is ignored, and an element of
//! the wrong shape counts as absent (a record is never refused for its extensions).

use serde_json::Value;
use wardline_types::patient::{NHS_NUMBER_SYSTEM, NhsNumber, PatientPlace, PatientSummary, PlaceSource};

/// The longest text taken from the record for one element (a name, a ward).
const MAX_TEXT: usize = 200;

/// Whether `id` is a FHIR resource id (`[A-Za-z0-9\-\.]{1,64}`): only such ids are put in a
/// URL path.
#[must_use]
pub fn is_fhir_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !id.bytes().all(|b| b == b'.')
}

/// Text from the record fit to show: without controls or the invisible characters that reorder
/// or hide text (so a name cannot be made to read as another), at most [`MAX_TEXT`] characters.
fn text(v: Option<&Value>) -> Option<String> {
    let t: String = v?.as_str()?.chars().filter(|c| !wardline_types::alarm::hidden(*c)).take(MAX_TEXT).collect();
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Whether the record is restricted: a `meta.security` confidentiality code `R` (restricted) or
/// `V` (very restricted).
fn restricted(p: &Value) -> bool {
    p.pointer("/meta/security").and_then(Value::as_array).is_some_and(|codes| {
        codes.iter().any(|c| {
            let system = c.get("system").and_then(Value::as_str);
            let code = c.get("code").and_then(Value::as_str);
            system.is_none_or(|s| s.ends_with("v3-Confidentiality") || s.ends_with("Confidentiality"))
                && matches!(code, Some("R" | "V"))
        })
    })
}

/// A `Patient` resource as a summary (without its place), or `None` if it is not a Patient
/// with a usable id.
#[must_use]
pub fn patient_summary(p: &Value, mrn_system: Option<&str>) -> Option<PatientSummary> {
    if p.get("resourceType").and_then(Value::as_str) != Some("Patient") {
        return None;
    }
    let id = p.get("id").and_then(Value::as_str).filter(|id| is_fhir_id(id))?.to_owned();
    let identifiers = p.get("identifier").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let value_in = |system: &str| {
        identifiers
            .iter()
            .filter(|i| i.get("system").and_then(Value::as_str) == Some(system))
            .filter_map(|i| text(i.get("value")))
            .collect::<Vec<_>>()
    };
    let nhs_number = value_in(NHS_NUMBER_SYSTEM).iter().find_map(|v| NhsNumber::parse(v).ok());
    let hospital_number = mrn_system.and_then(|s| value_in(s).into_iter().next());
    Some(PatientSummary {
        id,
        name: display_name(p).unwrap_or_else(|| "(no name in the record)".into()),
        birth_date: text(p.get("birthDate")),
        gender: text(p.get("gender")),
        nhs_number,
        hospital_number,
        place: None,
        encounter: None,
        restricted: restricted(p),
        deceased: p.get("deceasedBoolean").and_then(Value::as_bool).unwrap_or(false)
            || p.get("deceasedDateTime").and_then(Value::as_str).is_some_and(|t| !t.trim().is_empty()),
        inactive: p.get("active").and_then(Value::as_bool) == Some(false),
        merged: replaced_by(p).next().is_some(),
        merged_into: replaced_by(p).find_map(merged_id),
        place_unknown: false,
    })
}

/// The record's links of type `replaced-by` (it was merged into another).
fn replaced_by(p: &Value) -> impl Iterator<Item = &Value> {
    p.get("link")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|l| l.get("type").and_then(Value::as_str) == Some("replaced-by"))
}

/// The EPR id a `replaced-by` link names: `Patient/<id>`, with or without a base URL or a
/// `/_history/<version>` after it.
fn merged_id(link: &Value) -> Option<String> {
    let reference = link.pointer("/other/reference").and_then(Value::as_str)?;
    let (_, rest) = reference.rsplit_once("Patient/")?;
    let id = rest.split('/').next()?;
    is_fhir_id(id).then(|| id.to_owned())
}

/// "SMITH, John Paul": the official name (else the usual, else the first), family name in
/// capitals, then the given names; a name's `text` when it has no parts.
fn display_name(p: &Value) -> Option<String> {
    let names = p.get("name").and_then(Value::as_array)?;
    let by_use = |u: &str| names.iter().find(|n| n.get("use").and_then(Value::as_str) == Some(u));
    let name = by_use("official").or_else(|| by_use("usual")).or_else(|| names.first())?;
    let family = text(name.get("family")).map(|f| f.to_uppercase());
    let given: Vec<String> = name
        .get("given")
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(|x| text(Some(x))).collect())
        .unwrap_or_default();
    let given = (!given.is_empty()).then(|| given.join(" "));
    match (family, given) {
        (Some(f), Some(g)) => Some(format!("{f}, {g}")),
        (Some(f), None) => Some(f),
        (None, Some(g)) => Some(g),
        (None, None) => text(name.get("text")),
    }
}

/// The resources of a search set bundle whose `search.mode` is `match` (or unsaid), of `kind`.
pub fn matches<'a>(bundle: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    entries(bundle)
        .filter(move |e| e.pointer("/search/mode").and_then(Value::as_str).is_none_or(|m| m == "match"))
        .filter_map(move |e| e.get("resource").filter(|r| r.get("resourceType").and_then(Value::as_str) == Some(kind)))
}

fn entries(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle.get("entry").and_then(Value::as_array).into_iter().flatten()
}

/// Whether `encounter` is `patient_id`'s (its `subject` is `Patient/<id>`, absolute or not).
#[must_use]
pub fn is_encounter_of(encounter: &Value, patient_id: &str) -> bool {
    encounter
        .pointer("/subject/reference")
        .and_then(Value::as_str)
        .is_some_and(|r| r == format!("Patient/{patient_id}") || r.ends_with(&format!("/Patient/{patient_id}")))
}

/// The current encounter's id and place, from a search set of `Encounter`s with their
/// `Location`s included: the latest in-progress encounter of `patient_id` (an EPR that ignored
/// a search parameter may answer others': never taken); its active locations, a ward (physical
/// type `wa`) and a bed (`bd`, else a room `ro`), each by the Location's name or the reference's
/// display.
#[must_use]
pub fn encounter_place(bundle: &Value, patient_id: &str) -> Option<(String, Option<PatientPlace>)> {
    let encounter = matches(bundle, "Encounter")
        .filter(|e| e.get("id").and_then(Value::as_str).is_some_and(is_fhir_id))
        .filter(|e| is_encounter_of(e, patient_id))
        .filter(|e| e.get("status").and_then(Value::as_str) == Some("in-progress"))
        .max_by(|a, b| period_start(a).cmp(&period_start(b)))?;
    let id = encounter.get("id").and_then(Value::as_str)?.to_owned();
    let included: Vec<&Value> = entries(bundle)
        .filter_map(|e| e.get("resource"))
        .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Location"))
        .collect();
    let (mut ward, mut bed, mut first) = (None, None, None);
    for l in encounter.get("location").and_then(Value::as_array).into_iter().flatten() {
        let status = l.get("status").and_then(Value::as_str);
        if status.is_some_and(|s| s != "active") {
            continue;
        }
        let reference = l.pointer("/location/reference").and_then(Value::as_str);
        let resolved = reference.and_then(|r| {
            let id = r.rsplit('/').next()?;
            included.iter().find(|loc| loc.get("id").and_then(Value::as_str) == Some(id)).copied()
        });
        let name = resolved.and_then(|r| text(r.get("name"))).or_else(|| text(l.pointer("/location/display")));
        let Some(name) = name else { continue };
        let kind = physical_type(l.get("physicalType"))
            .or_else(|| resolved.and_then(|r| physical_type(r.get("physicalType"))));
        match kind.as_deref() {
            Some("wa") => ward = ward.or(Some(name)),
            Some("bd") => bed = Some(name),
            Some("ro") => bed = bed.or(Some(name)),
            _ => first = first.or(Some(name)),
        }
    }
    let ward = ward.or(first);
    let place = (ward.is_some() || bed.is_some()).then_some(PatientPlace { ward, bed, source: PlaceSource::Record });
    Some((id, place))
}

/// The ids of the `Location`s the bundle's encounters name by reference (`Location/<id>`) that
/// it does not include: what to read one by one from an EPR that refuses `_include`.
#[must_use]
pub fn locations_not_included(bundle: &Value) -> Vec<String> {
    let included: Vec<&str> = entries(bundle)
        .filter_map(|e| e.get("resource"))
        .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Location"))
        .filter_map(|r| r.get("id").and_then(Value::as_str))
        .collect();
    let mut ids: Vec<String> = Vec::new();
    for e in matches(bundle, "Encounter") {
        for l in e.get("location").and_then(Value::as_array).into_iter().flatten() {
            let reference = l.pointer("/location/reference").and_then(Value::as_str);
            let Some(id) = reference.and_then(|r| r.strip_prefix("Location/")).filter(|id| is_fhir_id(id)) else {
                continue;
            };
            if !included.contains(&id) && !ids.iter().any(|x| x == id) {
                ids.push(id.to_owned());
            }
        }
    }
    ids
}

fn period_start(e: &Value) -> Option<&str> {
    e.pointer("/period/start").and_then(Value::as_str)
}

fn physical_type(v: Option<&Value>) -> Option<String> {
    v?.get("coding")?.as_array()?.iter().find_map(|c| c.get("code").and_then(Value::as_str)).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_patient_reads_into_a_summary() {
        let p = json!({
            "resourceType": "Patient", "id": "p-1",
            "identifier": [
                {"system": NHS_NUMBER_SYSTEM, "value": "9434765918"},
                {"system": NHS_NUMBER_SYSTEM, "value": "943 476 5919"},
                {"system": "https://trust.example/mrn", "value": "H123"}
            ],
            "name": [{"use": "maiden", "family": "Old"}, {"use": "official", "family": "Smith", "given": ["John", "Paul"]}],
            "birthDate": "1970-01-31", "gender": "male",
            "extension": [{"url": "x", "valueString": "ignored"}]
        });
        let s = patient_summary(&p, Some("https://trust.example/mrn")).unwrap_or_else(|| panic!("no summary"));
        assert_eq!(s.id, "p-1");
        assert_eq!(s.name, "SMITH, John Paul");
        assert_eq!(s.nhs_number.map(|n| n.digits()), Some("9434765919".into()), "the first valid NHS number");
        assert_eq!(s.hospital_number.as_deref(), Some("H123"));
        assert_eq!(s.birth_date.as_deref(), Some("1970-01-31"));
        assert_eq!(patient_summary(&p, None).and_then(|s| s.hospital_number), None, "no MRN system: none read");
    }

    #[test]
    fn odd_records_are_read_as_far_as_they_go() {
        assert!(patient_summary(&json!({"resourceType": "Patient", "id": "../x"}), None).is_none());
        assert!(patient_summary(&json!({"resourceType": "Practitioner", "id": "a"}), None).is_none());
        let bare = patient_summary(&json!({"resourceType": "Patient", "id": "a", "name": "not a list"}), None);
        assert_eq!(bare.map(|s| s.name), Some("(no name in the record)".into()));
        let text_only =
            patient_summary(&json!({"resourceType": "Patient", "id": "a", "name": [{"text": "Baby Jones"}]}), None);
        assert_eq!(text_only.map(|s| s.name), Some("Baby Jones".into()));
    }

    #[test]
    fn a_dead_inactive_or_merged_record_says_so() {
        let base = json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Smith"}]});
        let plain = patient_summary(&base, None).unwrap_or_else(|| panic!("no summary"));
        assert!(!plain.deceased && !plain.inactive && !plain.merged && plain.merged_into.is_none());
        let with = |extra: Value| {
            let mut p = base.clone();
            if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
                p.extend(extra.clone());
            }
            patient_summary(&p, None).unwrap_or_else(|| panic!("no summary"))
        };
        assert!(with(json!({"deceasedBoolean": true})).deceased);
        assert!(!with(json!({"deceasedBoolean": false})).deceased);
        assert!(with(json!({"deceasedDateTime": "2026-11-30T04:10:00Z"})).deceased);
        assert!(with(json!({"active": false})).inactive);
        assert!(!with(json!({"active": true})).inactive);
        let merged = json!({"link": [
            {"type": "seealso", "other": {"reference": "Patient/p9"}},
            {"type": "replaced-by", "other": {"reference": "Patient/p2"}}
        ]});
        let m = with(merged);
        assert!(m.merged);
        assert_eq!(m.merged_into.as_deref(), Some("p2"));
        let versioned = json!({"link": [{"type": "replaced-by",
            "other": {"reference": "https://epr.example/fhir/Patient/p3/_history/4"}}]});
        assert_eq!(with(versioned).merged_into.as_deref(), Some("p3"), "a versioned, absolute reference");
        let odd = json!({"link": [{"type": "replaced-by", "other": {"reference": "Patient/../x"}}]});
        let odd = with(odd);
        assert!(odd.merged && odd.merged_into.is_none(), "merged, but an id that is no FHIR id is never followed");
        let by_identifier = json!({"link": [{"type": "replaced-by", "other": {"identifier": {"value": "H9"}}}]});
        let by_identifier = with(by_identifier);
        assert!(by_identifier.merged && by_identifier.merged_into.is_none(), "merged into a record named otherwise");
        let replaces = json!({"link": [{"type": "replaces", "other": {"reference": "Patient/p0"}}]});
        assert!(!with(replaces).merged, "this one replaced another: it is the one to use");
    }

    #[test]
    fn a_restricted_record_is_marked_and_hidden_characters_never_reach_the_screen() {
        let p = json!({"resourceType": "Patient", "id": "p9",
            "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]},
            "name": [{"family": "Doe\u{202e}eoR", "given": ["Jane"]}]});
        let s = patient_summary(&p, None).unwrap_or_else(|| panic!("no summary"));
        assert!(s.restricted);
        assert_eq!(s.name, "DOEEOR, Jane");
        let normal = json!({"resourceType": "Patient", "id": "p8", "meta": {"security": [{"code": "N"}]}});
        assert!(!patient_summary(&normal, None).is_some_and(|s| s.restricted));
        assert!(!is_fhir_id("..") && !is_fhir_id(".") && is_fhir_id("a.b"));
    }

    #[test]
    fn the_latest_encounter_gives_ward_and_bed() {
        let bundle = json!({"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "Encounter", "id": "old", "period": {"start": "2026-01-01"},
                "status": "in-progress", "subject": {"reference": "Patient/p1"},
                "location": [{"location": {"display": "Ward 1"}}]}, "search": {"mode": "match"}},
            {"resource": {"resourceType": "Encounter", "id": "other", "period": {"start": "2026-12-01"},
                "status": "in-progress", "subject": {"reference": "Patient/p2"},
                "location": [{"location": {"display": "Ward 9"}}]}, "search": {"mode": "match"}},
            {"resource": {"resourceType": "Encounter", "id": "done", "period": {"start": "2026-12-01"},
                "status": "finished", "subject": {"reference": "Patient/p1"},
                "location": [{"location": {"display": "Ward 9"}}]}, "search": {"mode": "match"}},
            {"resource": {"resourceType": "Encounter", "id": "e2", "period": {"start": "2026-11-30T10:00:00Z"},
                "status": "in-progress", "subject": {"reference": "https://epr.example/fhir/Patient/p1"},
                "location": [
                    {"location": {"reference": "Location/w7"}, "status": "active"},
                    {"location": {"reference": "Location/b12", "display": "Bed (display)"}, "status": "active"},
                    {"location": {"display": "Ward 3"}, "status": "completed"}
                ]}, "search": {"mode": "match"}},
            {"resource": {"resourceType": "Location", "id": "w7", "name": "Ward 7",
                "physicalType": {"coding": [{"code": "wa"}]}}, "search": {"mode": "include"}},
            {"resource": {"resourceType": "Location", "id": "b12", "name": "Bay 2 bed 12",
                "physicalType": {"coding": [{"code": "bd"}]}}, "search": {"mode": "include"}}
        ]});
        let (id, place) = encounter_place(&bundle, "p1").unwrap_or_else(|| panic!("no encounter"));
        assert_eq!(id, "e2", "the latest in progress of this patient: never another's, never a finished one");
        assert_eq!(
            place,
            Some(PatientPlace {
                ward: Some("Ward 7".into()),
                bed: Some("Bay 2 bed 12".into()),
                source: PlaceSource::Record
            })
        );
        assert!(encounter_place(&json!({"resourceType": "Bundle", "type": "searchset"}), "p1").is_none());
        assert!(encounter_place(&bundle, "p3").is_none(), "nobody else's encounter is ever taken");
        assert!(locations_not_included(&bundle).is_empty(), "both are included");
    }

    #[test]
    fn locations_an_encounter_names_but_the_bundle_lacks_are_listed_once() {
        let bundle = json!({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Encounter", "id": "e1", "location": [
                {"location": {"reference": "Location/w7"}},
                {"location": {"reference": "Location/b12"}},
                {"location": {"reference": "https://elsewhere/Location/x"}},
                {"location": {"reference": "Location/../../etc"}},
                {"location": {"display": "Ward 3"}}
            ]}},
            {"resource": {"resourceType": "Encounter", "id": "e2", "location": [{"location": {"reference": "Location/w7"}}]}},
            {"resource": {"resourceType": "Location", "id": "b12", "name": "Bed 12"}}
        ]});
        assert_eq!(locations_not_included(&bundle), vec!["w7".to_owned()]);
    }
}
