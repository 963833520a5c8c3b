//! The integration outbox for administrators: `POST /integrations/{integrationId}/test_webhook`
//! (queue a test report to a system's webhook) and `GET /integration_outbox` (what was reported
//! to which system, and how it ended: alarm ids and statuses, never a secret).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_store::{Report, ReportOutcome, ReportQuery};
use wardline_types::integration::IntegrationId;

use super::Admin;
use crate::error::ApiError;

/// Reports listed when the query gives no `limit`.
const DEFAULT_LIMIT: usize = 100;

fn integration_id(raw: &str) -> Result<IntegrationId, ApiError> {
    IntegrationId::parse(raw).map_err(|e| ApiError::invalid_param(e.to_string()))
}

/// A report as administrators see it: its payload (alarm ids and statuses) as JSON.
fn report_json(r: &Report) -> Value {
    json!({
        "report_id": r.id,
        "seq": r.seq,
        "integration_id": r.integration,
        "alarm_id": r.alarm,
        "channel": r.channel.as_str(),
        "payload": serde_json::from_str::<Value>(&r.payload).unwrap_or(Value::Null),
        "attempts": r.attempts,
        "outcome": r.outcome.map_or("pending", ReportOutcome::as_str),
        "reason": r.reason,
        "created_ts": r.created.0,
        "due_ts": r.due.0,
        "claimed_ts": r.claimed.map(|t| t.0),
        "done_ts": r.done.map(|t| t.0),
    })
}

/// `POST /integrations/{integrationId}/test_webhook`: `202 {}` once a test report
/// (`{"type": "webhook.test", "integration", "at"}`) is queued; `409
/// ORG.WARDLINE.INTEGRATION_CONFLICT` if the system has no webhook or is revoked.
pub async fn test_webhook(
    State(s): State<Services>,
    Admin(by): Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    s.outbox.queue_test(By::Staff(&by.actor()), &integration_id(&raw)?).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}

/// The query of `GET /integration_outbox`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    integration: Option<String>,
    /// `sent`, `failed` or `pending`.
    outcome: Option<String>,
    limit: Option<usize>,
}

/// `GET /integration_outbox?integration=&outcome=&limit=`: `{"reports": [...]}`, newest first.
pub async fn list(
    State(s): State<Services>,
    _: Admin,
    query: Result<Query<OutboxQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid_param(e.body_text()))?;
    let mut query = ReportQuery {
        integration: q.integration.as_deref().map(integration_id).transpose()?,
        limit: q.limit.unwrap_or(DEFAULT_LIMIT),
        ..ReportQuery::default()
    };
    match q.outcome.as_deref() {
        None => {}
        Some("pending") => query.pending_only = true,
        Some(o) => {
            let outcome =
                ReportOutcome::parse(o).ok_or_else(|| ApiError::invalid_param("outcome is sent, failed or pending"))?;
            query.outcome = Some(outcome);
        }
    }
    let reports = s.outbox.reports(query).await?;
    Ok(Json(json!({ "reports": reports.iter().map(report_json).collect::<Vec<_>>() })).into_response())
}
