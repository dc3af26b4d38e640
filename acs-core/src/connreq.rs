//! Connection requests: the ACS asking a CPE to open a CWMP session now (TR-069 §3.2.2,
//! SPEC §6).
//!
//! The rules this client follows:
//!
//! - **Transport.** An HTTP `GET` with no body to the device's stored
//!   `ManagementServer.ConnectionRequestURL`. Only `http://` and `https://` URLs are used (IPv6
//!   literals in brackets are fine); anything else, and URLs carrying `user:password@`, are
//!   refused with [`ConnReqOutcome::InvalidUrl`] without touching the network. Redirects are
//!   never followed: a CPE has no business redirecting a connection request, and following one
//!   would send the credentials' Digest answer to a host nobody configured.
//! - **Authentication.** The CPE authenticates the ACS against
//!   `ConnectionRequestUsername`/`ConnectionRequestPassword` (which read back empty, so the
//!   ACS uses the values it stored). TR-069 §3.2.2 requires the CPE to use HTTP Digest; the
//!   client sends the request, takes the 401 challenge and answers it (via `diqwest`).
//! - **Basic is opt-in** ([`ConnReqConfig::allow_basic`]): connection-request URLs are almost
//!   always plain `http://`, where Basic puts the password on the wire in clear text for anyone
//!   on the path to reuse. A CPE that offers only Basic is therefore reported as
//!   [`ConnReqOutcome::BasicNotAllowed`] unless an operator explicitly accepts that risk.
//! - **Answers.** 200 or 204 mean accepted: the CPE will start a session with the event
//!   `6 CONNECTION REQUEST` within about 30 s. 401 after answering the challenge means the
//!   credentials are wrong. 503 means busy or rate-limited (with `Retry-After` when sent).
//!   Anything else is reported as unexpected.
//! - **Pacing.** Several requests before the session starts still yield one session, so after
//!   an accepted request the same device is not asked again for
//!   [`ConnReqConfig::min_interval`] (30 s) unless its session has started in the meantime
//!   ([`ConnReqClient::session_started`], called by the session layer on the device's Inform).
//!   A request in flight holds the slot too, so concurrent callers cannot double up.
//! - **Fan-out.** [`ConnReqClient::send_many`] keeps at most [`ConnReqConfig::concurrency`]
//!   requests in flight.
//!
//! Passwords are [`Secret`]s and never reach a log line or an outcome's text.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diqwest::WithDigestAuth;
use futures::StreamExt;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};

use crate::auth::client::digest_authorization;
use crate::secret::Secret;

/// Settings of the connection-request client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnReqConfig {
    /// Upper bound for one connection request, challenge round trip included.
    pub timeout: Duration,
    /// Answer a Basic-only challenge with Basic credentials (clear text over `http://`).
    pub allow_basic: bool,
    /// Minimum time between two requests to one device unless its session has started.
    pub min_interval: Duration,
    /// Requests in flight at once in [`ConnReqClient::send_many`].
    pub concurrency: usize,
    /// Devices whose last request is remembered at most; beyond it new devices are refused
    /// with [`ConnReqOutcome::RateLimited`] until old entries expire (bounded memory).
    pub max_tracked_devices: usize,
}

impl Default for ConnReqConfig {
    /// The defaults of `[connection_request]`: one place says what they are.
    fn default() -> Self {
        (&crate::config::ConnectionRequestSettings::default()).into()
    }
}

/// Why a [`ConnReqClient`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnReqError {
    #[error("invalid connection-request configuration: {0}")]
    Config(&'static str),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Source of the current time, injectable for tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to (tests, simulations).
#[derive(Debug)]
pub struct ManualClock(Mutex<Instant>);

impl ManualClock {
    pub fn new() -> Self {
        Self(Mutex::new(Instant::now()))
    }

    pub fn advance(&self, by: Duration) {
        *lock(&self.0) += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *lock(&self.0)
    }
}

/// One device to wake up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnReqTarget {
    pub device_id: String,
    /// The stored `ConnectionRequestURL`; `None` when the device never reported one.
    pub url: Option<String>,
    /// Connection-request username; without it the request is sent unauthenticated.
    pub username: Option<String>,
    /// Connection-request password; `None` is sent as the empty password.
    pub password: Option<Secret>,
}

/// What happened to one connection request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnReqOutcome {
    /// 200 or 204: the CPE will open a session.
    Accepted { status: u16 },
    /// 401 after answering the CPE's challenge: wrong credentials.
    AuthFailed,
    /// 401 but no credentials are stored for the device.
    NoCredentials,
    /// The CPE offers only Basic and [`ConnReqConfig::allow_basic`] is off.
    BasicNotAllowed,
    /// The CPE's challenge cannot be answered (unknown scheme, algorithm or qop).
    AuthUnsupported { reason: String },
    /// 503: the CPE is busy or rate-limits connection requests.
    Busy { retry_after: Option<Duration> },
    /// Any other HTTP status (redirects included: they are not followed).
    Unexpected { status: u16 },
    /// No complete answer within [`ConnReqConfig::timeout`].
    Timeout,
    /// Connection refused, no route, DNS or TLS failure, connection reset…
    Unreachable { reason: String },
    /// The stored URL is unusable (not http/https, unparsable, credentials embedded…).
    InvalidUrl { reason: String },
    /// No `ConnectionRequestURL` is known for the device.
    NoUrl,
    /// A request to this device was accepted less than `min_interval` ago and its session has
    /// not started yet (or one is in flight); nothing was sent.
    RateLimited { retry_in: Duration },
}

/// The Prometheus series of connection requests, by outcome ([`ConnReqOutcome::kind`]).
pub const CONNREQ_SERIES: &str = "acs_connection_requests_total";

/// Every outcome's name, so each series exists (at 0) before the first request.
pub const CONNREQ_OUTCOMES: [&str; 12] = [
    "accepted",
    "auth_failed",
    "no_credentials",
    "basic_not_allowed",
    "auth_unsupported",
    "busy",
    "unexpected",
    "timeout",
    "unreachable",
    "invalid_url",
    "no_url",
    "rate_limited",
];

impl ConnReqOutcome {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted { .. })
    }

    /// A short stable name, e.g. for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Accepted { .. } => "accepted",
            Self::AuthFailed => "auth_failed",
            Self::NoCredentials => "no_credentials",
            Self::BasicNotAllowed => "basic_not_allowed",
            Self::AuthUnsupported { .. } => "auth_unsupported",
            Self::Busy { .. } => "busy",
            Self::Unexpected { .. } => "unexpected",
            Self::Timeout => "timeout",
            Self::Unreachable { .. } => "unreachable",
            Self::InvalidUrl { .. } => "invalid_url",
            Self::NoUrl => "no_url",
            Self::RateLimited { .. } => "rate_limited",
        }
    }
}

/// Whole seconds, rounded up, so "retry in 0 s" is never printed for a pending wait.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl fmt::Display for ConnReqOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accepted { status } => write!(f, "accepted by the CPE (HTTP {status})"),
            Self::AuthFailed => f.write_str(
                "the CPE rejected the connection-request credentials (HTTP 401 after answering \
                 its challenge)",
            ),
            Self::NoCredentials => f.write_str(
                "the CPE demands authentication but no connection-request credentials are stored",
            ),
            Self::BasicNotAllowed => f.write_str(
                "the CPE offers only Basic authentication, which is disabled (allow_basic)",
            ),
            Self::AuthUnsupported { reason } => {
                write!(
                    f,
                    "the CPE's authentication challenge cannot be answered: {reason}"
                )
            }
            Self::Busy { retry_after: None } => f.write_str("the CPE is busy (HTTP 503)"),
            Self::Busy {
                retry_after: Some(d),
            } => write!(
                f,
                "the CPE is busy (HTTP 503), retry after {} s",
                ceil_secs(*d)
            ),
            Self::Unexpected { status } => {
                write!(f, "unexpected answer from the CPE: HTTP {status}")
            }
            Self::Timeout => f.write_str("the CPE did not answer in time"),
            Self::Unreachable { reason } => write!(f, "the CPE is unreachable: {reason}"),
            Self::InvalidUrl { reason } => write!(f, "invalid ConnectionRequestURL: {reason}"),
            Self::NoUrl => f.write_str("no ConnectionRequestURL is known for the device"),
            Self::RateLimited { retry_in } => write!(
                f,
                "a connection request to this device is pending; retry in {} s or after its \
                 session starts",
                ceil_secs(*retry_in)
            ),
        }
    }
}

/// Counts of a [`ConnReqClient::send_many`] run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOutSummary {
    pub total: usize,
    pub accepted: usize,
    pub rate_limited: usize,
    /// 503 answers.
    pub busy: usize,
    /// `AuthFailed`, `NoCredentials`, `BasicNotAllowed`, `AuthUnsupported`.
    pub auth_failed: usize,
    /// `Timeout` and `Unreachable`.
    pub unreachable: usize,
    /// `NoUrl` and `InvalidUrl`.
    pub invalid_target: usize,
    pub unexpected: usize,
}

impl FanOutSummary {
    /// Every outcome that is neither accepted nor rate-limited.
    pub fn failed(&self) -> usize {
        self.total - self.accepted - self.rate_limited
    }

    pub fn record(&mut self, outcome: &ConnReqOutcome) {
        use ConnReqOutcome as O;
        self.total += 1;
        let counter = match outcome {
            O::Accepted { .. } => &mut self.accepted,
            O::RateLimited { .. } => &mut self.rate_limited,
            O::Busy { .. } => &mut self.busy,
            O::AuthFailed | O::NoCredentials | O::BasicNotAllowed | O::AuthUnsupported { .. } => {
                &mut self.auth_failed
            }
            O::Timeout | O::Unreachable { .. } => &mut self.unreachable,
            O::NoUrl | O::InvalidUrl { .. } => &mut self.invalid_target,
            O::Unexpected { .. } => &mut self.unexpected,
        };
        *counter += 1;
    }
}

/// Below this many entries the pacing map is never pruned.
const PRUNE_FLOOR: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Slot {
    at: Instant,
    token: u64,
}

/// Per-device record of the last request that was accepted or is in flight.
#[derive(Debug)]
struct Pacing {
    slots: HashMap<String, Slot>,
    next_token: u64,
    prune_at: usize,
}

impl Pacing {
    fn new() -> Self {
        Self {
            slots: HashMap::new(),
            next_token: 0,
            prune_at: PRUNE_FLOOR,
        }
    }

    /// Takes the device's slot, or says how long until it frees up.
    fn reserve(
        &mut self,
        device_id: &str,
        now: Instant,
        min_interval: Duration,
        cap: usize,
    ) -> Result<u64, Duration> {
        if let Some(slot) = self.slots.get(device_id) {
            let age = now.saturating_duration_since(slot.at);
            if age < min_interval {
                return Err(min_interval - age);
            }
        } else {
            if self.slots.len() >= self.prune_at || self.slots.len() >= cap {
                self.slots
                    .retain(|_, s| now.saturating_duration_since(s.at) < min_interval);
                self.prune_at = PRUNE_FLOOR.max(self.slots.len() * 2);
            }
            if self.slots.len() >= cap {
                return Err(min_interval);
            }
        }
        self.next_token += 1;
        let token = self.next_token;
        self.slots
            .insert(device_id.to_owned(), Slot { at: now, token });
        Ok(token)
    }

    /// Gives the slot back after a request that was not accepted, unless someone else has
    /// taken or cleared it since.
    fn release(&mut self, device_id: &str, token: u64) {
        if self.slots.get(device_id).is_some_and(|s| s.token == token) {
            self.slots.remove(device_id);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sends connection requests; cheap to share (`Arc`) between tasks.
pub struct ConnReqClient {
    config: ConnReqConfig,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    pacing: Mutex<Pacing>,
}

impl fmt::Debug for ConnReqClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnReqClient")
            .field("config", &self.config)
            .field("tracked_devices", &lock(&self.pacing).slots.len())
            .finish_non_exhaustive()
    }
}

impl ConnReqClient {
    /// A client on the system clock. The process must have installed a rustls crypto provider.
    pub fn new(config: ConnReqConfig) -> Result<Self, ConnReqError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    pub fn with_clock(config: ConnReqConfig, clock: Arc<dyn Clock>) -> Result<Self, ConnReqError> {
        if config.timeout.is_zero() {
            return Err(ConnReqError::Config("timeout must be positive"));
        }
        if config.concurrency == 0 {
            return Err(ConnReqError::Config("concurrency must be at least 1"));
        }
        if config.max_tracked_devices == 0 {
            return Err(ConnReqError::Config(
                "max_tracked_devices must be at least 1",
            ));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // Every CPE is a different host, asked at most every 30 s: idle connections would
            // only pile up.
            .pool_max_idle_per_host(0)
            // Strict agents (easycwmp on OpenWrt among them) match `Authorization: Digest`
            // byte for byte; HTTP/1 header names are case-insensitive but they do not know.
            .http1_title_case_headers()
            .user_agent(concat!("acs/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            config,
            http,
            clock,
            pacing: Mutex::new(Pacing::new()),
        })
    }

    pub fn config(&self) -> &ConnReqConfig {
        &self.config
    }

    /// The device's session has started (its Inform arrived): the next connection request
    /// may go out at once.
    pub fn session_started(&self, device_id: &str) {
        lock(&self.pacing).slots.remove(device_id);
    }

    /// Sends one connection request and reports what happened. Never panics, never retries
    /// on its own (the caller decides, e.g. after `Busy`).
    pub async fn send(&self, target: &ConnReqTarget) -> ConnReqOutcome {
        let outcome = self.send_inner(target).await;
        metrics::counter!(CONNREQ_SERIES, "outcome" => outcome.kind()).increment(1);
        match &outcome {
            ConnReqOutcome::Accepted { .. } => {
                tracing::debug!(device = %target.device_id, "connection request: {outcome}");
            }
            _ => {
                tracing::info!(device = %target.device_id, kind = outcome.kind(), "connection request: {outcome}");
            }
        }
        outcome
    }

    async fn send_inner(&self, target: &ConnReqTarget) -> ConnReqOutcome {
        let url = match validate_url(target.url.as_deref()) {
            Ok(url) => url,
            Err(outcome) => return outcome,
        };
        let now = self.clock.now();
        let reserved = lock(&self.pacing).reserve(
            &target.device_id,
            now,
            self.config.min_interval,
            self.config.max_tracked_devices,
        );
        let token = match reserved {
            Ok(token) => token,
            Err(retry_in) => return ConnReqOutcome::RateLimited { retry_in },
        };
        let outcome = tokio::time::timeout(self.config.timeout, self.exchange(url, target))
            .await
            .unwrap_or(ConnReqOutcome::Timeout);
        if !outcome.is_accepted() {
            lock(&self.pacing).release(&target.device_id, token);
        }
        outcome
    }

    async fn exchange(&self, url: Url, target: &ConnReqTarget) -> ConnReqOutcome {
        let Some(username) = target.username.as_deref() else {
            return match self.http.get(url).send().await {
                Ok(resp) => interpret(&resp, false),
                Err(e) => transport_error(&e),
            };
        };
        let password = target.password.as_ref().map_or("", Secret::expose);
        match self
            .http
            .get(url.clone())
            .send_digest_auth((username, password))
            .await
        {
            Ok(resp) => interpret(&resp, true),
            Err(diqwest::error::Error::Reqwest(e)) => transport_error(&e),
            // diqwest looks only at the first WWW-Authenticate header and only at Digest:
            // read all the challenges and decide here.
            Err(e) => {
                self.answer_other_challenge(url, username, password, &e)
                    .await
            }
        }
    }

    async fn answer_other_challenge(
        &self,
        url: Url,
        username: &str,
        password: &str,
        first_error: &diqwest::error::Error,
    ) -> ConnReqOutcome {
        let probe = match self.http.get(url.clone()).send().await {
            Ok(resp) => resp,
            Err(e) => return transport_error(&e),
        };
        if probe.status() != StatusCode::UNAUTHORIZED {
            return interpret(&probe, true);
        }
        let challenges: Vec<String> = probe
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let has_scheme = |c: &str, scheme: &str| {
            c.trim_start()
                .get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        };
        let request = if let Some(digest) = challenges.iter().find(|c| has_scheme(c, "digest")) {
            let uri = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            let cnonce = hex::encode(rand::random::<[u8; 8]>());
            match digest_authorization(digest, "GET", &uri, username, password, &cnonce, 1) {
                Ok(value) => self.http.get(url).header(AUTHORIZATION, value),
                Err(e) => {
                    return ConnReqOutcome::AuthUnsupported {
                        reason: e.to_string(),
                    };
                }
            }
        } else if challenges.iter().any(|c| has_scheme(c, "basic")) {
            if !self.config.allow_basic {
                return ConnReqOutcome::BasicNotAllowed;
            }
            self.http.get(url).basic_auth(username, Some(password))
        } else {
            return ConnReqOutcome::AuthUnsupported {
                reason: if challenges.is_empty() {
                    format!("401 without a usable challenge ({first_error})")
                } else {
                    format!("unsupported challenge scheme ({first_error})")
                },
            };
        };
        match request.send().await {
            Ok(resp) => interpret(&resp, true),
            Err(e) => transport_error(&e),
        }
    }

    /// Sends to every target with at most `concurrency` requests in flight, calling
    /// `on_result` as each finishes (in completion order).
    pub async fn send_many<F>(&self, targets: Vec<ConnReqTarget>, mut on_result: F) -> FanOutSummary
    where
        F: FnMut(&ConnReqTarget, &ConnReqOutcome),
    {
        let mut summary = FanOutSummary::default();
        let mut results = futures::stream::iter(targets.into_iter().map(|target| async move {
            let outcome = self.send(&target).await;
            (target, outcome)
        }))
        .buffer_unordered(self.config.concurrency.max(1));
        while let Some((target, outcome)) = results.next().await {
            summary.record(&outcome);
            on_result(&target, &outcome);
        }
        summary
    }
}

fn validate_url(url: Option<&str>) -> Result<Url, ConnReqOutcome> {
    let raw = match url.map(str::trim) {
        None | Some("") => return Err(ConnReqOutcome::NoUrl),
        Some(raw) => raw,
    };
    let invalid = |reason: String| ConnReqOutcome::InvalidUrl { reason };
    let url = Url::parse(raw).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    // reqwest would turn `user:pass@` into Basic credentials behind our back.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials embedded in the URL".into()));
    }
    Ok(url)
}

fn interpret(resp: &reqwest::Response, had_credentials: bool) -> ConnReqOutcome {
    let status = resp.status();
    match status {
        StatusCode::OK | StatusCode::NO_CONTENT => ConnReqOutcome::Accepted {
            status: status.as_u16(),
        },
        StatusCode::UNAUTHORIZED if had_credentials => ConnReqOutcome::AuthFailed,
        StatusCode::UNAUTHORIZED => ConnReqOutcome::NoCredentials,
        StatusCode::SERVICE_UNAVAILABLE => ConnReqOutcome::Busy {
            retry_after: resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        _ => ConnReqOutcome::Unexpected {
            status: status.as_u16(),
        },
    }
}

fn transport_error(e: &reqwest::Error) -> ConnReqOutcome {
    if e.is_timeout() {
        return ConnReqOutcome::Timeout;
    }
    // reqwest's own message is generic ("error sending request"); the cause is further down.
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    ConnReqOutcome::Unreachable { reason }
}

#[cfg(test)]
mod tests;
