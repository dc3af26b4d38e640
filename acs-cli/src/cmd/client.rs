//! The northbound API client behind the operator and script commands (`acs devices`, `acs get`,
//! `acs reboot`, …): where the server is, which token to send, and how failures read.
//!
//! Every HTTP failure becomes one line on stderr, `error: <message>`, taken from the API's
//! `{"error", "message"}` body, and exit code 1. Usage mistakes the argument parser cannot see
//! (a malformed `NAME=VALUE`, a missing `--yes` without a terminal) are exit code 2, and devices
//! that failed while the command itself worked are exit code 3 ([`crate::Exit`]).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use acs_api::{ApiFailure, ClientError, Device};
use anyhow::Context as _;
use clap::Args;
use reqwest::Url;

use crate::Exit;
use crate::cmd::output::Format;
use crate::cmd::serve::ConfigArgs;
use crate::cmd::token::{TOKEN_ENV, find_token};

/// Environment variable naming the server.
pub const SERVER_ENV: &str = "ACS_SERVER";
/// Environment variable naming the CA certificate of an HTTPS server (`[nbi.tls]`).
pub const CA_CERT_ENV: &str = "ACS_CA_CERT";
/// Where the Debian package's service keeps its data (`StateDirectory=acs`).
pub const SERVICE_DATA_DIR: &str = "/var/lib/acs";
/// Where the NBI listens by default.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7557";

/// Exit code: some devices failed (a task faulted or expired, or did not finish in time).
pub const EXIT_PARTIAL: u8 = 3;
/// Exit code: usage error.
pub const EXIT_USAGE: u8 = 2;

/// Shown under every NBI command's `--help`.
pub const AFTER_HELP: &str = "\
The server is --server or $ACS_SERVER (default http://127.0.0.1:7557); an https:// server whose \
certificate no public CA signed needs --ca-cert FILE or $ACS_CA_CERT. The token is --token or \
$ACS_TOKEN; without either, <data-dir>/admin.token is read, so on the ACS machine the commands \
work without being told (data dir: --data-dir, else data_dir from --config/./acs.toml, else \
$ACS_DATA_DIR, else ./acs-data, else /var/lib/acs where the Debian package's service keeps it).

A DEVICE is a full device id, a serial number or a MAC address (when exactly one device has it).

Output (--format): table when standard output is a terminal, else ndjson; json, ndjson and csv \
are streamed row by row, table is printed once all rows are in.

Exit codes: 0 success, 1 error, 2 usage error (including a missing --yes without a terminal), \
3 some devices failed (a task faulted or expired, or did not finish within the wait).";

/// How to reach the northbound API, and how to print. Accepted by every NBI command, anywhere
/// after the command name.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// URL of the ACS's northbound API.
    #[arg(long, env = SERVER_ENV, default_value = DEFAULT_SERVER, value_name = "URL", global = true)]
    pub server: String,
    /// API token [default: $ACS_TOKEN, else the first line of <data-dir>/admin.token].
    #[arg(long, value_name = "TOKEN", global = true,
          value_parser = secret_arg)]
    pub token: Option<acs_core::secret::Secret>,
    /// Where `acs serve` keeps its data, to find admin.token [default: data_dir from --config
    /// or ./acs.toml, else $ACS_DATA_DIR, else ./acs-data].
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The server's configuration file, read only for its data_dir.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// PEM file of the CA (or the self-signed certificate) that signed an HTTPS server's
    /// certificate ([nbi.tls]), trusted besides the system's CAs.
    #[arg(long, env = CA_CERT_ENV, value_name = "FILE", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// Output format [default: table when standard output is a terminal, else ndjson].
    #[arg(long, value_enum, value_name = "FORMAT", global = true)]
    pub format: Option<Format>,
}

/// Reads a command-line secret (a token, a password) into a [`acs_core::secret::Secret`], so
/// the parsed arguments' `Debug` never shows it.
pub fn secret_arg(s: &str) -> Result<acs_core::secret::Secret, std::convert::Infallible> {
    Ok(acs_core::secret::Secret::new(s))
}

impl ClientArgs {
    /// The output format: the flag, else table on a terminal, else ndjson.
    pub fn format(&self) -> Format {
        Format::resolve(self.format)
    }

    /// The data directory `acs serve` would use with the same flags and environment.
    fn data_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        let settings = crate::cmd::serve::load(
            &ConfigArgs {
                config: self.config.clone(),
                data_dir: None,
            },
            None,
            None,
        )
        .context("finding the data directory for admin.token (pass --token or --data-dir)")?;
        Ok(settings.data_dir)
    }
}

/// An error answer from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The `error` code (`not_found`, `invalid_filter`, …).
    pub code: String,
    /// The `message`.
    pub message: String,
    /// 1-based column of a malformed filter.
    pub position: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(p) = self.position
            && !self.message.contains(&format!("column {p}"))
        {
            write!(f, " (at column {p})")?;
        }
        match self.status {
            401 => f.write_str(
                "\nhint: the server did not accept the token: pass --token or set ACS_TOKEN \
                 (on the ACS machine the CLI reads <data-dir>/admin.token; see `acs token create`)",
            ),
            403 => f.write_str(
                "\nhint: the token's role does not allow this; use an operator or admin token \
                 (`acs token create --role operator --name NAME`)",
            ),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<ApiFailure> for ApiError {
    fn from(a: ApiFailure) -> ApiError {
        ApiError {
            status: a.status,
            code: a.body.error,
            message: a.body.message,
            position: a.body.position.map(|p| p as u64),
        }
    }
}

/// How the commands word a failed API call: an error answer becomes an [`ApiError`] (which the
/// commands re-word by status and code), a transport failure says which server and what to
/// check.
pub trait Cli<T> {
    /// The result with the failure worded for the command line.
    fn cli(self) -> anyhow::Result<T>;
}

impl<T> Cli<T> for Result<T, ClientError> {
    fn cli(self) -> anyhow::Result<T> {
        self.map_err(cli_error)
    }
}

/// One line about a failed call, as the commands word it.
pub fn describe(e: &ClientError) -> String {
    match e {
        ClientError::Transport { source, .. } => root_cause(source),
        other => other.to_string(),
    }
}

fn cli_error(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Api(a) => ApiError::from(a).into(),
        ClientError::Transport { server, source } => {
            if source.is_connect() {
                anyhow::anyhow!(
                    "cannot connect to the ACS at {server} ({}): is `acs serve` running there? \
                     Set --server or ACS_SERVER",
                    root_cause(&source)
                )
            } else if source.is_timeout() {
                anyhow::anyhow!("the ACS at {server} did not answer in time")
            } else {
                anyhow::anyhow!("talking to the ACS at {server}: {}", root_cause(&source))
            }
        }
        ClientError::Aborted(body) => anyhow::anyhow!("{}", body.message),
        other => other.into(),
    }
}

/// Re-words an `invalid_filter` answer to show the filter with a caret under the position.
pub fn explain_filter(err: anyhow::Error, filter: &str) -> anyhow::Error {
    let Some(api) = err.downcast_ref::<ApiError>() else {
        return err;
    };
    if api.code != "invalid_filter" {
        return err;
    }
    let Some(pos) = api.position else {
        return err;
    };
    let pad: String = filter
        .chars()
        .take(pos.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let at = if api.message.contains(&format!("column {pos}")) {
        String::new()
    } else {
        format!(" (at column {pos})")
    };
    anyhow::anyhow!("{}{at}\n  {filter}\n  {pad}^", api.message)
}

/// Words a 404 as "no <what> <id>"; other errors pass through.
pub fn not_found(e: anyhow::Error, what: &str, id: i64) -> anyhow::Error {
    match e.downcast_ref::<ApiError>() {
        Some(a) if a.status == 404 => anyhow::anyhow!("no {what} {id}"),
        _ => e,
    }
}

/// A usage mistake found after argument parsing: printed like the parser's own, exit code 2.
pub fn usage(message: impl std::fmt::Display) -> anyhow::Error {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    Exit(EXIT_USAGE).into()
}

/// Prints a line on stderr; never panics when stderr is closed.
pub fn note(message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Whether the error (anywhere in its chain) is a write to a closed pipe: `acs get … | head`
/// must end quietly, with success, when `head` has seen enough.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<csv::Error>().is_some_and(
                |c| matches!(c.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe),
            )
    })
}

/// Runs an NBI command on a small runtime; a closed standard output ends it quietly.
pub fn run<F>(future: F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match runtime.block_on(future) {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

/// Asks `question [y/N]` on stderr and reads the answer from stdin. Without `--yes` and without
/// a terminal to ask on, refuses with a usage error (exit 2) naming `--yes`.
pub fn confirm(question: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(format!(
            "{question}: refusing without confirmation; standard input is not a terminal, \
             pass --yes"
        )));
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{question}? [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the answer")?;
    if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        note("aborted");
        Err(Exit(1).into())
    }
}

/// A connection to the northbound API: the typed client of `acs-api` (every call's result goes
/// through [`Cli::cli`]), plus device-name resolution and paging.
#[derive(Debug, Clone)]
pub struct Client {
    api: acs_api::Client,
}

impl std::ops::Deref for Client {
    type Target = acs_api::Client;

    fn deref(&self) -> &acs_api::Client {
        &self.api
    }
}

impl Client {
    /// Checks the server URL and finds the token (`--token`, `$ACS_TOKEN`, admin.token).
    pub fn new(args: &ClientArgs) -> anyhow::Result<Client> {
        let base = Url::parse(args.server.trim())
            .map_err(|e| anyhow::anyhow!("--server {:?} is not a URL: {e}", args.server))?;
        if !matches!(base.scheme(), "http" | "https") {
            anyhow::bail!("--server {:?}: only http:// and https:// URLs", args.server);
        }
        let explicit = args
            .token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .or_else(|| std::env::var(TOKEN_ENV).ok())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        let token = match explicit {
            Some(t) => t,
            None => {
                let dir = args.data_dir()?;
                // On a machine where the Debian package runs the service, its token is found
                // without being told, unless something else names a data directory.
                let service = (args.data_dir.is_none()
                    && args.config.is_none()
                    && std::env::var_os("ACS_DATA_DIR").is_none()
                    && !std::path::Path::new("acs.toml").exists())
                .then(|| PathBuf::from(SERVICE_DATA_DIR));
                find_token(None, &dir)
                    .or_else(|| service.and_then(|s| find_token(None, &s)))
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no API token: pass --token or set ACS_TOKEN (on the ACS machine the \
                         CLI reads {}, which `acs serve` writes on first start; use --data-dir \
                         if it is elsewhere)",
                            dir.join(acs_core::storage::ADMIN_TOKEN_FILE).display()
                        )
                    })?
            }
        };
        let mut http = reqwest::Client::builder()
            .user_agent(concat!("acs-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10));
        if let Some(path) = &args.ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading the CA certificate {}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} holds no PEM certificate", path.display()))?;
            if certs.is_empty() {
                anyhow::bail!("{} holds no PEM certificate", path.display());
            }
            for cert in certs {
                http = http.add_root_certificate(cert);
            }
        }
        let http = http.build().context("building the HTTP client")?;
        Ok(Client {
            api: acs_api::Client::new(http, base, token),
        })
    }

    /// Finds a device by id, serial number or MAC: its full record.
    pub async fn resolve(&self, name: &str) -> anyhow::Result<Device> {
        match self.resolve_device(name).await {
            Ok(d) => Ok(d),
            Err(ClientError::Api(a)) if a.status == 404 => Err(anyhow::anyhow!(
                "no device `{name}` (tried its id, serial number and MAC)"
            )),
            Err(ClientError::Api(a)) if a.status == 409 => Err(anyhow::anyhow!(
                "`{name}` is ambiguous, name the device by its full id: {}",
                a.body.message
            )),
            Err(e) => Err(cli_error(e)),
        }
    }

    /// Finds a device's id by id, serial number or MAC.
    pub async fn resolve_id(&self, name: &str) -> anyhow::Result<String> {
        Ok(self.resolve(name).await?.id)
    }

    /// Resolves several device names, keeping their order and dropping repeats.
    pub async fn resolve_ids(&self, names: &[String]) -> anyhow::Result<Vec<String>> {
        let mut ids: Vec<String> = Vec::with_capacity(names.len());
        for n in names {
            let id = self.resolve_id(n).await?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

/// Walks a paged listing: `fetch(after, n)` reads one page of at most `n` items and returns
/// them with the cursor of the next page; `each` sees every item until `limit` items were seen
/// or there is no next page.
pub async fn pages<T, C, F, Fut>(
    limit: Option<usize>,
    mut fetch: F,
    mut each: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<()>
where
    F: FnMut(Option<C>, u64) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Vec<T>, Option<C>)>>,
{
    const PAGE: usize = 1000;
    let mut after: Option<C> = None;
    let mut seen = 0usize;
    loop {
        let want = limit.map_or(PAGE, |l| (l - seen).min(PAGE));
        if want == 0 {
            return Ok(());
        }
        let (items, next) = fetch(after.take(), want as u64).await?;
        let n = items.len();
        for item in items.into_iter().take(want) {
            each(item)?;
            seen += 1;
        }
        after = next;
        if after.is_none() || n == 0 {
            return Ok(());
        }
    }
}

/// The cursor of a listing that pages by the last id seen (jobs): the last id when the page
/// was full, else none.
pub fn last_id<T>(items: &[T], asked: u64, id: impl Fn(&T) -> i64) -> Option<i64> {
    if (items.len() as u64) < asked {
        return None;
    }
    items.last().map(id)
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    /// A token given on the command line is a secret: the arguments' `Debug` never shows it.
    #[test]
    fn a_token_never_prints() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            client: super::ClientArgs,
        }
        let cli = Cli::try_parse_from(["acs", "--token", "s3cr3t-token"]).unwrap();
        assert_eq!(
            cli.client.token.as_ref().map(|t| t.expose()),
            Some("s3cr3t-token")
        );
        assert!(!format!("{cli:?}").contains("s3cr3t"));
    }

    /// The commands read API answers through the typed client only: a field looked up by name
    /// in untyped JSON compiles whatever the server sends, and a renamed field silently reads
    /// as nothing. `output.rs` is exempt: it selects columns of typed records by their JSON
    /// names, for printing. Test modules are exempt too.
    #[test]
    fn no_command_reads_api_json_by_field_name() {
        const LOOKUPS: [&str; 8] = [
            ".get(\"",
            "Value::as_",
            ".as_i64()",
            ".as_u64()",
            ".as_bool()",
            ".as_array()",
            ".as_object()",
            "::text(",
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cmd");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("output.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let indexed = line.match_indices("[\"").any(|(i, _)| {
                    let rest = &line[i + 2..];
                    let name_len = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    name_len > 0 && rest[name_len..].starts_with("\"]")
                });
                if indexed || LOOKUPS.iter().any(|p| line.contains(p)) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "untyped lookups of API answers (use the acs-api types):\n{}",
            found.join("\n")
        );
    }
}
