-- Wardline schema v2: the tamper-evident audit trail.

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    ts           INTEGER NOT NULL,
    actor        TEXT,
    device       TEXT,
    ip           TEXT,
    action       TEXT NOT NULL,
    room_id      TEXT,
    event_id     TEXT,
    target_user  TEXT,
    outcome      TEXT NOT NULL,
    detail       TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_ts ON audit_log(ts);

CREATE TABLE audit_checkpoints (
    seq       INTEGER PRIMARY KEY,
    hash      TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    signature TEXT NOT NULL
) STRICT;
