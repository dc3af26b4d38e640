//! `acs serve` and `acs db migrate|status`.

use crate::telemetry;
use acs_core::config::{LoadOptions, Overrides, Settings};
use acs_core::session::SessionConfig;
use acs_core::storage::{Store, StoreOptions, ensure_admin_token};
use acs_http::{Application, CpeAuthConfig, CwmpConfig, ServerConfig, TlsFiles};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use tracing::{info, warn};

/// Where the configuration comes from (shared by `serve` and `db`).
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// TOML configuration file (default: ./acs.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite database, admin token, files).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Address of the CWMP listener (CPEs).
    #[arg(long, value_name = "ADDR")]
    pub cwmp_addr: Option<SocketAddr>,
    /// Address of the northbound listener (health, metrics, API).
    #[arg(long, value_name = "ADDR")]
    pub nbi_addr: Option<SocketAddr>,
    /// Print the effective configuration (secrets redacted) and exit.
    #[arg(long)]
    pub print_config: bool,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations.
    Migrate(ConfigArgs),
    /// List migrations and whether each is applied.
    Status(ConfigArgs),
}

pub(crate) fn load(
    config: &ConfigArgs,
    cwmp: Option<SocketAddr>,
    nbi: Option<SocketAddr>,
) -> anyhow::Result<Settings> {
    Settings::load(LoadOptions {
        config_file: config.config.clone(),
        overrides: Overrides {
            data_dir: config.data_dir.clone(),
            cwmp_listen: cwmp,
            nbi_listen: nbi,
        },
    })
    .context("configuration")
}

pub(crate) async fn connect(settings: &Settings) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: settings.database.max_connections,
        ..StoreOptions::default()
    };
    // The data directory holds the database, keys and tokens: owner-only (0700).
    acs_core::vault::create_private_dir(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    let store = Store::connect(&settings.database_url(), options)
        .await
        .context("connecting to the database")?;
    // Passwords at rest are sealed with `<data-dir>/secrets.key`, on SQLite and PostgreSQL.
    store.install_vault(
        acs_core::vault::Vault::load_or_create(&settings.data_dir)
            .context("loading the secrets key")?,
    );
    Ok(store)
}

/// What the HTTP layer needs, taken from the settings.
pub fn server_config(settings: &Settings) -> ServerConfig {
    let auth = &settings.cpe_auth;
    let credentials: Vec<_> = auth
        .shared_credentials()
        .map(|(u, p)| (u.to_owned(), p.clone()))
        .into_iter()
        .collect();
    let device_credentials = auth
        .devices
        .iter()
        .map(|(id, d)| (id.clone(), d.username.clone(), d.password.clone()))
        .collect();
    ServerConfig {
        connreq: acs_core::connreq::ConnReqConfig {
            timeout: std::time::Duration::from_secs(settings.connection_request.timeout_secs),
            allow_basic: settings.connection_request.allow_basic,
            concurrency: settings.connection_request.concurrency,
            ..Default::default()
        },
        job_interval: std::time::Duration::from_secs(1),
        files_dir: settings.data_dir.clone(),
        max_file_bytes: 2 * 1024 * 1024 * 1024,
        // The rules' files are imported by `serve` (it needs the store).
        provision: acs_http::ProvisionConfig {
            rules: Vec::new(),
            policy: settings.provision.policy(),
        },
        cwmp_listen: settings.cwmp.listen,
        nbi_listen: settings.nbi.listen,
        tls: settings.cwmp.tls.as_ref().map(|t| TlsFiles {
            cert: t.cert.clone(),
            key: t.key.clone(),
        }),
        keep_alive: settings.cwmp.keep_alive(),
        cwmp: CwmpConfig {
            session: SessionConfig::default(),
            session_timeout: settings.cwmp.session_timeout(),
            max_body_bytes: settings.cwmp.max_body_bytes,
            body_timeout: settings.cwmp.body_timeout(),
            event_retention: settings.database.event_retention as usize,
            trusted_proxies: settings.cwmp.trusted_proxies.clone(),
            tls: settings.cwmp.tls.is_some(),
            provision_cr_credentials: settings.cwmp.provision_connection_request_credentials,
            bootstrap: settings.bootstrap.clone(),
        },
        cpe_auth: CpeAuthConfig {
            mode: auth.effective_mode(),
            realm: auth.realm.clone(),
            credentials,
            device_credentials,
            provision_device_credentials: auth.provision_device_credentials,
            digest_algorithms: auth.digest_algorithms.clone(),
            nonce_lifetime: auth.nonce_lifetime(),
            limiter: (&auth.limiter).into(),
            allow_insecure_basic: auth.allow_insecure_basic,
            nonce_key: None,
        },
        workers: None,
    }
}

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = load(&args.config, args.cwmp_addr, args.nbi_addr)?;
    if args.print_config {
        print!("{}", settings.redacted_toml());
        return Ok(());
    }
    telemetry::init(settings.log.format, &settings.log.filter)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        for warning in settings.warnings() {
            warn!("{warning}");
        }
        let store = connect(&settings).await?;
        store
            .migrate()
            .await
            .context("applying database migrations")?;
        // Databases from before sealing hold connection-request passwords in plain text.
        let sealed = store
            .seal_legacy_secrets()
            .await
            .context("sealing stored passwords")?;
        if sealed > 0 {
            info!(
                devices = sealed,
                "sealed plain-text connection-request passwords"
            );
        }
        // First start: an admin token for the CLI on this machine (the token
        // itself is never logged).
        match ensure_admin_token(&store, &settings.data_dir)
            .await
            .context("creating the admin token")?
        {
            Some(path) => info!(path = %path.display(), "created an admin API token"),
            None => {
                let path = settings.data_dir.join(acs_core::storage::ADMIN_TOKEN_FILE);
                if !path.exists() {
                    warn!(
                        path = %path.display(),
                        "no admin token file and a token named `admin` exists: \
                         create one with `acs token create --role admin --name NAME`"
                    );
                }
            }
        }
        let mut config = server_config(&settings);
        if !settings.provision.rules.is_empty() {
            let files = acs_core::files::FileStore::new(
                &config.files_dir,
                store.clone(),
                config.max_file_bytes,
            );
            files.prepare().context("preparing the file store")?;
            config.provision.rules =
                acs_core::provision::import_config_rules(&files, &store, &settings.provision.rules)
                    .await
                    .context("importing the files of [[provision.rules]]")?;
            info!(
                rules = config.provision.rules.len(),
                "provisioning rules from the configuration file"
            );
        }
        let app = Application::build(config, store).context("starting the servers")?;
        // Download URLs start with this; unset, with the address each CPE itself used.
        app.file_server()
            .set_base_url(settings.files.effective_base_url(&settings.cwmp));
        let orphans = app
            .cwmp_state()
            .load_orphans()
            .await
            .context("reading the task queue")?;
        if orphans > 0 {
            info!(
                devices = orphans,
                "tasks interrupted by the last stop will be resolved at each device's next Inform"
            );
        }
        info!(
            cwmp = %app.cwmp_addr(),
            nbi = %app.nbi_addr(),
            database = if settings.is_sqlite() { "sqlite" } else { "postgresql" },
            data_dir = %settings.data_dir.display(),
            "acs is serving"
        );
        app.run_until_stopped(shutdown_signal())
            .await
            .context("serving")?;
        info!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

pub fn db(command: DbCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        match command {
            DbCommand::Migrate(config) => {
                let settings = load(&config, None, None)?;
                let store = connect(&settings).await?;
                let before = store.migration_status().await?;
                store.migrate().await.context("applying migrations")?;
                let applied = before.iter().filter(|m| !m.applied).count();
                println!("{applied} migration(s) applied; the database is up to date");
            }
            DbCommand::Status(config) => {
                let settings = load(&config, None, None)?;
                let store = connect(&settings).await?;
                for m in store.migration_status().await? {
                    println!(
                        "{}\t{}",
                        if m.applied { "applied" } else { "pending" },
                        m.name
                    );
                }
            }
        }
        Ok(())
    })
}
