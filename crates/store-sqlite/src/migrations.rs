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
    fn refuses_a_newer_schema() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        migrate(&mut conn)?;
        conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![LATEST + 1]).map_err(backend_err)?;
        assert!(matches!(migrate(&mut conn), Err(StoreError::SchemaTooNew { .. })));
        Ok(())
    }
}
