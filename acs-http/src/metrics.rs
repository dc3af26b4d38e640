//! Prometheus metrics of the CWMP endpoint, served at `/metrics` on the NBI listener.

use acs_core::cwmp::EventCode;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Installs the process-wide recorder once and returns its handle. Several applications in one
/// process (the test suites) share it, which is why it is global and idempotent.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ])
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(acs_core::storage::BATCH_SERIES.to_owned()),
                        &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
                    )
                })
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only when another recorder is installed; the handle still renders ours.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "acs_sessions_started_total",
        "CWMP sessions opened by an accepted Inform"
    );
    metrics::describe_counter!(
        "acs_sessions_completed_total",
        "CWMP sessions that ended normally with 204"
    );
    metrics::describe_counter!(
        "acs_sessions_failed_total",
        "CWMP sessions that ended abnormally, by reason"
    );
    metrics::describe_gauge!("acs_sessions_active", "CWMP sessions in progress");
    metrics::describe_counter!("acs_informs_total", "Inform events received, by event code");
    metrics::describe_histogram!(
        "acs_rpc_round_trip_seconds",
        "Time from an ACS request to the CPE's answer, by method"
    );
    metrics::describe_counter!(
        "acs_auth_failures_total",
        "Failed CPE authentication attempts"
    );
    metrics::describe_counter!(
        acs_core::connreq::CONNREQ_SERIES,
        "Connection requests sent, by outcome (accepted, auth_failed, timeout, unreachable, …)"
    );
    // Failure counters exist from the start, at 0, so a rate() over them is never empty.
    for outcome in acs_core::connreq::CONNREQ_OUTCOMES {
        counter!(acs_core::connreq::CONNREQ_SERIES, "outcome" => outcome).increment(0);
    }
    for reason in ["decode", "protocol", "storage", "expired", "superseded"] {
        counter!("acs_sessions_failed_total", "reason" => reason).increment(0);
    }
    counter!("acs_auth_failures_total").increment(0);
    metrics::describe_counter!(
        acs_core::alerts::DELIVERIES_SERIES,
        "Webhook delivery attempts of alerts, by outcome (delivered, retried, failed)"
    );
    for outcome in acs_core::alerts::DELIVERY_OUTCOMES {
        counter!(acs_core::alerts::DELIVERIES_SERIES, "outcome" => outcome).increment(0);
    }
    metrics::describe_gauge!(
        acs_core::alerts::PENDING_GAUGE,
        "Alert deliveries stored and not yet delivered or given up, as of the last worker pass"
    );
    gauge!(acs_core::alerts::PENDING_GAUGE).set(0.0);
    metrics::describe_counter!(
        acs_core::provision::DRIFT_SERIES,
        "Provisioning drift found by a check and pushed again, by item (objects, parameters, attributes)"
    );
    for item in acs_core::provision::DRIFT_ITEMS {
        counter!(acs_core::provision::DRIFT_SERIES, "item" => item).increment(0);
    }
    metrics::describe_histogram!(
        acs_core::storage::COMMIT_SERIES,
        "Seconds one group commit of Informs took"
    );
    metrics::describe_histogram!(acs_core::storage::BATCH_SERIES, "Informs per group commit");
    metrics::describe_gauge!(
        acs_core::storage::QUEUE_SERIES,
        "Informs waiting for the storage writer when a group commit starts"
    );
    gauge!(acs_core::storage::QUEUE_SERIES).set(0.0);
    metrics::describe_gauge!("acs_file_downloads_active", "File downloads in progress");
    gauge!("acs_file_downloads_active").set(0.0);
    metrics::describe_counter!(
        "acs_file_requests_total",
        "File requests the file server answered, by outcome"
    );
    for outcome in ["ok", "unauthorized", "token_expired", "not_found"] {
        counter!("acs_file_requests_total", "outcome" => outcome).increment(0);
    }
    metrics::describe_counter!("acs_file_bytes_sent_total", "Bytes the file server sent");
    counter!("acs_file_bytes_sent_total").increment(0);
    metrics::describe_counter!(
        acs_core::driver::TRANSFER_FAULTS_SERIES,
        "TransferCompletes reporting a fault, by fault code (9010 download failure, 9016 file too large, …)"
    );
    for code in ["9010", "9012", "9016", "9018"] {
        counter!(acs_core::driver::TRANSFER_FAULTS_SERIES, "code" => code).increment(0);
    }
    metrics::describe_gauge!(
        "acs_devices_by_product_class",
        "Devices by ProductClass (the 20 most common, then other)"
    );
    metrics::describe_gauge!(
        "acs_tasks",
        "Unfinished tasks (held, queued, sent) by kind and state"
    );
    metrics::describe_gauge!(
        "acs_jobs",
        "Bulk jobs and rollouts by state (running, paused, done, stopped, …)"
    );
    metrics::describe_gauge!(
        "acs_job_tasks",
        "Tasks of running jobs and rollouts by state: where their devices stand"
    );
    metrics::describe_gauge!(
        "acs_lines",
        "Voice lines by registration state (TR-104 Line.Status: Up, Error, Registering, Disabled, …), as of the last presence sweep"
    );
    metrics::describe_gauge!(
        "acs_devices",
        "Devices by presence (online, late, offline), as of the last presence sweep"
    );
    metrics::describe_counter!(
        "acs_presence_changes_total",
        "Devices that turned late, offline or back online, by the state they entered"
    );
}

/// The presence gauges, every state present (0 included) so a dashboard never sees a gap.
pub fn devices_by_presence(counts: &[(acs_core::presence::Presence, u64)]) {
    for (presence, n) in counts {
        gauge!("acs_devices", "presence" => presence.as_str()).set(*n as f64);
    }
}

/// A file download in progress (`acs_file_downloads_active`), until dropped.
pub(crate) struct ActiveDownload;

impl ActiveDownload {
    pub(crate) fn start() -> ActiveDownload {
        gauge!("acs_file_downloads_active").increment(1.0);
        ActiveDownload
    }
}

impl Drop for ActiveDownload {
    fn drop(&mut self) {
        gauge!("acs_file_downloads_active").decrement(1.0);
    }
}

/// Counts a file request the file server answered, by outcome, and the bytes it sends.
pub(crate) fn file_served(outcome: &str, bytes: i64) {
    // The file server's own outcome names; anything else is folded, never a new label.
    let outcome = match outcome {
        "ok"
        | "partial"
        | "not_modified"
        | "unauthorized"
        | "token_expired"
        | "not_found"
        | "range_not_satisfiable"
        | "content_missing" => outcome.to_owned(),
        o if o.starts_with("render_failed") => "render_failed".to_owned(),
        _ => "other".to_owned(),
    };
    counter!("acs_file_requests_total", "outcome" => outcome).increment(1);
    counter!("acs_file_bytes_sent_total").increment(u64::try_from(bytes).unwrap_or(0));
}

/// Sets a gauge family from `counts` (labels → value), and to 0 every label set it had before
/// that `counts` no longer has, so a kind of task that drained does not keep its last count.
fn set_family(series: &'static str, counts: Vec<(Vec<(&'static str, String)>, u64)>) {
    type Seen = std::collections::HashMap<&'static str, Vec<Vec<(&'static str, String)>>>;
    static SEEN: std::sync::Mutex<Option<Seen>> = std::sync::Mutex::new(None);
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = seen
        .get_or_insert_with(Default::default)
        .entry(series)
        .or_default();
    for labels in before.iter() {
        if !counts.iter().any(|(l, _)| l == labels) {
            let labels: Vec<metrics::Label> = labels
                .iter()
                .map(|(k, v)| metrics::Label::new(*k, v.clone()))
                .collect();
            gauge!(series, labels).set(0.0);
        }
    }
    for (labels, n) in &counts {
        let set: Vec<metrics::Label> = labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, v.clone()))
            .collect();
        gauge!(series, set).set(*n as f64);
        if !before.contains(labels) {
            before.push(labels.clone());
        }
    }
}

/// Sets the fleet gauges from a census: devices by product class, unfinished tasks by kind and
/// state, jobs by state, and the tasks of running jobs by state.
pub fn census(c: &acs_core::storage::Census) {
    set_family(
        "acs_devices_by_product_class",
        c.product_classes
            .iter()
            .map(|(p, n)| (vec![("product_class", p.clone())], *n))
            .collect(),
    );
    set_family(
        "acs_tasks",
        c.tasks
            .iter()
            .map(|(k, s, n)| (vec![("kind", k.clone()), ("state", s.clone())], *n))
            .collect(),
    );
    set_family(
        "acs_jobs",
        c.jobs
            .iter()
            .map(|(s, n)| (vec![("state", s.clone())], *n))
            .collect(),
    );
    set_family(
        "acs_job_tasks",
        c.job_tasks
            .iter()
            .map(|(s, n)| (vec![("state", s.clone())], *n))
            .collect(),
    );
}

/// Sets the voice-line gauge, one series per TR-104 state (and `other`).
pub fn lines_by_status(counts: &[(&'static str, u64)]) {
    for (state, n) in counts {
        gauge!("acs_lines", "status" => *state).set(*n as f64);
    }
}

/// Counts presence changes a sweep (or an Inform) made.
pub fn presence_changed(to: acs_core::presence::Presence, n: u64) {
    counter!("acs_presence_changes_total", "to" => to.as_str()).increment(n);
}

pub(crate) fn session_started() {
    counter!("acs_sessions_started_total").increment(1);
}

pub(crate) fn session_completed() {
    counter!("acs_sessions_completed_total").increment(1);
}

pub(crate) fn session_failed(reason: &'static str) {
    counter!("acs_sessions_failed_total", "reason" => reason).increment(1);
}

pub(crate) fn active_sessions(n: usize) {
    gauge!("acs_sessions_active").set(n as f64);
}

pub(crate) fn inform_event(code: &EventCode) {
    counter!("acs_informs_total", "event" => event_label(code)).increment(1);
}

pub(crate) fn rpc_round_trip(method: &'static str, elapsed: Duration) {
    histogram!("acs_rpc_round_trip_seconds", "method" => method).record(elapsed.as_secs_f64());
}

pub(crate) fn auth_failure() {
    counter!("acs_auth_failures_total").increment(1);
}

/// Events that matter for metrics labels; the rest are grouped.
fn event_label(code: &EventCode) -> String {
    match code {
        EventCode::Method(m) => format!("M {m}"),
        EventCode::Vendor(_) => "X".to_owned(),
        EventCode::Unknown(_) => "unknown".to_owned(),
        other => other.to_string(),
    }
}
