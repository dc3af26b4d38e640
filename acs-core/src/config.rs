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

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::auth::{CpeAuthMode, DigestAlgorithm, LimiterConfig};
use crate::secret::Secret;

/// The file read when `--config` is not given, if it exists (relative to the working directory).
pub const DEFAULT_CONFIG_FILE: &str = "acs.toml";

/// Prefix of the environment variables that set settings (`ACS_CWMP__LISTEN`, …).
pub const ENV_PREFIX: &str = "ACS";

/// Separator between levels in environment variable names (`ACS_CPE_AUTH__LIMITER__BLOCK_SECS`).
pub const ENV_SEPARATOR: &str = "__";

/// The top-level names an `ACS_…` environment variable must start with to be read as a setting.
const SECTIONS: &[&str] = &[
    "data_dir",
    "database",
    "cwmp",
    "nbi",
    "connection_request",
    "cpe_auth",
    "files",
    "jobs",
    "provision",
    "bootstrap",
    "log",
];

/// Lowest accepted `cwmp.keep_alive_secs`.
pub const MIN_KEEP_ALIVE_SECS: u64 = 30;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

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
            bootstrap: Default::default(),
            log: LogSettings::default(),
            ignored_env: Vec::new(),
        }
    }
}

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

/// `[cwmp]`: the endpoint CPEs talk to (TR-069 ACS URL).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CwmpSettings {
    /// Address and port to listen on, `IP:port` (`[::]:7547` for IPv6). Default `0.0.0.0:7547`,
    /// the IANA port for CWMP; CPEs must be able to reach it.
    #[serde(deserialize_with = "socket_addr")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate chain and key (PEM files). Unset: plain HTTP, in which
    /// case TR-069 allows only Digest authentication. Without it, terminate TLS in a proxy and
    /// list the proxy in `trusted_proxies`.
    pub tls: Option<TlsSettings>,
    /// Seconds a CWMP session may stay idle (no request from the CPE) before the ACS forgets it.
    /// Default 60. A CPE that resumes later starts over with a new Inform.
    pub session_timeout_secs: u64,
    /// Largest request body accepted, in bytes. Default 16 MiB (16777216): GetParameterValues
    /// responses of a large data model are several MiB. Bigger requests get 413.
    pub max_body_bytes: usize,
    /// Seconds a request body may take to arrive, from the end of its headers. Default 30. A
    /// body that trickles, or a chunked body that never ends, is cut off (408, connection
    /// closed) so a slow client cannot hold a worker's memory indefinitely.
    pub body_timeout_secs: u64,
    /// Seconds an idle HTTP keep-alive connection is held open between the requests of a session.
    /// Default 60, minimum 30: CPEs keep one TCP connection per session and some take many
    /// seconds to compute a response; closing too early breaks sessions.
    pub keep_alive_secs: u64,
    /// Reverse proxies / load balancers (IP addresses or CIDR networks, e.g. `10.0.0.0/8`) whose
    /// `X-Forwarded-For` header is believed. From anyone else the header is ignored and the
    /// TCP peer is the client address (used for the authentication failure limiter and logs).
    /// Default empty. In environment variables: comma-separated.
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<IpNetwork>,
    /// The URL CPEs use to reach this server (e.g. `https://acs.example.net:7547`), needed when
    /// it differs from `listen` (NAT, proxies, DNS names): file download URLs given to CPEs are
    /// built from it. Unset: derived from the request.
    pub public_url: Option<String>,
    /// On `0 BOOTSTRAP`, give the device random connection-request credentials
    /// (ManagementServer.ConnectionRequestUsername/Password) and store them once it has applied
    /// them: CPEs read passwords back empty, so only credentials the ACS set are usable.
    pub provision_connection_request_credentials: bool,
    /// Set HoldRequests on the InformResponse and on every ACS request while the ACS has work
    /// queued for the device (TR-069 §3.7.1.4), so that work runs before the CPE's own requests
    /// (TransferComplete, GetRPCMethods). Default off: some agents mishandle the header.
    pub hold_requests: bool,
    /// Worker threads of the CWMP listener. Unset: one per CPU core.
    pub workers: Option<usize>,
}

impl Default for CwmpSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 7547)),
            tls: None,
            session_timeout_secs: 60,
            max_body_bytes: 16 * 1024 * 1024,
            body_timeout_secs: 30,
            keep_alive_secs: 60,
            trusted_proxies: Vec::new(),
            public_url: None,
            provision_connection_request_credentials: true,
            hold_requests: false,
            workers: None,
        }
    }
}

impl CwmpSettings {
    pub fn session_timeout(&self) -> Duration {
        Duration::from_secs(self.session_timeout_secs)
    }

    pub fn keep_alive(&self) -> Duration {
        Duration::from_secs(self.keep_alive_secs)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }

    /// Whether `peer` is one of `trusted_proxies`, i.e. its `X-Forwarded-For` is believed.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(peer))
    }
}

/// `[cwmp.tls]`: the server certificate for HTTPS.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1). Keep it readable only by the ACS.
    pub key: PathBuf,
}

/// `[nbi]`: the northbound interface (REST API for operators and scripts).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NbiSettings {
    /// Address and port of the REST API. Default `127.0.0.1:7557`: reachable only from this
    /// host. Expose it (e.g. `0.0.0.0:7557`) only on a management network; the container image
    /// does so and the compose file publishes it on 127.0.0.1 only.
    #[serde(deserialize_with = "socket_addr")]
    pub listen: SocketAddr,
    /// Worker threads of the API listener. Unset: one per CPU core.
    pub workers: Option<usize>,
}

impl Default for NbiSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7557)),
            workers: None,
        }
    }
}

/// `[connection_request]`: how the ACS wakes devices (TR-069 §3.2.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionRequestSettings {
    /// Upper bound for one connection request, the Digest challenge round trip included.
    pub timeout_secs: u64,
    /// Answer a CPE that offers only Basic authentication. Off by default: connection-request
    /// URLs are plain HTTP, where Basic sends the password in clear text.
    pub allow_basic: bool,
    /// Connection requests in flight at once when many devices are woken (bulk jobs).
    pub concurrency: usize,
    /// Seconds between two connection requests to one device, unless its session has started
    /// in between. Default 30: a burst of operator commands wakes a device once.
    pub min_interval_secs: u64,
    /// Devices whose last connection request is remembered at most (bounded memory); beyond
    /// it, new devices are refused as rate limited until old entries expire. Default 1000000.
    pub max_tracked_devices: usize,
}

impl Default for ConnectionRequestSettings {
    fn default() -> Self {
        Self {
            timeout_secs: 10,
            allow_basic: false,
            concurrency: 50,
            min_interval_secs: 30,
            max_tracked_devices: 1_000_000,
        }
    }
}

impl From<&ConnectionRequestSettings> for crate::connreq::ConnReqConfig {
    fn from(s: &ConnectionRequestSettings) -> Self {
        crate::connreq::ConnReqConfig {
            timeout: Duration::from_secs(s.timeout_secs),
            allow_basic: s.allow_basic,
            min_interval: Duration::from_secs(s.min_interval_secs),
            concurrency: s.concurrency,
            max_tracked_devices: s.max_tracked_devices,
        }
    }
}

/// `[cpe_auth]`: how CPEs authenticate to the ACS (TR-069 §3.4.4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CpeAuthSettings {
    /// `none`, `basic` or `digest`. Unset: `digest` when `username`/`password` or `devices` are
    /// configured, otherwise `none`; see [`CpeAuthSettings::effective_mode`]. `basic` sends the
    /// password in clear text and is refused without `cwmp.tls` unless `allow_insecure_basic`.
    pub mode: Option<CpeAuthMode>,
    /// Username every CPE uses (its `ManagementServer.Username`), unless it has an entry in
    /// `devices`.
    pub username: Option<String>,
    /// Password for `username` (`ManagementServer.Password`). Secret; prefer
    /// `ACS_CPE_AUTH__PASSWORD`.
    pub password: Option<Secret>,
    /// Realm sent in challenges. Default `acs`. Digest hashes include it, so changing it
    /// invalidates nothing stored but must match what pre-hashed CPE credentials assumed.
    pub realm: String,
    /// Allow `basic` over plain HTTP, e.g. when a TLS-terminating proxy sits in front. Default
    /// false. Anyone on the path between that proxy and the ACS sees the passwords.
    pub allow_insecure_basic: bool,
    /// Digest algorithms offered, in order: `MD5`, `SHA-256`. Default `["MD5"]`: many CPEs only
    /// implement MD5 and some fail on a second challenge; add `SHA-256` after testing your fleet.
    #[serde(deserialize_with = "string_or_list")]
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// Seconds a Digest nonce stays valid. Default 300. Expired nonces get a `stale=true`
    /// challenge, which CPEs answer without counting as a failure.
    pub nonce_lifetime_secs: u64,
    /// Per-device credentials: device id (`OUI-ProductClass-SerialNumber` or `OUI-SerialNumber`,
    /// as in the Inform's DeviceId) → username and password. A device listed here must use its
    /// own credentials. Set from the environment as
    /// `ACS_CPE_AUTH__DEVICES__<ID>__USERNAME` — environment names are lower-cased, so
    /// prefer the file for ids with upper-case letters.
    pub devices: BTreeMap<String, DeviceCredentials>,
    /// Give every device that bootstraps with the shared pair its own random ACS credentials
    /// (set through `ManagementServer.Username`/`.Password`, stored once the CPE applied them).
    /// After that the device is accepted only with its own pair; the shared pair still works
    /// for its `0 BOOTSTRAP` (a factory reset), which rotates again. Default false.
    pub provision_device_credentials: bool,
    /// Blocking of sources that keep failing authentication (online password guessing).
    pub limiter: LimiterSettings,
}

impl Default for CpeAuthSettings {
    fn default() -> Self {
        Self {
            mode: None,
            username: None,
            password: None,
            realm: "acs".to_owned(),
            allow_insecure_basic: false,
            digest_algorithms: vec![DigestAlgorithm::Md5],
            nonce_lifetime_secs: 300,
            devices: BTreeMap::new(),
            provision_device_credentials: false,
            limiter: LimiterSettings::default(),
        }
    }
}

impl CpeAuthSettings {
    /// The mode in force: `mode` if set, else `digest` when any credentials are configured,
    /// else `none`.
    pub fn effective_mode(&self) -> CpeAuthMode {
        match self.mode {
            Some(mode) => mode,
            None if self.has_credentials() => CpeAuthMode::Digest,
            None => CpeAuthMode::None,
        }
    }

    fn has_credentials(&self) -> bool {
        self.username.is_some() || self.password.is_some() || !self.devices.is_empty()
    }

    pub fn nonce_lifetime(&self) -> Duration {
        Duration::from_secs(self.nonce_lifetime_secs)
    }

    /// The shared `username`/`password`, when both are set.
    pub fn shared_credentials(&self) -> Option<(&str, &Secret)> {
        Some((self.username.as_deref()?, self.password.as_ref()?))
    }

    /// The credentials configured for one device, if any.
    pub fn device_credentials(&self, device_id: &str) -> Option<&DeviceCredentials> {
        self.devices.get(device_id)
    }
}

/// `[cpe_auth.devices."<device id>"]`: the credentials of one CPE.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceCredentials {
    pub username: String,
    /// Secret.
    pub password: Secret,
}

/// `[cpe_auth.limiter]`: per source address (IPv6: per /64).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimiterSettings {
    /// Failures within `window_secs` that block a source. Default 10. Behind carrier-grade NAT
    /// many CPEs share an address: keep this well above what one misconfigured CPE produces.
    pub max_failures: u32,
    /// Window, counted from a source's first failure, in seconds. Default 300.
    pub window_secs: u64,
    /// How long a blocked source is refused, in seconds. Default 300.
    pub block_secs: u64,
}

impl Default for LimiterSettings {
    fn default() -> Self {
        Self {
            max_failures: 10,
            window_secs: 300,
            block_secs: 300,
        }
    }
}

impl From<&LimiterSettings> for LimiterConfig {
    fn from(s: &LimiterSettings) -> Self {
        Self {
            max_failures: s.max_failures,
            window: Duration::from_secs(s.window_secs),
            block_for: Duration::from_secs(s.block_secs),
            ..Self::default()
        }
    }
}

/// `[files]`: firmware and other files served to CPEs (`/files/t/<token>/<name>` on the CWMP
/// listener).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesSettings {
    /// Base of the download URLs put into Download requests for stored files
    /// (`https://acs.example.net:7547`, no path): an address every CPE can reach, needed behind
    /// NAT or a proxy. Unset: `cwmp.public_url` if set, else the scheme and Host the CPE itself
    /// used for its Inform.
    pub base_url: Option<String>,
    /// Largest file accepted for upload, in bytes. Default 2 GiB (2147483648), more than any
    /// phone or gateway firmware image.
    pub max_bytes: u64,
}

impl Default for FilesSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            max_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

/// `[jobs]`: the runner that moves bulk jobs and rollouts forward.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSettings {
    /// Milliseconds between two looks at running jobs (new devices to queue, rollout gates,
    /// finished jobs). Default 1000; 10 to 60000.
    pub interval_ms: u64,
}

impl Default for JobsSettings {
    fn default() -> Self {
        Self { interval_ms: 1000 }
    }
}

impl JobsSettings {
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
}

impl FilesSettings {
    /// The base URL for download URLs: `files.base_url`, else `cwmp.public_url`.
    pub fn effective_base_url(&self, cwmp: &CwmpSettings) -> Option<String> {
        self.base_url.clone().or_else(|| cwmp.public_url.clone())
    }
}

/// `[provision]`: zero-touch provisioning (`crate::provision`): rules applied when devices
/// inform, and how failures and loops are handled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisionSettings {
    /// `[[provision.rules]]`: rules defined here (read-only through the API; files are paths,
    /// imported into the file store at start).
    pub rules: Vec<crate::provision::ConfigRule>,
    /// Wait after a failed push before the same target is tried again, doubled after each
    /// further failure. 0 retries at the next matching event. Default 300.
    pub backoff_secs: u64,
    /// Longest wait between retries. Default 86400.
    pub max_backoff_secs: u64,
    /// Loop protection: at most `loop_limit` pushes of one target to one device per this many
    /// seconds. Default 86400.
    pub loop_window_secs: u64,
    /// See `loop_window_secs`. Default 3.
    pub loop_limit: u32,
}

impl Default for ProvisionSettings {
    fn default() -> Self {
        let p = crate::provision::ProvisionPolicy::default();
        Self {
            rules: Vec::new(),
            backoff_secs: p.backoff.as_secs(),
            max_backoff_secs: p.max_backoff.as_secs(),
            loop_window_secs: p.loop_window.as_secs(),
            loop_limit: p.loop_limit,
        }
    }
}

impl ProvisionSettings {
    /// The backoff and loop-protection policy.
    pub fn policy(&self) -> crate::provision::ProvisionPolicy {
        crate::provision::ProvisionPolicy {
            backoff: Duration::from_secs(self.backoff_secs),
            max_backoff: Duration::from_secs(self.max_backoff_secs.max(self.backoff_secs)),
            loop_window: Duration::from_secs(self.loop_window_secs),
            loop_limit: self.loop_limit,
        }
    }
}

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

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Where [`Settings::load`] reads from, besides the defaults and the environment.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config`: must exist. `None`: `./acs.toml` if it exists, else no file.
    pub config_file: Option<PathBuf>,
    /// Command-line flags; they win over everything else.
    pub overrides: Overrides,
}

/// Settings given as command-line flags (`--data-dir`, `--cwmp-listen`, `--nbi-listen`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub cwmp_listen: Option<SocketAddr>,
    pub nbi_listen: Option<SocketAddr>,
}

impl Settings {
    /// Defaults, then the TOML file, then `ACS_…` environment variables, then the flags in
    /// `options`; then validation. See the module documentation.
    pub fn load(options: LoadOptions) -> Result<Self, SettingsError> {
        let mut env = HashMap::new();
        for (key, value) in std::env::vars_os() {
            let Ok(key) = key.into_string() else { continue };
            if !has_prefix(&key) {
                continue;
            }
            let value = value
                .into_string()
                .map_err(|_| SettingsError::NonUnicodeEnv(key.clone()))?;
            env.insert(key, value);
        }
        Self::load_from(options, Path::new(DEFAULT_CONFIG_FILE), env)
    }

    /// [`Settings::load`] with the default file location and the environment passed in, so
    /// tests neither depend on the working directory nor mutate the process environment.
    fn load_from(
        options: LoadOptions,
        default_file: &Path,
        env: HashMap<String, String>,
    ) -> Result<Self, SettingsError> {
        let file = match options.config_file {
            Some(path) if !path.is_file() => return Err(SettingsError::FileNotFound(path)),
            Some(path) => Some(path),
            None => default_file.is_file().then(|| default_file.to_owned()),
        };

        let (env, ignored_env) = split_env(env);

        let mut builder = config::Config::builder();
        if let Some(path) = &file {
            builder = builder.add_source(
                config::File::from(path.as_path())
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        // Values stay strings (no `try_parsing`): a password like `0123` must not become the
        // number 123. The deserializer converts strings to numbers and booleans where the
        // setting's type asks for them.
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator(ENV_SEPARATOR)
                .ignore_empty(true)
                .source(Some(env)),
        );
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.ignored_env = ignored_env;

        let Overrides {
            data_dir,
            cwmp_listen,
            nbi_listen,
        } = options.overrides;
        if let Some(dir) = data_dir {
            settings.data_dir = dir;
        }
        if let Some(addr) = cwmp_listen {
            settings.cwmp.listen = addr;
        }
        if let Some(addr) = nbi_listen {
            settings.nbi.listen = addr;
        }

        settings.validate()?;
        Ok(settings)
    }

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
        if !(1..=300).contains(&self.connection_request.timeout_secs) {
            bad(
                "connection_request.timeout_secs",
                format!(
                    "must be 1 to 300, got {}",
                    self.connection_request.timeout_secs
                ),
            );
        }
        if !(1..=10_000).contains(&self.connection_request.concurrency) {
            bad(
                "connection_request.concurrency",
                format!(
                    "must be 1 to 10000, got {}",
                    self.connection_request.concurrency
                ),
            );
        }

        // database
        if let Some(url) = &self.database.url {
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
        if self.database.max_connections == 0 {
            bad("database.max_connections", "must be at least 1".into());
        }
        if self.database.event_retention == 0 {
            bad("database.event_retention", "must be at least 1".into());
        }

        // cwmp
        // Port 0 asks the OS for any free port, so two of them never clash.
        if self.cwmp.listen == self.nbi.listen && self.cwmp.listen.port() != 0 {
            bad(
                "nbi.listen",
                format!("same address as cwmp.listen ({})", self.cwmp.listen),
            );
        }
        if let Some(tls) = &self.cwmp.tls {
            for (key, path) in [("cwmp.tls.cert", &tls.cert), ("cwmp.tls.key", &tls.key)] {
                if !path.is_file() {
                    bad(key, format!("file {} does not exist", path.display()));
                }
            }
        }
        if !(10..=60_000).contains(&self.jobs.interval_ms) {
            bad(
                "jobs.interval_ms",
                format!("must be 10 to 60000, got {}", self.jobs.interval_ms),
            );
        }
        if self.files.max_bytes == 0 {
            bad("files.max_bytes", "must be at least 1".into());
        }
        for (key, workers) in [
            ("cwmp.workers", self.cwmp.workers),
            ("nbi.workers", self.nbi.workers),
        ] {
            if workers == Some(0) {
                bad(key, "must be at least 1 (or unset: one per core)".into());
            }
        }
        if self.cwmp.session_timeout_secs == 0 {
            bad("cwmp.session_timeout_secs", "must be at least 1".into());
        }
        if self.cwmp.body_timeout_secs == 0 {
            bad("cwmp.body_timeout_secs", "must be at least 1".into());
        }
        if self.cwmp.max_body_bytes < 64 * 1024 {
            bad(
                "cwmp.max_body_bytes",
                format!(
                    "{} is too small for CWMP messages; use at least 65536",
                    self.cwmp.max_body_bytes
                ),
            );
        }
        if self.cwmp.keep_alive_secs < MIN_KEEP_ALIVE_SECS {
            bad(
                "cwmp.keep_alive_secs",
                format!(
                    "{} is below the minimum of {MIN_KEEP_ALIVE_SECS}: CPEs hold one connection \
                     for a whole session and can take long to answer",
                    self.cwmp.keep_alive_secs
                ),
            );
        }
        if let Some(url) = &self.cwmp.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bad(
                "cwmp.public_url",
                format!("{url:?} must start with http:// or https://"),
            );
        }

        if let Some(url) = &self.files.base_url {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            match rest {
                Some(host) if !host.is_empty() && !host.trim_end_matches('/').contains('/') => {}
                _ => bad(
                    "files.base_url",
                    format!(
                        "{url:?} must be http:// or https:// and a host, without a path \
                         (e.g. https://acs.example.net:7547)"
                    ),
                ),
            }
        }

        // provision
        if self.provision.loop_limit == 0 {
            bad("provision.loop_limit", "must be at least 1".into());
        }
        const DAY: u64 = 86_400;
        for (key, value, max) in [
            (
                "provision.backoff_secs",
                self.provision.backoff_secs,
                30 * DAY,
            ),
            (
                "provision.max_backoff_secs",
                self.provision.max_backoff_secs,
                30 * DAY,
            ),
            (
                "provision.loop_window_secs",
                self.provision.loop_window_secs,
                366 * DAY,
            ),
        ] {
            if value > max {
                bad(key, format!("{value} is more than the maximum of {max}"));
            }
        }
        if self.provision.loop_window_secs == 0 {
            bad("provision.loop_window_secs", "must be at least 1".into());
        }
        let mut names = std::collections::HashSet::new();
        for (i, rule) in self.provision.rules.iter().enumerate() {
            let key = format!("provision.rules[{i}]");
            if !names.insert(rule.name.as_str()) {
                bad(&key, format!("a second rule named `{}`", rule.name));
            }
            if let Err(e) = rule.validate() {
                bad(&key, e.to_string());
            }
            for (what, path) in [
                ("template", &rule.template),
                ("vars", &rule.vars),
                ("firmware", &rule.firmware),
            ] {
                if let Some(path) = path
                    && !path.is_file()
                {
                    bad(
                        &format!("{key}.{what}"),
                        format!("file {} does not exist", path.display()),
                    );
                }
            }
        }

        // cpe_auth
        let auth = &self.cpe_auth;
        match (&auth.username, &auth.password) {
            (Some(_), None) => bad(
                "cpe_auth.password",
                "missing: cpe_auth.username is set without a password".into(),
            ),
            (None, Some(_)) => bad(
                "cpe_auth.username",
                "missing: cpe_auth.password is set without a username".into(),
            ),
            _ => {}
        }
        if auth.username.as_deref() == Some("") {
            bad("cpe_auth.username", "must not be empty".into());
        }
        if auth.password.as_ref().is_some_and(Secret::is_empty) {
            bad("cpe_auth.password", "must not be empty".into());
        }
        if auth.effective_mode() == CpeAuthMode::Basic
            && self.cwmp.tls.is_none()
            && !auth.allow_insecure_basic
        {
            bad(
                "cpe_auth.mode",
                "basic authentication sends passwords in clear text, and TR-069 allows it only \
                 over TLS: configure [cwmp.tls], use mode = \"digest\", or (TLS terminated by a \
                 proxy) set cpe_auth.allow_insecure_basic = true"
                    .into(),
            );
        }
        if auth.realm.is_empty() || auth.realm.contains(['"', '\\']) || has_control(&auth.realm) {
            bad(
                "cpe_auth.realm",
                "must be non-empty, without quotes, backslashes or control characters".into(),
            );
        }
        if auth.digest_algorithms.is_empty() {
            bad(
                "cpe_auth.digest_algorithms",
                "must list at least one of \"MD5\", \"SHA-256\"".into(),
            );
        }
        let mut seen = Vec::new();
        for alg in &auth.digest_algorithms {
            if seen.contains(alg) {
                bad("cpe_auth.digest_algorithms", format!("{alg} listed twice"));
            }
            seen.push(*alg);
        }
        if auth.nonce_lifetime_secs == 0 {
            bad("cpe_auth.nonce_lifetime_secs", "must be at least 1".into());
        }
        for (id, creds) in &auth.devices {
            if id.is_empty() {
                bad("cpe_auth.devices", "device id must not be empty".into());
            }
            if creds.username.is_empty() {
                bad(
                    &format!("cpe_auth.devices.{id:?}.username"),
                    "must not be empty".into(),
                );
            }
            if creds.password.is_empty() {
                bad(
                    &format!("cpe_auth.devices.{id:?}.password"),
                    "must not be empty".into(),
                );
            }
        }
        if auth.provision_device_credentials
            && (auth.shared_credentials().is_none() || auth.effective_mode() == CpeAuthMode::None)
        {
            bad(
                "cpe_auth.provision_device_credentials",
                "needs the shared cpe_auth.username/password (devices bootstrap with it) and \
                 authentication on"
                    .into(),
            );
        }
        let limiter = &auth.limiter;
        for (key, value) in [
            (
                "cpe_auth.limiter.max_failures",
                u64::from(limiter.max_failures),
            ),
            ("cpe_auth.limiter.window_secs", limiter.window_secs),
            ("cpe_auth.limiter.block_secs", limiter.block_secs),
        ] {
            if value == 0 {
                bad(key, "must be at least 1".into());
            }
        }

        // log
        if self.log.filter.trim().is_empty() {
            bad("log.filter", "must not be empty (e.g. \"info\")".into());
        }

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

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn has_prefix(key: &str) -> bool {
    key.get(..ENV_PREFIX.len() + 1)
        .is_some_and(|p| p.eq_ignore_ascii_case("ACS_"))
}

/// Splits `ACS_…` variables into settings (first level is a known section) and ignored ones;
/// returns the ignored names that look like a mistyped setting (`ACS_CWMP_LISTEN`).
fn split_env(env: HashMap<String, String>) -> (config::Map<String, String>, Vec<String>) {
    let mut settings = config::Map::new();
    let mut typos = Vec::new();
    for (key, value) in env {
        if !has_prefix(&key) {
            continue;
        }
        let rest = key[ENV_PREFIX.len() + 1..].to_ascii_lowercase();
        let first = rest.split(ENV_SEPARATOR).next().unwrap_or_default();
        if SECTIONS.contains(&first) {
            settings.insert(key, value);
        } else if SECTIONS.iter().any(|s| first.starts_with(&format!("{s}_"))) {
            typos.push(key);
        }
    }
    typos.sort();
    (settings, typos)
}

/// A `SocketAddr` with an error message that shows the value and the expected form.
fn socket_addr<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(deserializer)?;
    s.trim().parse().map_err(|_| {
        de::Error::custom(format!(
            "{s:?} is not an IP:port address (e.g. 0.0.0.0:7547 or [::]:7547; no host names)"
        ))
    })
}

/// Deserializes a list from a TOML array or a comma-separated string (the form environment
/// variables give), parsing each item with `FromStr`.
fn string_or_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    struct ListVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T> Visitor<'de> for ListVisitor<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings or a comma-separated string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(E::custom))
                .collect()
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item.trim().parse().map_err(de::Error::custom)?);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
}

// ---------------------------------------------------------------------------------------------
// IpNetwork
// ---------------------------------------------------------------------------------------------

/// An IP address or a CIDR network (`192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`). Host bits
/// below the prefix are ignored. IPv4-mapped IPv6 peers (`::ffff:10.1.2.3`) match IPv4
/// networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix_len: u8,
}

impl IpNetwork {
    pub fn new(addr: IpAddr, prefix_len: u8) -> Option<Self> {
        (prefix_len <= max_prefix(addr)).then_some(Self { addr, prefix_len })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// Not an IP address or CIDR network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR network (e.g. 10.0.0.0/8)")]
pub struct InvalidIpNetwork(pub String);

impl FromStr for IpNetwork {
    type Err = InvalidIpNetwork;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || InvalidIpNetwork(s.to_owned());
        let (addr, len) = match s.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| err())?;
        let len = match len {
            Some(len) if len.bytes().all(|b| b.is_ascii_digit()) => {
                len.parse().map_err(|_| err())?
            }
            Some(_) => return Err(err()),
            None => max_prefix(addr),
        };
        Self::new(addr, len).ok_or_else(err)
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix_len == max_prefix(self.addr) {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix_len)
        }
    }
}

impl Serialize for IpNetwork {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNetwork {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A directory holding no `acs.toml`, so the default-file lookup finds nothing.
    fn empty_dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn load(
        file: Option<&str>,
        env: &[(&str, &str)],
        overrides: Overrides,
    ) -> Result<Settings, SettingsError> {
        let dir = empty_dir();
        let config_file = file.map(|text| {
            let path = dir.path().join("given.toml");
            std::fs::File::create(&path)
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            path
        });
        let env = env
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Settings::load_from(
            LoadOptions {
                config_file,
                overrides,
            },
            &dir.path().join(DEFAULT_CONFIG_FILE),
            env,
        )
    }

    fn load_ok(file: Option<&str>, env: &[(&str, &str)]) -> Settings {
        load(file, env, Overrides::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn load_err(file: Option<&str>, env: &[(&str, &str)]) -> String {
        match load(file, env, Overrides::default()) {
            Ok(s) => panic!("expected an error, got {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults() {
        let s = load_ok(None, &[]);
        assert_eq!(s.data_dir, Path::new("./acs-data"));
        assert_eq!(s.database_url(), "sqlite://./acs-data/acs.db?mode=rwc");
        assert!(s.is_sqlite());
        assert_eq!(s.database.max_connections, 16);
        assert_eq!(s.database.event_retention, 100);
        assert_eq!(s.cwmp.listen, "0.0.0.0:7547".parse().unwrap());
        assert!(s.cwmp.tls.is_none());
        assert_eq!(s.cwmp.session_timeout(), Duration::from_secs(60));
        assert_eq!(s.cwmp.max_body_bytes, 16 * 1024 * 1024);
        assert_eq!(s.cwmp.body_timeout(), Duration::from_secs(30));
        assert_eq!(s.cwmp.keep_alive_secs, 60);
        assert!(s.cwmp.trusted_proxies.is_empty());
        assert_eq!(s.cwmp.public_url, None);
        assert_eq!(s.nbi.listen, "127.0.0.1:7557".parse().unwrap());
        assert_eq!(s.cpe_auth.mode, None);
        assert_eq!(s.cpe_auth.effective_mode(), CpeAuthMode::None);
        assert_eq!(s.cpe_auth.realm, "acs");
        assert!(!s.cpe_auth.allow_insecure_basic);
        assert_eq!(s.cpe_auth.digest_algorithms, [DigestAlgorithm::Md5]);
        assert_eq!(s.cpe_auth.nonce_lifetime_secs, 300);
        assert!(s.cpe_auth.devices.is_empty());
        assert_eq!(
            LimiterConfig::from(&s.cpe_auth.limiter),
            LimiterConfig::default()
        );
        assert_eq!(s.log.format, LogFormat::Text);
        assert_eq!(s.log.filter, "info");
        assert_eq!(format!("{s:?}"), format!("{:?}", Settings::default()));
        Settings::default().validate().unwrap();

        let w = s.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("CPE authentication is off"), "{w:?}");
    }

    /// Every knob of startup is a setting: what used to be fixed in code (HoldRequests, the
    /// job interval, the upload limit, workers, connection-request pacing) reads from the file
    /// and from the environment, including the sections the environment used to skip.
    #[test]
    fn startup_knobs_are_settings() {
        let s = load_ok(None, &[]);
        assert!(!s.cwmp.hold_requests);
        assert_eq!(s.jobs.interval(), Duration::from_secs(1));
        assert_eq!(s.files.max_bytes, 2 * 1024 * 1024 * 1024);
        assert_eq!((s.cwmp.workers, s.nbi.workers), (None, None));
        let connreq = crate::connreq::ConnReqConfig::from(&s.connection_request);
        assert_eq!(connreq.min_interval, Duration::from_secs(30));
        assert_eq!(connreq.max_tracked_devices, 1_000_000);

        let s = load_ok(
            Some(
                r#"
                [cwmp]
                hold_requests = true
                workers = 4
                [nbi]
                workers = 2
                [jobs]
                interval_ms = 250
                [files]
                max_bytes = 1048576
                [connection_request]
                min_interval_secs = 5
                max_tracked_devices = 1000
                "#,
            ),
            &[
                ("ACS_PROVISION__LOOP_LIMIT", "7"),
                ("ACS_BOOTSTRAP__FETCH", "false"),
            ],
        );
        assert!(s.cwmp.hold_requests);
        assert_eq!((s.cwmp.workers, s.nbi.workers), (Some(4), Some(2)));
        assert_eq!(s.jobs.interval(), Duration::from_millis(250));
        assert_eq!(s.files.max_bytes, 1_048_576);
        assert_eq!(s.connection_request.min_interval_secs, 5);
        assert_eq!(s.connection_request.max_tracked_devices, 1000);
        assert_eq!(s.provision.loop_limit, 7);
        assert!(!s.bootstrap.fetch);

        let err = load_err(Some("[jobs]\ninterval_ms = 0\n[cwmp]\nworkers = 0\n"), &[]);
        assert!(err.contains("jobs.interval_ms"), "{err}");
        assert!(err.contains("cwmp.workers"), "{err}");
    }

    #[test]
    fn toml_file() {
        let s = load_ok(
            Some(
                r#"
                data_dir = "/var/lib/acs"
                [database]
                url = "postgres://acs:pw@db/acs"
                max_connections = 32
                [cwmp]
                listen = "[::]:7548"
                keep_alive_secs = 30
                trusted_proxies = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
                public_url = "https://acs.example.net:7548"
                [cpe_auth]
                username = "cpe"
                password = "secret"
                digest_algorithms = ["SHA-256", "MD5"]
                [cpe_auth.limiter]
                max_failures = 20
                [log]
                format = "json"
                filter = "debug,sqlx=warn"
                "#,
            ),
            &[],
        );
        assert_eq!(s.data_dir, Path::new("/var/lib/acs"));
        assert_eq!(s.database_url(), "postgres://acs:pw@db/acs");
        assert!(!s.is_sqlite());
        assert_eq!(s.database.max_connections, 32);
        assert_eq!(s.database.event_retention, 100);
        assert_eq!(s.cwmp.listen, "[::]:7548".parse().unwrap());
        assert_eq!(s.cwmp.keep_alive_secs, 30);
        assert!(s.cwmp.is_trusted_proxy("10.1.2.3".parse().unwrap()));
        assert!(s.cwmp.is_trusted_proxy("::ffff:10.1.2.3".parse().unwrap()));
        assert!(s.cwmp.is_trusted_proxy("192.0.2.7".parse().unwrap()));
        assert!(!s.cwmp.is_trusted_proxy("192.0.2.8".parse().unwrap()));
        assert!(s.cwmp.is_trusted_proxy("2001:db8::1".parse().unwrap()));
        assert!(!s.cwmp.is_trusted_proxy("2001:db9::1".parse().unwrap()));
        assert_eq!(
            s.cwmp.public_url.as_deref(),
            Some("https://acs.example.net:7548")
        );
        assert_eq!(s.cpe_auth.effective_mode(), CpeAuthMode::Digest);
        let (user, pw) = s.cpe_auth.shared_credentials().unwrap();
        assert_eq!((user, pw.expose()), ("cpe", "secret"));
        assert_eq!(
            s.cpe_auth.digest_algorithms,
            [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
        );
        assert_eq!(s.cpe_auth.limiter.max_failures, 20);
        assert_eq!(s.cpe_auth.limiter.window_secs, 300);
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(s.log.filter, "debug,sqlx=warn");
        assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    }

    #[test]
    fn default_file_is_read_when_present() {
        let dir = empty_dir();
        let path = dir.path().join(DEFAULT_CONFIG_FILE);
        std::fs::write(&path, "[nbi]\nlisten = \"127.0.0.1:9000\"\n").unwrap();
        let s = Settings::load_from(LoadOptions::default(), &path, HashMap::new()).unwrap();
        assert_eq!(s.nbi.listen, "127.0.0.1:9000".parse().unwrap());
    }

    #[test]
    fn env_overrides_file() {
        let s = load_ok(
            Some("[cwmp]\nlisten = \"0.0.0.0:1000\"\nsession_timeout_secs = 5\n"),
            &[
                ("ACS_CWMP__LISTEN", "0.0.0.0:8080"),
                ("ACS_DATA_DIR", "/srv/acs"),
                ("ACS_DATABASE__URL", "postgres://acs:pw@db/acs"),
                ("ACS_DATABASE__MAX_CONNECTIONS", "4"),
                ("ACS_CPE_AUTH__USERNAME", "cpe"),
                // Stays a string: not the number 123.
                ("ACS_CPE_AUTH__PASSWORD", "0123"),
                ("ACS_CPE_AUTH__ALLOW_INSECURE_BASIC", "true"),
                ("ACS_CPE_AUTH__DIGEST_ALGORITHMS", "MD5, SHA-256"),
                ("ACS_CPE_AUTH__LIMITER__BLOCK_SECS", "60"),
                ("ACS_CWMP__TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.7"),
                ("acs_log__format", "json"),
                // Empty counts as unset.
                ("ACS_NBI__LISTEN", ""),
                // Not settings.
                ("ACS_CONFIG", "/etc/acs.toml"),
                ("PATH", "/bin"),
            ],
        );
        assert_eq!(s.cwmp.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(s.cwmp.session_timeout_secs, 5);
        assert_eq!(s.data_dir, Path::new("/srv/acs"));
        assert_eq!(s.database_url(), "postgres://acs:pw@db/acs");
        assert_eq!(s.database.max_connections, 4);
        assert_eq!(s.cpe_auth.password.as_ref().unwrap().expose(), "0123");
        assert!(s.cpe_auth.allow_insecure_basic);
        assert_eq!(
            s.cpe_auth.digest_algorithms,
            [DigestAlgorithm::Md5, DigestAlgorithm::Sha256]
        );
        assert_eq!(s.cpe_auth.limiter.block_secs, 60);
        assert_eq!(s.cwmp.trusted_proxies.len(), 2);
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(s.nbi.listen, "127.0.0.1:7557".parse().unwrap());
        assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    }

    #[test]
    fn mistyped_env_vars_are_reported() {
        let s = load_ok(None, &[("ACS_CWMP_LISTEN", "0.0.0.0:1")]);
        assert_eq!(s.cwmp.listen, "0.0.0.0:7547".parse().unwrap());
        assert!(
            s.warnings()
                .iter()
                .any(|w| w.contains("ACS_CWMP_LISTEN") && w.contains("ACS_CWMP__LISTEN")),
            "{:?}",
            s.warnings()
        );
        let e = load_err(None, &[("ACS_CWMP__LISTN", "0.0.0.0:1")]);
        assert!(e.contains("listn"), "{e}");
    }

    #[test]
    fn flags_win() {
        let s = load(
            Some("data_dir = \"/from/file\"\n[cwmp]\nlisten = \"0.0.0.0:1000\"\n"),
            &[
                ("ACS_CWMP__LISTEN", "0.0.0.0:2000"),
                ("ACS_NBI__LISTEN", "127.0.0.1:2001"),
            ],
            Overrides {
                data_dir: Some("/from/flag".into()),
                cwmp_listen: Some("0.0.0.0:3000".parse().unwrap()),
                nbi_listen: Some("127.0.0.1:3001".parse().unwrap()),
            },
        )
        .unwrap();
        assert_eq!(s.data_dir, Path::new("/from/flag"));
        assert_eq!(s.database_url(), "sqlite:///from/flag/acs.db?mode=rwc");
        assert_eq!(s.cwmp.listen, "0.0.0.0:3000".parse().unwrap());
        assert_eq!(s.nbi.listen, "127.0.0.1:3001".parse().unwrap());
    }

    #[test]
    fn secrets_never_print() {
        let s = load_ok(
            Some(
                r#"
                [database]
                url = "postgres://acs:db-hunter2@db:5432/acs"
                [cpe_auth]
                username = "cpe"
                password = "cpe-hunter2"
                [cpe_auth.devices."00D09E-IGD-0001"]
                username = "dev1"
                password = "dev-hunter2"
                [[provision.rules]]
                name = "sip"
                parameters = [{ name = "Device.Services.VoiceService.1.X.Password", value = "sip-hunter2" }]
                "#,
            ),
            &[],
        );
        let toml = s.redacted_toml();
        let debug = format!("{s:?}");
        let pretty = format!("{s:#?}");
        for text in [&toml, &debug, &pretty] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
        // The printed configuration is valid TOML with the resolved values.
        let parsed: toml::Table = toml.parse().unwrap();
        assert_eq!(parsed["database"]["url"].as_str(), Some("[redacted]"));
        assert_eq!(parsed["cpe_auth"]["mode"].as_str(), Some("digest"));
        assert_eq!(parsed["cpe_auth"]["password"].as_str(), Some("[redacted]"));
        assert_eq!(
            parsed["cpe_auth"]["devices"]["00D09E-IGD-0001"]["password"].as_str(),
            Some("[redacted]")
        );
        assert_eq!(parsed["cwmp"]["listen"].as_str(), Some("0.0.0.0:7547"));
        assert_eq!(
            parsed["provision"]["rules"][0]["parameters"][0]["value"].as_str(),
            Some("[redacted]")
        );
        // In the order of the reference, not alphabetical.
        let pos = |needle: &str| toml.find(needle).unwrap();
        assert!(pos("data_dir") < pos("[database]"));
        assert!(pos("[database]") < pos("[cwmp]"));
        assert!(pos("[cwmp]") < pos("[cpe_auth]"));
        // Unset options are left out rather than shown as empty.
        assert!(parsed["cwmp"].get("tls").is_none());

        // The default SQLite URL holds nothing secret and is shown resolved.
        let parsed: toml::Table = Settings::default().redacted_toml().parse().unwrap();
        assert_eq!(
            parsed["database"]["url"].as_str(),
            Some("sqlite://./acs-data/acs.db?mode=rwc")
        );
        assert_eq!(parsed["cpe_auth"]["mode"].as_str(), Some("none"));
    }

    #[test]
    fn missing_config_file_is_named() {
        let dir = empty_dir();
        let path = dir.path().join("nope.toml");
        let e = Settings::load_from(
            LoadOptions {
                config_file: Some(path.clone()),
                ..LoadOptions::default()
            },
            Path::new("/nonexistent/acs.toml"),
            HashMap::new(),
        )
        .unwrap_err();
        assert!(matches!(e, SettingsError::FileNotFound(ref p) if *p == path));
        assert!(e.to_string().contains("nope.toml"), "{e}");
    }

    #[test]
    fn malformed_values_name_the_key() {
        /// (file, environment, what the message must contain)
        type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (
                Some("[database]\nmax_connections = \"many\"\n"),
                &[],
                "database.max_connections",
            ),
            (Some("[cwmp]\nlisten = \"localhost\"\n"), &[], "cwmp.listen"),
            (None, &[("ACS_NBI__LISTEN", "7557")], "nbi.listen"),
            (None, &[("ACS_CPE_AUTH__MODE", "kerberos")], "cpe_auth.mode"),
            (
                None,
                &[("ACS_CPE_AUTH__DIGEST_ALGORITHMS", "MD5,SHA-1")],
                "cpe_auth.digest_algorithms",
            ),
            (
                Some("[cwmp]\ntrusted_proxies = [\"10.0.0.0/33\"]\n"),
                &[],
                "cwmp.trusted_proxies",
            ),
            (Some("[cwmp]\nlisen = \"x\"\n"), &[], "lisen"),
            (Some("[cwmp\n"), &[], "given.toml"),
        ];
        for (file, env, key) in cases {
            let e = load_err(*file, env);
            assert!(e.contains(key), "{file:?} {env:?}: {e}");
        }
    }

    #[test]
    fn validation_errors() {
        let dir = empty_dir();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "").unwrap();
        let cert = cert.display().to_string();

        let cases: &[(&str, &str)] = &[
            ("[cwmp]\nkeep_alive_secs = 29\n", "cwmp.keep_alive_secs"),
            (
                "[cpe_auth]\nmode = \"basic\"\nusername = \"u\"\npassword = \"p\"\n",
                "TLS",
            ),
            (
                "[cpe_auth]\ndigest_algorithms = []\n",
                "cpe_auth.digest_algorithms",
            ),
            ("[cpe_auth]\nusername = \"u\"\n", "cpe_auth.password"),
            ("[cpe_auth]\nrealm = 'a\"b'\n", "cpe_auth.realm"),
            (
                "[cwmp.tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
                "/nonexistent/key.pem",
            ),
            ("[database]\nurl = \"mysql://u:topsecret@h/db\"\n", "mysql"),
            ("[database]\nurl = \"topsecret\"\n", "database.url"),
            ("[database]\nurl = \"topsecret:x@db/acs\"\n", "not a URL"),
            ("[nbi]\nlisten = \"0.0.0.0:7547\"\n", "nbi.listen"),
            (
                "[database]\nmax_connections = 0\n",
                "database.max_connections",
            ),
            (
                "[cwmp]\npublic_url = \"acs.example.net\"\n",
                "cwmp.public_url",
            ),
            (
                "[files]\nbase_url = \"acs.example.net\"\n",
                "files.base_url",
            ),
            (
                "[files]\nbase_url = \"http://acs.example.net/files\"\n",
                "files.base_url",
            ),
            (
                "[[provision.rules]]\nname = \"a\"\nfirmware = \"/nonexistent/x.loads\"\n",
                "provision.rules[0].firmware: file /nonexistent/x.loads does not exist",
            ),
            (
                "[[provision.rules]]\nname = \"a\"\nconnection_request_credentials = true\n\
                 [[provision.rules]]\nname = \"a\"\nconnection_request_credentials = true\n",
                "provision.rules[1]: a second rule named `a`",
            ),
            (
                "[[provision.rules]]\nname = \"a\"\nfilter = \"serial =\"\n\
                 connection_request_credentials = true\n",
                "provision.rules[0]: rule `a`: filter at column",
            ),
            (
                "[[provision.rules]]\nname = \"a\"\nevents = [\"SOMETIMES\"]\n",
                "unknown event",
            ),
            ("[provision]\nloop_limit = 0\n", "provision.loop_limit"),
            (
                "[provision]\nbackoff_secs = 99999999999999\n",
                "provision.backoff_secs: 99999999999999 is more than the maximum",
            ),
        ];
        for (file, needle) in cases {
            let e = load_err(Some(file), &[]);
            assert!(e.contains(needle), "{file}: {e}");
            assert!(!e.contains("topsecret"), "{file}: {e}");
        }

        // All problems are reported at once.
        let e = load_err(
            Some("[cwmp]\nkeep_alive_secs = 1\n[cpe_auth]\ndigest_algorithms = []\n"),
            &[],
        );
        assert!(
            e.contains("keep_alive_secs") && e.contains("digest_algorithms"),
            "{e}"
        );

        // Basic without TLS is fine when explicitly allowed, with a warning; with TLS it is fine.
        let s = load_ok(
            Some(
                "[cpe_auth]\nmode = \"basic\"\nallow_insecure_basic = true\nusername = \"u\"\n\
                 password = \"p\"\n",
            ),
            &[],
        );
        assert!(s.warnings().iter().any(|w| w.contains("plain HTTP")));
        let s = load_ok(
            Some(&format!(
                "[cwmp.tls]\ncert = {cert:?}\nkey = {cert:?}\n[cpe_auth]\nmode = \"basic\"\n\
                 username = \"u\"\npassword = \"p\"\n"
            )),
            &[],
        );
        assert_eq!(s.cpe_auth.effective_mode(), CpeAuthMode::Basic);
        assert!(s.warnings().iter().any(|w| w.contains("only over TLS")));
    }

    #[test]
    fn per_device_credentials() {
        let s = load_ok(
            Some(
                r#"
                [cpe_auth.devices."00D09E-IGD-0001"]
                username = "dev1"
                password = "pw1"
                [cpe_auth.devices."00259E-HG8245-48575443"]
                username = "dev2"
                password = "pw2"
                "#,
            ),
            &[
                ("ACS_CPE_AUTH__DEVICES__LAB-CPE__USERNAME", "lab"),
                ("ACS_CPE_AUTH__DEVICES__LAB-CPE__PASSWORD", "pw3"),
            ],
        );
        assert_eq!(s.cpe_auth.effective_mode(), CpeAuthMode::Digest);
        assert!(s.cpe_auth.shared_credentials().is_none());
        let d = s.cpe_auth.device_credentials("00D09E-IGD-0001").unwrap();
        assert_eq!((d.username.as_str(), d.password.expose()), ("dev1", "pw1"));
        let d = s
            .cpe_auth
            .device_credentials("00259E-HG8245-48575443")
            .unwrap();
        assert_eq!((d.username.as_str(), d.password.expose()), ("dev2", "pw2"));
        // Environment names are lower-cased.
        let d = s.cpe_auth.device_credentials("lab-cpe").unwrap();
        assert_eq!((d.username.as_str(), d.password.expose()), ("lab", "pw3"));
        assert!(s.cpe_auth.device_credentials("other").is_none());

        let e = load_err(Some("[cpe_auth.devices.x]\nusername = \"u\"\n"), &[]);
        assert!(e.contains("password"), "{e}");
    }

    #[test]
    fn device_credential_rotation_needs_the_shared_pair() {
        assert!(!Settings::default().cpe_auth.provision_device_credentials);
        let s = load_ok(
            Some(
                "[cpe_auth]\nusername = \"phones\"\npassword = \"pw\"\n\
                 provision_device_credentials = true\n",
            ),
            &[],
        );
        assert!(s.cpe_auth.provision_device_credentials);
        // Without the shared pair no device could bootstrap into the rotation.
        let e = load_err(
            Some(
                "[cpe_auth.devices.x]\nusername = \"u\"\npassword = \"p\"\n\
                 [cpe_auth]\nprovision_device_credentials = true\n",
            ),
            &[],
        );
        assert!(e.contains("cpe_auth.provision_device_credentials"), "{e}");
    }

    #[test]
    fn example_file_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../acs.example.toml");
        let s = Settings::load_from(
            LoadOptions {
                config_file: Some(path),
                ..LoadOptions::default()
            },
            Path::new("/nonexistent/acs.toml"),
            HashMap::new(),
        )
        .unwrap();
        assert_eq!(format!("{s:?}"), format!("{:?}", Settings::default()));
    }

    #[test]
    fn ip_networks() {
        let cases: &[(&str, Option<&str>)] = &[
            ("10.0.0.0/8", Some("10.0.0.0/8")),
            ("192.0.2.7", Some("192.0.2.7")),
            ("192.0.2.7/32", Some("192.0.2.7")),
            ("0.0.0.0/0", Some("0.0.0.0/0")),
            ("2001:db8::/32", Some("2001:db8::/32")),
            ("::1", Some("::1")),
            ("10.0.0.0/33", None),
            ("10.0.0.0/", None),
            ("10.0.0.0/+8", None),
            ("example.net", None),
            ("", None),
        ];
        for &(input, want) in cases {
            let got = input.parse::<IpNetwork>().ok().map(|n| n.to_string());
            assert_eq!(got.as_deref(), want, "{input}");
        }
        let all: IpNetwork = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        assert!(!all.contains("2001:db8::1".parse().unwrap()));
        let net: IpNetwork = "10.1.2.3/16".parse().unwrap();
        assert!(net.contains("10.1.200.1".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
    }
}
