//! `acs sim`: simulated CPEs against an ACS, and `acs sim --bench`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::Exit;
use crate::sim::bench::{self, BenchConfig, BenchReport, Latency};
use crate::sim::{Profile, SimConfig, Simulator};

/// Run simulated CPEs against an ACS.
///
/// Each device informs with 0 BOOTSTRAP + 1 BOOT at first contact (spread over --ramp), then
/// 2 PERIODIC every --interval, answers the ACS's RPCs from its profile's data model, and
/// starts a 6 CONNECTION REQUEST session when its connection request URL
/// (http://HOST:PORT/SERIAL on --cr-listen) is called. Runs until Ctrl-C or --duration.
/// Exit status 3 when a session failed (--bench, or with --duration).
#[derive(Debug, Args)]
pub struct SimArgs {
    // Boxed: the options are large and clap subcommand enums are moved around by value.
    #[command(flatten)]
    opts: Box<SimOptions>,
}

/// The options of `acs sim` (see [`SimArgs`]).
#[derive(Debug, Args)]
pub struct SimOptions {
    /// The ACS URL the devices POST to.
    #[arg(long, value_name = "URL")]
    pub acs: String,
    /// Number of simulated devices.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub devices: usize,
    /// Built-in profile (cisco-mpp, tr098-gateway) or a profile JSON file.
    #[arg(long, default_value = "cisco-mpp", value_name = "NAME|PATH")]
    pub profile: String,
    /// Periodic inform interval.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub interval: u64,
    /// Spread first contacts over this time [default: the interval].
    #[arg(long, value_name = "SECONDS")]
    pub ramp: Option<u64>,
    /// No periodic informs (first contact, connection requests and retries only).
    #[arg(long)]
    pub no_periodic: bool,
    /// Serial-number prefix [default: from the profile, FCH for cisco-mpp].
    #[arg(long, value_name = "P")]
    pub serial_prefix: Option<String>,
    /// Number of the first device's serial ({prefix}{n:06}).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub serial_start: u64,
    /// Username for the ACS's HTTP authentication (shared by all devices).
    #[arg(long, env = "ACS_SIM_USERNAME", value_name = "U")]
    pub username: Option<String>,
    /// Password for the ACS's HTTP authentication.
    #[arg(
        long,
        env = "ACS_SIM_PASSWORD",
        hide_env_values = true,
        value_name = "P"
    )]
    pub password: Option<String>,
    /// Address of the connection-request listener shared by all devices.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub cr_listen: SocketAddr,
    /// Host written into ConnectionRequestURL [default: the listener's IP].
    #[arg(long, value_name = "HOST")]
    pub cr_host: Option<String>,
    /// Most sessions in progress at once.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub concurrency: usize,
    /// Stop after this time (--bench: measure this long) [default: run until Ctrl-C; bench 10].
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Retry backoff base m (TR-069: wait m·2^(n-1) to m·2^n before retry n).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub retry_base: f64,
    /// How long a simulated reboot takes.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub reboot_delay: f64,
    /// HTTP timeout per request.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub http_timeout: f64,
    /// Benchmark: bootstrap every device, then run periodic sessions back to back for
    /// --duration with --concurrency in flight, then measure GET --healthz as the ceiling.
    #[arg(long)]
    pub bench: bool,
    /// Healthz URL for --bench [default: the ACS host, port 7557, /healthz].
    #[arg(long, value_name = "URL")]
    pub healthz: Option<String>,
    /// How long --bench measures the healthz ceiling.
    #[arg(long, default_value_t = 3, value_name = "SECONDS")]
    pub healthz_duration: u64,
    /// --bench: print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn seconds(what: &str, v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v).with_context(|| format!("--{what} {v} is not a duration"))
}

fn load_profile(spec: &str) -> anyhow::Result<Profile> {
    if Profile::builtin_names().any(|n| n == spec) {
        return Ok(Profile::builtin(spec)?);
    }
    if spec.ends_with(".json") || spec.contains('/') || std::path::Path::new(spec).exists() {
        return Ok(Profile::load(spec)?);
    }
    Ok(Profile::builtin(spec)?)
}

impl SimOptions {
    fn config(&self) -> anyhow::Result<SimConfig> {
        let mut c = SimConfig::new(&self.acs, self.devices, load_profile(&self.profile)?);
        c.serial_prefix = self.serial_prefix.clone();
        c.serial_start = self.serial_start;
        c.username = self.username.clone();
        c.password = self.password.clone();
        c.cr_listen = self.cr_listen;
        c.cr_host = self.cr_host.clone();
        c.periodic = !self.no_periodic;
        c.interval = Duration::from_secs(self.interval.max(1));
        c.ramp = Duration::from_secs(self.ramp.unwrap_or(self.interval));
        c.retry_base = seconds("retry-base", self.retry_base)?;
        c.reboot_delay = seconds("reboot-delay", self.reboot_delay)?;
        c.http_timeout = seconds("http-timeout", self.http_timeout)?;
        c.concurrency = self.concurrency.max(1);
        Ok(c)
    }
}

/// Runs `acs sim`.
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let args = *args.opts;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if args.bench {
        runtime.block_on(run_bench(&args, config))
    } else {
        runtime.block_on(run_devices(&args, config))
    }
}

async fn run_devices(args: &SimOptions, config: SimConfig) -> anyhow::Result<()> {
    let devices = config.devices;
    let acs = config.acs_url.clone();
    let profile = config.profile.name.clone();
    let sim = Simulator::start(config).await?;
    eprintln!(
        "{devices} {profile} device(s) against {acs}; connection requests on {} (e.g. {})",
        sim.cr_addr(),
        if sim.is_empty() {
            String::new()
        } else {
            sim.device(0).cr_url().to_owned()
        }
    );
    sim.run();
    let started = Instant::now();
    let stop_at = args.duration.map(|d| started + Duration::from_secs(d));
    let mut ticker = tokio::time::interval(Duration::from_secs(10));
    ticker.tick().await;
    loop {
        let until_stop = async {
            match stop_at {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ticker.tick() => {
                let s = sim.stats();
                eprintln!(
                    "{:>6}s  sessions ok {}  failed {}  active {}  connection requests {} (refused {})",
                    started.elapsed().as_secs(),
                    s.sessions_ok, s.sessions_failed, s.active_sessions,
                    s.connection_requests, s.connection_requests_refused
                );
            }
            _ = until_stop => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let s = sim.stats();
    let pending = sim.pending_transfer_completes().len();
    sim.shutdown().await;
    println!(
        "sessions ok {}, failed {}; connection requests accepted {}, refused {}; TransferCompletes still pending {pending}",
        s.sessions_ok, s.sessions_failed, s.connection_requests, s.connection_requests_refused
    );
    if args.duration.is_some() && s.sessions_failed > 0 {
        return Err(Exit(3).into());
    }
    Ok(())
}

async fn run_bench(args: &SimOptions, config: SimConfig) -> anyhow::Result<()> {
    let healthz_url = args
        .healthz
        .clone()
        .or_else(|| bench::default_healthz_url(&config.acs_url));
    let bench_config = BenchConfig {
        duration: Duration::from_secs(args.duration.unwrap_or(10)),
        concurrency: config.concurrency,
        healthz_url,
        healthz_duration: Duration::from_secs(args.healthz_duration),
        sim: config,
    };
    if !args.json {
        eprintln!(
            "bootstrapping {} device(s), then {} s of periodic sessions with {} in flight…",
            bench_config.sim.devices,
            bench_config.duration.as_secs(),
            bench_config
                .concurrency
                .min(bench_config.sim.devices.max(1)),
        );
    }
    let report = bench::run(bench_config).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", table(&report));
    }
    if !report.all_ok() {
        return Err(Exit(3).into());
    }
    Ok(())
}

fn fmt_latency(l: Option<Latency>) -> [String; 4] {
    match l {
        Some(l) => [l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms].map(|v| format!("{v:.2} ms")),
        None => std::array::from_fn(|_| "-".to_owned()),
    }
}

fn table(r: &BenchReport) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["", "value"]);
    let mut row = |k: &str, v: String| {
        t.add_row(vec![k.to_owned(), v]);
    };
    row("ACS", r.acs_url.clone());
    row(
        "devices × profile",
        format!("{} × {}", r.devices, r.profile),
    );
    row("concurrency", r.concurrency.to_string());
    row(
        "bootstrap sessions",
        format!(
            "{} ok, {} failed in {:.2} s",
            r.bootstrap_ok, r.bootstrap_failed, r.bootstrap_s
        ),
    );
    row(
        "periodic sessions",
        format!(
            "{} ok, {} failed in {:.2} s",
            r.sessions_ok, r.sessions_failed, r.duration_s
        ),
    );
    row("sessions/s", format!("{:.1}", r.sessions_per_s));
    let [p50, p90, p99, max] = fmt_latency(r.session_latency);
    row("session p50 / p90", format!("{p50} / {p90}"));
    row("session p99 / max", format!("{p99} / {max}"));
    match &r.healthz {
        Some(h) => {
            row("healthz", h.url.clone());
            row(
                "healthz requests/s",
                format!(
                    "{:.1} ({} ok, {} errors)",
                    h.requests_per_s, h.requests_ok, h.errors
                ),
            );
            let [p50, p90, p99, max] = fmt_latency(h.latency);
            row(
                "healthz p50 / p99 / max",
                format!("{p50} / {p99} / {max} (p90 {p90})"),
            );
            if let Some(e) = &h.first_error {
                row("healthz first error", e.clone());
            }
            if h.requests_per_s > 0.0 {
                row(
                    "sessions/s ÷ healthz/s",
                    format!("{:.1} %", 100.0 * r.sessions_per_s / h.requests_per_s),
                );
            }
        }
        None => row("healthz", "not measured".into()),
    }
    for (e, n) in r.errors.iter().take(10) {
        row("error", format!("{n} × {e}"));
    }
    t.to_string()
}
