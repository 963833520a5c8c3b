//! Filings: conversations written back to the patient's record. Each request to file is stored
//! before anything is sent (who asked, the tie it files under with the patient as tied, the
//! messages), claimed with a lease by the task that sends it, retried, and ended filed (with
//! the record's resource ids) or refused (with the record's reason). What the record holds of
//! each message is kept too ([`FiledEvent`]), replaced when it is filed again, so the
//! conversation can show "Filed to the record" and "Changed since it was filed".
//!
//! **Invariant:** a filing that ends filed writes its per-message rows in the same write, and
//! only a pending filing ends: a second finish (a slow node after a lease ran out) changes
//! nothing.

use async_trait::async_trait;
use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId};
use wardline_types::Timestamp;
use wardline_types::patient::PatientSummary;
use wardline_types::patient::filing::{FilingId, FilingState};

use crate::StoreResult;

/// A filing to store, due at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFiling {
    /// Its id.
    pub id: FilingId,
    /// The conversation.
    pub room_id: OwnedRoomId,
    /// Who asked.
    pub requested_by: OwnedUserId,
    /// When.
    pub requested: Timestamp,
    /// The version of the conversation's tie to the patient it files under.
    pub tie_version: u64,
    /// The patient as tied (the record's Patient and encounter ids, the name shown).
    pub patient: PatientSummary,
    /// The messages, in the conversation's order.
    pub events: Vec<OwnedEventId>,
    /// Whether a transcript is filed too.
    pub transcript: bool,
}

/// A filing as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    /// What was asked.
    pub request: NewFiling,
    /// Where it stands.
    pub state: FilingState,
    /// Attempts that ended (sent and answered, or failed).
    pub attempts: u32,
    /// When it is (or was last) due.
    pub due: Timestamp,
    /// When its sender claimed it, while it is claimed.
    pub claimed: Option<Timestamp>,
    /// Why the last attempt failed, or why it was refused: never message text.
    pub last_error: Option<String>,
    /// The record's resources it wrote (`Communication/123`, `DocumentReference/9`).
    pub resources: Vec<String>,
    /// When it ended.
    pub finished: Option<Timestamp>,
}

/// How the record holds a filed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FiledStatus {
    /// As a message (`Communication.status` `completed`).
    Completed,
    /// As deleted (`entered-in-error`).
    EnteredInError,
}

impl FiledStatus {
    /// `completed`, `entered-in-error` (FHIR's codes).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::EnteredInError => "entered-in-error",
        }
    }

    /// The status named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "completed" => Some(Self::Completed),
            "entered-in-error" => Some(Self::EnteredInError),
            _ => None,
        }
    }
}

/// What the record holds of one message, from the last filing of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiledEvent {
    /// The message.
    pub event_id: OwnedEventId,
    /// Its conversation.
    pub room_id: OwnedRoomId,
    /// The filing that last wrote it.
    pub filing_id: FilingId,
    /// The record's resource (`Communication/123`).
    pub resource: String,
    /// The hash of the message as it was filed (see the service's `content_hash`).
    pub content_hash: String,
    /// How the record holds it.
    pub status: FiledStatus,
    /// When it was filed.
    pub filed: Timestamp,
}

/// Filings and what the record holds of each message.
#[async_trait]
pub trait FilingStore: Send + Sync {
    /// Stores a new filing, pending and due at its request time.
    async fn new_filing(&self, filing: NewFiling) -> StoreResult<Filing>;
    /// One filing.
    async fn filing(&self, id: &FilingId) -> StoreResult<Option<Filing>>;
    /// Up to `limit` pending filings due by `now` that nobody claimed since `lease_from`,
    /// soonest due first (not claimed: see [`Self::claim_filing`]).
    async fn due_filings(&self, now: Timestamp, lease_from: Timestamp, limit: usize) -> StoreResult<Vec<FilingId>>;
    /// Claims a filing that is pending, due by `now` and not claimed since `lease_from`;
    /// `false` if it is not (another sender has it, or it ended).
    async fn claim_filing(&self, id: &FilingId, now: Timestamp, lease_from: Timestamp) -> StoreResult<bool>;
    /// A pending filing is filed: its resources, and what the record now holds of each message
    /// (replacing earlier rows of the same messages), in one write. `false` if it had ended.
    async fn finish_filing(
        &self,
        id: &FilingId,
        resources: Vec<String>,
        events: Vec<FiledEvent>,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// A claimed filing is to be tried again at `due` (an attempt more, its claim ends); `error`
    /// says why the attempt failed.
    async fn retry_filing(&self, id: &FilingId, due: Timestamp, error: &str) -> StoreResult<()>;
    /// A pending filing is refused (`reason`: the record's words, or that it never answered).
    /// `false` if it had ended.
    async fn refuse_filing(&self, id: &FilingId, reason: &str, now: Timestamp) -> StoreResult<bool>;
    /// `room`'s filings, newest first, at most `limit`.
    async fn room_filings(&self, room: &RoomId, limit: usize) -> StoreResult<Vec<Filing>>;
    /// What the record holds of `room`'s messages.
    async fn filed_events(&self, room: &RoomId) -> StoreResult<Vec<FiledEvent>>;
    /// When the next pending filing is due.
    async fn next_filing_due(&self) -> StoreResult<Option<Timestamp>>;
}
