//! `acs dhcp option43`: what to put in a DHCP server so TR-069 CPEs find the ACS.

use acs_core::dhcp::{AcsDiscovery, DhcpError, DhcpOption, hex};
use clap::{Subcommand, ValueEnum};
use std::io::Write as _;

use crate::Exit;

#[derive(Debug, Subcommand)]
pub enum DhcpCommand {
    /// Encode the ACS URL (and provisioning code) for DHCP option 43, 125 or DHCPv6 option 17,
    /// or print a server configuration snippet that sends it to CPEs of vendor class
    /// `dslforum.org`.
    ///
    /// `--format hex` (the default) prints only the option's value as colon-separated hex, for
    /// scripts: `vendor-encapsulated-options $(acs dhcp option43 --url …);`. Invalid values exit
    /// with code 2 and a message on stderr; warnings (RFC 3396 splitting, TR-181 length limits)
    /// go to stderr too.
    #[command(name = "option43")]
    Option43(Option43Args),
}

#[derive(Debug, clap::Args)]
pub struct Option43Args {
    /// The ACS URL the CPEs should use (http:// or https://, at most 255 bytes).
    #[arg(long)]
    url: String,
    /// Sub-option 2: DeviceInfo.ProvisioningCode (at most 255 bytes; TR-181 allows 64).
    #[arg(long, value_name = "CODE")]
    provisioning_code: Option<String>,
    /// Sub-option 3: ManagementServer.CWMPRetryMinimumWaitInterval (1–65535 seconds).
    #[arg(long, value_name = "SECONDS")]
    retry_min_wait: Option<u32>,
    /// Sub-option 4: ManagementServer.CWMPRetryIntervalMultiplier (1000–65535; 2000 = 2.0).
    #[arg(long, value_name = "N")]
    retry_multiplier: Option<u32>,
    /// Which option: 43 (DHCPv4, matched on option 60), 125 (DHCPv4 V-I vendor-specific,
    /// enterprise 3561) or v6-17 (DHCPv6 vendor-specific, enterprise 3561).
    #[arg(long, default_value = "43", value_parser = parse_option)]
    option: DhcpOption,
    /// What to print: the option value as hex, a snippet for ISC dhcpd, Kea (JSON) or dnsmasq,
    /// or all of them with headings.
    #[arg(long, value_enum, default_value_t = Format::Hex)]
    format: Format,
    /// Separator between hex bytes (`:` for ISC and dnsmasq, `""` for a plain string).
    #[arg(long, default_value = ":", value_name = "SEP")]
    separator: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Hex,
    Isc,
    Kea,
    Dnsmasq,
    All,
}

fn parse_option(s: &str) -> Result<DhcpOption, String> {
    DhcpOption::parse(s).ok_or_else(|| format!("{s:?} is not one of 43, 125, v6-17"))
}

impl DhcpCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            DhcpCommand::Option43(args) => option43(args),
        }
    }
}

fn discovery(args: &Option43Args) -> Result<AcsDiscovery, DhcpError> {
    let mut d = AcsDiscovery::new(&args.url)?;
    if let Some(code) = &args.provisioning_code {
        d = d.with_provisioning_code(code)?;
    }
    if let Some(secs) = args.retry_min_wait {
        d = d.with_retry_minimum_wait_interval(secs)?;
    }
    if let Some(m) = args.retry_multiplier {
        d = d.with_retry_interval_multiplier(m)?;
    }
    Ok(d)
}

fn option43(args: Option43Args) -> anyhow::Result<()> {
    let option = args.option;
    let out = discovery(&args).and_then(|d| {
        let text = match args.format {
            Format::Hex => format!("{}\n", hex(&d.encode(option)?, &args.separator)),
            Format::Isc => d.isc(option)?,
            Format::Kea => d.kea(option)?,
            Format::Dnsmasq => d.dnsmasq(option)?,
            Format::All => format!(
                "# {option}, value ({} bytes):\n# {}\n\n{}\n{}\n# Kea:\n{}",
                d.encode(option)?.len(),
                hex(&d.encode(option)?, &args.separator),
                d.isc(option)?,
                d.dnsmasq(option)?,
                d.kea(option)?
            ),
        };
        Ok((d, text))
    });
    let (d, text) = match out {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return Err(Exit(2).into());
        }
    };
    for w in d.warnings(option) {
        let _ = writeln!(std::io::stderr(), "warning: {w}");
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}
