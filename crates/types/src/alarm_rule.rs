//! Alarm rules: which alarms go to whom, how urgently, by which escalation policy, and in what
//! kind of conversation. Administrators edit them; they are checked when saved.
//!
//! Rules are tried in order (by `position`, then id) and the first enabled rule whose match
//! fits the alarm applies. An alarm no rule matches goes to the failsafe rule (id
//! [`FAILSAFE_RULE`]), which always exists: set by the administrators, or built in (the
//! organisation's administrators). Matching is exact and linear: no patterns, so a rule says
//! exactly what it covers.

use serde::{Deserialize, Serialize};

use crate::alarm::{AlarmKind, Location, SourcePriority};
use crate::alert_topic::{Observation, ObservationMatch, TopicId};
use crate::escalation::{Policy, PolicyError, Target};
use crate::integration::IntegrationId;
use crate::priority::Level;

/// The id of the failsafe rule: what an alarm no other rule matches is routed by.
pub const FAILSAFE_RULE: &str = "failsafe";
/// Most rules.
pub const MAX_RULES: usize = 200;
/// Most targets of a rule.
pub const MAX_TARGETS: usize = 20;
/// Longest rule name, and longest incident title, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest rule id.
pub const MAX_RULE_ID: usize = 64;

/// A rule's id: 1 to [`MAX_RULE_ID`] of `a-z`, `0-9`, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleId(String);

/// A string that is not a rule id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a rule id is 1 to 64 of a-z, 0-9, - and _")]
pub struct InvalidRuleId;

impl RuleId {
    /// Parses a rule id.
    ///
    /// # Errors
    /// [`InvalidRuleId`].
    pub fn parse(s: &str) -> Result<Self, InvalidRuleId> {
        let ok = !s.is_empty()
            && s.len() <= MAX_RULE_ID
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidRuleId) }
    }

    /// The failsafe rule's id.
    #[must_use]
    pub fn failsafe() -> Self {
        Self(FAILSAFE_RULE.to_owned())
    }

    /// As text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Is this the failsafe rule?
    #[must_use]
    pub fn is_failsafe(&self) -> bool {
        self.0 == FAILSAFE_RULE
    }
}

impl TryFrom<String> for RuleId {
    type Error = InvalidRuleId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RuleId> for String {
    fn from(id: RuleId) -> Self {
        id.0
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which alarms a rule covers. Every part given must fit; a part left out (or an empty list)
/// fits any alarm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    /// Any of these kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<AlarmKind>,
    /// Raised by any of these integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<IntegrationId>,
    /// At this place: each part given must equal the alarm's (ignoring case and surrounding
    /// spaces).
    #[serde(default)]
    pub location: Location,
    /// At least this priority, as the source gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_priority: Option<SourcePriority>,
    /// A result whose observation fits this (a clinical alert from `ORU^R01`); left out, any
    /// alarm, with or without an observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<ObservationMatch>,
}

/// What an alarm a rule covers becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A message in the rule's standing conversation (one per integration and rule), with the
    /// rule's targets in it: nurse calls, staff assists, monitor alarms.
    Conversation,
    /// An incident conversation of its own ("Cardiac arrest — Ward 7, bed 12") with the
    /// responders: code calls, fire.
    Incident,
    /// Recorded only: nobody is told (an administrator's explicit choice against alarm fatigue,
    /// reported back to the source as `recorded`, never a silent drop).
    Record,
    /// A clinical alert for a topic's subscribers: a conversation of its own ("NEWS2 ≥ 7 —
    /// Ward 7, bed 12") with those whose subscription covers it and the rule's targets, where
    /// the first to take it has it.
    Topic,
}

impl Mode {
    /// `conversation`, `incident`, `record`, `topic`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Conversation => "conversation",
            Self::Incident => "incident",
            Self::Record => "record",
            Self::Topic => "topic",
        }
    }
}

/// What a rule does with the alarms it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleAction {
    /// Where the alarm goes.
    pub mode: Mode,
    /// Who gets it: roles (their holders now) and people.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// At what priority it is sent (urgent or emergency: an alarm always asks to be accepted).
    pub level: Level,
    /// The escalation policy; left out, the conversation's policy chain applies (which always
    /// ends at a failsafe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// An incident's title ("Cardiac arrest"); left out, the alarm's kind names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// For an incident: how many responders must be coming before its escalation stops (1 to
    /// 20; one if left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed: Option<u8>,
    /// For a topic rule: the topic whose subscribers get the alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<TopicId>,
}

/// An alarm rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRule {
    /// Its id.
    pub id: RuleId,
    /// Its name, for people ("Ward 7 nurse calls").
    pub name: String,
    /// Only enabled rules match.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Its place in the order rules are tried (lowest first; ties by id).
    #[serde(default)]
    pub position: i64,
    /// Which alarms it covers (the failsafe rule's is ignored: it covers what no other does).
    #[serde(default, rename = "match")]
    pub matches: RuleMatch,
    /// What it does with them.
    pub action: RuleAction,
}

fn enabled() -> bool {
    true
}

/// Why a rule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The name is empty, too long or on more than one line.
    #[error("the rule's name is 1 to 100 characters on one line")]
    Name,
    /// The incident title is empty, too long or on more than one line.
    #[error("action.title is 1 to 100 characters on one line")]
    Title,
    /// A title on a rule that opens no incident.
    #[error("action.title is only for incidents")]
    TitleNotIncident,
    /// A topic rule without its topic, or a topic on another rule.
    #[error("action.topic is needed by a topic rule, and only there")]
    Topic,
    /// The observation match's shape.
    #[error("match.{0}")]
    Observation(&'static str),
    /// `needed` on a rule that opens no incident, or out of bounds.
    #[error("action.needed is only for incidents, 1 to 20")]
    Needed,
    /// No targets, or too many.
    #[error("action.targets: 1 to 20 targets (none only for a record-only rule)")]
    Targets,
    /// A routine level: an alarm must be accepted by someone.
    #[error("action.level must be urgent or emergency: an alarm asks to be accepted")]
    Level,
    /// A record-only failsafe rule: the failsafe must reach someone.
    #[error("the failsafe rule must reach someone: its mode cannot be record")]
    FailsafeRecord,
    /// A location part out of bounds.
    #[error("match.location: {0}")]
    Location(&'static str),
    /// The policy's shape.
    #[error("action.policy: {0}")]
    Policy(#[from] PolicyError),
}

fn line_ok(s: &str) -> bool {
    let n = s.trim().chars().count();
    n > 0 && n <= MAX_NAME_CHARS && !s.chars().any(char::is_control)
}

/// One part of a place, as compared: trimmed, lower case.
fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

/// What a rule is matched against: the alarm's facts.
#[derive(Debug, Clone, Copy)]
pub struct AlarmFacts<'a> {
    /// Its kind.
    pub kind: AlarmKind,
    /// Who raised it.
    pub integration: &'a IntegrationId,
    /// Where.
    pub location: &'a Location,
    /// How urgent the source says it is.
    pub priority: SourcePriority,
    /// What a result measured, for a clinical alert.
    pub observation: Option<&'a Observation>,
}

impl AlarmRule {
    /// Checks the rule's shape (that its targets exist and its policy's failsafe can be reached
    /// is the service's check, which needs the directory).
    ///
    /// # Errors
    /// The first thing it breaks.
    pub fn check(&self) -> Result<(), RuleError> {
        if !line_ok(&self.name) {
            return Err(RuleError::Name);
        }
        let a = &self.action;
        match (&a.title, a.mode) {
            (Some(_), Mode::Conversation | Mode::Record | Mode::Topic) => return Err(RuleError::TitleNotIncident),
            (Some(t), Mode::Incident) if !line_ok(t) => return Err(RuleError::Title),
            _ => {}
        }
        if a.needed.is_some_and(|n| a.mode != Mode::Incident || !(1..=crate::priority::MAX_NEEDED).contains(&n)) {
            return Err(RuleError::Needed);
        }
        if a.mode == Mode::Record && self.id.is_failsafe() {
            return Err(RuleError::FailsafeRecord);
        }
        if (a.mode == Mode::Topic) != a.topic.is_some() || (a.mode == Mode::Topic && self.id.is_failsafe()) {
            return Err(RuleError::Topic);
        }
        if let Some(o) = &self.matches.observation {
            o.check().map_err(RuleError::Observation)?;
            let kinds = &self.matches.kinds;
            if !kinds.is_empty() && !kinds.contains(&AlarmKind::ClinicalAlert) {
                return Err(RuleError::Observation(
                    "observation: only clinical alerts carry one: kinds must include clinical_alert or be left out",
                ));
            }
        }
        // A topic rule's recipients are its subscribers; its targets are whom it adds.
        let empty_ok = matches!(a.mode, Mode::Record | Mode::Topic);
        if a.targets.len() > MAX_TARGETS || (a.targets.is_empty() && !empty_ok) {
            return Err(RuleError::Targets);
        }
        if a.level == Level::Routine {
            return Err(RuleError::Level);
        }
        let l = &self.matches.location;
        for (name, part) in [("site", &l.site), ("ward", &l.ward), ("room", &l.room), ("bed", &l.bed)] {
            if part.as_deref().is_some_and(|p| !line_ok(p) || p.chars().count() > crate::alarm::MAX_PART_CHARS) {
                return Err(RuleError::Location(name));
            }
        }
        if let Some(p) = &a.policy {
            p.check()?;
        }
        Ok(())
    }

    /// Does the rule cover this alarm? (Whether it is enabled is the caller's concern.)
    #[must_use]
    pub fn matches(&self, alarm: &AlarmFacts<'_>) -> bool {
        self.matches_with(alarm, ObservationMatch::fits)
    }

    /// Might the rule cover this alarm, though its observation's value does not prove it
    /// ([`ObservationMatch::may_fit`])? Everything else must match as [`Self::matches`] says.
    #[must_use]
    pub fn may_cover(&self, alarm: &AlarmFacts<'_>) -> bool {
        self.matches_with(alarm, ObservationMatch::may_fit)
    }

    fn matches_with(&self, alarm: &AlarmFacts<'_>, fit: fn(&ObservationMatch, &Observation) -> bool) -> bool {
        let m = &self.matches;
        let part = |want: &Option<String>, have: &Option<String>| match want {
            None => true,
            Some(w) => have.as_deref().is_some_and(|h| fold(h) == fold(w)),
        };
        (m.kinds.is_empty() || m.kinds.contains(&alarm.kind))
            && (m.integrations.is_empty() || m.integrations.contains(alarm.integration))
            && part(&m.location.site, &alarm.location.site)
            && part(&m.location.ward, &alarm.location.ward)
            && part(&m.location.room, &alarm.location.room)
            && part(&m.location.bed, &alarm.location.bed)
            && m.min_priority.is_none_or(|p| alarm.priority >= p)
            && m.observation.as_ref().is_none_or(|o| alarm.observation.is_some_and(|have| fit(o, have)))
    }
}

/// The rule that applies to an alarm: the first enabled rule (by position, then id) that
/// covers it, other than the failsafe rule; `None` if there is none (the failsafe applies).
#[must_use]
pub fn first_match<'a>(rules: &'a [AlarmRule], alarm: &AlarmFacts<'_>) -> Option<&'a AlarmRule> {
    let mut ordered: Vec<&AlarmRule> = rules.iter().filter(|r| r.enabled && !r.id.is_failsafe()).collect();
    ordered.sort_by(|a, b| a.position.cmp(&b.position).then_with(|| a.id.cmp(&b.id)));
    ordered.into_iter().find(|r| r.matches(alarm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::{Action, Step};
    use crate::role::RoleId;

    fn role(id: &str) -> Target {
        Target::Role { role: RoleId::parse(id).unwrap() }
    }

    fn rule(id: &str, position: i64, kinds: Vec<AlarmKind>, ward: Option<&str>) -> AlarmRule {
        AlarmRule {
            id: RuleId::parse(id).unwrap(),
            name: format!("rule {id}"),
            enabled: true,
            position,
            matches: RuleMatch {
                kinds,
                location: Location { ward: ward.map(str::to_owned), ..Location::default() },
                ..RuleMatch::default()
            },
            action: RuleAction {
                mode: Mode::Conversation,
                targets: vec![role("w7-nurse")],
                level: Level::Urgent,
                policy: None,
                title: None,
                needed: None,
                topic: None,
            },
        }
    }

    fn at(ward: &str) -> Location {
        Location { ward: Some(ward.into()), bed: Some("12".into()), ..Location::default() }
    }

    #[test]
    fn first_enabled_rule_by_position_applies() {
        let nc = IntegrationId::parse("nursecall").unwrap();
        let loc = at(" ward 7 ");
        let facts = AlarmFacts {
            kind: AlarmKind::NurseCall,
            integration: &nc,
            location: &loc,
            priority: SourcePriority::High,
            observation: None,
        };
        let mut rules = vec![
            rule("b-any-ward7", 2, vec![], Some("Ward 7")),
            rule("a-arrests", 1, vec![AlarmKind::CardiacArrest], None),
            rule("c-nurse-calls", 2, vec![AlarmKind::NurseCall], Some("Ward 8")),
        ];
        assert_eq!(first_match(&rules, &facts).map(|r| r.id.as_str()), Some("b-any-ward7"));
        rules[0].enabled = false;
        assert_eq!(first_match(&rules, &facts).map(|r| r.id.as_str()), None);
        // The failsafe rule is never matched: it is what applies when nothing is.
        let mut f = rule(FAILSAFE_RULE, 0, vec![], None);
        f.enabled = true;
        rules.push(f);
        assert_eq!(first_match(&rules, &facts), None);
    }

    #[test]
    fn match_parts() {
        let nc = IntegrationId::parse("nursecall").unwrap();
        let other = IntegrationId::parse("fire-panel").unwrap();
        let loc = at("Ward 7");
        let facts = AlarmFacts {
            kind: AlarmKind::NurseCall,
            integration: &nc,
            location: &loc,
            priority: SourcePriority::Medium,
            observation: None,
        };
        let mut r = rule("r", 0, vec![AlarmKind::NurseCall], Some("WARD 7"));
        assert!(r.matches(&facts));
        r.matches.integrations = vec![other.clone()];
        assert!(!r.matches(&facts));
        r.matches.integrations = vec![other, nc.clone()];
        assert!(r.matches(&facts));
        r.matches.min_priority = Some(SourcePriority::High);
        assert!(!r.matches(&facts));
        r.matches.min_priority = Some(SourcePriority::Medium);
        assert!(r.matches(&facts));
        r.matches.location.bed = Some("13".into());
        assert!(!r.matches(&facts));
        r.matches.location.bed = Some("12".into());
        r.matches.location.room = Some("Bay A".into());
        // The alarm names no room: a rule for a room does not cover it.
        assert!(!r.matches(&facts));
    }

    #[test]
    fn checks() {
        let ok = rule("r", 0, vec![], None);
        assert_eq!(ok.check(), Ok(()));
        let mut r = ok.clone();
        r.name = " ".into();
        assert_eq!(r.check(), Err(RuleError::Name));
        let mut r = ok.clone();
        r.action.targets.clear();
        assert_eq!(r.check(), Err(RuleError::Targets));
        r.action.mode = Mode::Record;
        assert_eq!(r.check(), Ok(()));
        r.id = RuleId::failsafe();
        assert_eq!(r.check(), Err(RuleError::FailsafeRecord));
        let mut r = ok.clone();
        r.action.level = Level::Routine;
        assert_eq!(r.check(), Err(RuleError::Level));
        let mut r = ok.clone();
        r.action.title = Some("Arrest".into());
        assert_eq!(r.check(), Err(RuleError::TitleNotIncident));
        r.action.mode = Mode::Incident;
        assert_eq!(r.check(), Ok(()));
        r.action.title = Some("a\nb".into());
        assert_eq!(r.check(), Err(RuleError::Title));
        r.action.title = None;
        r.action.needed = Some(3);
        assert_eq!(r.check(), Ok(()));
        r.action.needed = Some(21);
        assert_eq!(r.check(), Err(RuleError::Needed));
        r.action.mode = Mode::Conversation;
        r.action.needed = Some(2);
        assert_eq!(r.check(), Err(RuleError::Needed), "only for incidents");
        let mut r = ok.clone();
        r.action.targets = (0..21).map(|i| role(&format!("r{i}"))).collect();
        assert_eq!(r.check(), Err(RuleError::Targets));
        let mut r = ok.clone();
        r.action.policy = Some(Policy { steps: vec![Step { after_ms: 60_000, action: Action::Renotify }] });
        assert!(matches!(r.check(), Err(RuleError::Policy(_))));
        let mut r = ok;
        r.matches.location.ward = Some("x".repeat(65));
        assert_eq!(r.check(), Err(RuleError::Location("ward")));
    }

    #[test]
    fn json_shape() {
        let r: AlarmRule = serde_json::from_value(serde_json::json!({
            "id": "arrests", "name": "Cardiac arrests",
            "match": { "kinds": ["cardiac_arrest"], "location": { "site": "Main" } },
            "action": { "mode": "incident", "targets": [{ "kind": "role", "role": "arrest-team" }], "level": "emergency" }
        }))
        .unwrap();
        assert!(r.enabled);
        assert_eq!(r.action.mode, Mode::Incident);
        assert!(
            serde_json::from_value::<AlarmRule>(serde_json::json!({
                "id": "x", "name": "x", "action": { "mode": "chat", "targets": [], "level": "urgent" }
            }))
            .is_err()
        );
        assert!(RuleId::parse("Bad Id").is_err());
    }

    #[test]
    fn an_observation_rule_covers_only_results_whose_value_fits() {
        use crate::alert_topic::{Comparison, Threshold};
        let epr = IntegrationId::parse("epr").unwrap();
        let loc = at("Ward 7");
        let mut r = rule("news2", 0, vec![], None);
        r.matches.observation = Some(ObservationMatch {
            code: "NEWS2".into(),
            system: None,
            op: Comparison::Ge,
            value: Threshold::try_from(7.0).unwrap(),
        });
        let seen = |value: &str| Observation {
            code: "NEWS2".into(),
            system: None,
            text: None,
            value: value.into(),
            units: None,
        };
        let (high, low) = (seen("9"), seen("5"));
        let mut facts = AlarmFacts {
            kind: AlarmKind::ClinicalAlert,
            integration: &epr,
            location: &loc,
            priority: SourcePriority::None,
            observation: Some(&high),
        };
        assert!(r.matches(&facts));
        facts.observation = Some(&low);
        assert!(!r.matches(&facts));
        facts.observation = None;
        assert!(!r.matches(&facts), "an alarm without an observation is no result");
        r.matches.kinds = vec![AlarmKind::Monitor];
        assert!(matches!(r.check(), Err(RuleError::Observation(_))), "a match no alarm could fit");
    }

    #[test]
    fn a_topic_rule_names_its_topic_and_only_it_may() {
        let mut r = rule("news2", 0, vec![], None);
        r.action.mode = Mode::Topic;
        r.action.targets.clear();
        assert_eq!(r.check(), Err(RuleError::Topic), "a topic rule needs its topic");
        r.action.topic = Some(TopicId::parse("news2-high").unwrap());
        assert_eq!(r.check(), Ok(()), "its subscribers are its recipients: no targets needed");
        r.action.mode = Mode::Conversation;
        r.action.targets = vec![role("w7-nurse")];
        assert_eq!(r.check(), Err(RuleError::Topic), "a topic on another rule");
        let mut f = rule(FAILSAFE_RULE, 0, vec![], None);
        f.action.mode = Mode::Topic;
        f.action.topic = Some(TopicId::parse("news2-high").unwrap());
        assert_eq!(f.check(), Err(RuleError::Topic), "the failsafe must not rest on subscriptions");
    }
}
