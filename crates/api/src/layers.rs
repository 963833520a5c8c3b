//! Middleware on every response: security headers, CORS, request limits, tracing, panics.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// CORS as the Matrix spec requires for the client-server API: any origin, the listed methods
/// and headers.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("x-requested-with"),
        ])
        .max_age(Duration::from_secs(86_400))
}

/// Security headers (and `Cache-Control: no-store`) set on every response unless a handler set
/// them.
pub fn security_headers() -> Vec<SetResponseHeaderLayer<HeaderValue>> {
    [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; \
             media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'",
        ),
        ("permissions-policy", "geolocation=(), camera=(self), microphone=(self)"),
        // Answers name patients and hold messages: never kept in a browser's or a proxy's cache
        // (a shared ward PC keeps nothing after sign-out). The web client's files and media
        // say otherwise for themselves.
        ("cache-control", "no-store"),
    ]
    .into_iter()
    .map(|(name, value)| {
        SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), HeaderValue::from_static(value))
    })
    .collect()
}

/// `Strict-Transport-Security`, sent only when Wardline serves HTTPS itself.
pub fn hsts() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    )
}
