//! What every request body passes before an endpoint parses it, and what a panic leaves behind.
//!
//! A JSON body must be well-formed JSON as a whole ([`check_json`]): valid UTF-8, no trailing
//! bytes, numbers a 64-bit float can hold, nesting at most 128 deep. Parsers skip the fields
//! they do not know without looking inside, so without this check such bodies were accepted
//! by some endpoints and refused by others.
//!
//! A request body that makes a parser panic (ruma's `LoginInfo` indexes a JSON map with
//! `data["type"]`, which panics when the key is missing, so `POST /login {}` did) is answered
//! `400 M_BAD_JSON` ([`guard_parse`]); any other panic is answered `500 M_UNKNOWN` by the
//! catch-panic layer. The log says where a panic happened, never what the request held: the
//! panic hook ([`install_hook`]) writes the location and only a payload that is a literal from
//! the code.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;

use crate::error::ApiError;

thread_local! {
    /// Set while this thread parses a request body inside [`guard_parse`].
    static PARSING: Cell<bool> = const { Cell::new(false) };
}

/// Refuses a body that is not well-formed JSON as a whole: `400 M_NOT_JSON`.
pub fn check_json(body: &[u8]) -> Result<(), ApiError> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(_) => Ok(()),
        Err(e) => Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "M_NOT_JSON",
            format!("request body is not valid JSON: {e}"),
        )),
    }
}

/// Middleware for Wardline's own endpoints (not Matrix ones): a body sent with a method other
/// than `GET` passes [`check_json`] before the endpoint runs, whether or not the endpoint reads
/// it (an empty body counts as `{}`), as the Matrix endpoints' bodies do in
/// [`crate::ruma_wrapper`]. The body is read within the same limit the endpoints' JSON
/// extractor applies.
pub async fn json_body(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::extract::FromRequest;
    use axum::response::IntoResponse;
    if req.method() == axum::http::Method::GET {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes =
        match axum::body::Bytes::from_request(axum::extract::Request::from_parts(parts.clone(), body), &()).await {
            Ok(b) => b,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return ApiError::new(e.status(), "M_TOO_LARGE", "request body too large").into_response();
            }
            Err(e) => return ApiError::new(e.status(), "M_BAD_JSON", "the request body was cut short").into_response(),
        };
    crate::edge::note_body_read(&parts.extensions);
    if !bytes.is_empty()
        && let Err(e) = check_json(&bytes)
    {
        return e.into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// Runs a parser; a panic in it becomes `400 M_BAD_JSON`.
pub fn guard_parse<R>(parse: impl FnOnce() -> R) -> Result<R, ApiError> {
    PARSING.with(|p| p.set(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(parse));
    PARSING.with(|p| p.set(false));
    result.map_err(|_| ApiError::bad_json("the request body is not valid for this endpoint"))
}

/// Replaces the default panic hook (which prints the panic's message, and with it whatever
/// the panicking code put there, to standard error) with one that logs through `tracing`.
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        // A `&'static str` payload is a literal in the code; a `String` may hold request data.
        let message = info.payload().downcast_ref::<&'static str>().copied().unwrap_or("(message withheld)");
        if PARSING.with(Cell::get) {
            tracing::warn!(target: "panic", %location, message, "a request body made the parser panic: answered 400");
        } else {
            let backtrace = std::backtrace::Backtrace::capture();
            tracing::error!(target: "panic", %location, message, %backtrace, "panic: answered 500");
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::panic)]
    fn a_panicking_parser_is_a_bad_request() {
        let r: Result<(), ApiError> = guard_parse(|| panic!("boom"));
        let e = r.err().map(|e| (e.status().as_u16(), e.errcode()));
        assert_eq!(e, Some((400, "M_BAD_JSON")));
        assert!(!PARSING.with(Cell::get), "the flag is cleared after a panic");
        assert_eq!(guard_parse(|| 7).ok(), Some(7));
    }

    #[test]
    fn only_well_formed_json_passes() {
        let deep = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
        for bad in [&b"{\"a\": \"\xff\"}"[..], b"{\"n\": 1e400}", b"{} {}", deep.as_bytes(), b"", b"{"] {
            let e = check_json(bad).err().map(|e| e.errcode());
            assert_eq!(e, Some("M_NOT_JSON"), "{}", String::from_utf8_lossy(bad));
        }
        for good in [&b"{}"[..], b"[]", b"null", b"{\"n\": 1e300, \"s\": \"\\u00e9\"}"] {
            assert!(check_json(good).is_ok());
        }
    }
}
