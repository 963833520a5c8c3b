//! `/versions`, `/.well-known/matrix/client`, `/capabilities`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use ruma::api::client::discovery::{discover_homeserver, get_capabilities, get_supported_versions};
use serde_json::json;
use wardline_service::Services;

use crate::error::ApiError;
use crate::ruma_wrapper::Ruma;

/// The spec versions Wardline implements.
pub const VERSIONS: &[&str] =
    &["r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12"];

/// `GET /_matrix/client/versions`
pub async fn versions(_: Services, _: Ruma<get_supported_versions::Request>) -> Result<Response, ApiError> {
    Ok(Json(json!({
        "versions": VERSIONS,
        "unstable_features": {},
        "server": { "name": "Wardline", "version": env!("CARGO_PKG_VERSION") }
    }))
    .into_response())
}

/// The base URL clients should use.
pub fn base_url(s: &Services) -> String {
    s.config.public_base_url.clone().unwrap_or_else(|| format!("http://{}", s.config.listen))
}

/// `GET /.well-known/matrix/client`
pub async fn well_known(s: Services, _: Ruma<discover_homeserver::Request>) -> Result<Response, ApiError> {
    Ok(Json(json!({ "m.homeserver": { "base_url": base_url(&s) } })).into_response())
}

/// `GET /_matrix/client/v3/capabilities`
pub async fn capabilities(s: Services, _: Ruma<get_capabilities::v3::Request>) -> Result<Response, ApiError> {
    let version = wardline_service::rooms::ROOM_VERSION;
    // MSC4174: Web Push, with the key browsers subscribe with.
    let webpush = match s.pushers.vapid_public_key().await? {
        Some(key) => json!({ "enabled": true, "vapid": key }),
        None => json!({ "enabled": false }),
    };
    Ok(Json(json!({
        "capabilities": {
            "m.change_password": { "enabled": true },
            "m.room_versions": { "default": version, "available": { version: "stable" } },
            "m.set_displayname": { "enabled": true },
            "m.set_avatar_url": { "enabled": true },
            "m.3pid_changes": { "enabled": false },
            "m.get_login_token": { "enabled": false },
            "m.webpush": webpush
        }
    }))
    .into_response())
}
