-- Wardline schema v5: uploaded files and the events that refer to them.

CREATE TABLE media (
    media_id     TEXT PRIMARY KEY,
    uploader     TEXT NOT NULL,
    created_ts   INTEGER NOT NULL,
    -- For an id created before its content: the content must arrive by then.
    upload_by_ts INTEGER,
    -- NULL until the content has arrived.
    content_hash TEXT,
    content_type TEXT,
    size         INTEGER NOT NULL DEFAULT 0,
    filename     TEXT,
    width        INTEGER,
    height       INTEGER,
    -- The key the blob is encrypted with; NULL while blobs are stored in the clear.
    key_ref      TEXT,
    -- Some event referred to it at some time.
    referenced   INTEGER NOT NULL DEFAULT 0,
    -- Every event that referred to it was redacted: no longer served, to be deleted.
    released     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX media_uploader ON media(uploader) WHERE released = 0;
CREATE INDEX media_hash ON media(content_hash);

CREATE TABLE media_refs (
    media_id TEXT NOT NULL REFERENCES media(media_id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    room_id  TEXT NOT NULL,
    stream   INTEGER NOT NULL,
    PRIMARY KEY (media_id, event_id)
) STRICT;
CREATE INDEX media_refs_event ON media_refs(event_id);
