//! Wardline's own server-default push rules, which nobody can mute.
//!
//! **Clinical safety.** An urgent or emergency message, and the server's escalation notice
//! that says one is still unanswered, must reach the phone of everyone it is for. A clinician
//! who muted a noisy ward room last week, or turned every notification off with
//! `.m.rule.master`, must still be rung when a patient there deteriorates. So these rules are
//! not part of the user's ruleset at all: they are evaluated **before** it (before even
//! `.m.rule.master`), they are shown first among the override rules so clients can display them,
//! and every attempt to disable, change or move them is refused (`400`,
//! `ORG.WARDLINE.PROTECTED_RULE`). Do-not-disturb is the way to be spared, and it hands the
//! messages to a cover instead of dropping them.
//!
//! - `.org.wardline.rule.emergency` / `.org.wardline.rule.urgent`: an `m.room.message` whose
//!   `org.wardline.priority.level` is `emergency` / `urgent` notifies, highlights and plays the
//!   sound `emergency` / `urgent`.
//! - `.org.wardline.rule.escalation`: a message from the server's own member `@wardline` carrying
//!   an `org.wardline.escalation` block (only the server can send one: the send path strips it
//!   from everyone else's) notifies and highlights the users it mentions;
//!   `.org.wardline.rule.escalation_room` the whole room when it mentions the room (a failsafe
//!   that reached nobody).
//!
//! An edit (`m.replace`) never matches: correcting a typo in an urgent message does not ring
//! everyone again (the spec's `.m.rule.suppress_edits` decides it like any other edit).

use ruma::UserId;
use ruma::push::{
    Action, ConditionalPushRule, ConditionalPushRuleInit, EventMatchConditionData, EventPropertyContainsConditionData,
    EventPropertyIsConditionData, HighlightTweakValue, PushCondition, Ruleset, ScalarJsonValue, SoundTweakValue, Tweak,
};
use serde_json::Value;
use wardline_types::account::SERVER_USERNAME;

/// The prefix of every protected rule's id.
pub const PREFIX: &str = ".org.wardline.rule.";
/// Emergency messages.
pub const EMERGENCY: &str = ".org.wardline.rule.emergency";
/// Urgent messages.
pub const URGENT: &str = ".org.wardline.rule.urgent";
/// Escalation notices mentioning the user.
pub const ESCALATION: &str = ".org.wardline.rule.escalation";
/// Escalation notices mentioning the room.
pub const ESCALATION_ROOM: &str = ".org.wardline.rule.escalation_room";

/// Is `rule_id` one of Wardline's protected rules?
#[must_use]
pub fn is_protected(rule_id: &str) -> bool {
    rule_id.starts_with(PREFIX)
}

fn ring(sound: &str) -> Vec<Action> {
    vec![
        Action::Notify,
        Action::SetTweak(Tweak::Sound(SoundTweakValue::from(sound))),
        Action::SetTweak(Tweak::Highlight(HighlightTweakValue::Yes)),
    ]
}

fn rule(rule_id: &str, conditions: Vec<PushCondition>, sound: &str) -> ConditionalPushRule {
    ConditionalPushRuleInit {
        actions: ring(sound),
        default: true,
        enabled: true,
        rule_id: rule_id.to_owned(),
        conditions,
    }
    .into()
}

fn is(key: &str, value: impl Into<ScalarJsonValue>) -> PushCondition {
    PushCondition::EventPropertyIs(EventPropertyIsConditionData::new(key.to_owned(), value.into()))
}

fn matches(key: &str, pattern: &str) -> PushCondition {
    PushCondition::EventMatch(EventMatchConditionData::new(key.to_owned(), pattern.to_owned()))
}

fn priority(rule_id: &str, level: &str) -> ConditionalPushRule {
    rule(rule_id, vec![is("type", "m.room.message"), is(r"content.org\.wardline\.priority.level", level)], level)
}

/// The protected rules for `user` on `server`, in the order they are tried.
#[must_use]
pub fn rules(user: &UserId) -> Vec<ConditionalPushRule> {
    let server_member = format!("@{SERVER_USERNAME}:{}", user.server_name());
    let escalation = |rule_id: &str, mention: PushCondition| {
        rule(
            rule_id,
            vec![
                is("type", "m.room.message"),
                is("sender", server_member.as_str()),
                matches(r"content.org\.wardline\.escalation.kind", "*"),
                mention,
            ],
            "urgent",
        )
    };
    vec![
        priority(EMERGENCY, "emergency"),
        priority(URGENT, "urgent"),
        escalation(
            ESCALATION,
            PushCondition::EventPropertyContains(EventPropertyContainsConditionData::new(
                r"content.m\.mentions.user_ids".to_owned(),
                user.as_str().into(),
            )),
        ),
        escalation(ESCALATION_ROOM, is(r"content.m\.mentions.room", true)),
    ]
}

/// A ruleset of only the protected rules (evaluated before the user's own).
#[must_use]
pub fn ruleset(user: &UserId) -> Ruleset {
    let mut set = Ruleset::new();
    set.override_ = rules(user).into_iter().collect();
    set
}

/// The user's ruleset as clients are shown it: the protected rules first among the overrides.
#[must_use]
pub fn shown(user: &UserId, own: &Ruleset) -> Ruleset {
    let mut set = own.clone();
    set.override_ =
        rules(user).into_iter().chain(own.override_.iter().filter(|r| !is_protected(&r.rule_id)).cloned()).collect();
    set
}

/// Is the event an edit of another (`m.relates_to.rel_type` `m.replace`)? Edits never match
/// the protected rules.
#[must_use]
pub fn is_edit(content: &Value) -> bool {
    content.pointer("/m.relates_to/rel_type").and_then(Value::as_str)
        == Some(wardline_types::relation::rel_types::REPLACE)
}
