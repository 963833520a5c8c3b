-- Wardline schema: pushers, the durable queue of push notifications and the server's VAPID key
-- (issue 14, "a phone that rings").

-- A device's registration for pushes (`POST /pushers/set`): a push gateway (`http`) or a Web
-- Push subscription (`webpush`, MSC4174). `data` is the pusher's JSON object (`url`, `format`,
-- for Web Push `auth`). `device_id` is the session's device that set it: the pusher ends with it.
CREATE TABLE pushers (
    user_id             TEXT NOT NULL,
    app_id              TEXT NOT NULL,
    pushkey             TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('http', 'webpush')),
    app_display_name    TEXT NOT NULL,
    device_display_name TEXT NOT NULL,
    profile_tag         TEXT,
    lang                TEXT NOT NULL,
    data                TEXT NOT NULL,
    device_id           TEXT,
    created_ts          INTEGER NOT NULL,
    PRIMARY KEY (app_id, pushkey, user_id)
) STRICT;
CREATE INDEX pushers_by_user ON pushers (user_id);

-- Every way a session ends deletes its device: its pushers go in the same transaction.
CREATE TRIGGER pushers_end_with_their_device AFTER DELETE ON devices
BEGIN DELETE FROM pushers WHERE user_id = OLD.user_id AND device_id = OLD.device_id; END;

-- One notification of one event to one pusher. Pending while `outcome` is NULL: due at
-- `due_ts`, claimed by a sender (`claimed_ts`, a lease) before it is sent; then `sent` or
-- `failed` for good. Finished rows are kept a while so that "every push to this person about
-- this message failed" can be told, then forgotten. Ids only: never a message's text.
CREATE TABLE push_queue (
    id          INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL,
    app_id      TEXT NOT NULL,
    pushkey     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    room_id     TEXT NOT NULL,
    level       TEXT NOT NULL,
    highlight   INTEGER NOT NULL,
    unread      INTEGER NOT NULL,
    escalation  TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_ts      INTEGER NOT NULL,
    claimed_ts  INTEGER,
    outcome     TEXT CHECK (outcome IN ('sent', 'failed')),
    reason      TEXT,
    done_ts     INTEGER,
    UNIQUE (event_id, user_id, app_id, pushkey)
) STRICT;
CREATE INDEX push_queue_due ON push_queue (due_ts) WHERE outcome IS NULL;
CREATE INDEX push_queue_done ON push_queue (done_ts) WHERE outcome IS NOT NULL;

-- The server's one VAPID key pair (RFC 8292), P-256, as PKCS#8: created on first need by
-- whichever node needs it first; every node then reads the same one.
CREATE TABLE push_vapid (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    pkcs8      BLOB NOT NULL,
    created_ts INTEGER NOT NULL
) STRICT;

-- Push delivery follows the stream from here: messages stored before pushers existed are not
-- pushed.
INSERT OR IGNORE INTO background_cursors (name, pos) SELECT 'push', COALESCE(MAX(stream), 0) FROM events;
