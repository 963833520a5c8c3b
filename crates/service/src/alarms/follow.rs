//! Following delivered alarms: what became of each (delivered to whom, read by whom, who
//! accepted or declined, each escalation step, the failsafe) is read from the one place the
//! server computes it (the message's status and its escalation) and recorded once per fact,
//! so the source, the timeline and the audit trail agree with what the conversation shows.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use wardline_store::{Alarm, ChangeTopic, EscalationEnd, StatusFact};
use wardline_types::alarm::{AlarmId, AlarmOutcome, IntakeProtocol};
use wardline_types::priority::Means;
use wardline_types::{StreamPos, Timestamp};

use super::AlarmService;
use crate::ServiceResult;

/// Most delivered alarms read at a time.
const BATCH: usize = 200;
/// How long an accepted alarm (or one at the failsafe) is still followed: its acceptance may be
/// taken back, or come after the failsafe, for this long after it was received.
const SETTLED_FOR_MS: u64 = 24 * 3_600_000;
/// Every this many passes, every followed alarm is looked at, changed or not (another node's
/// changes are not in this node's change log).
const FULL_EVERY: u64 = 10;

/// What the status passes remember (a cache: the store proves everything): where the stream
/// was when each alarm was last followed, and how many passes ran.
#[derive(Debug, Default)]
pub(super) struct FollowCache {
    seen: HashMap<AlarmId, StreamPos>,
    passes: u64,
}

impl AlarmService {
    /// One pass over the followed alarms (delivered and waiting, or accepted or at the
    /// failsafe for a while): the new facts of each whose conversation changed since it was
    /// last followed (of every one, each [`FULL_EVERY`] passes) recorded, with the outcome they
    /// make. Returns how many alarms had new facts.
    ///
    /// # Errors
    /// A store that cannot be read or written.
    pub async fn follow_status(&self) -> ServiceResult<usize> {
        let full = {
            let mut cache = self.follow_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.passes += 1;
            cache.passes % FULL_EVERY == 1
        };
        let since = Timestamp(self.clock.now().0.saturating_sub(SETTLED_FOR_MS));
        let mut after = 0;
        let mut changed = 0;
        let mut followed = HashSet::new();
        loop {
            let batch = self.store.followed_alarms(after, since, BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            let more = batch.len() == BATCH;
            for alarm in batch {
                followed.insert(alarm.id.clone());
                let at = self.store.current_pos();
                if !full && !self.changed_since_followed(&alarm) {
                    continue;
                }
                if self.follow(&alarm).await? {
                    changed += 1;
                }
                let mut cache = self.follow_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                cache.seen.insert(alarm.id.clone(), at);
            }
            if !more {
                break;
            }
        }
        if full {
            let mut cache = self.follow_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.seen.retain(|id, _| followed.contains(id));
        }
        Ok(changed)
    }

    /// Has the alarm's conversation had new events, receipts or deliveries since it was last
    /// followed on this node? (Not followed yet: yes.)
    fn changed_since_followed(&self, alarm: &Alarm) -> bool {
        let Some(room) = alarm.routing.as_ref().and_then(|r| r.room.clone()) else { return false };
        let seen =
            self.follow_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).seen.get(&alarm.id).copied();
        let Some(seen) = seen else { return true };
        [
            ChangeTopic::RoomEvents(room.clone()),
            ChangeTopic::RoomReceipts(room.clone()),
            ChangeTopic::RoomDeliveries(room),
        ]
        .iter()
        .any(|t| self.store.last_change(t).pos > seen)
    }

    /// The facts of one delivered alarm; `true` if any was new.
    pub(super) async fn follow(&self, alarm: &Alarm) -> ServiceResult<bool> {
        let Some(event) = alarm.routing.as_ref().and_then(|r| r.event.clone()) else { return Ok(false) };
        let Some(message) = self.store.event(&event).await? else { return Ok(false) };
        let status = self.status.status_for_server(&message).await?;
        let mut facts = Vec::new();
        let fact =
            |kind: &str, user: Option<&ruma::UserId>, answer: Option<&ruma::EventId>, detail: serde_json::Value, at| {
                StatusFact {
                    kind: kind.into(),
                    user: user.map(ToOwned::to_owned),
                    answer: answer.map(ToOwned::to_owned),
                    detail: detail.to_string(),
                    at,
                }
            };
        for r in &status.recipients {
            let role = r.as_role.as_ref().map(|(id, _)| id.to_string());
            if let Some(at) = r.delivered.or(r.read) {
                facts.push(fact("delivered", Some(&r.user_id), None, json!({ "as_role": role }), at));
            }
            if let Some(at) = r.read {
                facts.push(fact("read", Some(&r.user_id), None, json!({ "as_role": role }), at));
            }
        }
        let answers: Vec<_> = status
            .recipients
            .iter()
            .filter_map(|r| r.answer.as_ref().map(|a| (&r.user_id, a)))
            .chain(status.other_answers.iter().map(|(u, a)| (u, a)))
            .collect();
        let someone_accepts = answers.iter().any(|(_, a)| a.stands == Some(Means::Accept));
        let current: HashSet<ruma::OwnedEventId> = answers.iter().map(|(_, a)| a.event_id.clone()).collect();
        for (user, a) in answers {
            let kind = match a.means {
                Means::Accept => "accepted",
                Means::Decline => "declined",
                // An answer that is neither matters to a page's sender, who hears each answer.
                Means::Info if alarm.protocol == IntakeProtocol::Wctp => "answered",
                Means::Info => continue,
            };
            let detail = json!({ "option": a.option, "reason": a.reason });
            facts.push(fact(kind, Some(user), Some(&a.event_id), detail, a.ts));
        }
        // An acceptance taken back (its answer deleted): a fact of its own, so the source hears
        // that the alarm is no longer accepted by them.
        let known = self.store.alarm_status(&alarm.id).await?;
        for k in known.iter().filter(|k| k.kind == "accepted") {
            let (Some(user), Some(answer)) = (&k.user, &k.answer) else { continue };
            if current.contains(answer) {
                continue;
            }
            let gone = self.store.event(answer).await?.is_none_or(|e| e.redacted_because.is_some());
            if gone {
                facts.push(fact("withdrawn", Some(user), Some(answer), json!({}), self.clock.now()));
            }
        }
        // The outcome as the escalation and the answers have it now: accepted once the
        // escalation stopped for an acceptance (one, or the several an incident needs) or,
        // after the failsafe, while someone's latest answer accepts; waiting (again, if an
        // acceptance was taken back) while it escalates.
        let mut outcome = None;
        if let Some(esc) = self.store.escalation(&event).await? {
            for done in &esc.log {
                let step = done.step + 1;
                facts.push(fact(&format!("escalated.{step}"), None, None, json!({ "step": step }), done.ts));
            }
            if let Some((EscalationEnd::Failsafe, at)) = esc.ended {
                facts.push(fact("failsafe", None, None, json!({}), at));
                facts.push(fact("undeliverable", None, None, json!({ "reason": "failsafe" }), at));
            }
            outcome = match (esc.ended, someone_accepts) {
                (Some((EscalationEnd::Accepted, _)), _) | (Some((EscalationEnd::Failsafe, _)), true) => {
                    Some(AlarmOutcome::Accepted)
                }
                (Some((EscalationEnd::Failsafe, _)), false) => Some(AlarmOutcome::Failsafe),
                (None, _) => Some(AlarmOutcome::Notified),
                (Some((EscalationEnd::Cancelled, _)), _) => None,
            };
        }
        // Written only if something is new: most passes find nothing, and read only.
        facts.retain(|f| !known.iter().any(|k| k.kind == f.kind && k.user == f.user && k.answer == f.answer));
        if facts.is_empty() && outcome.is_none_or(|o| o == alarm.outcome) {
            return Ok(false);
        }
        let new = self.record(alarm, facts, outcome).await?;
        Ok(!new.is_empty())
    }
}
