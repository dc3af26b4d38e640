//! `acs serve` and `acs db migrate|status`.

use crate::telemetry;
use acs_core::config::{LoadOptions, Overrides, Settings};
use acs_core::storage::{Store, StoreOptions};
use acs_http::Application;
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
        let app = Application::build(&settings, store)
            .await
            .context("starting the servers")?;
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
