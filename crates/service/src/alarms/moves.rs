//! A clinical alert moving from the failsafe to its rule's people: a preliminary result (`>6`)
//! left a rule's threshold possible, so the failsafe's people had it; its final result (9)
//! proves it, so the rule's people get it in their conversation, and the alarm is theirs from
//! then on (an acceptance there is followed, an update edits it there).
//!
//! **Only while it waits.** An alert someone at the failsafe has already accepted stays there
//! (its message says the new value): nobody is paged for what is being seen to.
//!
//! **Crash-safe, step by step.** Each step can be done again without doing it twice: (1) the
//! rule's conversation is opened and must have someone in it; (2) the failsafe's escalation ends
//! and its message is edited (once per revision and conversation); (3) the routing names the
//! rule's conversation with no message yet: from here a retry finishes the move
//! (`finish_move`), and the message's escalation finds the rule's policy; (4) the message is sent
//! (transaction `moved`), recorded, and its escalation opened.

use ruma::{EventId, RoomId};
use serde_json::json;
use wardline_store::{Alarm, Dispatched, Routing};
use wardline_types::alarm_rule::AlarmRule;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::kinds;

use super::AlarmService;
use super::dispatch::conversation_key;
use crate::ServiceResult;
use crate::rooms::SendEvent;

impl AlarmService {
    /// Moves `alarm` (at the failsafe: `failsafe_room`, message `first`) to `rule`'s people.
    /// `None` if the rule's conversation has nobody in it: the failsafe keeps it.
    pub(super) async fn move_to(
        &self,
        alarm: &Alarm,
        rule: &AlarmRule,
        failsafe_room: &RoomId,
        first: &EventId,
    ) -> ServiceResult<Option<Dispatched>> {
        let actor = self.integration_actor(alarm)?;
        let room = self.rooms.alarm_room_id(&actor.user_id, &conversation_key(alarm, rule))?;
        self.open(alarm, rule, &actor, &room).await?;
        if !self.anyone_in(&room).await? {
            return Ok(None);
        }
        let failsafe = alarm.routing.as_ref().map(|r| (r.level, r.rule.clone()));
        self.escalation.end_for_alarm(first, "now with the people its rule names").await?;
        if let Some((level, failsafe_rule)) = &failsafe {
            self.edit_in(alarm, failsafe_room, first, *level, failsafe_rule).await?;
        }
        let notice = SendEvent {
            room_id: failsafe_room.to_owned(),
            kind: kinds::MESSAGE.into(),
            state_key: None,
            content: json!({
                "msgtype": "m.notice",
                "body": format!("This now fits the rule \"{}\": its people have it.", rule.name),
                "m.relates_to": { "m.in_reply_to": { "event_id": first } },
            }),
            redacts: None,
            txn: Some(super::dispatch::txn(alarm, &format!("moved-notice-r{}", alarm.revision))),
        };
        self.rooms.send_message(&actor, notice).await?;
        let routing = Routing {
            rule: rule.id.clone(),
            level: rule.action.level,
            policy: rule.action.policy.clone(),
            room: Some(room.clone()),
            event: None,
        };
        self.store.set_alarm_routing(&alarm.id, &routing).await?;
        self.finish_move(alarm, rule, &room).await.map(Some)
    }

    /// Sends the moved alarm's message in `rule`'s conversation `room` (which its routing
    /// names already), records it and opens its escalation.
    pub(super) async fn finish_move(
        &self,
        alarm: &Alarm,
        rule: &AlarmRule,
        room: &RoomId,
    ) -> ServiceResult<Dispatched> {
        let actor = self.integration_actor(alarm)?;
        let message = self.open(alarm, rule, &actor, room).await?;
        let event = self.send_alarm(alarm, &actor, room, message, "moved").await?;
        let routing = Routing {
            rule: rule.id.clone(),
            level: rule.action.level,
            policy: rule.action.policy.clone(),
            room: Some(room.to_owned()),
            event: Some(event.clone()),
        };
        self.store.set_alarm_routing(&alarm.id, &routing).await?;
        self.escalation.open_now(&event).await?;
        let mut r = self.audit.entry(Some(&actor), AuditAction::Alarm, Outcome::Success);
        r.room_id = Some(room.to_string());
        r.event_id = Some(event.to_string());
        r.detail = Some(format!("moved alarm={} from=failsafe rule={}", alarm.id, rule.id));
        self.audit.record(r)?;
        self.escalation.poke();
        Ok(Dispatched {
            routing: Some(routing),
            outcome: alarm.outcome,
            ended: false,
            event: ("moved".into(), json!({ "rule": rule.id, "room_id": room, "event_id": event }).to_string()),
        })
    }
}
