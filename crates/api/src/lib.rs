//! Wardline's HTTP layer: the Matrix client-server API, thin handlers over the services.
//!
//! **Invariant:** only this crate knows HTTP. Every Matrix endpoint is routed from ruma's
//! metadata through [`ruma_wrapper::Ruma`]; every error leaves through [`error::ApiError`].

pub mod admin;
mod broadcasts;
pub mod client;
pub mod dnd;
pub mod edge;
pub mod error;
mod guard;
pub mod health;
mod incidents;
pub mod integration;
mod layers;
pub mod metrics;
mod patients;
pub mod roles;
pub mod routes;
pub mod ruma_wrapper;
pub mod staff;
mod topics;
pub mod web;

use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use wardline_service::Services;

use crate::error::ApiError;
pub use crate::metrics::HttpMetrics;
use crate::routes::{RouteInfo, Routes};

/// Every API route (Matrix, Wardline's own, administration), each with its endpoint's rules.
pub fn api_routes() -> Routes {
    client::routes()
        .merge(admin::routes())
        .merge(staff::routes())
        .merge(roles::routes())
        .merge(dnd::routes())
        .merge(incidents::routes())
        .merge(topics::routes())
        .merge(patients::routes())
        .merge(broadcasts::routes())
        .merge(integration::routes())
        .merge(health::routes())
}

/// The table of every API route and what its endpoint allows (the web client's static files,
/// which take no token, are not in it).
#[must_use]
pub fn route_table() -> Vec<RouteInfo> {
    api_routes().table().to_vec()
}

pub use crate::guard::install_hook as install_panic_hook;

/// The whole HTTP application, counting requests into `http_metrics`.
pub fn router(services: Services, http_metrics: HttpMetrics) -> Router {
    let tls = services.config.tls.enabled();
    let routes = api_routes();
    let templates = routes.table().iter().map(|r| r.path.as_str()).chain(web::PATHS);
    let tracking = metrics::Tracking { metrics: http_metrics, endpoints: metrics::Endpoints::new(templates) };
    // The largest body axum's own extractors read (Wardline's and the administration endpoints;
    // `Ruma<T>` applies the same limit itself, and the upload limit to uploads).
    let body_limit = axum::extract::DefaultBodyLimit::max(services.config.max_request_bytes);
    let mut app = routes
        .into_router()
        .merge(web::routes())
        .fallback(|| async { ApiError::unrecognized().into_response() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "M_UNRECOGNIZED", "method not allowed")
                .into_response()
        })
        .layer(body_limit)
        .layer(axum::middleware::from_fn_with_state(services.clone(), edge::edge))
        .with_state(services);
    for layer in layers::security_headers() {
        app = app.layer(layer);
    }
    if tls {
        app = app.layer(layers::hsts());
    }
    app.layer(layers::cors())
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "M_UNKNOWN", "internal server error")
                .into_response()
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    // Neither the path nor its query: paths name users, rooms and files, queries can
                    // carry access tokens. The route's template is filled in once it is known
                    // (`edge::edge`).
                    tracing::info_span!("request", method = %req.method(), route = tracing::field::Empty)
                })
                // A failed answer is logged where its cause is known (`error.rs` logs storage and
                // internal errors; a not-ready probe's `503` is the answer a load balancer asks for,
                // once a second): here only at debug, so probes cannot flood the log with errors.
                .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(120),
        ))
        .layer(axum::middleware::from_fn_with_state(tracking, metrics::track))
}
