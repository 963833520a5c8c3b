//! Following delivered alarms: what became of each (delivered to whom, read by whom, who
//! accepted or declined, each escalation step, the failsafe) is read from the one place the
//! server computes it (the message's status and its escalation) and recorded once per fact,
//! so the source, the timeline and the audit trail agree with what the conversation shows.

use serde_json::json;
use wardline_store::{Alarm, EscalationEnd, StatusFact};
use wardline_types::alarm::AlarmOutcome;
use wardline_types::priority::Means;

use super::AlarmService;
use crate::ServiceResult;

/// Most delivered alarms looked at in one pass.
const BATCH: usize = 200;

impl AlarmService {
    /// One pass over the alarms delivered and waiting for an acceptance: their new facts
    /// recorded, and their outcome once someone accepted or the failsafe was reached.
    /// Returns how many alarms had new facts.
    ///
    /// # Errors
    /// A store that cannot be read or written.
    pub async fn follow_status(&self) -> ServiceResult<usize> {
        let mut after = 0;
        let mut changed = 0;
        loop {
            let batch = self.store.notified_alarms(after, BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            let full = batch.len() == BATCH;
            for alarm in batch {
                if self.follow(&alarm).await? {
                    changed += 1;
                }
            }
            if !full {
                break;
            }
        }
        Ok(changed)
    }

    /// The facts of one delivered alarm; `true` if any was new.
    pub(super) async fn follow(&self, alarm: &Alarm) -> ServiceResult<bool> {
        let Some(event) = alarm.routing.as_ref().and_then(|r| r.event.clone()) else { return Ok(false) };
        let Some(message) = self.store.event(&event).await? else { return Ok(false) };
        let status = self.status.status_for_server(&message).await?;
        let mut facts = Vec::new();
        let fact = |kind: &str, user: Option<&ruma::UserId>, detail: serde_json::Value, at| StatusFact {
            kind: kind.into(),
            user: user.map(ToOwned::to_owned),
            detail: detail.to_string(),
            at,
        };
        for r in &status.recipients {
            let role = r.as_role.as_ref().map(|(id, _)| id.to_string());
            if let Some(at) = r.delivered.or(r.read) {
                facts.push(fact("delivered", Some(&r.user_id), json!({ "as_role": role }), at));
            }
            if let Some(at) = r.read {
                facts.push(fact("read", Some(&r.user_id), json!({ "as_role": role }), at));
            }
        }
        let answers = status.recipients.iter().filter_map(|r| r.answer.as_ref().map(|a| (&r.user_id, a)));
        for (user, a) in answers.chain(status.other_answers.iter().map(|(u, a)| (u, a))) {
            let kind = match a.means {
                Means::Accept => "accepted",
                Means::Decline => "declined",
                Means::Info => continue,
            };
            facts.push(fact(kind, Some(user), json!({ "option": a.option, "reason": a.reason }), a.ts));
        }
        let mut outcome = None;
        if let Some(esc) = self.store.escalation(&event).await? {
            for done in &esc.log {
                let step = done.step + 1;
                facts.push(fact(&format!("escalated.{step}"), None, json!({ "step": step }), done.ts));
            }
            match esc.ended {
                Some((EscalationEnd::Accepted, _)) => outcome = Some(AlarmOutcome::Accepted),
                Some((EscalationEnd::Failsafe, at)) => {
                    facts.push(fact("failsafe", None, json!({}), at));
                    facts.push(fact("undeliverable", None, json!({ "reason": "failsafe" }), at));
                    outcome = Some(AlarmOutcome::Failsafe);
                }
                _ => {}
            }
        }
        // Written only if something is new: most passes find nothing, and read only.
        let known = self.store.alarm_status(&alarm.id).await?;
        facts.retain(|f| !known.iter().any(|k| k.kind == f.kind && k.user == f.user));
        if facts.is_empty() && outcome.is_none_or(|o| o == alarm.outcome) {
            return Ok(false);
        }
        let new = self.record(alarm, facts, outcome).await?;
        Ok(!new.is_empty())
    }
}
