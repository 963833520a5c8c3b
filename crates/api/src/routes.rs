//! What each endpoint allows, as data attached to the endpoint where it is registered, and the
//! table of every route with those rules (which a test walks).
//!
//! **Invariant:** whether a session that has not finished its first sign-in (a one-time password
//! still to change, a required second factor still to set up) may use an endpoint is decided by
//! the endpoint (its ruma request type, or what its registration says), never by the text of
//! the request's path. Endpoints not listed here need a finished sign-in.

use std::any::TypeId;
use std::future::Future;

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::handler::Handler;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{MethodFilter, on};
use ruma::api::client::{account, discovery, media, session};
use ruma::api::path_builder::PathBuilder;
use ruma::api::{IncomingRequest, Metadata};
use wardline_service::{Caller, ServiceError, Services};
use wardline_types::integration::IntegrationScope;

use crate::error::ApiError;
use crate::ruma_wrapper::{Auth, AuthRequirement, Ruma};

/// What a session that has not finished its first sign-in may do with an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstSignIn {
    /// Nothing: the endpoint needs a finished sign-in (the default).
    Refused,
    /// Allowed before the one-time password is changed and before a second factor is set up:
    /// changing the password, signing out, and what a client needs to learn that it must.
    Allowed,
    /// Allowed once the password is changed, before a required second factor is set up:
    /// setting one up.
    Enrolment,
}

impl FirstSignIn {
    /// Refuses `caller` if their sign-in is unfinished in a way this endpoint does not allow.
    pub fn check(self, caller: &Caller) -> Result<(), ServiceError> {
        if caller.must_change_password && self != Self::Allowed {
            return Err(ServiceError::PasswordChangeRequired);
        }
        if caller.must_enrol_mfa && self == Self::Refused {
            return Err(ServiceError::MfaEnrolmentRequired);
        }
        Ok(())
    }
}

/// The Matrix endpoints a user may use before finishing their first sign-in, by request type.
fn open_before_first_sign_in() -> [TypeId; 7] {
    [
        TypeId::of::<account::change_password::v3::Request>(),
        TypeId::of::<session::logout::v3::Request>(),
        TypeId::of::<session::logout_all::v3::Request>(),
        TypeId::of::<session::refresh_token::v3::Request>(),
        TypeId::of::<account::whoami::v3::Request>(),
        TypeId::of::<discovery::get_capabilities::v3::Request>(),
        TypeId::of::<discovery::get_supported_versions::Request>(),
    ]
}

/// What a Matrix endpoint allows an unfinished sign-in, from its request type.
#[must_use]
pub fn first_sign_in_of<T: 'static>() -> FirstSignIn {
    if open_before_first_sign_in().contains(&TypeId::of::<T>()) { FirstSignIn::Allowed } else { FirstSignIn::Refused }
}

/// How large an endpoint's body may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// `max_request_bytes`.
    Request,
    /// A file: `media.max_upload_bytes`.
    Upload,
    /// An XML document (WCTP), not JSON: at most 64 KiB, answered in XML.
    Xml,
}

/// The body limit of a Matrix endpoint, from its request type.
#[must_use]
pub fn body_limit_of<T: 'static>() -> BodyLimit {
    let uploads =
        [TypeId::of::<media::create_content::v3::Request>(), TypeId::of::<media::create_content_async::v3::Request>()];
    if uploads.contains(&TypeId::of::<T>()) { BodyLimit::Upload } else { BodyLimit::Request }
}

/// An endpoint's name (for the audit trail) and rules, attached to each request routed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// A stable name: the ruma request type's module path, or the name given at registration.
    pub name: &'static str,
    /// What an unfinished sign-in may do.
    pub first_sign_in: FirstSignIn,
    /// Whether it looks at access tokens.
    pub auth: Auth,
    /// How large its body may be; [`BodyLimit::Upload`] marks a body of raw file bytes, not JSON.
    pub body_limit: BodyLimit,
    /// For an endpoint of the integration API ([`Auth::Integration`]), the scope a hospital
    /// system's key needs (`None`: any key that works).
    pub scope: Option<IntegrationScope>,
}

/// The name of a ruma endpoint: its request type's path without the crate and `Request`
/// (`message::send_message_event::v3`).
fn ruma_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let trimmed = full.strip_suffix("::Request").unwrap_or(full);
    trimmed.split_once("::").map_or(trimmed, |(_, rest)| rest)
}

/// One route: a method at a path, and its endpoint's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The HTTP method.
    pub method: Method,
    /// The path, with `{name}` for each parameter.
    pub path: String,
    /// The endpoint.
    pub endpoint: Endpoint,
}

/// A router that records every route it registers, with its endpoint's rules.
#[derive(Debug, Default)]
#[must_use]
pub struct Routes {
    router: Router<Services>,
    table: Vec<RouteInfo>,
}

fn method_filter<T: Metadata>() -> MethodFilter {
    MethodFilter::try_from(T::METHOD).unwrap_or(MethodFilter::GET)
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn ruma_at<T, H, F>(mut self, path: &str, handler: H) -> Self
    where
        T: IncomingRequest + Send + 'static,
        T::Authentication: AuthRequirement,
        H: Fn(Services, Ruma<T>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        let endpoint = Endpoint {
            name: ruma_name::<T>(),
            first_sign_in: first_sign_in_of::<T>(),
            auth: <T::Authentication as AuthRequirement>::AUTH,
            body_limit: body_limit_of::<T>(),
            scope: None,
        };
        self.table.push(RouteInfo { method: T::METHOD, path: path.to_owned(), endpoint });
        let route = on(method_filter::<T>(), move |State(s): State<Services>, req: Ruma<T>| handler(s, req));
        self.router = self.router.route(path, route.layer(Extension(endpoint)));
        self
    }

    /// Routes every path of `T` (from its ruma metadata) to `handler`.
    pub fn ruma<T, H, F>(self, handler: H) -> Self
    where
        T: IncomingRequest + Send + 'static,
        T::Authentication: AuthRequirement,
        H: Fn(Services, Ruma<T>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        T::PATH_BUILDER.all_paths().fold(self, |routes, path| routes.ruma_at::<T, _, _>(path, handler.clone()))
    }

    /// Like [`Routes::ruma`], and also at each path without its last segment (a state key),
    /// with or without the trailing `/`: the state key is then empty.
    pub fn ruma_with_empty_last<T, H, F>(self, handler: H) -> Self
    where
        T: IncomingRequest + Send + 'static,
        T::Authentication: AuthRequirement,
        H: Fn(Services, Ruma<T>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        let mut routes = self.ruma(handler.clone());
        for path in T::PATH_BUILDER.all_paths() {
            let Some((head, _)) = path.rsplit_once('/') else { continue };
            for short in [format!("{head}/"), head.to_owned()] {
                routes = routes.ruma_at::<T, _, _>(&short, handler.clone());
            }
        }
        routes
    }

    /// Routes one of Wardline's own endpoints (not a Matrix one), authenticated by its
    /// extractor ([`crate::staff::Staff`], [`crate::admin::Admin`]) under the rules given here.
    pub fn wardline<H, X>(
        mut self,
        method: Method,
        path: &str,
        name: &'static str,
        first: FirstSignIn,
        handler: H,
    ) -> Self
    where
        H: Handler<X, Services>,
        X: 'static,
    {
        let endpoint =
            Endpoint { name, first_sign_in: first, auth: Auth::Required, body_limit: BodyLimit::Request, scope: None };
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        self.table.push(RouteInfo { method, path: path.to_owned(), endpoint });
        // Every body is checked as JSON before the endpoint runs, whether or not it reads one.
        let route: axum::routing::MethodRouter<Services> =
            on(filter, handler).layer(axum::middleware::from_fn(crate::guard::json_body));
        self.router = self.router.route(path, route.layer(Extension(endpoint)));
        self
    }

    /// Routes an endpoint of the integration API: authenticated by a hospital system's API key
    /// (the extractor [`crate::integration::IntegrationAuth`]), never an access token, which
    /// must carry `scope` (`None`: any key that works). Staff sign-ins have no say in it (it
    /// takes no access token), and its JSON body is checked as Wardline's other endpoints' are.
    pub fn integration<H, X>(
        mut self,
        method: Method,
        path: &str,
        name: &'static str,
        scope: Option<IntegrationScope>,
        handler: H,
    ) -> Self
    where
        H: Handler<X, Services>,
        X: 'static,
    {
        let endpoint = Endpoint {
            name,
            first_sign_in: FirstSignIn::Refused,
            auth: Auth::Integration,
            body_limit: BodyLimit::Request,
            scope,
        };
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        self.table.push(RouteInfo { method, path: path.to_owned(), endpoint });
        let route: axum::routing::MethodRouter<Services> =
            on(filter, handler).layer(axum::middleware::from_fn(crate::guard::json_body));
        self.router = self.router.route(path, route.layer(Extension(endpoint)));
        self
    }

    /// Routes an endpoint of the integration API whose body is an XML document, not JSON (WCTP):
    /// no JSON check; the handler reads the body and authenticates the caller itself (the key
    /// may be in the document), for `scope`.
    pub fn integration_xml<H, X>(
        mut self,
        path: &str,
        name: &'static str,
        scope: Option<IntegrationScope>,
        handler: H,
    ) -> Self
    where
        H: Handler<X, Services>,
        X: 'static,
    {
        let endpoint = Endpoint {
            name,
            first_sign_in: FirstSignIn::Refused,
            auth: Auth::Integration,
            body_limit: BodyLimit::Xml,
            scope,
        };
        self.table.push(RouteInfo { method: Method::POST, path: path.to_owned(), endpoint });
        let route: axum::routing::MethodRouter<Services> = axum::routing::post(handler);
        self.router = self.router.route(path, route.layer(Extension(endpoint)));
        self
    }

    /// Routes a `GET` endpoint that takes no token and no body (the health checks): it reads
    /// nothing from the request, so nothing in it is checked.
    pub fn probe<H, X>(mut self, path: &str, name: &'static str, handler: H) -> Self
    where
        H: Handler<X, Services>,
        X: 'static,
    {
        let endpoint = Endpoint {
            name,
            first_sign_in: FirstSignIn::Refused,
            auth: Auth::None,
            body_limit: BodyLimit::Request,
            scope: None,
        };
        self.table.push(RouteInfo { method: Method::GET, path: path.to_owned(), endpoint });
        self.router = self.router.route(path, on(MethodFilter::GET, handler).layer(Extension(endpoint)));
        self
    }

    /// Adds another set of routes.
    pub fn merge(mut self, other: Self) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// Every route registered, with its endpoint's rules.
    #[must_use]
    pub fn table(&self) -> &[RouteInfo] {
        &self.table
    }

    /// The router.
    pub fn into_router(self) -> Router<Services> {
        self.router
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_belong_to_the_request_type() {
        assert_eq!(first_sign_in_of::<account::change_password::v3::Request>(), FirstSignIn::Allowed);
        assert_eq!(
            first_sign_in_of::<ruma::api::client::message::send_message_event::v3::Request>(),
            FirstSignIn::Refused
        );
        assert_eq!(
            first_sign_in_of::<ruma::api::client::config::set_global_account_data::v3::Request>(),
            FirstSignIn::Refused
        );
        assert_eq!(body_limit_of::<media::create_content::v3::Request>(), BodyLimit::Upload);
        assert_eq!(body_limit_of::<ruma::api::client::filter::create_filter::v3::Request>(), BodyLimit::Request);
        assert_eq!(
            ruma_name::<ruma::api::client::message::send_message_event::v3::Request>(),
            "message::send_message_event::v3"
        );
    }

    #[test]
    fn unfinished_sign_ins_are_held_to_their_step() {
        let caller = |pw: bool, mfa: bool| Caller {
            user_id: ruma::owned_user_id!("@a:localhost"),
            device_id: "D".into(),
            is_admin: true,
            must_change_password: pw,
            token_hash: String::new(),
            ip: None,
            must_enrol_mfa: mfa,
            signed_in_at: wardline_types::Timestamp(0),
        };
        let err = |r: Result<(), ServiceError>| r.err().map(|e| e.to_string());
        for (pw, mfa) in [(true, false), (true, true)] {
            assert!(FirstSignIn::Allowed.check(&caller(pw, mfa)).is_ok());
            assert!(matches!(
                FirstSignIn::Enrolment.check(&caller(pw, mfa)),
                Err(ServiceError::PasswordChangeRequired)
            ));
            assert!(matches!(FirstSignIn::Refused.check(&caller(pw, mfa)), Err(ServiceError::PasswordChangeRequired)));
        }
        assert!(FirstSignIn::Enrolment.check(&caller(false, true)).is_ok());
        assert!(matches!(FirstSignIn::Refused.check(&caller(false, true)), Err(ServiceError::MfaEnrolmentRequired)));
        assert_eq!(err(FirstSignIn::Refused.check(&caller(false, false))), None);
    }
}
