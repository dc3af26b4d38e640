//! Prometheus metrics of the CWMP endpoint, served at `/metrics` on the NBI listener.

use acs_core::cwmp::EventCode;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
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
