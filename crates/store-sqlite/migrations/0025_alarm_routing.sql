-- Wardline schema: routing alarms to the people who must act (issue 15, "Rules and incidents").
--
-- Rules are edited by administrators and checked when saved; each is stored whole as JSON,
-- with its version for conditional updates. What dispatch decided is kept on the alarm (the
-- rule, level, policy, conversation and the message posted), and each status fact (delivered,
-- read, accepted...) once per alarm, kind and person.

CREATE TABLE alarm_rules (
    id          TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    rule        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_ts  INTEGER NOT NULL
) STRICT;

-- The message the alarm was last posted as (its escalation is the message's).
ALTER TABLE alarms ADD COLUMN event_id TEXT;
CREATE INDEX alarms_by_event ON alarms (event_id) WHERE event_id IS NOT NULL;
-- Alarms whose status is still followed: delivered and waiting for an acceptance, and (for a
-- while) those accepted or at the failsafe, whose acceptance may be taken back or come late.
CREATE INDEX alarms_notified ON alarms (seq) WHERE outcome = 'notified';
CREATE INDEX alarms_settled ON alarms (seq) WHERE outcome IN ('accepted', 'failsafe') AND ended_ts IS NULL;

-- Each status fact once: `user_id` is '' for a fact about nobody in particular (escalated,
-- failsafe), `answer` the answer an acceptance, decline or withdrawal is about ('' if none).
-- Never updated: a fact, once recorded, stands.
CREATE TABLE alarm_status (
    alarm_id  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    user_id   TEXT NOT NULL DEFAULT '',
    answer    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    PRIMARY KEY (alarm_id, kind, user_id, answer)
) STRICT;
CREATE TRIGGER alarm_status_append_only_u BEFORE UPDATE ON alarm_status
BEGIN SELECT RAISE(ABORT, 'alarm status facts are append-only'); END;
