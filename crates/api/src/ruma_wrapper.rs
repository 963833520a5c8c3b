//! The one extractor every Matrix endpoint goes through (registered at every path in its ruma
//! metadata by [`crate::routes::Routes::ruma`]).
//!
//! The extractor authenticates as the endpoint's metadata requires, holds an unfinished first
//! sign-in to what the endpoint allows ([`crate::routes::first_sign_in_of`]), enforces the
//! endpoint's body limit, and parses the request with ruma.

use std::net::IpAddr;

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use ruma::api::auth_scheme::{
    AccessToken, AccessTokenOptional, AppserviceToken, AppserviceTokenOptional, NoAccessToken, NoAuthentication,
};
use ruma::api::path_builder::PathBuilder;
use ruma::api::{IncomingRequest, IncomingRequestExt, OutgoingResponse, OutgoingResponseExt};
use wardline_service::{Caller, ServiceError, Services};

use crate::edge;
use crate::error::ApiError;
use crate::routes::{BodyLimit, body_limit_of, first_sign_in_of};

/// What an endpoint's metadata says about access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A token is required.
    Required,
    /// A token is used if given.
    Optional,
    /// No token is looked at.
    None,
    /// A hospital system's API key (`Authorization: Bearer wlk_…`), never an access token: the
    /// integration API ([`crate::integration`]). No Matrix endpoint takes one.
    Integration,
}

/// Maps ruma's authentication schemes to [`Auth`].
pub trait AuthRequirement {
    /// The requirement.
    const AUTH: Auth;
}

impl AuthRequirement for AccessToken {
    const AUTH: Auth = Auth::Required;
}
impl AuthRequirement for AccessTokenOptional {
    const AUTH: Auth = Auth::Optional;
}
impl AuthRequirement for AppserviceToken {
    const AUTH: Auth = Auth::Required;
}
/// Login and registration: Wardline has no application services, and a stale token sent with
/// a login must not stop it.
impl AuthRequirement for AppserviceTokenOptional {
    const AUTH: Auth = Auth::None;
}
/// Endpoints the spec leaves open (profiles): a closed organisation still wants to know who
/// asks, so a token is used if given and handlers may insist on one.
impl AuthRequirement for NoAccessToken {
    const AUTH: Auth = Auth::Optional;
}
impl AuthRequirement for NoAuthentication {
    const AUTH: Auth = Auth::None;
}

/// A parsed, authenticated Matrix request.
#[derive(Debug)]
pub struct Ruma<T> {
    /// The request, parsed by ruma.
    pub body: T,
    /// Who sent it, if it carried a valid token.
    pub caller: Option<Caller>,
    /// Where it came from.
    pub ip: Option<IpAddr>,
    /// Why an optional token was not accepted.
    token_error: bool,
    /// The body as sent (for things kept byte for byte, like filters).
    pub raw_body: Bytes,
    /// The request's method and path (what a UIA session is bound to).
    pub method: axum::http::Method,
    /// The request's path, without the query string.
    pub path: String,
    /// When it arrived, before it was authenticated or read (what a read receipt is ordered by).
    pub arrived: wardline_service::messaging::Arrival,
}

impl<T> Ruma<T> {
    /// The caller of an endpoint that requires a token.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().ok_or_else(|| {
            if self.token_error { ServiceError::UnknownToken.into() } else { ServiceError::MissingToken.into() }
        })
    }
}

impl<T> FromRequest<Services> for Ruma<T>
where
    T: IncomingRequest + Send + 'static,
    T::Authentication: AuthRequirement,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, services: &Services) -> Result<Self, Self::Rejection> {
        let arrived = services.arrival();
        let (mut parts, body) = req.into_parts();
        let mut path_args: Vec<String> = match RawPathParams::from_request_parts(&mut parts, services).await {
            Ok(params) => params.iter().map(|(_, v)| v.to_owned()).collect(),
            Err(_) => Vec::new(),
        };
        // Routes registered without their last segment (`/state/{type}/` or `/state/{type}`)
        // stand for an empty state key.
        let expected = T::PATH_BUILDER.all_paths().next().map_or(0, |p| p.matches('{').count());
        if path_args.len() + 1 == expected {
            path_args.push(String::new());
        }
        let ip = edge::client_ip(&parts.extensions);
        let probe = axum::http::Request::from_parts(parts, ());
        let token = ruma::api::auth_scheme::extract_bearer_or_query_token(&probe)
            .map_err(|_| ApiError::new(StatusCode::UNAUTHORIZED, "M_MISSING_TOKEN", "malformed access token"))?;
        let (parts, ()) = probe.into_parts();
        let auth = <T::Authentication as AuthRequirement>::AUTH;
        if auth != Auth::None && token.is_some() {
            edge::note_token(&parts.extensions);
        }
        let mut token_error = false;
        let caller = match (auth, token) {
            (Auth::None | Auth::Integration, _) | (Auth::Optional, None) => None,
            (Auth::Required, None) => return Err(ServiceError::MissingToken.into()),
            (Auth::Required, Some(t)) => Some(services.sessions.authenticate(&t, ip).await?),
            (Auth::Optional, Some(t)) => match services.sessions.authenticate(&t, ip).await {
                Ok(c) => Some(c),
                Err(ServiceError::UnknownToken | ServiceError::TokenExpired) => {
                    token_error = true;
                    None
                }
                Err(e) => return Err(e.into()),
            },
        };
        if let Some(c) = &caller {
            edge::note_caller(&parts.extensions, c);
            first_sign_in_of::<T>().check(c)?;
        }
        // The body is read only now, after the token was checked: an unauthenticated client
        // cannot make the server hold an upload-sized body.
        let upload = matches!(body_limit_of::<T>(), BodyLimit::Upload);
        let limit = if upload {
            usize::try_from(services.media.max_upload_bytes()).unwrap_or(usize::MAX)
        } else {
            services.config.max_request_bytes
        };
        let raw_body = read_body(&parts, body, limit).await?;
        let args: Vec<&str> = path_args.iter().map(String::as_str).collect();
        // An empty body on an endpoint whose body fields are all optional (`POST /join`, as
        // matrix-nio sends it) means `{}`.
        let parse_body: &[u8] =
            if raw_body.is_empty() && parts.method != axum::http::Method::GET { b"{}" } else { &raw_body };
        let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
        if !upload && method != axum::http::Method::GET {
            crate::guard::check_json(parse_body)?;
        }
        let http_req = axum::http::Request::from_parts(parts, parse_body);
        let body = crate::guard::guard_parse(|| T::try_from_http_request(http_req, &args))??;
        Ok(Self { body, caller, ip, token_error, raw_body, method, path, arrived })
    }
}

/// The answer to a body over `limit` bytes.
fn too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "M_TOO_LARGE", format!("request body over {limit} bytes"))
}

/// Reads a body of at most `limit` bytes. A declared length over the limit is refused before
/// anything is read; a body sent in chunks is refused as soon as it passes the limit. (The
/// server then lets the connection drain, so the client reads the answer.)
pub async fn read_body(
    parts: &axum::http::request::Parts,
    body: axum::body::Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| too_large(limit))?;
    crate::edge::note_body_read(&parts.extensions);
    Ok(bytes)
}

/// Turns a ruma response into an HTTP response.
pub fn reply<R: OutgoingResponse>(response: R) -> Result<Response, ApiError> {
    let http = response.try_into_http_response::<BytesMut>().map_err(|e| {
        tracing::error!(error = %e, "could not serialize a response");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "M_UNKNOWN", "internal server error")
    })?;
    Ok(http.map(|b| axum::body::Body::from(b.freeze())).into_response())
}
