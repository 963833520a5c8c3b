-- Wardline schema: clinical alert topics and their subscriptions (issue 15).
--
-- A topic is made by administrators, as JSON (its name, description and who may subscribe),
-- versioned like an alarm rule. A subscription is one row per (topic, person, scope): a scope
-- is `all`, `ward:<ward>` or `specialty:<specialty>`. Removing a topic removes its
-- subscriptions in the same write.
CREATE TABLE alert_topics (
    id          TEXT PRIMARY KEY,
    topic       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_ts  INTEGER NOT NULL
) STRICT;

CREATE TABLE topic_subscriptions (
    topic_id    TEXT NOT NULL REFERENCES alert_topics(id),
    user_id     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    created_ts  INTEGER NOT NULL,
    PRIMARY KEY (topic_id, user_id, scope)
) STRICT;

CREATE INDEX topic_subscriptions_by_user ON topic_subscriptions (user_id, topic_id);
