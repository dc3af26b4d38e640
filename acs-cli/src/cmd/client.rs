//! The northbound API client behind the operator and script commands (`acs devices`, `acs get`,
//! `acs reboot`, …): where the server is, which token to send, and how failures read.
//!
//! Every HTTP failure becomes one line on stderr, `error: <message>`, taken from the API's
//! `{"error", "message"}` body, and exit code 1. Usage mistakes the argument parser cannot see
//! (a malformed `NAME=VALUE`, a missing `--yes` without a terminal) are exit code 2, and devices
//! that failed while the command itself worked are exit code 3 ([`crate::Exit`]).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::Exit;
use crate::cmd::output::Format;
use crate::cmd::serve::ConfigArgs;
use crate::cmd::token::{TOKEN_ENV, find_token};

/// Environment variable naming the server.
pub const SERVER_ENV: &str = "ACS_SERVER";
/// Where the NBI listens by default.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7557";

/// Exit code: some devices failed (a task faulted or expired, or did not finish in time).
pub const EXIT_PARTIAL: u8 = 3;
/// Exit code: usage error.
pub const EXIT_USAGE: u8 = 2;

/// Shown under every NBI command's `--help`.
pub const AFTER_HELP: &str = "\
The server is --server or $ACS_SERVER (default http://127.0.0.1:7557). The token is --token or \
$ACS_TOKEN; without either, <data-dir>/admin.token is read, so on the ACS machine the commands \
work without being told (data dir: --data-dir, else data_dir from --config/./acs.toml, else \
$ACS_DATA_DIR, else ./acs-data).

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
    #[arg(long, value_name = "TOKEN", global = true)]
    pub token: Option<String>,
    /// Where `acs serve` keeps its data, to find admin.token [default: data_dir from --config
    /// or ./acs.toml, else $ACS_DATA_DIR, else ./acs-data].
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The server's configuration file, read only for its data_dir.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Output format [default: table when standard output is a terminal, else ndjson].
    #[arg(long, value_enum, value_name = "FORMAT", global = true)]
    pub format: Option<Format>,
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

impl ApiError {
    /// Builds the error from a status and the body the server sent (JSON or not).
    pub fn from_body(status: StatusCode, body: &[u8]) -> ApiError {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let text = |k: &str| {
            json.as_ref()
                .and_then(|j| j.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let message = text("message").unwrap_or_else(|| {
            let raw = String::from_utf8_lossy(body);
            let raw = raw.trim();
            if raw.is_empty() {
                format!(
                    "the server answered {}",
                    status.canonical_reason().map_or_else(
                        || status.as_u16().to_string(),
                        |r| format!("{} {r}", status.as_u16())
                    )
                )
            } else {
                format!(
                    "the server answered {}: {}",
                    status.as_u16(),
                    truncate(raw, 300)
                )
            }
        });
        ApiError {
            status: status.as_u16(),
            code: text("error").unwrap_or_default(),
            message,
            position: json
                .as_ref()
                .and_then(|j| j.get("position"))
                .and_then(Value::as_u64),
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
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

/// A connection to the northbound API.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl Client {
    /// Checks the server URL and finds the token (`--token`, `$ACS_TOKEN`, admin.token).
    pub fn new(args: &ClientArgs) -> anyhow::Result<Client> {
        let mut base = Url::parse(args.server.trim())
            .map_err(|e| anyhow::anyhow!("--server {:?} is not a URL: {e}", args.server))?;
        if !matches!(base.scheme(), "http" | "https") {
            anyhow::bail!("--server {:?}: only http:// and https:// URLs", args.server);
        }
        // Keep a path prefix (a reverse proxy's /acs) and append api/v1 to it.
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let explicit = args
            .token
            .clone()
            .or_else(|| std::env::var(TOKEN_ENV).ok())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        let token = match explicit {
            Some(t) => t,
            None => {
                let dir = args.data_dir()?;
                find_token(None, &dir).ok_or_else(|| {
                    anyhow::anyhow!(
                        "no API token: pass --token or set ACS_TOKEN (on the ACS machine the \
                         CLI reads {}, which `acs serve` writes on first start; use --data-dir \
                         if it is elsewhere)",
                        dir.join(acs_core::storage::ADMIN_TOKEN_FILE).display()
                    )
                })?
            }
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("acs-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        Ok(Client { http, base, token })
    }

    /// `<server>/api/v1/<segments…>?<query>`; each segment is percent-encoded, so a device id
    /// with `/` or `%` stays one segment.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("http(s) URLs have a path");
            path.pop_if_empty();
            path.extend(["api", "v1"]);
            path.extend(segments);
        }
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        url
    }

    fn server(&self) -> String {
        let mut s = self.base.to_string();
        if s.ends_with('/') {
            s.pop();
        }
        s
    }

    /// Sends a request; a non-2xx answer becomes an [`ApiError`].
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(ApiError::from_body(status, &body).into())
    }

    fn transport_error(&self, e: reqwest::Error) -> anyhow::Error {
        let server = self.server();
        if e.is_connect() {
            anyhow::anyhow!(
                "cannot connect to the ACS at {server} ({}): is `acs serve` running there? \
                 Set --server or ACS_SERVER",
                root_cause(&e)
            )
        } else if e.is_timeout() {
            anyhow::anyhow!("the ACS at {server} did not answer in time")
        } else {
            anyhow::anyhow!("talking to the ACS at {server}: {}", root_cause(&e))
        }
    }

    /// Sends a raw (possibly streamed) body; a non-2xx answer becomes an [`ApiError`].
    pub async fn send_body(
        &self,
        method: Method,
        url: Url,
        body: reqwest::Body,
        content_type: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let resp = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(ApiError::from_body(status, &body).into())
    }

    /// GET, JSON answer.
    pub async fn get(&self, url: Url) -> anyhow::Result<Value> {
        let resp = self.send(Method::GET, url, None).await?;
        self.json(resp).await
    }

    /// POST with a JSON body; the status and the JSON answer (`null` when empty).
    pub async fn post(&self, url: Url, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        let resp = self.send(Method::POST, url, Some(body)).await?;
        let status = resp.status();
        Ok((status, self.json(resp).await?))
    }

    /// A request without a body whose answer is JSON (a DELETE that reports what it did).
    pub async fn send_json(&self, method: Method, url: Url) -> anyhow::Result<Value> {
        let resp = self.send(method, url, None).await?;
        self.json(resp).await
    }

    /// A request whose answer has no body (PUT, DELETE → 204).
    pub async fn call(&self, method: Method, url: Url) -> anyhow::Result<()> {
        self.send(method, url, None).await.map(drop)
    }

    async fn json(&self, resp: reqwest::Response) -> anyhow::Result<Value> {
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).context("the server's answer is not JSON")
    }

    /// Reads the next chunk of a streamed answer.
    pub async fn chunk(
        &self,
        resp: &mut reqwest::Response,
    ) -> anyhow::Result<Option<bytes::Bytes>> {
        resp.chunk().await.map_err(|e| self.transport_error(e))
    }

    /// Finds a device by id, serial number or MAC: its full record.
    pub async fn resolve(&self, name: &str) -> anyhow::Result<Value> {
        let url = self.url(&["devices", "resolve"], &[("name", name.to_owned())]);
        match self.get(url).await {
            Ok(d) => Ok(d),
            Err(e) => match e.downcast_ref::<ApiError>() {
                Some(a) if a.status == 404 => Err(anyhow::anyhow!(
                    "no device `{name}` (tried its id, serial number and MAC)"
                )),
                Some(a) if a.status == 409 => Err(anyhow::anyhow!(
                    "`{name}` is ambiguous, name the device by its full id: {}",
                    a.message
                )),
                _ => Err(e),
            },
        }
    }

    /// Finds a device's id by id, serial number or MAC.
    pub async fn resolve_id(&self, name: &str) -> anyhow::Result<String> {
        let device = self.resolve(name).await?;
        device
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("the server's device record has no id"))
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

    /// Walks a paged listing (`{"<key>": [...], "next": cursor}`), calling `each` for every item
    /// until `limit` items were seen or there is no next page.
    pub async fn pages(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        key: &str,
        limit: Option<usize>,
        mut each: impl FnMut(Value) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        const PAGE: usize = 1000;
        let mut after: Option<String> = None;
        let mut seen = 0usize;
        loop {
            let want = limit.map_or(PAGE, |l| (l - seen).min(PAGE));
            if want == 0 {
                return Ok(());
            }
            let mut q = query.to_vec();
            q.push(("limit", want.to_string()));
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            let mut page = self.get(self.url(segments, &q)).await?;
            let items = match page.get_mut(key).map(Value::take) {
                Some(Value::Array(items)) => items,
                _ => anyhow::bail!("the server's answer has no `{key}` list"),
            };
            let n = items.len();
            // Listings without a `next` member (jobs) page by the last id seen.
            let last_id = items.last().and_then(|i| i.get("id")).map(|id| match id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            for item in items.into_iter().take(want) {
                each(item)?;
                seen += 1;
            }
            after = match page.get("next") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(_) => None,
                None if n >= want => last_id,
                None => None,
            };
            if after.is_none() || n == 0 {
                return Ok(());
            }
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A string field of a JSON object, or "".
pub fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}
