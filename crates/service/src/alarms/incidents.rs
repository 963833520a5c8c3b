//! Incidents as staff see them: the incident conversations they are in, with who is coming, and
//! closing one (any member may: the responder who stands the team down).

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use wardline_store::StatusFact;
use wardline_types::alarm::{AlarmId, AlarmOutcome, INCIDENT};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::priority::Means;
use wardline_types::{Membership, Timestamp};

use super::AlarmService;
use crate::audit::Actor;
use crate::{ServiceError, ServiceResult};

/// Most incidents listed.
const MOST: usize = 200;

/// An answer to an incident's alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    /// Who.
    pub user_id: OwnedUserId,
    /// Their name as colleagues see it.
    pub display_name: String,
    /// Coming (accept) or not (decline), by their latest answer.
    pub coming: bool,
    /// When they answered.
    pub at: Timestamp,
}

/// An incident conversation as a member sees it.
#[derive(Debug, Clone)]
pub struct Incident {
    /// Its conversation.
    pub room_id: OwnedRoomId,
    /// Its `org.wardline.incident` state (title, kind, location, patient, state, times).
    pub state: Value,
    /// The answers to its alarm, by person.
    pub responders: Vec<Responder>,
    /// How many the alarm was sent to.
    pub alerted: usize,
}

impl Incident {
    /// Is it still open?
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.state.get("state").and_then(Value::as_str) == Some("open")
    }
}

impl AlarmService {
    /// The incident conversations `user` is in, open ones first, newest first.
    ///
    /// # Errors
    /// A store that cannot be read.
    pub async fn incidents(&self, user: &UserId) -> ServiceResult<Vec<Incident>> {
        let mut out = Vec::new();
        for m in self.store.rooms_of_user(user).await? {
            if m.membership != Membership::Join {
                continue;
            }
            let state =
                self.rooms.with_state(&m.room_id, |s| s.get(INCIDENT, "").map(|e| e.event.content.clone())).await?;
            let Some(state) = state else { continue };
            out.push(self.incident(m.room_id, state).await?);
        }
        let opened = |i: &Incident| i.state.get("opened_ts").and_then(Value::as_u64).unwrap_or(0);
        out.sort_by(|a, b| b.is_open().cmp(&a.is_open()).then_with(|| opened(b).cmp(&opened(a))));
        out.truncate(MOST);
        Ok(out)
    }

    async fn incident(&self, room_id: OwnedRoomId, state: Value) -> ServiceResult<Incident> {
        let mut incident = Incident { room_id, state, responders: Vec::new(), alerted: 0 };
        let id = incident.state.get("alarm_id").and_then(Value::as_str).and_then(|a| AlarmId::parse(a).ok());
        let Some(alarm) = id else { return Ok(incident) };
        let Some(alarm) = self.store.alarm(&alarm).await? else { return Ok(incident) };
        let Some(event) = alarm.routing.and_then(|r| r.event) else { return Ok(incident) };
        let Some(message) = self.store.event(&event).await? else { return Ok(incident) };
        if message.event.room_id != incident.room_id {
            return Ok(incident);
        }
        let status = self.status.status_for_server(&message).await?;
        incident.alerted = status.recipients.len();
        let answers = status.recipients.iter().filter_map(|r| r.answer.as_ref().map(|a| (&r.user_id, a)));
        for (user, a) in answers.chain(status.other_answers.iter().map(|(u, a)| (u, a))) {
            let coming = match a.stands {
                Some(Means::Accept) => true,
                Some(Means::Decline) => false,
                _ => continue,
            };
            let account = self.store.account(user).await?;
            let display_name = account.and_then(|a| a.display_name).unwrap_or_else(|| user.localpart().to_owned());
            incident.responders.push(Responder { user_id: user.clone(), display_name, coming, at: a.ts });
        }
        incident.responders.sort_by_key(|r| r.at);
        Ok(incident)
    }

    /// A member closes an incident (the team is stood down): its state becomes `closed` with
    /// who, when and why, its escalation ends, the alarm's outcome is `closed` unless someone
    /// had accepted, and the source is told (`closed`). Audited.
    ///
    /// # Errors
    /// `404` for a conversation that is not an incident the caller is in; `409` once closed.
    pub async fn close_incident_by(&self, by: &Actor, room: &RoomId, reason: Option<String>) -> ServiceResult<()> {
        let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > super::intake::MAX_REASON_CHARS || r.chars().any(char::is_control))
        {
            return Err(ServiceError::invalid("reason: at most 500 characters on one line"));
        }
        let (member, state, creator) = self
            .rooms
            .with_state(room, |s| {
                (
                    s.membership(&by.user_id) == Some(Membership::Join),
                    s.get(INCIDENT, "").map(|e| e.event.content.clone()),
                    s.creator().map(ToOwned::to_owned),
                )
            })
            .await?;
        let (true, Some(state), Some(creator)) = (member, state, creator) else {
            return Err(ServiceError::not_found("no such incident"));
        };
        if state.get("state").and_then(Value::as_str) != Some("open") {
            return Err(ServiceError::AlarmEnded("the incident is already closed".into()));
        }
        let alarm = match state.get("alarm_id").and_then(Value::as_str).and_then(|a| AlarmId::parse(a).ok()) {
            Some(id) => self.store.alarm(&id).await?,
            None => None,
        };
        // Written as the integration that opened it (only it writes the incident's state).
        let actor = Actor::system(creator);
        let closed = super::content::incident_closed(&state, self.clock.now(), by.user_id.as_str(), reason.as_deref());
        self.rooms.set_incident_state(&actor, room, closed).await?;
        if let Some(alarm) = &alarm {
            if let Some(event) = alarm.routing.as_ref().and_then(|r| r.event.as_ref()) {
                let name = self
                    .store
                    .account(&by.user_id)
                    .await?
                    .and_then(|a| a.display_name)
                    .unwrap_or_else(|| by.user_id.localpart().to_owned());
                self.escalation.end_for_alarm(event, &format!("Incident closed by {name}")).await?;
            }
            // What happened before it was closed is recorded first; an alarm someone accepted
            // stays accepted, one still waiting is closed.
            self.follow(alarm).await?;
            let now = self.store.alarm(&alarm.id).await?.map_or(alarm.outcome, |a| a.outcome);
            let outcome = matches!(now, AlarmOutcome::Notified | AlarmOutcome::Pending).then_some(AlarmOutcome::Closed);
            let fact = StatusFact {
                kind: "closed".into(),
                user: Some(by.user_id.clone()),
                answer: None,
                detail: json!({ "reason": reason }).to_string(),
                at: self.clock.now(),
            };
            self.record(alarm, vec![fact], outcome).await?;
        }
        let mut r = self.audit.entry(Some(by), AuditAction::Alarm, Outcome::Success);
        r.room_id = Some(room.to_string());
        r.detail = Some(format!(
            "incident closed alarm={}",
            alarm.as_ref().map_or_else(|| "-".to_owned(), |a| a.id.to_string())
        ));
        self.audit.record(r)
    }
}
