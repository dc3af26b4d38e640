//! `[log]`: the format and filter of diagnostics.

use serde::{Deserialize, Serialize};

/// `[log]`: diagnostics written to stderr.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` (human-readable, one line per event) or `json` (one object per line, for log
    /// collectors). Default `text`.
    pub format: LogFormat,
    /// Which events to log, in `tracing` EnvFilter syntax: a level (`info`) or per-module
    /// directives (`info,acs_core::auth=debug,sqlx=warn`). Default `info`. The `RUST_LOG`
    /// environment variable, when set, replaces it.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

impl LogSettings {
    /// Adds what is wrong with these settings to `bad` (key, message).
    pub(super) fn check(&self, bad: &mut impl FnMut(&str, String)) {
        if self.filter.trim().is_empty() {
            bad("log.filter", "must not be empty (e.g. \"info\")".into());
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}
