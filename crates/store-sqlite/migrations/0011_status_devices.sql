-- Wardline schema v11: "Delivered" and "Read" per device, ordered by the store's positions.
-- (Numbered 0011: 0010 is the message search index, merged before this one.)

-- Deliveries again, now per device: every event of the room at a position in first..=last was
-- carried to the member's device `device_id` by a response made at `ts`. Per member and device
-- the intervals never overlap. `device_id` '' marks a delivery recorded before devices were (to
-- one of the member's devices). `stream`, the record's own position, is its key, so the
-- highest one is found at once when the server starts.
CREATE TABLE deliveries_v11 (
    stream    INTEGER PRIMARY KEY,
    room_id   TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    first     INTEGER NOT NULL,
    last      INTEGER NOT NULL,
    ts        INTEGER NOT NULL
) STRICT;
INSERT INTO deliveries_v11 (stream, room_id, user_id, device_id, first, last, ts)
    SELECT stream, room_id, user_id, '', first, last, ts FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v11 RENAME TO deliveries;
CREATE UNIQUE INDEX deliveries_by_device ON deliveries (room_id, user_id, device_id, first);
CREATE INDEX deliveries_room_stream ON deliveries (room_id, stream);
CREATE INDEX deliveries_device_stream ON deliveries (room_id, user_id, device_id, stream);

-- Each logged receipt's device ('' for those kept from before), and the position the store had
-- reached when it arrived: only deliveries recorded at or before it can be what it read. A
-- receipt kept from before arrived just before its own position.
ALTER TABLE receipt_log ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
ALTER TABLE receipt_log ADD COLUMN arrived INTEGER NOT NULL DEFAULT 0;
UPDATE receipt_log SET arrived = stream - 1;
DROP INDEX receipt_log_by_time;
CREATE INDEX receipt_log_by_device ON receipt_log (room_id, user_id, device_id, receipt_type, thread_id, stream);
CREATE INDEX receipt_log_room_stream ON receipt_log (room_id, stream);

-- Where delivery tracking began (schema v8): messages at or before this position may have
-- reached devices before anything was recorded. Estimated from when v8 was applied (every event
-- sent by then; the second rounded up) and never after the first delivery recorded. A new
-- database starts at 0.
INSERT OR IGNORE INTO server_meta (key, value)
    SELECT 'deliveries_recorded_after', CAST(MIN(
        COALESCE((SELECT MAX(stream) FROM events WHERE origin_server_ts <
            ((SELECT applied_ts FROM schema_migrations WHERE version = 8) + 1) * 1000), 0),
        COALESCE((SELECT MIN(stream) - 1 FROM deliveries), 9223372036854775807)) AS TEXT);
