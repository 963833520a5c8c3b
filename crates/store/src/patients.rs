//! Patients as the hospital's ADT feed (HL7 v2 `ADT^A01/A02/A03/A08`) describes them: who they
//! are and which bed they are in, so an alarm that names a patient but no bed finds the bed, and
//! an incident names the patient.
//!
//! **Invariant:** a patient's record only moves forward in the feed's time. An update is applied
//! only if its message time (`EVN-2`, else `MSH-7`) is not older than the one the record was last
//! written from; an older one (a message delayed or resent out of order) is refused as stale and
//! changes nothing. Equal times apply (a resend of the same message writes the same values).

use async_trait::async_trait;
use wardline_types::Timestamp;
use wardline_types::alarm::Location;

use crate::StoreResult;

/// What an ADT message says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdtEvent {
    /// `A01`: admitted to a bed.
    Admit,
    /// `A02`: moved to another bed.
    Transfer,
    /// `A03`: discharged (no longer in a bed).
    Discharge,
    /// `A08`: details changed.
    Update,
}

impl AdtEvent {
    /// The stable name, as stored.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admit => "admit",
            Self::Transfer => "transfer",
            Self::Discharge => "discharge",
            Self::Update => "update",
        }
    }
}

/// What one ADT message says about a patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientUpdate {
    /// The patient: `<assigning authority>|<identifier>` (`HOSP|H123456`).
    pub key: String,
    /// What happened.
    pub event: AdtEvent,
    /// The name, if the message gives one ("Jane Doe").
    pub name: Option<String>,
    /// Date of birth (`YYYY-MM-DD`), if given.
    pub birth_date: Option<String>,
    /// Administrative sex (`PID-8`), if given.
    pub sex: Option<String>,
    /// The bed (`PV1-3`), if the message gives one (a discharge clears it whatever it says).
    pub location: Option<Location>,
    /// The hospital service (`PV1-10`), if given.
    pub specialty: Option<String>,
    /// The message's own time (`EVN-2`, else `MSH-7`): what orders updates.
    pub message_time: Timestamp,
    /// When Wardline received it.
    pub received: Timestamp,
}

/// A patient as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    /// `<assigning authority>|<identifier>`.
    pub key: String,
    /// The name, if known.
    pub name: Option<String>,
    /// Date of birth, if known.
    pub birth_date: Option<String>,
    /// Administrative sex, if known.
    pub sex: Option<String>,
    /// The bed they are in (empty once discharged).
    pub location: Location,
    /// The hospital service, if known.
    pub specialty: Option<String>,
    /// When last admitted (the message time).
    pub admitted: Option<Timestamp>,
    /// When discharged (the message time), if they are not in a bed now.
    pub discharged: Option<Timestamp>,
    /// The message time the record was last written from.
    pub message_time: Timestamp,
    /// When it was last written.
    pub updated: Timestamp,
}

/// What became of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdtApplied {
    /// Applied: the record as it is now.
    Applied(Patient),
    /// Older than what the record was written from: nothing changed (the record as it is).
    Stale(Patient),
}

/// Patients from the ADT feed.
#[async_trait]
pub trait PatientStore: Send + Sync {
    /// Applies an update, if it is not older than the record (see the module's invariant).
    async fn apply_adt(&self, update: PatientUpdate) -> StoreResult<AdtApplied>;
    /// One patient, by `<assigning authority>|<identifier>`.
    async fn patient(&self, key: &str) -> StoreResult<Option<Patient>>;
    /// The patient in a bed now (ward, room and bed compared as given; the site too when both
    /// have one), if the feed has placed one there.
    async fn patient_in_bed(&self, location: &Location) -> StoreResult<Option<Patient>>;
}
