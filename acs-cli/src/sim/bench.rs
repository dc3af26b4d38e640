//! `acs sim --bench`: how many complete periodic-inform sessions per second the ACS sustains,
//! and, as a ceiling, how many plain HTTP requests per second its `/healthz` answers.
//!
//! 1. Every device does one bootstrap session (`0 BOOTSTRAP` + `1 BOOT`), outside the
//!    measurement, `concurrency` at a time.
//! 2. For `duration`, `concurrency` workers run sessions back to back (Inform `2 PERIODIC` →
//!    InformResponse → empty POST → 204, plus whatever the ACS asks), each worker cycling over
//!    its own share of the devices so that no device has two sessions at once. Workers stop
//!    starting sessions at the deadline; the rate is completed sessions over the time until the
//!    last one ended. Latency is that of a whole session.
//! 3. For `healthz_duration`, `concurrency` workers GET the healthz URL back to back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acs_core::cwmp::{EventCode, EventStruct};
use futures::StreamExt as _;
use serde::Serialize;

use super::session::error_chain;
use super::{SimConfig, SimError, Simulator};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The devices (periodic timers are not used).
    pub sim: SimConfig,
    /// How long to run sessions.
    pub duration: Duration,
    /// Sessions (and healthz requests) in flight at once; at most the number of devices.
    pub concurrency: usize,
    /// `None` = no healthz measurement.
    pub healthz_url: Option<String>,
    /// How long to measure healthz.
    pub healthz_duration: Duration,
}

/// The default healthz URL: the ACS's scheme and host, port 7557, `/healthz`.
pub fn default_healthz_url(acs_url: &str) -> Option<String> {
    let mut u = reqwest::Url::parse(acs_url).ok()?;
    u.set_port(Some(7557)).ok()?;
    u.set_path("/healthz");
    u.set_query(None);
    Some(u.to_string())
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    /// `None` for no samples.
    pub fn from_samples(samples: &mut [Duration]) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |p: f64| {
            let rank = (p * samples.len() as f64).ceil() as usize;
            ms(samples[rank.clamp(1, samples.len()) - 1])
        };
        let total: Duration = samples.iter().sum();
        Some(Latency {
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: ms(samples[samples.len() - 1]),
            mean_ms: ms(total) / samples.len() as f64,
        })
    }
}

/// The healthz ceiling.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthzReport {
    pub url: String,
    pub requests_ok: u64,
    pub errors: u64,
    pub requests_per_s: f64,
    pub latency: Option<Latency>,
    /// The first error, if any.
    pub first_error: Option<String>,
}

/// The outcome of a bench run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    pub acs_url: String,
    pub profile: String,
    pub devices: usize,
    pub concurrency: usize,
    pub bootstrap_ok: u64,
    pub bootstrap_failed: u64,
    pub bootstrap_s: f64,
    pub duration_s: f64,
    pub sessions_ok: u64,
    pub sessions_failed: u64,
    pub sessions_per_s: f64,
    pub session_latency: Option<Latency>,
    /// Distinct failure reasons (bootstrap and measured sessions) with their counts.
    pub errors: BTreeMap<String, u64>,
    pub healthz: Option<HealthzReport>,
}

impl BenchReport {
    /// Whether every session (bootstrap included) succeeded.
    pub fn all_ok(&self) -> bool {
        self.bootstrap_failed == 0 && self.sessions_failed == 0
    }
}

/// Runs the benchmark.
pub async fn run(config: BenchConfig) -> Result<BenchReport, SimError> {
    let mut sim_config = config.sim.clone();
    sim_config.periodic = false;
    let devices = sim_config.devices;
    if devices == 0 {
        return Err(SimError::Config(
            "the bench needs at least one device".into(),
        ));
    }
    let concurrency = config.concurrency.clamp(1, devices);
    sim_config.concurrency = concurrency;
    let sim = Arc::new(Simulator::start(sim_config).await?);
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();

    // 1. Bootstrap, unmeasured.
    let t0 = Instant::now();
    let (mut bootstrap_ok, mut bootstrap_failed) = (0, 0);
    let mut results = futures::stream::iter(0..devices)
        .map(|i| {
            let sim = Arc::clone(&sim);
            tokio::spawn(async move { sim.run_session(i, Vec::new()).await })
        })
        .buffer_unordered(concurrency);
    while let Some(r) = results.next().await {
        let error = match r {
            Ok(Ok(r)) if r.succeeded() => {
                bootstrap_ok += 1;
                continue;
            }
            Ok(Ok(r)) => r.error.unwrap_or_default(),
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        bootstrap_failed += 1;
        *errors.entry(format!("bootstrap: {error}")).or_default() += 1;
    }
    drop(results);
    let bootstrap_s = t0.elapsed().as_secs_f64();

    // 2. Periodic sessions, back to back, one task per worker.
    let start = Instant::now();
    let deadline = start + config.duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let sim = Arc::clone(&sim);
            tokio::spawn(async move {
                let mine: Vec<usize> = (w..devices).step_by(concurrency).collect();
                let mut latencies = Vec::new();
                let mut failed = 0u64;
                let mut errors: BTreeMap<String, u64> = BTreeMap::new();
                let mut k = 0;
                while Instant::now() < deadline {
                    let i = mine[k % mine.len()];
                    k += 1;
                    let events = vec![EventStruct::new(EventCode::Periodic)];
                    match sim.run_session(i, events).await {
                        Ok(r) if r.succeeded() => latencies.push(r.duration),
                        Ok(r) => {
                            failed += 1;
                            *errors.entry(r.error.unwrap_or_default()).or_default() += 1;
                        }
                        Err(e) => {
                            failed += 1;
                            *errors.entry(e.to_string()).or_default() += 1;
                        }
                    }
                }
                (latencies, failed, errors)
            })
        })
        .collect();
    let outcomes = futures::future::join_all(workers).await;
    let elapsed = start.elapsed();
    let mut latencies = Vec::new();
    let mut sessions_failed = 0;
    for outcome in outcomes {
        let (l, f, e) = outcome.map_err(|e| SimError::Config(format!("bench worker: {e}")))?;
        latencies.extend(l);
        sessions_failed += f;
        for (k, v) in e {
            *errors.entry(k).or_default() += v;
        }
    }
    let sessions_ok = latencies.len() as u64;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let report_base = BenchReport {
        acs_url: config.sim.acs_url.clone(),
        profile: config.sim.profile.name.clone(),
        devices,
        concurrency,
        bootstrap_ok,
        bootstrap_failed,
        bootstrap_s,
        duration_s: secs,
        sessions_ok,
        sessions_failed,
        sessions_per_s: sessions_ok as f64 / secs,
        session_latency: Latency::from_samples(&mut latencies),
        errors,
        healthz: None,
    };
    if let Ok(sim) = Arc::try_unwrap(sim) {
        sim.shutdown().await;
    }

    // 3. The healthz ceiling.
    let healthz = match &config.healthz_url {
        Some(url) => Some(healthz(url, concurrency, config.healthz_duration, &config.sim).await?),
        None => None,
    };
    Ok(BenchReport {
        healthz,
        ..report_base
    })
}

async fn healthz(
    url: &str,
    concurrency: usize,
    duration: Duration,
    sim: &SimConfig,
) -> Result<HealthzReport, SimError> {
    let client = reqwest::Client::builder()
        .timeout(sim.http_timeout)
        .connect_timeout(sim.http_timeout)
        .build()?;
    let start = Instant::now();
    let deadline = start + duration;
    let workers = (0..concurrency).map(|_| {
        let client = &client;
        async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            while Instant::now() < deadline {
                let t = Instant::now();
                let outcome = match client.get(url).send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        match resp.bytes().await {
                            Ok(_) if status.is_success() => Ok(()),
                            Ok(_) => Err(format!("HTTP {status}")),
                            Err(e) => Err(error_chain(&e)),
                        }
                    }
                    Err(e) => Err(error_chain(&e)),
                };
                match outcome {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        // An unreachable endpoint fails fast: do not spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (latencies, errors, first_error)
        }
    });
    let outcomes = futures::future::join_all(workers).await;
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for (l, e, f) in outcomes {
        latencies.extend(l);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    Ok(HealthzReport {
        url: url.to_owned(),
        requests_ok: latencies.len() as u64,
        errors,
        requests_per_s: latencies.len() as f64 / secs,
        latency: Latency::from_samples(&mut latencies),
        first_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let l = Latency::from_samples(&mut s).unwrap();
        assert_eq!(
            (l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(l.mean_ms, 50.5);
        let mut one = vec![Duration::from_millis(7)];
        assert_eq!(Latency::from_samples(&mut one).unwrap().p50_ms, 7.0);
        assert!(Latency::from_samples(&mut []).is_none());
    }

    #[test]
    fn healthz_url_defaults_to_port_7557() {
        assert_eq!(
            default_healthz_url("http://acs.test:7547/cwmp?x=1").as_deref(),
            Some("http://acs.test:7557/healthz")
        );
        assert_eq!(
            default_healthz_url("https://[::1]/").as_deref(),
            Some("https://[::1]:7557/healthz")
        );
    }
}
