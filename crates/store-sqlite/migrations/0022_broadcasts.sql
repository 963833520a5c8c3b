-- Wardline schema: broadcasts (issue 14, "Broadcasts").

-- The permission an administrator grants to send broadcasts.
ALTER TABLE accounts ADD COLUMN may_broadcast INTEGER NOT NULL DEFAULT 0;

-- One row per broadcast, keyed by its conversation. `(sender, txn_id)` is unique, so a
-- retried request finds the broadcast it already sent. `reminded_ts` is claimed by a
-- conditional update (one reminder per interval, however many nodes or requests).
CREATE TABLE broadcasts (
    room_id      TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL,
    sender       TEXT NOT NULL,
    txn_id       TEXT NOT NULL,
    audience     TEXT NOT NULL,
    title        TEXT NOT NULL,
    level        TEXT NOT NULL,
    acknowledge  INTEGER NOT NULL,
    sent_ts      INTEGER NOT NULL,
    recipients   INTEGER NOT NULL,
    reminded_ts  INTEGER,
    UNIQUE (sender, txn_id)
) STRICT;
CREATE INDEX broadcasts_by_sender ON broadcasts (sender, sent_ts);
