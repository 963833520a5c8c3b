//! Alarm rules: saved by administrators after checking (their shape, that every target and
//! integration exists, that the policy's failsafe can be reached, and that the failsafe rule
//! reaches someone always), and routing an alarm by them.

use wardline_store::{Alarm, StoreError, StoredRule};
use wardline_types::alarm_rule::{AlarmFacts, AlarmRule, Mode, RuleAction, RuleId, RuleMatch, first_match};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::priority::Level;

use super::AlarmService;
use crate::audit::By;
use crate::{ServiceError, ServiceResult};

/// The rule an alarm is routed by, and whether it is the failsafe because no rule covered it.
#[derive(Debug, Clone)]
pub(super) struct Route {
    /// The rule.
    pub(super) rule: AlarmRule,
    /// No other rule covered the alarm.
    pub(super) no_rule: bool,
}

impl AlarmService {
    /// Every rule, in the order they are tried; the failsafe rule among them if set.
    pub async fn rules(&self) -> ServiceResult<Vec<StoredRule>> {
        Ok(self.store.alarm_rules().await?)
    }

    /// The failsafe rule in force: the one set, else the built-in one (the organisation's
    /// administrators, urgent, in a conversation).
    pub async fn failsafe_rule(&self) -> ServiceResult<AlarmRule> {
        let rules = self.store.alarm_rules().await?;
        if let Some(r) = rules.into_iter().find(|r| r.rule.id.is_failsafe()) {
            return Ok(r.rule);
        }
        let admins = self.escalation.administrators().await?;
        Ok(AlarmRule {
            id: RuleId::failsafe(),
            name: "Alarms no rule covers".into(),
            enabled: true,
            position: 0,
            matches: RuleMatch::default(),
            action: RuleAction {
                mode: Mode::Conversation,
                targets: admins,
                level: Level::Urgent,
                policy: None,
                title: None,
                needed: None,
                topic: None,
            },
        })
    }

    /// Saves a rule after checking it: `expected_version` `None` creates it, `Some(v)` replaces
    /// version `v`. Returns its new version. Audited.
    ///
    /// # Errors
    /// `400` naming what the rule breaks; `409` if it exists (creating) or is at another
    /// version; `404` replacing a rule that does not exist.
    pub async fn set_rule(&self, by: By<'_>, rule: &AlarmRule, expected_version: Option<u64>) -> ServiceResult<u64> {
        let refuse = |e: String| ServiceError::invalid(format!("rule {}: {e}", rule.id));
        if rule.id.as_str() == super::wctp::page::PAGE_RULE {
            // The rule a WCTP page is delivered by: Wardline's, made from each page.
            return Err(refuse("this id is Wardline's own (the rule pages are delivered by): choose another".into()));
        }
        rule.check().map_err(|e| refuse(e.to_string()))?;
        let mut always = false;
        for t in &rule.action.targets {
            always |= self.escalation.check_target(t).await.map_err(|e| refuse(e.to_string()))?;
        }
        if rule.id.is_failsafe() && !always {
            return Err(refuse("the failsafe rule must name a person, or a role that may never be left empty".into()));
        }
        if let Some(p) = &rule.action.policy {
            self.escalation.check_policy(p).await.map_err(|e| refuse(format!("action.policy: {e}")))?;
        }
        if let Some(t) = &rule.action.topic
            && self.store.alert_topic(t).await?.is_none()
        {
            return Err(refuse(format!("action.topic: there is no topic {t}")));
        }
        for i in &rule.matches.integrations {
            if self.store.integration(i).await?.is_none() {
                return Err(refuse(format!("match.integrations: there is no integration {i}")));
            }
        }
        let who = match by.actor() {
            Some(a) => a.user_id.to_string(),
            None => by.detail("").trim().to_owned(),
        };
        let version = match self.store.set_alarm_rule(rule, expected_version, &who, self.clock.now()).await {
            Ok(v) => v,
            Err(StoreError::Conflict(m)) if m.starts_with(wardline_store::TOPIC_MISSING) => {
                return Err(refuse(format!("action.topic: {m}")));
            }
            Err(StoreError::Conflict(_)) if expected_version.is_none() => {
                return Err(ServiceError::RuleConflict(format!("rule {} exists: replace it at its version", rule.id)));
            }
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::RuleConflict(format!(
                    "rule {} has changed since version {}: read it again",
                    rule.id,
                    expected_version.unwrap_or_default()
                )));
            }
            Err(StoreError::NotFound) => return Err(ServiceError::not_found(format!("there is no rule {}", rule.id))),
            Err(e) => return Err(e.into()),
        };
        let mut r = self.audit.entry_by(by, AuditAction::AlarmRule, Outcome::Success);
        let json = serde_json::to_string(rule).unwrap_or_default();
        r.detail = Some(by.detail(&format!("set {} version={version}: {json}", rule.id)));
        self.audit.record(r)?;
        Ok(version)
    }

    /// Removes a rule; `false` if there was none. Removing the failsafe rule brings back the
    /// built-in one. Audited.
    pub async fn remove_rule(&self, by: By<'_>, id: &RuleId) -> ServiceResult<bool> {
        let removed = self.store.remove_alarm_rule(id).await?;
        if removed {
            let mut r = self.audit.entry_by(by, AuditAction::AlarmRule, Outcome::Success);
            r.detail = Some(by.detail(&format!("removed {id}")));
            self.audit.record(r)?;
        }
        Ok(removed)
    }

    /// The rule with this id as it stands now (the failsafe rule in force for its id), if any.
    pub(super) async fn rule_by_id(&self, id: &RuleId) -> ServiceResult<Option<AlarmRule>> {
        if id.is_failsafe() {
            return Ok(Some(self.failsafe_rule().await?));
        }
        Ok(self.store.alarm_rules().await?.into_iter().map(|r| r.rule).find(|r| r.id == *id))
    }

    /// The rule `alarm` is routed by now: a page's own (to the recipient it names), else the
    /// first rule that covers it, else the failsafe rule.
    pub(super) async fn route(&self, alarm: &Alarm) -> ServiceResult<Route> {
        if let Some(rule) = super::wctp::page::Page::of(alarm).and_then(|p| p.rule()) {
            return Ok(Route { rule, no_rule: false });
        }
        let rules: Vec<AlarmRule> = self.store.alarm_rules().await?.into_iter().map(|r| r.rule).collect();
        let result = super::results::ResultDetails::of(alarm);
        let facts = AlarmFacts {
            kind: alarm.kind,
            integration: &alarm.integration,
            location: &alarm.location,
            priority: alarm.priority,
            observation: result.as_ref().and_then(|r| r.observation.as_ref()),
        };
        if let Some(rule) = first_match(&rules, &facts) {
            return Ok(Route { rule: rule.clone(), no_rule: false });
        }
        Ok(Route { rule: self.failsafe_rule().await?, no_rule: true })
    }
}
