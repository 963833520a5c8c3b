-- Wardline schema: integration accounts (issue 15, "Integration accounts").

-- One row per hospital system (nurse call, fire panel, monitoring gateway, EPR). Never
-- deleted: a revoked integration keeps its id (`active = 0`), so its alarms and audit records
-- keep naming it. `scopes` and `allowed_kinds` are JSON arrays of names. The HL7, webhook and
-- WCTP bindings are filled by later work and are NULL until then.
CREATE TABLE integrations (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    allowed_kinds   TEXT NOT NULL DEFAULT '[]',
    active          INTEGER NOT NULL DEFAULT 1,
    hl7_application TEXT,
    hl7_facility    TEXT,
    hl7             TEXT,
    webhook_url     TEXT,
    webhook_secret  TEXT,
    wctp_sender_id  TEXT UNIQUE,
    wctp            TEXT,
    version         INTEGER NOT NULL DEFAULT 1,
    created_by      TEXT NOT NULL,
    created_ts      INTEGER NOT NULL,
    revoked_by      TEXT,
    revoked_ts      INTEGER
) STRICT;
CREATE UNIQUE INDEX integrations_hl7_sender ON integrations (hl7_application, hl7_facility)
    WHERE hl7_application IS NOT NULL AND active = 1;

-- API keys: only the SHA-256 of the secret is kept (the key is shown once, when made). A
-- revoked key keeps its row, so the audit trail's key ids stay explained.
CREATE TABLE integration_keys (
    key_id          TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    secret_sha256   BLOB NOT NULL,
    label           TEXT NOT NULL,
    created_ts      INTEGER NOT NULL,
    expires_ts      INTEGER,
    revoked_ts      INTEGER,
    last_used_ts    INTEGER
) STRICT;
CREATE INDEX integration_keys_by_integration ON integration_keys (integration_id, created_ts);
