-- Rota: scheduled shifts of roles, imported from a rostering system's export (CSV or
-- iCalendar). The rota is the source of truth for scheduled holders; the server applies each
-- shift's start and end at its boundary, once, inside the single writer's transaction.
CREATE TABLE role_shifts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    role_id      TEXT NOT NULL REFERENCES roles(id),
    user_id      TEXT NOT NULL REFERENCES accounts(user_id),
    starts_ts    INTEGER NOT NULL,
    ends_ts      INTEGER NOT NULL CHECK (ends_ts > starts_ts),
    source       TEXT NOT NULL,
    note         TEXT,
    imported_ts  INTEGER NOT NULL,
    -- When the start was applied (the holder added, or found holding already).
    started_ts   INTEGER,
    -- When the end was applied (the holder removed, or found gone).
    ended_ts     INTEGER,
    -- When the end fell due but removing the holder would have emptied a role that must not be
    -- empty: the holder was kept, and the end is tried again until someone else holds the role.
    uncovered_ts INTEGER,
    UNIQUE (role_id, user_id, starts_ts, ends_ts)
) STRICT;
CREATE INDEX role_shifts_by_role ON role_shifts (role_id, starts_ts);
CREATE INDEX role_shifts_to_start ON role_shifts (starts_ts) WHERE started_ts IS NULL;
CREATE INDEX role_shifts_to_end ON role_shifts (ends_ts) WHERE started_ts IS NOT NULL AND ended_ts IS NULL;

-- The history and holders gain the reason `rota`. SQLite cannot change a CHECK in place, so the
-- history is copied into a table with the new CHECK (the notices that reference it too), and the
-- append-only triggers are made again.
CREATE TABLE role_history_v16 (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    role_id   TEXT NOT NULL REFERENCES roles(id),
    ts        INTEGER NOT NULL,
    reason    TEXT NOT NULL CHECK (reason IN ('swipe_in', 'swipe_out', 'handover', 'admin', 'deactivated', 'rota')),
    actor     TEXT,
    from_user TEXT,
    to_user   TEXT,
    note      TEXT
) STRICT;
INSERT INTO role_history_v16 (seq, role_id, ts, reason, actor, from_user, to_user, note)
    SELECT seq, role_id, ts, reason, actor, from_user, to_user, note FROM role_history;
CREATE TABLE role_notices_v16 (
    seq     INTEGER PRIMARY KEY REFERENCES role_history_v16(seq),
    user_id TEXT NOT NULL,
    sent_ts INTEGER
) STRICT;
INSERT INTO role_notices_v16 (seq, user_id, sent_ts) SELECT seq, user_id, sent_ts FROM role_notices;
DROP TABLE role_notices;
DROP TABLE role_history;
ALTER TABLE role_history_v16 RENAME TO role_history;
ALTER TABLE role_notices_v16 RENAME TO role_notices;
CREATE INDEX role_history_by_role ON role_history (role_id, seq);
CREATE TRIGGER role_history_no_update BEFORE UPDATE ON role_history
BEGIN SELECT RAISE(ABORT, 'role history is append-only'); END;
CREATE TRIGGER role_history_no_delete BEFORE DELETE ON role_history
BEGIN SELECT RAISE(ABORT, 'role history is append-only'); END;
CREATE INDEX role_notices_pending ON role_notices (seq) WHERE sent_ts IS NULL;
