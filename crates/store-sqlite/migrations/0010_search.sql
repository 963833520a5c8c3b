-- Message search (issue 11): a full-text index of messages, room names and topics, kept in the
-- same transaction as the events it indexes (src/search.rs), filled here from the events
-- already stored. The rules of what is indexed are in wardline_types::search and on
-- wardline_store::SearchStore; this file applies the same rules to existing events.

-- A short, stable number per room, so the index itself can restrict a search to rooms.
CREATE TABLE search_rooms (
    room_key INTEGER PRIMARY KEY,
    room_id  TEXT NOT NULL UNIQUE
) STRICT;

-- The index. A row's rowid is the stream position of the event whose text it holds: a
-- message, a room name or topic, or the latest edit of a message. `room` holds `r{room_key}`.
-- Contentless: the text itself is kept in `events` only.
CREATE VIRTUAL TABLE event_search USING fts5(
    body, name, topic, room,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Edits applied to the index: the edit's position and the position of the message it edits.
-- A message's text is its latest edit's (the greatest `stream` for its `target`), else its own.
CREATE TABLE search_edits (
    stream INTEGER PRIMARY KEY,
    target INTEGER NOT NULL
) STRICT;
CREATE INDEX search_edits_target ON search_edits(target, stream);

INSERT INTO search_rooms (room_id) SELECT room_id FROM rooms ORDER BY created_ts, room_id;

-- Edits that apply: an unredacted `m.replace` by the message's own sender, in its room, of an
-- unredacted message that is not an edit itself.
INSERT INTO search_edits (stream, target)
SELECT e.stream, o.stream
FROM events e
JOIN events o ON o.event_id = (e.content ->> '$."m.relates_to".event_id')
WHERE e.type = 'm.room.message' AND e.state_key IS NULL AND e.redacted_because IS NULL
  AND (e.content ->> '$."m.relates_to".rel_type') = 'm.replace'
  AND o.room_id = e.room_id AND o.sender = e.sender AND o.stream < e.stream
  AND o.type = 'm.room.message' AND o.state_key IS NULL AND o.redacted_because IS NULL
  AND COALESCE(o.content ->> '$."m.relates_to".rel_type', '') != 'm.replace';

-- Each message's current text: its latest edit's new body, else its own body.
INSERT INTO event_search (rowid, body, room)
SELECT pos, text, room FROM (
    SELECT COALESCE(latest.stream, o.stream) AS pos,
           CASE WHEN latest.stream IS NULL THEN o.content ->> '$.body'
                ELSE edit.content ->> '$."m.new_content".body' END AS text,
           'r' || sr.room_key AS room
    FROM events o
    JOIN search_rooms sr ON sr.room_id = o.room_id
    LEFT JOIN (SELECT target, MAX(stream) AS stream FROM search_edits GROUP BY target) latest
           ON latest.target = o.stream
    LEFT JOIN events edit ON edit.stream = latest.stream
    WHERE o.type = 'm.room.message' AND o.state_key IS NULL AND o.redacted_because IS NULL
      AND COALESCE(o.content ->> '$."m.relates_to".rel_type', '') != 'm.replace'
)
WHERE typeof(text) = 'text' AND text != '';

INSERT INTO event_search (rowid, name, room)
SELECT e.stream, e.content ->> '$.name', 'r' || sr.room_key
FROM events e JOIN search_rooms sr ON sr.room_id = e.room_id
WHERE e.type = 'm.room.name' AND e.state_key = '' AND e.redacted_because IS NULL
  AND typeof(e.content ->> '$.name') = 'text' AND (e.content ->> '$.name') != '';

INSERT INTO event_search (rowid, topic, room)
SELECT e.stream, e.content ->> '$.topic', 'r' || sr.room_key
FROM events e JOIN search_rooms sr ON sr.room_id = e.room_id
WHERE e.type = 'm.room.topic' AND e.state_key = '' AND e.redacted_because IS NULL
  AND typeof(e.content ->> '$.topic') = 'text' AND (e.content ->> '$.topic') != '';
