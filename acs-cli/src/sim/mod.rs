//! The CPE simulator: thousands of simulated TR-069 devices in one tokio process.
//!
//! Every device has its own data model ([`model::DataModel`], built from a [`profile::Profile`]),
//! its own pending events, retry count and pending TransferCompletes. All devices share one
//! HTTP client (connection pooling; cookies are kept per device and per session by the
//! simulator itself) and one connection-request listener. No thread per device: in background
//! mode each device is one tokio task that sleeps until its next timer or trigger.
//!
//! # Two ways to drive it
//!
//! **Explicit (tests).** [`Simulator::start`] binds the connection-request listener and builds
//! the devices; nothing talks to the ACS until the caller says so. Every step is awaited, so a
//! test never depends on timing:
//!
//! ```no_run
//! # async fn demo() -> Result<(), acs_cli::sim::SimError> {
//! use acs_cli::sim::{Simulator, SimConfig, Profile};
//! let profile = Profile::builtin("cisco-mpp").unwrap();
//! let mut config = SimConfig::new("http://127.0.0.1:7547/", 1, profile);
//! config.username = Some("cpe".into());
//! config.password = Some("secret".into());
//! let sim = Simulator::start(config).await?;
//! let report = sim.run_session(0, vec![]).await?; // first contact: 0 BOOTSTRAP + 1 BOOT
//! assert!(report.succeeded() && report.ended_with_204);
//! let device = sim.device(0);
//! println!("{} {} {}", device.serial(), device.device_id(), device.cr_url());
//! // ... make the ACS send a connection request, then:
//! sim.wait_for_connection_request(0).await?;
//! let report = sim.run_session(0, vec![]).await?; // carries 6 CONNECTION REQUEST
//! # let _ = report;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! [`Simulator::run_session`] runs one complete session (one attempt: Inform, the device's own
//! requests, the ACS's requests, until 204) and then, before returning, carries out what the
//! ACS asked for, as the device would after the session:
//! - Reboot: the next session carries `1 BOOT` + `M Reboot` (CommandKey).
//! - FactoryReset: the data model is reset; the next session carries `0 BOOTSTRAP` + `1 BOOT`.
//! - Download / Upload: the file is fetched (HTTP GET) or sent (HTTP PUT) at once (DelaySeconds
//!   is ignored in explicit mode); the next session carries `7 TRANSFER COMPLETE` + `M Download`
//!   (or `M Upload`) and sends the TransferComplete. A firmware image is installed (an MPP phone
//!   takes `sip88xx.<version>.loads` and then reports SoftwareVersion `sip88xx.<version>`) and
//!   the device reboots, so the next Inform also carries `1 BOOT` (and `4 VALUE CHANGE`:
//!   SoftwareVersion is forceEnabled); a Cisco flat-profile configuration file is parsed and
//!   applied ([`DeviceHandle::flat_profile`] keeps the settings the data model has no parameter
//!   for). Faults: 9018 for an image the device does not take or a malformed configuration file
//!   (nothing changes), 9012/9016/9010/9015/9017 for HTTP 401–403/404/other statuses/no
//!   connection/a cut-off transfer (details in `transfer.rs`).
//! - ScheduleInform: the next session carries `3 SCHEDULED` + `M ScheduleInform` (the delay is
//!   not waited for in explicit mode).
//!
//! The events of an Inform are: the `events` argument, plus everything pending (above, plus
//! `0 BOOTSTRAP` + `1 BOOT` on first contact, `6 CONNECTION REQUEST` after an accepted
//! connection request, `4 VALUE CHANGE` when a parameter with notification changed), sorted
//! and without duplicates; `2 PERIODIC` when that leaves nothing. A failed session (transport
//! error, HTTP error status, a fault to the Inform) increments RetryCount and keeps the events
//! for the next attempt (except `6 CONNECTION REQUEST`, never retried); a session that ends
//! with 204 (or an empty 200) resets it.
//!
//! **Background (CLI, load tests).** [`Simulator::run`] starts one task per device: first
//! contact at a random moment within [`SimConfig::ramp`], `2 PERIODIC` every
//! [`SimConfig::interval`] (when [`SimConfig::periodic`]), sessions triggered by connection
//! requests, reboots that take [`SimConfig::reboot_delay`], transfers and ScheduleInform after
//! their DelaySeconds, and retries with the TR-069 backoff (a random wait in
//! `[m·k^(n-1), m·k^n]`, m = [`SimConfig::retry_base`], k = [`SimConfig::retry_multiplier`],
//! n = RetryCount capped at 10). [`Simulator::wait_for_session`] waits for a device's n-th
//! session without sleeping.
//!
//! # Connection requests
//!
//! One HTTP listener ([`SimConfig::cr_listen`]) serves every device at
//! `http://{cr_host or the bound IP}:{port}/{serial}`; the URL is in the device's
//! `ManagementServer.ConnectionRequestURL`, so the Inform reports it. A GET is authenticated
//! with HTTP Digest against `ConnectionRequestUsername`/`ConnectionRequestPassword`; **when
//! ConnectionRequestPassword is empty the request is accepted without authentication** (real
//! CPEs differ here; the built-in profiles ship with an empty password until the ACS sets one).
//! Answers: 200 (empty body) = accepted, 401 = challenge (missing or wrong credentials, or
//! `stale=true`), 503 = a session is in progress or the device is rebooting, 404 = unknown
//! serial, 405 = not a GET.
//!
//! # Voice lines
//!
//! A phone's TR-104 `Line.{i}.Status` follows its `Enable` (a line switched on registers: `Up`;
//! off: `Disabled`). [`DeviceHandle::deregister_line`] / [`DeviceHandle::register_line`], or
//! `POST /{serial}/lines/{n}/deregister` (`…/register`) on the connection-request listener,
//! lose and regain a registration (`Error` / `Up`), as the device itself would: with active
//! notification on the Status a running device informs at once with `4 VALUE CHANGE`.
//!
//! # The wire
//!
//! POSTs carry `Content-Type: text/xml; charset="utf-8"` and an empty `SOAPAction` header; the
//! empty POST has no body and neither header. Cookies set by the ACS are returned on every later
//! POST of the session. A 401 is answered with Digest (nc incrementing, fresh cnonce, the nonce
//! reused for the rest of the session, a `stale=true` challenge answered again) or Basic. The
//! profile's cwmp namespace is used for every message; every response echoes the request's
//! `cwmp:ID`. HoldRequests=true on an InformResponse (or TransferCompleteResponse) makes the
//! next POST the empty one; the TransferComplete then waits for a later session.
//!
//! The benchmark (`acs sim --bench`) is in [`bench`].

pub mod bench;
mod cr;
mod device;
mod flat_profile;
mod lines;
pub mod model;
pub mod profile;
mod rpc;
mod runner;
mod session;
mod transfer;

#[cfg(test)]
mod fake_acs;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use acs_core::auth::{DigestAlgorithm, DigestAuthenticator};
use acs_core::cwmp::{CwmpNamespace, EventStruct, TransferComplete};
use tokio::sync::{Semaphore, watch};

pub use device::DeviceHandle;
pub use profile::Profile;
pub use runner::{retry_delay, retry_delay_range};
pub use session::SessionReport;

use device::DeviceSlot;
use model::{DeviceVars, Schema};

/// Everything a simulator run needs. Build with [`SimConfig::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The ACS URL the devices POST to (`http://host:port/path`).
    pub acs_url: String,
    /// Number of devices.
    pub devices: usize,
    /// The kind of device.
    pub profile: Profile,
    /// Serial-number prefix; `None` = [`Profile::serial_prefix`] (`FCH` for cisco-mpp).
    pub serial_prefix: Option<String>,
    /// The number of device 0: device `i` has serial `{prefix}{serial_start + i:06}`.
    pub serial_start: u64,
    /// HTTP credentials for the ACS, shared by all devices (also written to the data model's
    /// `ManagementServer.Username`/`Password`). `None` = answer no challenge.
    pub username: Option<String>,
    /// See [`SimConfig::username`].
    pub password: Option<String>,
    /// Where the connection-request listener binds (`127.0.0.1:0` = any free port).
    pub cr_listen: SocketAddr,
    /// Host put into ConnectionRequestURL; `None` = the bound IP (for an unspecified address,
    /// the local address that routes to the ACS).
    pub cr_host: Option<String>,
    /// Background mode: send `2 PERIODIC` every `interval`. `false` = no periodic timers.
    pub periodic: bool,
    /// Periodic inform interval; also written to `ManagementServer.PeriodicInformInterval`
    /// (the ACS may change it there).
    pub interval: Duration,
    /// Background mode: first contacts are spread uniformly over this time.
    pub ramp: Duration,
    /// m of the retry backoff (TR-069 default 5 s; tests use tiny values).
    pub retry_base: Duration,
    /// k of the retry backoff (TR-069 default 2.0).
    pub retry_multiplier: f64,
    /// Background mode: how long a reboot takes.
    pub reboot_delay: Duration,
    /// Background mode: most sessions in progress at once.
    pub concurrency: usize,
    /// Timeout of each HTTP request to the ACS; for file transfers, of connecting and of each
    /// read.
    pub http_timeout: Duration,
}

impl SimConfig {
    /// Defaults: no credentials, listener on `127.0.0.1:0`, periodic informs every 300 s,
    /// no ramp, retry base 5 s × 2, reboot 1 s, 100 concurrent sessions, 30 s HTTP timeout.
    pub fn new(acs_url: impl Into<String>, devices: usize, profile: Profile) -> SimConfig {
        SimConfig {
            acs_url: acs_url.into(),
            devices,
            profile,
            serial_prefix: None,
            serial_start: 0,
            username: None,
            password: None,
            cr_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            cr_host: None,
            periodic: true,
            interval: Duration::from_secs(300),
            ramp: Duration::ZERO,
            retry_base: Duration::from_secs(5),
            retry_multiplier: 2.0,
            reboot_delay: Duration::from_secs(1),
            concurrency: 100,
            http_timeout: Duration::from_secs(30),
        }
    }

    /// The serial number of device `i`.
    pub fn serial(&self, i: usize) -> String {
        let prefix = self
            .serial_prefix
            .as_deref()
            .unwrap_or_else(|| self.profile.serial_prefix());
        format!("{prefix}{:06}", self.serial_start + i as u64)
    }
}

/// Why the simulator could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Profile(#[from] profile::ProfileError),
    #[error("invalid ACS URL {url:?}: {reason}")]
    AcsUrl { url: String, reason: String },
    #[error("cannot bind the connection-request listener on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("no device {index} (the simulator has {count})")]
    NoSuchDevice { index: usize, count: usize },
    #[error("the simulator is shut down")]
    ShutDown,
}

/// Counters over all devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Sessions that ended normally.
    pub sessions_ok: u64,
    /// Sessions that failed.
    pub sessions_failed: u64,
    /// Connection requests accepted (200).
    pub connection_requests: u64,
    /// Connection requests refused (401, 503, 404).
    pub connection_requests_refused: u64,
    /// Sessions in progress now.
    pub active_sessions: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    sessions_ok: AtomicU64,
    sessions_failed: AtomicU64,
    crs: AtomicU64,
    crs_refused: AtomicU64,
    active: AtomicU64,
}

/// What every device shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: SimConfig,
    pub namespace: CwmpNamespace,
    pub acs_url: reqwest::Url,
    /// The request target of the ACS URL (path and query), for Digest's `uri`.
    pub acs_uri: String,
    /// To the ACS: no redirects, shared pool.
    pub client: reqwest::Client,
    /// To file servers: follows redirects.
    pub transfer_client: reqwest::Client,
    pub devices: Vec<Arc<DeviceSlot>>,
    pub by_serial: HashMap<String, usize>,
    pub cr_auth: DigestAuthenticator,
    pub session_permits: Semaphore,
    pub counters: Counters,
    next_id: AtomicU64,
}

impl Shared {
    /// A fresh cwmp:ID for a request the device makes.
    pub fn next_message_id(&self) -> String {
        format!("sim-{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// `{root}{suffix}` for the profile's root object.
    pub fn param(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.config.profile.root)
    }
}

/// A running simulator. See the module documentation.
#[derive(Debug)]
pub struct Simulator {
    shared: Arc<Shared>,
    cr_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Simulator {
    /// Binds the connection-request listener and builds the devices. No session is started.
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        // reqwest builds a rustls configuration; with two crypto providers compiled into the
        // workspace, rustls needs one chosen explicitly.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        if config.concurrency == 0 {
            return Err(SimError::Config("concurrency must be at least 1".into()));
        }
        if config.retry_multiplier < 1.0 {
            return Err(SimError::Config(
                "retry multiplier must be at least 1".into(),
            ));
        }
        let acs_url = reqwest::Url::parse(&config.acs_url).map_err(|e| SimError::AcsUrl {
            url: config.acs_url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(acs_url.scheme(), "http" | "https") || acs_url.host_str().is_none() {
            return Err(SimError::AcsUrl {
                url: config.acs_url.clone(),
                reason: "must be an http:// or https:// URL with a host".into(),
            });
        }
        let acs_uri = match acs_url.query() {
            Some(q) => format!("{}?{q}", acs_url.path()),
            None => acs_url.path().to_owned(),
        };
        let namespace =
            CwmpNamespace::parse(&config.profile.supports.cwmp_namespace).ok_or_else(|| {
                SimError::Config(format!(
                    "profile namespace {:?} is not a cwmp namespace",
                    config.profile.supports.cwmp_namespace
                ))
            })?;
        let schema = Schema::new(&config.profile)?;

        let listener = tokio::net::TcpListener::bind(config.cr_listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.cr_listen,
                source,
            })?;
        let cr_addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.cr_listen,
            source,
        })?;
        let cr_host = match &config.cr_host {
            Some(h) => h.clone(),
            None => host_for_url(advertised_ip(cr_addr.ip(), &acs_url).await),
        };

        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        // Images can be large: no overall timeout, but a stalled transfer fails.
        let transfer_client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(10))
            .read_timeout(config.http_timeout)
            .connect_timeout(config.http_timeout)
            .build()?;

        let mut devices = Vec::with_capacity(config.devices);
        let mut by_serial = HashMap::with_capacity(config.devices);
        for i in 0..config.devices {
            let serial = config.serial(i);
            let cr_url = format!("http://{cr_host}:{}/{serial}", cr_addr.port());
            let vars = DeviceVars::new(
                &config.profile,
                serial.clone(),
                synthetic_ip(i),
                cr_url.clone(),
                config.acs_url.clone(),
            );
            let slot = DeviceSlot::new(i, Arc::clone(&schema), vars, cr_url, &config);
            if by_serial.insert(serial.clone(), i).is_some() {
                return Err(SimError::Config(format!("duplicate serial {serial}")));
            }
            devices.push(Arc::new(slot));
        }

        let cr_auth = DigestAuthenticator::new(
            "acs-sim connection request",
            DigestAuthenticator::random_key(),
            Duration::from_secs(300),
            vec![DigestAlgorithm::Md5],
        )
        .map_err(|e| SimError::Config(e.to_string()))?;

        let shared = Arc::new(Shared {
            session_permits: Semaphore::new(config.concurrency),
            config,
            namespace,
            acs_url,
            acs_uri,
            client,
            transfer_client,
            devices,
            by_serial,
            cr_auth,
            counters: Counters::default(),
            next_id: AtomicU64::new(1),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let listener_task = cr::spawn(listener, Arc::clone(&shared), shutdown_rx);
        Ok(Simulator {
            shared,
            cr_addr,
            shutdown,
            tasks: std::sync::Mutex::new(vec![listener_task]),
        })
    }

    /// The number of devices.
    pub fn len(&self) -> usize {
        self.shared.devices.len()
    }

    /// Whether there are no devices.
    pub fn is_empty(&self) -> bool {
        self.shared.devices.is_empty()
    }

    /// The address the connection-request listener is bound to.
    pub fn cr_addr(&self) -> SocketAddr {
        self.cr_addr
    }

    /// Device `index`. Panics if there is no such device (see [`Simulator::try_device`]).
    pub fn device(&self, index: usize) -> DeviceHandle {
        self.try_device(index)
            .unwrap_or_else(|e| panic!("Simulator::device: {e}"))
    }

    /// Device `index`, or [`SimError::NoSuchDevice`].
    pub fn try_device(&self, index: usize) -> Result<DeviceHandle, SimError> {
        self.slot(index).map(DeviceHandle::new)
    }

    /// The device with this serial number.
    pub fn device_by_serial(&self, serial: &str) -> Option<DeviceHandle> {
        let i = *self.shared.by_serial.get(serial)?;
        Some(DeviceHandle::new(Arc::clone(&self.shared.devices[i])))
    }

    fn slot(&self, index: usize) -> Result<Arc<DeviceSlot>, SimError> {
        self.shared
            .devices
            .get(index)
            .cloned()
            .ok_or(SimError::NoSuchDevice {
                index,
                count: self.shared.devices.len(),
            })
    }

    /// Runs one complete session of device `index` (waiting for one in progress to end first)
    /// and then carries out what the ACS asked for (see the module documentation). `events`
    /// are added to whatever is pending; empty = just what is pending. Protocol failures are
    /// in the report ([`SessionReport::succeeded`]); `Err` only for a bad index or after
    /// shutdown.
    pub async fn run_session(
        &self,
        index: usize,
        events: Vec<EventStruct>,
    ) -> Result<SessionReport, SimError> {
        if *self.shutdown.borrow() {
            return Err(SimError::ShutDown);
        }
        let slot = self.slot(index)?;
        Ok(device::explicit_session(&self.shared, &slot, events).await)
    }

    /// Resolves once a connection request for device `index` has been accepted and not yet
    /// consumed by a session (immediately if one already is). The next
    /// [`Simulator::run_session`] carries `6 CONNECTION REQUEST`.
    pub async fn wait_for_connection_request(&self, index: usize) -> Result<(), SimError> {
        let slot = self.slot(index)?;
        let mut rx = slot.signal.subscribe();
        let mut stop = self.shutdown.subscribe();
        tokio::select! {
            r = rx.wait_for(|_| slot.connection_request_pending()) => {
                r.map(|_| ()).map_err(|_| SimError::ShutDown)
            }
            _ = stop.wait_for(|s| *s) => Err(SimError::ShutDown),
        }
    }

    /// Resolves once device `index` has finished at least `count` sessions (explicit and
    /// background ones, failed ones included), with the report of the latest. Read
    /// [`DeviceHandle::sessions`] before triggering something, then wait for one more.
    pub async fn wait_for_session(
        &self,
        index: usize,
        count: u64,
    ) -> Result<SessionReport, SimError> {
        let slot = self.slot(index)?;
        let mut rx = slot.signal.subscribe();
        let mut stop = self.shutdown.subscribe();
        tokio::select! {
            r = rx.wait_for(|_| slot.sessions() >= count) => {
                r.map_err(|_| SimError::ShutDown)?;
            }
            _ = stop.wait_for(|s| *s) => return Err(SimError::ShutDown),
        }
        slot.last_report().ok_or(SimError::ShutDown)
    }

    /// Background mode: one task per device (first contact within the ramp, periodic informs,
    /// connection-request sessions, reboots, transfers, retries). Returns at once; calling it
    /// again does nothing. Stop with [`Simulator::shutdown`].
    pub fn run(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if tasks.len() > 1 || *self.shutdown.borrow() {
            return;
        }
        for slot in &self.shared.devices {
            tasks.push(tokio::spawn(runner::device_task(
                Arc::clone(&self.shared),
                Arc::clone(slot),
                self.shutdown.subscribe(),
            )));
        }
    }

    /// Counters over all devices.
    pub fn stats(&self) -> SimStats {
        let c = &self.shared.counters;
        SimStats {
            sessions_ok: c.sessions_ok.load(Ordering::Relaxed),
            sessions_failed: c.sessions_failed.load(Ordering::Relaxed),
            connection_requests: c.crs.load(Ordering::Relaxed),
            connection_requests_refused: c.crs_refused.load(Ordering::Relaxed),
            active_sessions: c.active.load(Ordering::Relaxed),
        }
    }

    /// Every pending TransferComplete of every device (for reports).
    pub fn pending_transfer_completes(&self) -> Vec<(String, TransferComplete)> {
        self.shared
            .devices
            .iter()
            .flat_map(|d| {
                let serial = d.serial.clone();
                d.pending_transfer_completes()
                    .into_iter()
                    .map(move |t| (serial.clone(), t))
            })
            .collect()
    }

    /// Stops the background tasks and the listener, letting sessions in progress end first.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// A distinct private address per device, for `{ip}` (WAN address, …).
fn synthetic_ip(i: usize) -> String {
    let n = (i as u32).wrapping_add(1);
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// The IP to advertise in ConnectionRequestURL: the bound one, or for an unspecified address
/// the local address of a route to the ACS (a UDP "connect" sends nothing).
async fn advertised_ip(bound: IpAddr, acs: &reqwest::Url) -> IpAddr {
    if !bound.is_unspecified() {
        return bound;
    }
    let fallback = if bound.is_ipv4() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
    };
    let Some(host) = acs.host_str() else {
        return fallback;
    };
    let port = acs.port_or_known_default().unwrap_or(80);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(mut addrs) = tokio::net::lookup_host((host, port)).await else {
        return fallback;
    };
    let Some(target) = addrs.find(|a| a.is_ipv4() == bound.is_ipv4()) else {
        return fallback;
    };
    let local = SocketAddr::new(bound, 0);
    match tokio::net::UdpSocket::bind(local).await {
        Ok(sock) if sock.connect(target).await.is_ok() => {
            sock.local_addr().map(|a| a.ip()).unwrap_or(fallback)
        }
        _ => fallback,
    }
}

fn host_for_url(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}
