//! The content repository: upload, create-then-upload, and the authenticated download,
//! thumbnail and config endpoints. The legacy unauthenticated download paths serve nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ruma::api::client::authenticated_media as auth_media;
use ruma::api::client::media;
use ruma::media::Method;
use ruma::{MilliSecondsSinceUnixEpoch, OwnedMxcUri, UInt};
use serde_json::json;
use wardline_service::Services;
use wardline_service::media::content::is_inline;
use wardline_service::media::{Download, Upload};

use crate::error::ApiError;
use crate::ruma_wrapper::{Ruma, reply};

/// What every file response carries: never cached, never sniffed, never run as a page.
const FILE_CSP: &str = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'";

/// `filename*=UTF-8''…` as RFC 6266 / 8187 want it.
fn encoded_filename(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn file_response(d: Download, filename: Option<&str>) -> Response {
    let disposition = if is_inline(&d.content_type) { "inline" } else { "attachment" };
    let disposition = match filename.or(d.filename.as_deref()) {
        Some(name) => format!("{disposition}; filename*=UTF-8''{}", encoded_filename(name)),
        None => disposition.to_owned(),
    };
    let mut response = d.bytes.into_response();
    let headers = response.headers_mut();
    let content_type =
        HeaderValue::from_str(&d.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(FILE_CSP));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    response
}

fn mxc(uri: &str) -> OwnedMxcUri {
    OwnedMxcUri::from(uri)
}

/// `POST /_matrix/media/v3/upload`
pub async fn upload(s: Services, req: Ruma<media::create_content::v3::Request>) -> Result<Response, ApiError> {
    let actor = req.caller()?.actor();
    let b = req.body;
    let upload = Upload { bytes: b.file, content_type: b.content_type, filename: b.filename };
    let uri = s.media.upload(&actor, upload).await?;
    reply(media::create_content::v3::Response::new(mxc(&uri)))
}

/// `POST /_matrix/media/v1/create`
pub async fn create(s: Services, req: Ruma<media::create_mxc_uri::v1::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let (uri, expires) = s.media.create(&caller.actor()).await?;
    let mut response = media::create_mxc_uri::v1::Response::new(mxc(&uri));
    response.unused_expires_at = UInt::new(expires.0).map(MilliSecondsSinceUnixEpoch);
    reply(response)
}

/// `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`
pub async fn upload_to(s: Services, req: Ruma<media::create_content_async::v3::Request>) -> Result<Response, ApiError> {
    let actor = req.caller()?.actor();
    let b = req.body;
    let upload = Upload { bytes: b.file, content_type: b.content_type, filename: b.filename };
    s.media.upload_to(&actor, b.server_name.as_str(), &b.media_id, upload).await?;
    Ok(axum::Json(json!({})).into_response()) // ruma offers no constructor for this empty response
}

/// `GET /_matrix/client/v1/media/download/{serverName}/{mediaId}`
pub async fn download(s: Services, req: Ruma<auth_media::get_content::v1::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let d = s.media.download(&caller.actor(), req.body.server_name.as_str(), &req.body.media_id).await?;
    Ok(file_response(d, None))
}

/// `GET /_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}`
pub async fn download_as(
    s: Services,
    req: Ruma<auth_media::get_content_as_filename::v1::Request>,
) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let d = s.media.download(&caller.actor(), b.server_name.as_str(), &b.media_id).await?;
    Ok(file_response(d, Some(&b.filename)))
}

/// `GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}`
pub async fn thumbnail(
    s: Services,
    req: Ruma<auth_media::get_content_thumbnail::v1::Request>,
) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    let b = &req.body;
    let size = |v: UInt| u32::try_from(u64::from(v)).unwrap_or(u32::MAX);
    let crop = matches!(b.method, Some(Method::Crop));
    let d = s
        .media
        .thumbnail(&caller.actor(), b.server_name.as_str(), &b.media_id, size(b.width), size(b.height), crop)
        .await?;
    Ok(file_response(d, None))
}

/// `GET /_matrix/client/v1/media/config`
pub async fn config(s: Services, req: Ruma<auth_media::get_media_config::v1::Request>) -> Result<Response, ApiError> {
    req.caller()?;
    let max = UInt::new(s.media.max_upload_bytes()).unwrap_or(UInt::MAX);
    reply(auth_media::get_media_config::v1::Response::new(max))
}

/// The legacy unauthenticated download and thumbnail paths: files are only served to signed-in
/// users with access, through `/_matrix/client/v1/media/`.
pub async fn legacy<T>(_: Services, _: Ruma<T>) -> Result<Response, ApiError> {
    let body = json!({
        "errcode": "M_NOT_FOUND",
        "error": "files are only served through the authenticated /_matrix/client/v1/media/ endpoints",
    });
    Ok((StatusCode::NOT_FOUND, axum::Json(body)).into_response())
}
