-- Wardline schema v12: deleting a message deletes its sender's edits of it (rooms.rs, `redact`).
-- Messages deleted before that rule left their edits standing, and an edit holds the message's
-- text. This redacts them now, as the rule would have: each unredacted `m.replace` by the
-- message's own sender, of a redacted message (and, in turn, their own edits), is pruned to the
-- content redaction keeps, its original kept for investigations, and marked redacted by the
-- message's redaction. Like any redaction, it leaves the relations index and frees its files.
-- (Search never indexed them: 0010 skips edits of redacted messages.)

CREATE TEMP TABLE orphaned_edits (
    event_id TEXT PRIMARY KEY,
    because  TEXT NOT NULL
);

WITH RECURSIVE doomed(event_id, sender, because) AS (
    SELECT r.event_id, r.sender, p.redacted_because
    FROM events p
    JOIN event_relations r ON r.parent_id = p.event_id AND r.room_id = p.room_id
    WHERE p.redacted_because IS NOT NULL AND r.rel_type = 'm.replace' AND r.sender = p.sender
    UNION
    SELECT r.event_id, r.sender, d.because
    FROM doomed d
    JOIN event_relations r ON r.parent_id = d.event_id
    WHERE r.rel_type = 'm.replace' AND r.sender = d.sender
)
INSERT INTO orphaned_edits (event_id, because)
SELECT d.event_id, d.because FROM doomed d
JOIN events e ON e.event_id = d.event_id
WHERE e.redacted_because IS NULL;

-- Redaction keeps no content key of an event of these types but those listed in
-- wardline_types::redaction; an edit is a message, so in practice its content becomes `{}`.
UPDATE events
SET original_content = content,
    content = '{}',
    redacted_because = (SELECT because FROM orphaned_edits o WHERE o.event_id = events.event_id)
WHERE event_id IN (SELECT event_id FROM orphaned_edits)
  AND type NOT IN ('m.room.member', 'm.room.join_rules', 'm.room.power_levels',
                   'm.room.history_visibility', 'm.room.redaction', 'm.room.create');

DELETE FROM event_relations
WHERE event_id IN (SELECT event_id FROM orphaned_edits o JOIN events e USING (event_id)
                   WHERE e.redacted_because IS NOT NULL);

CREATE TEMP TABLE orphaned_media AS
SELECT DISTINCT media_id FROM media_refs
WHERE event_id IN (SELECT event_id FROM orphaned_edits o JOIN events e USING (event_id)
                   WHERE e.redacted_because IS NOT NULL);
DELETE FROM media_refs
WHERE event_id IN (SELECT event_id FROM orphaned_edits o JOIN events e USING (event_id)
                   WHERE e.redacted_because IS NOT NULL);
UPDATE media SET released = 1
WHERE media_id IN (SELECT media_id FROM orphaned_media)
  AND NOT EXISTS (SELECT 1 FROM media_refs WHERE media_refs.media_id = media.media_id);

DROP TABLE orphaned_media;
DROP TABLE orphaned_edits;
