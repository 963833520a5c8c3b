//! Numbered, transactional schema migrations. A database written by a newer Wardline is refused.

use rusqlite::{Connection, params};
use wardline_store::StoreError;

use crate::backend_err;

/// The migrations, in order; the version of each is its index + 1.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_audit.sql"),
    include_str!("../migrations/0003_session_lifetimes.sql"),
    include_str!("../migrations/0004_mfa.sql"),
    include_str!("../migrations/0005_media.sql"),
    include_str!("../migrations/0006_audit_hash_version.sql"),
    include_str!("../migrations/0007_ended_sessions.sql"),
    include_str!("../migrations/0008_message_status.sql"),
    include_str!("../migrations/0009_relations.sql"),
    include_str!("../migrations/0010_search.sql"),
    include_str!("../migrations/0011_status_devices.sql"),
    include_str!("../migrations/0012_redact_orphaned_edits.sql"),
    include_str!("../migrations/0013_presence_expiry_device_changes.sql"),
    include_str!("../migrations/0014_last_sign_in.sql"),
    include_str!("../migrations/0015_roles.sql"),
    include_str!("../migrations/0016_role_shifts.sql"),
    include_str!("../migrations/0017_do_not_disturb.sql"),
    include_str!("../migrations/0018_thread_list.sql"),
    include_str!("../migrations/0019_escalations.sql"),
    include_str!("../migrations/0020_answer_deadlines.sql"),
    include_str!("../migrations/0021_pushers.sql"),
    include_str!("../migrations/0022_broadcasts.sql"),
    include_str!("../migrations/0023_integrations.sql"),
    include_str!("../migrations/0024_alarms.sql"),
    include_str!("../migrations/0025_alarm_routing.sql"),
    include_str!("../migrations/0026_integration_outbox.sql"),
    include_str!("../migrations/0027_patients.sql"),
    include_str!("../migrations/0028_outbox_channels.sql"),
    include_str!("../migrations/0029_wctp.sql"),
    include_str!("../migrations/0030_hl7_status.sql"),
    include_str!("../migrations/0031_alert_topics.sql"),
    include_str!("../migrations/0032_patient_context.sql"),
    include_str!("../migrations/0033_record_filings.sql"),
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The schema version of a database (0: none yet).
fn version(conn: &Connection) -> Result<i64, StoreError> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
            [],
            |r| r.get(0),
        )
        .map_err(backend_err)?;
    if !exists {
        return Ok(0);
    }
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0)).map_err(backend_err)
}

/// Checks, without changing anything, that the schema is exactly [`LATEST`].
pub fn require_latest(conn: &Connection) -> Result<(), StoreError> {
    match version(conn)? {
        LATEST => Ok(()),
        found if found > LATEST => Err(StoreError::SchemaTooNew { found, known: LATEST }),
        found => Err(StoreError::SchemaTooOld { found, known: LATEST }),
    }
}

/// Brings the schema up to [`LATEST`], one transaction per migration.
pub fn migrate(conn: &mut Connection) -> Result<i64, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
    )
    .map_err(backend_err)?;
    let current: i64 = conn
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .map_err(backend_err)?;
    if current > LATEST {
        return Err(StoreError::SchemaTooNew { found: current, known: LATEST });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
        let version = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        let tx = conn.transaction().map_err(backend_err)?;
        tx.execute_batch(sql).map_err(backend_err)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_ts) VALUES (?1, strftime('%s','now'))",
            params![version],
        )
        .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        tracing::info!(version, "applied schema migration");
    }
    Ok(LATEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_an_empty_database_and_is_idempotent() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        assert_eq!(migrate(&mut conn)?, LATEST);
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).map_err(backend_err)?;
        assert_eq!(n, LATEST);
        Ok(())
    }

    #[test]
    fn upgrades_a_version_1_database_keeping_its_data() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        tx.execute_batch(MIGRATIONS[0]).map_err(backend_err)?;
        tx.execute("INSERT INTO schema_migrations VALUES (1, 0)", []).map_err(backend_err)?;
        tx.execute("INSERT INTO accounts (user_id, password_hash, created_ts) VALUES ('@a:x', 'h', 0)", [])
            .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0)).map_err(backend_err)?;
        assert_eq!(n, 1);
        conn.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get::<_, i64>(0)).map_err(backend_err)?;
        Ok(())
    }

    #[test]
    fn version_8_starts_the_receipt_history_with_the_receipts_known() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(7).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
        }
        tx.execute(
            "INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, event_stream, ts, stream)
             VALUES ('!r:x', '@a:x', 'm.read', '', '$e', 4, 1000, 9)",
            [],
        )
        .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        let kept: (String, i64, i64) = conn
            .query_row("SELECT event_id, event_stream, ts FROM receipt_log WHERE stream = 9", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(backend_err)?;
        assert_eq!(kept, ("$e".to_owned(), 4, 1000));
        Ok(())
    }

    #[test]
    fn status_devices_keep_what_was_known_and_mark_where_tracking_began() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        // Every migration before v11; v8 (delivery tracking) applied at second 2000.
        for (i, sql) in MIGRATIONS.iter().take(10).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            let applied = if version == 8 { 2000 } else { 0 };
            tx.execute("INSERT INTO schema_migrations VALUES (?1, ?2)", params![version, applied])
                .map_err(backend_err)?;
        }
        tx.execute_batch(
            "INSERT INTO rooms VALUES ('!r:x', 0);
             INSERT INTO events (stream, event_id, room_id, sender, type, content, origin_server_ts)
                 VALUES (3, '$old', '!r:x', '@a:x', 'm.room.message', '{}', 1999000),
                        (5, '$same_second', '!r:x', '@a:x', 'm.room.message', '{}', 2000500),
                        (8, '$new', '!r:x', '@a:x', 'm.room.message', '{}', 2001000);
             INSERT INTO deliveries (room_id, user_id, first, last, ts, stream)
                 VALUES ('!r:x', '@b:x', 3, 8, 2001500, 9);
             INSERT INTO receipt_log (stream, room_id, user_id, receipt_type, thread_id, event_id, event_stream, ts)
                 VALUES (10, '!r:x', '@b:x', 'm.read', '', '$new', 8, 2002000);",
        )
        .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        let delivery: (i64, String, i64, i64) = conn
            .query_row("SELECT stream, device_id, first, last FROM deliveries", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(backend_err)?;
        assert_eq!(delivery, (9, String::new(), 3, 8), "kept, to a device not known");
        let logged: (String, i64) = conn
            .query_row("SELECT device_id, arrived FROM receipt_log WHERE stream = 10", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(backend_err)?;
        assert_eq!(logged, (String::new(), 9), "arrived just before its own position");
        let after: String = conn
            .query_row("SELECT value FROM server_meta WHERE key = 'deliveries_recorded_after'", [], |r| r.get(0))
            .map_err(backend_err)?;
        assert_eq!(after, "5", "every event sent by the second v8 was applied in");
        Ok(())
    }

    #[test]
    fn a_new_database_records_deliveries_from_the_start() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        migrate(&mut conn)?;
        let after: String = conn
            .query_row("SELECT value FROM server_meta WHERE key = 'deliveries_recorded_after'", [], |r| r.get(0))
            .map_err(backend_err)?;
        assert_eq!(after, "0");
        Ok(())
    }

    #[test]
    fn version_12_deletes_the_edits_of_messages_deleted_before() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(11).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
        }
        // $m (deleted) was edited by its sender ($e1, itself edited by $e2, carrying a file) and
        // by someone else ($o); $n (not deleted) was edited too ($ne).
        let edit = |of: &str, body: &str| {
            format!(
                r#"{{"msgtype":"m.text","body":"* {body}","m.new_content":{{"msgtype":"m.text","body":"{body}"}},"m.relates_to":{{"rel_type":"m.replace","event_id":"{of}"}}}}"#
            )
        };
        tx.execute_batch("INSERT INTO rooms VALUES ('!r:x', 0);").map_err(backend_err)?;
        for (pos, id, sender, content, because) in [
            (1, "$m", "@a:x", r#"{}"#.to_owned(), Some(r#"{"event_id":"$red"}"#)),
            (2, "$e1", "@a:x", edit("$m", "K+ 6.9 secret"), None),
            (3, "$e2", "@a:x", edit("$e1", "K+ 7.1 secret"), None),
            (4, "$o", "@b:x", edit("$m", "not theirs"), None),
            (5, "$n", "@a:x", r#"{"msgtype":"m.text","body":"kept"}"#.to_owned(), None),
            (6, "$ne", "@a:x", edit("$n", "kept too"), None),
            (7, "$red", "@a:x", r#"{"redacts":"$m"}"#.to_owned(), None),
        ] {
            tx.execute(
                "INSERT INTO events (stream, event_id, room_id, sender, type, content, origin_server_ts, redacted_because)
                 VALUES (?1, ?2, '!r:x', ?3, 'm.room.message', ?4, 0, ?5)",
                params![pos, id, sender, content, because],
            )
            .map_err(backend_err)?;
        }
        tx.execute_batch(
            "INSERT INTO event_relations (event_id, room_id, rel_type, parent_id, sender, type, stream, origin_server_ts)
                 VALUES ('$e1', '!r:x', 'm.replace', '$m', '@a:x', 'm.room.message', 2, 0),
                        ('$e2', '!r:x', 'm.replace', '$e1', '@a:x', 'm.room.message', 3, 0),
                        ('$o', '!r:x', 'm.replace', '$m', '@b:x', 'm.room.message', 4, 0),
                        ('$ne', '!r:x', 'm.replace', '$n', '@a:x', 'm.room.message', 6, 0);
             INSERT INTO media (media_id, uploader, created_ts, referenced) VALUES ('f1', '@a:x', 0, 1);
             INSERT INTO media_refs VALUES ('f1', '$e2', '!r:x', 3);",
        )
        .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;

        assert_eq!(migrate(&mut conn)?, LATEST);
        let row = |id: &str| -> Result<(String, Option<String>, Option<String>), StoreError> {
            conn.query_row(
                "SELECT content, redacted_because, original_content FROM events WHERE event_id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(backend_err)
        };
        for id in ["$e1", "$e2"] {
            let (content, because, original) = row(id)?;
            assert_eq!(content, "{}", "{id}: its text is gone");
            assert_eq!(because.as_deref(), Some(r#"{"event_id":"$red"}"#), "{id}: by the message's deletion");
            assert!(original.is_some_and(|o| o.contains("secret")), "{id}: original kept for investigations");
        }
        for id in ["$o", "$ne"] {
            let (content, because, _) = row(id)?;
            assert!(content.contains("m.new_content") && because.is_none(), "{id} untouched");
        }
        let related: Vec<String> = conn
            .prepare("SELECT event_id FROM event_relations ORDER BY stream")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(backend_err)?;
        assert_eq!(related, ["$o", "$ne"]);
        let released: i64 = conn
            .query_row("SELECT released FROM media WHERE media_id = 'f1'", [], |r| r.get(0))
            .map_err(backend_err)?;
        assert_eq!(released, 1, "the file only the deleted edit carried is freed");
        Ok(())
    }

    #[test]
    fn presence_from_before_expiry_has_no_sync_and_device_changes_start_empty() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(12).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
        }
        tx.execute(
            "INSERT INTO presence (user_id, state, status_msg, last_active_ts, stream) VALUES ('@a:x', 'online', NULL, 5, 7)",
            [],
        )
        .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        let row: (String, Option<i64>, Option<String>) = conn
            .query_row("SELECT state, last_sync_ts, away FROM presence", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(backend_err)?;
        assert_eq!(row, ("online".to_owned(), None, None), "kept, with no sync known: it expires to offline");
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM device_changes", [], |r| r.get(0)).map_err(backend_err)?;
        assert_eq!(n, 0);
        Ok(())
    }

    #[test]
    fn refuses_a_newer_schema() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        migrate(&mut conn)?;
        conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![LATEST + 1]).map_err(backend_err)?;
        assert!(matches!(migrate(&mut conn), Err(StoreError::SchemaTooNew { .. })));
        Ok(())
    }

    #[test]
    fn version_14_takes_each_accounts_last_sign_in_from_the_audit_trail() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(13).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
        }
        tx.execute_batch(
            "INSERT INTO accounts (user_id, password_hash, created_ts) VALUES ('@a:x', 'h', 1), ('@b:x', 'h', 1);
             INSERT INTO audit_log (seq, ts, actor, action, outcome, prev_hash, hash) VALUES
                 (1, 100, '@a:x', 'login', 'success', '', 'h1'),
                 (2, 300, '@a:x', 'login', 'success', 'h1', 'h2'),
                 (3, 400, '@a:x', 'login_failed', 'denied', 'h2', 'h3'),
                 (4, 500, '@b:x', 'login', 'denied', 'h3', 'h4'),
                 (5, 600, '@a:x', 'logout', 'success', 'h4', 'h5');",
        )
        .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        let last: Vec<(String, Option<i64>)> = conn
            .prepare("SELECT user_id, last_sign_in_ts FROM accounts ORDER BY user_id")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(backend_err)?;
        assert_eq!(last, [("@a:x".to_owned(), Some(300)), ("@b:x".to_owned(), None)]);
        Ok(())
    }

    #[test]
    fn version_15_adds_roles_to_a_database_with_accounts_and_keeps_their_history_append_only() -> Result<(), StoreError>
    {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(14).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
        }
        tx.execute_batch("INSERT INTO accounts (user_id, password_hash, created_ts) VALUES ('@a:x', 'h', 1);")
            .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM roles", [], |r| r.get(0)).map_err(backend_err)?;
        assert_eq!(n, 0, "no roles until an administrator makes them");
        conn.execute_batch(
            "INSERT INTO roles (id, name, created_ts, updated_ts) VALUES ('r', 'R', 1, 1);
             INSERT INTO role_holders (role_id, user_id, since_ts, reason) VALUES ('r', '@a:x', 2, 'swipe_in');
             INSERT INTO role_history (role_id, ts, reason, to_user) VALUES ('r', 2, 'swipe_in', '@a:x');",
        )
        .map_err(backend_err)?;
        assert!(conn.execute("UPDATE role_history SET to_user = '@b:x'", []).is_err(), "history is never changed");
        assert!(conn.execute("DELETE FROM role_history", []).is_err(), "nor deleted");
        assert!(
            conn.execute(
                "INSERT INTO role_holders (role_id, user_id, since_ts, reason) VALUES ('r', '@nobody:x', 2, 'admin')",
                []
            )
            .is_err(),
            "only accounts hold roles"
        );
        Ok(())
    }

    #[test]
    fn commands_accept_only_this_builds_schema_and_change_nothing() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        assert!(matches!(require_latest(&conn), Err(StoreError::SchemaTooOld { found: 0, .. })));
        let tables: i64 =
            conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0)).map_err(backend_err)?;
        assert_eq!(tables, 0, "checking created nothing");
        let tx = conn.transaction().map_err(backend_err)?;
        tx.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        tx.execute_batch(MIGRATIONS[0]).map_err(backend_err)?;
        tx.execute("INSERT INTO schema_migrations VALUES (1, 0)", []).map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert!(matches!(require_latest(&conn), Err(StoreError::SchemaTooOld { found: 1, known: LATEST })));
        assert_eq!(version(&conn)?, 1, "not upgraded");
        migrate(&mut conn)?;
        require_latest(&conn)?;
        conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![LATEST + 1]).map_err(backend_err)?;
        assert!(matches!(require_latest(&conn), Err(StoreError::SchemaTooNew { .. })));
        Ok(())
    }

    #[test]
    fn version_16_keeps_the_role_history_and_notices_and_admits_the_rota() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(15).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
        }
        tx.execute_batch(
            "INSERT INTO accounts (user_id, password_hash, created_ts) VALUES ('@a:x', 'h', 0);
             INSERT INTO roles (id, name, created_ts, updated_ts) VALUES ('reg', 'Registrar', 0, 0);
             INSERT INTO role_history (role_id, ts, reason, from_user, to_user) VALUES ('reg', 5, 'handover', '@b:x', '@a:x');
             INSERT INTO role_notices (seq, user_id) VALUES (1, '@a:x');",
        )
        .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        let kept: (i64, String, String) = conn
            .query_row(
                "SELECT h.seq, h.reason, n.user_id FROM role_history h JOIN role_notices n ON n.seq = h.seq",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(backend_err)?;
        assert_eq!(kept, (1, "handover".to_owned(), "@a:x".to_owned()));
        conn.execute("INSERT INTO role_history (role_id, ts, reason, to_user) VALUES ('reg', 6, 'rota', '@a:x')", [])
            .map_err(backend_err)?;
        let next: i64 = conn.query_row("SELECT MAX(seq) FROM role_history", [], |r| r.get(0)).map_err(backend_err)?;
        assert_eq!(next, 2, "sequence numbers continue");
        assert!(conn.execute("UPDATE role_history SET note = 'x'", []).is_err(), "still append-only");
        assert!(conn.execute("DELETE FROM role_history", []).is_err(), "still append-only");
        assert!(
            conn.execute("INSERT INTO role_notices (seq, user_id) VALUES (99, '@a:x')", []).is_err(),
            "a notice still needs its history entry"
        );
        let fk: Vec<String> = conn
            .prepare("SELECT \"table\" FROM pragma_foreign_key_list('role_notices')")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(backend_err)?;
        assert_eq!(fk, ["role_history"]);
        Ok(())
    }

    #[test]
    fn version_17_adds_do_not_disturb_beside_existing_presence() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(16).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
        }
        tx.execute_batch(
            "INSERT INTO accounts (user_id, password_hash, created_ts) VALUES ('@a:x', 'h', 0), ('@c:x', 'h', 0);
             INSERT INTO presence (user_id, state, last_active_ts, stream) VALUES ('@a:x', 'online', 5, 7);",
        )
        .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        conn.execute_batch(
            "INSERT INTO do_not_disturb_log (user_id, cover_user_id, from_ts, until_ts) VALUES ('@a:x', '@c:x', 10, 20);
             INSERT INTO do_not_disturb (user_id, until_ts, cover_user_id, set_ts, period) VALUES ('@a:x', 20, '@c:x', 10, 1);
             INSERT INTO background_cursors (name, pos) VALUES ('cover.forward', 7);",
        )
        .map_err(backend_err)?;
        let presence: String = conn
            .query_row("SELECT state FROM presence WHERE user_id = '@a:x'", [], |r| r.get(0))
            .map_err(backend_err)?;
        assert_eq!(presence, "online", "presence is kept");
        assert!(
            conn.execute("INSERT INTO do_not_disturb_log (user_id, from_ts, until_ts) VALUES ('@nobody:x', 1, 2)", [])
                .is_err(),
            "only accounts go on do-not-disturb"
        );
        assert!(
            conn.execute("INSERT INTO do_not_disturb_log (user_id, from_ts, until_ts) VALUES ('@a:x', 5, 5)", [])
                .is_err(),
            "a period ends after it starts"
        );
        assert!(
            conn.execute(
                "INSERT INTO do_not_disturb (user_id, until_ts, cover_user_id, set_ts, period) VALUES ('@c:x', 20, '@c:x', 10, 1)",
                []
            )
            .is_err(),
            "nobody covers for themself"
        );
        conn.execute("UPDATE do_not_disturb_log SET ended_ts = 15 WHERE id = 1", []).map_err(backend_err)?;
        assert!(conn.execute("UPDATE do_not_disturb_log SET ended_ts = 16", []).is_err(), "an end is set once");
        assert!(conn.execute("UPDATE do_not_disturb_log SET until_ts = 30", []).is_err(), "nothing else changes");
        assert!(conn.execute("DELETE FROM do_not_disturb_log", []).is_err(), "the log keeps every period");
        Ok(())
    }

    #[test]
    fn integrations_and_alarms_join_a_database_from_before_them_with_an_append_only_timeline() -> Result<(), StoreError>
    {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let before = position_of(include_str!("../migrations/0023_integrations.sql"));
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(before).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
        }
        tx.execute("INSERT INTO accounts (user_id, password_hash, created_ts) VALUES ('@a:x', 'h', 0)", [])
            .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0)).map_err(backend_err)?;
        assert_eq!(n, 1, "accounts are kept");
        assert!(
            conn.execute(
                "INSERT INTO integration_keys (key_id, integration_id, secret_sha256, label, created_ts)
                 VALUES ('k', 'nobody', x'00', 'l', 0)",
                []
            )
            .is_err(),
            "a key belongs to an integration"
        );
        conn.execute_batch(
            "INSERT INTO alarms (id, integration_id, source_id, kind, source_priority, text, protocol, state, outcome,
                                 received_ts, updated_ts)
             VALUES ('al_1', 'nc', 's1', 'nurse_call', 'high', 't', 'http', 'active', 'pending', 1, 1);
             INSERT INTO alarm_events (alarm_id, revision, ts, kind, detail) VALUES ('al_1', 1, 1, 'received', '{}');",
        )
        .map_err(backend_err)?;
        assert!(
            conn.execute(
                "INSERT INTO alarms (id, integration_id, source_id, kind, source_priority, text, protocol, state,
                                     outcome, received_ts, updated_ts)
                 VALUES ('al_2', 'nc', 's1', 'fire', 'high', 't', 'http', 'active', 'pending', 1, 1)",
                []
            )
            .is_err(),
            "one alarm per source id"
        );
        assert!(
            conn.execute("UPDATE alarms SET state = 'lost' WHERE id = 'al_1'", []).is_err(),
            "states are the known ones"
        );
        assert!(conn.execute("UPDATE alarm_events SET kind = 'x'", []).is_err(), "the timeline is not rewritten");
        assert!(conn.execute("DELETE FROM alarm_events", []).is_err(), "nor cut");
        Ok(())
    }

    /// How many migrations come before `migration` (one of [`MIGRATIONS`]).
    fn position_of(migration: &str) -> usize {
        MIGRATIONS.iter().position(|m| *m == migration).unwrap_or(MIGRATIONS.len())
    }

    #[test]
    fn the_outbox_joins_a_database_with_integrations_and_queues_only_to_those_with_a_webhook() -> Result<(), StoreError>
    {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let before = position_of(include_str!("../migrations/0026_integration_outbox.sql"));
        assert!(before < MIGRATIONS.len(), "the outbox's migration is listed");
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(before).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
        }
        tx.execute_batch(
            "INSERT INTO integrations (id, name, kind, scopes, created_by, created_ts, webhook_url, webhook_secret)
             VALUES ('lab', 'Lab', 'lab', '[]', 'x', 0, 'https://lab.example/hook', 'whsec_AAAA');
             INSERT INTO integrations (id, name, kind, scopes, created_by, created_ts)
             VALUES ('nurse', 'Nurse call', 'nurse call', '[]', 'x', 0);",
        )
        .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        let parse = |to: &str| wardline_types::integration::IntegrationId::parse(to).map_err(backend_err);
        let report = |to| wardline_store::NewReport {
            integration: to,
            alarm: None,
            channel: wardline_store::ReportChannel::Webhook,
            payload: "{}".into(),
            created: wardline_types::Timestamp(5),
        };
        let queued = crate::outbox::insert_reports(&conn, &[report(parse("lab")?), report(parse("nurse")?)])
            .map_err(backend_err)?;
        assert_eq!(queued, 1, "only the integration with a webhook set before the upgrade");
        let (id, due): (String, i64) = conn
            .query_row("SELECT id, due_ts FROM integration_outbox", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend_err)?;
        assert!(id.starts_with("msg_") && id.len() == 36, "{id}");
        assert_eq!(due, 5, "due at once");
        assert!(
            conn.execute("UPDATE integration_outbox SET channel = 'carrier pigeon'", []).is_err(),
            "channels are the known ones"
        );
        assert!(conn.execute("UPDATE integration_outbox SET outcome = 'lost'", []).is_err(), "and outcomes");
        Ok(())
    }

    #[test]
    fn hl7_status_joins_a_database_with_bindings_and_asks_for_none_until_set() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let before = position_of(include_str!("../migrations/0030_hl7_status.sql"));
        assert!(before < MIGRATIONS.len(), "the migration is listed");
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(before).enumerate() {
            tx.execute_batch(sql).map_err(backend_err)?;
            let version = i64::try_from(i + 1).map_err(backend_err)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).map_err(backend_err)?;
        }
        tx.execute_batch(
            r#"INSERT INTO integrations (id, name, kind, scopes, created_by, created_ts, hl7_application, hl7_facility, hl7)
             VALUES ('mon', 'Monitors', 'monitoring', '[]', 'x', 0, 'MON', 'ICU',
                     '{"sending_application":"MON","sending_facility":"ICU","allowed_addresses":["10.0.0.0/8"]}');"#,
        )
        .map_err(backend_err)?;
        tx.commit().map_err(backend_err)?;
        assert_eq!(migrate(&mut conn)?, LATEST);
        let asks: i64 = conn
            .query_row("SELECT hl7_reports FROM integrations WHERE id = 'mon'", [], |r| r.get(0))
            .map_err(backend_err)?;
        assert_eq!(asks, 0, "a binding made before asks for no status");
        let report = wardline_store::NewReport {
            integration: wardline_types::integration::IntegrationId::parse("mon").map_err(backend_err)?,
            alarm: None,
            channel: wardline_store::ReportChannel::Hl7,
            payload: "{}".into(),
            created: wardline_types::Timestamp(5),
        };
        assert_eq!(crate::outbox::insert_reports(&conn, std::slice::from_ref(&report)).map_err(backend_err)?, 0);
        conn.execute("UPDATE integrations SET hl7_reports = 1 WHERE id = 'mon'", []).map_err(backend_err)?;
        assert_eq!(crate::outbox::insert_reports(&conn, &[report]).map_err(backend_err)?, 1, "asked: queued");
        assert!(conn.execute("UPDATE integrations SET hl7_reports = 2", []).is_err(), "a yes or a no");
        Ok(())
    }
}
