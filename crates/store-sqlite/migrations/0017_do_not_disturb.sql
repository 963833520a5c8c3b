-- Do not disturb, with cover. `do_not_disturb` is what each person has set now (in force while
-- the clock is before `until_ts`: it ends by itself, the row is removed later); the log keeps
-- every period, so the forwarding of messages to the cover can ask who was on do-not-disturb
-- when a message was sent, however late it looks.
CREATE TABLE do_not_disturb (
    user_id        TEXT PRIMARY KEY REFERENCES accounts(user_id),
    until_ts       INTEGER NOT NULL,
    cover_user_id  TEXT REFERENCES accounts(user_id) CHECK (cover_user_id IS NULL OR cover_user_id <> user_id),
    set_ts         INTEGER NOT NULL CHECK (until_ts > set_ts),
    set_by_device  TEXT,
    -- The period of the log this row stands for.
    period         INTEGER NOT NULL
) STRICT;
CREATE INDEX do_not_disturb_until ON do_not_disturb (until_ts);

CREATE TABLE do_not_disturb_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        TEXT NOT NULL REFERENCES accounts(user_id),
    cover_user_id  TEXT REFERENCES accounts(user_id),
    from_ts        INTEGER NOT NULL,
    until_ts       INTEGER NOT NULL CHECK (until_ts > from_ts),
    -- Set once, when the period was ended before `until_ts` (cleared or replaced).
    ended_ts       INTEGER
) STRICT;
CREATE INDEX do_not_disturb_log_until ON do_not_disturb_log (until_ts);
-- A period is never removed, and only its end is ever set, once.
CREATE TRIGGER do_not_disturb_log_no_delete BEFORE DELETE ON do_not_disturb_log
BEGIN
    SELECT RAISE(ABORT, 'the do-not-disturb log is append-only');
END;
CREATE TRIGGER do_not_disturb_log_end_once BEFORE UPDATE ON do_not_disturb_log
WHEN OLD.ended_ts IS NOT NULL OR NEW.user_id IS NOT OLD.user_id OR NEW.cover_user_id IS NOT OLD.cover_user_id
    OR NEW.from_ts IS NOT OLD.from_ts OR NEW.until_ts IS NOT OLD.until_ts
BEGIN
    SELECT RAISE(ABORT, 'a do-not-disturb period only gains its end, once');
END;

-- Where each background task that follows the stream of events has got to, by name.
CREATE TABLE background_cursors (
    name TEXT PRIMARY KEY,
    pos  INTEGER NOT NULL
) STRICT;
