//! Answer deadlines: "tell me if nobody has answered in N minutes" (nobody has accepted),
//! one timer per question.

use async_trait::async_trait;
use ruma::{EventId, OwnedEventId, OwnedRoomId, OwnedUserId};
use wardline_types::Timestamp;

use crate::StoreResult;

/// How an answer deadline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineEnd {
    /// Someone had accepted by then: nothing to tell.
    Accepted,
    /// Nobody had: the sender was told.
    NotAccepted,
    /// The question was deleted first.
    Cancelled,
    /// The sender could not be told (they left the conversation).
    Failed,
}

impl DeadlineEnd {
    /// `accepted`, `not_accepted`, `cancelled`, `failed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::NotAccepted => "not_accepted",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    /// From its name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "accepted" => Some(Self::Accepted),
            "not_accepted" => Some(Self::NotAccepted),
            "cancelled" => Some(Self::Cancelled),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A question's deadline, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerDeadline {
    /// The question (a message with `org.wardline.ask` and `deadline_ms`).
    pub event_id: OwnedEventId,
    /// Its conversation.
    pub room_id: OwnedRoomId,
    /// Who asked, and is told.
    pub sender: OwnedUserId,
    /// When it falls due.
    pub due: Timestamp,
    /// How it ended, and when; `None` while it waits.
    pub ended: Option<(DeadlineEnd, Timestamp)>,
}

/// Answer deadlines.
///
/// **Invariant:** a deadline ends once ([`DeadlineStore::end_deadline`] is conditional on it
/// waiting); what it does when due (a notice with a transaction id derived from the question)
/// is idempotent, so a crash between acting and ending repeats nothing anyone sees.
#[async_trait]
pub trait DeadlineStore: Send + Sync {
    /// Sets the deadline of a question; `false` if it has one already (nothing changes).
    async fn open_deadline(&self, d: AnswerDeadline) -> StoreResult<bool>;
    /// The deadline of a question.
    async fn deadline(&self, event_id: &EventId) -> StoreResult<Option<AnswerDeadline>>;
    /// Waiting deadlines due at `now`, earliest first, at most `limit`.
    async fn due_deadlines(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<AnswerDeadline>>;
    /// When the earliest waiting deadline falls due.
    async fn next_deadline_due(&self) -> StoreResult<Option<Timestamp>>;
    /// Ends a waiting deadline as `end` at `now`; `false` if it was not waiting.
    async fn end_deadline(&self, event_id: &EventId, end: DeadlineEnd, now: Timestamp) -> StoreResult<bool>;
}
