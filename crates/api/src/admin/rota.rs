//! Importing a rota (`POST /_wardline/admin/v1/rota`): the body is JSON
//! `{"format": "csv"|"ical", "content": "<the file's text>"}` (every body of Wardline's own
//! endpoints is JSON, checked before the endpoint runs; the command line reads files). The
//! answer counts the shifts created, removed (not yet started, replaced by the import) and
//! unchanged; a rota with bad rows imports nothing and is answered 400 with every bad row and
//! its line. The formats are described in [`wardline_service::roles::rota`].
//!
//! The path is not under `/roles/` so that it can never be taken for a role whose id is `rota`.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_service::roles::rota::{RotaFormat, RotaImportError};

use super::Admin;
use crate::error::ApiError;

/// The body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotaBody {
    format: String,
    content: String,
}

/// `POST /rota`: imports a rota, all or nothing.
pub async fn import(
    State(s): State<Services>,
    Admin(by): Admin,
    body: Result<Json<RotaBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let format =
        RotaFormat::parse(&b.format).ok_or_else(|| ApiError::invalid_param("format is \"csv\" or \"ical\""))?;
    match s.roles.import_rota(By::Staff(&by.actor()), format, b.content.as_bytes()).await {
        Ok(r) => {
            Ok(Json(json!({ "created": r.created, "removed": r.removed, "unchanged": r.unchanged })).into_response())
        }
        Err(RotaImportError::BadRows(rows)) => {
            Err(ApiError::invalid_param(format!("{} bad row(s); nothing was imported", rows.len())).with(
                "bad_rows",
                json!(rows.iter().map(|r| json!({ "line": r.line, "reason": r.reason })).collect::<Vec<_>>()),
            ))
        }
        Err(RotaImportError::Format(m)) => Err(ApiError::invalid_param(m)),
        Err(RotaImportError::Service(e)) => Err(e.into()),
    }
}
