//! IHE PCD-04 Report Alert (`ORU^R40^ORU_R40`, IHE PCD TF-2 §3.4): what an alarm report from a
//! patient monitor, a nurse-call gateway or another alert reporter says, read into what
//! Wardline stores. Pure.
//!
//! `MSH [PID [PV1]] {[ORC] OBR {OBX [PRT] [NTE]}}`, one alert per message:
//! - **which alarm**: `OBR-29` (parent: the filler's id, the same for every report of one
//!   alert), else `OBR-3` (the filler order number, the first report's own id);
//! - **the facets** of the alert are `OBX` segments, told apart by `OBX-3`'s code (the fifth
//!   part of the dotted `OBX-4` sub-id names the facet too): the event itself (facet 1, its
//!   text in `OBX-5`), its phase `68481^MDC_ATTR_EVENT_PHASE` (start, continue, end...), its
//!   state `68482^MDC_ATTR_ALARM_STATE` (active, inactive, latched), its priority
//!   `68484^MDC_ATTR_ALARM_PRIORITY` (`PN`/`PL`/`PM`/`PH`) and type `68485^MDC_ATTR_ALERT_TYPE`
//!   (`SP`/`ST`/`SA`: physiological, technical, advisory); a numeric `OBX` is the measurement
//!   that set it off. Priority and type may instead be repetitions of the event `OBX-8`
//!   (deprecated): a facet of its own wins;
//! - **where and who**: `PV1-3` and `PID` ([`super::fields`]).

use wardline_types::Timestamp;
use wardline_types::alarm::{Location, MAX_SOURCE_ID_CHARS, MAX_TEXT_CHARS, SourcePriority};
use wardline_types::hl7::{ErrorCode, Hl7Error, Message, Segment, dtm};

use super::fields::{PidPatient, bed, clean_text, patient, present};

/// MDC codes of the facets (IHE PCD TF-2 Table 3.4.4.1.5-1 and after).
const PHASE: &str = "68481";
const STATE: &str = "68482";
const INACTIVATION: &str = "68483";
const PRIORITY: &str = "68484";
const TYPE: &str = "68485";
/// Facets other than the event and its source.
const FACETS: [&str; 5] = [PHASE, STATE, INACTIVATION, PRIORITY, TYPE];

/// What the report does to the alarm it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The alert is present (start, start_only, present, tpoint, continue, update, escalate,
    /// deescalate): raised, or, if already raised, what it says brought up to date. A
    /// `continue` whose `start` was missed raises it: an alarm is never dropped for that.
    Present,
    /// The alert is over (end, reset, stop, inactivate, acknowledged; or its state is inactive
    /// or off): ended as reset, with the phase or state as the reason.
    Over(String),
}

/// An alarm report, read.
#[derive(Debug, Clone)]
pub struct AlertReport {
    /// The alert's id at its source (`OBR-29` filler id, else `OBR-3`).
    pub source_id: String,
    /// Present or over.
    pub phase: Phase,
    /// The event's text with the measurement and notes.
    pub text: String,
    /// `PN`/`PL`/`PM`/`PH` → none, low, medium, high.
    pub priority: SourcePriority,
    /// `SP`/`ST`/`SA`, if given.
    pub alert_type: Option<String>,
    /// The event's code (`OBX-3`, `196670^MDC_EVT_HI`: its first part).
    pub event_code: String,
    /// The bed of `PV1-3`, if given.
    pub location: Option<Location>,
    /// The patient of `PID`, if given.
    pub patient: Option<PidPatient>,
    /// When the alert happened (the event's `OBX-14`, else `OBR-7`).
    pub occurred: Option<Timestamp>,
}

fn code(m: &Message<'_>, obx: &Segment<'_>) -> String {
    m.text(obx, 3, 1).trim().to_owned()
}

/// The facet an `OBX` is: its `OBX-3` code when it is one of [`FACETS`], else the fifth part of
/// its dotted `OBX-4` sub-id (`1.3.1.150456.3` → 3).
fn facet(m: &Message<'_>, obx: &Segment<'_>) -> Option<u8> {
    let by_code = match code(m, obx).as_str() {
        PHASE => Some(3),
        STATE => Some(4),
        INACTIVATION => Some(5),
        PRIORITY => Some(6),
        TYPE => Some(7),
        _ => None,
    };
    by_code.or_else(|| m.text(obx, 4, 1).split('.').nth(4).and_then(|f| f.trim().parse().ok()))
}

fn priority(flag: &str) -> Option<SourcePriority> {
    match flag.trim() {
        "PN" => Some(SourcePriority::None),
        "PL" => Some(SourcePriority::Low),
        "PM" => Some(SourcePriority::Medium),
        "PH" => Some(SourcePriority::High),
        _ => None,
    }
}

/// A unit people read (`262688^MDC_DIM_PERCENT^MDC` → `%`); an unknown MDC code is left out.
fn unit(m: &Message<'_>, obx: &Segment<'_>) -> Option<String> {
    let name = present(m.text(obx, 6, 2)).or_else(|| present(m.text(obx, 6, 1)))?;
    let known = [
        ("MDC_DIM_PERCENT", "%"),
        ("MDC_DIM_BEAT_PER_MIN", "/min"),
        ("MDC_DIM_RESP_PER_MIN", "/min"),
        ("MDC_DIM_MMHG", "mmHg"),
        ("MDC_DIM_DEGC", "°C"),
    ];
    match known.iter().find(|(k, _)| *k == name) {
        Some((_, u)) => Some((*u).to_owned()),
        None if name.starts_with("MDC_") => None,
        None => Some(name),
    }
}

/// Reads an `ORU^R40`.
///
/// # Errors
/// A content error (`AE`/`CE`) at its place: no `OBR` (101), no alert id in `OBR-29`/`OBR-3`
/// (101) or one too long (102), no event `OBX` (101).
pub fn read(m: &Message<'_>) -> Result<AlertReport, Hl7Error> {
    let obr = m.segment("OBR").ok_or_else(|| {
        Hl7Error::at(ErrorCode::RequiredFieldMissing, "OBR", 1, 0, 0, "an alert report needs its OBR segment")
    })?;
    let source_id = present(m.text(obr, 29, 2))
        .or_else(|| present(m.text(obr, 29, 1)))
        .or_else(|| present(m.text(obr, 3, 1)))
        .ok_or_else(|| {
            Hl7Error::at(ErrorCode::RequiredFieldMissing, "OBR", 1, 3, 1, "OBR-3 (or OBR-29) must identify the alert")
        })?;
    if source_id.chars().count() > MAX_SOURCE_ID_CHARS || source_id.chars().any(char::is_control) {
        return Err(Hl7Error::at(
            ErrorCode::DataType,
            "OBR",
            1,
            3,
            1,
            format!("the alert's id is at most {MAX_SOURCE_ID_CHARS} characters"),
        ));
    }
    let observations: Vec<&Segment<'_>> = m.all("OBX").collect();
    let event = observations
        .iter()
        .find(|o| facet(m, o) == Some(1))
        .or_else(|| {
            observations.iter().find(|o| facet(m, o).is_none_or(|f| !(3..=7).contains(&f)) && m.text(o, 2, 1) != "NM")
        })
        .copied()
        .ok_or_else(|| {
            Hl7Error::at(ErrorCode::RequiredFieldMissing, "OBX", 1, 3, 0, "an alert report needs the OBX of its event")
        })?;
    let value = |f: u8| {
        observations
            .iter()
            .find(|o| facet(m, o) == Some(f) && !std::ptr::eq(**o, event))
            .and_then(|o| present(m.text(o, 5, 1)))
    };
    // The event's text: a CWE's text (its second part), else the value as written.
    let mut text = if m.text(event, 2, 1).trim() == "CWE" || m.text(event, 2, 1).trim() == "CE" {
        present(m.text(event, 5, 2)).or_else(|| present(m.text(event, 5, 1)))
    } else {
        present(m.text(event, 5, 0)).map(|v| v.replace(m.separators().component, " "))
    }
    .or_else(|| present(m.text(event, 3, 2)))
    .unwrap_or_else(|| "Alarm".to_owned());
    let measured =
        observations.iter().find(|o| m.text(o, 2, 1).trim() == "NM" && !FACETS.contains(&code(m, o).as_str()));
    if let Some(o) = measured
        && let Some(v) = present(m.text(o, 5, 1))
    {
        let what = present(m.text(o, 3, 2)).map(|c| c.trim_start_matches("MDC_").replace('_', " ")).unwrap_or_default();
        let unit = unit(m, o).map(|u| format!(" {u}")).unwrap_or_default();
        text = format!("{text} ({what} {v}{unit})").replace("( ", "(");
    }
    // Notes appended in place, and no more than an alarm's text can hold: a message of
    // thousands of notes costs what its length does, no more.
    for nte in m.all("NTE") {
        if text.len() > 4 * wardline_types::alarm::MAX_TEXT_CHARS {
            break;
        }
        if let Some(note) = present(m.text(nte, 3, 0)) {
            text.push('\n');
            text.push_str(&note);
        }
    }
    let flags: Vec<String> = m.repetitions(event, 8).map(|r| m.decode(r).trim().to_owned()).collect();
    let priority = value(6)
        .and_then(|p| priority(&p))
        .or_else(|| flags.iter().find_map(|f| priority(f)))
        .unwrap_or(SourcePriority::Medium);
    let alert_type = value(7).or_else(|| flags.iter().find(|f| matches!(f.as_str(), "SP" | "ST" | "SA")).cloned());
    let phase =
        match (value(3).as_deref().map(str::to_ascii_lowercase), value(4).as_deref().map(str::to_ascii_lowercase)) {
            (Some(p), _) if matches!(p.as_str(), "end" | "reset" | "stop" | "inactivate" | "acknowledged") => {
                Phase::Over(p)
            }
            (_, Some(s)) if matches!(s.as_str(), "inactive" | "off") => Phase::Over(format!("state {s}")),
            _ => Phase::Present,
        };
    let occurred =
        present(m.text(event, 14, 1)).and_then(|t| dtm::parse(&t)).or_else(|| dtm::parse(&m.text(obr, 7, 1)));
    Ok(AlertReport {
        source_id,
        phase,
        text: clean_text(&text, MAX_TEXT_CHARS),
        priority,
        alert_type,
        event_code: code(m, event),
        location: bed(m)?,
        patient: patient(m)?,
        occurred,
    })
}

#[cfg(test)]
mod tests;
