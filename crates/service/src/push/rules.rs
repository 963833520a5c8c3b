//! A user's push ruleset: the spec's server defaults with the user's changes, as stored in
//! their global account data `m.push_rules`, and the edits the push rule endpoints make.
//!
//! **Invariant:** Wardline's protected rules ([`super::protected`]) are never part of what is
//! edited: every edit naming one is refused before it is tried, and they are stripped when the
//! stored ruleset is read back (the stored copy shows them, as clients are shown them).

use ruma::UserId;
use ruma::push::{Action, AnyPushRuleRef, InsertPushRuleError, NewPushRule, RemovePushRuleError, RuleKind, Ruleset};
use serde_json::{Value, json};

use super::protected;
use crate::{ServiceError, ServiceResult};

/// The account data type the ruleset is stored as.
pub const PUSH_RULES: &str = "m.push_rules";

/// Most rules of a person's own (the server's defaults not counted): every message they may be
/// told of is evaluated against each of them, and the ruleset travels in every first sync.
pub const MAX_OWN_RULES: usize = 100;
/// Most conditions in one rule.
pub const MAX_CONDITIONS: usize = 20;
/// Most actions in one rule.
pub const MAX_ACTIONS: usize = 10;
/// Longest glob pattern (a keyword rule's, or an `event_match` condition's), in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;
/// Longest rule id, in bytes.
pub const MAX_RULE_ID_BYTES: usize = 256;
/// Largest condition, and largest list of actions, as JSON.
const MAX_PART_BYTES: usize = 1024;

/// The user's ruleset from its stored account data (`None`: never changed): the server's
/// current defaults, with the enabled flags and actions the user gave them, and the user's own
/// rules. Stored JSON that cannot be read gives the defaults (and a warning in the log).
#[must_use]
pub fn from_stored(user: &UserId, stored: Option<&Value>) -> Ruleset {
    let defaults = Ruleset::server_default(user);
    let Some(global) = stored.and_then(|v| v.get("global")) else { return defaults };
    match serde_json::from_value::<Ruleset>(global.clone()) {
        Ok(mut rules) => {
            rules.override_.retain(|r| !protected::is_protected(&r.rule_id));
            rules.update_with_server_default(defaults);
            rules
        }
        Err(e) => {
            tracing::warn!(user = %user, error = %e, "stored push rules unreadable; using the defaults");
            defaults
        }
    }
}

/// What is stored, and served as `GET /pushrules/` and in sync's `m.push_rules`: the ruleset as
/// clients are shown it. Every kind is present, an empty list when it has no rules (as clients
/// expect).
#[must_use]
pub fn to_stored(user: &UserId, rules: &Ruleset) -> Value {
    let mut global = serde_json::to_value(protected::shown(user, rules)).unwrap_or_else(|_| json!({}));
    if let Some(obj) = global.as_object_mut() {
        for kind in ["override", "content", "room", "sender", "underride"] {
            obj.entry(kind).or_insert_with(|| json!([]));
        }
    }
    json!({ "global": global })
}

fn refuse_protected(rule_id: &str) -> ServiceResult<()> {
    if protected::is_protected(rule_id) {
        return Err(ServiceError::ProtectedPushRule(format!(
            "{rule_id} cannot be changed: urgent and emergency messages and escalations always notify, \
             for patient safety (use do-not-disturb, which hands them to your cover)"
        )));
    }
    Ok(())
}

fn known_kind(kind: &RuleKind) -> ServiceResult<()> {
    match kind {
        RuleKind::Override | RuleKind::Underride | RuleKind::Sender | RuleKind::Room | RuleKind::Content => Ok(()),
        other => Err(ServiceError::invalid(format!("unknown push rule kind {other}"))),
    }
}

fn not_found(kind: &RuleKind, rule_id: &str) -> ServiceError {
    ServiceError::not_found(format!("no {kind} push rule {rule_id}"))
}

/// One rule as JSON (protected rules included, as they are shown).
pub fn rule_json(user: &UserId, rules: &Ruleset, kind: &RuleKind, rule_id: &str) -> ServiceResult<Value> {
    known_kind(kind)?;
    let shown = protected::shown(user, rules);
    let rule = shown.get(kind.clone(), rule_id).ok_or_else(|| not_found(kind, rule_id))?;
    let value = match rule {
        AnyPushRuleRef::Override(r) | AnyPushRuleRef::Underride(r) => serde_json::to_value(r),
        AnyPushRuleRef::Content(r) => serde_json::to_value(r),
        AnyPushRuleRef::Room(r) => serde_json::to_value(r),
        AnyPushRuleRef::Sender(r) => serde_json::to_value(r),
        _ => return Err(not_found(kind, rule_id)),
    };
    value.map_err(|e| ServiceError::Internal(format!("push rule to JSON: {e}")))
}

fn too_big(msg: String) -> ServiceError {
    ServiceError::invalid(msg)
}

/// Refuses actions beyond [`MAX_ACTIONS`] or too large (a tweak's value is anything).
fn check_actions(actions: &[Action]) -> ServiceResult<()> {
    if actions.len() > MAX_ACTIONS {
        return Err(too_big(format!("a push rule has at most {MAX_ACTIONS} actions")));
    }
    if serde_json::to_string(actions).map_or(true, |j| j.len() > MAX_PART_BYTES) {
        return Err(too_big(format!("a push rule's actions are at most {MAX_PART_BYTES} bytes of JSON")));
    }
    Ok(())
}

/// Refuses a rule beyond the limits on its id, conditions, actions and patterns.
fn check_size(rule: &NewPushRule) -> ServiceResult<()> {
    if rule.rule_id().len() > MAX_RULE_ID_BYTES {
        return Err(too_big(format!("a push rule id is at most {MAX_RULE_ID_BYTES} bytes")));
    }
    let (conditions, actions, pattern) = match rule {
        NewPushRule::Override(r) | NewPushRule::Underride(r) => (r.conditions.as_slice(), &r.actions, None),
        NewPushRule::Content(r) => (&[][..], &r.actions, Some(r.pattern.as_str())),
        NewPushRule::Room(r) => (&[][..], &r.actions, None),
        NewPushRule::Sender(r) => (&[][..], &r.actions, None),
        _ => return Err(ServiceError::invalid(format!("unknown push rule kind {}", rule.kind()))),
    };
    check_actions(actions)?;
    if conditions.len() > MAX_CONDITIONS {
        return Err(too_big(format!("a push rule has at most {MAX_CONDITIONS} conditions")));
    }
    let pattern_too_long = |p: Option<&str>| p.is_some_and(|p| p.len() > MAX_PATTERN_BYTES);
    if pattern_too_long(pattern) {
        return Err(too_big(format!("a push rule's pattern is at most {MAX_PATTERN_BYTES} bytes")));
    }
    for c in conditions {
        let json = serde_json::to_value(c).map_err(|e| ServiceError::invalid(e.to_string()))?;
        if pattern_too_long(json.get("pattern").and_then(Value::as_str)) {
            return Err(too_big(format!("a push rule's pattern is at most {MAX_PATTERN_BYTES} bytes")));
        }
        if json.to_string().len() > MAX_PART_BYTES {
            return Err(too_big(format!("a push rule's condition is at most {MAX_PART_BYTES} bytes of JSON")));
        }
    }
    Ok(())
}

/// How many rules of the person's own the ruleset holds (the server's defaults not counted).
fn own_rules(rules: &Ruleset) -> usize {
    rules.override_.iter().filter(|r| !r.default).count()
        + rules.content.iter().filter(|r| !r.default).count()
        + rules.room.iter().filter(|r| !r.default).count()
        + rules.sender.iter().filter(|r| !r.default).count()
        + rules.underride.iter().filter(|r| !r.default).count()
}

/// Adds or replaces a user-defined rule, placed by `before` / `after` (user rules only). A new
/// rule beyond [`MAX_OWN_RULES`] is refused ([`ServiceError::LimitExceeded`]), as is one beyond
/// the limits on its size ([`ServiceError::InvalidParam`]).
pub fn insert(rules: &mut Ruleset, rule: NewPushRule, before: Option<&str>, after: Option<&str>) -> ServiceResult<()> {
    known_kind(&rule.kind())?;
    refuse_protected(rule.rule_id())?;
    for id in before.iter().chain(after.iter()) {
        refuse_protected(id)?;
    }
    check_size(&rule)?;
    if rules.get(rule.kind(), rule.rule_id()).is_none() && own_rules(rules) >= MAX_OWN_RULES {
        return Err(ServiceError::LimitExceeded(format!(
            "you have {MAX_OWN_RULES} push rules of your own already: delete one you no longer need first"
        )));
    }
    rules.insert(rule, after, before).map_err(|e| match e {
        InsertPushRuleError::ServerDefaultRuleId => {
            ServiceError::invalid("rule ids starting with '.' are the server's defaults: choose another id")
        }
        InsertPushRuleError::InvalidRuleId => ServiceError::invalid("a rule id may not contain '/' or '\\'"),
        InsertPushRuleError::RelativeToServerDefaultRule => {
            ServiceError::PushRule("a rule cannot be placed relative to a server-default rule".into())
        }
        InsertPushRuleError::UnknownRuleId => {
            ServiceError::PushRule("the rule named by 'before' or 'after' does not exist".into())
        }
        InsertPushRuleError::BeforeHigherThanAfter => {
            ServiceError::PushRule("'before' names a rule of higher priority than 'after'".into())
        }
        other => ServiceError::PushRule(other.to_string()),
    })
}

/// Removes a user-defined rule.
pub fn remove(rules: &mut Ruleset, kind: &RuleKind, rule_id: &str) -> ServiceResult<()> {
    known_kind(kind)?;
    refuse_protected(rule_id)?;
    rules.remove(kind.clone(), rule_id).map_err(|e| match e {
        RemovePushRuleError::ServerDefault => {
            ServiceError::PushRule(format!("{rule_id} is a server-default rule: disable it instead of deleting it"))
        }
        _ => not_found(kind, rule_id),
    })
}

/// Enables or disables a rule.
pub fn set_enabled(rules: &mut Ruleset, kind: &RuleKind, rule_id: &str, enabled: bool) -> ServiceResult<()> {
    known_kind(kind)?;
    refuse_protected(rule_id)?;
    rules.set_enabled(kind.clone(), rule_id, enabled).map_err(|_| not_found(kind, rule_id))
}

/// Sets a rule's actions.
pub fn set_actions(rules: &mut Ruleset, kind: &RuleKind, rule_id: &str, actions: Vec<Action>) -> ServiceResult<()> {
    known_kind(kind)?;
    refuse_protected(rule_id)?;
    check_actions(&actions)?;
    rules.set_actions(kind.clone(), rule_id, actions).map_err(|_| not_found(kind, rule_id))
}
