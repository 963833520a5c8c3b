//! Conversations about a patient: which patient (as the EPR had them when tied) a conversation
//! is about now, and since when; each earlier tie kept with when it ended, so a transcript names
//! every patient a conversation was ever about and for which part of it.
//!
//! **Invariant:** a conversation has at most one current tie; tying another patient ends it in
//! the same write. Patient details live here, behind the service's membership check, never in
//! room state or events.

use async_trait::async_trait;
use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use wardline_types::Timestamp;
use wardline_types::patient::PatientSummary;

use crate::StoreResult;

/// One tie of a conversation to a patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientTie {
    /// The conversation.
    pub room_id: OwnedRoomId,
    /// Its place among the conversation's ties (1, 2, …).
    pub version: u64,
    /// The patient as the EPR described them when tied (the place, if any, as it was then).
    pub patient: PatientSummary,
    /// Who tied it.
    pub tied_by: OwnedUserId,
    /// When.
    pub tied_at: Timestamp,
    /// Who ended it (removed the patient, or tied another) and when; `None` while current.
    pub ended: Option<(OwnedUserId, Timestamp)>,
}

/// Ties of conversations to patients.
#[async_trait]
pub trait PatientContextStore: Send + Sync {
    /// Ties `room` to `patient`, ending its current tie (if any) in the same write; returns the
    /// new tie.
    async fn tie_patient(
        &self,
        room: &RoomId,
        patient: &PatientSummary,
        by: &UserId,
        at: Timestamp,
    ) -> StoreResult<PatientTie>;
    /// Ends `room`'s current tie; the tie ended, or `None` if it had none.
    async fn untie_patient(&self, room: &RoomId, by: &UserId, at: Timestamp) -> StoreResult<Option<PatientTie>>;
    /// `room`'s current tie.
    async fn room_patient(&self, room: &RoomId) -> StoreResult<Option<PatientTie>>;
    /// Every tie `room` has had, oldest first.
    async fn room_patient_history(&self, room: &RoomId) -> StoreResult<Vec<PatientTie>>;
    /// The conversations tied to the patient with this EPR id now, newest tie first, at most
    /// `limit`.
    async fn rooms_about_patient(&self, patient_id: &str, limit: usize) -> StoreResult<Vec<PatientTie>>;
    /// Every tie of any conversation to the patient with this EPR id, ended or not, oldest
    /// first (for an investigation: who saw what was said about them, and when).
    async fn patient_ties(&self, patient_id: &str) -> StoreResult<Vec<PatientTie>>;
}
