//! HTTP serving for `acs`: the CWMP endpoint and the file server for CPEs, and the northbound
//! listener (health, metrics, the REST API).
//!
//! [`Application::build`] does all of startup from [`Settings`] (migrations, the admin token,
//! the configuration's provisioning rules, both listeners, tasks interrupted by the last stop),
//! and [`Application::run_until_stopped`] serves until the process is told to stop. `acs serve`
//! and the test suites start the same way; nothing else prepares a server.

pub mod cpe_auth;
pub mod cwmp;
mod cwmp_service;
mod device_credentials;
pub mod edge;
pub mod files;
mod header_case;
pub mod metrics;
pub mod nbi;
pub mod registry;

use acs_core::config::Settings;
use acs_core::connreq::ConnReqClient;
use acs_core::ops::Operations;
use acs_core::storage::Store;
use actix_web::{App, HttpServer, dev::Server, web};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use cpe_auth::{CpeAuth, CpeAuthConfig};
pub use cwmp::{CwmpConfig, CwmpState};

/// Certificate and key files of a TLS listener.
#[derive(Debug, Clone)]
struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
}

/// What the servers are built from: [`Settings`] translated once, in [`ServerConfig::from`].
#[derive(Debug, Clone)]
struct ServerConfig {
    cwmp_listen: SocketAddr,
    nbi_listen: SocketAddr,
    tls: Option<TlsFiles>,
    nbi_tls: Option<TlsFiles>,
    /// Keep-alive for CPE connections (≥ 30 s: a CPE keeps one connection per session).
    keep_alive: Duration,
    cwmp: CwmpConfig,
    driver: acs_core::driver::DriverConfig,
    cpe_auth: CpeAuthConfig,
    cwmp_workers: Option<usize>,
    nbi_workers: Option<usize>,
    connreq: acs_core::connreq::ConnReqConfig,
    job_interval: Duration,
    /// Between two presence sweeps.
    presence_sweep: Duration,
    /// Where files for CPEs (and the transfer-token key) are kept.
    files_dir: PathBuf,
    max_file_bytes: u64,
    provision: ProvisionConfig,
    /// `[alerts]`: the delivery worker's settings.
    alerts: acs_core::config::AlertsSettings,
}

impl From<&Settings> for ServerConfig {
    fn from(settings: &Settings) -> ServerConfig {
        ServerConfig {
            cwmp_listen: settings.cwmp.listen,
            nbi_listen: settings.nbi.listen,
            tls: settings.cwmp.tls.as_ref().map(|t| TlsFiles {
                cert: t.cert.clone(),
                key: t.key.clone(),
            }),
            nbi_tls: settings.nbi.tls.as_ref().map(|t| TlsFiles {
                cert: t.cert.clone(),
                key: t.key.clone(),
            }),
            keep_alive: settings.cwmp.keep_alive(),
            cwmp: CwmpConfig::from(settings),
            driver: acs_core::driver::DriverConfig::from(settings),
            cpe_auth: CpeAuthConfig::from(&settings.cpe_auth),
            cwmp_workers: settings.cwmp.workers,
            nbi_workers: settings.nbi.workers,
            connreq: (&settings.connection_request).into(),
            job_interval: settings.jobs.interval(),
            presence_sweep: Duration::from_secs(settings.presence.sweep_interval_secs),
            files_dir: settings.data_dir.clone(),
            max_file_bytes: settings.files.max_bytes,
            // The rules' files are imported by `Application::build` (it needs the store).
            provision: ProvisionConfig {
                rules: Vec::new(),
                policy: settings.provision.policy(),
            },
            alerts: settings.alerts.clone(),
        }
    }
}

/// Zero-touch provisioning settings of the server.
#[derive(Debug, Clone, Default)]
struct ProvisionConfig {
    /// Rules from the configuration file, with file ids.
    rules: Vec<acs_core::provision::RuleSpec>,
    /// Backoff and loop protection.
    policy: acs_core::provision::ProvisionPolicy,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Binding a listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// TLS files unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// Authentication settings unusable.
    #[error(transparent)]
    Auth(#[from] cpe_auth::CpeAuthConfigError),
    /// The key sealing stored passwords cannot be loaded.
    #[error("secrets key: {0}")]
    Vault(#[from] acs_core::vault::VaultError),
    /// The file store cannot be used.
    #[error("file store: {0}")]
    Files(#[from] acs_core::files::FileStoreError),
    /// Connection-request client settings unusable.
    #[error(transparent)]
    ConnReq(#[from] acs_core::connreq::ConnReqError),
    /// A provisioning rule from the configuration is unusable.
    #[error("provisioning: {0}")]
    Provision(#[from] acs_core::provision::ProvisionError),
    /// The webhook client cannot be built.
    #[error(transparent)]
    Alerts(#[from] acs_core::alerts::ClientError),
    /// The database could not be prepared (migrations, admin token, stored state).
    #[error("{step}: {source}")]
    Storage {
        /// What startup was doing.
        step: &'static str,
        /// Why it failed.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StartError {
    fn storage(step: &'static str) -> impl FnOnce(acs_core::storage::StoreError) -> StartError {
        move |e| StartError::Storage {
            step,
            source: Box::new(e),
        }
    }
}

/// One presence sweep at `now` (the server runs one every `[presence] sweep_interval_secs`):
/// moves the devices whose state is due, logs and counts each change, and refreshes the
/// `acs_devices{presence}` gauges.
pub async fn sweep_presence(ops: &Operations, now: chrono::DateTime<chrono::Utc>) {
    match ops.sweep_presence(now).await {
        Ok(changes) => {
            for c in &changes {
                tracing::info!(device = %c.device_id, from = %c.from, to = %c.to, at = %c.at, "device presence changed");
            }
            for state in acs_core::presence::Presence::ALL {
                let n = changes.iter().filter(|c| c.to == state).count() as u64;
                metrics::presence_changed(state, n);
            }
        }
        Err(e) => tracing::warn!(error = %e, "presence sweep failed"),
    }
    match ops.presence_counts().await {
        Ok(counts) => metrics::devices_by_presence(&counts),
        Err(e) => tracing::warn!(error = %e, "counting devices by presence failed"),
    }
    match ops.line_counts().await {
        Ok(counts) => metrics::lines_by_status(&counts),
        Err(e) => tracing::warn!(error = %e, "counting lines by registration state failed"),
    }
    match ops.census().await {
        Ok(census) => metrics::census(&census),
        Err(e) => tracing::warn!(error = %e, "counting devices, tasks and jobs failed"),
    }
}

/// One pass of the alert worker at `now` (the server runs one every `[alerts]
/// poll_interval_secs`): sends what is due and logs what a pass could not do.
pub async fn deliver_alerts(
    deliverer: &acs_core::alerts::Deliverer,
    now: chrono::DateTime<chrono::Utc>,
) -> acs_core::alerts::DeliveryReport {
    match deliverer.deliver_due(now).await {
        Ok(report) => report,
        Err(e) => {
            tracing::warn!(error = %e, "alert delivery pass failed");
            acs_core::alerts::DeliveryReport::default()
        }
    }
}

/// A built, bound, not yet running server.
pub struct Application {
    cwmp_addr: SocketAddr,
    nbi_addr: SocketAddr,
    cwmp_server: Server,
    nbi_server: Server,
    state: Arc<CwmpState>,
    job_interval: Duration,
    presence_sweep: Duration,
    file_server: Arc<files::FileServer>,
    /// Sends the alert outbox; its timer is in `run_until_stopped`.
    alerts: acs_core::alerts::Deliverer,
    alert_poll: Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("cwmp_addr", &self.cwmp_addr)
            .field("nbi_addr", &self.nbi_addr)
            .finish_non_exhaustive()
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })
}

fn tls_config(files: &TlsFiles) -> Result<rustls::ServerConfig, StartError> {
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| StartError::Tls(format!("{}: {e}", p.display())))
    };
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StartError::Tls(format!("{}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(StartError::Tls(format!(
            "{}: no certificate found",
            files.cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| StartError::Tls(format!("{}: {e}", files.key.display())))?
        .ok_or_else(|| StartError::Tls(format!("{}: no private key found", files.key.display())))?;
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(e.to_string()))
}

impl Application {
    /// Does all of startup on a connected store: applies migrations, seals passwords stored in
    /// plain text by older versions, creates the admin token on first start, imports the
    /// configuration's provisioning rules, binds both listeners, sets the download base URL and
    /// loads the tasks an earlier stop interrupted.
    pub async fn build(settings: &Settings, store: Store) -> Result<Application, StartError> {
        // Passwords at rest are sealed with the data directory's key (a no-op when the caller
        // installed it already); before anything reads them.
        acs_core::vault::create_private_dir(&settings.data_dir).map_err(|e| {
            StartError::Storage {
                step: "creating the data directory",
                source: Box::new(e),
            }
        })?;
        store.install_vault(acs_core::vault::Vault::load_or_create(&settings.data_dir)?);
        store
            .migrate()
            .await
            .map_err(StartError::storage("applying database migrations"))?;
        // Databases from before sealing hold connection-request passwords in plain text.
        let sealed = store
            .seal_legacy_secrets()
            .await
            .map_err(StartError::storage("sealing stored passwords"))?;
        if sealed > 0 {
            tracing::info!(
                devices = sealed,
                "sealed plain-text connection-request passwords"
            );
        }
        announce_admin_token(&store, &settings.data_dir).await?;
        store.install_presence_policy(settings.presence.policy(&settings.bootstrap));
        // A source the limiter blocks stops failing, so a burst larger than its limit would
        // never be seen.
        let mut burst = settings.alerts.burst();
        burst.failures = burst
            .failures
            .min(settings.cpe_auth.limiter.max_failures.max(1));
        store.install_alerts(acs_core::alerts::AlertRouting {
            webhooks: settings.alerts.webhooks(),
            burst,
        });
        store.install_registration_names(settings.bootstrap.registration_names());
        let mut config = ServerConfig::from(settings);
        if !settings.provision.rules.is_empty() {
            let files = acs_core::files::FileStore::new(
                &config.files_dir,
                store.clone(),
                config.max_file_bytes,
            );
            files.prepare()?;
            config.provision.rules =
                acs_core::provision::import_config_rules(&files, &store, &settings.provision.rules)
                    .await?;
            tracing::info!(
                rules = config.provision.rules.len(),
                "provisioning rules from the configuration file"
            );
        }
        let app = Application::assemble(config, store)?;
        // Download URLs start with this; unset, with the address each CPE itself used.
        app.file_server
            .set_base_url(settings.files.effective_base_url(&settings.cwmp));
        let orphans = app
            .state
            .load_orphans()
            .await
            .map_err(StartError::storage("reading the task queue"))?;
        if orphans > 0 {
            tracing::info!(
                devices = orphans,
                "tasks interrupted by the last stop will be resolved at each device's next Inform"
            );
        }
        Ok(app)
    }

    /// Binds both listeners and prepares the servers.
    fn assemble(config: ServerConfig, store: Store) -> Result<Application, StartError> {
        let metrics_handle = metrics::handle();
        let mut cwmp_config = config.cwmp.clone();
        cwmp_config.tls = config.tls.is_some();
        let informs =
            acs_core::storage::InformWriter::spawn(store.clone(), cwmp_config.event_retention, 256);
        let ops = Arc::new(Operations::new(
            store.clone(),
            ConnReqClient::new(config.connreq.clone())?,
        ));
        let file_store = acs_core::files::FileStore::new(
            &config.files_dir,
            store.clone(),
            config.max_file_bytes,
        );
        file_store.prepare()?;
        let provisioner = Arc::new(acs_core::provision::Provisioner::new(
            store.clone(),
            file_store.clone(),
            config.provision.rules.clone(),
            config.provision.policy,
        )?);
        let transfer_key = acs_core::files::load_or_create_transfer_key(&config.files_dir)?;
        let file_server = Arc::new(files::FileServer::new(
            file_store,
            store.clone(),
            transfer_key,
        ));
        let auth = Arc::new(
            CpeAuth::new(config.cpe_auth.clone(), config.tls.is_some())?.with_store(store.clone()),
        );
        let driver = Arc::new(acs_core::driver::Driver::new(
            ops.clone(),
            informs,
            provisioner.clone(),
            file_server.clone(),
            config.driver.clone(),
        ));
        let alerts = acs_core::alerts::Deliverer::new(
            store.clone(),
            config.alerts.webhooks(),
            config.alerts.retry(),
            Duration::from_secs(config.alerts.timeout_secs),
        )?;
        let proxies = web::Data::new(edge::TrustedProxies(cwmp_config.trusted_proxies.clone()));
        let state = Arc::new(CwmpState {
            driver,
            ops: ops.clone(),
            registry: registry::Registry::default(),
            auth: auth.clone(),
            config: cwmp_config,
        });
        let auth_data = web::Data::from(auth);
        let cwmp_provision = web::Data::from(provisioner.clone());
        let files_data = web::Data::new(file_server.clone());

        let cwmp_listener = bind(config.cwmp_listen)?;
        let cwmp_addr = cwmp_listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                addr: config.cwmp_listen,
                source,
            })?;
        let data = web::Data::from(state.clone());
        let max_body = state.config.max_body_bytes;
        let cwmp_app = move || {
            App::new()
                .wrap_fn(edge::note_responses)
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(files_data.clone())
                .app_data(auth_data.clone())
                .app_data(proxies.clone())
                .app_data(cwmp_provision.clone())
                .service(
                    web::resource("/files/t/{token}/{name}")
                        .route(web::get().to(files::download))
                        .route(web::head().to(files::download)),
                )
                .service(
                    web::resource("/files/d/{name}")
                        .route(web::get().to(files::download_authenticated))
                        .route(web::head().to(files::download_authenticated)),
                )
                .default_service(web::post().to(cwmp::endpoint))
        };
        let tls = match &config.tls {
            Some(files) => Some(tls_config(files)?),
            None => None,
        };
        let cwmp_server = cwmp_service::serve(
            cwmp_service::Listener {
                socket: cwmp_listener,
                keep_alive: config.keep_alive.max(Duration::from_secs(30)),
                workers: config.cwmp_workers,
                tls,
            },
            cwmp_app,
        )
        .map_err(|source| StartError::Bind {
            addr: cwmp_addr,
            source,
        })?;

        let nbi_listener = bind(config.nbi_listen)?;
        let nbi_addr = nbi_listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                addr: config.nbi_listen,
                source,
            })?;
        let handle = web::Data::new(metrics_handle);
        let ops_data = web::Data::from(ops);
        let nbi_files = web::Data::new(file_server.clone());
        let nbi_provision = web::Data::from(provisioner);
        let mut nbi_http = HttpServer::new(move || {
            App::new()
                .app_data(handle.clone())
                .app_data(ops_data.clone())
                .app_data(nbi_files.clone())
                .app_data(nbi_provision.clone())
                .route("/healthz", web::get().to(nbi::healthz))
                .route("/metrics", web::get().to(nbi::metrics))
                .configure(nbi::api)
        })
        .disable_signals();
        if let Some(w) = config.nbi_workers {
            nbi_http = nbi_http.workers(w);
        }
        let nbi_http = match &config.nbi_tls {
            Some(files) => nbi_http.listen_rustls_0_23(nbi_listener, tls_config(files)?),
            None => nbi_http.listen(nbi_listener),
        };
        let nbi_server = nbi_http
            .map_err(|source| StartError::Bind {
                addr: nbi_addr,
                source,
            })?
            .run();

        Ok(Application {
            cwmp_addr,
            nbi_addr,
            cwmp_server,
            nbi_server,
            state,
            job_interval: config.job_interval,
            presence_sweep: config.presence_sweep,
            file_server,
            alerts,
            alert_poll: Duration::from_secs(config.alerts.poll_interval_secs),
        })
    }

    /// The bound CWMP address (the real port when 0 was asked for).
    pub fn cwmp_addr(&self) -> SocketAddr {
        self.cwmp_addr
    }

    /// The bound NBI address.
    pub fn nbi_addr(&self) -> SocketAddr {
        self.nbi_addr
    }

    /// The file server (download URLs for tests and pushes).
    pub fn file_server(&self) -> Arc<files::FileServer> {
        self.file_server.clone()
    }

    /// The endpoint state, for tests that drive expiry explicitly.
    pub fn cwmp_state(&self) -> Arc<CwmpState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves (or a server fails), then stops gracefully.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let cwmp_handle = self.cwmp_server.handle();
        let nbi_handle = self.nbi_server.handle();
        let state = self.state.clone();
        let sweep_every = (state.config.session_timeout / 4)
            .clamp(Duration::from_millis(250), Duration::from_secs(15));
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(sweep_every);
            loop {
                tick.tick().await;
                cwmp::expire_idle(&state, Instant::now()).await;
            }
        });
        let ops = self.state.ops.clone();
        let job_interval = self.job_interval.max(Duration::from_millis(50));
        let job_runner = tokio::spawn(async move {
            let mut tick = tokio::time::interval(job_interval);
            loop {
                tick.tick().await;
                if let Err(e) = ops.run_jobs_once().await {
                    tracing::warn!(error = %e, "job runner pass failed");
                }
            }
        });
        let ops = self.state.ops.clone();
        let presence_sweep = self.presence_sweep.max(Duration::from_secs(1));
        let presence_sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(presence_sweep);
            loop {
                tick.tick().await;
                sweep_presence(&ops, chrono::Utc::now()).await;
            }
        });
        let deliverer = self.alerts.clone();
        let alert_poll = self.alert_poll.max(Duration::from_secs(1));
        let alert_worker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(alert_poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                deliver_alerts(&deliverer, chrono::Utc::now()).await;
            }
        });
        let servers = async { tokio::try_join!(self.cwmp_server, self.nbi_server).map(|_| ()) };
        let result = tokio::select! {
            r = servers => r,
            () = shutdown => {
                tokio::join!(cwmp_handle.stop(true), nbi_handle.stop(true));
                Ok(())
            }
        };
        sweeper.abort();
        job_runner.abort();
        presence_sweeper.abort();
        alert_worker.abort();
        result
    }
}

/// First start: an admin token for the CLI on this machine (the token itself is never logged).
async fn announce_admin_token(store: &Store, data_dir: &std::path::Path) -> Result<(), StartError> {
    match acs_core::storage::ensure_admin_token(store, data_dir)
        .await
        .map_err(StartError::storage("creating the admin token"))?
    {
        Some(path) => tracing::info!(path = %path.display(), "created an admin API token"),
        None => {
            let path = data_dir.join(acs_core::storage::ADMIN_TOKEN_FILE);
            if !path.exists() {
                tracing::warn!(
                    path = %path.display(),
                    "no admin token file and a token named `admin` exists: \
                     create one with `acs token create --role admin --name NAME`"
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(file: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src")
            .join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The layering the code map promises: the CWMP endpoint is HTTP around the driver, the
    /// file server and the metrics do not reach back into it, and the NBI's handlers reach the
    /// ACS through `Operations`, never the store or sea-orm.
    #[test]
    fn the_modules_keep_to_their_layer() {
        let cwmp = source("cwmp.rs");
        assert!(cwmp.contains("acs_core::driver"));
        for forbidden in [
            "crate::files",
            "tasks::Payload",
            "TaskSpec",
            ".store",
            "enqueue_task",
        ] {
            assert!(!cwmp.contains(forbidden), "cwmp.rs uses {forbidden}");
        }
        for file in ["files.rs", "metrics.rs", "device_credentials.rs"] {
            assert!(
                !source(file).contains("crate::cwmp"),
                "{file} imports cwmp.rs"
            );
        }
        let nbi =
            std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/nbi"))
                .unwrap()
                .map(|e| e.unwrap().path());
        for path in nbi {
            let text = std::fs::read_to_string(&path).unwrap();
            for forbidden in [".store()", "sea_orm", "Store,", "&Store"] {
                assert!(
                    !text.contains(forbidden),
                    "{} uses {forbidden}",
                    path.display()
                );
            }
        }
    }

    /// Every value the servers start with comes from `Settings`: a changed setting reaches
    /// the server (nothing is fixed in code on the way).
    #[test]
    fn every_server_value_comes_from_the_settings() {
        let mut settings = Settings::default();
        settings.cwmp.hold_requests = true;
        settings.cwmp.workers = Some(3);
        settings.nbi.workers = Some(5);
        settings.jobs.interval_ms = 250;
        settings.files.max_bytes = 1234;
        settings.connection_request.min_interval_secs = 7;
        settings.cwmp.session_timeout_secs = 99;
        settings.data_dir = "/srv/acs".into();
        let config = ServerConfig::from(&settings);
        assert!(config.driver.session.hold_requests);
        assert_eq!(
            (config.cwmp_workers, config.nbi_workers),
            (Some(3), Some(5))
        );
        assert_eq!(config.job_interval, Duration::from_millis(250));
        assert_eq!(config.max_file_bytes, 1234);
        assert_eq!(config.connreq.min_interval, Duration::from_secs(7));
        assert_eq!(config.cwmp.session_timeout, Duration::from_secs(99));
        assert_eq!(config.files_dir, PathBuf::from("/srv/acs"));
        // And the defaults are the settings' defaults, not a second copy.
        let defaults = ServerConfig::from(&Settings::default());
        assert!(!defaults.driver.session.hold_requests);
        assert_eq!(defaults.job_interval, Duration::from_secs(1));
        assert_eq!(defaults.max_file_bytes, 2 * 1024 * 1024 * 1024);
    }
}
