-- Wardline schema: escalations of urgent and emergency messages (issue 14), and their policies.

-- One row per message that escalates. `step` is the next step of `policy` to run, due at
-- `due_ts`; a runner claims it (`claimed_ts`) before acting and moves `step` on when done, so a
-- step runs to completion once even across a crash. `outcome` is set once, when it ends.
CREATE TABLE escalations (
    event_id    TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL,
    sender      TEXT NOT NULL,
    level       TEXT NOT NULL,
    policy      TEXT NOT NULL,
    sent_ts     INTEGER NOT NULL,
    step        INTEGER NOT NULL DEFAULT 0,
    due_ts      INTEGER,
    claimed_ts  INTEGER,
    outcome     TEXT,
    ended_ts    INTEGER
) STRICT;
CREATE INDEX escalations_due ON escalations (due_ts) WHERE outcome IS NULL;

-- What each step did (append-only).
CREATE TABLE escalation_steps (
    event_id TEXT NOT NULL,
    step     INTEGER NOT NULL,
    ts       INTEGER NOT NULL,
    summary  TEXT NOT NULL,
    PRIMARY KEY (event_id, step)
) STRICT;
CREATE TRIGGER escalation_steps_append_only_u BEFORE UPDATE ON escalation_steps
BEGIN SELECT RAISE(ABORT, 'escalation steps are append-only'); END;
CREATE TRIGGER escalation_steps_append_only_d BEFORE DELETE ON escalation_steps
BEGIN SELECT RAISE(ABORT, 'escalation steps are append-only'); END;

-- Policies by scope (`org`, `role:<id>`, `room:<id>`) and level.
CREATE TABLE escalation_policies (
    scope      TEXT NOT NULL,
    level      TEXT NOT NULL,
    policy     TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_ts INTEGER NOT NULL,
    PRIMARY KEY (scope, level)
) STRICT;

-- The escalation engine follows the stream from here: every message stored from now on is
-- looked at (none before could ask to escalate).
INSERT OR IGNORE INTO background_cursors (name, pos) SELECT 'escalation', COALESCE(MAX(stream), 0) FROM events;
