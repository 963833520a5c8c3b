//! `POST /_wardline/integration/v1/wctp`: WCTP 1.3 over HTTP, for paging and nurse-call systems
//! that page today. The body is a `wctp-Operation` document (`text/xml`, at most 64 KiB) and the
//! answer is one too, always with HTTP 200 (WCTP carries its own codes). The key is the
//! `Authorization: Bearer` header's, or the document's `wctp-Originator@securityCode`: the
//! service checks it ([`wardline_service::alarms::AlarmService::receive_wctp`]).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use wardline_service::Services;
use wardline_types::wctp::{MAX_BYTES, UNPARSABLE, write};

use crate::edge;
use crate::routes::Endpoint;

/// What WCTP's answers are sent as.
const XML: &str = "text/xml; charset=utf-8";

fn xml(body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(XML));
    r
}

/// The bearer key, if the request has one.
fn bearer(req: &Request) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim().to_owned())
}

/// `POST /wctp`.
pub async fn post(State(s): State<Services>, req: Request) -> Response {
    let name = req.extensions().get::<Endpoint>().map_or("integration.wctp", |e| e.name);
    let ip = edge::client_ip(req.extensions());
    let key = bearer(&req);
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BYTES).await else {
        return xml(write::failure(UNPARSABLE, &format!("the document must be at most {MAX_BYTES} bytes")));
    };
    edge::note_body_read(&parts.extensions);
    let answer = s.alarms.receive_wctp(&s.integrations, key.as_deref(), ip, &bytes, name).await;
    if let Some(actor) = answer.actor {
        edge::note_integration(&parts.extensions, actor);
    }
    xml(answer.xml)
}
