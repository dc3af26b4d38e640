//! HTTP serving for `acs`: the CWMP endpoint and the file server for CPEs, and the northbound
//! listener (health, metrics, the REST API).
//!
//! [`Application::build`] binds both listeners (port 0 works, for tests) and
//! [`Application::run_until_stopped`] serves until the process is told to stop.

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

/// Certificate and key files for the CWMP listener.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Everything the HTTP side needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// CWMP listener address.
    pub cwmp_listen: SocketAddr,
    /// NBI listener address.
    pub nbi_listen: SocketAddr,
    /// TLS for the CWMP listener.
    pub tls: Option<TlsFiles>,
    /// Keep-alive for CPE connections (≥ 30 s: a CPE keeps one connection per session).
    pub keep_alive: Duration,
    /// Endpoint behaviour.
    pub cwmp: CwmpConfig,
    /// CPE authentication.
    pub cpe_auth: CpeAuthConfig,
    /// Worker threads per listener; `None` = one per core.
    pub workers: Option<usize>,
    /// Connection requests (timeouts, Basic, fan-out concurrency).
    pub connreq: acs_core::connreq::ConnReqConfig,
    /// How often the job runner looks at running jobs.
    pub job_interval: Duration,
    /// Where files for CPEs (and the transfer-token key) are kept.
    pub files_dir: PathBuf,
    /// Largest file accepted for upload.
    pub max_file_bytes: u64,
    /// Zero-touch provisioning: the configuration file's rules (files already imported, see
    /// `acs_core::provision::import_config_rules`) and the retry policy.
    pub provision: ProvisionConfig,
}

/// Zero-touch provisioning settings of the server.
#[derive(Debug, Clone, Default)]
pub struct ProvisionConfig {
    /// Rules from the configuration file, with file ids.
    pub rules: Vec<acs_core::provision::RuleSpec>,
    /// Backoff and loop protection.
    pub policy: acs_core::provision::ProvisionPolicy,
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
}

/// A built, bound, not yet running server.
pub struct Application {
    cwmp_addr: SocketAddr,
    nbi_addr: SocketAddr,
    cwmp_server: Server,
    nbi_server: Server,
    state: Arc<CwmpState>,
    job_interval: Duration,
    file_server: Arc<files::FileServer>,
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
    /// Binds both listeners and prepares the servers.
    pub fn build(config: ServerConfig, store: Store) -> Result<Application, StartError> {
        // Passwords at rest are sealed with the data directory's key (a no-op when the caller
        // installed it already).
        store.install_vault(acs_core::vault::Vault::load_or_create(&config.files_dir)?);
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
        let auth =
            CpeAuth::new(config.cpe_auth.clone(), config.tls.is_some())?.with_store(store.clone());
        let state = Arc::new(CwmpState {
            ops: ops.clone(),
            store,
            informs,
            registry: registry::Registry::default(),
            auth,
            config: cwmp_config,
            orphans: Default::default(),
            files: file_server.clone(),
            provisioner: provisioner.clone(),
        });

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
                workers: config.workers,
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
        if let Some(w) = config.workers {
            nbi_http = nbi_http.workers(w);
        }
        let nbi_server = nbi_http
            .listen(nbi_listener)
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
            file_server,
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
        result
    }
}
