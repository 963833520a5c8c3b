-- Wardline schema v1: accounts, sessions, room logs, receipts, account data, filters, presence.

-- Facts about this server fixed at its first start (the server name).
CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE accounts (
    user_id              TEXT PRIMARY KEY,
    password_hash        TEXT NOT NULL,
    display_name         TEXT,
    avatar_url           TEXT,
    is_admin             INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    deactivated          INTEGER NOT NULL DEFAULT 0,
    job_title            TEXT,
    department           TEXT,
    email                TEXT,
    phone                TEXT,
    created_ts           INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
    user_id      TEXT NOT NULL REFERENCES accounts(user_id),
    device_id    TEXT NOT NULL,
    display_name TEXT,
    created_ts   INTEGER NOT NULL,
    last_seen_ts INTEGER,
    last_seen_ip TEXT,
    PRIMARY KEY (user_id, device_id)
) STRICT;

-- Access tokens are stored as SHA-256 hashes; the token itself is never written down.
CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices(user_id, device_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX access_tokens_device ON access_tokens(user_id, device_id);

CREATE TABLE rooms (
    room_id    TEXT PRIMARY KEY,
    created_ts INTEGER NOT NULL
) STRICT;

-- One totally ordered log: `stream` is the server-wide position.
CREATE TABLE events (
    stream            INTEGER PRIMARY KEY,
    event_id          TEXT NOT NULL UNIQUE,
    room_id           TEXT NOT NULL REFERENCES rooms(room_id),
    sender            TEXT NOT NULL,
    type              TEXT NOT NULL,
    state_key         TEXT,
    content           TEXT NOT NULL,
    origin_server_ts  INTEGER NOT NULL,
    redacts           TEXT,
    txn_device        TEXT,
    txn_id            TEXT,
    -- Set when redacted: the redaction event as client JSON, and the original content kept for
    -- investigations (never served to clients).
    redacted_because  TEXT,
    original_content  TEXT
) STRICT;
CREATE INDEX events_room ON events(room_id, stream);
CREATE INDEX events_state ON events(room_id, type, state_key, stream) WHERE state_key IS NOT NULL;
CREATE UNIQUE INDEX events_txn ON events(sender, txn_device, txn_id) WHERE txn_id IS NOT NULL;
CREATE INDEX events_sender ON events(room_id, sender, stream);

CREATE TABLE room_state (
    room_id   TEXT NOT NULL,
    type      TEXT NOT NULL,
    state_key TEXT NOT NULL,
    stream    INTEGER NOT NULL,
    PRIMARY KEY (room_id, type, state_key)
) STRICT;

CREATE TABLE memberships (
    room_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    membership TEXT NOT NULL,
    stream     INTEGER NOT NULL,
    forgotten  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id)
) STRICT;
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE membership_log (
    stream     INTEGER PRIMARY KEY,
    room_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    membership TEXT NOT NULL
) STRICT;
CREATE INDEX membership_log_user ON membership_log(user_id, stream);
CREATE INDEX membership_log_user_room ON membership_log(user_id, room_id, stream);

CREATE TABLE receipts (
    room_id      TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    thread_id    TEXT NOT NULL DEFAULT '',
    event_id     TEXT NOT NULL,
    event_stream INTEGER NOT NULL,
    ts           INTEGER NOT NULL,
    stream       INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
) STRICT;
CREATE INDEX receipts_room_stream ON receipts(room_id, stream);
CREATE INDEX receipts_stream ON receipts(stream);

CREATE TABLE account_data (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL DEFAULT '',
    type    TEXT NOT NULL,
    content TEXT NOT NULL,
    stream  INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
) STRICT;
CREATE INDEX account_data_stream ON account_data(user_id, stream);

CREATE TABLE filters (
    user_id   TEXT NOT NULL,
    filter_id INTEGER NOT NULL,
    json      TEXT NOT NULL,
    PRIMARY KEY (user_id, filter_id)
) STRICT;

CREATE TABLE presence (
    user_id        TEXT PRIMARY KEY,
    state          TEXT NOT NULL,
    status_msg     TEXT,
    last_active_ts INTEGER NOT NULL,
    stream         INTEGER NOT NULL
) STRICT;
CREATE INDEX presence_stream ON presence(stream);
