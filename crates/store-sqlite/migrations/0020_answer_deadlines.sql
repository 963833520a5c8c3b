-- Wardline schema: answer deadlines (issue 14, quick responses): "tell me if nobody has
-- answered in N minutes". One row per question; `outcome` is set once, when it ends.
CREATE TABLE answer_deadlines (
    event_id TEXT PRIMARY KEY,
    room_id  TEXT NOT NULL,
    sender   TEXT NOT NULL,
    due_ts   INTEGER NOT NULL,
    outcome  TEXT,
    ended_ts INTEGER
) STRICT;
CREATE INDEX answer_deadlines_due ON answer_deadlines (due_ts) WHERE outcome IS NULL;

-- The answer that ended an escalation as accepted, so an acceptance read again after a crash
-- (between ending it and saying so) is known to be that one, and told once.
ALTER TABLE escalations ADD COLUMN accepted_by TEXT;
