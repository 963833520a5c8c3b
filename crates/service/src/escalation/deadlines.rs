//! Answer deadlines: a question (`org.wardline.ask` with `deadline_ms`, at any priority) whose
//! deadline passes before anyone accepts tells its sender, in the conversation, who declined
//! and who has not answered. Stored timers ([`wardline_store::DeadlineStore`]), run by the
//! escalation engine's pass on the injected clock like escalation steps.

use ruma::{EventId, OwnedUserId};
use serde_json::json;
use wardline_store::{AnswerDeadline, DeadlineEnd};
use wardline_types::audit::Outcome;
use wardline_types::priority::{Means, Request};
use wardline_types::{StoredEvent, Timestamp};

use super::EscalationService;
use crate::ServiceResult;
use crate::audit::Actor;

/// Most due deadlines handled in one pass.
const DUE_BATCH: usize = 50;

/// The kind of the notice in the server's `org.wardline.escalation` block.
pub const KIND: &str = "deadline";

impl EscalationService {
    /// Sets the deadline of a question that asks for one.
    pub(super) async fn open_deadline(&self, message: &StoredEvent, request: &Request) -> ServiceResult<()> {
        let Some(after) = request.ask.deadline_ms else { return Ok(()) };
        let opened = self
            .store
            .open_deadline(AnswerDeadline {
                event_id: message.event.event_id.clone(),
                room_id: message.event.room_id.clone(),
                sender: message.event.sender.clone(),
                due: Timestamp(message.event.origin_server_ts.0.saturating_add(after)),
                ended: None,
            })
            .await?;
        if opened {
            let actor = Actor::system(message.event.sender.clone());
            self.record(&actor, message, format!("answer deadline set: {} min", after / 60_000), Outcome::Success)?;
        }
        Ok(())
    }

    /// The question was deleted (by anyone): its deadline has nothing left to tell.
    pub(super) async fn cancel_deadline(&self, target: &EventId, at: Timestamp) -> ServiceResult<()> {
        self.store.end_deadline(target, DeadlineEnd::Cancelled, at).await?;
        Ok(())
    }

    /// Handles every deadline due by the clock.
    pub(super) async fn run_due_deadlines(&self) -> ServiceResult<()> {
        let now = self.clock.now();
        for d in self.store.due_deadlines(now, DUE_BATCH).await? {
            let end = match self.deadline_passed(&d).await {
                Ok(end) => end,
                Err(e @ crate::ServiceError::Store(_)) => return Err(e),
                // The sender cannot be told (they left; the room refuses the notice): logged and
                // recorded, so one question never holds back the others.
                Err(e) => {
                    tracing::error!(error = %e, message = %d.event_id, "an answer deadline could not be told");
                    DeadlineEnd::Failed
                }
            };
            if self.store.end_deadline(&d.event_id, end, now).await?
                && let Some(message) = self.store.event(&d.event_id).await?
            {
                let outcome = if end == DeadlineEnd::Failed { Outcome::Failure } else { Outcome::Success };
                self.record(
                    &Actor::system(d.sender.clone()),
                    &message,
                    format!("answer deadline: {}", end.as_str()),
                    outcome,
                )?;
            }
        }
        Ok(())
    }

    /// What a passed deadline does: nothing if someone accepted, else tells the sender.
    pub(super) async fn deadline_passed(&self, d: &AnswerDeadline) -> ServiceResult<DeadlineEnd> {
        let Some(message) = self.store.event(&d.event_id).await? else { return Ok(DeadlineEnd::Cancelled) };
        if message.redacted_because.is_some() {
            return Ok(DeadlineEnd::Cancelled);
        }
        let status = self.status.status_for_server(&message).await?;
        if status.answer_counts().0 > 0 {
            return Ok(DeadlineEnd::Accepted);
        }
        let mut declined = Vec::new();
        let mut waiting: Vec<OwnedUserId> = Vec::new();
        for r in &status.recipients {
            match &r.answer {
                Some(a) if a.means == Means::Decline => {
                    let name = self.name_of(&r.user_id).await?;
                    declined.push(match &a.reason {
                        Some(reason) => format!("{name} ({})", one_line(reason)),
                        None => name,
                    });
                }
                Some(_) => {}
                None => waiting.push(r.user_id.clone()),
            }
        }
        let mut names = Vec::new();
        for u in &waiting {
            names.push(self.name_of(u).await?);
        }
        let minutes = d.due.millis_since(message.event.origin_server_ts) / 60_000;
        let mut body = format!("Nobody has accepted in {minutes} min.");
        if !declined.is_empty() {
            body.push_str(&format!(" Declined: {}.", declined.join(", ")));
        }
        if !names.is_empty() {
            body.push_str(&format!(" Not answered: {}.", names.join(", ")));
        }
        let content = json!({
            "msgtype": "m.text",
            "body": body,
            "m.mentions": { "user_ids": [d.sender] },
            super::steps::NOTICE: { "message": d.event_id, "kind": KIND, "not_answered": waiting },
        });
        // The transaction id makes a repeat after a crash the same notice.
        let txn = format!("deadline-{}", d.event_id);
        self.rooms.post_server_notice(&d.room_id, &d.sender, &txn, content).await?;
        Ok(DeadlineEnd::NotAccepted)
    }
}

/// A reason on one line, shortened: it is quoted in a notice.
fn one_line(reason: &str) -> String {
    let line: String = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 80 { format!("{}…", line.chars().take(79).collect::<String>()) } else { line }
}
