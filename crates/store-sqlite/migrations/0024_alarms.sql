-- Wardline schema: alarms received from hospital systems (issue 15, "Inbound protocols").
--
-- An alarm is stored before its source is answered: one transaction writes the intake's dedup
-- key with the answer given, the alarm and its timeline's first entry.

-- One row per alarm. `(integration_id, source_id)` is unique: a source's repeat of the same
-- alarm is the same alarm. `seq` orders the live log. `due_ts`/`claimed_ts` are the
-- dispatcher's work item and lease, `rule_id`/`level`/`policy`/`room_id` what dispatch decided
-- (later work). Patient details and location live here, never in the audit trail.
CREATE TABLE alarms (
    seq                 INTEGER PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE,
    integration_id      TEXT NOT NULL,
    source_id           TEXT NOT NULL,
    kind                TEXT NOT NULL,
    source_priority     TEXT NOT NULL,
    text                TEXT NOT NULL,
    site                TEXT,
    ward                TEXT,
    room                TEXT,
    bed                 TEXT,
    patient             TEXT,
    details             TEXT,
    occurred_ts         INTEGER,
    protocol            TEXT NOT NULL CHECK (protocol IN ('http', 'hl7', 'wctp')),
    state               TEXT NOT NULL CHECK (state IN ('active', 'reset', 'cancelled')),
    outcome             TEXT NOT NULL CHECK (outcome IN ('pending', 'notified', 'accepted', 'failsafe',
                                                         'undeliverable', 'recorded', 'closed')),
    revision            INTEGER NOT NULL DEFAULT 1,
    dispatched_revision INTEGER NOT NULL DEFAULT 0,
    due_ts              INTEGER,
    claimed_ts          INTEGER,
    rule_id             TEXT,
    level               TEXT,
    policy              TEXT,
    room_id             TEXT,
    received_ts         INTEGER NOT NULL,
    updated_ts          INTEGER NOT NULL,
    ended_ts            INTEGER,
    status_pos          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (integration_id, source_id)
) STRICT;
CREATE INDEX alarms_due ON alarms (due_ts) WHERE due_ts IS NOT NULL;
CREATE INDEX alarms_watch ON alarms (updated_ts) WHERE outcome IN ('pending', 'notified');

-- Each alarm's timeline: received, then (later work) delivered, read, accepted... Append-only.
CREATE TABLE alarm_events (
    seq       INTEGER PRIMARY KEY,
    alarm_id  TEXT NOT NULL,
    revision  INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    detail    TEXT NOT NULL
) STRICT;
CREATE INDEX alarm_events_by_alarm ON alarm_events (alarm_id, seq);
CREATE TRIGGER alarm_events_append_only_u BEFORE UPDATE ON alarm_events
BEGIN SELECT RAISE(ABORT, 'alarm events are append-only'); END;
CREATE TRIGGER alarm_events_append_only_d BEFORE DELETE ON alarm_events
BEGIN SELECT RAISE(ABORT, 'alarm events are append-only'); END;

-- What each source sent, by its dedup key, with the answer it was given: a repeat gets the same
-- answer and changes nothing. `raw` (HL7, WCTP bodies) is forgotten after a while; the key is
-- kept longer.
CREATE TABLE alarm_intake (
    integration_id  TEXT NOT NULL,
    protocol        TEXT NOT NULL CHECK (protocol IN ('http', 'hl7', 'wctp')),
    intake_key      TEXT NOT NULL,
    alarm_id        TEXT,
    answer          TEXT NOT NULL,
    raw             BLOB,
    received_ts     INTEGER NOT NULL,
    PRIMARY KEY (integration_id, protocol, intake_key)
) STRICT;
CREATE INDEX alarm_intake_age ON alarm_intake (received_ts);
