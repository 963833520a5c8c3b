//! The one extractor every Matrix endpoint goes through, and the router helper that registers
//! an endpoint at every path in its ruma metadata.
//!
//! The extractor enforces the body limit, authenticates as the endpoint's metadata requires,
//! keeps users with a one-time password away from everything but changing it, and parses the
//! request with ruma.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, RawPathParams, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use bytes::{Bytes, BytesMut};
use ruma::api::auth_scheme::{
    AccessToken, AccessTokenOptional, AppserviceToken, AppserviceTokenOptional, NoAccessToken, NoAuthentication,
};
use ruma::api::path_builder::PathBuilder;
use ruma::api::{IncomingRequest, IncomingRequestExt, Metadata, OutgoingResponse, OutgoingResponseExt};
use wardline_service::{Caller, ServiceError, Services};

use crate::error::ApiError;

/// What an endpoint's metadata says about access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A token is required.
    Required,
    /// A token is used if given.
    Optional,
    /// No token is looked at.
    None,
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
}

impl<T> Ruma<T> {
    /// The caller of an endpoint that requires a token.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().ok_or_else(|| {
            if self.token_error { ServiceError::UnknownToken.into() } else { ServiceError::MissingToken.into() }
        })
    }
}

/// Paths a user with a one-time password may still use: changing it, signing out, and what a
/// client needs to find out that it must change it.
fn allowed_before_password_change(path: &str) -> bool {
    ["/account/password", "/logout", "/logout/all", "/account/whoami", "/capabilities", "/versions"]
        .iter()
        .any(|p| path.ends_with(p))
}

impl<T> FromRequest<Services> for Ruma<T>
where
    T: IncomingRequest + Send,
    T::Authentication: AuthRequirement,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, services: &Services) -> Result<Self, Self::Rejection> {
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
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let probe = axum::http::Request::from_parts(parts, ());
        let token = ruma::api::auth_scheme::extract_bearer_or_query_token(&probe)
            .map_err(|_| ApiError::new(StatusCode::UNAUTHORIZED, "M_MISSING_TOKEN", "malformed access token"))?;
        let (parts, ()) = probe.into_parts();
        let mut token_error = false;
        let caller = match (<T::Authentication as AuthRequirement>::AUTH, token) {
            (Auth::None, _) | (Auth::Optional, None) => None,
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
        if let Some(c) = &caller
            && !allowed_before_password_change(parts.uri.path())
        {
            if c.must_change_password {
                return Err(ServiceError::PasswordChangeRequired.into());
            }
            if c.must_enrol_mfa {
                return Err(ServiceError::MfaEnrolmentRequired.into());
            }
        }
        // The body is read only now, after the token was checked: an unauthenticated client
        // cannot make the server hold an upload-sized body.
        // Uploads (the only requests under /_matrix/media/ with a body) may be as large as a file.
        let upload = parts.uri.path().starts_with("/_matrix/media/") && parts.method != axum::http::Method::GET;
        let limit = if upload {
            usize::try_from(services.media.max_upload_bytes()).unwrap_or(usize::MAX)
        } else {
            services.config.max_request_bytes
        };
        let raw_body = axum::body::to_bytes(body, limit).await.map_err(|_| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "M_TOO_LARGE", format!("request body over {limit} bytes"))
        })?;
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
        Ok(Self { body, caller, ip, token_error, raw_body, method, path })
    }
}

/// Turns a ruma response into an HTTP response.
pub fn reply<R: OutgoingResponse>(response: R) -> Result<Response, ApiError> {
    let http = response.try_into_http_response::<BytesMut>().map_err(|e| {
        tracing::error!(error = %e, "could not serialize a response");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "M_UNKNOWN", "internal server error")
    })?;
    Ok(http.map(|b| axum::body::Body::from(b.freeze())).into_response())
}

/// Registers Matrix endpoints from their ruma metadata.
pub trait RouterExt {
    /// Routes every path of `T` to `handler`.
    fn ruma<T, H, F>(self, handler: H) -> Self
    where
        T: IncomingRequest + Send + 'static,
        T::Authentication: AuthRequirement,
        H: Fn(Services, Ruma<T>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, ApiError>> + Send + 'static;

    /// Like [`RouterExt::ruma`], and also at each path without its last segment (a state key),
    /// with or without the trailing `/`: the state key is then empty.
    fn ruma_with_empty_last<T, H, F>(self, handler: H) -> Self
    where
        T: IncomingRequest + Send + 'static,
        T::Authentication: AuthRequirement,
        H: Fn(Services, Ruma<T>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, ApiError>> + Send + 'static;
}

fn method_filter<T: Metadata>() -> MethodFilter {
    MethodFilter::try_from(T::METHOD).unwrap_or(MethodFilter::GET)
}

impl RouterExt for Router<Services> {
    fn ruma<T, H, F>(self, handler: H) -> Self
    where
        T: IncomingRequest + Send + 'static,
        T::Authentication: AuthRequirement,
        H: Fn(Services, Ruma<T>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        let mut router = self;
        for path in T::PATH_BUILDER.all_paths() {
            let h = handler.clone();
            router =
                router.route(path, on(method_filter::<T>(), move |State(s): State<Services>, req: Ruma<T>| h(s, req)));
        }
        router
    }

    fn ruma_with_empty_last<T, H, F>(self, handler: H) -> Self
    where
        T: IncomingRequest + Send + 'static,
        T::Authentication: AuthRequirement,
        H: Fn(Services, Ruma<T>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        let mut router = self.ruma(handler.clone());
        for path in T::PATH_BUILDER.all_paths() {
            let Some((head, _)) = path.rsplit_once('/') else { continue };
            for short in [format!("{head}/"), head.to_owned()] {
                let h = handler.clone();
                router = router
                    .route(&short, on(method_filter::<T>(), move |State(s): State<Services>, req: Ruma<T>| h(s, req)));
            }
        }
        router
    }
}
