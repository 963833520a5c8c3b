//! The web client, built from `web/` and embedded in the binary, served at `/`.
//!
//! `web/build.mjs` writes `web/dist/`; CI checks that it matches the sources, so a machine
//! without Node.js serves the same client the sources describe.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX: &[u8] = include_bytes!("../../../web/dist/index.html");
const APP_JS: &[u8] = include_bytes!("../../../web/dist/app.js");
const APP_JS_GZ: &[u8] = include_bytes!("../../../web/dist/app.js.gz");
const APP_CSS: &[u8] = include_bytes!("../../../web/dist/app.css");

fn asset(content_type: &'static str, body: &'static [u8], gzipped: bool) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidated on every load, so a new server version is picked up at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX, false)
}

async fn app_js(headers: HeaderMap) -> Response {
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    if gzip { asset("text/javascript", APP_JS_GZ, true) } else { asset("text/javascript", APP_JS, false) }
}

async fn app_css() -> Response {
    asset("text/css", APP_CSS, false)
}

/// The paths [`routes`] serves.
pub const PATHS: [&str; 3] = ["/", "/app.js", "/app.css"];

/// `/`, `/app.js`, `/app.css`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index)).route("/app.js", get(app_js)).route("/app.css", get(app_css))
}
