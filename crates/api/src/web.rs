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
const SERVICE_WORKER: &[u8] = include_bytes!("../../../web/dist/sw.js");
const MANIFEST: &[u8] = include_bytes!("../../../web/dist/manifest.webmanifest");
const ICON_192: &[u8] = include_bytes!("../../../web/dist/icon-192.png");
const ICON_512: &[u8] = include_bytes!("../../../web/dist/icon-512.png");
const ICON_MASKABLE_512: &[u8] = include_bytes!("../../../web/dist/icon-maskable-512.png");

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

/// The service worker (`web/src/sw/`): keeps the app shell (`/`, `/app.js`, `/app.css`, public
/// and the same for everyone) so the client opens offline; never the API or media. Served from
/// the root, so its scope is the whole client; `no-cache` like the rest, so a new version of it
/// is picked up at the next load.
async fn service_worker() -> Response {
    let mut response = asset("text/javascript", SERVICE_WORKER, false);
    response.headers_mut().insert("service-worker-allowed", HeaderValue::from_static("/"));
    response
}

/// The web app manifest: what makes the client an installable app (name, icons, standalone,
/// start URL and scope `/`), linked from the page.
async fn manifest() -> Response {
    asset("application/manifest+json", MANIFEST, false)
}

async fn icon_192() -> Response {
    asset("image/png", ICON_192, false)
}

async fn icon_512() -> Response {
    asset("image/png", ICON_512, false)
}

async fn icon_maskable_512() -> Response {
    asset("image/png", ICON_MASKABLE_512, false)
}

/// The paths [`routes`] serves.
pub const PATHS: [&str; 8] = [
    "/",
    "/app.js",
    "/app.css",
    "/sw.js",
    "/manifest.webmanifest",
    "/icon-192.png",
    "/icon-512.png",
    "/icon-maskable-512.png",
];

/// `/`, `/app.js`, `/app.css`, `/sw.js`, the manifest and its icons.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/app.css", get(app_css))
        .route("/sw.js", get(service_worker))
        .route("/manifest.webmanifest", get(manifest))
        .route("/icon-192.png", get(icon_192))
        .route("/icon-512.png", get(icon_512))
        .route("/icon-maskable-512.png", get(icon_maskable_512))
}
