//! Push rules: which events notify whom, and how loudly.
//!
//! A user's ruleset is the spec's server defaults with the user's changes, stored as their
//! global account data `m.push_rules` ([`rules`]; the store is the truth, each node keeps only a
//! cache checked against the store's change log), preceded by Wardline's protected rules for
//! urgent and emergency messages and escalations, which nobody can mute ([`protected`]).
//!
//! **Invariant:** [`PushRuleService::verdict`] is the one answer to "does this event notify
//! this user": sync's `notification_count` and `highlight_count` ([`counts`]), `/notifications`
//! ([`notifications`]) and push delivery all ask it (or [`PushRuleService::verdicts`], the same
//! for many events of one room).
//!
//! Delivery to phones and browsers:
//!
//! - `pushers.rs`: [`PushService`], setting and listing pushers; `address.rs` the one check of
//!   where the server may send (SSRF), at setting and before each send;
//! - `delivery.rs`: the background task `run_push`, following the stream from a stored cursor,
//!   queueing a notification per pusher (for whom [`PushRuleService::verdict`] says notify) in
//!   the same write that moves the cursor, sending what is due with retries, and hastening an
//!   escalation when every push to a recipient failed;
//! - `gateway.rs` the Push Gateway API's request and answer; `webpush.rs` RFC 8291 encryption;
//!   `vapid.rs` the server's VAPID key (RFC 8292); `transport.rs` the HTTP client.
//!
//! **Invariant:** a push carries ids, counts and the priority, never a message's text, a name
//! or the conversation's name.

pub(crate) mod address;
pub mod counts;
mod delivery;
mod evaluate;
mod gateway;
pub mod notifications;
pub mod protected;
mod pushers;
pub mod rules;
#[cfg(test)]
mod tests;
mod transport;
mod vapid;
mod webpush;

pub use address::NOTIFY_PATH;
pub use delivery::CURSOR;
pub use pushers::{MAX_PUSHERS, PushService, SetPusher};
pub use transport::{Answer, HttpTransport, PushTransport};

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use ruma::push::{Action, NewPushRule, PushConditionRoomCtx, RuleKind, Ruleset};
use ruma::{OwnedUserId, RoomId, UserId};
use serde_json::Value;
use wardline_store::{ChangeTopic, Store};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::{StoredEvent, StreamPos};

pub use evaluate::Verdict;

use crate::audit::{Actor, AuditService};
use crate::core::Core;
use crate::notifier::Notifier;
use crate::rooms::RoomService;
use crate::timeline::TimelineService;
use crate::{ServiceError, ServiceResult};

/// More cached rulesets than this and the cache starts afresh.
const MAX_CACHED: usize = 50_000;

/// One user's rules as of a position of the store's change log.
#[derive(Clone)]
pub(crate) struct UserRules {
    /// The account data change mark the rules were read after.
    at: StreamPos,
    /// A digest of what was stored: counts taken under other rules are taken afresh.
    pub revision: u64,
    /// The user's own ruleset (defaults and changes).
    pub own: Arc<Ruleset>,
    /// Wardline's protected rules for the user.
    pub protected: Arc<Ruleset>,
}

/// Push rules, their evaluation, notification counts and the list of notifications.
pub struct PushRuleService {
    store: Arc<dyn Store>,
    audit: AuditService,
    notifier: Notifier,
    rooms: Arc<RoomService>,
    timeline: TimelineService,
    limiter: crate::ratelimit::RateLimiter,
    cache: Mutex<HashMap<OwnedUserId, UserRules>>,
    writing: tokio::sync::Mutex<()>,
    counts: counts::NotificationCounts,
}

impl std::fmt::Debug for PushRuleService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushRuleService").finish_non_exhaustive()
    }
}

fn digest(v: Option<&Value>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.map(ToString::to_string).hash(&mut h);
    h.finish()
}

impl PushRuleService {
    /// A push rule service.
    pub fn new(core: &Core, rooms: Arc<RoomService>, timeline: TimelineService) -> Self {
        Self {
            store: Arc::clone(&core.store),
            audit: core.audit.clone(),
            notifier: core.notifier.clone(),
            rooms,
            timeline,
            limiter: core.limiter.clone(),
            cache: Mutex::new(HashMap::new()),
            writing: tokio::sync::Mutex::new(()),
            counts: counts::NotificationCounts::default(),
        }
    }

    /// The user's rules, from the cache unless their account data changed since.
    pub(crate) async fn user_rules(&self, user: &UserId) -> ServiceResult<UserRules> {
        let mark = self.store.last_change(&ChangeTopic::AccountData(user.to_owned())).pos;
        if let Some(r) = self.cache.lock().unwrap_or_else(PoisonError::into_inner).get(user)
            && r.at >= mark
        {
            return Ok(r.clone());
        }
        let stored = self.store.account_data(user, None, rules::PUSH_RULES).await?;
        let loaded = UserRules {
            at: mark,
            revision: digest(stored.as_ref()),
            own: Arc::new(rules::from_stored(user, stored.as_ref())),
            protected: Arc::new(protected::ruleset(user)),
        };
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        let entry = cache.entry(user.to_owned()).or_insert_with(|| loaded.clone());
        if entry.at <= mark {
            *entry = loaded.clone();
        }
        Ok(loaded)
    }

    async fn context(&self, user: &UserId, room: &RoomId) -> ServiceResult<PushConditionRoomCtx> {
        self.rooms.with_state(room, |s| evaluate::room_context(s, user)).await
    }

    /// Does `event` (in `room`) notify `user`, highlight, with what sound? The one rule every
    /// path uses: counts, `/notifications`, push delivery. The user's own events never notify;
    /// urgent and emergency messages and escalations addressed to them always do.
    pub async fn verdict(&self, user: &UserId, room: &RoomId, event: &StoredEvent) -> ServiceResult<Verdict> {
        Ok(self.verdicts(user, room, std::slice::from_ref(event)).await?.pop().unwrap_or_default())
    }

    /// [`PushRuleService::verdict`] for many events of one room, in order (the room's context is
    /// read once).
    pub async fn verdicts(&self, user: &UserId, room: &RoomId, events: &[StoredEvent]) -> ServiceResult<Vec<Verdict>> {
        let rules = self.user_rules(user).await?;
        let ctx = self.context(user, room).await?;
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            out.push(evaluate::evaluate(&rules.protected, &rules.own, &ctx, e).await);
        }
        Ok(out)
    }

    /// `GET /pushrules/`: `{"global": ruleset}` as the user is shown it.
    pub async fn ruleset_json(&self, user: &UserId) -> ServiceResult<Value> {
        let rules = self.user_rules(user).await?;
        Ok(rules::to_stored(user, &rules.own))
    }

    /// One rule, as JSON.
    pub async fn rule(&self, user: &UserId, kind: &RuleKind, rule_id: &str) -> ServiceResult<Value> {
        let rules = self.user_rules(user).await?;
        rules::rule_json(user, &rules.own, kind, rule_id)
    }

    /// Whether a rule is enabled.
    pub async fn enabled(&self, user: &UserId, kind: &RuleKind, rule_id: &str) -> ServiceResult<bool> {
        Ok(self.rule(user, kind, rule_id).await?.get("enabled").and_then(Value::as_bool).unwrap_or(true))
    }

    /// A rule's actions.
    pub async fn actions(&self, user: &UserId, kind: &RuleKind, rule_id: &str) -> ServiceResult<Vec<Action>> {
        let rule = self.rule(user, kind, rule_id).await?;
        let actions = rule.get("actions").cloned().unwrap_or(Value::Array(vec![]));
        serde_json::from_value(actions).map_err(|e| ServiceError::Internal(format!("stored actions: {e}")))
    }

    /// Adds or replaces one of the user's own rules.
    pub async fn put_rule(
        &self,
        by: &Actor,
        rule: NewPushRule,
        before: Option<&str>,
        after: Option<&str>,
    ) -> ServiceResult<()> {
        let what = format!("set {}", described(&rule.kind(), rule.rule_id()));
        self.edit(by, what, |r| rules::insert(r, rule, before, after)).await
    }

    /// Deletes one of the user's own rules.
    pub async fn delete_rule(&self, by: &Actor, kind: &RuleKind, rule_id: &str) -> ServiceResult<()> {
        self.edit(by, format!("delete {}", described(kind, rule_id)), |r| rules::remove(r, kind, rule_id)).await
    }

    /// Enables or disables a rule.
    pub async fn set_enabled(&self, by: &Actor, kind: &RuleKind, rule_id: &str, enabled: bool) -> ServiceResult<()> {
        let what = format!("enabled={enabled} {}", described(kind, rule_id));
        self.edit(by, what, |r| rules::set_enabled(r, kind, rule_id, enabled)).await
    }

    /// Sets a rule's actions.
    pub async fn set_actions(
        &self,
        by: &Actor,
        kind: &RuleKind,
        rule_id: &str,
        actions: Vec<Action>,
    ) -> ServiceResult<()> {
        let what = format!("actions {}", described(kind, rule_id));
        self.edit(by, what, |r| rules::set_actions(r, kind, rule_id, actions)).await
    }

    /// Reads, changes and stores the user's ruleset (one change at a time on this node), audits
    /// the change (or its refusal) and wakes the user's syncs, which deliver `m.push_rules` and
    /// the counts under the new rules.
    async fn edit(
        &self,
        by: &Actor,
        what: String,
        change: impl FnOnce(&mut Ruleset) -> ServiceResult<()>,
    ) -> ServiceResult<()> {
        let user: &UserId = &by.user_id;
        let _writing = self.writing.lock().await;
        let stored = self.store.account_data(user, None, rules::PUSH_RULES).await?;
        let mut ruleset = rules::from_stored(user, stored.as_ref());
        if let Err(e) = change(&mut ruleset) {
            if matches!(e, ServiceError::ProtectedPushRule(_)) {
                let mut r = self.audit.entry(Some(by), AuditAction::PushRules, Outcome::Denied);
                r.detail = Some(format!("{what}: protected rule"));
                self.audit.record(r)?;
            }
            return Err(e);
        }
        let mut r = self.audit.entry(Some(by), AuditAction::PushRules, Outcome::Success);
        r.detail = Some(what);
        let reservation = self.audit.reserve()?;
        self.store.put_account_data(user, None, rules::PUSH_RULES, rules::to_stored(user, &ruleset)).await?;
        reservation.record(r);
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).remove(user);
        self.notifier.wake([user]);
        Ok(())
    }

    /// The user's notification and highlight counts in a room as of `upto` (a position read
    /// from the store before the call).
    pub(crate) async fn counts(&self, room: &RoomId, user: &UserId, upto: StreamPos) -> ServiceResult<counts::Counts> {
        self.counts.count(self, room, user, upto).await
    }
}

/// A rule as the audit trail names it: a keyword rule's id is the keyword, which might name a
/// patient, so only its kind is recorded.
fn described(kind: &RuleKind, rule_id: &str) -> String {
    match kind {
        RuleKind::Content => "content rule (keyword not recorded)".to_owned(),
        other => format!("{other} rule {rule_id}"),
    }
}
