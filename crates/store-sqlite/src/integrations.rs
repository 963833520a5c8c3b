//! [`IntegrationStore`] on SQLite: `integrations` and `integration_keys` (migration 0023).
//! Revoking an integration revokes its keys in the same write; a key's last use is written by a
//! conditional update, at most once a minute. An HL7 binding is kept in `hl7_application`,
//! `hl7_facility` (unique among active integrations) and the rest as JSON in `hl7`.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{
    Integration, IntegrationKey, IntegrationStore, KEY_TOUCH_INTERVAL_MS, NewIntegration, StoreError, StoreResult,
};
use wardline_types::Timestamp;
use wardline_types::alarm::AlarmKind;
use wardline_types::hl7_binding::Hl7Binding;
use wardline_types::integration::{IntegrationId, IntegrationScope};

use crate::rows::{exec, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const COLUMNS: &str =
    "id, name, kind, scopes, allowed_kinds, active, version, created_by, created_ts, revoked_by, revoked_ts";

const KEY_COLUMNS: &str =
    "key_id, integration_id, secret_sha256, label, created_ts, expires_ts, revoked_ts, last_used_ts";

type Row = (String, String, String, String, String, bool, i64, String, i64, Option<String>, Option<i64>);

type KeyRow = (String, String, Vec<u8>, String, i64, Option<i64>, Option<i64>, Option<i64>);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("integration: bad {what}"))
}

fn names<T>(list: &[T], name: impl Fn(&T) -> &'static str) -> String {
    serde_json::Value::from(list.iter().map(name).collect::<Vec<_>>()).to_string()
}

fn to_integration(r: Row) -> StoreResult<Integration> {
    let (id, name, kind, scopes, allowed_kinds, active, version, created_by, created, revoked_by, revoked) = r;
    let scopes: Vec<String> = serde_json::from_str(&scopes).map_err(|_| corrupt("scopes"))?;
    let kinds: Vec<String> = serde_json::from_str(&allowed_kinds).map_err(|_| corrupt("allowed kinds"))?;
    Ok(Integration {
        id: IntegrationId::parse(&id).map_err(|_| corrupt("id"))?,
        name,
        kind,
        scopes: scopes
            .iter()
            .map(|s| IntegrationScope::parse(s).ok_or_else(|| corrupt("scope")))
            .collect::<StoreResult<_>>()?,
        allowed_kinds: kinds
            .iter()
            .map(|k| AlarmKind::parse(k).ok_or_else(|| corrupt("kind")))
            .collect::<StoreResult<_>>()?,
        active,
        version: u64::try_from(version).map_err(|_| corrupt("version"))?,
        created_by,
        created: ts(created),
        revoked_by,
        revoked: revoked.map(ts),
    })
}

fn to_key(r: KeyRow) -> StoreResult<IntegrationKey> {
    let (key_id, integration, secret_sha256, label, created, expires, revoked, last_used) = r;
    Ok(IntegrationKey {
        key_id,
        integration: IntegrationId::parse(&integration).map_err(|_| corrupt("key's integration"))?,
        secret_sha256,
        label,
        created: ts(created),
        expires: expires.map(ts),
        revoked: revoked.map(ts),
        last_used: last_used.map(ts),
    })
}

/// The integration `id`, which must exist (else `NotFound`) and be active (else `Conflict`):
/// what a change to its bindings needs first.
pub(crate) fn active_one(c: &Connection, id: &str) -> StoreResult<Integration> {
    match read_one(c, id)? {
        None => Err(StoreError::NotFound),
        Some(i) if !i.active => Err(StoreError::Conflict(format!("the integration {} is revoked", i.id))),
        Some(i) => Ok(i),
    }
}

pub(crate) fn read_one(c: &Connection, id: &str) -> StoreResult<Option<Integration>> {
    let r = query_one(c, &format!("SELECT {COLUMNS} FROM integrations WHERE id = ?1"), params![id], row)
        .optional()
        .map_err(backend_err)?;
    r.map(to_integration).transpose()
}

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn create_integration(&self, new: NewIntegration, by: &str, at: Timestamp) -> StoreResult<Integration> {
        let scopes = names(&new.scopes, |s| s.name());
        let kinds = names(&new.allowed_kinds, |k| k.as_str());
        let by = by.to_owned();
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "INSERT INTO integrations (id, name, kind, scopes, allowed_kinds, created_by, created_ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                    params![new.id.as_str(), new.name, new.kind, scopes, kinds, by, sql_ts(at)],
                )
                .map_err(backend_err)?;
                if n == 0 {
                    return Err(StoreError::Conflict(format!("the integration id {} is taken", new.id)));
                }
                read_one(w.tx, new.id.as_str())?.ok_or(StoreError::NotFound)
            })
            .await
    }

    async fn integration(&self, id: &IntegrationId) -> StoreResult<Option<Integration>> {
        let id = id.clone();
        self.readers.read(move |c| read_one(c, id.as_str())).await
    }

    async fn integrations(&self) -> StoreResult<Vec<Integration>> {
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!("SELECT {COLUMNS} FROM integrations ORDER BY id"))
                    .map_err(backend_err)?;
                let rows: Vec<Row> =
                    stmt.query_map([], row).map_err(backend_err)?.collect::<Result<_, _>>().map_err(backend_err)?;
                rows.into_iter().map(to_integration).collect()
            })
            .await
    }

    async fn revoke_integration(&self, id: &IntegrationId, by: &str, at: Timestamp) -> StoreResult<bool> {
        let (id, by) = (id.clone(), by.to_owned());
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE integrations SET active = 0, revoked_by = ?2, revoked_ts = ?3, version = version + 1
                     WHERE id = ?1 AND active = 1",
                    params![id.as_str(), by, sql_ts(at)],
                )
                .map_err(backend_err)?;
                if n == 0 {
                    return match read_one(w.tx, id.as_str())? {
                        Some(_) => Ok(false),
                        None => Err(StoreError::NotFound),
                    };
                }
                exec(
                    w.tx,
                    "UPDATE integration_keys SET revoked_ts = ?2 WHERE integration_id = ?1 AND revoked_ts IS NULL",
                    params![id.as_str(), sql_ts(at)],
                )
                .map_err(backend_err)?;
                Ok(true)
            })
            .await
    }

    async fn add_integration_key(&self, key: IntegrationKey) -> StoreResult<()> {
        self.writer
            .write(move |w| {
                active_one(w.tx, key.integration.as_str())?;
                let n = exec(
                    w.tx,
                    "INSERT INTO integration_keys (key_id, integration_id, secret_sha256, label, created_ts, expires_ts,
                                                   revoked_ts, last_used_ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                    params![
                        key.key_id,
                        key.integration.as_str(),
                        key.secret_sha256,
                        key.label,
                        sql_ts(key.created),
                        key.expires.map(sql_ts),
                        key.revoked.map(sql_ts),
                        key.last_used.map(sql_ts),
                    ],
                )
                .map_err(backend_err)?;
                if n == 0 {
                    return Err(StoreError::Conflict("the key id is taken".into()));
                }
                Ok(())
            })
            .await
    }

    async fn integration_keys(&self, id: &IntegrationId) -> StoreResult<Vec<IntegrationKey>> {
        let id = id.clone();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {KEY_COLUMNS} FROM integration_keys WHERE integration_id = ?1 ORDER BY created_ts, key_id"
                    ))
                    .map_err(backend_err)?;
                let rows: Vec<KeyRow> = stmt
                    .query_map(params![id.as_str()], key_row)
                    .map_err(backend_err)?
                    .collect::<Result<_, _>>()
                    .map_err(backend_err)?;
                rows.into_iter().map(to_key).collect()
            })
            .await
    }

    async fn integration_key(&self, key_id: &str) -> StoreResult<Option<(IntegrationKey, Integration)>> {
        let key_id = key_id.to_owned();
        self.readers
            .read(move |c| {
                let r = query_one(
                    c,
                    &format!("SELECT {KEY_COLUMNS} FROM integration_keys WHERE key_id = ?1"),
                    params![key_id],
                    key_row,
                )
                .optional()
                .map_err(backend_err)?;
                let Some(key) = r.map(to_key).transpose()? else { return Ok(None) };
                let integration = read_one(c, key.integration.as_str())?.ok_or_else(|| corrupt("key's integration"))?;
                Ok(Some((key, integration)))
            })
            .await
    }

    async fn revoke_integration_key(&self, id: &IntegrationId, key_id: &str, at: Timestamp) -> StoreResult<bool> {
        let (id, key_id) = (id.clone(), key_id.to_owned());
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "UPDATE integration_keys SET revoked_ts = ?3
                     WHERE integration_id = ?1 AND key_id = ?2 AND revoked_ts IS NULL",
                    params![id.as_str(), key_id, sql_ts(at)],
                )
                .map_err(backend_err)?;
                if n == 1 {
                    return Ok(true);
                }
                let exists: Option<i64> = query_one(
                    w.tx,
                    "SELECT 1 FROM integration_keys WHERE integration_id = ?1 AND key_id = ?2",
                    params![id.as_str(), key_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)?;
                if exists.is_some() { Ok(false) } else { Err(StoreError::NotFound) }
            })
            .await
    }

    async fn set_integration_hl7(&self, id: &IntegrationId, binding: Option<&Hl7Binding>) -> StoreResult<()> {
        let id = id.clone();
        let json = binding.map(serde_json::to_string).transpose().map_err(|_| corrupt("hl7 binding"))?;
        let (app, facility) = match binding {
            Some(b) => (Some(b.sending_application.clone()), Some(b.sending_facility.clone())),
            None => (None, None),
        };
        let reports = binding.is_some_and(|b| b.report_status && b.status_address.is_some());
        self.writer
            .write(move |w| {
                active_one(w.tx, id.as_str())?;
                let taken: Option<String> = query_one(
                    w.tx,
                    "SELECT id FROM integrations
                     WHERE hl7_application = ?1 AND hl7_facility = ?2 AND active = 1 AND id <> ?3",
                    params![app, facility, id.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)?;
                if let Some(other) = taken {
                    return Err(StoreError::Conflict(format!(
                        "the integration {other} is already bound to that sending application and facility"
                    )));
                }
                exec(
                    w.tx,
                    "UPDATE integrations SET hl7_application = ?2, hl7_facility = ?3, hl7 = ?4, hl7_reports = ?5,
                     version = version + 1
                     WHERE id = ?1",
                    params![id.as_str(), app, facility, json, reports],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn integration_hl7(&self, id: &IntegrationId) -> StoreResult<Option<Hl7Binding>> {
        let id = id.clone();
        self.readers
            .read(move |c| {
                let json: Option<Option<String>> =
                    query_one(c, "SELECT hl7 FROM integrations WHERE id = ?1", params![id.as_str()], |r| r.get(0))
                        .optional()
                        .map_err(backend_err)?;
                json.flatten()
                    .map(|j| serde_json::from_str::<Hl7Binding>(&j).map_err(|_| corrupt("hl7 binding")))
                    .transpose()
            })
            .await
    }

    async fn integration_by_hl7_sender(
        &self,
        application: &str,
        facility: &str,
    ) -> StoreResult<Option<(Integration, Hl7Binding)>> {
        let (application, facility) = (application.to_owned(), facility.to_owned());
        self.readers
            .read(move |c| {
                let found: Option<(String, String)> = query_one(
                    c,
                    "SELECT id, hl7 FROM integrations
                     WHERE hl7_application = ?1 AND hl7_facility = ?2 AND active = 1 AND hl7 IS NOT NULL",
                    params![application, facility],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend_err)?;
                let Some((id, json)) = found else { return Ok(None) };
                let binding = serde_json::from_str::<Hl7Binding>(&json).map_err(|_| corrupt("hl7 binding"))?;
                let integration = read_one(c, &id)?.ok_or_else(|| corrupt("hl7 binding's integration"))?;
                Ok(Some((integration, binding)))
            })
            .await
    }

    async fn touch_integration_key(&self, key_id: &str, at: Timestamp) -> StoreResult<()> {
        let key_id = key_id.to_owned();
        let stale_before = sql_ts(Timestamp(at.0.saturating_sub(KEY_TOUCH_INTERVAL_MS)));
        self.writer
            .write(move |w| {
                exec(
                    w.tx,
                    "UPDATE integration_keys SET last_used_ts = ?2
                     WHERE key_id = ?1 AND (last_used_ts IS NULL OR last_used_ts <= ?3)",
                    params![key_id, sql_ts(at), stale_before],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }
}
