-- Wardline schema v3: expiring access tokens, refresh tokens, and when each session began.

ALTER TABLE access_tokens ADD COLUMN expires_ts INTEGER;
ALTER TABLE access_tokens ADD COLUMN refresh_hash TEXT;
ALTER TABLE access_tokens ADD COLUMN session_start_ts INTEGER;
UPDATE access_tokens SET session_start_ts = created_ts;
CREATE UNIQUE INDEX access_tokens_refresh ON access_tokens(refresh_hash) WHERE refresh_hash IS NOT NULL;
