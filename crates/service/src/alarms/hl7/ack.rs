//! The acknowledgement rules: the message's mode, the header checks every message passes first,
//! and the answer an outcome gets.

use wardline_types::hl7::write::AckCode;
use wardline_types::hl7::{ErrorCode, Hl7Error, Message};

/// Which acknowledgement rules a message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// MSH-15 and MSH-16 empty: `AA`/`AE`/`AR`.
    Original,
    /// Either valued: `CA`/`CE`/`CR`, sent as MSH-15 (HL7 table 0155) asks.
    Enhanced {
        /// Answer when stored (`AL`, `SU`).
        on_success: bool,
        /// Answer when refused (`AL`, `ER`).
        on_error: bool,
    },
}

/// The mode `message` asks for (MSH-15 accept acknowledgement type, MSH-16 application
/// acknowledgement type). An enhanced-mode MSH-15 that is empty or not in table 0155 is taken
/// as `AL`: always answer.
#[must_use]
pub fn mode(message: &Message<'_>) -> Mode {
    let Some(msh) = message.msh() else { return Mode::Original };
    let accept = message.text(msh, 15, 1);
    let application = message.text(msh, 16, 1);
    if accept.trim().is_empty() && application.trim().is_empty() {
        return Mode::Original;
    }
    match accept.trim() {
        "NE" => Mode::Enhanced { on_success: false, on_error: false },
        "ER" => Mode::Enhanced { on_success: false, on_error: true },
        "SU" => Mode::Enhanced { on_success: true, on_error: false },
        _ => Mode::Enhanced { on_success: true, on_error: true },
    }
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored (or a repeat of one stored): it will not be lost.
    Stored,
    /// Refused: the error's code says whether its content was at fault (`AE`/`CE`) or it could
    /// not be taken at all (`AR`/`CR`).
    Refused(Hl7Error),
}

/// The answer to send: the code and, for a refusal, the error for `ERR`; `None` when MSH-15
/// asks for no answer to this outcome (what was stored stays stored).
#[must_use]
pub fn answer(mode: Mode, outcome: &Outcome) -> Option<(AckCode, Option<&Hl7Error>)> {
    match (mode, outcome) {
        (Mode::Original, Outcome::Stored) => Some((AckCode::AA, None)),
        (Mode::Original, Outcome::Refused(e)) => {
            Some((if e.code.is_content() { AckCode::AE } else { AckCode::AR }, Some(e)))
        }
        (Mode::Enhanced { on_success, .. }, Outcome::Stored) => on_success.then_some((AckCode::CA, None)),
        (Mode::Enhanced { on_error, .. }, Outcome::Refused(e)) => {
            on_error.then_some((if e.code.is_content() { AckCode::CE } else { AckCode::CR }, Some(e)))
        }
    }
}

/// The versions Wardline reads (HL7 2.3 to 2.8: what nurse-call, monitoring and ADT feeds send).
const VERSIONS: [&str; 8] = ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8"];

/// The checks every message passes before its content is read: MSH-10 (the control id, which
/// the answer quotes and a repeat is known by), MSH-12 version, MSH-11 processing id (`P`; `T`
/// and `D` only when `test_system`), and MSH-9 among `accepted` (message code, trigger event).
///
/// # Errors
/// The first refused, with its table 0357 code and place: 101 a required field missing, 203 a
/// version, 202 a processing id, 200 a message type, 201 an event Wardline does not take.
pub fn check_header(message: &Message<'_>, accepted: &[(&str, &str)], test_system: bool) -> Result<(), Hl7Error> {
    let msh = message
        .msh()
        .ok_or_else(|| Hl7Error::new(ErrorCode::SegmentSequence, "a message starts with its MSH segment"))?;
    let at = |code, field, why: String| Hl7Error::at(code, "MSH", 1, field, 0, why);
    if message.text(msh, 10, 0).trim().is_empty() {
        return Err(at(ErrorCode::RequiredFieldMissing, 10, "MSH-10 (the message control id) is required".into()));
    }
    let version = message.text(msh, 12, 1);
    if !VERSIONS.contains(&version.trim()) {
        return Err(at(
            ErrorCode::UnsupportedVersion,
            12,
            format!("version {:?} is not taken: send HL7 2.3 to 2.8", truncated(&version)),
        ));
    }
    let processing = message.text(msh, 11, 1);
    match processing.trim() {
        "P" => {}
        "T" | "D" if test_system => {}
        other => {
            return Err(at(
                ErrorCode::UnsupportedProcessingId,
                11,
                format!("processing id {:?} is not taken here (production: P)", truncated(other)),
            ));
        }
    }
    let (code, event, _) = message.message_type();
    if !accepted.iter().any(|(c, _)| *c == code) {
        return Err(at(
            ErrorCode::UnsupportedMessageType,
            9,
            format!("message type {:?} is not taken from this system", truncated(&code)),
        ));
    }
    if !accepted.iter().any(|(c, e)| *c == code && *e == event) {
        return Err(at(
            ErrorCode::UnsupportedEvent,
            9,
            format!("event {:?} of {code} is not taken from this system", truncated(&event)),
        ));
    }
    Ok(())
}

/// What a refusal quotes of the sender's value: at most 20 characters (it is the sender's
/// text, not ours, and goes back to it in ERR-8).
fn truncated(s: &str) -> String {
    s.chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const ALARMS: [(&str, &str); 2] = [("ORU", "R40"), ("ADT", "A01")];

    fn msh(fields_9_to_16: &str) -> String {
        format!("MSH|^~\\&|NC|WARD7|WARDLINE|HOSP|20261201101500|SEC|{fields_9_to_16}\rPID|1\r")
    }

    #[test]
    fn the_mode_is_read_from_msh_15_and_16() {
        let modes: Vec<Mode> = [
            "ORU^R40|1|P|2.6",
            "ORU^R40|1|P|2.6|||AL|NE",
            "ORU^R40|1|P|2.6|||NE|AL",
            "ORU^R40|1|P|2.6|||ER",
            "ORU^R40|1|P|2.6|||SU",
            "ORU^R40|1|P|2.6||||AL",
            "ORU^R40|1|P|2.6|||XX",
        ]
        .iter()
        .map(|f| mode(&Message::parse(&msh(f)).unwrap()))
        .collect();
        let e = |on_success, on_error| Mode::Enhanced { on_success, on_error };
        assert_eq!(
            modes,
            [
                Mode::Original,
                e(true, true),
                e(false, false),
                e(false, true),
                e(true, false),
                e(true, true),
                e(true, true)
            ]
        );
    }

    #[test]
    fn each_outcome_gets_the_answer_its_mode_asks_for() {
        let content = Hl7Error::at(ErrorCode::RequiredFieldMissing, "OBR", 1, 0, 0, "OBR is required");
        let rejected = Hl7Error::new(ErrorCode::UnsupportedVersion, "version");
        let (stored, bad, refused) =
            (Outcome::Stored, Outcome::Refused(content.clone()), Outcome::Refused(rejected.clone()));
        let code = |m, o| answer(m, o).map(|(c, _)| c);
        assert_eq!(
            [code(Mode::Original, &stored), code(Mode::Original, &bad), code(Mode::Original, &refused)],
            [Some(AckCode::AA), Some(AckCode::AE), Some(AckCode::AR)]
        );
        let al = Mode::Enhanced { on_success: true, on_error: true };
        assert_eq!(
            [code(al, &stored), code(al, &bad), code(al, &refused)],
            [Some(AckCode::CA), Some(AckCode::CE), Some(AckCode::CR)]
        );
        let ne = Mode::Enhanced { on_success: false, on_error: false };
        assert_eq!([code(ne, &stored), code(ne, &bad)], [None, None]);
        let er = Mode::Enhanced { on_success: false, on_error: true };
        assert_eq!([code(er, &stored), code(er, &refused)], [None, Some(AckCode::CR)]);
        let su = Mode::Enhanced { on_success: true, on_error: false };
        assert_eq!([code(su, &stored), code(su, &bad)], [Some(AckCode::CA), None]);
        assert_eq!(answer(al, &bad).and_then(|(_, e)| e.cloned()), Some(content), "the error goes in ERR");
    }

    #[test]
    fn the_header_is_checked_with_the_code_and_place_of_what_is_refused() {
        let check = |f: &str, test| check_header(&Message::parse(&msh(f)).unwrap(), &ALARMS, test);
        check("ORU^R40^ORU_R40|MSG1|P|2.6", false).unwrap();
        check("ADT^A01|MSG1|P|2.3.1", false).unwrap();
        check("ORU^R40|MSG1|T|2.5", true).unwrap();
        for (fields, code, field) in [
            ("ORU^R40||P|2.6", ErrorCode::RequiredFieldMissing, 10),
            ("ORU^R40|MSG1|P|2.1", ErrorCode::UnsupportedVersion, 12),
            ("ORU^R40|MSG1|P|", ErrorCode::UnsupportedVersion, 12),
            ("ORU^R40|MSG1|T|2.6", ErrorCode::UnsupportedProcessingId, 11),
            ("ORU^R40|MSG1|X|2.6", ErrorCode::UnsupportedProcessingId, 11),
            ("SIU^S12|MSG1|P|2.6", ErrorCode::UnsupportedMessageType, 9),
            ("ORU^R01|MSG1|P|2.6", ErrorCode::UnsupportedEvent, 9),
            ("ADT^A40|MSG1|P|2.6", ErrorCode::UnsupportedEvent, 9),
        ] {
            let e = check(fields, false).unwrap_err();
            assert_eq!(e.code, code, "{fields}: {e}");
            assert_eq!(e.place.as_ref().map(|p| (p.segment.as_str(), p.field)), Some(("MSH", field)), "{fields}");
        }
        let long = check(&format!("ORU^R40|MSG1|P|{}", "9".repeat(500)), false).unwrap_err();
        assert!(long.message.len() < 100, "the sender's value is quoted short: {}", long.message);
    }
}
