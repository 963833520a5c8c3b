//! Clinical alert topics and who subscribes to them: topics made by administrators (versioned,
//! like alarm rules) and each person's subscriptions, by scope.

use async_trait::async_trait;
use ruma::{OwnedUserId, UserId};
use wardline_types::Timestamp;
use wardline_types::alert_topic::{AlertTopic, TopicId, TopicScope};

use crate::StoreResult;

/// How [`crate::AlarmStore::set_alarm_rule`]'s [`crate::StoreError::Conflict`] begins when the
/// rule names a topic that does not exist (removed since the rule was checked).
pub const TOPIC_MISSING: &str = "there is no topic";

/// A topic as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTopic {
    /// The topic.
    pub topic: AlertTopic,
    /// Bumped by each change.
    pub version: u64,
    /// How many people subscribe to it.
    pub subscribers: u64,
}

/// Topics and subscriptions.
#[async_trait]
pub trait TopicStore: Send + Sync {
    /// Every topic, by id.
    async fn alert_topics(&self) -> StoreResult<Vec<StoredTopic>>;
    /// One topic.
    async fn alert_topic(&self, id: &TopicId) -> StoreResult<Option<StoredTopic>>;
    /// Creates (`expected_version` `None`) or replaces (at that version) a topic; returns its
    /// new version. [`crate::StoreError::Conflict`] if it exists (creating) or is at another
    /// version, [`crate::StoreError::NotFound`] replacing one that does not exist.
    async fn set_alert_topic(
        &self,
        topic: &AlertTopic,
        expected_version: Option<u64>,
        by: &str,
        at: Timestamp,
    ) -> StoreResult<u64>;
    /// Removes a topic and every subscription to it, in one write; `false` if there was none.
    /// [`crate::StoreError::Conflict`] (naming them) if an alarm rule names it: checked in the
    /// same write, as saving a rule checks that its topic exists
    /// ([`crate::AlarmStore::set_alarm_rule`]).
    async fn remove_alert_topic(&self, id: &TopicId) -> StoreResult<bool>;
    /// Replaces someone's subscription to a topic by these scopes (none: unsubscribes), in one
    /// write; [`crate::StoreError::NotFound`] if there is no such topic.
    async fn set_topic_subscription(
        &self,
        user: &UserId,
        topic: &TopicId,
        scopes: &[TopicScope],
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Someone's subscriptions: each topic with its scopes, by topic id.
    async fn topic_subscriptions_of(&self, user: &UserId) -> StoreResult<Vec<(TopicId, Vec<TopicScope>)>>;
    /// A topic's subscribers, each with one of their scopes per row, by user.
    async fn topic_subscribers(&self, topic: &TopicId) -> StoreResult<Vec<(OwnedUserId, TopicScope)>>;
}
