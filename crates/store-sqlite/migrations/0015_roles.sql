-- Roles (on call, in charge, a team): organisation objects people hold. A role's Matrix user id
-- is derived from its id (@role.<id>:<server>), never stored.
CREATE TABLE roles (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    department   TEXT,
    site         TEXT,
    bleep        TEXT,
    may_be_empty INTEGER NOT NULL DEFAULT 1,
    fallback_id  TEXT REFERENCES roles(id),
    retired      INTEGER NOT NULL DEFAULT 0,
    version      INTEGER NOT NULL DEFAULT 1,
    created_ts   INTEGER NOT NULL,
    updated_ts   INTEGER NOT NULL
) STRICT;

-- Who may hold a role: any match of a user id, a job title or a department.
CREATE TABLE role_eligibility (
    role_id TEXT NOT NULL REFERENCES roles(id),
    kind    TEXT NOT NULL CHECK (kind IN ('user', 'job_title', 'department')),
    value   TEXT NOT NULL,
    PRIMARY KEY (role_id, kind, value)
) STRICT;

-- Who holds a role now.
CREATE TABLE role_holders (
    role_id   TEXT NOT NULL REFERENCES roles(id),
    user_id   TEXT NOT NULL REFERENCES accounts(user_id),
    since_ts  INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    from_user TEXT,
    PRIMARY KEY (role_id, user_id)
) STRICT;
CREATE INDEX role_holders_by_user ON role_holders (user_id);

-- Every change of hands, append-only.
CREATE TABLE role_history (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    role_id   TEXT NOT NULL REFERENCES roles(id),
    ts        INTEGER NOT NULL,
    reason    TEXT NOT NULL CHECK (reason IN ('swipe_in', 'swipe_out', 'handover', 'admin', 'deactivated')),
    actor     TEXT,
    from_user TEXT,
    to_user   TEXT,
    note      TEXT
) STRICT;
CREATE INDEX role_history_by_role ON role_history (role_id, seq);
CREATE TRIGGER role_history_no_update BEFORE UPDATE ON role_history
BEGIN SELECT RAISE(ABORT, 'role history is append-only'); END;
CREATE TRIGGER role_history_no_delete BEFORE DELETE ON role_history
BEGIN SELECT RAISE(ABORT, 'role history is append-only'); END;

-- New holders to be told (an outbox: the notification that sends them comes later).
CREATE TABLE role_notices (
    seq     INTEGER PRIMARY KEY REFERENCES role_history(seq),
    user_id TEXT NOT NULL,
    sent_ts INTEGER
) STRICT;
CREATE INDEX role_notices_pending ON role_notices (seq) WHERE sent_ts IS NULL;
