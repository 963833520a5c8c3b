-- Wardline schema: the relations index. One row per event whose content has an `m.relates_to`
-- with a string `rel_type` and the id of an earlier event of the same room (a reaction, an edit,
-- a message in a thread, a reference). Kept by the same transaction that stores the event; the
-- redaction of a child removes its row, the redaction of a parent keeps its children's.

CREATE TABLE event_relations (
    event_id         TEXT PRIMARY KEY,
    room_id          TEXT NOT NULL,
    rel_type         TEXT NOT NULL,
    parent_id        TEXT NOT NULL,
    sender           TEXT NOT NULL,
    type             TEXT NOT NULL,
    -- For `m.annotation`: the key (a reaction's emoji).
    annotation_key   TEXT,
    stream           INTEGER NOT NULL,
    origin_server_ts INTEGER NOT NULL
) STRICT;
CREATE INDEX event_relations_parent ON event_relations (parent_id, rel_type, type, stream);
CREATE INDEX event_relations_annotations ON event_relations (parent_id, sender, type, annotation_key)
    WHERE rel_type = 'm.annotation';

-- Events stored before this index existed (redacted ones no longer carry `m.relates_to`).
INSERT INTO event_relations
    (event_id, room_id, rel_type, parent_id, sender, type, annotation_key, stream, origin_server_ts)
SELECT c.event_id, c.room_id,
       json_extract(c.content, '$."m.relates_to".rel_type'),
       json_extract(c.content, '$."m.relates_to".event_id'),
       c.sender, c.type,
       CASE WHEN json_extract(c.content, '$."m.relates_to".rel_type') = 'm.annotation'
             AND json_type(c.content, '$."m.relates_to".key') = 'text'
            THEN json_extract(c.content, '$."m.relates_to".key') END,
       c.stream, c.origin_server_ts
FROM events c
WHERE c.redacted_because IS NULL
  AND json_valid(c.content)
  AND json_type(c.content, '$."m.relates_to".rel_type') = 'text'
  AND json_type(c.content, '$."m.relates_to".event_id') = 'text'
  AND EXISTS (
      SELECT 1 FROM events p
      WHERE p.event_id = json_extract(c.content, '$."m.relates_to".event_id')
        AND p.room_id = c.room_id AND p.stream < c.stream);
