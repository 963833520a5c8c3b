-- Wardline schema: writing conversations back to the patient's record (issue 16).
--
-- `record_filings`: one row per request to file messages of a conversation, stored before
-- anything is sent. `patient` is the patient as tied (JSON, as in `room_patients`) under
-- `tie_version`; `events` the messages (a JSON array of event ids, the conversation's order).
-- `state` is pending | filed | refused; a pending filing is due at `due_ts` and held by its
-- sender while `claimed_ts` is within the lease. `attempts` counts attempts that ended,
-- `last_error` why the last failed (never message text), `resources` (JSON array) what the
-- record wrote (`Communication/123`).
CREATE TABLE record_filings (
    id            TEXT PRIMARY KEY,
    room_id       TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    requested_ts  INTEGER NOT NULL,
    tie_version   INTEGER NOT NULL,
    patient       TEXT NOT NULL,
    events        TEXT NOT NULL,
    transcript    INTEGER NOT NULL CHECK (transcript IN (0, 1)),
    state         TEXT NOT NULL CHECK (state IN ('pending', 'filed', 'refused')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    due_ts        INTEGER NOT NULL,
    claimed_ts    INTEGER,
    last_error    TEXT,
    resources     TEXT NOT NULL DEFAULT '[]',
    finished_ts   INTEGER
) STRICT;
CREATE INDEX record_filings_due ON record_filings (due_ts) WHERE state = 'pending';
CREATE INDEX record_filings_by_room ON record_filings (room_id, requested_ts);

-- What the record holds of each message: from the last filing that wrote it (replaced when it
-- is filed again). `content_hash` is the message as filed, so an edit or deletion since shows.
CREATE TABLE filed_events (
    event_id      TEXT PRIMARY KEY,
    room_id       TEXT NOT NULL,
    filing_id     TEXT NOT NULL REFERENCES record_filings (id),
    resource      TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('completed', 'entered-in-error')),
    filed_ts      INTEGER NOT NULL
) STRICT;
CREATE INDEX filed_events_by_room ON filed_events (room_id);
