//! `acs cpe-credentials set|list|remove`: per-device CPE credentials in the database.
//!
//! A device's credentials (its `ManagementServer.Username`/`.Password`) authenticate only that
//! device, named by its identity `OUI-ProductClass-SerialNumber` (or `OUI-SerialNumber`) as the
//! ACS stores it. Like `acs token`, these commands run on the ACS machine: they read the
//! server's configuration, open its database directly and seal passwords with
//! `<data-dir>/secrets.key`. A running server sees a change at the device's next session.

use std::io::{BufRead as _, IsTerminal as _};

use acs_core::config::Settings;
use acs_core::secret::Secret;
use acs_core::storage::{CredentialOrigin, DeviceCredentialInfo, StoreError};
use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::cmd::serve::{ConfigArgs, connect, load};

#[derive(Debug, Subcommand)]
#[command(
    after_help = "These commands run on the ACS machine: they use the server's configuration \
                  (--config, --data-dir, ACS_* variables) and open its database directly."
)]
pub enum CpeCredentialsCommand {
    /// Set (or replace) a device's credentials; the password is read from standard input
    /// (--password-stdin) or prompted for.
    Set(SetArgs),
    /// List devices with credentials of their own (never their passwords).
    List(ListArgs),
    /// Remove a device's credentials (it may use the shared pair again).
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The device: `OUI-ProductClass-SerialNumber` (or `OUI-SerialNumber`), as in `acs devices`.
    #[arg(value_name = "DEVICE")]
    pub device: String,
    /// The username the device presents (its ManagementServer.Username).
    #[arg(long, value_name = "USERNAME")]
    pub username: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

// The same `list` options as `acs token list`, which also runs on the ACS machine.
pub use super::token::{ListArgs, ListFormat};

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The device.
    #[arg(value_name = "DEVICE")]
    pub device: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Longest username or password accepted (ManagementServer.Username/Password are string(256)).
const MAX_LEN: usize = 256;

pub fn run(command: CpeCredentialsCommand) -> anyhow::Result<()> {
    // Read before anything else, so a prompt is not interleaved with log output.
    let (password, config) = match &command {
        CpeCredentialsCommand::Set(a) => (Some(read_password(a.password_stdin)?), &a.config),
        CpeCredentialsCommand::List(a) => (None, &a.config),
        CpeCredentialsCommand::Remove(a) => (None, &a.config),
    };
    let settings = load(config, None, None)?;
    if let CpeCredentialsCommand::Set(a) = &command {
        check_set(&settings, a, password.as_ref())?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let store = connect(&settings).await?;
        store
            .migrate()
            .await
            .context("applying database migrations")?;
        let result = match command {
            CpeCredentialsCommand::Set(a) => {
                let password = password.unwrap_or_default();
                match store
                    .set_device_credential(
                        &a.device,
                        &a.username,
                        &password,
                        CredentialOrigin::Operator,
                    )
                    .await
                {
                    Ok(()) => {
                        eprintln!(
                            "credentials of {} set (username `{}`)",
                            a.device, a.username
                        );
                        Ok(())
                    }
                    Err(StoreError::AlreadyExists(what)) => Err(anyhow::anyhow!(
                        "{what} already exists: usernames name one device"
                    )),
                    Err(e) => Err(e.into()),
                }
            }
            CpeCredentialsCommand::List(a) => {
                let list = store.list_device_credentials().await?;
                match a.format {
                    ListFormat::Json => {
                        let rows: Vec<_> = list.iter().map(json_row).collect();
                        println!("{}", serde_json::to_string_pretty(&rows)?);
                    }
                    ListFormat::Table => println!("{}", table(&list)),
                }
                Ok(())
            }
            CpeCredentialsCommand::Remove(a) => {
                if store.remove_device_credential(&a.device).await? {
                    eprintln!("credentials of {} removed", a.device);
                    Ok(())
                } else {
                    Err(anyhow::anyhow!(
                        "device {} has no credentials in the database",
                        a.device
                    ))
                }
            }
        };
        let _ = store.close().await;
        result
    })
}

/// Refuses what would make a username name more than one device or clash with the
/// configuration file.
fn check_set(settings: &Settings, a: &SetArgs, password: Option<&Secret>) -> anyhow::Result<()> {
    let device = a.device.trim();
    if device.is_empty() || device != a.device || device.chars().any(char::is_whitespace) {
        bail!(
            "invalid device {:?}: use the device id as `acs devices` shows it",
            a.device
        );
    }
    if a.username.is_empty() || a.username.chars().count() > MAX_LEN {
        bail!("the username must be 1 to {MAX_LEN} characters");
    }
    if password.is_none_or(|p| p.is_empty() || p.expose().chars().count() > MAX_LEN) {
        bail!("the password must be 1 to {MAX_LEN} characters");
    }
    let auth = &settings.cpe_auth;
    if auth.username.as_deref() == Some(a.username.as_str()) {
        bail!(
            "`{}` is the shared username ([cpe_auth] username): a device's credentials must \
             name only that device",
            a.username
        );
    }
    if auth.device_credentials(&a.device).is_some() {
        bail!(
            "{} has credentials in the configuration file ([cpe_auth.devices]); change them there",
            a.device
        );
    }
    if let Some((other, _)) = auth.devices.iter().find(|(_, d)| d.username == a.username) {
        bail!(
            "username `{}` belongs to {other} in the configuration file ([cpe_auth.devices])",
            a.username
        );
    }
    Ok(())
}

fn read_password(from_stdin: bool) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    if from_stdin {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let password = line.trim_end_matches(['\n', '\r']);
        return Ok(Secret::new(password));
    }
    if !stdin.is_terminal() {
        bail!(
            "no terminal to prompt for the password: pass it on standard input with --password-stdin"
        );
    }
    let first = rpassword::prompt_password("Password: ").context("reading the password")?;
    let again = rpassword::prompt_password("Again: ").context("reading the password")?;
    if first != again {
        bail!("the passwords differ");
    }
    Ok(Secret::new(first))
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn origin(o: CredentialOrigin) -> &'static str {
    match o {
        CredentialOrigin::Operator => "operator",
        CredentialOrigin::Acs => "acs (rotated)",
        CredentialOrigin::Pending => "acs (being set)",
    }
}

fn json_row(c: &DeviceCredentialInfo) -> serde_json::Value {
    serde_json::json!({
        "device_id": c.device_id,
        "username": c.username,
        "origin": c.origin.as_str(),
        "created_at": c.created_at.to_rfc3339(),
        "updated_at": c.updated_at.to_rfc3339(),
    })
}

fn table(list: &[DeviceCredentialInfo]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["device", "username", "set by", "created", "updated"]);
    for c in list {
        t.add_row(vec![
            c.device_id.clone(),
            c.username.clone(),
            origin(c.origin).to_owned(),
            when(c.created_at),
            when(c.updated_at),
        ]);
    }
    t
}
