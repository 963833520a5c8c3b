//! [`TopicStore`] on SQLite: `alert_topics` and `topic_subscriptions` (migration 0031).

use async_trait::async_trait;
use ruma::{OwnedUserId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{StoreError, StoreResult, StoredTopic, TopicStore};
use wardline_types::Timestamp;
use wardline_types::alert_topic::{AlertTopic, TopicId, TopicScope};

use crate::rows::{exec, parse_user, query_one, sql_ts};
use crate::{SqliteStore, backend_err};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("alert topics: bad {what}"))
}

fn version_of(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| corrupt("version"))
}

const SELECT: &str = "SELECT t.topic, t.version,
        (SELECT COUNT(DISTINCT s.user_id) FROM topic_subscriptions s WHERE s.topic_id = t.id)
     FROM alert_topics t";

fn to_topic(row: (String, i64, i64)) -> StoreResult<StoredTopic> {
    let (json, version, subscribers) = row;
    Ok(StoredTopic {
        topic: serde_json::from_str(&json).map_err(|_| corrupt("topic"))?,
        version: version_of(version)?,
        subscribers: u64::try_from(subscribers).map_err(|_| corrupt("count"))?,
    })
}

fn read(c: &Connection, id: Option<&str>) -> StoreResult<Vec<StoredTopic>> {
    let sql = format!("{SELECT} WHERE ?1 IS NULL OR t.id = ?1 ORDER BY t.id");
    let mut stmt = c.prepare_cached(&sql).map_err(backend_err)?;
    let rows: Vec<(String, i64, i64)> = stmt
        .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(backend_err)?
        .collect::<Result<_, _>>()
        .map_err(backend_err)?;
    rows.into_iter().map(to_topic).collect()
}

fn scope_of(s: &str) -> StoreResult<TopicScope> {
    TopicScope::parse(s).map_err(|_| corrupt("scope"))
}

#[async_trait]
impl TopicStore for SqliteStore {
    async fn alert_topics(&self) -> StoreResult<Vec<StoredTopic>> {
        self.readers.read(|c| read(c, None)).await
    }

    async fn alert_topic(&self, id: &TopicId) -> StoreResult<Option<StoredTopic>> {
        let id = id.clone();
        self.readers.read(move |c| Ok(read(c, Some(id.as_str()))?.pop())).await
    }

    async fn set_alert_topic(
        &self,
        topic: &AlertTopic,
        expected_version: Option<u64>,
        by: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let json = serde_json::to_string(topic).map_err(|_| corrupt("topic"))?;
        let (id, by) = (topic.id.clone(), by.to_owned());
        self.writer
            .write(move |w| {
                let current: Option<i64> =
                    query_one(w.tx, "SELECT version FROM alert_topics WHERE id = ?1", params![id.as_str()], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(backend_err)?;
                match (current, expected_version) {
                    (None, None) => {
                        exec(
                            w.tx,
                            "INSERT INTO alert_topics (id, topic, version, updated_by, updated_ts)
                             VALUES (?1, ?2, 1, ?3, ?4)",
                            params![id.as_str(), json, by, sql_ts(at)],
                        )
                        .map_err(backend_err)?;
                        Ok(1)
                    }
                    (Some(v), Some(e)) if version_of(v)? == e => {
                        exec(
                            w.tx,
                            "UPDATE alert_topics SET topic = ?2, version = version + 1, updated_by = ?3,
                             updated_ts = ?4 WHERE id = ?1",
                            params![id.as_str(), json, by, sql_ts(at)],
                        )
                        .map_err(backend_err)?;
                        Ok(e + 1)
                    }
                    (None, Some(_)) => Err(StoreError::NotFound),
                    _ => Err(StoreError::Conflict(format!("topic {id} is at another version"))),
                }
            })
            .await
    }

    async fn remove_alert_topic(&self, id: &TopicId) -> StoreResult<bool> {
        let id = id.clone();
        self.writer
            .write(move |w| {
                // Checked in the same write that removes it: a rule saved a moment before that
                // names it keeps it.
                let mut stmt =
                    w.tx.prepare_cached(
                        "SELECT id FROM alarm_rules WHERE json_extract(rule, '$.action.topic') = ?1 ORDER BY id",
                    )
                    .map_err(backend_err)?;
                let users = stmt
                    .query_map(params![id.as_str()], |r| r.get::<_, String>(0))
                    .map_err(backend_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend_err)?;
                if !users.is_empty() {
                    return Err(StoreError::Conflict(format!(
                        "topic {id} is named by the rules {}: change them first",
                        users.join(", ")
                    )));
                }
                exec(w.tx, "DELETE FROM topic_subscriptions WHERE topic_id = ?1", params![id.as_str()])
                    .map_err(backend_err)?;
                Ok(exec(w.tx, "DELETE FROM alert_topics WHERE id = ?1", params![id.as_str()]).map_err(backend_err)?
                    == 1)
            })
            .await
    }

    async fn set_topic_subscription(
        &self,
        user: &UserId,
        topic: &TopicId,
        scopes: &[TopicScope],
        at: Timestamp,
    ) -> StoreResult<()> {
        let (user, topic) = (user.to_owned(), topic.clone());
        let scopes: Vec<String> = scopes.iter().map(ToString::to_string).collect();
        self.writer
            .write(move |w| {
                let exists =
                    query_one(w.tx, "SELECT 1 FROM alert_topics WHERE id = ?1", params![topic.as_str()], |_| Ok(()))
                        .optional()
                        .map_err(backend_err)?;
                if exists.is_none() {
                    return Err(StoreError::NotFound);
                }
                exec(
                    w.tx,
                    "DELETE FROM topic_subscriptions WHERE topic_id = ?1 AND user_id = ?2",
                    params![topic.as_str(), user.as_str()],
                )
                .map_err(backend_err)?;
                for scope in &scopes {
                    exec(
                        w.tx,
                        "INSERT INTO topic_subscriptions (topic_id, user_id, scope, created_ts)
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                        params![topic.as_str(), user.as_str(), scope, sql_ts(at)],
                    )
                    .map_err(backend_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn topic_subscriptions_of(&self, user: &UserId) -> StoreResult<Vec<(TopicId, Vec<TopicScope>)>> {
        let user = user.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT topic_id, scope FROM topic_subscriptions WHERE user_id = ?1 ORDER BY topic_id, scope",
                    )
                    .map_err(backend_err)?;
                let rows: Vec<(String, String)> = stmt
                    .query_map(params![user.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(backend_err)?
                    .collect::<Result<_, _>>()
                    .map_err(backend_err)?;
                let mut out: Vec<(TopicId, Vec<TopicScope>)> = Vec::new();
                for (topic, scope) in rows {
                    let topic = TopicId::parse(&topic).map_err(|_| corrupt("topic id"))?;
                    let scope = scope_of(&scope)?;
                    match out.last_mut() {
                        Some((t, scopes)) if *t == topic => scopes.push(scope),
                        _ => out.push((topic, vec![scope])),
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn topic_subscribers(&self, topic: &TopicId) -> StoreResult<Vec<(OwnedUserId, TopicScope)>> {
        let topic = topic.clone();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT user_id, scope FROM topic_subscriptions WHERE topic_id = ?1 ORDER BY user_id, scope",
                    )
                    .map_err(backend_err)?;
                let rows: Vec<(String, String)> = stmt
                    .query_map(params![topic.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(backend_err)?
                    .collect::<Result<_, _>>()
                    .map_err(backend_err)?;
                rows.into_iter().map(|(u, s)| Ok((parse_user(&u)?, scope_of(&s)?))).collect()
            })
            .await
    }
}
