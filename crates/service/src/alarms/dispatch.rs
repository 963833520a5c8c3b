//! Dispatch: the background task that delivers each stored alarm by its rule and acts on the
//! source's changes (reset, cancel), claiming each alarm's revision under a lease so that, on
//! several nodes, one runner acts on it; and, in the same pass, following delivered alarms'
//! status (`follow.rs`).

use std::sync::Arc;
use std::time::Duration;

use ruma::{OwnedDeviceId, OwnedTransactionId};
use serde_json::json;
use wardline_store::{Alarm, Dispatched, Routing, StatusFact};
use wardline_types::TxnRef;
use wardline_types::account::is_service_user;
use wardline_types::alarm::{AlarmOutcome, AlarmState};
use wardline_types::alarm_rule::{AlarmRule, Mode};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::escalation::Target;
use wardline_types::{Membership, kinds};

use super::AlarmService;
use super::content;
use crate::audit::Actor;
use crate::rooms::SendEvent;
use crate::rooms::alarm_room::NewAlarmRoom;
use crate::{ServiceError, ServiceResult};

/// How long a claimed alarm is held by its runner before another may take it over.
pub const LEASE_MS: u64 = 60_000;
/// How long after a failed dispatch it is tried again.
const RETRY_MS: u64 = 5_000;
/// Most alarms dispatched in one pass.
const BATCH: usize = 50;
/// The longest dispatch sleeps: other nodes' alarms are seen within this.
const POLL: Duration = Duration::from_millis(500);
/// The device alarms are posted from (their transaction ids are per device).
const DEVICE: &str = "ALARMS";
/// How long an alarm may wait undelivered (its dispatch failing) before it goes to the failsafe
/// rule instead of its own.
const DEADLINE_MS: u64 = 30_000;

/// What a message of `rule`'s is sent as (see [`txn`]).
fn post_what(rule: &AlarmRule) -> &'static str {
    if rule.id.is_failsafe() { "failsafe" } else { "post" }
}

/// The transaction of an alarm's message or of its end notice (`end`): one each, so a retried
/// dispatch repeats neither. Its message in its rule's conversation is `post`, in the failsafe's
/// `failsafe`, in the conversation of the rule it moved to `moved` ([`super::moves`]): a
/// transaction is never used in two conversations (the server refuses that).
pub(super) fn txn(alarm: &Alarm, what: &str) -> TxnRef {
    TxnRef {
        device_id: OwnedDeviceId::from(DEVICE),
        txn_id: OwnedTransactionId::from(format!("alarm-{}-{what}", alarm.id)),
    }
}

/// What a rule's conversation for an alarm is keyed by: an incident's own alarm; a standing
/// conversation's rule and its targets now, so that once the targets change the alarms go to a
/// new conversation and those no longer targeted stop receiving them.
pub(super) fn conversation_key(alarm: &Alarm, rule: &AlarmRule) -> String {
    match rule.action.mode {
        Mode::Incident => return format!("incident:{}", alarm.id),
        Mode::Topic => return format!("alert:{}", alarm.id),
        Mode::Conversation | Mode::Record => {}
    }
    let mut targets: Vec<String> = rule
        .action
        .targets
        .iter()
        .map(|t| match t {
            Target::Role { role } => format!("role:{role}"),
            Target::User { user_id } => format!("user:{user_id}"),
        })
        .collect();
    targets.sort();
    targets.dedup();
    format!("rule:{}:{}", rule.id, targets.join(","))
}

impl AlarmService {
    /// Dispatches alarms until the task is dropped: woken when one is stored, and at least
    /// every [`POLL`].
    pub async fn run_alarms(self: Arc<Self>) {
        let dispatch = async {
            loop {
                if let Err(e) = self.dispatch_due().await {
                    tracing::warn!(error = %e, "alarm dispatch pass failed; retrying");
                }
                let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
            }
        };
        // Its own loop: a long status pass never holds a new alarm back.
        let follow = async {
            loop {
                if let Err(e) = self.follow_status().await {
                    tracing::warn!(error = %e, "alarm status pass failed; retrying");
                }
                tokio::time::sleep(POLL).await;
            }
        };
        tokio::join!(dispatch, follow);
    }

    /// One pass: every alarm due now is claimed and dispatched. Returns how many were.
    ///
    /// # Errors
    /// A store that cannot be read.
    pub async fn dispatch_due(&self) -> ServiceResult<usize> {
        let now = self.clock.now();
        let lease_from = wardline_types::Timestamp(now.0.saturating_sub(LEASE_MS));
        let mut done = 0;
        for alarm in self.store.due_alarms(now, lease_from, BATCH).await? {
            if !self.store.claim_alarm(&alarm.id, alarm.revision, now, lease_from).await? {
                continue;
            }
            match self.dispatch(&alarm).await {
                Ok(result) => {
                    self.store.finish_dispatch(&alarm.id, alarm.revision, result, self.clock.now()).await?;
                    done += 1;
                }
                Err(e) => {
                    // Tried again shortly; the alarm stays due, never dropped (and past
                    // [`DEADLINE_MS`] it goes to the failsafe rule).
                    tracing::error!(alarm = %alarm.id, error = %e, "alarm dispatch failed; retrying");
                    let due = wardline_types::Timestamp(self.clock.now().0 + RETRY_MS);
                    self.store.retry_dispatch(&alarm.id, alarm.revision, due).await?;
                }
            }
        }
        Ok(done)
    }

    /// Acts on one claimed revision of an alarm.
    async fn dispatch(&self, alarm: &Alarm) -> ServiceResult<Dispatched> {
        let posted = alarm.routing.as_ref().is_some_and(|r| r.room.is_some());
        match (alarm.dispatched_revision, alarm.state) {
            (0, AlarmState::Active) => self.deliver(alarm).await,
            // Ended while a delivery that got as far as the conversation had not finished: its
            // message may be out and escalating, so it is ended as a delivered one is.
            (0, _) if posted => self.end(alarm).await,
            (0, _) => {
                // Ended by its source before anyone was told: nobody is told now.
                Ok(Dispatched {
                    routing: None,
                    outcome: AlarmOutcome::Closed,
                    ended: true,
                    event: ("closed".into(), json!({ "before_delivery": true }).to_string()),
                })
            }
            (_, AlarmState::Active) => self.update(alarm).await,
            (_, _) => self.end(alarm).await,
        }
    }

    /// The integration's user, as the actor of what it posts.
    pub(super) fn integration_actor(&self, alarm: &Alarm) -> ServiceResult<Actor> {
        let user = alarm
            .integration
            .user_id(&self.server_name)
            .ok_or_else(|| ServiceError::Internal(format!("integration {} has no user id", alarm.integration)))?;
        Ok(Actor::system(user))
    }

    /// Delivers a new alarm by its rule.
    async fn deliver(&self, alarm: &Alarm) -> ServiceResult<Dispatched> {
        let now = self.clock.now();
        // Undelivered past the deadline (its dispatch kept failing): the failsafe rule, unless
        // a conversation was already chosen (the message may be out: it goes there).
        let stale = now.0.saturating_sub(alarm.received.0) > DEADLINE_MS && alarm.routing.is_none();
        // A retry keeps the rule its first attempt chose (its conversation may hold the
        // message already), unless that rule has gone since.
        // A page is delivered by the rule made from it (to the recipient it names), never by
        // one of the administrators' rules.
        let page = super::wctp::page::Page::of(alarm).and_then(|p| p.rule());
        let chosen = match alarm.routing.as_ref().filter(|r| r.room.is_some()) {
            Some(_) if page.is_some() => page,
            Some(r) => self.rule_by_id(&r.rule).await?,
            None => None,
        };
        let route = if let Some(rule) = chosen {
            let no_rule = rule.id.is_failsafe();
            super::rules::Route { rule, no_rule }
        } else if stale {
            tracing::error!(alarm = %alarm.id, "alarm undelivered past its deadline: sent to the failsafe rule");
            super::rules::Route { rule: self.failsafe_rule().await?, no_rule: true }
        } else {
            self.route(alarm).await?
        };
        let rule = &route.rule;
        let mut facts = Vec::new();
        if route.no_rule {
            let reason = if stale { "dispatch_failed" } else { "no_rule" };
            let detail = json!({ "reason": reason, "failsafe_rule": true }).to_string();
            facts.push(StatusFact { kind: "undeliverable".into(), user: None, answer: None, detail, at: now });
        }
        let mut routing = Routing {
            rule: rule.id.clone(),
            level: rule.action.level,
            policy: rule.action.policy.clone(),
            room: None,
            event: None,
        };
        if rule.action.mode == Mode::Record {
            facts.push(StatusFact { kind: "recorded".into(), user: None, answer: None, detail: "{}".into(), at: now });
            self.record(alarm, facts, None).await?;
            let mut r = self.audit.entry(None, AuditAction::Alarm, Outcome::Success);
            r.detail = Some(format!("recorded only alarm={} rule={}", alarm.id, rule.id));
            self.audit.record(r)?;
            return Ok(Dispatched {
                routing: Some(routing),
                outcome: AlarmOutcome::Recorded,
                ended: false,
                event: ("recorded".into(), json!({ "rule": rule.id }).to_string()),
            });
        }
        let actor = self.integration_actor(alarm)?;
        // A retry goes where the first attempt went, whatever the rules say now.
        let room = match alarm.routing.as_ref().and_then(|r| r.room.clone()) {
            Some(room) => room,
            None => self.rooms.alarm_room_id(&actor.user_id, &conversation_key(alarm, rule))?,
        };
        // Recorded before acting: a dispatch taken over after a crash finds the same
        // conversation, and the message's escalation finds the rule's policy.
        routing.room = Some(room.clone());
        self.store.set_alarm_routing(&alarm.id, &routing).await?;
        let mut message = self.open(alarm, rule, &actor, &room).await?;
        let mut room = room;
        let mut rule_id = rule.id.clone();
        let mut what = post_what(rule);
        // A message already out (a retry after it was sent) stays where it went: its own
        // escalation runs there, to the failsafe if need be.
        let t = txn(alarm, what);
        let sent = self.store.event_for_txn(&actor.user_id, &t.device_id, t.txn_id.as_str()).await?;
        // Nobody there to act (every target gone since the rule was saved, a role nobody holds
        // and no fallback, a topic nobody subscribes to for this ward): the failsafe rule gets it
        // now, not after the first step. The alarm is then the failsafe conversation's: the
        // message goes only there, and its routing says so (so an acceptance there is followed,
        // an update edits it there, and no escalation runs in the empty conversation).
        if !rule.id.is_failsafe() && sent.is_none() && !self.anyone_in(&room).await? {
            let failsafe = self.failsafe_rule().await?;
            let failsafe_room = self.rooms.alarm_room_id(&actor.user_id, &conversation_key(alarm, &failsafe))?;
            tracing::error!(alarm = %alarm.id, rule = %rule.id, "alarm reached nobody: sent to the failsafe rule");
            let detail =
                json!({ "reason": "nobody_reached", "rule": rule.id, "failsafe_room_id": failsafe_room }).to_string();
            // Recorded now: a retry finds the failsafe's rule in the routing, not why.
            let fact = StatusFact { kind: "undeliverable".into(), user: None, answer: None, detail, at: now };
            self.record(alarm, vec![fact], None).await?;
            what = post_what(&failsafe);
            routing = Routing {
                rule: failsafe.id.clone(),
                level: failsafe.action.level,
                policy: failsafe.action.policy.clone(),
                room: Some(failsafe_room.clone()),
                event: None,
            };
            self.store.set_alarm_routing(&alarm.id, &routing).await?;
            message = self.open(alarm, &failsafe, &actor, &failsafe_room).await?;
            room = failsafe_room;
            rule_id = failsafe.id.clone();
        }
        let event = self.send_alarm(alarm, &actor, &room, message, what).await?;
        routing.event = Some(event.clone());
        self.store.set_alarm_routing(&alarm.id, &routing).await?;
        // Its escalation (by the rule's policy) is open before the alarm counts as delivered.
        self.escalation.open_now(&event).await?;
        if !facts.is_empty() {
            self.record(alarm, facts, None).await?;
        }
        let mut r = self.audit.entry(Some(&actor), AuditAction::Alarm, Outcome::Success);
        r.room_id = Some(room.to_string());
        r.event_id = Some(event.to_string());
        r.detail = Some(format!(
            "dispatched alarm={} rule={} mode={} level={} no_rule={}",
            alarm.id,
            rule_id,
            rule.action.mode.as_str(),
            rule.action.level.as_str(),
            route.no_rule
        ));
        self.audit.record(r)?;
        self.escalation.poke();
        Ok(Dispatched {
            routing: Some(routing),
            outcome: AlarmOutcome::Notified,
            ended: false,
            event: (
                "dispatched".into(),
                json!({ "rule": rule_id, "mode": rule.action.mode.as_str(), "room_id": room, "event_id": event })
                    .to_string(),
            ),
        })
    }

    /// Opens (or completes) `rule`'s conversation for `alarm`: the alarm's message for it.
    pub(super) async fn open(
        &self,
        alarm: &Alarm,
        rule: &AlarmRule,
        actor: &Actor,
        room: &ruma::RoomId,
    ) -> ServiceResult<serde_json::Value> {
        let (mut people, mut roles) = (Vec::new(), Vec::new());
        for t in &rule.action.targets {
            match t {
                Target::User { user_id } => people.push(user_id.clone()),
                Target::Role { role } => roles.push(role.clone()),
            }
        }
        let integration = self.store.integration(&alarm.integration).await?;
        let mut topic = None;
        let (name, incident) = match rule.action.mode {
            Mode::Incident => {
                (content::incident_title(alarm, rule), Some(content::incident_open(alarm, rule, self.clock.now())))
            }
            Mode::Topic => {
                // The topic's subscribers whose scope covers the alert, as they stand now.
                let id = rule
                    .action
                    .topic
                    .as_ref()
                    .ok_or_else(|| ServiceError::Internal("a topic rule without its topic".into()))?;
                let result = super::results::ResultDetails::of(alarm);
                let specialties = result.as_ref().map(super::results::ResultDetails::specialties).unwrap_or_default();
                for u in self.alert_recipients(id, alarm.location.ward.as_deref(), &specialties).await? {
                    if !people.contains(&u) {
                        people.push(u);
                    }
                }
                let found = self.store.alert_topic(id).await?;
                let name = found.as_ref().map_or_else(|| id.to_string(), |t| t.topic.name.clone());
                topic = Some(serde_json::json!({ "id": id, "name": name }));
                (format!("{name} — {}", alarm.location.describe()), None)
            }
            Mode::Conversation | Mode::Record => (rule.name.clone(), None),
        };
        let new = NewAlarmRoom {
            creator_name: integration.map_or_else(|| alarm.integration.to_string(), |i| i.name),
            name,
            incident,
            people,
            roles,
            closed: rule.action.mode == Mode::Topic,
        };
        self.rooms.open_alarm_room(actor, room, new).await?;
        let mut message = content::message(
            alarm,
            rule.action.level,
            rule.action.mode,
            rule.action.needed,
            super::wctp::page::Page::of(alarm).map(|p| p.ask()),
        );
        if let Some(t) = topic {
            message[wardline_types::alarm::ALARM]["topic"] = t;
        }
        Ok(message)
    }

    /// Posts the alarm's message in its conversation, once per `what` however often it is
    /// retried.
    pub(super) async fn send_alarm(
        &self,
        alarm: &Alarm,
        actor: &Actor,
        room: &ruma::RoomId,
        message: serde_json::Value,
        what: &str,
    ) -> ServiceResult<ruma::OwnedEventId> {
        let send = SendEvent {
            room_id: room.to_owned(),
            kind: kinds::MESSAGE.into(),
            state_key: None,
            content: message,
            redacts: None,
            txn: Some(txn(alarm, what)),
        };
        let (event, _) = self.rooms.send_message(actor, send).await?;
        Ok(event)
    }

    /// Is anyone (a person, not a system, role or the server) in the conversation?
    pub(super) async fn anyone_in(&self, room: &ruma::RoomId) -> ServiceResult<bool> {
        self.rooms.with_state(room, |s| s.members_with(Membership::Join).any(|u| !is_service_user(u))).await
    }

    /// Acts on the source changing what a delivered alarm says: its message is edited (the
    /// whole message anew) and an open incident's title and place follow. Who gets it and its
    /// escalation are unchanged, but for a clinical alert the failsafe has, still waiting,
    /// because its value left a rule's threshold possible (a preliminary `>6`) and that the
    /// update proves (the final 9): it moves to the rule's people ([`super::moves`]).
    async fn update(&self, alarm: &Alarm) -> ServiceResult<Dispatched> {
        if let Some(Routing { rule, room: Some(room), event: None, .. }) = &alarm.routing {
            // A move that did not finish (a crash, a failed step): finished now.
            let rule = match self.rule_by_id(rule).await? {
                Some(r) => r,
                None => self.failsafe_rule().await?,
            };
            return self.finish_move(alarm, &rule, room).await;
        }
        let waiting = matches!(alarm.outcome, AlarmOutcome::Pending | AlarmOutcome::Notified | AlarmOutcome::Failsafe);
        if alarm.kind == wardline_types::alarm::AlarmKind::ClinicalAlert
            && waiting
            && let Some(Routing { rule, room: Some(room), event: Some(first), .. }) = &alarm.routing
            && rule.is_failsafe()
        {
            let route = self.route(alarm).await?;
            if !route.no_rule
                && let Some(moved) = self.move_to(alarm, &route.rule, room, first).await?
            {
                return Ok(moved);
            }
        }
        self.edit(alarm).await
    }

    /// Edits a delivered alarm's message (and an open incident's title and place) to say what
    /// the source says now.
    async fn edit(&self, alarm: &Alarm) -> ServiceResult<Dispatched> {
        if let Some(Routing { room: Some(room), event: Some(event), level, rule, .. }) = &alarm.routing {
            self.edit_in(alarm, room, event, *level, rule).await?;
        }
        Ok(Dispatched {
            routing: None,
            outcome: alarm.outcome,
            ended: false,
            event: ("edited".into(), json!({ "revision": alarm.revision }).to_string()),
        })
    }

    /// Edits the alarm's message `event` in `room` (posted by `rule` at `level`), once per
    /// revision and conversation.
    pub(super) async fn edit_in(
        &self,
        alarm: &Alarm,
        room: &ruma::RoomId,
        event: &ruma::EventId,
        level: wardline_types::priority::Level,
        rule: &wardline_types::alarm_rule::RuleId,
    ) -> ServiceResult<()> {
        let actor = self.integration_actor(alarm)?;
        let incident = self
            .rooms
            .with_state(room, |s| s.get(wardline_types::alarm::INCIDENT, "").map(|e| e.event.content.clone()))
            .await?;
        let topic = self.rule_by_id(rule).await?.filter(|r| r.action.mode == Mode::Topic).and_then(|r| r.action.topic);
        let mode = match (incident.is_some(), topic.is_some()) {
            (true, _) => Mode::Incident,
            (false, true) => Mode::Topic,
            (false, false) => Mode::Conversation,
        };
        let needed = incident
            .as_ref()
            .and_then(|s| s.get("needed"))
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u8::try_from(n).ok());
        let mut send = SendEvent {
            room_id: room.to_owned(),
            kind: kinds::MESSAGE.into(),
            state_key: None,
            content: content::edit(
                alarm,
                level,
                mode,
                needed,
                super::wctp::page::Page::of(alarm).map(|p| p.ask()),
                event,
            ),
            redacts: None,
            // Per conversation: the failsafe's message and the moved one are edited apart.
            txn: Some(txn(alarm, &format!("r{}-{room}", alarm.revision))),
        };
        // A clinical alert's edit (a corrected result) still names its topic.
        if let Some(id) = topic {
            let name = self.store.alert_topic(&id).await?.map_or_else(|| id.to_string(), |t| t.topic.name);
            send.content["m.new_content"][wardline_types::alarm::ALARM]["topic"] = json!({ "id": id, "name": name });
        }
        self.rooms.send_message(&actor, send).await?;
        if let Some(open) = incident.filter(|s| s.get("state").and_then(|v| v.as_str()) == Some("open")) {
            self.rooms.set_incident_state(&actor, room, content::incident_updated(&open, alarm)).await?;
        }
        Ok(())
    }

    /// Acts on the source ending a delivered alarm: its escalation ends, the conversation is
    /// told, and an incident is closed. What became of it stands (an accepted alarm stays
    /// accepted); one still waiting is closed.
    async fn end(&self, alarm: &Alarm) -> ServiceResult<Dispatched> {
        let how = alarm.state.as_str();
        let reason = self
            .store
            .alarm_events(&alarm.id)
            .await?
            .into_iter()
            .rev()
            .find(|e| e.kind == how)
            .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.detail).ok())
            .and_then(|d| d.get("reason").and_then(|r| r.as_str()).map(str::to_owned));
        let actor = self.integration_actor(alarm)?;
        // What happened before the source ended it is recorded first (an acceptance a moment
        // before the reset is an acceptance).
        self.follow(alarm).await?;
        let outcome_now = self.store.alarm(&alarm.id).await?.map_or(alarm.outcome, |a| a.outcome);
        let routing = alarm.routing.clone();
        if let Some(Routing { room: Some(room), event, .. }) = &routing {
            // The message, even if the delivery that posted it did not get to record it.
            let event = match event {
                Some(e) => Some(e.clone()),
                None => {
                    // The message this room has, by whichever of the alarm's transactions it
                    // was sent (see [`txn`]).
                    let mut found = None;
                    for what in ["post", "failsafe", "moved"] {
                        let t = txn(alarm, what);
                        if let Some(e) =
                            self.store.event_for_txn(&actor.user_id, &t.device_id, t.txn_id.as_str()).await?
                            && self.store.event(&e).await?.is_some_and(|e| e.event.room_id == *room)
                        {
                            found = Some(e);
                            break;
                        }
                    }
                    found
                }
            };
            if let Some(event) = &event {
                let why = format!("{} {how} by the source", content::kind_name(alarm.kind));
                self.escalation.end_for_alarm(event, &why).await?;
            }
            let send = SendEvent {
                room_id: room.clone(),
                kind: kinds::MESSAGE.into(),
                state_key: None,
                content: content::ended_notice(alarm, event.as_deref(), reason.as_deref()),
                redacts: None,
                txn: Some(txn(alarm, "end")),
            };
            self.rooms.send_message(&actor, send).await?;
            self.close_incident(&actor, room, actor.user_id.as_str(), reason.as_deref()).await?;
        }
        let facts = vec![StatusFact {
            kind: how.into(),
            user: None,
            answer: None,
            detail: json!({ "reason": reason }).to_string(),
            at: self.clock.now(),
        }];
        self.record(alarm, facts, None).await?;
        let outcome = match outcome_now {
            AlarmOutcome::Notified | AlarmOutcome::Pending => AlarmOutcome::Closed,
            other => other,
        };
        let mut r = self.audit.entry(Some(&actor), AuditAction::Alarm, Outcome::Success);
        r.room_id = routing.as_ref().and_then(|r| r.room.as_ref()).map(ToString::to_string);
        r.detail = Some(format!("ended alarm={} state={how} outcome={outcome}", alarm.id));
        self.audit.record(r)?;
        Ok(Dispatched {
            routing: None,
            outcome,
            ended: true,
            event: ("ended".into(), json!({ "state": how, "outcome": outcome }).to_string()),
        })
    }

    /// Closes an incident conversation's [`wardline_types::alarm::INCIDENT`] state, if it is an
    /// open incident (`by`: who closed it).
    pub(super) async fn close_incident(
        &self,
        actor: &Actor,
        room: &ruma::RoomId,
        by: &str,
        reason: Option<&str>,
    ) -> ServiceResult<bool> {
        let open = self
            .rooms
            .with_state(room, |s| s.get(wardline_types::alarm::INCIDENT, "").map(|e| e.event.content.clone()))
            .await?;
        let Some(open) = open.filter(|c| c.get("state").and_then(|s| s.as_str()) == Some("open")) else {
            return Ok(false);
        };
        let closed = content::incident_closed(&open, self.clock.now(), by, reason);
        self.rooms.set_incident_state(actor, room, closed).await?;
        Ok(true)
    }
}
