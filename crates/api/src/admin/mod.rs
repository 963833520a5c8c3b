//! The administration API, `/_wardline/admin/v1/`, for administrators only. The command line
//! uses the same services, so no rule is written twice.
//!
//! These are Wardline's own endpoints, not Matrix ones, so they are routed here by path; they
//! still answer errors in the Matrix shape, through the same error table.

mod alarms;
mod escalation;
mod integrations;
mod integrations_hl7;
mod integrations_wctp;
mod outbox;
mod roles;
mod rota;
mod settings;
mod topics;
mod users;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::Method;
use axum::http::request::Parts;
use wardline_service::{Caller, Services};

use crate::edge;
use crate::error::ApiError;
use crate::routes::{Endpoint, FirstSignIn, Routes};

/// An authenticated administrator who has finished signing in. Every call that gets this far
/// is in the audit trail (reads of contact details, devices, lockouts and settings included);
/// a refused one is recorded by the edge ([`crate::edge`]).
#[derive(Debug)]
pub struct Admin(pub Caller);

impl FromRequestParts<Services> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, services: &Services) -> Result<Self, Self::Rejection> {
        let target = match RawPathParams::from_request_parts(parts, services).await {
            Ok(params) => params.iter().find(|(k, _)| *k == "user_id").map(|(_, v)| v.to_owned()),
            Err(_) => None,
        };
        if let Some(user) = &target {
            edge::note_target(&parts.extensions, user);
        }
        let caller = crate::staff::bearer_caller(parts, services).await?;
        crate::staff::first_sign_in(parts).check(&caller)?;
        if !caller.is_admin {
            return Err(ApiError::forbidden("this is for administrators only"));
        }
        // The call's one record is written by the edge once it is answered, with its outcome; its
        // place is taken now, so no administration call runs that the trail could not record.
        let slot = services.audit.reserve()?;
        let endpoint = parts.extensions.get::<Endpoint>().map_or("admin", |e| e.name);
        edge::note_admin_call(&parts.extensions, endpoint, slot);
        Ok(Self(caller))
    }
}

/// The administration routes. Each needs a finished sign-in.
pub fn routes() -> Routes {
    const A: &str = "/_wardline/admin/v1";
    let full = FirstSignIn::Refused;
    Routes::new()
        .wardline(Method::GET, &format!("{A}/users"), "admin.users.list", full, users::list)
        .wardline(Method::POST, &format!("{A}/users"), "admin.users.create", full, users::create)
        .wardline(Method::GET, &format!("{A}/users/{{user_id}}"), "admin.users.get", full, users::get)
        .wardline(Method::PUT, &format!("{A}/users/{{user_id}}"), "admin.users.update", full, users::update)
        .wardline(
            Method::POST,
            &format!("{A}/users/{{user_id}}/deactivate"),
            "admin.users.deactivate",
            full,
            users::deactivate,
        )
        .wardline(
            Method::POST,
            &format!("{A}/users/{{user_id}}/reactivate"),
            "admin.users.reactivate",
            full,
            users::reactivate,
        )
        .wardline(
            Method::POST,
            &format!("{A}/users/{{user_id}}/reset_password"),
            "admin.users.reset_password",
            full,
            users::reset_password,
        )
        .wardline(Method::POST, &format!("{A}/users/{{user_id}}/unlock"), "admin.users.unlock", full, users::unlock)
        .wardline(
            Method::POST,
            &format!("{A}/users/{{user_id}}/logout"),
            "admin.users.logout",
            full,
            users::logout_everywhere,
        )
        .wardline(Method::GET, &format!("{A}/users/{{user_id}}/devices"), "admin.users.devices", full, users::devices)
        .wardline(
            Method::DELETE,
            &format!("{A}/users/{{user_id}}/devices/{{device_id}}"),
            "admin.users.end_device",
            full,
            users::end_device,
        )
        .wardline(Method::GET, &format!("{A}/lockouts"), "admin.lockouts", full, users::lockouts)
        .wardline(Method::GET, &format!("{A}/settings"), "admin.settings.get", full, settings::get)
        .wardline(Method::PUT, &format!("{A}/settings"), "admin.settings.update", full, settings::update)
        .wardline(Method::GET, &format!("{A}/escalation_policies"), "admin.escalation.list", full, escalation::list)
        .wardline(
            Method::PUT,
            &format!("{A}/escalation_policies/{{scope}}/{{level}}"),
            "admin.escalation.set",
            full,
            escalation::set,
        )
        .wardline(
            Method::DELETE,
            &format!("{A}/escalation_policies/{{scope}}/{{level}}"),
            "admin.escalation.remove",
            full,
            escalation::remove,
        )
        .wardline(Method::GET, &format!("{A}/roles"), "admin.roles.list", full, roles::list)
        .wardline(Method::POST, &format!("{A}/rota"), "admin.rota.import", full, rota::import)
        .wardline(Method::POST, &format!("{A}/roles"), "admin.roles.create", full, roles::create)
        .wardline(Method::GET, &format!("{A}/roles/{{role_id}}"), "admin.roles.get", full, roles::get)
        .wardline(Method::PUT, &format!("{A}/roles/{{role_id}}"), "admin.roles.update", full, roles::update)
        .wardline(Method::DELETE, &format!("{A}/roles/{{role_id}}"), "admin.roles.retire", full, roles::retire)
        .wardline(
            Method::PUT,
            &format!("{A}/roles/{{role_id}}/holders"),
            "admin.roles.set_holders",
            full,
            roles::set_holders,
        )
        .wardline(
            Method::DELETE,
            &format!("{A}/users/{{user_id}}/mfa"),
            "admin.users.remove_mfa",
            full,
            users::remove_mfa,
        )
        .wardline(Method::GET, &format!("{A}/alarm_rules"), "admin.alarm_rules.list", full, alarms::list_rules)
        .wardline(Method::PUT, &format!("{A}/alarm_rules/{{rule_id}}"), "admin.alarm_rules.set", full, alarms::set_rule)
        .wardline(
            Method::DELETE,
            &format!("{A}/alarm_rules/{{rule_id}}"),
            "admin.alarm_rules.remove",
            full,
            alarms::remove_rule,
        )
        .wardline(Method::GET, &format!("{A}/alert_topics"), "admin.alert_topics.list", full, topics::list)
        .wardline(Method::PUT, &format!("{A}/alert_topics/{{topic_id}}"), "admin.alert_topics.set", full, topics::set)
        .wardline(
            Method::DELETE,
            &format!("{A}/alert_topics/{{topic_id}}"),
            "admin.alert_topics.remove",
            full,
            topics::remove,
        )
        .wardline(Method::GET, &format!("{A}/alarms"), "admin.alarms.log", full, alarms::log)
        .wardline(Method::GET, &format!("{A}/alarms/{{alarm_id}}"), "admin.alarms.get", full, alarms::get)
        .wardline(Method::GET, &format!("{A}/integrations"), "admin.integrations.list", full, integrations::list)
        .wardline(Method::POST, &format!("{A}/integrations"), "admin.integrations.create", full, integrations::create)
        .wardline(
            Method::GET,
            &format!("{A}/integrations/{{integration_id}}"),
            "admin.integrations.get",
            full,
            integrations::get,
        )
        .wardline(
            Method::DELETE,
            &format!("{A}/integrations/{{integration_id}}"),
            "admin.integrations.revoke",
            full,
            integrations::revoke,
        )
        .wardline(
            Method::POST,
            &format!("{A}/integrations/{{integration_id}}/keys"),
            "admin.integrations.add_key",
            full,
            integrations::add_key,
        )
        .wardline(
            Method::DELETE,
            &format!("{A}/integrations/{{integration_id}}/keys/{{key_id}}"),
            "admin.integrations.revoke_key",
            full,
            integrations::revoke_key,
        )
        .wardline(
            Method::POST,
            &format!("{A}/integrations/{{integration_id}}/test_webhook"),
            "admin.integrations.test_webhook",
            full,
            outbox::test_webhook,
        )
        .wardline(Method::GET, &format!("{A}/integration_outbox"), "admin.integration_outbox", full, outbox::list)
        .wardline(
            Method::GET,
            &format!("{A}/integrations/{{integration_id}}/hl7"),
            "admin.integrations.hl7.get",
            full,
            integrations_hl7::get,
        )
        .wardline(
            Method::PUT,
            &format!("{A}/integrations/{{integration_id}}/hl7"),
            "admin.integrations.hl7.set",
            full,
            integrations_hl7::set,
        )
        .wardline(
            Method::DELETE,
            &format!("{A}/integrations/{{integration_id}}/hl7"),
            "admin.integrations.hl7.remove",
            full,
            integrations_hl7::remove,
        )
        .wardline(
            Method::GET,
            &format!("{A}/integrations/{{integration_id}}/wctp"),
            "admin.integrations.wctp.get",
            full,
            integrations_wctp::get,
        )
        .wardline(
            Method::PUT,
            &format!("{A}/integrations/{{integration_id}}/wctp"),
            "admin.integrations.wctp.set",
            full,
            integrations_wctp::set,
        )
        .wardline(
            Method::DELETE,
            &format!("{A}/integrations/{{integration_id}}/wctp"),
            "admin.integrations.wctp.remove",
            full,
            integrations_wctp::remove,
        )
        .wardline(
            Method::GET,
            &format!("{A}/integrations/{{integration_id}}/wctp/recipients"),
            "admin.integrations.wctp.recipients",
            full,
            integrations_wctp::recipients,
        )
        .wardline(
            Method::PUT,
            &format!("{A}/integrations/{{integration_id}}/wctp/recipients/{{recipient_id}}"),
            "admin.integrations.wctp.recipients.set",
            full,
            integrations_wctp::set_recipient,
        )
        .wardline(
            Method::DELETE,
            &format!("{A}/integrations/{{integration_id}}/wctp/recipients/{{recipient_id}}"),
            "admin.integrations.wctp.recipients.remove",
            full,
            integrations_wctp::remove_recipient,
        )
}

/// A versioned object an administrator saves at its path (an alarm rule, an alert topic): the
/// body as a JSON object with `"id"` the path's (refused if it names another) and without
/// `"version"`, which is returned apart (the version read, to replace it; absent, to create it).
/// `ignored` are fields the list gives back that are not the object's, dropped so that what
/// was read can be sent again.
pub(crate) fn versioned_body(
    body: Result<axum::Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
    id: &str,
    what: &str,
    ignored: &[&str],
) -> Result<(serde_json::Value, Option<u64>), ApiError> {
    use serde_json::{Value, json};
    let axum::Json(mut body) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let obj = body.as_object_mut().ok_or_else(|| ApiError::bad_json(format!("a {what} is a JSON object")))?;
    let version = match obj.remove("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| ApiError::invalid_param("version is the version read"))?),
    };
    for field in ignored {
        obj.remove(*field);
    }
    match obj.get("id") {
        Some(given) if given != &json!(id) => {
            return Err(ApiError::invalid_param(format!("the {what}'s id is its path's")));
        }
        _ => {}
    }
    obj.insert("id".into(), json!(id));
    Ok((body, version))
}
