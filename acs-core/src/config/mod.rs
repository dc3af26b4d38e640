//! The server's settings: what they mean, their defaults, where they come from, and how they
//! are checked.
//!
//! # Sources, lowest precedence first
//!
//! 1. Built-in defaults. With no configuration at all the server starts: SQLite in
//!    `./acs-data`, CWMP on `0.0.0.0:7547`, the NBI on `127.0.0.1:7557`, no CPE authentication
//!    (with a warning, see [`Settings::warnings`]).
//! 2. A TOML file: the one given with `--config`, else `./acs.toml` if it exists. The file may set
//!    any subset of the settings; see `acs.example.toml` at the repository root for all of them.
//! 3. Environment variables: `ACS_` followed by the setting's path with `__` (two underscores)
//!    between levels, case-insensitive: `ACS_DATA_DIR`, `ACS_CWMP__LISTEN=0.0.0.0:8080`,
//!    `ACS_DATABASE__URL=postgres://…`, `ACS_CPE_AUTH__PASSWORD=…`,
//!    `ACS_CPE_AUTH__LIMITER__MAX_FAILURES=20`. Lists are comma-separated
//!    (`ACS_CWMP__TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7`). An empty variable counts as unset.
//!    Variables whose name does not start with a section name (e.g. `ACS_CONFIG`, read by the
//!    command line) are not settings and are ignored.
//! 4. Command-line flags ([`Overrides`]).
//!
//! After merging, [`Settings::load`] validates everything and reports every problem at once,
//! each naming the setting.
//!
//! # Secrets
//!
//! Passwords and the database URL (which usually embeds one) are [`Secret`]s: `Debug`,
//! `Display` and [`Settings::redacted_toml`] print `[redacted]`. Only
//! [`Settings::database_url`] and [`Secret::expose`] hand out the clear value.
//!
//! Each section has a file with its settings, defaults and checks (`cwmp.rs` holds `[cwmp]`);
//! `load.rs` merges the sources and this module checks the whole.
//!
//! [`Secret`]: crate::secret::Secret
//! [`Secret::expose`]: crate::secret::Secret::expose

mod alerts;
mod connection_request;
mod cpe_auth;
mod cwmp;
mod database;
mod files;
mod ip_network;
mod jobs;
mod load;
mod log;
mod nbi;
mod presence;
mod provision;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use alerts::{AlertsSettings, WebhookSettings};
pub use connection_request::ConnectionRequestSettings;
pub use cpe_auth::{CpeAuthSettings, DeviceCredentials, LimiterSettings};
pub use cwmp::{CwmpSettings, MIN_KEEP_ALIVE_SECS, TlsSettings};
pub use database::DatabaseSettings;
pub use files::FilesSettings;
pub use ip_network::{InvalidIpNetwork, IpNetwork};
pub use jobs::JobsSettings;
pub use load::{DEFAULT_CONFIG_FILE, ENV_PREFIX, ENV_SEPARATOR, LoadOptions, Overrides};
pub use log::{LogFormat, LogSettings};
pub use nbi::NbiSettings;
pub use presence::PresenceSettings;
pub use provision::ProvisionSettings;

use crate::auth::{CpeAuthMode, DigestAlgorithm};

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `--config` named a file that does not exist.
    #[error("configuration file {} does not exist", .0.display())]
    FileNotFound(PathBuf),
    /// An environment variable's value is not valid UTF-8.
    #[error("environment variable {0} is not valid UTF-8")]
    NonUnicodeEnv(String),
    /// The file is not valid TOML, a value has the wrong type, or a key is unknown. The message
    /// names the key (`for key `cwmp.listen``) and where it came from.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    /// Values that parsed but do not make sense together; one entry per problem.
    #[error("invalid configuration:{}", fmt_problems(.0))]
    Validation(Vec<Problem>),
}

fn fmt_problems(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

/// One validation failure: which setting, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the setting, as in the TOML file (`cwmp.keep_alive_secs`).
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Everything the server can be configured with. `Settings::default()` is the zero-configuration
/// setup.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Directory for the server's own files: the SQLite database (unless `database.url` points
    /// elsewhere) and later uploaded firmware and files. Created on start if missing.
    /// Default `./acs-data`; the container image uses `/var/lib/acs`.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub cwmp: CwmpSettings,
    pub nbi: NbiSettings,
    pub connection_request: ConnectionRequestSettings,
    pub cpe_auth: CpeAuthSettings,
    pub files: FilesSettings,
    pub provision: ProvisionSettings,
    pub jobs: JobsSettings,
    pub presence: PresenceSettings,
    pub alerts: AlertsSettings,
    /// `[bootstrap]`: what is read from a device at `0 BOOTSTRAP`.
    pub bootstrap: crate::truth::bootstrap::BootstrapSettings,
    pub log: LogSettings,
    /// `ACS_…` environment variables that look like a mistyped setting (single `_` where `__`
    /// separates levels); reported by [`Settings::warnings`].
    #[serde(skip)]
    ignored_env: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./acs-data"),
            database: DatabaseSettings::default(),
            cwmp: CwmpSettings::default(),
            nbi: NbiSettings::default(),
            connection_request: ConnectionRequestSettings::default(),
            cpe_auth: CpeAuthSettings::default(),
            files: FilesSettings::default(),
            provision: ProvisionSettings::default(),
            jobs: JobsSettings::default(),
            presence: PresenceSettings::default(),
            alerts: AlertsSettings::default(),
            bootstrap: Default::default(),
            log: LogSettings::default(),
            ignored_env: Vec::new(),
        }
    }
}

impl Settings {
    /// Checks what types alone cannot: reports every problem, not just the first.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let mut problems = Vec::new();
        let mut bad = |key: &str, message: String| {
            problems.push(Problem {
                key: key.to_owned(),
                message,
            });
        };

        if self.data_dir.as_os_str().is_empty() {
            bad("data_dir", "must not be empty".into());
        }
        for (key, message) in self.bootstrap.problems() {
            bad(&key, message);
        }
        self.connection_request.check(&mut bad);
        self.database.check(&mut bad);
        // Checked here because it spans two sections. Port 0 asks the OS for any free port,
        // so two of them never clash.
        if self.cwmp.listen == self.nbi.listen && self.cwmp.listen.port() != 0 {
            bad(
                "nbi.listen",
                format!("same address as cwmp.listen ({})", self.cwmp.listen),
            );
        }
        self.cwmp.check(&mut bad);
        self.files.check(&mut bad);
        self.jobs.check(&mut bad);
        self.presence.check(&mut bad);
        self.alerts.check(&mut bad);
        self.nbi.check(&mut bad);
        self.provision.check(&mut bad);
        self.cpe_auth.check(self.cwmp.tls.is_some(), &mut bad);
        self.log.check(&mut bad);

        if problems.is_empty() {
            Ok(())
        } else {
            Err(SettingsError::Validation(problems))
        }
    }

    /// Things that are allowed but probably not what a production operator wants; print them
    /// at start-up.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for var in &self.ignored_env {
            warnings.push(format!(
                "environment variable {var} is not a setting and was ignored; levels are \
                 separated by two underscores, e.g. ACS_CWMP__LISTEN"
            ));
        }
        let auth = &self.cpe_auth;
        match auth.effective_mode() {
            CpeAuthMode::None => warnings.push(
                "CPE authentication is off: any device that reaches the CWMP port can register; \
                 set [cpe_auth] username/password"
                    .to_owned(),
            ),
            CpeAuthMode::Basic if self.cwmp.tls.is_none() => warnings.push(
                "CPE authentication is basic over plain HTTP (allow_insecure_basic): passwords \
                 are readable by anyone between the CPEs (or the TLS proxy) and the ACS"
                    .to_owned(),
            ),
            CpeAuthMode::Basic => warnings.push(
                "CPE authentication is basic: it is accepted only over TLS, so CPEs configured \
                 with an http:// ACS URL cannot authenticate"
                    .to_owned(),
            ),
            CpeAuthMode::Digest => {}
        }
        if auth.effective_mode() != CpeAuthMode::None && !auth.has_credentials() {
            warnings.push(
                "CPE authentication is on but no credentials are configured: only CPEs with \
                 credentials in the database (acs cpe-credentials) can authenticate; set \
                 [cpe_auth] username/password or [cpe_auth.devices]"
                    .to_owned(),
            );
        }
        if auth.effective_mode() == CpeAuthMode::Digest
            && !auth.digest_algorithms.contains(&DigestAlgorithm::Md5)
        {
            warnings.push(
                "MD5 is not among cpe_auth.digest_algorithms: many CPEs implement only MD5 \
                 Digest and will fail to authenticate"
                    .to_owned(),
            );
        }
        if self
            .cwmp
            .trusted_proxies
            .iter()
            .any(|n| n.prefix_len() == 0)
        {
            warnings.push(
                "cwmp.trusted_proxies contains a /0 network: every client can forge its address \
                 with X-Forwarded-For"
                    .to_owned(),
            );
        }
        warnings
    }

    /// The URL to connect to the database with. Exposes the password: use it to connect, never
    /// to print.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().to_owned(),
            None => self.default_sqlite_url(),
        }
    }

    fn default_sqlite_url(&self) -> String {
        format!("sqlite://{}/acs.db?mode=rwc", self.data_dir.display())
    }

    /// Whether the database is SQLite (the default) rather than PostgreSQL.
    pub fn is_sqlite(&self) -> bool {
        self.database
            .url
            .as_ref()
            .is_none_or(|url| url.expose().starts_with("sqlite:"))
    }

    /// The effective configuration as TOML, for `acs serve --print-config`: every setting with
    /// its value after defaults, file, environment and flags, the resolved CPE authentication
    /// mode and database URL, and every secret as `"[redacted]"`. Not meant to be read back
    /// (the secrets are gone).
    pub fn redacted_toml(&self) -> String {
        const HEADER: &str =
            "# Effective acs configuration. Secrets are shown as \"[redacted]\".\n\n";
        let mut table = match toml::Table::try_from(self) {
            Ok(table) => table,
            // Only reachable with a non-UTF-8 path.
            Err(e) => return format!("# the configuration cannot be shown as TOML: {e}\n"),
        };
        if let Some(toml::Value::Table(auth)) = table.get_mut("cpe_auth") {
            auth.insert(
                "mode".to_owned(),
                toml::Value::String(mode_name(self.cpe_auth.effective_mode()).to_owned()),
            );
        }
        if self.database.url.is_none()
            && let Some(toml::Value::Table(db)) = table.get_mut("database")
        {
            // Derived from data_dir only, so nothing secret in it.
            db.insert(
                "url".to_owned(),
                toml::Value::String(self.default_sqlite_url()),
            );
        }
        // Rule parameter values can be passwords (SIP, connection requests).
        if let Some(toml::Value::Table(provision)) = table.get_mut("provision")
            && let Some(toml::Value::Array(rules)) = provision.get_mut("rules")
        {
            for rule in rules {
                if let Some(toml::Value::Array(params)) = rule.get_mut("parameters") {
                    for p in params.iter_mut().filter_map(toml::Value::as_table_mut) {
                        if p.contains_key("value") {
                            p.insert("value".into(), toml::Value::String("[redacted]".into()));
                        }
                    }
                }
            }
        }
        match toml::to_string_pretty(&table) {
            Ok(text) => format!("{HEADER}{text}"),
            Err(e) => format!("# the configuration cannot be shown as TOML: {e}\n"),
        }
    }
}

fn mode_name(mode: CpeAuthMode) -> &'static str {
    match mode {
        CpeAuthMode::None => "none",
        CpeAuthMode::Basic => "basic",
        CpeAuthMode::Digest => "digest",
    }
}

#[cfg(test)]
mod tests;
