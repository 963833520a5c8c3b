//! Login, logout, whoami, password changes, and the refusal to register.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ruma::api::client::account::{change_password, register, whoami};
use ruma::api::client::session::{get_login_types, login, logout, logout_all, refresh_token};
use ruma::api::client::uiaa::{AuthData, UserIdentifier};
use serde_json::json;
use wardline_service::Services;
use wardline_service::audit::By;
use wardline_service::sessions::{LoginOutcome, LoginRequest, SecondFactor};
use wardline_service::uia::{PASSWORD_STAGE, RECOVERY_STAGE, TOTP_STAGE, UiaAuth, UiaOperation};

use crate::error::ApiError;
use crate::ruma_wrapper::{Ruma, reply};

/// `GET /login`: password login only.
pub async fn login_types(_: Services, _: Ruma<get_login_types::v3::Request>) -> Result<Response, ApiError> {
    Ok(Json(json!({ "flows": [{ "type": PASSWORD_STAGE }, { "type": TOTP_STAGE }, { "type": RECOVERY_STAGE }] }))
        .into_response())
}

/// The second step of a sign-in with a second factor:
/// `{"type": "org.wardline.login.totp", "session": "...", "code": "123456"}`.
async fn second_factor(s: &Services, req: &Ruma<login::v3::Request>, kind: SecondFactor) -> Result<Response, ApiError> {
    let body: serde_json::Value =
        serde_json::from_slice(&req.raw_body).map_err(|e| ApiError::bad_json(e.to_string()))?;
    let field = |name: &str| body.get(name).and_then(serde_json::Value::as_str).map(ToOwned::to_owned);
    let session = field("session").ok_or_else(|| ApiError::bad_json("session is required"))?;
    let code = field("code").ok_or_else(|| ApiError::bad_json("code is required"))?;
    let outcome = s.sessions.login_second_factor(&session, kind, &code, req.ip).await?;
    Ok(Json(login_body(s, &outcome)).into_response())
}

fn login_body(s: &Services, outcome: &LoginOutcome) -> serde_json::Value {
    let base = crate::client::discovery::base_url(s);
    let mut body = json!({
        "user_id": outcome.user_id,
        "access_token": outcome.access_token,
        "device_id": outcome.device_id,
        "home_server": s.server_name,
        "well_known": { "m.homeserver": { "base_url": base } },
    });
    if outcome.must_change_password {
        body["org.wardline.password_change_required"] = json!(true);
    }
    if let (Some(refresh), Some(ms)) = (&outcome.refresh_token, outcome.expires_in_ms) {
        body["refresh_token"] = json!(refresh);
        body["expires_in_ms"] = json!(ms);
    }
    body
}

/// `POST /login`
pub async fn login(s: Services, req: Ruma<login::v3::Request>) -> Result<Response, ApiError> {
    let pw = match &req.body.login_info {
        login::v3::LoginInfo::Password(pw) => pw,
        other if other.login_type() == TOTP_STAGE => return second_factor(&s, &req, SecondFactor::Totp).await,
        other if other.login_type() == RECOVERY_STAGE => {
            return second_factor(&s, &req, SecondFactor::RecoveryCode).await;
        }
        _ => return Err(ApiError::new(StatusCode::BAD_REQUEST, "M_UNKNOWN", "only m.login.password is offered")),
    };
    #[allow(deprecated)]
    let legacy_user = pw.user.clone();
    let user = match &pw.identifier {
        Some(UserIdentifier::Matrix(m)) => m.user.clone(),
        Some(_) => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "M_UNKNOWN", "only m.id.user identifiers are offered"));
        }
        None => legacy_user.ok_or_else(|| ApiError::bad_json("identifier is required"))?,
    };
    let outcome = s
        .sessions
        .login(LoginRequest {
            user,
            password: pw.password.clone(),
            device_id: req.body.device_id.clone(),
            device_name: req.body.initial_device_display_name.clone(),
            ip: req.ip,
            refresh_token: req.body.refresh_token,
        })
        .await?;
    Ok(Json(login_body(&s, &outcome)).into_response())
}

/// `POST /refresh`: a new access token and refresh token for an old refresh token.
pub async fn refresh(s: Services, req: Ruma<refresh_token::v3::Request>) -> Result<Response, ApiError> {
    let outcome = s.sessions.refresh(&req.body.refresh_token).await?;
    Ok(Json(json!({
        "access_token": outcome.access_token,
        "refresh_token": outcome.refresh_token,
        "expires_in_ms": outcome.expires_in_ms,
    }))
    .into_response())
}

/// `POST /logout`
pub async fn logout(s: Services, req: Ruma<logout::v3::Request>) -> Result<Response, ApiError> {
    s.sessions.logout(req.caller()?).await?;
    reply(logout::v3::Response::new())
}

/// `POST /logout/all`
pub async fn logout_all(s: Services, req: Ruma<logout_all::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    s.sessions.logout_all(By::Staff(&caller.actor()), &caller.user_id, None).await?;
    reply(logout_all::v3::Response::new())
}

/// `GET /account/whoami`, with `org.wardline.admin`: whether the caller is an administrator (so
/// a client offers the administration screens; every administration call is checked anyway).
pub async fn whoami(_: Services, req: Ruma<whoami::v3::Request>) -> Result<Response, ApiError> {
    let c = req.caller()?;
    Ok(Json(json!({
        "user_id": c.user_id,
        "device_id": c.device_id,
        "is_guest": false,
        "org.wardline.admin": c.is_admin,
    }))
    .into_response())
}

/// `POST /register`: accounts are created by the organisation, never by self-registration.
pub async fn register(_: Services, _: Ruma<register::v3::Request>) -> Result<Response, ApiError> {
    Err(ApiError::forbidden("registration is disabled: accounts are created by your organisation's administrators"))
}

/// Converts ruma's UIA `auth` object.
pub fn uia_auth(auth: Option<&AuthData>) -> Option<UiaAuth> {
    let auth = auth?;
    Some(match auth {
        AuthData::Password(p) => UiaAuth {
            kind: "m.login.password".into(),
            user: match &p.identifier {
                UserIdentifier::Matrix(m) => Some(m.user.clone()),
                _ => None,
            },
            password: Some(p.password.clone()),
            session: p.session.clone(),
        },
        other => UiaAuth {
            kind: other.auth_type().map(|t| t.to_string()).unwrap_or_default(),
            session: other.session().map(ToOwned::to_owned),
            ..UiaAuth::default()
        },
    })
}

/// What a UIA session for this request is bound to: its method, path and body.
pub fn uia_operation<T>(req: &Ruma<T>) -> UiaOperation {
    UiaOperation::new(req.method.as_str(), &req.path, &req.raw_body)
}

/// `POST /account/password` (other sessions end unless the client asks to keep them, which is
/// the Matrix default).
pub async fn change_password(s: Services, req: Ruma<change_password::v3::Request>) -> Result<Response, ApiError> {
    let caller = req.caller()?;
    s.sessions.require_password(caller, uia_auth(req.body.auth.as_ref()), &uia_operation(&req)).await?;
    s.sessions.change_password(caller, &req.body.new_password, req.body.logout_devices).await?;
    reply(change_password::v3::Response::new())
}
