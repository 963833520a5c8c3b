//! Patients as clinicians find them in the electronic patient record (FHIR R4), and the
//! questions they may ask to find one.
//!
//! **Invariant:** a search names one patient precisely enough to be audited: by NHS number
//! (checked before any query is made), by hospital number, or by family name with date of
//! birth. There is no search by partial name alone, so nobody browses the hospital's patients.

pub mod filing;
mod nhs_number;

use serde::{Deserialize, Serialize};

pub use nhs_number::{NHS_NUMBER_SYSTEM, NhsNumber, NhsNumberError};

use crate::alarm::{hidden, is_date};

/// The block of the server's notice that a conversation's patient changed
/// (`{"action": "tied" | "changed" | "removed", "version": n}`): only the server's own member
/// writes it, and it never names the patient.
pub const PATIENT_CONTEXT: &str = "org.wardline.patient_context";

/// The longest hospital number, name part or EPR id taken.
pub const MAX_PART_CHARS: usize = 64;
/// The longest reason given for a search made for no conversation.
pub const MAX_REASON_CHARS: usize = 200;

/// How a clinician asks for a patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientQuery {
    /// By NHS number.
    NhsNumber(NhsNumber),
    /// By hospital number (MRN).
    HospitalNumber(String),
    /// By family name and date of birth, optionally narrowed by a given name.
    NameAndBirthDate {
        /// The family name (or its beginning, as FHIR's `family` search matches).
        family: String,
        /// A given name, if given.
        given: Option<String>,
        /// `YYYY-MM-DD`.
        birth_date: String,
    },
}

/// Why a query cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatientQueryError {
    /// The NHS number is not one.
    #[error("{0}")]
    NhsNumber(#[from] NhsNumberError),
    /// A part is empty, too long or holds invisible characters.
    #[error("{0} must be 1 to 64 visible characters")]
    BadPart(&'static str),
    /// The date of birth is not a date.
    #[error("the date of birth must be a date (YYYY-MM-DD)")]
    BadBirthDate,
    /// Not one of the three ways to search.
    #[error("search by NHS number, by hospital number, or by family name with date of birth")]
    NoWay,
    /// The reason for a search is empty, too long or holds invisible characters.
    #[error("the reason must be 1 to 200 visible characters")]
    BadReason,
}

/// The reason someone gives for looking a patient up outside any conversation ("ward round
/// list", "referral from ED"), as the audit trail keeps it: 1 to [`MAX_REASON_CHARS`]
/// characters, trimmed, none of them control or invisible characters.
///
/// # Errors
/// [`PatientQueryError::BadReason`].
pub fn search_reason(text: &str) -> Result<String, PatientQueryError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_REASON_CHARS || text.chars().any(hidden) {
        return Err(PatientQueryError::BadReason);
    }
    Ok(text.to_owned())
}

impl PatientQuery {
    /// The query these parts make: exactly one of an NHS number, a hospital number, or a family
    /// name with a date of birth (a given name only with them).
    ///
    /// # Errors
    /// The first part refused, or a combination that is not one of the three ways.
    pub fn from_parts(
        nhs_number: Option<&str>,
        hospital_number: Option<&str>,
        family: Option<&str>,
        given: Option<&str>,
        birth_date: Option<&str>,
    ) -> Result<Self, PatientQueryError> {
        let (nhs, mrn, family, given, birth) =
            (some(nhs_number), some(hospital_number), some(family), some(given), some(birth_date));
        match (nhs, mrn, family, given, birth) {
            (Some(n), None, None, None, None) => Ok(Self::NhsNumber(NhsNumber::parse(n)?)),
            (None, Some(m), None, None, None) => Ok(Self::HospitalNumber(part(m, "the hospital number")?)),
            (None, None, Some(f), g, Some(b)) => {
                if !is_date(b) {
                    return Err(PatientQueryError::BadBirthDate);
                }
                Ok(Self::NameAndBirthDate {
                    family: part(f, "the family name")?,
                    given: g.map(|g| part(g, "the given name")).transpose()?,
                    birth_date: b.to_owned(),
                })
            }
            _ => Err(PatientQueryError::NoWay),
        }
    }

    /// What was asked, for the audit trail: `nhs_number 9434765919`, `hospital_number "H123"`,
    /// `name "Smith" "John" born 1970-01-01`.
    #[must_use]
    pub fn describe(&self) -> String {
        // What the clinician typed is quoted, so it cannot pass for another part of the record.
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        match self {
            Self::NhsNumber(n) => format!("nhs_number {}", n.digits()),
            Self::HospitalNumber(m) => format!("hospital_number {}", q(m)),
            Self::NameAndBirthDate { family, given, birth_date } => match given {
                Some(g) => format!("name {} {} born {birth_date}", q(family), q(g)),
                None => format!("name {} born {birth_date}", q(family)),
            },
        }
    }
}

fn some(p: Option<&str>) -> Option<&str> {
    p.map(str::trim).filter(|p| !p.is_empty())
}

fn part(s: &str, name: &'static str) -> Result<String, PatientQueryError> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > MAX_PART_CHARS || s.chars().any(hidden) {
        return Err(PatientQueryError::BadPart(name));
    }
    Ok(s.to_owned())
}

/// Where a patient is now, and who says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientPlace {
    /// The ward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ward: Option<String>,
    /// The bed (with its bay or room, as the source writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bed: Option<String>,
    /// `adt` (the hospital's ADT feed, as Wardline last heard) or `record` (the EPR's current
    /// encounter).
    pub source: PlaceSource,
}

/// Who told Wardline where a patient is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceSource {
    /// The ADT feed.
    Adt,
    /// The EPR's current encounter.
    Record,
}

/// A patient as found in the EPR: what a clinician needs to be sure it is the right one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientSummary {
    /// The EPR's id of the Patient resource.
    pub id: String,
    /// The name to show ("SMITH, John" style: family in capitals, then given names).
    pub name: String,
    /// Date of birth (`YYYY-MM-DD`), if the record has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// `male`, `female`, `other`, `unknown`, if the record has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// The NHS number, if the record has a valid one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nhs_number: Option<NhsNumber>,
    /// The hospital number, if the record has one in the configured system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hospital_number: Option<String>,
    /// Where they are now, if anyone says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<PatientPlace>,
    /// The EPR's id of their current encounter (the admission), if it has one in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// The record is restricted (confidentiality `R` or `V`: a protected address, a VIP):
    /// Wardline never shows where they are, only that the record is restricted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restricted: bool,
    /// The record says the patient has died (`deceasedBoolean` true, or a `deceasedDateTime`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deceased: bool,
    /// The record is not in use (`active` false): kept, but not the one to work from.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inactive: bool,
    /// The record was merged into another (a `link` of type `replaced-by`): not the one to
    /// use.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub merged: bool,
    /// The EPR id of the record it was merged into, when the link names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    /// Where they are could not be read (the EPR failed to answer): unknown, which is not
    /// "not admitted".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub place_unknown: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_way_to_search_is_taken() {
        let q = PatientQuery::from_parts(Some("943 476 5919"), None, None, None, None);
        assert!(matches!(q, Ok(PatientQuery::NhsNumber(_))));
        assert_eq!(
            PatientQuery::from_parts(Some("9434765918"), None, None, None, None),
            Err(PatientQueryError::NhsNumber(NhsNumberError::CheckDigit))
        );
        assert_eq!(
            PatientQuery::from_parts(None, Some(" H123 "), None, None, None),
            Ok(PatientQuery::HospitalNumber("H123".into()))
        );
        let by_name = PatientQuery::from_parts(None, None, Some("Smith"), Some("John"), Some("1970-01-31"));
        assert_eq!(by_name.map(|q| q.describe()), Ok(r#"name "Smith" "John" born 1970-01-31"#.into()));
        let forged = PatientQuery::from_parts(None, Some("H1; found=0"), None, None, None);
        assert_eq!(forged.map(|q| q.describe()), Ok(r#"hospital_number "H1; found=0""#.into()));
        // A name alone, a name with a date that is not one, two ways at once, nothing.
        for (n, m, f, g, b) in [
            (None, None, Some("Smith"), None, None),
            (None, None, None, Some("John"), Some("1970-01-01")),
            (Some("9434765919"), Some("H1"), None, None, None),
            (Some("9434765919"), None, Some("Smith"), None, Some("1970-01-01")),
            (None, None, None, None, None),
            (None, Some("  "), None, None, None),
        ] {
            assert_eq!(PatientQuery::from_parts(n, m, f, g, b), Err(PatientQueryError::NoWay), "{n:?} {m:?} {f:?}");
        }
        assert_eq!(
            PatientQuery::from_parts(None, None, Some("Smith"), None, Some("1970-02-30")),
            Err(PatientQueryError::BadBirthDate)
        );
        assert_eq!(
            PatientQuery::from_parts(None, Some("H\u{202e}1"), None, None, None),
            Err(PatientQueryError::BadPart("the hospital number"))
        );
        assert_eq!(
            PatientQuery::from_parts(None, None, Some(&"x".repeat(65)), None, Some("1970-01-01")),
            Err(PatientQueryError::BadPart("the family name"))
        );
    }

    #[test]
    fn a_reason_is_visible_text_of_at_most_200_characters() {
        assert_eq!(search_reason("  ward round list "), Ok("ward round list".into()));
        assert_eq!(search_reason(&"é".repeat(200)).map(|r| r.chars().count()), Ok(200));
        for bad in ["", "   ", "ward\u{200b}round", "line\nbreak", "\u{202e}dnuor"] {
            assert_eq!(search_reason(bad), Err(PatientQueryError::BadReason), "{bad:?}");
        }
        assert_eq!(search_reason(&"x".repeat(201)), Err(PatientQueryError::BadReason));
    }
}
