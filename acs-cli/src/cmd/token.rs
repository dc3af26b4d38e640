//! `acs token create|list|revoke`: API tokens for the northbound interface.
//!
//! These commands run on the ACS machine: like `acs db` they read the same
//! configuration (`--config`, `--data-dir`, `ACS_…`) and talk to the
//! database directly, applying pending migrations first. A revoke takes
//! effect in a running server within
//! [`TOKEN_CACHE_TTL`](acs_core::storage::TOKEN_CACHE_TTL).
//!
//! [`find_token`] is how the CLI's HTTP commands find a token without being
//! told: `--token`/`ACS_TOKEN`, else the admin token `acs serve` wrote to
//! `<data-dir>/admin.token` on first start.

use std::path::Path;

use acs_core::storage::{ADMIN_TOKEN_FILE, Role, TokenInfo};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::cmd::serve::{ConfigArgs, connect, load};

/// Environment variable holding a token for the CLI's HTTP commands.
pub const TOKEN_ENV: &str = "ACS_TOKEN";

#[derive(Debug, Subcommand)]
#[command(
    after_help = "These commands run on the ACS machine: they use the server's configuration \
                  (--config, --data-dir, ACS_* variables) and open its database directly."
)]
pub enum TokenCommand {
    /// Create a token and print it once on standard output.
    Create(CreateArgs),
    /// List tokens (never their secrets).
    List(ListArgs),
    /// Revoke a token by name or id.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// What the token may do: viewer (read), operator (read and act on devices), admin (all).
    #[arg(long, value_parser = parse_role, value_name = "viewer|operator|admin")]
    pub role: Role,
    /// A unique name, e.g. who or what uses the token.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token's name or id.
    #[arg(value_name = "NAME|ID")]
    pub token: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.to_string())
}

/// The token for the CLI's HTTP commands: `explicit` (`--token`), else
/// `$ACS_TOKEN`, else the first line of `<data_dir>/admin.token` (the admin
/// token `acs serve` creates on first start; `data_dir` defaults to
/// `./acs-data` in the settings). `None` when there is none.
pub fn find_token(explicit: Option<&str>, data_dir: &Path) -> Option<String> {
    let non_empty = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    };
    if let Some(t) = explicit.and_then(non_empty) {
        return Some(t);
    }
    if let Some(t) = std::env::var(TOKEN_ENV).ok().as_deref().and_then(non_empty) {
        return Some(t);
    }
    let text = std::fs::read_to_string(data_dir.join(ADMIN_TOKEN_FILE)).ok()?;
    text.lines().next().and_then(non_empty)
}

pub fn run(command: TokenCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let config = match &command {
            TokenCommand::Create(a) => &a.config,
            TokenCommand::List(a) => &a.config,
            TokenCommand::Revoke(a) => &a.config,
        };
        let settings = load(config, None, None)?;
        let store = connect(&settings).await?;
        store
            .migrate()
            .await
            .context("applying database migrations")?;
        let result = match command {
            TokenCommand::Create(a) => {
                let (info, token) = store.create_token(&a.name, a.role, Utc::now()).await?;
                println!("{}", token.expose());
                eprintln!(
                    "created {} token `{}` (id {}). Store it now: it is not shown again.",
                    info.role, info.name, info.id
                );
                Ok(())
            }
            TokenCommand::List(a) => {
                let tokens = store.list_tokens().await?;
                match a.format {
                    ListFormat::Json => println!("{}", serde_json::to_string_pretty(&tokens)?),
                    ListFormat::Table => println!("{}", table(&tokens)),
                }
                Ok(())
            }
            TokenCommand::Revoke(a) => {
                let info = store.revoke_token(&a.token).await?;
                eprintln!("revoked token `{}` (id {})", info.name, info.id);
                Ok(())
            }
        };
        let _ = store.close().await;
        result
    })
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

fn table(tokens: &[TokenInfo]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "id",
        "name",
        "role",
        "prefix",
        "created",
        "last used",
        "revoked",
    ]);
    for i in tokens {
        t.add_row(vec![
            i.id.to_string(),
            i.name.clone(),
            i.role.to_string(),
            i.prefix.clone(),
            when(Some(i.created_at)),
            when(i.last_used_at),
            when(i.revoked_at),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_token_prefers_explicit_then_file() {
        let dir = tempfile::tempdir().unwrap();
        // ACS_TOKEN is not set by the test runner; if it were, it would win over the file.
        let env = std::env::var(TOKEN_ENV).ok();
        assert_eq!(
            find_token(Some("acs_explicit"), dir.path()).as_deref(),
            Some("acs_explicit")
        );
        if env.is_none() {
            assert_eq!(find_token(None, dir.path()), None);
            std::fs::write(dir.path().join(ADMIN_TOKEN_FILE), "acs_fromfile\n").unwrap();
            assert_eq!(
                find_token(None, dir.path()).as_deref(),
                Some("acs_fromfile")
            );
            assert_eq!(
                find_token(Some("  "), dir.path()).as_deref(),
                Some("acs_fromfile")
            );
        }
    }
}
