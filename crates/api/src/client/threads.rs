//! `GET /rooms/{roomId}/threads`: the threads of a conversation, most recently active first.

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::threads::get_threads::v1::{IncludeThreads, Request};
use serde_json::json;
use wardline_service::Services;
use wardline_service::timeline::{ThreadsInclude, ThreadsToken};

use crate::client::format::client_events_bundled;
use crate::error::ApiError;
use crate::ruma_wrapper::Ruma;

/// `GET /rooms/{roomId}/threads`
pub async fn threads(s: Services, req: Ruma<Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let include = match b.include {
        IncludeThreads::All => ThreadsInclude::All,
        IncludeThreads::Participated => ThreadsInclude::Participated,
        _ => return Err(ApiError::invalid_param("include must be all or participated")),
    };
    let from = b.from.as_deref().map(str::parse::<ThreadsToken>).transpose()?;
    let limit = b.limit.map(|l| usize::try_from(u64::from(l)).unwrap_or(usize::MAX));
    let page = s.timeline.threads(&caller.actor(), &b.room_id, include, from, limit).await?;
    let mut body = json!({ "chunk": client_events_bundled(&page.chunk, &page.bundles, caller, s.clock.now()) });
    if let Some(next) = page.next_batch {
        body["next_batch"] = json!(next.to_string());
    }
    Ok(Json(body).into_response())
}
