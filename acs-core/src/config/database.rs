//! `[database]`: where the data lives and how much of it is kept.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// `[database]`: where devices, parameters, tasks and events are stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Connection URL. Unset: SQLite at `{data_dir}/acs.db`, created if missing — fine for a lab
    /// or a few thousand devices. `postgres://user:password@host:5432/db` (or `postgresql://`)
    /// switches to PostgreSQL, recommended in production. A secret, since URLs carry passwords:
    /// prefer setting it with `ACS_DATABASE__URL` over writing it in the file.
    pub url: Option<Secret>,
    /// Upper bound of the connection pool. Default 16. SQLite serialises writes anyway; for
    /// PostgreSQL keep the total over all ACS instances below the server's `max_connections`.
    pub max_connections: u32,
    /// Events (Informs, faults, task results) kept per device; older ones are deleted as new ones
    /// arrive. Default 100.
    pub event_retention: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            event_retention: 100,
        }
    }
}

impl DatabaseSettings {
    /// Adds what is wrong with these settings to `bad` (key, message).
    pub(super) fn check(&self, bad: &mut impl FnMut(&str, String)) {
        if let Some(url) = &self.url {
            // Never echo the URL: it may carry a password. The scheme alone is safe.
            let url = url.expose();
            match url.split_once(':') {
                Some(("sqlite", _)) => {}
                Some(("postgres" | "postgresql", rest)) if rest.starts_with("//") => {}
                // Only a well-formed `scheme://` is named: without the `//` the text before the
                // colon may be a user name or worse.
                Some((scheme, rest))
                    if rest.starts_with("//")
                        && !scheme.is_empty()
                        && scheme
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
                {
                    bad(
                        "database.url",
                        format!(
                            "unsupported database `{scheme}`; use sqlite://PATH or \
                             postgres://USER:PASSWORD@HOST/DB"
                        ),
                    );
                }
                _ => bad(
                    "database.url",
                    "not a URL; use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB".into(),
                ),
            }
        }
        if self.max_connections == 0 {
            bad("database.max_connections", "must be at least 1".into());
        }
        if self.event_retention == 0 {
            bad("database.event_retention", "must be at least 1".into());
        }
    }
}
