-- Wardline schema v7: why a session ended, kept for a while after its token is gone, so that its
-- holder can be told (an account deactivated) by whichever node the token reaches, after a restart too.

CREATE TABLE ended_tokens (
    token_hash TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    ended_ts   INTEGER NOT NULL
) STRICT;

CREATE INDEX ended_tokens_by_time ON ended_tokens (ended_ts);
