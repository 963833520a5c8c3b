//! Clinical alert topics: administrators make them and say who may subscribe; clinicians
//! subscribe by ward, specialty or for all; and a topic rule's alert reaches the subscribers
//! whose scope covers it and who may still subscribe (someone who has left the role, or whose
//! account was deactivated, stops receiving alerts without anyone having to remember to remove
//! them).
//!
//! **Invariant:** an alert reaches only those it was meant for when it was raised: it opens a
//! conversation of its own with them, so a later subscriber never reads an earlier alert (its
//! patient's name and result), and removing a topic or a subscription leaves no one seated in
//! a standing room to keep receiving. Who may subscribe is checked when subscribing and again
//! for every alert, in `open_entries` alone: a topic says who may subscribe and, per entry, to
//! which scopes (a ward's nurses to their ward, the registrar to all). An alert's conversation
//! takes no invitations from its members (only the system seats people), so it stays with
//! those it was meant for.

use ruma::{OwnedUserId, UserId};
use wardline_store::{StoreError, StoredTopic};
use wardline_types::account::is_service_user;
use wardline_types::alert_topic::{AlertTopic, MAX_SCOPES, MAX_TOPICS, OpenTo, TopicId, TopicScope, effective_scopes};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::escalation::Target;

use super::AlarmService;
use crate::audit::{Actor, By};
use crate::{ServiceError, ServiceResult};

/// A topic as someone choosing their subscriptions sees it.
#[derive(Debug, Clone)]
pub struct TopicChoice {
    /// The topic.
    pub topic: AlertTopic,
    /// Whether they may subscribe to it.
    pub may_subscribe: bool,
    /// The scopes they may choose (`None`: any).
    pub allowed_scopes: Option<Vec<TopicScope>>,
    /// Their scopes (none: not subscribed).
    pub scopes: Vec<TopicScope>,
}

impl AlarmService {
    /// Every topic, for administrators.
    pub async fn alert_topics(&self) -> ServiceResult<Vec<StoredTopic>> {
        Ok(self.store.alert_topics().await?)
    }

    /// Saves a topic after checking it (its shape, and that everyone it is open to exists):
    /// `expected_version` `None` creates it. Returns its new version. Audited.
    ///
    /// # Errors
    /// `400` naming what it breaks; `409` if it exists (creating) or changed since; `404`
    /// replacing one that does not exist.
    pub async fn set_alert_topic(
        &self,
        by: By<'_>,
        topic: &AlertTopic,
        expected_version: Option<u64>,
    ) -> ServiceResult<u64> {
        let refuse = |e: String| ServiceError::invalid(format!("topic {}: {e}", topic.id));
        topic.check().map_err(|e| refuse(e.to_string()))?;
        for t in &topic.open_to {
            self.escalation.check_target(&t.target).await.map_err(|e| refuse(format!("open_to: {e}")))?;
        }
        if expected_version.is_none() && self.store.alert_topics().await?.len() >= MAX_TOPICS {
            return Err(refuse(format!("there are already {MAX_TOPICS} topics")));
        }
        let who = match by.actor() {
            Some(a) => a.user_id.to_string(),
            None => by.detail("").trim().to_owned(),
        };
        // Its record's place is taken first: a change saved is never one the trail missed.
        let slot = self.audit.reserve()?;
        let version = match self.store.set_alert_topic(topic, expected_version, &who, self.clock.now()).await {
            Ok(v) => v,
            Err(StoreError::Conflict(_)) if expected_version.is_none() => {
                return Err(ServiceError::RuleConflict(format!(
                    "topic {} exists: replace it at its version",
                    topic.id
                )));
            }
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::RuleConflict(format!(
                    "topic {} has changed since version {}: read it again",
                    topic.id,
                    expected_version.unwrap_or_default()
                )));
            }
            Err(StoreError::NotFound) => {
                return Err(ServiceError::not_found(format!("there is no topic {}", topic.id)));
            }
            Err(e) => return Err(e.into()),
        };
        let mut r = self.audit.entry_by(by, AuditAction::AlertTopic, Outcome::Success);
        let json = serde_json::to_string(topic).unwrap_or_default();
        r.detail = Some(by.detail(&format!("set {} version={version}: {json}", topic.id)));
        slot.record(r);
        Ok(version)
    }

    /// Removes a topic and its subscriptions; `false` if there was none. A rule that names it
    /// keeps it from being removed (`409`): its alerts would have nowhere to go. Audited.
    pub async fn remove_alert_topic(&self, by: By<'_>, id: &TopicId) -> ServiceResult<bool> {
        let users: Vec<String> = self
            .store
            .alarm_rules()
            .await?
            .into_iter()
            .filter(|r| r.rule.action.topic.as_ref() == Some(id))
            .map(|r| r.rule.id.to_string())
            .collect();
        if !users.is_empty() {
            return Err(ServiceError::RuleConflict(format!(
                "topic {id} is named by the rules {}: change them first",
                users.join(", ")
            )));
        }
        let slot = self.audit.reserve()?;
        let removed = match self.store.remove_alert_topic(id).await {
            Err(StoreError::Conflict(m)) => return Err(ServiceError::RuleConflict(m)),
            other => other?,
        };
        if removed {
            let mut r = self.audit.entry_by(by, AuditAction::AlertTopic, Outcome::Success);
            r.detail = Some(by.detail(&format!("removed {id}")));
            slot.record(r);
        }
        Ok(removed)
    }

    /// The entries of `topic` that let `user` subscribe now: those naming them, or a role they
    /// hold, while their account is active. None: they may not subscribe. The one place this
    /// is decided, when subscribing and for every alert.
    async fn open_entries<'t>(&self, user: &UserId, topic: &'t AlertTopic) -> ServiceResult<Vec<&'t OpenTo>> {
        if is_service_user(user) || self.store.account(user).await?.is_none_or(|a| a.deactivated) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for entry in &topic.open_to {
            let names = match &entry.target {
                Target::User { user_id } => user_id == user,
                Target::Role { role } => self
                    .store
                    .role(role)
                    .await?
                    .is_some_and(|r| !r.retired && r.holders.iter().any(|h| h.user_id == user)),
            };
            if names {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// The scopes `user` may choose on `topic` now: `Some([])` none (not open to them), `None`
    /// any.
    async fn allowed_scopes(&self, user: &UserId, topic: &AlertTopic) -> ServiceResult<Option<Vec<TopicScope>>> {
        let entries = self.open_entries(user, topic).await?;
        if !entries.is_empty() && entries.iter().any(|e| e.scopes.is_none()) {
            return Ok(None);
        }
        let mut all: Vec<TopicScope> = entries.iter().flat_map(|e| e.scopes.clone().unwrap_or_default()).collect();
        all.sort();
        all.dedup();
        Ok(Some(all))
    }

    /// Every topic as `user` sees it when choosing: whether they may subscribe (and to which
    /// scopes), and their scopes as they stand now: what they chose, narrowed to what is still
    /// open to them ([`effective_scopes`]), so the screen shows what they receive.
    pub async fn topic_choices(&self, user: &UserId) -> ServiceResult<Vec<TopicChoice>> {
        let mine = self.store.topic_subscriptions_of(user).await?;
        let mut out = Vec::new();
        for t in self.store.alert_topics().await? {
            let chosen = mine.iter().find(|(id, _)| *id == t.topic.id).map(|(_, s)| s.clone()).unwrap_or_default();
            let allowed_scopes = self.allowed_scopes(user, &t.topic).await?;
            let may_subscribe = allowed_scopes.as_ref().is_none_or(|a| !a.is_empty());
            let scopes = effective_scopes(&chosen, allowed_scopes.as_deref());
            out.push(TopicChoice { topic: t.topic, may_subscribe, allowed_scopes, scopes });
        }
        Ok(out)
    }

    /// Sets `actor`'s scopes for a topic (none: unsubscribes). Audited, refusals too.
    ///
    /// # Errors
    /// `404` no such topic; `403` not open to them (unsubscribing is always allowed); `400` more
    /// than [`MAX_SCOPES`] scopes.
    pub async fn subscribe(
        &self,
        actor: &Actor,
        id: &TopicId,
        scopes: &[TopicScope],
    ) -> ServiceResult<Vec<TopicScope>> {
        let topic = self
            .store
            .alert_topic(id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("there is no topic {id}")))?
            .topic;
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        if scopes.len() > MAX_SCOPES {
            return Err(ServiceError::invalid(format!("at most {MAX_SCOPES} scopes per topic")));
        }
        let entries = self.open_entries(&actor.user_id, &topic).await?;
        if let Some(refused) = scopes.iter().find(|s| !entries.iter().any(|e| e.allows(s))) {
            let why = if entries.is_empty() {
                format!("the topic {} is not open to you", topic.name)
            } else {
                format!("the topic {} is not open to you for {refused}", topic.name)
            };
            let mut r = self.audit.entry(Some(actor), AuditAction::AlertTopic, Outcome::Denied);
            r.detail = Some(format!("subscribe {id}: not open to them for {refused}"));
            self.audit.record(r)?;
            return Err(ServiceError::forbidden(why));
        }
        let slot = self.audit.reserve()?;
        match self.store.set_topic_subscription(&actor.user_id, id, &scopes, self.clock.now()).await {
            Err(StoreError::NotFound) => return Err(ServiceError::not_found(format!("there is no topic {id}"))),
            other => other?,
        }
        let mut r = self.audit.entry(Some(actor), AuditAction::AlertTopic, Outcome::Success);
        let list: Vec<String> = scopes.iter().map(ToString::to_string).collect();
        r.detail = Some(format!("subscription {id}: [{}]", list.join(", ")));
        slot.record(r);
        Ok(scopes)
    }

    /// Who a topic's alert on `ward` under a specialty known by any of `specialty` reaches:
    /// each subscriber whose scopes, narrowed to what they may still choose
    /// ([`effective_scopes`]: what their screen shows), cover it; once, by user id.
    pub(super) async fn alert_recipients(
        &self,
        id: &TopicId,
        ward: Option<&str>,
        specialty: &[&str],
    ) -> ServiceResult<Vec<OwnedUserId>> {
        let Some(topic) = self.store.alert_topic(id).await? else { return Ok(Vec::new()) };
        let mut chosen: Vec<(OwnedUserId, Vec<TopicScope>)> = Vec::new();
        for (u, scope) in self.store.topic_subscribers(id).await? {
            match chosen.iter_mut().find(|(c, _)| *c == u) {
                Some((_, scopes)) => scopes.push(scope),
                None => chosen.push((u, vec![scope])),
            }
        }
        let mut out: Vec<OwnedUserId> = Vec::new();
        for (u, scopes) in chosen {
            // Only those whose choice covers it are asked what is open to them.
            if !scopes.iter().any(|s| s.covers(ward, specialty)) {
                continue;
            }
            let allowed = self.allowed_scopes(&u, &topic.topic).await?;
            if effective_scopes(&scopes, allowed.as_deref()).iter().any(|s| s.covers(ward, specialty)) {
                out.push(u);
            }
        }
        Ok(out)
    }
}
