//! Panics. A request body that makes a parser panic (ruma's `LoginInfo` indexes a JSON map
//! with `data["type"]`, which panics when the key is missing, so `POST /login {}` did) is
//! answered `400 M_BAD_JSON`; any other panic is answered `500 M_UNKNOWN` by the catch-panic
//! layer. The log says where a panic happened, never what the request held: the panic hook
//! writes the location and only a payload that is a literal from the code.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;

use crate::error::ApiError;

thread_local! {
    /// Set while this thread parses a request body inside [`guard_parse`].
    static PARSING: Cell<bool> = const { Cell::new(false) };
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
}
