//! `GET /_wardline/health/live` and `GET /_wardline/health/ready`, for load balancers and
//! supervisors: no token, no audit record, no rate limit, nothing but the checks.
//!
//! Live answers `200` while the process answers at all. Ready answers `200` only while the
//! store accepts writes and the audit trail is being written (and the server is not shutting
//! down), else `503`; its body names each check and why it failed, in fixed words.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use wardline_service::Services;
use wardline_service::health::Trouble;

use crate::routes::Routes;

/// The health routes.
pub fn routes() -> Routes {
    Routes::new().probe("/_wardline/health/live", "wardline.health.live", live).probe(
        "/_wardline/health/ready",
        "wardline.health.ready",
        ready,
    )
}

/// The process is up.
async fn live() -> Response {
    answer(StatusCode::OK, json!({ "status": "ok" }))
}

/// The server can do its work.
async fn ready(State(s): State<Services>) -> Response {
    let readiness = s.health.readiness().await;
    let check = |c: Result<(), Trouble>| c.map_or_else(Trouble::describe, |()| "ok");
    let (status, word) =
        if readiness.ready() { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "unavailable") };
    let body = json!({
        "status": word,
        "checks": {
            "server": check(readiness.server),
            "store": check(readiness.store),
            "audit": check(readiness.audit),
        },
    });
    answer(status, body)
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
