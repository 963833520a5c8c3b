//! Wardline's own client endpoints (`/_wardline/client/v1/`), beside the Matrix API: setting up
//! a second factor, a message's delivery and read status. Authenticated like every Matrix
//! endpoint, errors from the same table.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use wardline_service::{Caller, ServiceError, Services};

use crate::edge;
use crate::error::ApiError;
use crate::routes::{Endpoint, FirstSignIn, Routes};

/// The caller of an access-token request.
pub async fn bearer_caller(parts: &Parts, services: &Services) -> Result<Caller, ApiError> {
    let mut probe = axum::http::Request::new(());
    *probe.uri_mut() = parts.uri.clone();
    *probe.headers_mut() = parts.headers.clone();
    let token = ruma::api::auth_scheme::extract_bearer_or_query_token(&probe)
        .map_err(|_| ApiError::from(ServiceError::MissingToken))?
        .ok_or(ServiceError::MissingToken)?;
    edge::note_token(&parts.extensions);
    let caller = services.sessions.authenticate(&token, edge::client_ip(&parts.extensions)).await?;
    edge::note_caller(&parts.extensions, &caller);
    Ok(caller)
}

/// What the endpoint a request was routed to allows an unfinished first sign-in (nothing, for
/// an endpoint registered without rules).
#[must_use]
pub fn first_sign_in(parts: &Parts) -> FirstSignIn {
    parts.extensions.get::<Endpoint>().map_or(FirstSignIn::Refused, |e| e.first_sign_in)
}

/// A signed-in member of staff, held to what the endpoint allows an unfinished first sign-in
/// (setting up a second factor is allowed once the one-time password is changed).
#[derive(Debug)]
pub struct Staff(pub Caller);

impl FromRequestParts<Services> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, services: &Services) -> Result<Self, Self::Rejection> {
        let caller = bearer_caller(parts, services).await?;
        first_sign_in(parts).check(&caller)?;
        Ok(Self(caller))
    }
}

/// Wardline's client routes.
pub fn routes() -> Routes {
    const V1: &str = "/_wardline/client/v1";
    let enrolment = FirstSignIn::Enrolment;
    Routes::new()
        .wardline(Method::GET, &format!("{V1}/mfa"), "wardline.mfa.status", enrolment, status)
        .wardline(Method::POST, &format!("{V1}/mfa/totp"), "wardline.mfa.begin", enrolment, begin)
        .wardline(Method::POST, &format!("{V1}/mfa/totp/confirm"), "wardline.mfa.confirm", enrolment, confirm)
        .wardline(Method::POST, &format!("{V1}/mfa/totp/remove"), "wardline.mfa.remove", FirstSignIn::Refused, remove)
        .wardline(
            Method::GET,
            &format!("{V1}/rooms/{{room_id}}/status/{{event_id}}"),
            "wardline.rooms.status",
            FirstSignIn::Refused,
            message_status,
        )
        .wardline(
            Method::GET,
            &format!("{V1}/push/vapid"),
            "wardline.push.vapid",
            FirstSignIn::Refused,
            crate::client::pushers::vapid,
        )
        .wardline(
            Method::GET,
            &format!("{V1}/escalations/waiting"),
            "wardline.escalations.waiting",
            FirstSignIn::Refused,
            waiting,
        )
}

/// `GET /escalations/waiting`: the urgent and emergency messages still escalating that wait for
/// the caller's answer (in a conversation they are in, or invited into by a step; not sent by
/// them; not answered by them), oldest first, at most 100: `{"waiting": [{"room_id",
/// "event_id", "level", "sender", "sent_ts", "joined"}]}`. No content: the client shows the
/// message itself from the conversation. (The web client's emergency banner.)
async fn waiting(State(s): State<Services>, Staff(c): Staff) -> Result<Response, ApiError> {
    let waiting: Vec<serde_json::Value> = s
        .escalation
        .waiting_for(&c.user_id)
        .await?
        .into_iter()
        .map(|w| {
            json!({
                "room_id": w.room_id, "event_id": w.event_id, "level": w.level.as_str(),
                "sender": w.sender, "sent_ts": w.sent.0, "joined": w.joined,
            })
        })
        .collect();
    Ok(Json(json!({ "waiting": waiting })).into_response())
}

/// `GET /mfa`: is a second factor set up, and is one required?
async fn status(State(s): State<Services>, Staff(c): Staff) -> Result<Response, ApiError> {
    let enrolled = s.mfa.enrolled(&c.user_id).await?;
    Ok(Json(json!({ "totp": enrolled, "required": s.mfa.required(c.is_admin) })).into_response())
}

/// `POST /mfa/totp`: a new secret, as text, an `otpauth://` URI and a QR code (SVG).
async fn begin(State(s): State<Services>, Staff(c): Staff) -> Result<Response, ApiError> {
    let e = s.mfa.begin(&c.actor(), c.signed_in_at).await?;
    Ok(Json(json!({ "secret": e.secret, "otpauth_uri": e.uri, "qr_svg": e.qr_svg })).into_response())
}

#[derive(Debug, Deserialize)]
struct CodeBody {
    code: String,
}

/// `POST /mfa/totp/confirm {"code"}`: turns the second factor on; answers the recovery codes,
/// shown this once.
async fn confirm(
    State(s): State<Services>,
    Staff(c): Staff,
    body: Result<Json<CodeBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    let codes = s.mfa.confirm(&c.actor(), c.signed_in_at, &b.code).await?;
    Ok(Json(json!({ "recovery_codes": codes })).into_response())
}

#[derive(Debug, Deserialize)]
struct RemoveBody {
    password: String,
    /// A code from the authenticator app, or a recovery code.
    #[serde(default)]
    code: String,
}

/// `POST /mfa/totp/remove {"password", "code"}`: turns the second factor off after the
/// password is entered again and the current factor is shown (a code from the app, or a
/// recovery code), so a stolen session and password cannot replace it.
async fn remove(
    State(s): State<Services>,
    Staff(c): Staff,
    body: Result<Json<RemoveBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_json(e.body_text()))?;
    s.sessions.remove_second_factor(&c, &b.password, &b.code).await?;
    Ok(Json(json!({})).into_response())
}

/// A person's answer to a message that asks.
fn answer_json(a: &wardline_service::messaging::Answered) -> serde_json::Value {
    json!({
        "option": a.option,
        "label": a.label,
        "means": a.means,
        "reason": a.reason,
        "ts": a.ts.0,
        "event_id": a.event_id,
        "stands": a.stands,
    })
}

/// `GET /rooms/{roomId}/status/{eventId}`: who a message was for, when it reached each of
/// their devices and when each read it ("Delivered to 2 of 3", "Read by 1 of 3"), and whether
/// its deliveries were recorded at all (not for a message from before they were). Answered to
/// a current member of the room who may see the message, or its sender; anyone else is told
/// there is no such event. Under the caller's `rate_limits.statuses`. For a message that asks
/// (priority, quick responses): its `priority`, the `ask`, each recipient's `answer`, the
/// `other_answers` of people who were not recipients, and `counts.accepted` / `declined`; for
/// an urgent or emergency message, its `escalation`: `state` (`open`, `accepted`, `failsafe`,
/// `cancelled`), the next step and when it is due, and each step that ran, with what it did;
/// for a question with a deadline, its `deadline`: `due_ts`, `state` (`waiting`, `accepted`,
/// `not_accepted` (the sender was told), `cancelled`, `failed`) and `ended_ts`.
async fn message_status(
    State(s): State<Services>,
    Staff(c): Staff,
    axum::extract::Path((room_id, event_id)): axum::extract::Path<(String, String)>,
) -> Result<Response, ApiError> {
    let room = ruma::OwnedRoomId::try_from(room_id).map_err(|_| ApiError::invalid_param("invalid room id"))?;
    let event = ruma::OwnedEventId::try_from(event_id).map_err(|_| ApiError::invalid_param("invalid event id"))?;
    let status = s.status.status(&c.user_id, &room, &event).await?;
    let counts = status.counts();
    let recipients: Vec<serde_json::Value> = status
        .recipients
        .iter()
        .map(|r| {
            json!({
                "user_id": r.user_id,
                "delivered_ts": r.delivered.map(|t| t.0),
                "read_ts": r.read.map(|t| t.0),
                "as_role": r.as_role.as_ref().map(|(id, name)| json!({ "id": id, "name": name })),
                "answer": r.answer.as_ref().map(answer_json),
            })
        })
        .collect();
    let mut body = json!({
        "event_id": status.event_id,
        "sender": status.sender,
        "recipients": recipients,
        "delivery_recorded": status.delivery_recorded,
        "counts": { "recipients": counts.recipients, "delivered": counts.delivered, "read": counts.read },
    });
    if let Some(request) = &status.request {
        let (accepted, declined) = status.answer_counts();
        body["priority"] = json!(request.level.as_str());
        body["ask"] = serde_json::to_value(&request.ask).unwrap_or_default();
        body["counts"]["accepted"] = json!(accepted);
        body["counts"]["declined"] = json!(declined);
        body["other_answers"] = status
            .other_answers
            .iter()
            .map(|(user, a)| {
                let mut v = answer_json(a);
                v["user_id"] = json!(user);
                v
            })
            .collect();
    }
    if let Some(esc) = s.escalation.of_message(&event).await? {
        body["escalation"] = json!({
            "state": esc.ended.map_or("open", |(end, _)| end.as_str()),
            "ended_ts": esc.ended.map(|(_, t)| t.0),
            "next_step": (esc.ended.is_none() && esc.step < esc.policy.steps.len()).then_some(esc.step + 1),
            "next_due_ts": esc.due.map(|t| t.0),
            "steps": esc.log.iter().map(|r| json!({ "step": r.step + 1, "ts": r.ts.0, "summary": r.summary })).collect::<Vec<_>>(),
            "policy": esc.policy,
        });
    }
    if let Some(d) = s.escalation.deadline_of(&event).await? {
        body["deadline"] = json!({
            "due_ts": d.due.0,
            "state": d.ended.map_or("waiting", |(end, _)| end.as_str()),
            "ended_ts": d.ended.map(|(_, t)| t.0),
        });
    }
    Ok(Json(body).into_response())
}
