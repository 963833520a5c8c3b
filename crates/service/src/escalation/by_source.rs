//! Escalations of alarms (`alarms/`): a hospital system's alarm escalates by its rule's policy,
//! and ends when the source ends the alarm.

use ruma::EventId;
use wardline_store::EscalationEnd;
use wardline_types::StoredEvent;
use wardline_types::alarm::{ALARM, AlarmId};
use wardline_types::audit::Outcome;
use wardline_types::escalation::Policy;
use wardline_types::integration::IntegrationId;

use super::EscalationService;
use crate::ServiceResult;
use crate::audit::Actor;

impl EscalationService {
    /// The policy of an alarm's rule, if `message` is an alarm posted by its own integration in
    /// the conversation dispatch chose and the rule has one (else the conversation's chain
    /// applies).
    pub(super) async fn alarm_policy(&self, message: &StoredEvent) -> ServiceResult<Option<Policy>> {
        let Some(integration) = IntegrationId::of_user(&message.event.sender) else { return Ok(None) };
        let id = message.event.content.get(ALARM).and_then(|a| a.get("alarm_id")).and_then(|a| a.as_str());
        let Some(id) = id.and_then(|i| AlarmId::parse(i).ok()) else { return Ok(None) };
        let Some(alarm) = self.store.alarm(&id).await? else { return Ok(None) };
        Ok(alarm
            .routing
            .filter(|r| alarm.integration == integration && r.room.as_deref() == Some(&*message.event.room_id))
            .and_then(|r| r.policy))
    }

    /// The alarm posted as `message` ended (`why`: "Nurse call reset by the source",
    /// "Incident closed by Dr Shah"): its escalation, if still running, ends as cancelled, and
    /// the end is audited (the conversation is told by the alarm's own notice or state).
    /// Idempotent.
    pub async fn end_for_alarm(&self, message: &EventId, why: &str) -> ServiceResult<()> {
        let Some(esc) = self.store.escalation(message).await? else { return Ok(()) };
        if esc.ended.is_some() {
            return Ok(());
        }
        let Some(stored) = self.store.event(message).await? else { return Ok(()) };
        if self.store.end_escalation(message, EscalationEnd::Cancelled, self.clock.now()).await? {
            let actor = Actor::system(esc.sender.clone());
            self.record(&actor, &stored, format!("cancelled: {why}"), Outcome::Success)?;
        }
        Ok(())
    }
}
