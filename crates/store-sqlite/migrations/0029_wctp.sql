-- Wardline schema: paging over WCTP 1.3 (issue 15).
--
-- An integration's WCTP binding lives in the columns migration 0023 left for it
-- (`wctp_sender_id`, unique, and `wctp`, the rest as JSON) and, new here, `wctp_reply_url`:
-- where its StatusInfo and MessageReply reports go, a column of its own so that whether a
-- report can be queued is decided in the write that queues it, as for webhooks.
ALTER TABLE integrations ADD COLUMN wctp_reply_url TEXT;

-- Administrators' mappings of the recipient ids an integration's pages name (a pager number, a
-- WCTP address) to whom they reach: `target` is a person or a role, as JSON.
CREATE TABLE wctp_recipients (
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    recipient_id    TEXT NOT NULL,
    target          TEXT NOT NULL,
    updated_by      TEXT NOT NULL,
    updated_ts      INTEGER NOT NULL,
    PRIMARY KEY (integration_id, recipient_id)
) STRICT;
