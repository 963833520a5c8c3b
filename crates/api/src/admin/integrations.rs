//! Administering integration accounts (hospital systems): create, list, show, revoke, and
//! their API keys (a key is answered once, when made; only its hash is kept).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_store::{Integration, IntegrationKey, NewIntegration};
use wardline_types::Timestamp;
use wardline_types::alarm::AlarmKind;
use wardline_types::integration::{IntegrationId, IntegrationScope};

use super::Admin;
use crate::error::ApiError;

/// The body of `POST /integrations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationBody {
    integration_id: String,
    name: String,
    kind: String,
    scopes: Vec<IntegrationScope>,
    #[serde(default)]
    allowed_kinds: Vec<AlarmKind>,
}

/// The body of `POST /integrations/{integrationId}/keys`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    #[serde(default)]
    label: Option<String>,
    /// When it stops working by itself (milliseconds since the epoch).
    #[serde(default)]
    expires_ts: Option<u64>,
}

fn integration_id(raw: &str) -> Result<IntegrationId, ApiError> {
    IntegrationId::parse(raw).map_err(|e| ApiError::invalid_param(e.to_string()))
}

/// A key as administrators see it: never its secret, nor its hash.
fn key_json(k: &IntegrationKey) -> Value {
    json!({
        "key_id": k.key_id,
        "label": k.label,
        "created_ts": k.created.0,
        "expires_ts": k.expires.map(|t| t.0),
        "revoked_ts": k.revoked.map(|t| t.0),
        "last_used_ts": k.last_used.map(|t| t.0),
    })
}

/// An integration as administrators see it.
fn integration_json(s: &Services, i: &Integration, keys: Option<&[IntegrationKey]>) -> Value {
    let mut v = json!({
        "integration_id": i.id,
        "name": i.name,
        "kind": i.kind,
        "user_id": s.integrations.user_id(&i.id).ok(),
        "scopes": i.scopes,
        "allowed_kinds": i.allowed_kinds,
        "active": i.active,
        "version": i.version,
        "created_by": i.created_by,
        "created_ts": i.created.0,
        "revoked_by": i.revoked_by,
        "revoked_ts": i.revoked.map(|t| t.0),
    });
    if let Some(keys) = keys {
        v["keys"] = Value::Array(keys.iter().map(key_json).collect());
    }
    v
}

/// `GET /integrations`: every integration account, revoked ones included.
pub async fn list(State(s): State<Services>, _: Admin) -> Result<Response, ApiError> {
    let all = s.integrations.list().await?;
    let list: Vec<Value> = all.iter().map(|i| integration_json(&s, i, None)).collect();
    Ok(Json(json!({ "integrations": list })).into_response())
}

/// `POST /integrations {integration_id, name, kind, scopes, allowed_kinds?}`: `201` with the
/// account (no key yet).
pub async fn create(
    State(s): State<Services>,
    Admin(by): Admin,
    body: Result<Json<IntegrationBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let new = NewIntegration {
        id: integration_id(&b.integration_id)?,
        name: b.name,
        kind: b.kind,
        scopes: b.scopes,
        allowed_kinds: b.allowed_kinds,
    };
    let made = s.integrations.create(By::Staff(&by.actor()), new).await?;
    Ok((StatusCode::CREATED, Json(integration_json(&s, &made, Some(&[])))).into_response())
}

/// `GET /integrations/{integrationId}`: the account, its keys, and where its webhook reports go
/// (`"webhook": {"origin"}`, the URL's scheme, host and port only; `null` when it set none).
pub async fn get(State(s): State<Services>, _: Admin, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let id = integration_id(&raw)?;
    let (i, keys) = s.integrations.get(&id).await?;
    let mut v = integration_json(&s, &i, Some(&keys));
    v["webhook"] = s.outbox.webhook_origin(&id).await?.map_or(Value::Null, |origin| json!({ "origin": origin }));
    Ok(Json(v).into_response())
}

/// `DELETE /integrations/{integrationId}`: revokes the account and every key of it (it is kept,
/// so its alarms and records still name it; its id is never reused).
pub async fn revoke(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = integration_id(&raw)?;
    s.integrations.revoke(By::Staff(&by.actor()), &id).await?;
    let (i, keys) = s.integrations.get(&id).await?;
    Ok(Json(integration_json(&s, &i, Some(&keys))).into_response())
}

/// `POST /integrations/{integrationId}/keys {label?, expires_ts?}`: `201 {key_id, key, ...}`.
/// The key is in this answer only.
pub async fn add_key(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
    body: Result<Json<KeyBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let id = integration_id(&raw)?;
    let made = s.integrations.add_key(By::Staff(&by.actor()), &id, b.label, b.expires_ts.map(Timestamp)).await?;
    let mut v = key_json(&made.key);
    v["integration_id"] = json!(id);
    v["key"] = json!(made.secret_key);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `DELETE /integrations/{integrationId}/keys/{keyId}`: revokes one key.
pub async fn revoke_key(
    State(s): State<Services>,
    Admin(by): Admin,
    Path((raw, key_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.integrations.revoke_key(By::Staff(&by.actor()), &integration_id(&raw)?, &key_id).await?;
    Ok(Json(json!({})).into_response())
}
