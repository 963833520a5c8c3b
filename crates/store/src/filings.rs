//! Filings: conversations written back to the patient's record. Each request to file is stored
//! before anything is sent (who asked, the tie it files under with the patient as tied, the
//! messages), claimed with a lease by the task that sends it, retried, and ended filed (with
//! the record's resource ids) or refused (with the record's reason). What the record holds of
//! each message is kept too ([`FiledEvent`]), replaced when it is filed again, so the
//! conversation can show "Filed to the record" and "Changed since it was filed".
//!
//! **Invariant:** a filing that ends writes its per-message rows in the same write (a refused
//! filing too: what the record took before it refused the rest), and only a pending filing,
//! by the sender whose claim it is, ends or is put back: a sender whose lease ran out (a slow
//! node, a paused process) changes nothing once another has claimed it, except that what the
//! record took from it is still kept (a fact about the record, whoever holds the claim). A
//! claim is named by the time it was made or last renewed.

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

/// What the record was got to hold: its resources (`Communication/123`; an empty string where
/// the record took an entry without saying where) and each message's row. Added to a filing's
/// as it goes (a resource listed once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilingResult {
    /// The record's resources, in the order sent.
    pub resources: Vec<String>,
    /// What the record now holds of each message (replacing earlier rows of the same messages).
    pub events: Vec<FiledEvent>,
}

/// What an ended filing holds in the record, as its end wrote it: its resources, and the
/// messages whose rows are its (a later filing of the same message takes its row over).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilingHeld {
    /// Its resources (without unknown ones).
    pub resources: Vec<String>,
    /// The messages whose rows it wrote and still holds.
    pub events: Vec<OwnedEventId>,
}

/// Filings and what the record holds of each message.
#[async_trait]
pub trait FilingStore: Send + Sync {
    /// Stores a new filing, pending and due at its request time.
    async fn new_filing(&self, filing: NewFiling) -> StoreResult<Filing>;
    /// One filing.
    async fn filing(&self, id: &FilingId) -> StoreResult<Option<Filing>>;
    /// Up to `limit` pending filings due by `now` that nobody claimed since `lease_from`, of
    /// conversations none of whose filings is claimed since then, soonest due first (not
    /// claimed: see [`Self::claim_filing`]).
    async fn due_filings(&self, now: Timestamp, lease_from: Timestamp, limit: usize) -> StoreResult<Vec<FilingId>>;
    /// Claims a filing that is pending, due by `now` and not claimed since `lease_from`, while
    /// no other filing of its conversation is claimed since then (one sender per conversation at
    /// a time: two never race to write the same message); `false` if it is not (another sender
    /// has it or one of its conversation's, or it ended). The claim is named `now`.
    async fn claim_filing(&self, id: &FilingId, now: Timestamp, lease_from: Timestamp) -> StoreResult<bool>;
    /// Renews the claim named `claim` to `now` (the new name) and keeps what the record has
    /// taken meanwhile (`progress`: its resources added to the filing's, its rows written), in
    /// one write; `false` if the claim is no longer the sender's (taken over, or ended).
    async fn renew_filing(
        &self,
        id: &FilingId,
        claim: Timestamp,
        now: Timestamp,
        progress: FilingResult,
    ) -> StoreResult<bool>;
    /// A filing claimed as `claim` is filed: the rest of its resources and rows (added to what
    /// earlier renewals kept), in one write; what it ended holding, read in the same write.
    /// `None` if the claim is no longer the sender's.
    async fn finish_filing(
        &self,
        id: &FilingId,
        claim: Timestamp,
        done: FilingResult,
        now: Timestamp,
    ) -> StoreResult<Option<FilingHeld>>;
    /// A filing claimed as `claim` is to be tried again at `due` (an attempt more, its claim
    /// ends), keeping what the record took since the last renewal (`done`); `error` says why
    /// the attempt failed. `false` if the claim is no longer the sender's.
    async fn retry_filing(
        &self,
        id: &FilingId,
        claim: Timestamp,
        due: Timestamp,
        error: &str,
        done: FilingResult,
    ) -> StoreResult<bool>;
    /// A filing claimed as `claim` is refused (`reason`: the record's words, or that it never
    /// answered), keeping what the record took before it refused the rest (`done`, added to
    /// what renewals kept); what it ended holding, read in the same write. `None` if the claim
    /// is no longer the sender's.
    async fn refuse_filing(
        &self,
        id: &FilingId,
        claim: Timestamp,
        reason: &str,
        done: FilingResult,
        now: Timestamp,
    ) -> StoreResult<Option<FilingHeld>>;
    /// How many of `room`'s filings are pending.
    async fn pending_filings(&self, room: &RoomId) -> StoreResult<usize>;
    /// `room`'s filings, newest first, at most `limit`.
    async fn room_filings(&self, room: &RoomId, limit: usize) -> StoreResult<Vec<Filing>>;
    /// What the record holds of `room`'s messages.
    async fn filed_events(&self, room: &RoomId) -> StoreResult<Vec<FiledEvent>>;
    /// When the next pending filing may be claimed: its due time, or the end of the lease of its
    /// conversation's claimed filing (`lease_ms` after the claim, its own or another's) if that
    /// is later.
    async fn next_filing_due(&self, lease_ms: u64) -> StoreResult<Option<Timestamp>>;
}
