-- Wardline schema: the list of a room's threads (`GET /rooms/{roomId}/threads`) reads a room's
-- thread events through this index rather than every relation of every room.

CREATE INDEX event_relations_threads ON event_relations (room_id, parent_id, stream)
    WHERE rel_type = 'm.thread';
