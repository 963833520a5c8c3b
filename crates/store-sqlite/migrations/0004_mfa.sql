-- Wardline schema v4: second factors (TOTP) and recovery codes.

CREATE TABLE totp (
    user_id    TEXT PRIMARY KEY REFERENCES accounts(user_id),
    secret     TEXT NOT NULL,
    confirmed  INTEGER NOT NULL DEFAULT 0,
    -- The last time step whose code was accepted: a code works once.
    last_step  INTEGER NOT NULL DEFAULT 0,
    created_ts INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES accounts(user_id),
    code_hash TEXT NOT NULL,
    used_ts   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;
