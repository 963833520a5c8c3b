//! The operational log: to standard error, as text for people or as JSON for log shippers
//! (`log.format`), filtered by `WARDLINE_LOG` (default `info`).
//!
//! Text is coloured only when standard error is a terminal (and `NO_COLOR` is unset): a log
//! redirected to a file or a pipe carries no escape codes. JSON lines are never coloured.

use std::io::IsTerminal;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use wardline_service::config::LogFormat;

/// Starts the log.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    subscriber(format, filter, std::io::stderr, colour).init();
}

/// The log as `format` writes it to `writer` (standard error; a buffer in tests, which so read
/// the lines the server writes).
pub fn subscriber<W>(
    format: LogFormat,
    filter: tracing_subscriber::EnvFilter,
    writer: W,
    colour: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(colour).finish()),
        // One object per line: the event's fields at the top level beside `timestamp`, `level`
        // and `target`, and the request it belongs to (method and path) under `span`.
        LogFormat::Json => {
            Box::new(builder.json().flatten_event(true).with_current_span(true).with_span_list(false).finish())
        }
    }
}

/// Reports the error that ends the process: a log line in JSON (so a shipper reads every line),
/// otherwise a plain line for the person at the terminal.
pub fn fatal(format: LogFormat, message: &str) {
    match format {
        LogFormat::Json => tracing::error!(error = message, "wardline stopped"),
        LogFormat::Text => eprintln!("wardline: {message}"),
    }
}
