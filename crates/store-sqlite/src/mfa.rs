//! [`MfaStore`] on SQLite.

use async_trait::async_trait;
use ruma::UserId;
use rusqlite::{OptionalExtension, params};
use wardline_store::{MfaStore, StoreResult, Totp};
use wardline_types::Timestamp;

use crate::rows::sql_ts;
use crate::rows::{exec, query_one};
use crate::{SqliteStore, backend_err};

fn step_sql(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

#[async_trait]
impl MfaStore for SqliteStore {
    async fn totp(&self, user_id: &UserId) -> StoreResult<Option<Totp>> {
        let user = user_id.to_owned();
        self.readers
            .read(move |c| {
                query_one(
                    c,
                    "SELECT secret, confirmed, last_step FROM totp WHERE user_id = ?1",
                    params![user.as_str()],
                    |r| {
                        Ok(Totp {
                            secret: r.get(0)?,
                            confirmed: r.get(1)?,
                            last_step: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        })
                    },
                )
                .optional()
                .map_err(backend_err)
            })
            .await
    }

    async fn put_totp(&self, user_id: &UserId, secret: &str, now: Timestamp) -> StoreResult<()> {
        let (user, secret) = (user_id.to_owned(), secret.to_owned());
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "INSERT INTO totp (user_id, secret, confirmed, last_step, created_ts) VALUES (?1, ?2, 0, 0, ?3)
                     ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, confirmed = 0, last_step = 0,
                        created_ts = excluded.created_ts",
                    params![user.as_str(), secret, sql_ts(now)],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn confirm_totp(&self, user_id: &UserId, step: u64, recovery_hashes: Vec<String>) -> StoreResult<()> {
        let user = user_id.to_owned();
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "UPDATE totp SET confirmed = 1, last_step = ?2 WHERE user_id = ?1",
                    params![user.as_str(), step_sql(step)],
                )
                .map_err(backend_err)?;
                exec(w.tx, "DELETE FROM recovery_codes WHERE user_id = ?1", params![user.as_str()])
                    .map_err(backend_err)?;
                for h in &recovery_hashes {
                    exec(
                        w.tx,
                        "INSERT OR IGNORE INTO recovery_codes (user_id, code_hash) VALUES (?1, ?2)",
                        params![user.as_str(), h],
                    )
                    .map_err(backend_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn use_totp_step(&self, user_id: &UserId, step: u64) -> StoreResult<bool> {
        let user = user_id.to_owned();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE totp SET last_step = ?2 WHERE user_id = ?1 AND last_step < ?2",
                    params![user.as_str(), step_sql(step)],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn use_recovery_code(&self, user_id: &UserId, code_hash: &str, now: Timestamp) -> StoreResult<bool> {
        let (user, hash) = (user_id.to_owned(), code_hash.to_owned());
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE recovery_codes SET used_ts = ?3 WHERE user_id = ?1 AND code_hash = ?2 AND used_ts IS NULL",
                    params![user.as_str(), hash, sql_ts(now)],
                )
                .map_err(backend_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn delete_totp(&self, user_id: &UserId) -> StoreResult<()> {
        let user = user_id.to_owned();
        self.writer
            .write(move |w| {
                exec(w.tx, "DELETE FROM recovery_codes WHERE user_id = ?1", params![user.as_str()])
                    .map_err(backend_err)?;
                exec(w.tx, "DELETE FROM totp WHERE user_id = ?1", params![user.as_str()]).map_err(backend_err)?;
                Ok(())
            })
            .await
    }
}
