//! Observation results (`ORU^R01^ORU_R01`, HL7 v2 chapter 7): a NEWS2 score, a potassium, an
//! AKI stage, read into the clinical alerts the rules want. Pure.
//!
//! `MSH PID [PV1] {[ORC] OBR {OBX [NTE]}}`: any number of orders (`OBR`), each with its
//! observations (`OBX`). Only the observations a rule wants are read (its code, `OBX-3.1`, and
//! system, `OBX-3.3`): whatever else a result carries (a long lab name, a value of a type
//! Wardline does not read) is never a reason to refuse the ones that matter. Each wanted
//! observation is known by its place (`<MSH-10>`, the `OBR`'s and the `OBX`'s positions), so
//! two orders with the same `OBX-1` never collide. An observation struck out (`OBX-11` `D`, `W`
//! or `X`) raises nothing.
//!
//! - **the value**: `OBX-5` as written; an `SN` (`>^90`) as comparator then number (`>90`);
//! - **what**: `OBX-3.2` (else its code), with `OBX-6` units and `OBX-8` flags;
//! - **priority**: `OBX-8` `HH`/`LL`/`AA`/`>`/`<` high, `H`/`L`/`A` medium, else none;
//! - **when**: `OBX-14`, else `OBR-7`;
//! - **where and who**: `PV1-3`, `PID` ([`super::fields`]); the specialty `PV1-10` (hospital
//!   service: its text, else its code).

use sha2::{Digest, Sha256};
use wardline_types::Timestamp;
use wardline_types::alarm::{MAX_TEXT_CHARS, SourcePriority};
use wardline_types::alert_topic::{MAX_OBSERVATION_PART, Observation};
use wardline_types::hl7::{ErrorCode, Hl7Error, Message, Segment, dtm};

use super::fields::{PidPatient, bed, clean_text, patient, present};

/// Most alerts one result may raise: more is refused (`AE` 207), for a person to look at,
/// rather than flooding the wards or holding back the alarms behind it.
pub const MAX_ALERTS: usize = 20;

/// One observation a rule wants.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultAlert {
    /// Its source id: `r01:<control id>:<OBR position>.<OBX position>`.
    pub source_id: String,
    /// What was measured and its value.
    pub observation: Observation,
    /// Its text, for people: "NEWS2 score 9 (HH)".
    pub text: String,
    /// From its flags.
    pub priority: SourcePriority,
    /// When it was observed.
    pub occurred: Option<Timestamp>,
}

/// A result: its patient, place and specialty, and the observations rules want.
#[derive(Debug, Clone)]
pub struct ResultReport {
    /// The bed of `PV1-3`, if given.
    pub location: Option<wardline_types::alarm::Location>,
    /// The patient of `PID`, if given.
    pub patient: Option<PidPatient>,
    /// `PV1-10`, if given.
    pub specialty: Option<String>,
    /// The wanted observations, in the message's order.
    pub alerts: Vec<ResultAlert>,
}

/// A part kept: trimmed, cleaned, at most [`MAX_OBSERVATION_PART`] characters (cut, never
/// refused).
fn kept(value: String) -> Option<String> {
    present(value).map(|v| clean_text(&v, MAX_OBSERVATION_PART)).filter(|v| !v.is_empty())
}

/// The control id as a source id's part: itself when plain and short, else a hash of it.
fn control_part(control: &str) -> String {
    let plain = control.len() <= 64 && control.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if plain && !control.is_empty() {
        control.to_owned()
    } else {
        hex::encode(Sha256::digest(control.as_bytes()).get(..12).unwrap_or_default())
    }
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
        value: kept(value).unwrap_or_default(),
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

/// Reads an `ORU^R01`, keeping the observations `wanted` says a rule wants.
///
/// # Errors
/// A content error (`AE`/`CE`) at its place: no `OBR` (101); a patient or place Wardline cannot
/// show (102); more than [`MAX_ALERTS`] wanted observations (207).
pub fn read(m: &Message<'_>, wanted: impl Fn(&Observation) -> bool) -> Result<ResultReport, Hl7Error> {
    if m.segment("OBR").is_none() {
        return Err(Hl7Error::at(ErrorCode::RequiredFieldMissing, "OBR", 1, 0, 0, "a result needs its OBR segment"));
    }
    let control = control_part(m.msh().map(|h| m.text(h, 10, 0)).unwrap_or_default().trim());
    let (mut obr, mut at_obr, mut in_obr) = (0usize, None::<&Segment<'_>>, 0usize);
    let mut alerts = Vec::new();
    for seg in m.segments() {
        match seg.id {
            "OBR" => {
                obr += 1;
                at_obr = Some(seg);
                in_obr = 0;
            }
            "OBX" if obr > 0 => {
                in_obr += 1;
                if matches!(m.text(seg, 11, 1).trim(), "D" | "W" | "X") {
                    continue;
                }
                let Some(o) = observation(m, seg) else { continue };
                if !wanted(&o) {
                    continue;
                }
                if alerts.len() == MAX_ALERTS {
                    return Err(Hl7Error::at(
                        ErrorCode::ApplicationError,
                        "OBX",
                        seg.occurrence,
                        3,
                        0,
                        format!("a result may raise at most {MAX_ALERTS} alerts: send fewer observations at once"),
                    ));
                }
                let flags: Vec<String> = m.repetitions(seg, 8).map(|r| m.decode(r).trim().to_owned()).collect();
                let what = o.text.clone().unwrap_or_else(|| o.code.clone());
                let units = o.units.as_ref().map(|u| format!(" {u}")).unwrap_or_default();
                let shown: Vec<&str> = flags.iter().map(String::as_str).filter(|f| !f.is_empty() && *f != "N").collect();
                let flagged = if shown.is_empty() { String::new() } else { format!(" ({})", shown.join(", ")) };
                let value = if o.value.is_empty() { "(no value)" } else { o.value.as_str() };
                let occurred = present(m.text(seg, 14, 1))
                    .and_then(|t| dtm::parse(&t))
                    .or_else(|| at_obr.and_then(|r| dtm::parse(&m.text(r, 7, 1))));
                alerts.push(ResultAlert {
                    source_id: format!("r01:{control}:{obr}.{in_obr}"),
                    text: clean_text(&format!("{what} {value}{units}{flagged}"), MAX_TEXT_CHARS),
                    priority: priority(&flags),
                    occurred,
                    observation: o,
                });
            }
            _ => {}
        }
    }
    let specialty = m.segment("PV1").and_then(|pv1| kept(m.text(pv1, 10, 2)).or_else(|| kept(m.text(pv1, 10, 1))));
    Ok(ResultReport { location: bed(m)?, patient: patient(m)?, specialty, alerts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Message<'_> {
        Message::parse(text).unwrap()
    }

    const HEAD: &str = "MSH|^~\\&|EPR|HOSP|WARDLINE|H|20261201101500||ORU^R01^ORU_R01|R1|P|2.6\r\
        PID|1||MRN1^^^HOSP^MR||Stone^Eve||19800314|F\r\
        PV1|1|I|Ward 7^3^12^Main|||||||MED^General medicine\r";

    fn news2(o: &Observation) -> bool {
        o.code == "NEWS2"
    }

    #[test]
    fn each_wanted_observation_of_each_order_is_its_own_alert_known_by_its_place() {
        let text = format!(
            "{HEAD}OBR|1||F1|OBS^Observations|||20261201101000\r\
             OBX|1|NM|NEWS2^NEWS2 score^L||9|score|0-4|HH|||F|||20261201101200\r\
             OBX|2|NM|HR^Heart rate^L||128|/min||H|||F\r\
             OBR|2||F2|OBS^Observations\r\
             OBX|1|NM|NEWS2^NEWS2 score^L||7|score||H|||F\r"
        );
        let r = read(&parse(&text), news2).unwrap();
        assert_eq!(r.alerts.len(), 2, "the heart rate no rule wants raises nothing");
        assert_eq!(r.alerts[0].source_id, "r01:R1:1.1");
        assert_eq!(r.alerts[1].source_id, "r01:R1:2.1", "the same OBX-1 in another order is another alert");
        assert_eq!(r.alerts[0].text, "NEWS2 score 9 score (HH)");
        assert_eq!(r.alerts[0].priority, SourcePriority::High);
        assert_eq!(r.alerts[1].priority, SourcePriority::Medium);
        assert_eq!(r.alerts[0].observation.value, "9");
        assert_eq!(r.alerts[0].observation.system.as_deref(), Some("L"));
        assert_eq!(r.alerts[0].occurred, dtm::parse("20261201101200"));
        assert_eq!(r.alerts[1].occurred, None);
        assert_eq!(r.specialty.as_deref(), Some("General medicine"));
        assert_eq!(r.location.unwrap().bed.as_deref(), Some("12"));
        assert_eq!(r.patient.unwrap().patient.id, "MRN1");
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
        let r = read(&parse(&text), news2).unwrap();
        assert_eq!(r.alerts.len(), 1);
        assert_eq!(r.alerts[0].source_id, "r01:R1:1.3");
        // A wanted one with long parts is cut, not refused.
        let text = format!("{HEAD}OBR|1||F1|OBS\rOBX|1|NM|NEWS2^{long}^L||8|{long}\r");
        let r = read(&parse(&text), news2).unwrap();
        assert_eq!(r.alerts[0].observation.text.as_ref().map(|t| t.chars().count()), Some(MAX_OBSERVATION_PART));
    }

    #[test]
    fn struck_out_observations_raise_nothing_and_sn_values_keep_their_comparator() {
        let text = format!(
            "{HEAD}OBR|1||F1|OBS\r\
             OBX|1|NM|NEWS2^NEWS2 score^L||9||||||D\r\
             OBX|2|NM|NEWS2^NEWS2 score^L||9||||||X\r\
             OBX|3|SN|NEWS2^NEWS2 score^L||>^7\r\
             OBX|4|SN|NEWS2^NEWS2 score^L||^7^-^9\r"
        );
        let r = read(&parse(&text), news2).unwrap();
        let values: Vec<&str> = r.alerts.iter().map(|a| a.observation.value.as_str()).collect();
        assert_eq!(values, [">7", "^7^-^9"], "a range is kept as written: no number to judge");
    }

    #[test]
    fn too_many_alerts_in_one_result_are_refused_whole_and_a_long_control_id_is_hashed() {
        let mut text = format!("{HEAD}OBR|1||F1|OBS\r");
        for i in 0..=MAX_ALERTS {
            text.push_str(&format!("OBX|{i}|NM|NEWS2^NEWS2^L||9\r"));
        }
        let e = read(&parse(&text), news2).unwrap_err();
        assert_eq!(e.code, ErrorCode::ApplicationError);
        let odd = HEAD.replace("|R1|", "|R 1/é|");
        let text = format!("{odd}OBR|1||F1|OBS\rOBX|1|NM|NEWS2^NEWS2^L||9\r");
        let r = read(&parse(&text), news2).unwrap();
        let id = &r.alerts[0].source_id;
        assert!(id.starts_with("r01:") && id.ends_with(":1.1") && id.len() == "r01::1.1".len() + 24, "{id}");
        assert!(read(&parse(&HEAD.to_owned()), news2).is_err(), "no OBR");
    }
}
