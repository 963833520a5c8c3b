//! The one table that turns errors into HTTP statuses and Matrix error codes.
//!
//! **Invariant:** internal details (database messages, paths) never reach a client: storage and
//! internal errors are logged here and answered with a generic `M_UNKNOWN`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ruma::api::error::{DeserializationError, FromHttpRequestError};
use serde_json::{Map, Value, json};
use wardline_service::ServiceError;
use wardline_service::uia::{PASSWORD_STAGE, RECOVERY_STAGE, TOTP_STAGE};

/// An error answered to a client as `{"errcode": ..., "error": ...}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    errcode: &'static str,
    message: String,
    extra: Map<String, Value>,
}

impl ApiError {
    /// An error with a status and Matrix code.
    pub fn new(status: StatusCode, errcode: &'static str, message: impl Into<String>) -> Self {
        Self { status, errcode, message: message.into(), extra: Map::new() }
    }

    /// 400 `M_BAD_JSON`.
    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "M_BAD_JSON", message)
    }

    /// 400 `M_NOT_JSON`: the body is not JSON at all.
    pub fn not_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "M_NOT_JSON", message)
    }

    /// 400 `M_INVALID_PARAM`.
    pub fn invalid_param(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", message)
    }

    /// 403 `M_FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "M_FORBIDDEN", message)
    }

    /// 404 `M_NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "M_NOT_FOUND", message)
    }

    /// 404 `M_UNRECOGNIZED` for an unknown endpoint.
    pub fn unrecognized() -> Self {
        Self::new(StatusCode::NOT_FOUND, "M_UNRECOGNIZED", "unrecognized request")
    }

    /// Adds a field beside `errcode` and `error`.
    #[must_use]
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// The Matrix error code.
    #[must_use]
    pub fn errcode(&self) -> &'static str {
        self.errcode
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// A JSON request body read into `T`: `M_NOT_JSON` if it is not JSON, `M_BAD_JSON` (with what is
/// wrong) if it is JSON of another shape.
///
/// # Errors
/// As above.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Err(e) => Err(ApiError::not_json(e.to_string())),
        Ok(v) => serde_json::from_value(v).map_err(|e| ApiError::bad_json(e.to_string())),
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            ServiceError::MissingToken => Self::new(S::UNAUTHORIZED, "M_MISSING_TOKEN", msg),
            ServiceError::UnknownToken => {
                Self::new(S::UNAUTHORIZED, "M_UNKNOWN_TOKEN", msg).with("soft_logout", json!(false))
            }
            ServiceError::TokenExpired => {
                Self::new(S::UNAUTHORIZED, "M_UNKNOWN_TOKEN", msg).with("soft_logout", json!(true))
            }
            ServiceError::InvalidCredentials => {
                // One answer for unknown user and wrong password.
                Self::new(S::FORBIDDEN, "M_FORBIDDEN", "invalid username or password")
            }
            // Given only after the right password, so it tells nothing to anyone without it.
            ServiceError::Deactivated => Self::new(
                S::FORBIDDEN,
                "M_USER_DEACTIVATED",
                "this account has been deactivated: ask your administrator",
            ),
            ServiceError::WrongSecondFactor => {
                Self::new(S::FORBIDDEN, "M_FORBIDDEN", msg).with("org.wardline.wrong_code", json!(true))
            }
            ServiceError::SessionEndedDeactivated => Self::new(S::UNAUTHORIZED, "M_UNKNOWN_TOKEN", msg)
                .with("soft_logout", json!(false))
                .with("org.wardline.deactivated", json!(true)),
            ServiceError::Forbidden(_) => Self::new(S::FORBIDDEN, "M_FORBIDDEN", msg),
            ServiceError::PasswordChangeRequired => {
                Self::new(S::FORBIDDEN, "M_FORBIDDEN", msg).with("org.wardline.password_change_required", json!(true))
            }
            ServiceError::MfaEnrolmentRequired => {
                Self::new(S::FORBIDDEN, "M_FORBIDDEN", msg).with("org.wardline.mfa_enrolment_required", json!(true))
            }
            ServiceError::MfaRequired { session } => Self::new(S::UNAUTHORIZED, "ORG.WARDLINE.MFA_REQUIRED", msg)
                .with("session", json!(session))
                .with(
                    "flows",
                    json!([
                        { "stages": [PASSWORD_STAGE, TOTP_STAGE] },
                        { "stages": [PASSWORD_STAGE, RECOVERY_STAGE] }
                    ]),
                )
                .with("completed", json!([PASSWORD_STAGE]))
                .with("params", json!({})),
            ServiceError::NotFound(_) => Self::new(S::NOT_FOUND, "M_NOT_FOUND", msg),
            ServiceError::InvalidParam(_) => Self::new(S::BAD_REQUEST, "M_INVALID_PARAM", msg),
            ServiceError::BadJson(_) => Self::new(S::BAD_REQUEST, "M_BAD_JSON", msg),
            ServiceError::DuplicateAnnotation(_) => Self::new(S::BAD_REQUEST, "M_DUPLICATE_ANNOTATION", msg),
            ServiceError::InvalidThreadRoot(_) => Self::new(S::BAD_REQUEST, "M_UNKNOWN", msg),
            ServiceError::PushRule(_) => Self::new(S::BAD_REQUEST, "M_UNKNOWN", msg),
            ServiceError::ProtectedPushRule(_) => Self::new(S::BAD_REQUEST, "ORG.WARDLINE.PROTECTED_RULE", msg),
            // A cap, not a rate limit: 400, without `retry_after_ms`, so clients do not retry.
            ServiceError::LimitExceeded(_) => Self::new(S::BAD_REQUEST, "M_LIMIT_EXCEEDED", msg),
            ServiceError::RateLimited { retry_after_ms } => {
                Self::new(S::TOO_MANY_REQUESTS, "M_LIMIT_EXCEEDED", msg).with("retry_after_ms", json!(retry_after_ms))
            }
            ServiceError::UserInUse => Self::new(S::BAD_REQUEST, "M_USER_IN_USE", msg),
            ServiceError::InvalidUsername(_) => Self::new(S::BAD_REQUEST, "M_INVALID_USERNAME", msg),
            ServiceError::WeakPassword(_) => Self::new(S::BAD_REQUEST, "M_WEAK_PASSWORD", msg),
            ServiceError::OutsideOrganisation(_) => Self::new(S::FORBIDDEN, "M_FORBIDDEN", msg),
            ServiceError::UnsupportedRoomVersion => Self::new(S::BAD_REQUEST, "M_UNSUPPORTED_ROOM_VERSION", msg),
            ServiceError::AuthRequired(c) => {
                let mut err = Self::new(S::UNAUTHORIZED, "M_FORBIDDEN", c.error.clone().unwrap_or_default())
                    .with("session", json!(c.session))
                    .with("flows", json!([{ "stages": [PASSWORD_STAGE] }]))
                    .with("params", json!({}))
                    .with("completed", json!(c.completed));
                if c.error.is_none() {
                    // A first challenge is not an error: only the UIA body.
                    err.errcode = "";
                }
                err
            }
            ServiceError::NotEligible(_) => Self::new(S::FORBIDDEN, "ORG.WARDLINE.NOT_ELIGIBLE", msg),
            ServiceError::SuccessorRequired(_) => Self::new(S::CONFLICT, "ORG.WARDLINE.SUCCESSOR_REQUIRED", msg),
            ServiceError::RoleConflict(_) => Self::new(S::CONFLICT, "ORG.WARDLINE.ROLE_CONFLICT", msg),
            ServiceError::CoverOnDnd(_) => Self::new(S::CONFLICT, "ORG.WARDLINE.COVER_ON_DND", msg),
            ServiceError::IntegrationConflict(_) => Self::new(S::CONFLICT, "ORG.WARDLINE.INTEGRATION_CONFLICT", msg),
            ServiceError::AlarmEnded(_) => Self::new(S::CONFLICT, "ORG.WARDLINE.ALARM_ENDED", msg),
            ServiceError::RuleConflict(_) => Self::new(S::CONFLICT, "ORG.WARDLINE.RULE_CONFLICT", msg),
            ServiceError::NoPatient(_) => Self::new(S::CONFLICT, "ORG.WARDLINE.NO_PATIENT", msg),
            ServiceError::SourceIdReused(_) => Self::new(S::CONFLICT, "ORG.WARDLINE.SOURCE_ID_REUSED", msg),
            ServiceError::HostNotAllowed(_) => Self::new(S::BAD_REQUEST, "ORG.WARDLINE.HOST_NOT_ALLOWED", msg),
            ServiceError::Epr(e) => {
                use wardline_service::patients::EprError as E;
                match e {
                    E::NotConfigured => Self::new(S::NOT_FOUND, "ORG.WARDLINE.NO_EPR", msg),
                    E::Unavailable(_) | E::BadAnswer(_) => {
                        Self::new(S::BAD_GATEWAY, "ORG.WARDLINE.EPR_UNAVAILABLE", msg)
                    }
                    E::Credentials(_) => Self::new(S::BAD_GATEWAY, "ORG.WARDLINE.EPR_CREDENTIALS", msg),
                    E::Refused { .. } => Self::new(S::BAD_GATEWAY, "ORG.WARDLINE.EPR_REFUSED", msg),
                }
            }
            ServiceError::TooLarge(_) => Self::new(S::PAYLOAD_TOO_LARGE, "M_TOO_LARGE", msg),
            ServiceError::NotYetUploaded => Self::new(S::GATEWAY_TIMEOUT, "M_NOT_YET_UPLOADED", msg),
            ServiceError::CannotOverwriteMedia => Self::new(S::CONFLICT, "M_CANNOT_OVERWRITE_MEDIA", msg),
            ServiceError::Store(inner) => {
                tracing::error!(error = %inner, "storage failure");
                Self::new(S::INTERNAL_SERVER_ERROR, "M_UNKNOWN", "internal server error")
            }
            ServiceError::Internal(inner) => {
                tracing::error!(error = %inner, "internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "M_UNKNOWN", "internal server error")
            }
            ServiceError::AuditUnavailable { reason } => {
                tracing::error!(error = %reason, "refused an action because the audit trail cannot be written");
                Self::new(S::SERVICE_UNAVAILABLE, "M_UNKNOWN", msg)
            }
        }
    }
}

impl From<FromHttpRequestError> for ApiError {
    fn from(e: FromHttpRequestError) -> Self {
        match e {
            FromHttpRequestError::MethodMismatch { .. } => {
                Self::new(StatusCode::METHOD_NOT_ALLOWED, "M_UNRECOGNIZED", "method not allowed")
            }
            FromHttpRequestError::Deserialization(d) => match d {
                DeserializationError::Json(j) if j.is_syntax() || j.is_eof() => {
                    Self::not_json(format!("request body is not valid JSON: {j}"))
                }
                DeserializationError::Json(j) => Self::bad_json(format!("invalid request body: {j}")),
                DeserializationError::Query(q) => Self::invalid_param(format!("invalid query parameter: {q}")),
                DeserializationError::Ident(i) => Self::invalid_param(format!("invalid identifier: {i}")),
                other => Self::invalid_param(other.to_string()),
            },
            _ => Self::invalid_param("invalid request"),
        }
    }
}

/// What an error response said, attached to it for the edge's audit of refusals
/// ([`crate::edge`]).
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The Matrix error code.
    pub errcode: &'static str,
    /// The message the client got.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let refusal = Refusal { errcode: self.errcode, message: self.message.clone() };
        let mut body = self.extra;
        if !self.errcode.is_empty() {
            body.insert("errcode".into(), json!(self.errcode));
            body.insert("error".into(), json!(self.message));
        }
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        response.extensions_mut().insert(refusal);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_details_never_reach_the_client() {
        let e: ApiError = ServiceError::Store(wardline_store::StoreError::Backend("disk /var/x full".into())).into();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.errcode(), "M_UNKNOWN");
        assert!(!e.message.contains("/var/x"));
    }

    #[test]
    fn rate_limits_carry_retry_after() {
        let e: ApiError = ServiceError::RateLimited { retry_after_ms: 1500 }.into();
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.extra.get("retry_after_ms"), Some(&json!(1500)));
    }

    #[test]
    fn a_cap_is_not_a_rate_limit() {
        let e: ApiError = ServiceError::LimitExceeded("you have 100 push rules".into()).into();
        assert_eq!((e.status(), e.errcode()), (StatusCode::BAD_REQUEST, "M_LIMIT_EXCEEDED"));
        assert!(e.extra.get("retry_after_ms").is_none(), "waiting does not help");
    }

    #[test]
    fn an_unwritable_audit_trail_is_a_503_without_details() {
        let e: ApiError = ServiceError::AuditUnavailable { reason: "disk /var/x full".into() }.into();
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!e.message.contains("/var/x") && e.message.contains("audit trail"), "{}", e.message);
    }

    #[test]
    fn wrong_password_and_unknown_user_look_the_same() {
        // Both are `InvalidCredentials`: the service never tells them apart.
        let a: ApiError = ServiceError::InvalidCredentials.into();
        assert_eq!(
            (a.status, a.errcode, a.message.as_str()),
            (StatusCode::FORBIDDEN, "M_FORBIDDEN", "invalid username or password")
        );
    }

    #[test]
    fn each_sign_in_refusal_says_what_it_is() {
        let deactivated: ApiError = ServiceError::Deactivated.into();
        assert_eq!((deactivated.status, deactivated.errcode), (StatusCode::FORBIDDEN, "M_USER_DEACTIVATED"));
        assert!(deactivated.message.contains("deactivated"));
        let code: ApiError = ServiceError::WrongSecondFactor.into();
        assert!(code.message.contains("code") && !code.message.contains("password"), "{}", code.message);
        assert_eq!(code.extra.get("org.wardline.wrong_code"), Some(&json!(true)));
        let ended: ApiError = ServiceError::SessionEndedDeactivated.into();
        assert_eq!((ended.status, ended.errcode), (StatusCode::UNAUTHORIZED, "M_UNKNOWN_TOKEN"));
        assert_eq!(ended.extra.get("org.wardline.deactivated"), Some(&json!(true)));
        assert!(ended.message.contains("deactivated"));
    }
}
