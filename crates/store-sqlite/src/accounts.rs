//! [`AccountStore`] on SQLite.

use async_trait::async_trait;
use ruma::{OwnedUserId, UserId};
use rusqlite::{OptionalExtension, params};
use wardline_store::{AccountStore, ChangeTopic, ImportOutcome, StoreError, StoreResult};
use wardline_types::{Account, AccountUpdate, NewAccount, Timestamp};

use crate::rows::{ACCOUNT_COLUMNS, exec, query_accounts, query_one, sql_ts};
use crate::{SqliteStore, backend_err};

fn insert_account(tx: &rusqlite::Transaction<'_>, a: &NewAccount, now: Timestamp) -> StoreResult<()> {
    let inserted = exec(
        tx,
        "INSERT INTO accounts (user_id, password_hash, display_name, is_admin, must_change_password,
                job_title, department, email, phone, created_ts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
        params![
            a.user_id.as_str(),
            a.password_hash,
            a.display_name,
            a.is_admin,
            a.must_change_password,
            a.job_title,
            a.department,
            a.email,
            a.phone,
            sql_ts(now)
        ],
    )
    .map_err(backend_err)?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!("{} already exists", a.user_id)));
    }
    Ok(())
}

fn update_account(tx: &rusqlite::Transaction<'_>, user_id: &UserId, u: &AccountUpdate) -> StoreResult<()> {
    let n = exec(
        tx,
        "UPDATE accounts SET
                display_name = COALESCE(?2, display_name),
                job_title = COALESCE(?3, job_title),
                department = COALESCE(?4, department),
                email = COALESCE(?5, email),
                phone = COALESCE(?6, phone)
             WHERE user_id = ?1",
        params![user_id.as_str(), u.display_name, u.job_title, u.department, u.email, u.phone],
    )
    .map_err(backend_err)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    if let Some(admin) = u.is_admin {
        exec(tx, "UPDATE accounts SET is_admin = ?2 WHERE user_id = ?1", params![user_id.as_str(), admin])
            .map_err(backend_err)?;
    }
    if let Some(may) = u.may_broadcast {
        exec(tx, "UPDATE accounts SET may_broadcast = ?2 WHERE user_id = ?1", params![user_id.as_str(), may])
            .map_err(backend_err)?;
    }
    if let Some((hash, must_change)) = &u.password {
        exec(
            tx,
            "UPDATE accounts SET password_hash = ?2, must_change_password = ?3 WHERE user_id = ?1",
            params![user_id.as_str(), hash, must_change],
        )
        .map_err(backend_err)?;
    }
    Ok(())
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, account: NewAccount, now: Timestamp) -> StoreResult<Account> {
        let user_id = account.user_id.clone();
        self.writer.write(move |w| insert_account(w.tx, &account, now)).await?;
        self.account(&user_id).await?.ok_or(StoreError::NotFound)
    }

    async fn import_accounts(
        &self,
        creates: Vec<NewAccount>,
        updates: Vec<(OwnedUserId, AccountUpdate)>,
        now: Timestamp,
    ) -> StoreResult<ImportOutcome> {
        self.writer
            .write(move |w| {
                for a in &creates {
                    insert_account(w.tx, a, now)?;
                }
                for (user_id, u) in &updates {
                    w.changed(ChangeTopic::Account(user_id.clone()));
                    update_account(w.tx, user_id, u)?;
                }
                Ok(ImportOutcome { created: creates.len(), updated: updates.len() })
            })
            .await
    }

    async fn account(&self, user_id: &UserId) -> StoreResult<Option<Account>> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| {
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE user_id = ?1");
                Ok(query_accounts(c, &sql, params![user_id.as_str()])?.pop())
            })
            .await
    }

    async fn password_hash(&self, user_id: &UserId) -> StoreResult<Option<String>> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| {
                query_one(c, "SELECT password_hash FROM accounts WHERE user_id = ?1", params![user_id.as_str()], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(backend_err)
            })
            .await
    }

    async fn set_password(&self, user_id: &UserId, hash: &str, must_change: bool) -> StoreResult<()> {
        let user_id = user_id.to_owned();
        let update = AccountUpdate { password: Some((hash.to_owned(), must_change)), ..AccountUpdate::default() };
        self.writer
            .write(move |w| {
                w.changed(ChangeTopic::Account(user_id.clone()));
                update_account(w.tx, &user_id, &update)
            })
            .await
    }

    async fn update_account(&self, user_id: &UserId, update: AccountUpdate) -> StoreResult<()> {
        let user_id = user_id.to_owned();
        self.writer
            .write(move |w| {
                w.changed(ChangeTopic::Account(user_id.clone()));
                update_account(w.tx, &user_id, &update)
            })
            .await
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        self.readers
            .read_blocking(|c| {
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY user_id");
                query_accounts(c, &sql, [])
            })
            .await
    }

    async fn count_accounts(&self) -> StoreResult<u64> {
        self.readers
            .read(|c| {
                let n: i64 = query_one(c, "SELECT COUNT(*) FROM accounts", [], |r| r.get(0)).map_err(backend_err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn set_deactivated(&self, user_id: &UserId, deactivated: bool) -> StoreResult<()> {
        let user_id = user_id.to_owned();
        self.writer
            .write(move |w| {
                w.changed(ChangeTopic::Account(user_id.clone()));
                let n = exec(
                    w.tx,
                    "UPDATE accounts SET deactivated = ?2 WHERE user_id = ?1",
                    params![user_id.as_str(), deactivated],
                )
                .map_err(backend_err)?;
                if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            })
            .await
    }

    async fn set_profile(
        &self,
        user_id: &UserId,
        display_name: Option<Option<String>>,
        avatar_url: Option<Option<String>>,
    ) -> StoreResult<()> {
        let user_id = user_id.to_owned();
        self.writer
            .write(move |w| {
                w.changed(ChangeTopic::Account(user_id.clone()));
                if let Some(name) = display_name {
                    exec(
                        w.tx,
                        "UPDATE accounts SET display_name = ?2 WHERE user_id = ?1",
                        params![user_id.as_str(), name],
                    )
                    .map_err(backend_err)?;
                }
                if let Some(url) = avatar_url {
                    exec(
                        w.tx,
                        "UPDATE accounts SET avatar_url = ?2 WHERE user_id = ?1",
                        params![user_id.as_str(), url],
                    )
                    .map_err(backend_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn search_directory(&self, term: &str, limit: usize) -> StoreResult<Vec<Account>> {
        let pattern =
            format!("%{}%", term.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read_blocking(move |c| {
                let sql = format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE deactivated = 0 AND (
                        lower(user_id) LIKE ?1 ESCAPE '\\' OR lower(COALESCE(display_name, '')) LIKE ?1 ESCAPE '\\'
                        OR lower(COALESCE(job_title, '')) LIKE ?1 ESCAPE '\\'
                        OR lower(COALESCE(department, '')) LIKE ?1 ESCAPE '\\')
                     ORDER BY COALESCE(display_name, user_id) LIMIT ?2"
                );
                query_accounts(c, &sql, params![pattern, limit])
            })
            .await
    }
}
