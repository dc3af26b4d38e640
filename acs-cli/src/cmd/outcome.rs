//! How the CLI tells what became of a task or a job: one line per failed device with the
//! fault code, TR-069 meaning and the CPE's string, the connection request's outcome when the
//! device never came, and `acs jobs show N` with a rollout's counts, stop reason and failed
//! devices.

use serde_json::Value;

use crate::cmd::client::{Client, text};
use crate::cmd::output::{self, Column, Format, at, col};

/// `acs jobs show N`: the job, its rollout counts, why it stopped and which devices failed.
const JOB_SHOW: &[Column] = &[
    col("id"),
    at("kind", "definition.kind"),
    col("state"),
    col("total"),
    at("queued", "counts.queued"),
    at("sent", "counts.sent"),
    at("done", "counts.done"),
    at("fault", "counts.fault"),
    at("expired", "counts.expired"),
    at("cancelled", "counts.cancelled"),
    col("stop_reason"),
    col("failed_devices"),
    col("filter"),
    col("definition"),
    col("connection_request"),
    col("created_by"),
    col("created_at"),
    col("finished_at"),
];

/// The same for a rollout (a Download job): devices by rollout state rather than task state,
/// since a Download whose device came back with another version is `done` yet failed.
const ROLLOUT_SHOW: &[Column] = &[
    col("id"),
    at("kind", "definition.kind"),
    col("state"),
    col("total"),
    at("pending", "rollout.pending"),
    at("queued", "rollout.queued"),
    at("sent", "rollout.sent"),
    at("transferring", "rollout.transferring"),
    at("installed", "rollout.installed"),
    at("verified", "rollout.verified"),
    at("failed", "rollout.failed"),
    at("cancelled", "rollout.cancelled"),
    col("concurrency"),
    col("max_failures"),
    col("stop_reason"),
    col("failed_devices"),
    col("filter"),
    col("definition"),
    col("connection_request"),
    col("created_by"),
    col("created_at"),
    col("finished_at"),
];

/// Columns of `acs jobs show N --tasks`: each device's task, its fault with the meaning, its
/// rollout state and the last connection request's outcome.
pub const JOB_TASKS: &[Column] = &[
    at("task_id", "id"),
    col("device_id"),
    col("state"),
    at("rollout", "rollout.state"),
    col("attempts"),
    col("finished_at"),
    at("fault_code", "fault.code"),
    at("meaning", "fault.meaning"),
    at("fault_string", "fault.string"),
    at("connection_request", "connection_request.outcome"),
];

fn is_rollout(job: &Value) -> bool {
    job.get("definition").map(|d| text(d, "kind")) == Some("download")
}

fn number(v: &Value, path: &[&str]) -> i64 {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Whether the device of this job task failed: its rollout state for a rollout (so a wrong
/// version after the install counts), its task state otherwise.
fn failed(task: &Value) -> bool {
    match task.get("rollout").map(|r| text(r, "state")) {
        Some(state) if !state.is_empty() => state == "failed",
        _ => matches!(text(task, "state"), "fault" | "expired"),
    }
}

/// `DEVICE: fault 9010 File transfer failure: image rejected (task N)`, `DEVICE: expired before
/// the device took it (task N; connection request unreachable: …)`, …
pub fn describe_failure(task: &Value) -> String {
    let device = text(task, "device_id");
    let id = task.get("id").map(Value::to_string).unwrap_or_default();
    let rollout = task
        .get("rollout")
        .filter(|r| r.get("fault_code").is_some());
    let what = match (text(task, "state"), rollout) {
        // The rollout's verdict is the more precise one (8850: another version).
        (_, Some(r)) => fault_text(r.get("fault_code"), r.get("meaning"), r.get("fault_string")),
        ("fault", None) => {
            let f = task.get("fault").unwrap_or(&Value::Null);
            fault_text(f.get("code"), f.get("meaning"), f.get("string"))
        }
        ("expired", None) => "expired before the device took it".to_owned(),
        (other, None) => other.to_owned(),
    };
    format!(
        "{device}: {what} (task {id}{})",
        connection_request_note(task)
    )
}

fn fault_text(code: Option<&Value>, meaning: Option<&Value>, string: Option<&Value>) -> String {
    let cell = |v: Option<&Value>| v.map(output::cell).unwrap_or_default();
    let (code, meaning, string) = (cell(code), cell(meaning), cell(string));
    let mut out = "fault".to_owned();
    for part in [&code, &meaning] {
        if !part.is_empty() {
            out.push(' ');
            out.push_str(part);
        }
    }
    if !string.is_empty() {
        out.push_str(if out == "fault" { " " } else { ": " });
        out.push_str(&string);
    }
    out
}

/// `; connection request unreachable: the CPE is unreachable: …` when the last wake-up of the
/// task's device was not accepted: the likeliest reason a device never came.
pub fn connection_request_note(task: &Value) -> String {
    match task.get("connection_request") {
        Some(cr) if !cr.is_null() && text(cr, "outcome") != "accepted" => format!(
            "; connection request {}: {}",
            text(cr, "outcome"),
            text(cr, "detail")
        ),
        _ => String::new(),
    }
}

/// Prints `acs jobs show N`: the job with `failed_devices` (one line per failed device) when
/// any failed.
pub async fn show_job(client: &Client, format: Format, mut job: Value) -> anyhow::Result<()> {
    let rollout = is_rollout(&job);
    let failures = if rollout {
        number(&job, &["rollout", "failed"])
    } else {
        number(&job, &["counts", "fault"]) + number(&job, &["counts", "expired"])
    };
    if failures > 0 {
        let id = job.get("id").map(Value::to_string).unwrap_or_default();
        let mut lines = Vec::new();
        client
            .pages(&["jobs", &id, "tasks"], &[], "tasks", None, |t| {
                if failed(&t) {
                    lines.push(Value::String(describe_failure(&t)));
                }
                Ok(())
            })
            .await?;
        job["failed_devices"] = Value::Array(lines);
    }
    output::show(format, if rollout { ROLLOUT_SHOW } else { JOB_SHOW }, &job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failures_name_the_code_its_meaning_and_the_wake_up() {
        let task = json!({"id": 7, "device_id": "D", "state": "fault",
            "fault": {"code": 9010, "meaning": "File transfer failure", "string": "rejected"}});
        assert_eq!(
            describe_failure(&task),
            "D: fault 9010 File transfer failure: rejected (task 7)"
        );
        let task = json!({"id": 8, "device_id": "E", "state": "expired",
            "connection_request": {"outcome": "unreachable", "detail": "refused"}});
        assert_eq!(
            describe_failure(&task),
            "E: expired before the device took it (task 8; connection request unreachable: \
             refused)"
        );
        let task = json!({"id": 9, "device_id": "F", "state": "done",
            "rollout": {"state": "failed", "fault_code": 8850,
                        "meaning": "Installed version differs", "fault_string": "reports 1"}});
        assert!(failed(&task));
        assert_eq!(
            describe_failure(&task),
            "F: fault 8850 Installed version differs: reports 1 (task 9)"
        );
        let attempts = json!({"id": 1, "device_id": "G", "state": "fault",
            "fault": {"code": null, "string": "attempts exhausted"}});
        assert_eq!(
            describe_failure(&attempts),
            "G: fault attempts exhausted (task 1)"
        );
    }
}
