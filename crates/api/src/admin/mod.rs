//! The administration API, `/_wardline/admin/v1/`, for administrators only. The command line
//! uses the same services, so no rule is written twice.
//!
//! These are Wardline's own endpoints, not Matrix ones, so they are routed here by path; they
//! still answer errors in the Matrix shape, through the same error table.

mod settings;
mod users;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use wardline_service::{Caller, ServiceError, Services};

use crate::error::ApiError;

/// An authenticated administrator.
#[derive(Debug)]
pub struct Admin(pub Caller);

impl FromRequestParts<Services> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, services: &Services) -> Result<Self, Self::Rejection> {
        let caller = crate::staff::bearer_caller(parts, services).await?;
        if caller.must_change_password {
            return Err(ServiceError::PasswordChangeRequired.into());
        }
        if caller.must_enrol_mfa {
            return Err(ServiceError::MfaEnrolmentRequired.into());
        }
        if !caller.is_admin {
            return Err(ApiError::forbidden("this is for administrators only"));
        }
        Ok(Self(caller))
    }
}

/// The administration routes.
pub fn routes() -> Router<Services> {
    Router::new()
        .route("/_wardline/admin/v1/users", get(users::list).post(users::create))
        .route("/_wardline/admin/v1/users/{user_id}", get(users::get).put(users::update))
        .route("/_wardline/admin/v1/users/{user_id}/deactivate", post(users::deactivate))
        .route("/_wardline/admin/v1/users/{user_id}/reactivate", post(users::reactivate))
        .route("/_wardline/admin/v1/users/{user_id}/reset_password", post(users::reset_password))
        .route("/_wardline/admin/v1/users/{user_id}/unlock", post(users::unlock))
        .route("/_wardline/admin/v1/users/{user_id}/logout", post(users::logout_everywhere))
        .route("/_wardline/admin/v1/users/{user_id}/devices", get(users::devices))
        .route("/_wardline/admin/v1/users/{user_id}/devices/{device_id}", delete(users::end_device))
        .route("/_wardline/admin/v1/lockouts", get(users::lockouts))
        .route("/_wardline/admin/v1/settings", get(settings::get).put(settings::update))
        .route("/_wardline/admin/v1/users/{user_id}/mfa", delete(users::remove_mfa))
}
