//! [`WctpStore`] on SQLite: the `wctp_sender_id`, `wctp` and `wctp_reply_url` columns of
//! `integrations` (migrations 0023, 0029) and `wctp_recipients` (migration 0029). A sender id is
//! unique among all integrations, revoked ones included (the column's own constraint), so a
//! page can never be taken for another system's.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use wardline_store::{Integration, StoreError, StoreResult, WctpStore};
use wardline_types::Timestamp;
use wardline_types::escalation::Target;
use wardline_types::integration::IntegrationId;
use wardline_types::wctp_binding::{WctpBinding, WctpRecipient};

use crate::integrations::{active_one, read_one};
use crate::rows::{exec, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("wctp: bad {what}"))
}

/// The binding as stored: the sender id and reply URL in their columns, the rest as JSON.
fn to_binding(sender: String, json: &str, reply_url: Option<String>) -> StoreResult<WctpBinding> {
    let mut b: WctpBinding = serde_json::from_str(json).map_err(|_| corrupt("binding"))?;
    b.sender_id = sender;
    b.reply_url = reply_url;
    Ok(b)
}

fn to_recipient(row: (String, String, String, i64)) -> StoreResult<WctpRecipient> {
    let (recipient_id, target, updated_by, updated) = row;
    Ok(WctpRecipient {
        recipient_id,
        target: serde_json::from_str::<Target>(&target).map_err(|_| corrupt("recipient's target"))?,
        updated_by,
        updated: ts(updated),
    })
}

#[async_trait]
impl WctpStore for SqliteStore {
    async fn set_integration_wctp(&self, id: &IntegrationId, binding: Option<&WctpBinding>) -> StoreResult<()> {
        let id = id.clone();
        let json = binding.map(serde_json::to_string).transpose().map_err(|_| corrupt("binding"))?;
        let sender = binding.map(|b| b.sender_id.clone());
        let reply_url = binding.and_then(|b| b.reply_url.clone());
        self.writer
            .write(move |w| {
                active_one(w.tx, id.as_str())?;
                let taken: Option<String> = query_one(
                    w.tx,
                    "SELECT id FROM integrations WHERE wctp_sender_id = ?1 AND id <> ?2",
                    params![sender, id.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)?;
                if let Some(other) = taken {
                    return Err(StoreError::Conflict(format!(
                        "the integration {other} already pages as that WCTP sender id"
                    )));
                }
                exec(
                    w.tx,
                    "UPDATE integrations SET wctp_sender_id = ?2, wctp = ?3, wctp_reply_url = ?4,
                     version = version + 1 WHERE id = ?1",
                    params![id.as_str(), sender, json, reply_url],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn integration_wctp(&self, id: &IntegrationId) -> StoreResult<Option<WctpBinding>> {
        let id = id.clone();
        self.readers
            .read(move |c| {
                let found: Option<(Option<String>, Option<String>, Option<String>)> = query_one(
                    c,
                    "SELECT wctp_sender_id, wctp, wctp_reply_url FROM integrations WHERE id = ?1",
                    params![id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(backend_err)?;
                match found {
                    Some((Some(sender), Some(json), url)) => to_binding(sender, &json, url).map(Some),
                    _ => Ok(None),
                }
            })
            .await
    }

    async fn integration_by_wctp_sender(&self, sender_id: &str) -> StoreResult<Option<(Integration, WctpBinding)>> {
        let sender_id = sender_id.to_owned();
        self.readers
            .read(move |c| {
                let found: Option<(String, String, Option<String>)> = query_one(
                    c,
                    "SELECT id, wctp, wctp_reply_url FROM integrations WHERE wctp_sender_id = ?1 AND wctp IS NOT NULL",
                    params![sender_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(backend_err)?;
                let Some((id, json, url)) = found else { return Ok(None) };
                let binding = to_binding(sender_id, &json, url)?;
                let integration = read_one(c, &id)?.ok_or_else(|| corrupt("binding's integration"))?;
                Ok(Some((integration, binding)))
            })
            .await
    }

    async fn set_wctp_recipient(
        &self,
        integration: &IntegrationId,
        recipient_id: &str,
        target: Option<&Target>,
        by: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let (id, recipient, by) = (integration.clone(), recipient_id.to_owned(), by.to_owned());
        let target = target.map(serde_json::to_string).transpose().map_err(|_| corrupt("recipient's target"))?;
        self.writer
            .write(move |w| {
                if read_one(w.tx, id.as_str())?.is_none() {
                    return Err(StoreError::NotFound);
                }
                let n = match &target {
                    Some(t) => exec(
                        w.tx,
                        "INSERT INTO wctp_recipients (integration_id, recipient_id, target, updated_by, updated_ts)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (integration_id, recipient_id) DO UPDATE
                         SET target = excluded.target, updated_by = excluded.updated_by,
                             updated_ts = excluded.updated_ts",
                        params![id.as_str(), recipient, t, by, sql_ts(at)],
                    ),
                    None => exec(
                        w.tx,
                        "DELETE FROM wctp_recipients WHERE integration_id = ?1 AND recipient_id = ?2",
                        params![id.as_str(), recipient],
                    ),
                }
                .map_err(backend_err)?;
                Ok(n > 0)
            })
            .await
    }

    async fn wctp_recipient(
        &self,
        integration: &IntegrationId,
        recipient_id: &str,
    ) -> StoreResult<Option<WctpRecipient>> {
        let (id, recipient) = (integration.clone(), recipient_id.to_owned());
        self.readers
            .read(move |c| {
                query_one(
                    c,
                    "SELECT recipient_id, target, updated_by, updated_ts FROM wctp_recipients
                     WHERE integration_id = ?1 AND recipient_id = ?2",
                    params![id.as_str(), recipient],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(backend_err)?
                .map(to_recipient)
                .transpose()
            })
            .await
    }

    async fn wctp_recipients(&self, integration: &IntegrationId) -> StoreResult<Vec<WctpRecipient>> {
        let id = integration.clone();
        self.readers
            .read(move |c| {
                let rows: Vec<(String, String, String, i64)> = c
                    .prepare_cached(
                        "SELECT recipient_id, target, updated_by, updated_ts FROM wctp_recipients
                         WHERE integration_id = ?1 ORDER BY recipient_id",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                            .collect()
                    })
                    .map_err(backend_err)?;
                rows.into_iter().map(to_recipient).collect()
            })
            .await
    }
}
