//! Evaluating push rules on an event, as the user it is for would be notified of it.
//!
//! Pure: the caller brings the rules and the room's context; nothing here reads the store.

use std::collections::BTreeMap;

use ruma::events::AnySyncTimelineEvent;
use ruma::power_levels::NotificationPowerLevels;
use ruma::push::{Action, PushConditionPowerLevelsCtx, PushConditionRoomCtx, Ruleset, SoundTweakValue};
use ruma::room_version_rules::{AuthorizationRules, RoomPowerLevelsRules};
use ruma::serde::Raw;
use ruma::{Int, OwnedUserId, UInt, UserId};
use serde_json::Value;
use wardline_types::{Membership, StoredEvent, Timestamp, kinds};

use super::protected;
use crate::rooms::RoomState;

/// What an event means for one user's notifications.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// It notifies (counts in `notification_count`, may be pushed).
    pub notify: bool,
    /// It highlights (counts in `highlight_count`); never without `notify`.
    pub highlight: bool,
    /// The sound to play (`default`, `urgent`, `emergency`, ...), if any.
    pub sound: Option<String>,
}

impl Verdict {
    /// The verdict of a rule's actions.
    #[must_use]
    pub fn of(actions: &[Action]) -> Self {
        let notify = actions.iter().any(Action::should_notify);
        let highlight = notify && actions.iter().any(Action::is_highlight);
        let sound = if notify {
            actions.iter().find_map(Action::sound).map(|s| match s {
                SoundTweakValue::Default => "default".to_owned(),
                other => other.as_str().to_owned(),
            })
        } else {
            None
        };
        Self { notify, highlight, sound }
    }
}

/// The room as push conditions see it, for one user.
pub(crate) fn room_context(state: &RoomState, user: &UserId) -> PushConditionRoomCtx {
    let joined = state.members_with(Membership::Join).count();
    let display_name = state
        .get(kinds::MEMBER, user.as_str())
        .and_then(|m| m.event.content.get("displayname"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| user.localpart())
        .to_owned();
    let ctx = PushConditionRoomCtx::new(
        state.room_id.clone(),
        UInt::try_from(joined).unwrap_or(UInt::MAX),
        user.to_owned(),
        display_name,
    );
    ctx.with_power_levels(power_context(state))
}

fn int(v: Option<&Value>) -> Option<Int> {
    match v? {
        Value::Number(n) => n.as_i64().and_then(|i| Int::try_from(i).ok()),
        Value::String(s) => s.trim().parse::<i64>().ok().and_then(|i| Int::try_from(i).ok()),
        _ => None,
    }
}

fn power_context(state: &RoomState) -> PushConditionPowerLevelsCtx {
    let power = state.power();
    let users: BTreeMap<OwnedUserId, Int> = power
        .users
        .iter()
        .filter_map(|(u, l)| Some((OwnedUserId::try_from(u.as_str()).ok()?, Int::try_from(*l).ok()?)))
        .collect();
    let mut notifications = NotificationPowerLevels::new();
    if let Some(level) = state
        .get(kinds::POWER_LEVELS, "")
        .and_then(|e| e.event.content.get("notifications"))
        .and_then(|n| int(n.get("room")))
    {
        notifications.room = level;
    }
    PushConditionPowerLevelsCtx::new(
        users,
        Int::try_from(power.users_default).unwrap_or_default(),
        notifications,
        RoomPowerLevelsRules::new(&AuthorizationRules::V1, std::iter::empty()),
    )
}

/// The event as clients see it, for the rules' conditions.
fn as_raw(event: &StoredEvent) -> Option<Raw<AnySyncTimelineEvent>> {
    let json = event.to_client_json(None, Timestamp(0));
    serde_json::value::to_raw_value(&json).ok().map(Raw::from_json)
}

/// The verdict of `rules` on `event` for the user of `ctx`: Wardline's protected rules first
/// ([`protected`]), then the user's own. Never notifies the user of their own events.
pub(crate) async fn evaluate(
    protected_rules: &Ruleset,
    rules: &Ruleset,
    ctx: &PushConditionRoomCtx,
    event: &StoredEvent,
) -> Verdict {
    if event.event.sender == ctx.user_id || event.redacted_because.is_some() {
        return Verdict::default();
    }
    let Some(raw) = as_raw(event) else { return Verdict::default() };
    if !protected::is_edit(&event.event.content)
        && let Some(rule) = protected_rules.get_match(&raw, ctx).await
    {
        return Verdict::of(rule.actions());
    }
    Verdict::of(rules.get_actions(&raw, ctx).await)
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;
