-- Wardline schema v8: "Delivered" and "Read" that survive restarts.

-- Which of a room's events reached a member's device, and when: every event of the room at a
-- position in first..=last was carried to one of the member's devices by a response made at `ts`
-- (a sync timeline, a page of history). Per member the intervals never overlap: what was
-- delivered again keeps its first time. `stream` is the record's own position in the stream.
CREATE TABLE deliveries (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    first   INTEGER NOT NULL,
    last    INTEGER NOT NULL,
    ts      INTEGER NOT NULL,
    stream  INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id, first)
) STRICT;
CREATE INDEX deliveries_room_stream ON deliveries (room_id, stream);
CREATE INDEX deliveries_user_stream ON deliveries (room_id, user_id, stream);

-- Every receipt as it advanced (`receipts` keeps only the latest), so the time someone read an
-- older message is kept. `stream` is the position the receipt took.
CREATE TABLE receipt_log (
    stream       INTEGER PRIMARY KEY,
    room_id      TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    thread_id    TEXT NOT NULL DEFAULT '',
    event_id     TEXT NOT NULL,
    event_stream INTEGER NOT NULL,
    ts           INTEGER NOT NULL
) STRICT;
CREATE INDEX receipt_log_by_time ON receipt_log (room_id, user_id, receipt_type, ts);
CREATE INDEX receipt_log_by_stream ON receipt_log (room_id, user_id, receipt_type, stream);

-- What is known from before: each receipt's latest position.
INSERT INTO receipt_log (stream, room_id, user_id, receipt_type, thread_id, event_id, event_stream, ts)
    SELECT stream, room_id, user_id, receipt_type, thread_id, event_id, event_stream, ts FROM receipts;
