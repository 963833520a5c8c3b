//! The edge every request passes first: where it really comes from, and the audit record of a
//! refused request.
//!
//! **Invariants:**
//! - The client's address is computed once, here ([`ClientIp`]): the connection's peer, or, when
//!   the peer is one of the configured `trusted_proxies`, the right-most address in the
//!   forwarding header that is not a trusted proxy. Every consumer (sessions, sign-in rate limits
//!   and lockouts, the audit trail) takes it from the request's extensions.
//! - A request that presented an access token and was refused (`401`, `403`, or `404
//!   M_NOT_FOUND`, which is how Wardline answers "you may not see that") leaves an audit record
//!   naming the endpoint, the caller, their address and the reason; never the request's body.
//!   A token that names no session identifies nobody and costs nothing to send: its refusals are
//!   recorded at most `rate_limits.unknown_tokens` times per address.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use wardline_service::audit::{Actor, AuditSlot};
use wardline_service::config::ForwardedHeader;
use wardline_service::{Caller, Services};
use wardline_types::audit::{AuditAction, NewAuditRecord, Outcome};

use crate::error::{ApiError, Refusal};
use crate::routes::Endpoint;

/// The client's address, as computed at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// The client's address of a request that passed the edge.
#[must_use]
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<ClientIp>().and_then(|c| c.0)
}

/// What the extractors learnt about a request, read back by the edge once it is answered.
#[derive(Debug, Default)]
struct Seen {
    token: bool,
    actor: Option<Actor>,
    endpoint: Option<&'static str>,
    target_user: Option<String>,
    /// An administration call that passed the `Admin` extractor: the place for its one record.
    admin_call: Option<AuditSlot>,
    /// The request's body was read to its end.
    body_read: bool,
}

/// A request's [`Seen`], shared between the edge and the extractors.
#[derive(Debug, Clone, Default)]
struct SeenSlot(Arc<Mutex<Seen>>);

fn with_seen(extensions: &axum::http::Extensions, f: impl FnOnce(&mut Seen)) {
    if let Some(slot) = extensions.get::<SeenSlot>() {
        f(&mut slot.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Notes that the request presented an access token, for the endpoint it was routed to.
pub fn note_token(extensions: &axum::http::Extensions) {
    let endpoint = extensions.get::<Endpoint>().map(|e| e.name);
    with_seen(extensions, |s| {
        s.token = true;
        s.endpoint = s.endpoint.or(endpoint);
    });
}

/// Notes who made the request.
pub fn note_caller(extensions: &axum::http::Extensions, caller: &Caller) {
    with_seen(extensions, |s| s.actor = Some(caller.actor()));
}

/// Notes that the request presented a hospital system's key, accepted for its endpoint, and
/// who it is: a refusal by the endpoint itself (a kind it may not raise, another system's
/// alarm) is then recorded with the integration as the actor. (A refused key is recorded by the
/// key check itself, before this.)
pub fn note_integration(extensions: &axum::http::Extensions, actor: Actor) {
    let endpoint = extensions.get::<Endpoint>().map(|e| e.name);
    with_seen(extensions, |s| {
        s.token = true;
        s.endpoint = s.endpoint.or(endpoint);
        s.actor = Some(actor);
    });
}

/// Notes an administration call by an administrator, with the place taken for its record, which
/// the edge writes once the call is answered (success, refusal or failure).
pub fn note_admin_call(extensions: &axum::http::Extensions, endpoint: &'static str, slot: AuditSlot) {
    with_seen(extensions, |s| {
        s.endpoint = Some(endpoint);
        s.admin_call = Some(slot);
    });
}

/// Notes that the request's body was read to its end.
pub fn note_body_read(extensions: &axum::http::Extensions) {
    with_seen(extensions, |s| s.body_read = true);
}

/// Does the request say a body follows?
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(axum::http::header::TRANSFER_ENCODING)
        || headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// Notes the user a request acts on.
pub fn note_target(extensions: &axum::http::Extensions, user: &str) {
    with_seen(extensions, |s| s.target_user = Some(user.to_owned()));
}

/// Stores an audit record from the HTTP layer. The one place this crate hands records to the
/// recorder. Fails while the trail cannot be written, and the action it records with it.
pub fn audit(services: &Services, record: NewAuditRecord) -> Result<(), ApiError> {
    services.audit.record(record).map_err(ApiError::from)
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(&ip))
}

/// An address as a forwarding header writes it: `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`,
/// `[2001:db8::1]:443`, possibly quoted. `unknown` and obfuscated names are not addresses.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let node = raw.trim().trim_matches('"');
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    match node.split_once(':') {
        Some((host, port)) if !port.contains(':') => host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
        _ => None,
    }
}

/// The hops a forwarding header lists, nearest the client first.
fn hops(headers: &HeaderMap, kind: ForwardedHeader) -> Vec<String> {
    let name = match kind {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    let mut out = Vec::new();
    for value in headers.get_all(name) {
        let Ok(text) = value.to_str() else {
            out.push(String::new());
            continue;
        };
        for element in text.split(',') {
            match kind {
                ForwardedHeader::XForwardedFor => out.push(element.to_owned()),
                ForwardedHeader::Forwarded => {
                    let node = element
                        .split(';')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                        .map(|(_, v)| v.to_owned());
                    out.push(node.unwrap_or_default());
                }
            }
        }
    }
    out
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then, walking the
/// forwarding header from the right, the first address that is not a trusted proxy (or the
/// left-most, or the last readable one).
#[must_use]
pub fn effective_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet], kind: ForwardedHeader) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted(client, proxies) {
        return client;
    }
    for hop in hops(headers, kind).iter().rev() {
        match parse_node(hop) {
            Some(ip) => client = ip.to_canonical(),
            None => break,
        }
        if !trusted(client, proxies) {
            break;
        }
    }
    client
}

/// Whether a refusal is one the audit trail keeps.
fn audited(status: StatusCode, errcode: &str) -> bool {
    status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || (status == StatusCode::NOT_FOUND && errcode == "M_NOT_FOUND")
}

/// Longest reason kept in a record.
const REASON_CHARS: usize = 200;

/// Logs a refusal whose audit record could not be written: the endpoint, the status and who
/// asked; never the body or the token.
fn log_unrecorded(endpoint: &str, status: StatusCode, actor: Option<&Actor>, error: &ApiError) {
    tracing::warn!(
        target: "audit",
        endpoint,
        status = status.as_u16(),
        actor = actor.map_or_else(|| "-".to_owned(), |a| a.user_id.to_string()),
        error = ?error,
        "a refused request could not be recorded in the audit trail"
    );
}

/// The one record of an administration call, with the outcome its answer shows.
fn admin_call_record(services: &Services, seen: Seen, status: StatusCode, refusal: Option<&Refusal>) -> NewAuditRecord {
    let outcome = if status.is_success() {
        Outcome::Success
    } else if status.is_client_error() {
        Outcome::Denied
    } else {
        Outcome::Failure
    };
    let mut record = services.audit.entry(seen.actor.as_ref(), AuditAction::Admin, outcome);
    record.target_user = seen.target_user;
    let name = seen.endpoint.unwrap_or("admin");
    record.detail = Some(match refusal {
        Some(r) => {
            let reason: String = r.message.chars().take(REASON_CHARS).collect();
            format!("endpoint={name} status={} errcode={} reason={reason}", status.as_u16(), r.errcode)
        }
        None => format!("endpoint={name} status={}", status.as_u16()),
    });
    record
}

/// The middleware: computes the client's address, runs the request, audits a refusal.
pub async fn edge(State(services): State<Services>, mut req: Request, next: Next) -> Response {
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| {
        effective_ip(c.0.ip(), req.headers(), &services.config.trusted_proxies, services.config.forwarded_header)
    });
    let route = req.extensions().get::<axum::extract::MatchedPath>().map_or("unmatched", |p| p.as_str());
    tracing::Span::current().record("route", route);
    let slot = SeenSlot::default();
    let fallback_name = format!("{} (unregistered)", req.method());
    req.extensions_mut().insert(ClientIp(ip));
    req.extensions_mut().insert(slot.clone());
    let body_follows = has_body(req.headers());
    let mut response = next.run(req).await;
    let mut seen = std::mem::take(&mut *slot.0.lock().unwrap_or_else(PoisonError::into_inner));
    if matches!(response.status(), StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT)
        || (body_follows && !seen.body_read)
    {
        // The body was not read to its end (refused before it was: too large, a dead token), so
        // this connection cannot carry another request. Saying so keeps a client from sending its
        // next request into a closing connection, and the server closes lingering, so a client
        // still sending reads this answer instead of a reset.
        response.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    let refusal = response.extensions().get::<Refusal>();
    if let Some(admin_slot) = seen.admin_call.take() {
        admin_slot.record(admin_call_record(&services, seen, response.status(), refusal));
        return response;
    }
    let Some(refusal) = refusal else { return response };
    if !seen.token || !audited(response.status(), refusal.errcode) {
        return response;
    }
    if seen.actor.is_none() && !services.sessions.audit_unknown_token(ip) {
        tracing::debug!(ip = ?ip, "refused request with an unknown access token: over the audit limit, not recorded");
        return response;
    }
    let name = seen.endpoint.map_or(fallback_name, str::to_owned);
    let action = if name.starts_with("admin.") { AuditAction::Admin } else { AuditAction::RequestRefused };
    let mut record = services.audit.entry(seen.actor.as_ref(), action, Outcome::Denied);
    if seen.actor.is_none() {
        record.ip = ip.map(|i| i.to_string());
    }
    record.target_user = seen.target_user;
    let reason: String = refusal.message.chars().take(REASON_CHARS).collect();
    record.detail = Some(format!(
        "endpoint={name} status={} errcode={} reason={reason}",
        response.status().as_u16(),
        refusal.errcode
    ));
    // The request was refused anyway; the recorder refuses without logging while the trail
    // cannot be written, so the refusal that went unrecorded is logged here.
    if let Err(e) = audit(&services, record) {
        log_unrecorded(&name, response.status(), seen.actor.as_ref(), &e);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: &'static str, values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_static(v));
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let xff = ForwardedHeader::XForwardedFor;
        let proxies = nets(&["10.0.0.0/8", "192.0.2.7/32"]);
        let spoofed = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(effective_ip(ip("198.51.100.1"), &spoofed, &proxies, xff), ip("198.51.100.1"));
        assert_eq!(effective_ip(ip("10.1.2.3"), &spoofed, &proxies, xff), ip("203.0.113.9"));
        // The right-most untrusted hop: what the client wrote to the left of it is not believed.
        let chain = headers("x-forwarded-for", &["1.1.1.1, 203.0.113.9", "192.0.2.7"]);
        assert_eq!(effective_ip(ip("10.1.2.3"), &chain, &proxies, xff), ip("203.0.113.9"));
        // Only trusted hops: the left-most.
        let inside = headers("x-forwarded-for", &["10.9.9.9, 192.0.2.7"]);
        assert_eq!(effective_ip(ip("10.1.2.3"), &inside, &proxies, xff), ip("10.9.9.9"));
        // Garbage stops the walk at the last trusted hop.
        let junk = headers("x-forwarded-for", &["203.0.113.9, nonsense"]);
        assert_eq!(effective_ip(ip("10.1.2.3"), &junk, &proxies, xff), ip("10.1.2.3"));
        // No header: the proxy itself.
        assert_eq!(effective_ip(ip("10.1.2.3"), &HeaderMap::new(), &proxies, xff), ip("10.1.2.3"));
        // The other header is ignored.
        let other = headers("forwarded", &["for=203.0.113.9"]);
        assert_eq!(effective_ip(ip("10.1.2.3"), &other, &proxies, xff), ip("10.1.2.3"));
        // No trusted proxies: never believed.
        assert_eq!(effective_ip(ip("10.1.2.3"), &spoofed, &[], xff), ip("10.1.2.3"));
    }

    #[test]
    fn rfc7239_forwarded() {
        let fwd = ForwardedHeader::Forwarded;
        let proxies = nets(&["10.0.0.0/8"]);
        let h = headers("forwarded", &["for=1.1.1.1, for=\"[2001:db8::1]:4711\";proto=https"]);
        assert_eq!(effective_ip(ip("10.0.0.1"), &h, &proxies, fwd), ip("2001:db8::1"));
        let h = headers("forwarded", &["for=\"203.0.113.9:443\";by=10.0.0.1", "For=10.0.0.5"]);
        assert_eq!(effective_ip(ip("10.0.0.1"), &h, &proxies, fwd), ip("203.0.113.9"));
        let h = headers("forwarded", &["for=unknown"]);
        assert_eq!(effective_ip(ip("10.0.0.1"), &h, &proxies, fwd), ip("10.0.0.1"));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let h = headers("forwarded", &["for=203.0.113.9"]);
        assert_eq!(effective_ip(mapped, &h, &proxies, fwd), ip("203.0.113.9"));
    }
}
