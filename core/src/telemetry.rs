//! Structured logs with tracing: text for a terminal or JSON lines for collectors, filtered by
//! `RUST_LOG` (default `info`).

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// The library whose log lines are off by default.
const QUIET_TARGET: &str = "async_openai";

/// Installs the global log subscriber; a second call (as in tests) changes nothing.
pub fn init(format: LogFormat) {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // async-openai logs, at error level, the whole body of any answer it cannot parse (and
    // warns with whole server-error bodies): what a model server a user chose sends must not
    // reach the logs in full, so its lines are off unless RUST_LOG asks for them by name. The
    // AI client logs its own, bounded, account of each failure.
    let named = std::env::var("RUST_LOG").is_ok_and(|value| value.contains(QUIET_TARGET));
    if !named && let Ok(directive) = format!("{QUIET_TARGET}=off").parse() {
        filter = filter.add_directive(directive);
    }
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _already_set = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}
