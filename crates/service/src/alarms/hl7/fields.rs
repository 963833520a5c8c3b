//! Reading the parts of a message that alarm reports and ADT share: the patient (`PID`), the
//! bed (`PV1-3`), and text fit to store.

use wardline_types::alarm::{Location, MAX_PART_CHARS, PatientRef};
use wardline_types::hl7::{ErrorCode, Hl7Error, Message, Segment};

/// A value HL7 writes as `""` (explicitly empty) or blank: absent.
pub(super) fn present(value: String) -> Option<String> {
    let v = value.trim();
    (!v.is_empty() && v != "\"\"").then(|| v.to_owned())
}

/// A location or patient part: refused (`102`, at its place) if longer than a stored part may
/// be or holding a control character.
fn part(value: Option<String>, seg: &Segment<'_>, field: usize, component: usize) -> Result<Option<String>, Hl7Error> {
    match value {
        Some(v) if v.chars().count() > MAX_PART_CHARS || v.chars().any(char::is_control) => Err(Hl7Error::at(
            ErrorCode::DataType,
            seg.id,
            seg.occurrence,
            field,
            component,
            format!(
                "{}-{field}.{component} is longer than {MAX_PART_CHARS} characters or holds a control character",
                seg.id
            ),
        )),
        other => Ok(other),
    }
}

/// `PV1-3` (assigned patient location, `PL`): point of care (the ward) ^ room ^ bed ^ facility
/// (the site). `None` without a point of care.
pub(super) fn bed(m: &Message<'_>) -> Result<Option<Location>, Hl7Error> {
    match m.segment("PV1") {
        Some(pv1) => bed_at(m, pv1),
        None => Ok(None),
    }
}

/// The bed of this `PV1`.
pub(super) fn bed_at(m: &Message<'_>, pv1: &Segment<'_>) -> Result<Option<Location>, Hl7Error> {
    let at = |c| part(present(m.text(pv1, 3, c)), pv1, 3, c);
    let ward = at(1)?;
    if ward.is_none() {
        return Ok(None);
    }
    Ok(Some(Location { site: at(4)?, ward, room: at(2)?, bed: at(3)? }))
}

/// The patient of `PID`: the first identifier of `PID-3` (`CX`: id ^ check digit ^ scheme ^
/// assigning authority) with its authority, the name of `PID-5` (`XPN`: family ^ given ^
/// middle ^ suffix ^ prefix, written "given middle family"), the date of birth of `PID-7`.
#[derive(Debug, Clone)]
pub struct PidPatient {
    /// As alarms carry it.
    pub patient: PatientRef,
    /// `<authority>|<id>`: the key of the ADT feed's record.
    pub key: String,
    /// `PID-8`.
    pub sex: Option<String>,
}

/// The patient `PID` names, if it names one.
pub(super) fn patient(m: &Message<'_>) -> Result<Option<PidPatient>, Hl7Error> {
    match m.segment("PID") {
        Some(pid) => patient_at(m, pid),
        None => Ok(None),
    }
}

/// The patient this `PID` names, if it names one.
pub(super) fn patient_at(m: &Message<'_>, pid: &Segment<'_>) -> Result<Option<PidPatient>, Hl7Error> {
    let Some(rep) = m.repetitions(pid, 3).find(|r| present(m.decode(m.pick(r, 1))).is_some()) else {
        return Ok(None);
    };
    let id = part(present(m.decode(m.pick(rep, 1))), pid, 3, 1)?.unwrap_or_default();
    let authority = part(present(m.decode(m.pick(rep, 4))), pid, 3, 4)?;
    let name_parts: Vec<String> = [2, 3, 1].iter().filter_map(|c| present(m.text(pid, 5, *c))).collect();
    let name = part((!name_parts.is_empty()).then(|| name_parts.join(" ")), pid, 5, 1)?;
    let birth_date = present(m.text(pid, 7, 1)).and_then(|d| birth_date(&d));
    let patient = PatientRef { id: id.clone(), system: authority.clone(), name, birth_date };
    if patient.check().is_err() {
        // An impossible date of birth is not a reason to refuse an alarm: it is left out.
        let without = PatientRef { birth_date: None, ..patient.clone() };
        if without.check().is_err() {
            return Err(Hl7Error::at(ErrorCode::DataType, "PID", 1, 3, 1, "PID-3 does not identify a patient"));
        }
        let key = format!("{}|{id}", authority.unwrap_or_default());
        return Ok(Some(PidPatient { patient: without, key, sex: sex(m, pid) }));
    }
    let key = format!("{}|{id}", authority.unwrap_or_default());
    Ok(Some(PidPatient { patient, key, sex: sex(m, pid) }))
}

/// A result's bed: as [`bed_at`], but a part too long or holding characters a place may not
/// is cleaned and cut, never refused (a result is raised whatever its bed looks like).
pub(super) fn bed_lenient(m: &Message<'_>, pv1: &Segment<'_>) -> Option<Location> {
    let at = |c| present(m.text(pv1, 3, c)).map(|v| clean_part(&v)).filter(|v| !v.is_empty());
    let ward = at(1)?;
    Some(Location { site: at(4), ward: Some(ward), room: at(2), bed: at(3) })
}

/// A result's patient: as [`patient_at`], but parts too long or holding characters an alarm's
/// patient may not are cleaned and cut, never refused. `None` only if `PID-3` names nobody.
pub(super) fn patient_lenient(m: &Message<'_>, pid: &Segment<'_>) -> Option<PidPatient> {
    if let Ok(p) = patient_at(m, pid) {
        return p;
    }
    let rep = m.repetitions(pid, 3).find(|r| present(m.decode(m.pick(r, 1))).is_some())?;
    let clean = |v: Option<String>| v.map(|v| clean_part(&v)).filter(|v| !v.is_empty());
    let id = clean(present(m.decode(m.pick(rep, 1))))?;
    let authority = clean(present(m.decode(m.pick(rep, 4))));
    let name_parts: Vec<String> = [2, 3, 1].iter().filter_map(|c| present(m.text(pid, 5, *c))).collect();
    let name = clean((!name_parts.is_empty()).then(|| name_parts.join(" ")));
    let birth_date = present(m.text(pid, 7, 1)).and_then(|d| birth_date(&d));
    let mut patient = PatientRef { id: id.clone(), system: authority.clone(), name, birth_date };
    if patient.check().is_err() {
        patient.birth_date = None;
    }
    patient.check().ok()?;
    let key = format!("{}|{id}", authority.unwrap_or_default());
    Some(PidPatient { patient, key, sex: sex(m, pid) })
}

/// A part of a place or patient made fit to store: invisible characters removed (so
/// `Ward\u{200B} 7` is `Ward 7`, as a rule names it), controls as spaces, spaces collapsed, at
/// most [`MAX_PART_CHARS`].
fn clean_part(v: &str) -> String {
    let visible: String = v.chars().filter(|c| !is_format(*c)).map(|c| if c.is_control() { ' ' } else { c }).collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(MAX_PART_CHARS).collect()
}

/// The patient's specialty (hospital service, `PV1-10`, `CWE`): its code, and its name when
/// given. ADT and results read it here alike, so a subscription by either matches both.
pub(super) fn specialty_at(m: &Message<'_>, pv1: &Segment<'_>) -> Option<(String, Option<String>)> {
    let fit =
        |v: String| present(v).filter(|v| v.chars().count() <= MAX_PART_CHARS && !v.chars().any(char::is_control));
    let (code, name) = (fit(m.text(pv1, 10, 1)), fit(m.text(pv1, 10, 2)));
    match (code, name) {
        (Some(c), n) => Some((c, n)),
        (None, Some(n)) => Some((n, None)),
        (None, None) => None,
    }
}

/// `YYYY-MM-DD` from a DTM's first eight characters, if they are digits (checked before any
/// split: a multi-byte character there is no date, never a panic).
fn birth_date(dtm: &str) -> Option<String> {
    let digits = dtm.as_bytes().get(..8)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let d = std::str::from_utf8(digits).ok()?;
    Some(format!("{}-{}-{}", d.get(..4)?, d.get(4..6)?, d.get(6..8)?))
}

fn sex(m: &Message<'_>, pid: &Segment<'_>) -> Option<String> {
    present(m.text(pid, 8, 1)).filter(|s| s.chars().count() <= 8 && !s.chars().any(char::is_control))
}

/// Text from a sender made fit to store as an alarm's: characters that are neither printable
/// nor a line break become spaces, and it is cut to `max` characters.
pub(super) fn clean_text(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c == '\n' || !(c.is_control() || is_format(c)) { c } else { ' ' })
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Invisible characters that reorder or hide text (as alarms refuse them).
fn is_format(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

#[cfg(test)]
mod tests {
    use super::birth_date;

    #[test]
    fn a_birth_date_is_eight_digits_and_anything_else_is_none_never_a_panic() {
        assert_eq!(birth_date("19800314").as_deref(), Some("1980-03-14"));
        assert_eq!(birth_date("198003141230").as_deref(), Some("1980-03-14"));
        for bad in ["198é0314", "1980é314", "é", "1980031", "", "19800a14", "\u{10FFFF}1234567"] {
            assert_eq!(birth_date(bad), None, "{bad:?}");
        }
    }
}
