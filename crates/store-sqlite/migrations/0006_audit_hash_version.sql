-- Wardline schema v6: each audit record says how its hash was computed. Records written before
-- this version were hashed over serde_json's output (version 1); new ones over defined bytes.

ALTER TABLE audit_log ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;
