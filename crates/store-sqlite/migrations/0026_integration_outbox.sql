-- Wardline schema: the durable outbox of reports to hospital systems (issue 15, "status back").

-- One report to one integration: an alarm's status (delivered, read, accepted, undeliverable...)
-- or an administrator's test (`alarm_id` NULL). `id` (`msg_` and 128 random bits) is the
-- `webhook-id` the receiver deduplicates by, the same on every attempt; `payload` is exactly
-- the bytes signed and sent. Pending while `outcome` is NULL: due at `due_ts`, claimed by a
-- sender (`claimed_ts`, a lease) before it is sent; then `sent` or `failed` for good. Of one
-- alarm's reports to one integration over one channel only the lowest pending `seq` is sent, so
-- a source hears of an alarm in order. Finished rows are kept a while for the administrators'
-- view, then forgotten. Alarm ids and statuses only: never a patient's details.
CREATE TABLE integration_outbox (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    integration_id  TEXT NOT NULL,
    alarm_id        TEXT,
    channel         TEXT NOT NULL CHECK (channel IN ('webhook')),
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    due_ts          INTEGER NOT NULL,
    claimed_ts      INTEGER,
    outcome         TEXT CHECK (outcome IN ('sent', 'failed')),
    reason          TEXT,
    created_ts      INTEGER NOT NULL,
    done_ts         INTEGER
) STRICT;
CREATE INDEX integration_outbox_due ON integration_outbox (due_ts) WHERE outcome IS NULL;
CREATE INDEX integration_outbox_order ON integration_outbox (integration_id, alarm_id, channel, seq)
    WHERE outcome IS NULL;
CREATE INDEX integration_outbox_done ON integration_outbox (done_ts) WHERE outcome IS NOT NULL;
CREATE INDEX integration_outbox_by_integration ON integration_outbox (integration_id, seq);
