-- Wardline schema: the integration outbox carries HL7 v2 (PCD-05 Report Alert Status over MLLP)
-- and WCTP (StatusInfo, MessageReply) reports besides webhooks. SQLite cannot change a CHECK, so
-- the table is made anew with the wider one and its rows and indexes carried over.
CREATE TABLE integration_outbox_new (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    integration_id  TEXT NOT NULL,
    alarm_id        TEXT,
    channel         TEXT NOT NULL CHECK (channel IN ('webhook', 'hl7', 'wctp')),
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    due_ts          INTEGER NOT NULL,
    claimed_ts      INTEGER,
    outcome         TEXT CHECK (outcome IN ('sent', 'failed')),
    reason          TEXT,
    created_ts      INTEGER NOT NULL,
    done_ts         INTEGER
) STRICT;
INSERT INTO integration_outbox_new
    SELECT seq, id, integration_id, alarm_id, channel, payload, attempts, due_ts, claimed_ts, outcome, reason,
           created_ts, done_ts
    FROM integration_outbox;
DROP TABLE integration_outbox;
ALTER TABLE integration_outbox_new RENAME TO integration_outbox;
CREATE INDEX integration_outbox_due ON integration_outbox (due_ts) WHERE outcome IS NULL;
CREATE INDEX integration_outbox_order ON integration_outbox (integration_id, alarm_id, channel, seq)
    WHERE outcome IS NULL;
CREATE INDEX integration_outbox_done ON integration_outbox (done_ts) WHERE outcome IS NOT NULL;
CREATE INDEX integration_outbox_by_integration ON integration_outbox (integration_id, seq);
