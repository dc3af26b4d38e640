//! `acs`: the TR-069 ACS server, its operator and script commands, and a CPE simulator.
//!
//! Exit codes: 0 success, 1 error, 2 usage error, 3 partial failure (some devices failed).

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

use acs_cli::{Exit, cmd};

/// A TR-069 (CWMP) Auto-Configuration Server.
#[derive(Debug, Parser)]
#[command(
    name = "acs",
    version,
    about,
    propagate_version = true,
    after_help = "Exit codes: 0 success, 1 error, 2 usage error, 3 partial failure (some devices \
                  failed)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the ACS: the CWMP endpoint for CPEs and the northbound listener.
    Serve(cmd::serve::ServeArgs),
    /// Database maintenance.
    #[command(subcommand)]
    Db(cmd::serve::DbCommand),
    /// Read and write CWMP messages: an operator's tool for TR-069 traces.
    #[command(subcommand)]
    Cwmp(cmd::cwmp::CwmpCommand),
    /// Run simulated CPEs against an ACS
    Sim(cmd::sim::SimArgs),
    /// Manage API tokens for the northbound interface (runs on the ACS machine: talks to the
    /// database directly).
    #[command(subcommand)]
    Token(cmd::token::TokenCommand),
    /// Manage per-device CPE credentials (ManagementServer.Username/Password), bound to the
    /// device identity (runs on the ACS machine: talks to the database directly).
    #[command(subcommand)]
    CpeCredentials(cmd::cpe_credentials::CpeCredentialsCommand),
    /// What to configure in a DHCP server so TR-069 CPEs find the ACS (options 43, 125 and
    /// DHCPv6 17).
    #[command(subcommand)]
    Dhcp(cmd::dhcp::DhcpCommand),
    /// Print a shell completion script: `acs completions bash > /etc/bash_completion.d/acs`,
    /// `acs completions zsh > "${fpath[1]}/_acs"`, `acs completions fish >
    /// ~/.config/fish/completions/acs.fish`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Write man pages (`acs.1` and one `acs-COMMAND.1` per command) into a directory, e.g.
    /// `acs man --out /usr/local/share/man/man1`.
    Man {
        /// Where to write the pages (created if missing).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
    #[command(flatten)]
    Nbi(Box<cmd::nbi::NbiCommand>),
}

fn main() -> ExitCode {
    // sqlx and reqwest pull different rustls crypto providers; with two compiled in, rustls
    // refuses to pick one, so the choice is made here before anything builds a TLS config.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::serve(args),
        Command::Db(c) => cmd::serve::db(c),
        Command::Cwmp(c) => c.run(),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Token(c) => cmd::token::run(c),
        Command::CpeCredentials(c) => cmd::cpe_credentials::run(c),
        Command::Dhcp(c) => c.run(),
        Command::Man { out } => write_man_pages(&out),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "acs", &mut std::io::stdout());
            Ok(())
        }
        Command::Nbi(c) => c.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<Exit>() {
            Some(Exit(code)) => ExitCode::from(*code),
            None => {
                // Not eprintln!: with stderr closed it would panic and turn exit 1 into 101.
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "error: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}

/// Renders `acs.1` and a page per subcommand, nested ones as `acs-token-create.1`.
fn write_man_pages(out: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut pending = vec![(String::from("acs"), Cli::command())];
    let mut written = 0;
    while let Some((name, command)) = pending.pop() {
        let command = command.name(name.clone());
        for sub in command.get_subcommands() {
            if sub.get_name() != "help" {
                pending.push((format!("{name}-{}", sub.get_name()), sub.clone()));
            }
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut page)
            .context("rendering a man page")?;
        let path = out.join(format!("{name}.1"));
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
        written += 1;
    }
    println!("{written} man pages written to {}", out.display());
    Ok(())
}
