-- Presence that expires, computed from stored facts: when a client last synced, and why a user
-- shows as away whatever their activity ('user': their choice; 'client': their client said idle).
-- Rows from before have no sync recorded, so they expire to offline at once.
ALTER TABLE presence ADD COLUMN last_sync_ts INTEGER;
ALTER TABLE presence ADD COLUMN away TEXT CHECK (away IN ('user', 'client'));

-- Device list changes in the stream: a device added, removed or renamed takes a position, so
-- `/sync` can tell the users who share a room with its owner (`device_lists.changed`).
CREATE TABLE device_changes (
    stream  INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL
) STRICT;
