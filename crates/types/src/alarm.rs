//! Alarms from hospital systems: a nurse call, a cardiac arrest call, a fire alarm, a patient
//! monitor's alarm, a clinical alert (a NEWS2 score).
//!
//! An alarm is identified by Wardline's [`AlarmId`] and, within the integration that raised it,
//! by the source's own id, so that a repeat of the same alarm is the same alarm. It has two
//! states: the source's ([`AlarmState`]: active until the source resets or cancels it) and
//! Wardline's ([`AlarmOutcome`]: pending until it is delivered, then notified, accepted, or at
//! the failsafe).
//!
//! Pure rules only: the shapes and the checks of what a source sends.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The block an alarm's message carries (written only by integrations' user ids).
pub const ALARM: &str = "org.wardline.alarm";
/// The state event of an incident conversation (written only by integrations' user ids).
pub const INCIDENT: &str = "org.wardline.incident";

/// Longest alarm text, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;
/// Longest source id, in characters.
pub const MAX_SOURCE_ID_CHARS: usize = 200;
/// Longest part of a location, or of a patient reference, in characters.
pub const MAX_PART_CHARS: usize = 64;

/// Characters of randomness in an [`AlarmId`] after its `al_`.
pub const ALARM_ID_RANDOM_CHARS: usize = 20;
/// Random bytes an [`AlarmId`] is made from.
pub const ALARM_ID_BYTES: usize = 13;

/// Wardline's id of an alarm: `al_` and 20 characters of lowercase base32 (100 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AlarmId(String);

/// Why an alarm id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an alarm id is al_ followed by 20 lowercase letters and digits 2 to 7")]
pub struct InvalidAlarmId;

impl AlarmId {
    /// Validates `s` as an alarm id.
    pub fn parse(s: &str) -> Result<Self, InvalidAlarmId> {
        let ok = s.strip_prefix("al_").is_some_and(|r| crate::random_id::is_base32(r, ALARM_ID_RANDOM_CHARS));
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidAlarmId) }
    }

    /// The id made from `bytes` (random ones, from the caller: this crate does no I/O).
    #[must_use]
    pub fn from_bytes(bytes: &[u8; ALARM_ID_BYTES]) -> Self {
        Self(crate::random_id::base32_id("al_", bytes, ALARM_ID_RANDOM_CHARS))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AlarmId {
    type Error = InvalidAlarmId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AlarmId> for String {
    fn from(id: AlarmId) -> Self {
        id.0
    }
}

impl fmt::Display for AlarmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Defines an enum of fixed names with `as_str` and `parse`.
macro_rules! named {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value.
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The stable name, as stored and sent.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The value with this name.
            #[must_use]
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named! {
    /// What kind of alarm it is.
    AlarmKind {
        /// A patient pressed the call button.
        NurseCall = "nurse_call",
        /// A member of staff at the bedside calls for help.
        StaffAssist = "staff_assist",
        /// A cardiac arrest call.
        CardiacArrest = "cardiac_arrest",
        /// A fire alarm.
        Fire = "fire",
        /// A patient monitor's alarm.
        Monitor = "monitor",
        /// A clinical alert (a deteriorating patient's score, a result).
        ClinicalAlert = "clinical_alert",
        /// Anything else a source raises.
        Other = "other",
    }
}

named! {
    /// How urgent the source says it is (IHE PCD's PN/PL/PM/PH; code calls are `emergency`).
    SourcePriority {
        /// No priority given.
        None = "none",
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
        /// A code call: cardiac arrest, fire.
        Emergency = "emergency",
    }
}

named! {
    /// The source's side of an alarm.
    AlarmState {
        /// Raised and not yet ended by the source.
        Active = "active",
        /// The source reset it (the condition has gone).
        Reset = "reset",
        /// The source cancelled it (raised in error).
        Cancelled = "cancelled",
    }
}

named! {
    /// Wardline's side of an alarm: what became of it.
    AlarmOutcome {
        /// Stored, not yet delivered to anyone.
        Pending = "pending",
        /// Delivered to its first recipients; waiting for someone to accept.
        Notified = "notified",
        /// Someone accepted it.
        Accepted = "accepted",
        /// Nobody accepted it in time: it reached the failsafe.
        Failsafe = "failsafe",
        /// Nobody could be reached at all.
        Undeliverable = "undeliverable",
        /// Recorded only, as a rule said (nobody is told).
        Recorded = "recorded",
        /// Closed by a responder or by the source.
        Closed = "closed",
    }
}

named! {
    /// How an alarm arrived.
    IntakeProtocol {
        /// The HTTP alarm API (JSON).
        Http = "http",
        /// HL7 v2 over MLLP.
        Hl7 = "hl7",
        /// WCTP 1.3.
        Wctp = "wctp",
    }
}

/// Why what a source sent about an alarm was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlarmError {
    /// The source id is empty, too long or has control characters.
    #[error("source_id is 1 to 200 characters, without surrounding spaces or control characters")]
    BadSourceId,
    /// The text is empty or too long.
    #[error("text is 1 to 1000 characters, without control characters other than line breaks and tabs")]
    BadText,
    /// A part of the location is empty, too long or has control characters (the field named).
    #[error("location.{0} is 1 to 64 characters without control characters")]
    BadLocation(&'static str),
    /// The location says no ward.
    #[error("location.ward is required: say where the alarm is")]
    NoWard,
    /// A part of the patient reference is empty, too long or has control characters.
    #[error("patient.{0} is 1 to 64 characters without control characters (birth_date: YYYY-MM-DD)")]
    BadPatient(&'static str),
}

/// Where an alarm is. Each part, when given, is 1 to [`MAX_PART_CHARS`] characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// The hospital or site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The ward or department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ward: Option<String>,
    /// The room or bay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The bed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bed: Option<String>,
}

/// A character no part of an alarm may hold: a control character, or one that reorders or
/// hides text on screen (bidirectional overrides and isolates, zero-width marks), with which a
/// source could make "bed 12" read as another bed.
pub fn hidden(c: char) -> bool {
    // Controls, then the invisible format characters (soft hyphen, Mongolian vowel separator,
    // zero-width and joiners, bidirectional marks, embeddings, overrides and isolates, invisible
    // operators, line and paragraph separators, interlinear annotation, byte order mark, tags).
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// 1 to [`MAX_PART_CHARS`] characters as given (surrounding spaces count: they are trimmed
/// when stored, but nothing unbounded is taken in), not blank, nothing [`hidden`].
fn part_ok(s: &str) -> bool {
    let n = s.chars().count();
    n <= MAX_PART_CHARS && !s.trim().is_empty() && !s.chars().any(hidden)
}

fn trimmed(part: Option<String>) -> Option<String> {
    part.map(|p| p.trim().to_owned())
}

/// A calendar date `YYYY-MM-DD` that exists.
pub(crate) fn is_date(s: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    s.len() == 10 && time::Date::parse(s, &format).is_ok()
}

impl Location {
    /// Checks each part, and that a ward is given.
    ///
    /// # Errors
    /// The first part refused.
    pub fn check(&self) -> Result<(), AlarmError> {
        for (name, part) in [("site", &self.site), ("ward", &self.ward), ("room", &self.room), ("bed", &self.bed)] {
            if part.as_deref().is_some_and(|p| !part_ok(p)) {
                return Err(AlarmError::BadLocation(name));
            }
        }
        if self.ward.is_none() {
            return Err(AlarmError::NoWard);
        }
        Ok(())
    }

    /// The same place with each part's surrounding spaces removed (as it is stored and compared).
    #[must_use]
    pub fn trimmed(self) -> Self {
        Self { site: trimmed(self.site), ward: trimmed(self.ward), room: trimmed(self.room), bed: trimmed(self.bed) }
    }

    /// For people: "Ward 7, room 3, bed 12" (the site first when given).
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.site {
            parts.push(s.trim().to_owned());
        }
        if let Some(w) = &self.ward {
            parts.push(w.trim().to_owned());
        }
        if let Some(r) = &self.room {
            parts.push(format!("room {}", r.trim()));
        }
        if let Some(b) = &self.bed {
            parts.push(format!("bed {}", b.trim()));
        }
        parts.join(", ")
    }
}

/// Which patient an alarm is about, as the source names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientRef {
    /// The identifier (a hospital number, an NHS number).
    pub id: String,
    /// Which identifier system it is from, if the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The patient's name, if the source sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Date of birth (`YYYY-MM-DD`), if the source sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
}

impl PatientRef {
    /// Checks each part's length.
    ///
    /// # Errors
    /// The first part refused.
    pub fn check(&self) -> Result<(), AlarmError> {
        if !part_ok(&self.id) {
            return Err(AlarmError::BadPatient("id"));
        }
        for (name, part) in [("system", &self.system), ("name", &self.name), ("birth_date", &self.birth_date)] {
            if part.as_deref().is_some_and(|p| !part_ok(p)) {
                return Err(AlarmError::BadPatient(name));
            }
        }
        if self.birth_date.as_deref().is_some_and(|d| !is_date(d.trim())) {
            return Err(AlarmError::BadPatient("birth_date"));
        }
        Ok(())
    }

    /// The same reference with each part's surrounding spaces removed.
    #[must_use]
    pub fn trimmed(self) -> Self {
        Self {
            id: self.id.trim().to_owned(),
            system: trimmed(self.system),
            name: trimmed(self.name),
            birth_date: trimmed(self.birth_date),
        }
    }
}

/// Checks a source's id for an alarm.
///
/// # Errors
/// [`AlarmError::BadSourceId`].
pub fn check_source_id(s: &str) -> Result<(), AlarmError> {
    let n = s.chars().count();
    if n == 0 || n > MAX_SOURCE_ID_CHARS || s.trim() != s || s.chars().any(hidden) {
        return Err(AlarmError::BadSourceId);
    }
    Ok(())
}

/// Checks an alarm's text: not blank, at most [`MAX_TEXT_CHARS`], line breaks and tabs allowed
/// but no other control character, nothing that reorders or hides text.
///
/// # Errors
/// [`AlarmError::BadText`].
pub fn check_text(s: &str) -> Result<(), AlarmError> {
    let n = s.trim().chars().count();
    if n == 0 || s.chars().count() > MAX_TEXT_CHARS || s.chars().any(|c| !matches!(c, '\n' | '\r' | '\t') && hidden(c))
    {
        return Err(AlarmError::BadText);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_made_from_bytes_and_parse_back() {
        let id = AlarmId::from_bytes(&[0; ALARM_ID_BYTES]);
        assert_eq!(id.as_str(), "al_aaaaaaaaaaaaaaaaaaaa");
        let id = AlarmId::from_bytes(&[0xff; ALARM_ID_BYTES]);
        assert_eq!(id.as_str(), "al_77777777777777777777");
        let id = AlarmId::from_bytes(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
        assert_eq!(AlarmId::parse(id.as_str()), Ok(id.clone()));
        assert_ne!(id, AlarmId::from_bytes(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14]));
        for bad in ["", "al_", "al_aaaaaaaaaaaaaaaaaaa", "al_aaaaaaaaaaaaaaaaaaaa1", "xx_aaaaaaaaaaaaaaaaaaaa"] {
            assert!(AlarmId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kinds_priorities_and_states_have_stable_names() {
        assert_eq!(serde_json::to_value(AlarmKind::CardiacArrest).unwrap(), json!("cardiac_arrest"));
        assert_eq!(AlarmKind::parse("nurse_call"), Some(AlarmKind::NurseCall));
        assert_eq!(AlarmKind::parse("Nurse call"), None);
        assert_eq!(SourcePriority::parse("emergency"), Some(SourcePriority::Emergency));
        assert!(SourcePriority::High > SourcePriority::Low);
        for o in AlarmOutcome::ALL {
            assert_eq!(AlarmOutcome::parse(o.as_str()), Some(*o));
        }
        assert_eq!(AlarmState::ALL.len(), 3);
        assert_eq!(IntakeProtocol::Hl7.to_string(), "hl7");
    }

    #[test]
    fn what_a_source_sends_is_checked() {
        let loc: Location = serde_json::from_value(json!({"ward": "Ward 7", "bed": "12"})).unwrap();
        assert!(loc.check().is_ok());
        assert_eq!(loc.describe(), "Ward 7, bed 12");
        assert_eq!(Location { bed: Some("1".into()), ..Location::default() }.check(), Err(AlarmError::NoWard));
        let long = Location { ward: Some("W".repeat(65)), ..Location::default() };
        assert_eq!(long.check(), Err(AlarmError::BadLocation("ward")));
        let blank = Location { ward: Some("W".into()), room: Some(" ".into()), ..Location::default() };
        assert_eq!(blank.check(), Err(AlarmError::BadLocation("room")));
        assert!(serde_json::from_value::<Location>(json!({"ward": "7", "floor": 2})).is_err());
        let p = PatientRef { id: "123".into(), system: None, name: Some("\u{7}".into()), birth_date: None };
        assert_eq!(p.check(), Err(AlarmError::BadPatient("name")));
        assert!(check_source_id("bed-12-call-991").is_ok());
        assert!(check_source_id("").is_err() && check_source_id("a\nb").is_err());
        assert!(check_source_id(&"x".repeat(201)).is_err());
        assert!(check_text("Patient call\nbay 3").is_ok());
        assert!(check_text("  ").is_err() && check_text(&"x".repeat(1001)).is_err());
        // Nothing unbounded behind spaces, nothing hidden, no control characters but line breaks.
        let padded = Location { ward: Some(format!("Ward 7{}", " ".repeat(100))), ..Location::default() };
        assert_eq!(padded.check(), Err(AlarmError::BadLocation("ward")));
        let spoofed = Location { ward: Some("7".into()), bed: Some("1\u{202E}2".into()), ..Location::default() };
        assert_eq!(spoofed.check(), Err(AlarmError::BadLocation("bed")));
        assert!(
            check_text("Call\u{0}").is_err()
                && check_text("Call\u{1b}[2J").is_err()
                && check_text("a\u{2066}b").is_err()
        );
        assert!(check_source_id(" bed-12").is_err() && check_source_id("bed\u{200B}12").is_err());
        // Stored trimmed, so "Ward 7 " and "Ward 7" are one place.
        let spaced = Location { ward: Some(" Ward 7 ".into()), bed: Some("12 ".into()), ..Location::default() };
        assert_eq!(
            spaced.trimmed(),
            Location { ward: Some("Ward 7".into()), bed: Some("12".into()), ..Location::default() }
        );
        let born =
            |d: &str| PatientRef { id: "1".into(), system: None, name: None, birth_date: Some(d.into()) }.check();
        assert!(born("1950-02-28").is_ok());
        assert!(check_text("line one\r\nline two").is_ok(), "a line break as Windows writes it");
        assert!(
            check_text("a\u{2028}b").is_err() && check_text("a\u{E0041}b").is_err() && check_text("a\u{AD}b").is_err()
        );
        for bad in [
            "28/02/1950",
            "1950-13-01",
            "1950-00-10",
            "1950-02-32",
            "1950-02-29",
            "1950-04-31",
            "19500228",
            "1950-2-28",
        ] {
            assert_eq!(born(bad), Err(AlarmError::BadPatient("birth_date")), "{bad}");
        }
    }
}
