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
    // 0012 is another change's, arriving separately; until it does, this one is version 12.
    include_str!("../migrations/0013_presence_expiry_device_changes.sql"),
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

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
    fn presence_from_before_expiry_has_no_sync_and_device_changes_start_empty() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
        )
        .map_err(backend_err)?;
        let tx = conn.transaction().map_err(backend_err)?;
        for (i, sql) in MIGRATIONS.iter().take(MIGRATIONS.len() - 1).enumerate() {
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
}
