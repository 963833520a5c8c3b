-- When each account last signed in (a session made with its password), for administrators'
-- account lists. Filled from the audit trail's successful sign-ins, in one pass over it.
ALTER TABLE accounts ADD COLUMN last_sign_in_ts INTEGER;

UPDATE accounts SET last_sign_in_ts = s.ts
FROM (SELECT actor, MAX(ts) AS ts FROM audit_log
      WHERE action = 'login' AND outcome = 'success' AND actor IS NOT NULL
      GROUP BY actor) AS s
WHERE s.actor = accounts.user_id;
