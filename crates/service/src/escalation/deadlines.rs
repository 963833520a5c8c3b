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

    /// The question was deleted: its deadline has nothing left to tell. Deleted by someone
    /// other than its sender (a moderator), the sender is told at once, and who did it is
    /// recorded.
    pub(super) async fn cancel_deadline(&self, target: &EventId, redaction: &StoredEvent) -> ServiceResult<()> {
        let Some(d) = self.store.deadline(target).await? else { return Ok(()) };
        if d.ended.is_some() {
            return Ok(());
        }
        let deleter = &redaction.event.sender;
        if *deleter != d.sender {
            let Some(message) = self.store.event(target).await? else { return Ok(()) };
            self.record(
                &Actor::system(deleter.clone()),
                &message,
                "answer deadline: question deleted".into(),
                Outcome::Success,
            )?;
            let name = self.name_of(deleter).await?;
            let content = json!({
                "msgtype": "m.text",
                "body": format!("{name} deleted your question: nobody can answer it now."),
                "m.mentions": { "user_ids": [d.sender] },
                super::steps::NOTICE: { "message": target, "kind": KIND, "deleted_by": deleter },
            });
            let txn = format!("deadline-{target}-deleted");
            self.rooms.post_server_notice(&d.room_id, &d.sender, &txn, content).await?;
        }
        self.store.end_deadline(target, DeadlineEnd::Cancelled, redaction.event.origin_server_ts).await?;
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
        // Recipients and anyone else who answered (brought in later): who declines, who
        // answered something else ("Call me"), who has not answered.
        let mut declined = Vec::new();
        let mut other = Vec::new();
        let mut waiting: Vec<OwnedUserId> = Vec::new();
        let answers = status
            .recipients
            .iter()
            .map(|r| (&r.user_id, r.answer.as_ref()))
            .chain(status.other_answers.iter().map(|(u, a)| (u, Some(a))));
        for (user, answer) in answers {
            let Some(a) = answer else {
                waiting.push(user.clone());
                continue;
            };
            let name = self.name_of(user).await?;
            if a.stands == Some(Means::Decline) {
                declined.push(match &a.reason {
                    Some(reason) => format!("{name} ({})", one_line(reason)),
                    None => name,
                });
            } else {
                other.push(format!("{name} ({})", one_line(&a.label)));
            }
        }
        let mut names = Vec::new();
        for u in &waiting {
            names.push(self.name_of(u).await?);
        }
        // A sender who left cannot read a notice there: recorded as failed, not told.
        let present = self.rooms.with_state(&d.room_id, |s| s.membership(&d.sender)).await?;
        if present != Some(wardline_types::Membership::Join) {
            return Err(crate::ServiceError::forbidden("the sender has left the conversation"));
        }
        let minutes = d.due.millis_since(message.event.origin_server_ts) / 60_000;
        let mut body = format!("Nobody has accepted in {minutes} min.");
        if !declined.is_empty() {
            body.push_str(&format!(" Declined: {}.", declined.join(", ")));
        }
        if !other.is_empty() {
            body.push_str(&format!(" Other answers: {}.", other.join(", ")));
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

/// What someone wrote, on one line, shortened and without invisible formatting characters
/// (bidirectional overrides, zero-width marks): it is quoted inside the server's notice.
fn one_line(reason: &str) -> String {
    let visible: String = reason.chars().filter(|c| !is_format_char(*c)).collect();
    let line: String = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 80 { format!("{}…", line.chars().take(79).collect::<String>()) } else { line }
}

/// Unicode "format" characters that change how text around them reads without showing
/// themselves: bidirectional embeddings, overrides and isolates, zero-width joiners and marks.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod unit {
    use super::one_line;

    #[test]
    fn a_quoted_reason_is_one_visible_line() {
        assert_eq!(one_line("in theatre\n  all night"), "in theatre all night");
        assert_eq!(one_line("ok\u{202E}detpecca\u{202C} \u{200B}x"), "okdetpecca x");
        assert_eq!(one_line(&"a".repeat(100)).chars().count(), 80);
    }
}
