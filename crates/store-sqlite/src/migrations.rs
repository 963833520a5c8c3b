//! Numbered, transactional schema migrations. A database written by a newer Wardline is refused.

use rusqlite::{Connection, params};
use wardline_store::StoreError;

use crate::backend_err;

/// The migrations by number, in order. Numbers are handed out to changes made side by side, so
/// they may have gaps while those changes are under way, and a migration may be added with a
/// number below one a database has already applied: [`migrate`] applies every listed number
/// the database lacks, in order (so each migration must stand on its own).
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_audit.sql")),
    (3, include_str!("../migrations/0003_session_lifetimes.sql")),
    (4, include_str!("../migrations/0004_mfa.sql")),
    (5, include_str!("../migrations/0005_media.sql")),
    (6, include_str!("../migrations/0006_audit_hash_version.sql")),
    (7, include_str!("../migrations/0007_ended_sessions.sql")),
    (10, include_str!("../migrations/0010_search.sql")),
];

/// The schema version this build writes: its highest migration number.
pub const LATEST: i64 = match MIGRATIONS.last() {
    Some((version, _)) => *version,
    None => 0,
};

/// Brings the schema up to [`LATEST`], one transaction per migration.
pub fn migrate(conn: &mut Connection) -> Result<i64, StoreError> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies the migrations of `list` (numbered, in order) the database lacks; returns the
/// highest number.
pub(crate) fn migrate_with(conn: &mut Connection, list: &[(i64, &str)]) -> Result<i64, StoreError> {
    let latest = list.last().map_or(0, |(v, _)| *v);
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL) STRICT;",
    )
    .map_err(backend_err)?;
    let applied: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
        .map_err(backend_err)?;
    if let Some(&found) = applied.last()
        && found > latest
    {
        return Err(StoreError::SchemaTooNew { found, known: latest });
    }
    for &(version, sql) in list.iter().filter(|(v, _)| !applied.contains(v)) {
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
    Ok(latest)
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
        assert_eq!(n, i64::try_from(MIGRATIONS.len()).unwrap_or(0));
        assert!(MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0), "numbered in order");
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
        tx.execute_batch(MIGRATIONS[0].1).map_err(backend_err)?;
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
    fn a_migration_numbered_below_one_applied_is_applied_later() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend_err)?;
        let one = (1, "CREATE TABLE one (x INTEGER) STRICT;");
        let three = (3, "CREATE TABLE three (x INTEGER) STRICT;");
        assert_eq!(migrate_with(&mut conn, &[one, three])?, 3);
        // Migration 2 was made beside 3 and arrives after it.
        assert_eq!(migrate_with(&mut conn, &[one, (2, "CREATE TABLE two (x INTEGER) STRICT;"), three])?, 3);
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).map_err(backend_err)?;
        assert_eq!(n, 3);
        conn.query_row("SELECT COUNT(*) FROM two", [], |r| r.get::<_, i64>(0)).map_err(backend_err)?;
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
