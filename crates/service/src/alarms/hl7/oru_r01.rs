//! Observation results (`ORU^R01^ORU_R01`, HL7 v2 chapter 7): a NEWS2 score, a potassium, an
//! AKI stage, read into the clinical alerts the rules want. Pure.
//!
//! `MSH {PID [PV1] {[ORC] OBR {OBX [NTE]}}}`: one or more patients, each with their orders
//! (`OBR`) and each order's observations (`OBX`). Each alert carries its own patient group's
//! patient, place and specialty, never another's. Only the observations a rule wants are read
//! closely (`wanted`: its code, `OBX-3.1`, and system, `OBX-3.3`): whatever else a result
//! carries (a long lab name, a value of a type Wardline does not read) is never a reason to
//! refuse the ones that matter. An observation with no value yet, or struck out (`OBX-11` `I`,
//! `D`, `W`, `X`), raises nothing.
//!
//! - **which alert**: the patient (`PID-3`), the order's filler number with its namespace
//!   (`OBR-3`), the observation's code, system and sub-id (`OBX-3`, `OBX-4`) and when it was
//!   observed (`OBX-14`, else `OBR-7`), hashed: a preliminary result and its final or corrected
//!   one are the same alert (brought up to date, never raised twice); a filler number reused for
//!   another patient or a later observation is a new one, and a resend renumbered by an
//!   interface engine is the same. Only with neither a filler number nor a patient and time, its
//!   place in the message (`<MSH-10>`, the `OBR`'s and the `OBX`'s positions);
//! - **ended**: an observation struck out (`OBX-11` `D`, `W`, `X`) ends the alert it raised, if
//!   it raised one ([`ResultReport::withdrawn`]); one of a code a rule names whose value no rule
//!   may want any more (corrected to 3) too (the caller also ends those no rule covers where the
//!   patient is);
//! - **the value**: `OBX-5` as written; an `SN` (`>^90`) as comparator then number (`>90`);
//! - **what**: `OBX-3.2` (else its code), with `OBX-6` units and `OBX-8` flags;
//! - **priority**: `OBX-8` `HH`/`LL`/`AA`/`>`/`<` high, `H`/`L`/`A` medium, else none;
//! - **when**: `OBX-14`, else `OBR-7`;
//! - **where and who**: the group's `PV1-3` and `PID` ([`super::fields`], cleaned and cut rather
//!   than refused: a result is never refused for its patient's details); its specialty `PV1-10`.
//!
//! Every observation a rule may want is returned: the caller keeps those a rule covers where the
//! patient is, at most [`MAX_ALERTS`] per patient, and raises one more alert for a patient past
//! that (never dropped without a word, never a flood, and every patient with a wanted result is
//! named).

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use wardline_types::Timestamp;
use wardline_types::alarm::{Location, MAX_TEXT_CHARS, SourcePriority};
use wardline_types::alert_topic::{MAX_OBSERVATION_PART, Observation};
use wardline_types::hl7::{ErrorCode, Hl7Error, Message, Segment, dtm};

use super::fields::{PidPatient, bed_lenient, clean_text, patient_lenient, present, specialty_at};

/// Most alerts one result raises for one patient.
pub const MAX_ALERTS: usize = 20;

/// One observation a rule wants.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultAlert {
    /// Its source id (`r01:…`).
    pub source_id: String,
    /// Its patient group (an index into [`ResultReport::groups`]).
    pub group: usize,
    /// What was measured and its value.
    pub observation: Observation,
    /// Its text, for people: "NEWS2 score 9 score (HH)".
    pub text: String,
    /// From its flags.
    pub priority: SourcePriority,
    /// When it was observed.
    pub occurred: Option<Timestamp>,
    /// Whether the sender marks it corrected (`OBX-11` `C`).
    pub corrected: bool,
    /// Its order's filler number with namespace (empty without one): what a patient's "more"
    /// alert is known by.
    pub order: String,
}

/// One patient of a result: their `PID` and `PV1`.
#[derive(Debug, Clone, Default)]
pub struct PatientGroup {
    /// The bed of `PV1-3`, if given.
    pub location: Option<Location>,
    /// The patient of `PID`, if given.
    pub patient: Option<PidPatient>,
    /// `PV1-10`: its code and name, if given.
    pub specialty: Option<(String, Option<String>)>,
}

/// A result: its patients and the observations rules want.
#[derive(Debug, Clone, Default)]
pub struct ResultReport {
    /// Its patient groups, in order.
    pub groups: Vec<PatientGroup>,
    /// The observations a rule may want, in the message's order.
    pub alerts: Vec<ResultAlert>,
    /// Alerts the result ends, if they were raised: their ids and why.
    pub withdrawn: Vec<(String, String)>,
}

/// A part kept: trimmed, cleaned, at most [`MAX_OBSERVATION_PART`] characters (cut, never
/// refused).
fn kept(value: String) -> Option<String> {
    present(value).map(|v| clean_text(&v, MAX_OBSERVATION_PART)).filter(|v| !v.is_empty())
}

/// A value kept: as [`kept`], but one too long to keep whole is marked cut (`…`), so that it
/// never reads as the number it starts with.
fn kept_value(value: String) -> Option<String> {
    let v = present(value)?;
    if v.chars().count() <= MAX_OBSERVATION_PART {
        return kept(v);
    }
    let cut: String = clean_text(&v, MAX_OBSERVATION_PART - 1);
    Some(format!("{cut}…"))
}

/// An id made of the hash of `parts`.
pub(super) fn hashed(parts: &str) -> String {
    hex::encode(Sha256::digest(parts.as_bytes()).get(..12).unwrap_or_default())
}

/// An id's part: itself when plain and short, else a hash of it.
fn id_part(raw: &str) -> String {
    let plain = raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if plain && !raw.is_empty() { raw.to_owned() } else { hashed(raw) }
}

fn observation(m: &Message<'_>, obx: &Segment<'_>) -> Option<Observation> {
    let code = kept(m.text(obx, 3, 1))?;
    let value = if m.text(obx, 2, 1).trim() == "SN" {
        // Comparator ^ number (^ separator ^ second number: a range or ratio, not read).
        let (cmp, n1, sep) = (m.text(obx, 5, 1), m.text(obx, 5, 2), m.text(obx, 5, 3));
        if sep.trim().is_empty() { format!("{}{}", cmp.trim(), n1.trim()) } else { m.text(obx, 5, 0) }
    } else {
        m.text(obx, 5, 1)
    };
    Some(Observation {
        code,
        system: kept(m.text(obx, 3, 3)),
        text: kept(m.text(obx, 3, 2)),
        value: kept_value(value)?,
        units: kept(m.text(obx, 6, 1)).or_else(|| kept(m.text(obx, 6, 2))),
    })
}

fn priority(flags: &[String]) -> SourcePriority {
    if flags.iter().any(|f| matches!(f.as_str(), "HH" | "LL" | "AA" | ">" | "<")) {
        SourcePriority::High
    } else if flags.iter().any(|f| matches!(f.as_str(), "H" | "L" | "A")) {
        SourcePriority::Medium
    } else {
        SourcePriority::None
    }
}

/// Why an observation's status (`OBX-11`) ends the alert it raised, if it does.
fn struck_out(status: &str) -> Option<&'static str> {
    match status {
        "W" => Some("withdrawn by the sender: the result was for the wrong patient"),
        "D" => Some("deleted by the sender"),
        "X" => Some("the sender says this result cannot be obtained"),
        _ => None,
    }
}

/// Reads an `ORU^R01`: the observations `may_fit` says a rule may want become alerts; those of
/// a code `named` says a rule names, struck out or no longer wanted, end theirs.
///
/// # Errors
/// A content error (`AE`/`CE`) at its place: no `OBR` (101); an `OBX` before its patient's
/// first `OBR` (100).
pub fn read(
    m: &Message<'_>,
    may_fit: impl Fn(&Observation) -> bool,
    named: impl Fn(&Observation) -> bool,
) -> Result<ResultReport, Hl7Error> {
    if m.segment("OBR").is_none() {
        return Err(Hl7Error::at(ErrorCode::RequiredFieldMissing, "OBR", 1, 0, 0, "a result needs its OBR segment"));
    }
    let control = id_part(m.msh().map(|h| m.text(h, 10, 0)).unwrap_or_default().trim());
    let mut report = ResultReport::default();
    // The current order (its position and segment), orders so far, and observations in the
    // current order so far.
    let (mut current, mut orders, mut in_order) = (None, 0usize, 0usize);
    let mut ids = HashSet::new();
    for seg in m.segments() {
        match seg.id {
            "PID" => {
                report.groups.push(PatientGroup { patient: patient_lenient(m, seg), ..PatientGroup::default() });
                current = None;
            }
            "PV1" => {
                if report.groups.is_empty() {
                    report.groups.push(PatientGroup::default());
                }
                if let Some(g) = report.groups.last_mut()
                    && g.location.is_none()
                {
                    g.location = bed_lenient(m, seg);
                    g.specialty = specialty_at(m, seg);
                }
            }
            "OBR" => {
                if report.groups.is_empty() {
                    report.groups.push(PatientGroup::default());
                }
                orders += 1;
                current = Some((orders, seg));
                in_order = 0;
            }
            "OBX" => {
                let Some((order, obr)) = current else {
                    return Err(Hl7Error::at(
                        ErrorCode::SegmentSequence,
                        "OBX",
                        seg.occurrence,
                        0,
                        0,
                        "an OBX comes after its patient's OBR",
                    ));
                };
                in_order += 1;
                let Some(code) = kept(m.text(seg, 3, 1)) else { continue };
                let group = report.groups.len().saturating_sub(1);
                let status = m.text(seg, 11, 1);
                let status = status.trim();
                let time = present(m.text(seg, 14, 1)).or_else(|| present(m.text(obr, 7, 1)));
                // The time as an instant when it reads as one (`202612011012` and
                // `20261201101200+0000` are one time), else as written.
                let instant = time.as_deref().and_then(dtm::parse);
                let time_key = instant.map(|t| t.0.to_string()).or_else(|| time.clone());
                let patient = report.groups.get(group).and_then(|g| g.patient.as_ref()).map(|p| p.key.clone());
                let filler = (m.text(obr, 3, 1).trim().to_owned(), m.text(obr, 3, 2).trim().to_owned());
                let system = kept(m.text(seg, 3, 3)).unwrap_or_default();
                let sub = m.text(seg, 4, 0).trim().to_owned();
                let mut source_id = if !filler.0.is_empty() || (patient.is_some() && time.is_some()) {
                    let parts = [
                        patient.unwrap_or_default(),
                        filler.0.clone(),
                        filler.1.clone(),
                        code.clone(),
                        system.to_ascii_uppercase(),
                        sub,
                        time_key.unwrap_or_default(),
                    ];
                    // Each part's length first: no two different lists hash alike.
                    let joined: String = parts.iter().map(|p| format!("{}:{p}", p.len())).collect();
                    format!("r01:{}", hashed(&joined))
                } else {
                    format!("r01:{control}:{order}.{in_order}")
                };
                if !ids.insert(source_id.clone()) {
                    // The same observation twice in one order (a history): each its own alert.
                    source_id = format!("{source_id}:{order}.{in_order}");
                    ids.insert(source_id.clone());
                }
                if let Some(why) = struck_out(status) {
                    // Whatever the rules say now: the alert may have been raised under others.
                    report.withdrawn.push((source_id, why.to_owned()));
                    continue;
                }
                if status == "I" {
                    continue;
                }
                let Some(o) = observation(m, seg) else { continue };
                if !may_fit(&o) {
                    if named(&o) {
                        let how = if status == "C" { "corrected to" } else { "now" };
                        let why = format!("{how} {}: no rule wants this value", o.value);
                        report.withdrawn.push((source_id, clean_text(&why, MAX_TEXT_CHARS)));
                    }
                    continue;
                }
                let flags: Vec<String> = m.repetitions(seg, 8).map(|r| m.decode(r).trim().to_owned()).collect();
                let what = o.text.clone().unwrap_or_else(|| o.code.clone());
                let units = o.units.as_ref().map(|u| format!(" {u}")).unwrap_or_default();
                let shown: Vec<&str> =
                    flags.iter().map(String::as_str).filter(|f| !f.is_empty() && *f != "N").collect();
                let flagged = if shown.is_empty() { String::new() } else { format!(" ({})", shown.join(", ")) };
                report.alerts.push(ResultAlert {
                    source_id,
                    group,
                    text: clean_text(&format!("{what} {}{units}{flagged}", o.value), MAX_TEXT_CHARS),
                    priority: priority(&flags),
                    occurred: instant,
                    corrected: status == "C",
                    order: format!("{}^{}", filler.0, filler.1),
                    observation: o,
                });
            }
            _ => {}
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Message<'_> {
        Message::parse(text).unwrap()
    }

    const HEAD: &str = "MSH|^~\\&|EPR|HOSP|WARDLINE|H|20261201101500||ORU^R01^ORU_R01|R1|P|2.6\r\
        PID|1||MRN1^^^HOSP^MR||Stone^Eve||19800314|F\r\
        PV1|1|I|Ward 7^3^12^Main|||||||REN^Renal medicine\r";

    fn news2(o: &Observation) -> bool {
        o.code == "NEWS2"
    }

    #[test]
    fn each_wanted_observation_is_its_own_alert_known_by_its_order_and_code() {
        let text = format!(
            "{HEAD}OBR|1||F1|OBS^Observations|||20261201101000\r\
             OBX|1|NM|NEWS2^NEWS2 score^L||9|score|0-4|HH|||F|||20261201101200\r\
             OBX|2|NM|HR^Heart rate^L||128|/min||H|||F\r\
             OBR|2||F2|OBS^Observations\r\
             OBX|1|NM|NEWS2^NEWS2 score^L||7|score||H|||F\r\
             OBR|3|||OBS^Observations\r\
             OBX|1|NM|NEWS2^NEWS2 score^L||8\r\
             OBX|2|NM|NEWS2^NEWS2 score^L||8\r"
        );
        let r = read(&parse(&text), news2, news2).unwrap();
        let ids: Vec<&str> = r.alerts.iter().map(|a| a.source_id.as_str()).collect();
        assert_eq!(ids.len(), 4, "the heart rate raises nothing");
        assert!(ids[0].starts_with("r01:") && ids[0].len() == 4 + 24 && ids[0] != ids[1], "{ids:?}");
        assert_eq!(&ids[2..], ["r01:R1:3.1", "r01:R1:3.2"], "no filler number and no time: by position");
        assert_eq!(r.alerts[0].text, "NEWS2 score 9 score (HH)");
        assert_eq!(r.alerts[0].priority, SourcePriority::High);
        assert_eq!(r.alerts[1].priority, SourcePriority::Medium);
        assert_eq!(r.alerts[0].observation.system.as_deref(), Some("L"));
        assert_eq!(r.alerts[0].occurred, dtm::parse("20261201101200"));
        assert_eq!(r.alerts[1].occurred, None);
        let g = &r.groups[0];
        assert_eq!(g.specialty, Some(("REN".into(), Some("Renal medicine".into()))));
        assert_eq!(g.location.as_ref().unwrap().bed.as_deref(), Some("12"));
        assert_eq!(g.patient.as_ref().unwrap().patient.id, "MRN1");
        // The same order again (its final result after a preliminary one): the same ids.
        let again = text.replace("|R1|P|", "|R9|P|");
        let ids2: Vec<String> =
            read(&parse(&again), news2, news2).unwrap().alerts.into_iter().map(|a| a.source_id).collect();
        assert_eq!(&ids2[..2], &ids[..2]);
        // The same filler number for another patient, or observed later: another alert.
        let other = text.replace("MRN1^^^HOSP", "MRN2^^^HOSP");
        let first_id = |t: &str| read(&parse(t), news2, news2).unwrap().alerts[0].source_id.clone();
        assert_ne!(first_id(&other), ids[0]);
        let later = text.replace("|||F|||20261201101200", "|||F|||20261201161200");
        assert_ne!(first_id(&later), ids[0]);
        // Another filler's namespace: another alert.
        let lab = text.replace("OBR|1||F1|", "OBR|1||F1^LAB2|");
        assert_ne!(first_id(&lab), ids[0]);
        // No filler number, but a patient and a time: the same alert however the message is
        // numbered.
        let timed = text.replace("OBR|3|||OBS^Observations", "OBR|3|||OBS^Observations|||20261201100000");
        let a = read(&parse(&timed), news2, news2).unwrap().alerts[2].source_id.clone();
        let b = read(&parse(&timed.replace("|R1|P|", "|R7|P|")), news2, news2).unwrap().alerts[2].source_id.clone();
        assert_eq!(a, b);
        assert!(!a.contains("R1"), "{a}");
    }

    #[test]
    fn each_patient_of_a_result_keeps_their_own_alerts() {
        let text = "MSH|^~\\&|EPR|HOSP|WARDLINE|H|20261201101500||ORU^R01^ORU_R01|R2|P|2.6\r\
            PID|1||A1^^^HOSP^MR||Ash^Ann\rPV1|1|I|Ward 7^3^1^Main\r\
            OBR|1||FA|OBS\rOBX|1|NM|NEWS2^NEWS2^L||3\r\
            PID|2||B2^^^HOSP^MR||Birch^Bo\rPV1|1|I|Ward 9^1^4^Main\r\
            OBR|1||FB|OBS\rOBX|1|NM|NEWS2^NEWS2^L||9\r";
        let r = read(&parse(text), |o| o.value == "9", |_| false).unwrap();
        assert_eq!(r.alerts.len(), 1);
        let g = &r.groups[r.alerts[0].group];
        assert_eq!(g.patient.as_ref().unwrap().patient.id, "B2", "never the first patient's");
        assert_eq!(g.location.as_ref().unwrap().ward.as_deref(), Some("Ward 9"));
        // An OBX of the second patient before their OBR: refused, never filed under the first.
        let bad = text.replace("PV1|1|I|Ward 9^1^4^Main\rOBR|1||FB|OBS\r", "PV1|1|I|Ward 9^1^4^Main\r");
        assert_eq!(read(&parse(&bad), news2, news2).unwrap_err().code, ErrorCode::SegmentSequence);
        let first = "MSH|^~\\&|EPR|HOSP|W|H|1||ORU^R01^ORU_R01|R3|P|2.6\rPID|1||A1\rOBX|1|NM|NEWS2||9\rOBR|1\r";
        assert_eq!(read(&parse(first), news2, news2).unwrap_err().code, ErrorCode::SegmentSequence);
    }

    #[test]
    fn what_no_rule_wants_is_never_a_reason_to_refuse_the_rest() {
        let long = "x".repeat(5_000);
        let text = format!(
            "{HEAD}OBR|1||F1|OBS\r\
             OBX|1|TX|COMMENT^{long}^L||{long}\r\
             OBX|2|ED|PDF^Report||^application^pdf^Base64^{long}\r\
             OBX|3|NM|NEWS2^NEWS2 score^L||8\r"
        );
        let r = read(&parse(&text), news2, news2).unwrap();
        assert_eq!(r.alerts.len(), 1);
        // A wanted one with long parts is cut, not refused; a long value never reads as the
        // number it starts with.
        let spaces = " ".repeat(70);
        let text = format!("{HEAD}OBR|1||F1|OBS\rOBX|1|NM|NEWS2^{long}^L||9{spaces}junk|{long}\r");
        let r = read(&parse(&text), news2, news2).unwrap();
        assert_eq!(r.alerts[0].observation.text.as_ref().map(|t| t.chars().count()), Some(MAX_OBSERVATION_PART));
        assert!(r.alerts[0].observation.value.ends_with('…'), "{:?}", r.alerts[0].observation.value);
        assert!(wardline_types::alert_topic::Reading::parse(&r.alerts[0].observation.value).is_none());
    }

    #[test]
    fn pending_and_struck_out_observations_raise_nothing_and_sn_values_keep_their_comparator() {
        let text = format!(
            "{HEAD}OBR|1||F1|OBS\r\
             OBX|1|NM|NEWS2^NEWS2 score^L||9||||||D\r\
             OBX|2|NM|NEWS2^NEWS2 score^L||9||||||X\r\
             OBX|3|NM|NEWS2^NEWS2 score^L||||||||I\r\
             OBX|4|NM|NEWS2^NEWS2 score^L||||||||F\r\
             OBX|5|SN|NEWS2^NEWS2 score^L|a|>^7\r\
             OBX|6|SN|NEWS2^NEWS2 score^L|b|^7^-^9\r"
        );
        let r = read(&parse(&text), news2, news2).unwrap();
        let values: Vec<&str> = r.alerts.iter().map(|a| a.observation.value.as_str()).collect();
        assert_eq!(values, [">7", "^7^-^9"], "a range is kept as written: no number to judge");
        let why: Vec<&str> = r.withdrawn.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(why, ["deleted by the sender", "the sender says this result cannot be obtained"]);
    }

    #[test]
    fn a_result_struck_out_or_corrected_below_the_threshold_ends_its_alert() {
        let raised = format!("{HEAD}OBR|1||F1|OBS\rOBX|1|NM|NEWS2^NEWS2 score^L||9||||||F|||20261201101200\r");
        let wants_7 = |o: &Observation| o.code == "NEWS2" && o.value.parse::<u32>().is_ok_and(|v| v >= 7);
        let id = read(&parse(&raised), wants_7, news2).unwrap().alerts[0].source_id.clone();
        let wrong_patient = raised.replace("||||||F|", "||||||W|");
        let r = read(&parse(&wrong_patient), wants_7, news2).unwrap();
        assert!(r.alerts.is_empty());
        assert_eq!(r.withdrawn, [(id.clone(), "withdrawn by the sender: the result was for the wrong patient".into())]);
        let corrected = raised.replace("||9||||||F|", "||3||||||C|");
        let r = read(&parse(&corrected), wants_7, news2).unwrap();
        assert_eq!(r.withdrawn, [(id.clone(), "corrected to 3: no rule wants this value".into())]);
        // A code no rule names ends nothing (it never raised anything).
        let r = read(&parse(&corrected.replace("NEWS2^", "HR^")), wants_7, news2).unwrap();
        assert!(r.withdrawn.is_empty() && r.alerts.is_empty());
    }

    #[test]
    fn a_patient_whose_details_cannot_be_shown_is_cleaned_never_refused() {
        let long = "Featherstonehaugh-Cholmondeley".repeat(3);
        let zw = '\u{200B}';
        let text = format!(
            "MSH|^~\\&|EPR|HOSP|WARDLINE|H|20261201101500||ORU^R01^ORU_R01|R5|P|2.6\r\
             PID|1||A1^^^HOSP^MR||{long}^Alexandra\rPV1|1|I|Ward{zw} 7^3^1^Main\r\
             OBR|1||FA|OBS\rOBX|1|NM|NEWS2^NEWS2^L||9\r"
        );
        let r = read(&parse(&text), news2, news2).unwrap();
        assert_eq!(r.alerts.len(), 1);
        let g = &r.groups[0];
        let name = g.patient.as_ref().and_then(|p| p.patient.name.clone()).unwrap_or_default();
        assert!(name.starts_with("Alexandra Feather") && name.chars().count() <= 64, "{name}");
        assert_eq!(g.location.as_ref().and_then(|l| l.ward.clone()).as_deref(), Some("Ward 7"), "as a rule names it");
        assert!(g.location.as_ref().is_some_and(|l| l.check().is_ok()));
    }

    #[test]
    fn every_wanted_observation_is_returned_for_the_caller_to_cap_and_a_long_control_id_is_hashed() {
        let mut text = format!("{HEAD}OBR|1|||OBS\r");
        for i in 0..MAX_ALERTS + 3 {
            text.push_str(&format!("OBX|{i}|NM|NEWS2^NEWS2^L||9\r"));
        }
        let r = read(&parse(&text), news2, news2).unwrap();
        assert_eq!(r.alerts.len(), MAX_ALERTS + 3);
        let ids: HashSet<&str> = r.alerts.iter().map(|a| a.source_id.as_str()).collect();
        assert_eq!(ids.len(), MAX_ALERTS + 3, "each its own id");
        // An observation time written to the minute or to the second with its zone is one time.
        let to_minute = format!("{HEAD}OBR|1||F1|OBS|||202612011012\rOBX|1|NM|NEWS2^NEWS2^L||9\r");
        let to_second = format!("{HEAD}OBR|1||F1|OBS|||20261201101200+0000\rOBX|1|NM|NEWS2^NEWS2^L||9\r");
        let id = |t: &str| read(&parse(t), news2, news2).unwrap().alerts[0].source_id.clone();
        assert_eq!(id(&to_minute), id(&to_second));
        let odd = HEAD.replace("|R1|", "|R 1/é|");
        let text = format!("{odd}OBR|1|||OBS\rOBX|1|NM|NEWS2^NEWS2^L||9\r");
        let r = read(&parse(&text), news2, news2).unwrap();
        let id = &r.alerts[0].source_id;
        assert!(id.starts_with("r01:") && id.ends_with(":1.1") && id.len() == "r01::1.1".len() + 24, "{id}");
        assert!(read(&parse(HEAD), news2, news2).is_err(), "no OBR");
    }
}
