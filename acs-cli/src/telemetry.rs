//! Diagnostics: `tracing` events to stderr, as text or JSON lines.
//!
//! # Span convention
//!
//! The CWMP endpoint opens a span `cwmp_session` with the fields `device` (the device id; declared
//! `tracing::field::Empty` and recorded once the Inform is read) and `session` (the ACS's session id) around every request of
//! a session, so every event logged while handling a CPE carries both, whichever module logs it:
//!
//! ```text
//! 2026-01-02T03:04:05.678Z  INFO cwmp_session: acs_http::cwmp: Inform events="2 PERIODIC" device="00D09E-IGD-0001" session="4f1c…"
//! {"timestamp":"…","level":"INFO","message":"Inform","events":"…","target":"acs_http::cwmp","span":{"device":"00D09E-IGD-0001","session":"4f1c…","name":"cwmp_session"}}
//! ```

use std::io::IsTerminal;

use acs_core::config::LogFormat;
use anyhow::Context;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `format` as in `[log] format`, `filter` in `EnvFilter`
/// syntax as in `[log] filter`; a non-empty `RUST_LOG` replaces `filter`.
///
/// Text is compact, one line per event with its target; ANSI colours only when stderr is a
/// terminal. JSON is one object per line with the event's fields flattened into it and the
/// current span under `span`.
///
/// An invalid filter is an error naming where it came from. A subscriber already installed
/// (a second call, or a test harness) is not: the existing one stays.
pub fn init(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => {
            EnvFilter::try_new(&env).with_context(|| format!("invalid RUST_LOG filter {env:?}"))?
        }
        _ => EnvFilter::try_new(filter)
            .with_context(|| format!("invalid [log] filter {filter:?}"))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // tracing-subscriber reports a failed write with `eprint!`, which panics when stderr is
        // a closed pipe (a log shipper that went away): losing log lines must never stop the ACS.
        .log_internal_errors(false)
        .with_target(true);
    let result = match format {
        LogFormat::Text => builder
            .compact()
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    // The only failure left is "a global subscriber is already set": keep that one.
    let _already_set = result;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_idempotent_and_checks_the_filter() {
        // RUST_LOG may be set by whoever runs the tests; only check the configured filter when
        // it is not.
        if std::env::var_os("RUST_LOG").is_none() {
            let err = init(LogFormat::Text, "info,=[").unwrap_err();
            assert!(err.to_string().contains("[log] filter"), "{err}");
        }
        init(LogFormat::Json, "info").unwrap();
        init(LogFormat::Text, "debug,acs_core=trace").unwrap();
        tracing::info!(answer = 42, "logged after a repeated init");
    }
}
